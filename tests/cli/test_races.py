"""Race and fault model for the CLI: AWS changes between every pair of steps of ``apply`` and ``undo``.

Between each step (read, confirm, write, record, verify) the harness changes the resource, tags it
exempt, expires the credentials or denies every request, and then checks the invariants:
- no write from stale state: a change made before the write step is what the write was planned from
  (the record's before-state is the changed state) or stops the write;
- no lost record: every write that reached AWS is in the latest audit line of its resource, and that
  line is final;
- no change to an exempt resource: a resource tagged exempt before the write step is not written.
The read of a resource right before its write belongs to the write step: between that read and the
write there is no hook, and AWS offers no conditional write for these APIs to close that window.
``apply`` runs both ways an operator runs it: confirmed at the prompt (the fleet is read, shown, and
read again after the confirmation) and with ``--yes`` (nothing is confirmed, so nothing is read
before the write step: an account-region that cannot be entered then gets one record of its own).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from governance.cli import fleet
from governance.cli.main import main
from governance.lambda_code import lambda_module
from tests.cli.aws_faults import Faults, faults, latest_records
from tests.cli.test_apply_faults import EXEMPT, HOME, WORLD_SSH, confirm_with, make_bucket, make_open_group, write_stack
from tests.safety.figures import record as record_figure

__all__ = ["faults"]

REGION = "us-east-1"
APPLY_STEPS = ("read", "confirm", "write", "record", "verify")
BEFORE_WRITE = ("read", "confirm")
UNDO_STEPS = ("read", "confirm", "write")
EVENTS = ("changed", "tagged-exempt", "credentials-expired", "access-denied")


@dataclass(frozen=True)
class Scenario:
    """One rule: how to make a non-compliant resource, change it as someone else would, and tag it."""

    rule: str
    params: dict[str, Any]
    writes: tuple[str, ...]
    seed: Callable[[], str]
    change: Callable[[str], None]
    tag: Callable[[str], None]


def _s3() -> Any:
    return boto3.client("s3", region_name=REGION)


def _ec2() -> Any:
    return boto3.client("ec2", region_name=REGION)


def _tag_bucket(bucket: str) -> None:
    _s3().put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": EXEMPT, "Value": "approved during the run"}]})


def _tag_group(group: str) -> None:
    _ec2().create_tags(Resources=[group], Tags=[{"Key": EXEMPT, "Value": "approved during the run"}])


def _aes256_bucket() -> str:
    bucket = make_bucket("race-encryption")
    _s3().put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    return bucket


def _their_kms_key(bucket: str) -> None:
    key = boto3.client("kms", region_name=REGION).create_key(Description="the bucket owner's key")["KeyMetadata"]["Arn"]
    _s3().put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}, "BucketKeyEnabled": True}],
    })


def _partly_blocked(bucket: str) -> None:
    _s3().put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": True, "RestrictPublicBuckets": False,
    })


def _rdp_opened(group: str) -> None:
    _ec2().authorize_security_group_ingress(GroupId=group, IpPermissions=[{**WORLD_SSH, "FromPort": 3389, "ToPort": 3389}])


def _kms_params() -> dict[str, Any]:
    return {"algorithm": "aws:kms", "kmsKeyArn": boto3.client("kms", region_name=REGION).create_key(Description="governance")["KeyMetadata"]["Arn"]}


SCENARIOS = {
    "s3-bucket-encryption": Scenario("s3-bucket-encryption", {}, ("PutBucketEncryption", "DeleteBucketEncryption"), _aes256_bucket, _their_kms_key, _tag_bucket),
    "s3-bucket-public-access": Scenario(
        "s3-bucket-public-access", {}, ("PutPublicAccessBlock", "DeletePublicAccessBlock"), lambda: make_bucket("race-public-access"), _partly_blocked, _tag_bucket,
    ),
    "restricted-admin-ports": Scenario(
        "restricted-admin-ports", {}, ("AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress"), lambda: make_open_group("race-group"), _rdp_opened, _tag_group,
    ),
}


def read_state(rule: str, resource: str) -> dict[str, Any]:
    """The fixer's own read of the resource, with the test's credentials."""
    base, fixer = lambda_module("fixers.base"), lambda_module("fixers").load_fixer(rule)
    with lambda_module("clients").using_session(boto3.Session(region_name=REGION)):
        state: dict[str, Any] = fixer.read_state(base.Target("AWS::EC2::SecurityGroup" if rule == "restricted-admin-ports" else "AWS::S3::Bucket", resource, HOME, REGION)).to_json()
    return state


@dataclass
class Race:
    """Performs one event at the first checkpoint of one step, and remembers the state it left."""

    scenario: Scenario
    resource: str
    step: str
    event: str
    faults: Faults
    fired: bool = False
    state_after_event: dict[str, Any] | None = None
    own_calls: tuple[int, ...] = ()
    """Ids of the calls the race itself made (they are someone else's writes, not the CLI's)."""

    def __call__(self, step: str, _subject: Any) -> None:
        if self.fired or step != self.step:
            return
        self.fired = True
        first = len(self.faults.calls)
        try:
            self.perform()
        finally:
            self.own_calls = tuple(id(call) for call in self.faults.calls[first:])

    def perform(self) -> None:
        """Make the event happen in AWS."""
        if self.event == "changed":
            self.scenario.change(self.resource)
        elif self.event == "tagged-exempt":
            self.scenario.tag(self.resource)
        elif self.event == "credentials-expired":
            self.faults.expire_credentials()
            return
        else:
            self.faults.fail("AccessDenied", lambda _call: True)
            return
        self.state_after_event = read_state(self.scenario.rule, self.resource)


def stack_for(tmp_path: Path, scenario: Scenario) -> Path:
    params = _kms_params() if scenario.rule == "s3-bucket-encryption" else scenario.params
    return write_stack(tmp_path, {scenario.rule: {"mode": "auto", "params": params} if params else {"mode": "auto"}})


def resource_writes(faults: Faults, scenario: Scenario, resource: str, race: Race | None = None) -> list[Any]:
    """The CLI's writes to the resource (not those the race made as someone else)."""
    own = set(race.own_calls) if race is not None else set()
    return [
        call for call in faults.writes()
        if call.operation in scenario.writes and resource in (call.params.get("Bucket"), call.params.get("GroupId")) and id(call) not in own
    ]


def assert_no_lost_record(faults: Faults, scenario: Scenario, resource: str, audit: Path, race: Race) -> dict[str, Any]:
    records = [record for record in latest_records(audit).values() if record["resourceId"] == resource]
    writes = resource_writes(faults, scenario, resource, race)
    if writes:
        assert len(records) == 1, records
        recorded = [call for call in records[0]["apiCalls"] if call["operation"] in scenario.writes and call["outcome"] == "ok"]
        assert len(recorded) == len(writes), (recorded, writes)
        assert records[0]["final"] is True, "the write's record was never completed"
    return records[0] if records else {}


def unit_record(audit: Path) -> dict[str, Any]:
    """The record of the account-region that could not be entered or read, if there is one."""
    units = [record for record in latest_records(audit).values() if record["resourceId"] is None]
    return units[0] if units else {}


@pytest.mark.parametrize("confirmation", ["prompt", "yes"])
@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("step", APPLY_STEPS)
@pytest.mark.parametrize("rule", sorted(SCENARIOS))
def test_apply_under_a_race_at_every_step(
    rule: str, step: str, event: str, confirmation: str, aws: None, faults: Faults, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = SCENARIOS[rule]
    stack = stack_for(tmp_path, scenario)
    resource = scenario.seed()
    race = Race(scenario, resource, step, event, faults)
    monkeypatch.setattr(fleet, "checkpoint", race)
    if confirmation == "prompt":
        confirm_with(monkeypatch, lambda: None)
    faults.calls.clear()
    audit = tmp_path / "audit.jsonl"
    main(["apply", "--stack-file", str(stack), *(["--yes"] if confirmation == "yes" else []), "--audit-file", str(audit)])
    faults.heal()
    assert race.fired, f"apply never reached the {step} step of {resource}"
    fired_before_write = step in BEFORE_WRITE
    record = assert_no_lost_record(faults, scenario, resource, audit, race)
    if not record and confirmation == "yes" and fired_before_write and event in ("credentials-expired", "access-denied"):
        record = unit_record(audit)
    assert record, "every planned resource gets a record"
    writes = resource_writes(faults, scenario, resource, race)
    if fired_before_write and event in ("tagged-exempt", "credentials-expired", "access-denied"):
        assert writes == [], f"{event} before the write, and yet it wrote"
        assert record["decision"] in ("exempt", "failed"), record
    if fired_before_write and event == "tagged-exempt":
        assert read_state(rule, resource) == race.state_after_event, "an exempt resource was changed"
    if fired_before_write and event == "changed":
        if writes:
            assert record["before"] == race.state_after_event, "the write was planned from a state read before the change"
        else:
            assert read_state(rule, resource) == race.state_after_event, "someone else's change was overwritten"
    if step in ("write", "record") and event in ("credentials-expired", "access-denied"):
        assert writes and record["decision"] == "failed" and "could not be verified" in record["reason"]
    record_figure("races", "apply cases", 1)
    record_figure("races", "apply writes", len(writes))


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("step", UNDO_STEPS)
@pytest.mark.parametrize("rule", ["restricted-admin-ports", "s3-bucket-public-access"])
def test_undo_under_a_race_at_every_step(rule: str, step: str, event: str, aws: None, faults: Faults, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = SCENARIOS[rule]
    stack = stack_for(tmp_path, scenario)
    resource = scenario.seed()
    audit = tmp_path / "audit.jsonl"
    assert main(["apply", "--stack-file", str(stack), "--yes", "--audit-file", str(audit)]) == 0
    (record,) = latest_records(audit).values()
    fixed = read_state(rule, resource)
    race = Race(scenario, resource, step, event, faults)
    monkeypatch.setattr(fleet, "checkpoint", race)
    faults.calls.clear()
    code = main(["undo", "--stack-file", str(stack), record["recordId"], "--audit-file", str(audit), "--yes"])
    faults.heal()
    writes = resource_writes(faults, scenario, resource, race)
    record_figure("races", "undo cases", 1)
    if step in ("read", "confirm"):
        if event == "changed":
            assert writes == [] and code == 1, "undo wrote over a resource changed since its record"
            assert read_state(rule, resource) == race.state_after_event
        elif event == "tagged-exempt":
            assert writes == [] and code == 1, "undo changed a resource tagged exempt"
            assert read_state(rule, resource) == race.state_after_event
        else:
            assert writes == [] and code == 1
            assert read_state(rule, resource) == fixed
    assert race.fired, f"undo never reached the {step} step"
    if step == "write":
        assert writes, "undo ran"
