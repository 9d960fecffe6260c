"""Faults, for every fixer: throttling, 5xx, AccessDenied on the read, the tag read and the write,
the resource deleted between the read and the write, and stale reads after the write.

Each outcome is documented in OUTCOMES and asserted. Whatever happens, every write that was sent
appears in an audit record with its outcome (no partial change goes unrecorded), and a transient
failure raises (Lambda retries, then the dead-letter queue keeps the event) instead of ending silently.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from conftest import ACCOUNT, FakeContext, compliance_event, rule_name
from faults import inject_error
from lambda_scenarios import SCENARIOS, new_group, trail
from remediation.clients import RETRY_ATTEMPTS
from remediation.fixers import load_fixer
from remediation.handler import lambda_handler

from tests.safety.figures import record

SCENARIO = {scenario.key: scenario for scenario in SCENARIOS}
ACCESS_DENIED = {"s3": "AccessDenied", "s3control": "AccessDenied", "ec2": "UnauthorizedOperation", "cloudtrail": "AccessDeniedException"}
THROTTLING = {"s3": ("SlowDown", 503), "s3control": ("SlowDown", 503), "ec2": ("RequestLimitExceeded", 503), "cloudtrail": ("ThrottlingException", 400)}
SERVER_ERROR = {"s3": ("InternalError", 500), "s3control": ("InternalError", 500), "ec2": ("InternalError", 500), "cloudtrail": ("InternalFailure", 500)}


def _group_with_a_range() -> str:
    group = new_group()
    boto3.client("ec2").authorize_security_group_ingress(
        GroupId=group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 20, "ToPort": 25, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    return group


def _idle_single_region_trail() -> str:
    trail(logging=False)
    return ACCOUNT


def _delete_bucket(bucket: str) -> None:
    boto3.client("s3").delete_bucket(Bucket=bucket)


def _delete_trail(_resource: str) -> None:
    boto3.client("cloudtrail").delete_trail(Name="main-trail")


@dataclass(frozen=True)
class Subject:
    """How to fault one fixer: its calls, and how to make and delete its resource."""

    key: str
    make: Callable[[], str]
    read: tuple[str, str]
    tag_read: tuple[str, str] | None
    """None when the tags come with the read (security groups) or the resource has none (account)."""
    last_write: tuple[str, str]
    """The plan's last write; faulting it leaves the earlier writes of two-write plans done."""
    delete: Callable[[str], None] | None
    """None when the resource cannot disappear (an account)."""


SUBJECTS = [
    Subject("s3-bucket-encryption", SCENARIO["s3-bucket-encryption"].make_non_compliant, ("s3", "GetBucketEncryption"), ("s3", "GetBucketTagging"), ("s3", "PutBucketEncryption"), _delete_bucket),
    Subject("s3-bucket-public-access", SCENARIO["s3-bucket-public-access"].make_non_compliant, ("s3", "GetPublicAccessBlock"), ("s3", "GetBucketTagging"), ("s3", "PutPublicAccessBlock"), _delete_bucket),
    Subject("s3-account-public-access", SCENARIO["s3-account-public-access"].make_non_compliant, ("s3control", "GetPublicAccessBlock"), None, ("s3control", "PutPublicAccessBlock"), None),
    Subject(
        "restricted-admin-ports", _group_with_a_range, ("ec2", "DescribeSecurityGroups"), None, ("ec2", "RevokeSecurityGroupIngress"),
        lambda group: boto3.client("ec2").delete_security_group(GroupId=group),
    ),
    Subject("vpc-flow-logs", SCENARIO["vpc-flow-logs"].make_non_compliant, ("ec2", "DescribeFlowLogs"), ("ec2", "DescribeVpcs"), ("ec2", "CreateFlowLogs"), lambda vpc: boto3.client("ec2").delete_vpc(VpcId=vpc)),
    Subject("cloudtrail-multi-region", _idle_single_region_trail, ("cloudtrail", "DescribeTrails"), ("cloudtrail", "ListTags"), ("cloudtrail", "StartLogging"), _delete_trail),
    Subject("cloudtrail-log-validation", SCENARIO["cloudtrail-log-validation"].make_non_compliant, ("cloudtrail", "GetTrail"), ("cloudtrail", "ListTags"), ("cloudtrail", "UpdateTrail"), _delete_trail),
]

FAULTS = ("throttling", "5xx", "AccessDenied on read", "AccessDenied on tag read", "AccessDenied on write", "deleted before write", "stale read once", "stale read always")

OUTCOMES = {
    "throttling": "raised after 5 tries, non-final record; the retry fixes it",
    "5xx": "raised after 5 tries, non-final record; the retry fixes it",
    "AccessDenied on read": "failed record, nothing written",
    "AccessDenied on tag read": "failed record (exemption fails closed), nothing written",
    "AccessDenied on write": "failed record with the refused call",
    "deleted before write": "failed record, resource not re-created",
    "stale read once": "remediated on the second verification read",
    "stale read always": "failed record that still holds the change and its undo",
}
"""What each fault ends in, for every fixer (the README's table repeats it)."""
NOT_APPLICABLE = {
    ("s3-account-public-access", "AccessDenied on tag read"): "n/a: an account has no tags to read",
    ("restricted-admin-ports", "AccessDenied on tag read"): "n/a: the tags come with the read",
    ("s3-account-public-access", "deleted before write"): "n/a: an account cannot be deleted",
}


def _records(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"schemaVersion"')]


def _assert_every_write_recorded(requests: Any, records: list[dict[str, Any]]) -> None:
    recorded = {call["operation"] for rec in records for call in rec["apiCalls"]}
    assert set(requests.writes()) <= recorded, f"writes without a record: {set(requests.writes()) - recorded}"


def _patch_stale_reads(monkeypatch: pytest.MonkeyPatch, key: str, times: int | None) -> list[int]:
    """After the fixer's write, verification reads still make the call but see the state from before it."""
    fixer = load_fixer(key)
    original_read, original_apply = fixer.read_state, fixer.apply
    first: list[Any] = []
    stale: list[int] = []
    applied: list[bool] = []

    def read(target: Any) -> Any:
        state = original_read(target)
        if not first:
            first.append(state)
        if applied and (times is None or len(stale) < times):
            stale.append(1)
            return first[0]
        return state

    def apply(target: Any, change: Any, params: Any) -> Any:
        result = original_apply(target, change, params)
        applied.append(True)
        return result

    monkeypatch.setattr(fixer, "read_state", read)
    monkeypatch.setattr(fixer, "apply", apply)
    return stale


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("subject", SUBJECTS, ids=lambda subject: subject.key)
def test_fault(subject: Subject, fault: str, requests, capsys, monkeypatch: pytest.MonkeyPatch, no_backoff) -> None:
    if (subject.key, fault) in NOT_APPLICABLE:
        record("faults", f"{subject.key}|{fault}", NOT_APPLICABLE[(subject.key, fault)])
        return
    scenario = SCENARIO[subject.key]
    resource_id = subject.make()
    event = compliance_event(rule_name(subject.key), scenario.resource_type, resource_id)
    requests.clear()

    def run() -> dict[str, Any]:
        return lambda_handler(event, FakeContext())

    if fault in ("throttling", "5xx"):
        service, operation = subject.last_write
        code, status = (THROTTLING if fault == "throttling" else SERVER_ERROR)[service]
        hits = inject_error(service, operation, code, status, times=1 + RETRY_ATTEMPTS)
        with pytest.raises(ClientError):
            run()
        assert len(hits) == 1 + RETRY_ATTEMPTS
        (attempt,) = _records(capsys)
        assert (attempt["final"], attempt["level"]) == (False, "warning")
        assert attempt["apiCalls"][-1]["operation"] == operation and attempt["apiCalls"][-1]["outcome"] == code
        earlier_writes = [call for call in attempt["apiCalls"][:-1] if not call["operation"].startswith(("Get", "Describe", "List"))]
        assert all(call["outcome"] == "ok" for call in earlier_writes), "earlier writes are in the record"
        record("faults_partial", subject.key, len(earlier_writes))
        retried = run()
        assert (retried["decision"], retried["final"]) == ("remediated", True), retried["reason"]
        assert scenario.is_fixed(resource_id)
        records = [attempt, *_records(capsys)]
    elif fault.startswith("AccessDenied"):
        target = {"AccessDenied on read": subject.read, "AccessDenied on tag read": subject.tag_read, "AccessDenied on write": subject.last_write}[fault]
        assert target is not None
        service, operation = target
        inject_error(service, operation, ACCESS_DENIED[service], 403)
        result = run()
        records = _records(capsys)
        assert (result["decision"], result["level"], result["final"]) == ("failed", "error", True), result["reason"]
        if fault == "AccessDenied on tag read":
            assert "exemptions fail closed" in result["reason"]
        else:
            assert ACCESS_DENIED[service] in result["reason"]
        if fault != "AccessDenied on write":
            assert requests.writes() == []
        assert not scenario.is_fixed(resource_id)
    elif fault == "deleted before write":
        assert subject.delete is not None
        fixer = load_fixer(subject.key)
        original_apply = fixer.apply

        def delete_then_apply(target: Any, change: Any, params: Any) -> Any:
            subject.delete(resource_id)  # type: ignore[misc]
            return original_apply(target, change, params)

        monkeypatch.setattr(fixer, "apply", delete_then_apply)
        result = run()
        records = _records(capsys)
        assert (result["decision"], result["level"]) == ("failed", "error"), result["reason"]
        assert not scenario.is_fixed(resource_id), "the deleted resource was not re-created or fixed"
    else:
        stale = _patch_stale_reads(monkeypatch, subject.key, 1 if fault == "stale read once" else None)
        result = run()
        records = _records(capsys)
        reads = [call for call in result["apiCalls"] if (call["service"], call["operation"]) == subject.read]
        if fault == "stale read once":
            assert result["decision"] == "remediated", result["reason"]
            assert len(stale) == 1 and len(reads) == 3, "one read before, two to verify"
        else:
            assert result["decision"] == "failed" and "still reads as non-compliant" in result["reason"]
            assert result["change"] and result["undo"], "the change that was made is recorded, with its undo"
            assert len(reads) == 4, "one read before, three to verify"
        assert scenario.is_fixed(resource_id)
    _assert_every_write_recorded(requests, records)
    assert sum(1 for rec in records if rec["final"]) == 1, "exactly one final record per event"
    record("faults", f"{subject.key}|{fault}", OUTCOMES[fault])
    record("faults_injected", subject.key, 1)
    record("faults_writes", f"{subject.key}|{fault}", len(requests.writes()))
