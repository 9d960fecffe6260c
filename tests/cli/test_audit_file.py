"""The CLI's audit file: every line durable before its call returns, syncs shared between workers."""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from governance.cli import audit_file
from governance.cli.audit_file import AuditWriter

RECORDS = 200
WORKERS = 16


def test_each_line_is_on_disk_when_its_call_returns_and_workers_share_syncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "audit.jsonl"
    synced = {"bytes": 0, "calls": 0}
    lock = threading.Lock()
    real_fsync = os.fsync

    def slow_fsync(descriptor: int) -> None:
        size = os.fstat(descriptor).st_size
        time.sleep(0.005)  # a disk whose sync takes a while, as network disks do
        real_fsync(descriptor)
        with lock:
            synced["bytes"] = max(synced["bytes"], size)
            synced["calls"] += 1

    monkeypatch.setattr(audit_file.os, "fsync", slow_fsync)
    unsynced: list[str] = []

    def record(index: int, write: AuditWriter) -> None:
        record_id = f"record-{index:04d}"
        write({"recordId": record_id, "decision": "remediated"})
        text = path.read_bytes()
        end = text.index(record_id.encode()) + text[text.index(record_id.encode()) :].index(b"\n") + 1
        with lock:
            if synced["bytes"] < end:
                unsynced.append(record_id)

    with AuditWriter(path) as write, ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(lambda index: record(index, write), range(RECORDS)))
    assert unsynced == [], f"calls returned before their line was synced: {unsynced[:5]}"
    lines = path.read_text().splitlines()
    assert sorted(json.loads(line)["recordId"] for line in lines) == [f"record-{index:04d}" for index in range(RECORDS)]
    assert synced["calls"] < RECORDS, "workers recording at the same time share an fsync"


def test_a_file_the_writer_created_and_left_empty_is_removed_and_an_existing_one_kept(tmp_path: Path) -> None:
    created = tmp_path / "new.jsonl"
    with AuditWriter(created):
        assert created.exists(), "the file is opened before anything is recorded"
    assert not created.exists()
    existing = tmp_path / "existing.jsonl"
    existing.write_text("")
    with AuditWriter(existing):
        pass
    assert existing.exists()


def test_a_record_after_the_file_was_closed_is_refused(tmp_path: Path) -> None:
    writer = AuditWriter(tmp_path / "closed.jsonl")
    with writer:
        writer({"recordId": "one"})
    with pytest.raises(RuntimeError, match="outside its with block"):
        writer({"recordId": "two"})
