"""The CLI's JSONL audit files: written ahead, one line per decision, amended by later lines of the same record id.

``apply`` appends a record as soon as a decision is made (and its write returned), flushed and
synced to disk, so a crash or a failing AWS call afterwards cannot lose it. Workers that record at
the same time share one fsync (group commit): each call still returns only once its own line is on
disk, but a slow disk no longer makes every worker wait for every other's sync in turn. Verification appends
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
        """Append to ``path``; a file this writer created and left empty is removed when it closes."""
        self.path = path
        self._lock = threading.Lock()
        self._out: TextIO | None = None
        self._created = False
        self._written = False
        self._sync_lock = threading.Lock()
        self._appended = 0
        """Lines appended and flushed so far."""
        self._synced = 0
        """Lines known to be on disk."""

    def open(self) -> None:
        """Open the file for appending (once); raises ``OSError`` when it cannot be written."""
        if self._out is None:
            self._created = not self.path.exists()
            self._out = self.path.open("a", encoding="utf-8")

    def __enter__(self) -> AuditWriter:
        """Open the file now, so that a path that cannot be written stops the run before any change."""
        self.open()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        """Sync and close the file; remove it if this writer created it and nothing was recorded."""
        with self._sync_lock, self._lock:
            if self._out is not None:
                if self._written:
                    os.fsync(self._out.fileno())
                    self._synced = self._appended
                self._out.close()
                self._out = None
            if self._created and not self._written:
                self.path.unlink(missing_ok=True)

    def __call__(self, record: dict[str, Any]) -> None:
        """Append one record as one line, flushed and synced."""
        line = json.dumps(record, default=str, separators=(",", ":")) + "\n"
        with self._lock:
            if self._out is None:
                raise RuntimeError("AuditWriter is used outside its with block")
            self._out.write(line)
            self._out.flush()
            self._written = True
            self._appended += 1
            mine = self._appended
        with self._sync_lock:
            if self._synced >= mine:
                return  # another worker's fsync, begun after this line was flushed, covered it
            with self._lock:
                covered = self._appended
                descriptor = self._out.fileno() if self._out is not None else None
            if descriptor is not None:  # None: closing synced every line
                os.fsync(descriptor)
                self._synced = covered


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
