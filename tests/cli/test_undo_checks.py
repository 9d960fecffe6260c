"""Undo's own guards, each on its own: which records wrote, and which computed calls may run.

The computed inverse of an honest fixer always passes these guards, so the end-to-end tests
cannot reach them; they stand between a fixer bug and an AWS call, and are checked here directly
with calls no fixer should compute.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from governance.cli.sessions import AccountSessions
from governance.cli.undo import _check_record, _Checked, _confined, _refuse_if_exempt, _wrote
from governance.lambda_code import lambda_module
from governance.settings import load_settings

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


# --- exemption tags read again before undo ------------------------------------------------------

EXEMPT = "governance:exempt"


class TaggedFixer:
    """A fixer whose exemption check answers ``exempt`` (or raises TagsUnreadable) and remembers what it was asked."""

    def __init__(self, exempt: bool | None) -> None:
        self.exempt = exempt
        self.asked: list[tuple[Any, ...]] = []

    def is_exempt(self, target: Any, state: Any, change: Any, exemption_tag: str) -> bool:
        self.asked.append((target.resource_id, state, change.calls, change.changed_resource, exemption_tag))
        if self.exempt is None:
            raise base.TagsUnreadable("AccessDenied: not allowed to read tags")
        return self.exempt


def _checked_with(fixer: Any) -> _Checked:
    return _Checked(base.Target("AWS::S3::Bucket", "fixed-bucket", ACCOUNT, "us-east-1"), fixer, None, None, ("us-east-1",))


def test_undo_asks_the_fixer_about_the_resource_and_the_trail_the_record_changed() -> None:
    fixer, calls = TaggedFixer(False), (call(Bucket="fixed-bucket"),)
    _refuse_if_exempt(_checked_with(fixer), "current state", calls, {"detail": {"trail": TRAIL}}, EXEMPT)
    assert fixer.asked == [("fixed-bucket", "current state", calls, TRAIL, EXEMPT)]


@pytest.mark.parametrize("change", [{}, {"detail": "not an object"}, {"detail": {"trail": 7}}, {"detail": {"trail": None}}])
def test_a_record_without_a_changed_trail_asks_about_its_own_resource_only(change: dict[str, Any]) -> None:
    fixer = TaggedFixer(False)
    _refuse_if_exempt(_checked_with(fixer), None, (), change, EXEMPT)
    assert [asked[3] for asked in fixer.asked] == [None]


def test_a_resource_tagged_exempt_now_is_not_undone() -> None:
    with pytest.raises(UndoRefused) as refused:
        _refuse_if_exempt(_checked_with(TaggedFixer(True)), None, (), {}, EXEMPT)
    assert str(refused.value) == f"the resource is tagged {EXEMPT} now; remove the tag to undo the change"


def test_tags_that_cannot_be_read_refuse_the_undo() -> None:
    with pytest.raises(UndoRefused) as refused:
        _refuse_if_exempt(_checked_with(TaggedFixer(None)), None, (), {}, EXEMPT)
    assert str(refused.value) == "the resource's tags could not be read (AccessDenied: not allowed to read tags); exemptions fail closed, so nothing was changed"


@pytest.mark.parametrize(("tagged", "refused"), [(False, False), (True, True)])
def test_undo_of_a_multi_region_trail_update_reads_that_trails_tags(monkeypatch: pytest.MonkeyPatch, tagged: bool, refused: bool) -> None:
    fixer = lambda_module("fixers.cloudtrail_multi_region")
    asked: list[str] = []

    def trail_is_exempt(trail: str, _target: Any, _tag: str) -> bool:
        asked.append(trail)
        return tagged

    monkeypatch.setattr(fixer, "trail_is_exempt", trail_is_exempt)
    checked = _Checked(base.Target("AWS::::Account", ACCOUNT, ACCOUNT, "us-east-1"), fixer, None, None, ("us-east-1",))
    undo = (base.ApiCall("cloudtrail", "UpdateTrail", {"Name": TRAIL, "IsMultiRegionTrail": False}),)
    if refused:
        with pytest.raises(UndoRefused):
            _refuse_if_exempt(checked, None, undo, {"detail": {"trail": TRAIL, "updated": True}}, EXEMPT)
    else:
        _refuse_if_exempt(checked, None, undo, {"detail": {"trail": TRAIL, "updated": True}}, EXEMPT)
    assert asked == [TRAIL]


# --- the record against the stack -----------------------------------------------------------------

TWO_REGIONS = {"regions": ["us-east-1", "eu-west-1"], "accounts": [{"id": ACCOUNT}],
               "rules": {"s3-account-public-access": {"mode": "auto"}, "s3-bucket-public-access": {"mode": "auto"}}}


def account_record(region: str, rule: str = "s3-account-public-access") -> dict[str, Any]:
    return {"account": ACCOUNT, "region": region, "ruleKey": rule, "resourceType": "AWS::::Account", "resourceId": ACCOUNT}


def test_an_account_rule_is_checked_against_the_region_it_runs_in(aws: None) -> None:
    """Account rules run in the account's first region only: a record there passes, one from the second region does not."""
    settings = load_settings(TWO_REGIONS)
    checked = _check_record(account_record("us-east-1"), settings, AccountSessions())
    assert (checked.target.resource_id, checked.target.region, checked.stack_regions) == (ACCOUNT, "us-east-1", ("us-east-1", "eu-west-1"))
    with pytest.raises(UndoRefused) as refused:
        _check_record(account_record("eu-west-1"), settings, AccountSessions())
    assert str(refused.value) == f"rule 's3-account-public-access' is not a rule with a fixer that this stack runs in {ACCOUNT}/eu-west-1"


@pytest.mark.parametrize("rule", ["vpc-flow-logs", None, 7, "no-such-rule"])
def test_a_rule_the_stack_does_not_run_is_refused(aws: None, rule: Any) -> None:
    with pytest.raises(UndoRefused) as refused:
        _check_record(account_record("us-east-1", rule), load_settings(TWO_REGIONS), AccountSessions())
    assert str(refused.value) == f"rule {rule!r} is not a rule with a fixer that this stack runs in {ACCOUNT}/us-east-1"


def bucket_record(**changes: Any) -> dict[str, Any]:
    made = {"account": ACCOUNT, "region": "eu-west-1", "ruleKey": "s3-bucket-public-access", "resourceType": "AWS::S3::Bucket", "resourceId": "fixed-bucket"}
    made.update(changes)
    return made


def test_a_checked_record_names_its_target_params_session_and_the_stacks_regions(aws: None) -> None:
    settings = load_settings({**TWO_REGIONS, "rules": {"s3-bucket-public-access": {"mode": "auto", "params": {"excludedPublicBuckets": ["website"]}}}})
    checked = _check_record(bucket_record(), settings, AccountSessions())
    assert checked.target == base.Target("AWS::S3::Bucket", "fixed-bucket", ACCOUNT, "eu-west-1", "aws")
    assert checked.fixer is lambda_module("fixers.s3_bucket_public_access")
    assert checked.params == checked.fixer.Params(frozenset({"website"}))
    assert (checked.session.region_name, checked.stack_regions) == ("eu-west-1", ("us-east-1", "eu-west-1"))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"account": "999999999999"}, "account '999999999999' is not in this stack"),
        ({"account": None}, "account None is not in this stack"),
        ({"region": "ap-south-1"}, f"region 'ap-south-1' is not a region of account {ACCOUNT} in this stack"),
        ({"resourceType": "AWS::::Account"}, "resource AWS::::Account 'fixed-bucket' is not one the s3-bucket-public-access fixer changes"),
        ({"resourceId": 7}, "resource AWS::S3::Bucket 7 is not one the s3-bucket-public-access fixer changes"),
        ({"resourceId": "Not_A_Bucket"}, "resource AWS::S3::Bucket 'Not_A_Bucket' is not one the s3-bucket-public-access fixer changes"),
        ({"ruleKey": "s3-account-public-access", "resourceType": "AWS::::Account", "resourceId": "999999999999", "region": "us-east-1"},
         "resource AWS::::Account '999999999999' is not one the s3-account-public-access fixer changes"),
    ],
)
def test_a_record_outside_the_stack_or_the_fixer_is_refused(aws: None, changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(UndoRefused) as refused:
        _check_record(bucket_record(**changes), load_settings(TWO_REGIONS), AccountSessions())
    assert str(refused.value) == reason


def test_a_checked_record_keeps_its_accounts_partition(aws: None) -> None:
    gov = {"regions": ["us-gov-west-1"], "accounts": [{"id": ACCOUNT, "roleArn": f"arn:aws-us-gov:iam::{ACCOUNT}:role/governance-deploy"}],
           "rules": {"s3-bucket-public-access": {"mode": "auto"}}}
    checked = _check_record(bucket_record(region="us-gov-west-1"), load_settings(gov), AccountSessions())
    assert checked.target == base.Target("AWS::S3::Bucket", "fixed-bucket", ACCOUNT, "us-gov-west-1", "aws-us-gov")
