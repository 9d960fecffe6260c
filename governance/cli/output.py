"""Plain-text tables and JSON for the CLI's output."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2
"""Exit codes, as linters use them: nothing found / something found or failed / bad usage or config."""


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], out: TextIO | None = None) -> None:
    """Print rows under headers, each column as wide as its widest cell."""
    out = out or sys.stdout
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max([len(header), *(len(row[index]) for row in cells)]) for index, header in enumerate(headers)]
    out.write("  ".join(header.ljust(width) for header, width in zip(headers, widths, strict=True)).rstrip() + "\n")
    for row in cells:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n")


def json_lines(items: Sequence[dict[str, Any]], out: TextIO | None = None) -> None:
    """Print a JSON array, one item per line, stable key order."""
    out = out or sys.stdout
    out.write(json.dumps(list(items), indent=1, sort_keys=True, default=str) + "\n")
