"""Undo's own guards, each on its own: which records wrote, and which computed calls may run.

The computed inverse of an honest fixer always passes these guards, so the end-to-end tests
cannot reach them; they stand between a fixer bug and an AWS call, and are checked here directly
with calls no fixer should compute.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from governance.cli.undo import _Checked, _confined, _wrote
from governance.lambda_code import lambda_module

base = lambda_module("fixers.base")
UndoRefused = lambda_module("fixers.inverse").UndoRefused
ACCOUNT = "123456789012"
TRAIL = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/main"


def checked(resource_id: str = "fixed-bucket", operations: tuple[str, ...] | None = ("PutPublicAccessBlock", "UpdateTrail")) -> _Checked:
    fixer = SimpleNamespace(UNDO_OPERATIONS=operations) if operations is not None else SimpleNamespace()
    target = base.Target("AWS::S3::Bucket", resource_id, ACCOUNT, "us-east-1")
    return _Checked(target, fixer, None, None, ("us-east-1", "eu-west-1"))


def call(operation: str = "PutPublicAccessBlock", region: str | None = None, **params: Any) -> Any:
    return base.ApiCall("s3", operation, params, region)


@pytest.mark.parametrize(
    ("calls", "resource", "allowed"),
    [
        ((call(Bucket="fixed-bucket"),), "fixed-bucket", ("PutPublicAccessBlock",)),
        ((call(region="eu-west-1", Bucket="fixed-bucket"), call(region="us-east-1", Bucket="fixed-bucket")), "fixed-bucket", ("PutPublicAccessBlock",)),
        ((call(GroupId="sg-1"),), "sg-1", ("PutPublicAccessBlock",)),
        ((call(AccountId=ACCOUNT),), "fixed-bucket", ("PutPublicAccessBlock",)),
        ((call("UpdateTrail", Name=TRAIL), call("UpdateTrail", TrailName=TRAIL), call("UpdateTrail", Name="main")), "fixed-bucket", ("UpdateTrail",)),
    ],
)
def test_calls_on_the_records_own_resource_account_and_regions_pass(calls: tuple[Any, ...], resource: str, allowed: tuple[str, ...]) -> None:
    _confined(calls, checked(resource, allowed))


@pytest.mark.parametrize(
    ("calls", "operations", "reason"),
    [
        ((call("DeleteBucket", Bucket="fixed-bucket"),), ("PutPublicAccessBlock", "UpdateTrail"),
         "DeleteBucket is not an operation the fixer undoes with (PutPublicAccessBlock, UpdateTrail)"),
        ((call(Bucket="fixed-bucket"),), None, "PutPublicAccessBlock is not an operation the fixer undoes with (none declared)"),
        ((call(region="ap-south-1", Bucket="fixed-bucket"),), ("PutPublicAccessBlock",),
         f"PutPublicAccessBlock would call region ap-south-1, which is not a region of account {ACCOUNT} in this stack"),
        ((call(Bucket="fixed-bucket"), call(Bucket="other-bucket")), ("PutPublicAccessBlock",),
         "PutPublicAccessBlock names Bucket 'other-bucket', not the record's resource fixed-bucket"),
        ((call(GroupId="sg-2"),), ("PutPublicAccessBlock",), "PutPublicAccessBlock names GroupId 'sg-2', not the record's resource fixed-bucket"),
        ((call(AccountId="999999999999"),), ("PutPublicAccessBlock",),
         f"PutPublicAccessBlock names account '999999999999', not the record's account {ACCOUNT}"),
        ((call("UpdateTrail", Name="arn:aws:cloudtrail:us-east-1:999999999999:trail/org"),), ("UpdateTrail",),
         f"UpdateTrail names trail arn:aws:cloudtrail:us-east-1:999999999999:trail/org, which is not in the record's account {ACCOUNT}"),
        ((call("UpdateTrail", TrailName="arn:aws:cloudtrail:us-east-1:999999999999:trail/org"),), ("UpdateTrail",),
         f"UpdateTrail names trail arn:aws:cloudtrail:us-east-1:999999999999:trail/org, which is not in the record's account {ACCOUNT}"),
    ],
)
def test_a_call_outside_the_records_resource_or_the_fixers_operations_is_refused(calls: tuple[Any, ...], operations: Any, reason: str) -> None:
    with pytest.raises(UndoRefused) as refused:
        _confined(calls, checked(operations=operations))
    assert str(refused.value) == reason


def api_call(operation: str, outcome: str) -> dict[str, Any]:
    return {"service": "s3", "operation": operation, "params": {}, "outcome": outcome}


UNDO = [{"service": "s3", "operation": "DeletePublicAccessBlock", "params": {}}]


@pytest.mark.parametrize(
    ("record", "wrote"),
    [
        ({"decision": "remediated"}, True),
        ({"decision": "failed", "undo": UNDO, "apiCalls": [api_call("GetPublicAccessBlock", "ok"), api_call("PutPublicAccessBlock", "ok")]}, True),
        ({"decision": "failed", "undo": UNDO, "apiCalls": ["not a call", api_call("PutPublicAccessBlock", "ok")]}, True),
        ({"decision": "failed", "undo": UNDO, "apiCalls": [api_call("GetPublicAccessBlock", "ok"), api_call("PutPublicAccessBlock", "AccessDenied")]}, False),
        ({"decision": "failed", "undo": UNDO, "apiCalls": [api_call(op, "ok") for op in ("GetBucketTagging", "DescribeFlowLogs", "ListTags")]}, False),
        ({"decision": "failed", "undo": [], "apiCalls": [api_call("PutPublicAccessBlock", "ok")]}, False),
        ({"decision": "failed", "undo": UNDO, "apiCalls": "PutPublicAccessBlock"}, False),
        ({"decision": "failed", "undo": UNDO, "apiCalls": [{"operation": "PutPublicAccessBlock"}]}, False),
        ({"decision": "dry_run", "undo": UNDO, "apiCalls": [api_call("PutPublicAccessBlock", "ok")]}, False),
        ({"decision": "exempt"}, False),
    ],
)
def test_only_a_record_whose_change_reached_aws_has_something_to_undo(record: dict[str, Any], wrote: bool) -> None:
    assert _wrote(record) is wrote
