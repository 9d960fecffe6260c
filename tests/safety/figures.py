"""Measured figures for the "What we tested" table of docs/testing.md.

Tests call ``record`` with what they measured (cases generated, events fuzzed, writes counted...).
When ``GOVERNANCE_FIGURES`` names a file, the figures are merged into it as JSON; otherwise they are
dropped, so an ordinary test run writes nothing. ``benchmarks/what_we_tested.py`` sets the variable,
runs the suite and renders the table from the file.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

ENVIRONMENT_VARIABLE = "GOVERNANCE_FIGURES"
_LOCK = threading.Lock()


def scale(name: str, default: int) -> int:
    """A size the benchmarks script may raise through ``GOVERNANCE_<NAME>`` (CI uses the default)."""
    value = os.environ.get(f"GOVERNANCE_{name.upper()}")
    return int(value) if value else default


def record(section: str, key: str, value: Any) -> None:
    """Store one figure as ``figures[section][key]``; sums counts recorded under the same key twice."""
    path = os.environ.get(ENVIRONMENT_VARIABLE)
    if not path:
        return
    with _LOCK:
        file = Path(path)
        data: dict[str, dict[str, Any]] = json.loads(file.read_text()) if file.exists() and file.stat().st_size else {}
        current = data.setdefault(section, {}).get(key)
        if isinstance(current, int) and isinstance(value, int) and not isinstance(value, bool):
            value = current + value
        data[section][key] = value
        file.write_text(json.dumps(data, indent=2, sort_keys=True))
