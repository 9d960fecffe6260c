"""Cases the S3 bucket fixers are all tested with: the bucket deleted under the fixer, and edited undo records.

Each takes the fixer module and the test module's own ``run`` (handles the bucket's event and returns
the record) and ``make_bucket`` (creates the bucket and returns its name).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

import boto3
import pytest
from conftest import RequestLog
from remediation.fixers.base import Plan, Target
from remediation.fixers.inverse import UndoRefused

Run = Callable[[], dict[str, Any]]
"""Handle the bucket's non-compliant event; returns the record."""
MakeBucket = Callable[[], str]
"""Create the bucket; returns its name."""


def deleted_before_the_event(run: Run, make_bucket: MakeBucket, requests: RequestLog) -> None:
    """A bucket deleted before its event is handled is a failure, and nothing is written."""
    boto3.client("s3").delete_bucket(Bucket=make_bucket())
    record = run()
    assert (record["decision"], record["level"]) == ("failed", "error")
    assert "NoSuchBucket" in record["reason"]
    assert requests.writes() == []


def deleted_between_read_and_write(fixer: ModuleType, run: Run, make_bucket: MakeBucket, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bucket deleted after the fixer read it is a failure, and the fixer's write does not create it again."""
    bucket = make_bucket()
    original = fixer.apply

    def delete_then_apply(target: Target, change: Plan, params: Any) -> Plan:
        boto3.client("s3").delete_bucket(Bucket=bucket)
        applied: Plan = original(target, change, params)
        return applied

    monkeypatch.setattr(fixer, "apply", delete_then_apply)
    record = run()
    assert (record["decision"], record["level"]) == ("failed", "error")
    assert "NoSuchBucket" in record["reason"]
    assert bucket not in [listed["Name"] for listed in boto3.client("s3").list_buckets()["Buckets"]]


def undo_refusal(fixer: ModuleType, target: Target, before: Mapping[str, Any]) -> str:
    """Why ``fixer`` refuses to undo a record of ``target`` whose before-state is ``before`` (fails if it does not refuse)."""
    with pytest.raises(UndoRefused) as refused:
        fixer.undo_calls(target, before, {}, fixer.Params(), None)
    return str(refused.value)
