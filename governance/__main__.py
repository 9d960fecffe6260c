"""``python -m governance``: the operator CLI."""

import gc
import sys

# A run keeps many objects for its whole length (the clients' service models, the records) and makes
# many short-lived ones per request: collecting the youngest generation every 20,000 allocations
# instead of every 700 spares the workers most of the collector's pauses, which stop every thread.
gc.set_threshold(20_000, 20, 20)

from governance.cli.main import main  # noqa: E402

code = main()
# Everything is written and closed by now. Freezing the heap spares the exit the garbage collector's
# passes over every object a large run created.
gc.freeze()
sys.exit(code)
