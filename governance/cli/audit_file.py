"""The CLI's JSONL audit files: written ahead, one line per decision, amended by later lines of the same record id.

``apply`` appends a record as soon as a decision is made (and its write returned), flushed and
synced to disk, so a crash or a failing AWS call afterwards cannot lose it. Verification appends
an amending line with the same ``recordId``; readers keep the last line of each record id.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO


class AuditWriter:
    """Appends audit records to a JSONL file, one line each, durable before ``write`` returns; thread-safe."""

    def __init__(self, path: Path) -> None:
        """Open ``path`` for appending (created if missing)."""
        self.path = path
        self._lock = threading.Lock()
        self._out: TextIO | None = None

    def __enter__(self) -> AuditWriter:
        """Open the file."""
        self._out = self.path.open("a", encoding="utf-8")
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        """Close the file."""
        if self._out is not None:
            self._out.close()
            self._out = None

    def __call__(self, record: dict[str, Any]) -> None:
        """Append one record as one line, flushed and synced."""
        if self._out is None:
            raise RuntimeError("AuditWriter is used outside its with block")
        line = json.dumps(record, default=str, separators=(",", ":")) + "\n"
        with self._lock:
            self._out.write(line)
            self._out.flush()
            os.fsync(self._out.fileno())


def latest_records(lines: list[str]) -> list[dict[str, Any]]:
    """The audit records of JSONL lines, the last line of each record id winning, in first-seen order.

    Lines that are not JSON objects with a ``recordId`` are skipped.
    """
    records: dict[str, dict[str, Any]] = {}
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("recordId"), str):
            records[record["recordId"]] = record
    return list(records.values())


def read_audit_file(path: Path) -> list[dict[str, Any]]:
    """The latest line of every record in a JSONL audit file."""
    return latest_records(path.read_text(encoding="utf-8").splitlines())
