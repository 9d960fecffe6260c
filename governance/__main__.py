"""``python -m governance``: the operator CLI."""

import gc
import sys

from governance.cli.main import main

code = main()
# Everything is written and closed by now. Freezing the heap spares the exit the garbage collector's
# passes over every object a large run created (the clients' service models, the records).
gc.freeze()
sys.exit(code)
