"""``scan`` and ``apply`` when AWS fails part of the way: audit records written ahead, fresh state after the
prompt, one failing account-region isolated from the rest, and exemption tags that cannot be read."""

from __future__ import annotations

import builtins
import json
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from governance.cli.main import main
from tests.cli.aws_faults import Call, Faults, faults, latest_records

__all__ = ["faults"]

HOME = "123456789012"
OTHER = "222222222222"
ROLE = f"arn:aws:iam::{OTHER}:role/governance-deploy"
EXEMPT = "governance:exempt"
WORLD_SSH = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
ALL_ON = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


def write_stack(tmp_path: Path, rules: dict[str, Any], accounts: list[dict[str, str]] | None = None, regions: list[str] | None = None) -> Path:
    path = tmp_path / "Pulumi.faults.yaml"
    path.write_text(yaml.safe_dump({"config": {
        "governance:regions": regions or ["us-east-1"],
        "governance:accounts": accounts or [{"id": HOME}],
        "governance:rules": rules,
    }}))
    return path


def session_of(account: str, region: str) -> boto3.Session:
    if account == HOME:
        return boto3.Session(region_name=region)
    credentials = boto3.client("sts", region_name="us-east-1").assume_role(RoleArn=ROLE, RoleSessionName="seed")["Credentials"]
    return boto3.Session(credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"], region_name=region)


def make_bucket(name: str, account: str = HOME, region: str = "us-east-1") -> str:
    s3 = session_of(account, region).client("s3")
    s3.create_bucket(Bucket=name, **({} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}))
    return name


def make_open_group(name: str, account: str = HOME, region: str = "us-east-1", tags: dict[str, str] | None = None) -> str:
    ec2 = session_of(account, region).client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    group = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[WORLD_SSH])
    if tags:
        ec2.create_tags(Resources=[group], Tags=[{"Key": key, "Value": value} for key, value in tags.items()])
    return group


def public_access_of(bucket: str, account: str = HOME, region: str = "us-east-1") -> dict[str, bool] | None:
    s3 = session_of(account, region).client("s3")
    try:
        return dict(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"])
    except s3.exceptions.ClientError:
        return None


def ssh_open(group: str, account: str = HOME, region: str = "us-east-1") -> bool:
    ec2 = session_of(account, region).client("ec2")
    permissions = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
    return any(p.get("FromPort") == 22 and any(r["CidrIp"] == "0.0.0.0/0" for r in p.get("IpRanges", [])) for p in permissions)


def confirm_with(monkeypatch: pytest.MonkeyPatch, during_prompt: Any) -> None:
    """Answer the confirmation prompt with yes, after ``during_prompt()`` changed AWS while it was shown."""
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)

    def answer(_prompt: str) -> str:
        during_prompt()
        return "y"

    monkeypatch.setattr(builtins, "input", answer)


# --- records are written ahead of verification -----------------------------------------------------


@pytest.mark.parametrize("fault", ["bucket-deleted", "credentials-expired", "throttled"])
def test_a_failing_verification_never_loses_the_record_of_a_write(fault: str, aws: None, faults: Faults, tmp_path: Path) -> None:
    stack = write_stack(tmp_path, {"s3-bucket-public-access": {"mode": "auto"}})
    doomed, healthy = make_bucket("doomed-bucket"), make_bucket("healthy-bucket")

    def after_write(call: Call, _response: dict[str, Any]) -> None:
        if call.operation != "PutPublicAccessBlock" or call.params.get("Bucket") != doomed:
            return
        if fault == "bucket-deleted":
            boto3.client("s3", region_name="us-east-1").delete_bucket(Bucket=doomed)
        elif fault == "credentials-expired":
            faults.expire_credentials()
        else:
            faults.fail("Throttling", lambda later: later.params.get("Bucket") == doomed and later.operation.startswith("Get"))

    faults.after.append(after_write)
    audit = tmp_path / "audit.jsonl"
    code = main(["apply", "--stack-file", str(stack), "--yes", "--audit-file", str(audit), "--concurrency", "1"])
    assert code == 1
    records = {record["resourceId"]: record for record in latest_records(audit).values()}
    doomed_record = records[doomed]
    assert [call["operation"] for call in doomed_record["apiCalls"] if call["operation"] == "PutPublicAccessBlock"] == ["PutPublicAccessBlock"]
    assert doomed_record["decision"] == "failed" and "could not be verified" in doomed_record["reason"], doomed_record["reason"]
    assert doomed_record["final"] is True
    if fault != "credentials-expired":
        # Only that bucket's verification failed: the other one is verified as usual.
        assert records[healthy]["decision"] == "remediated" and records[healthy]["after"]["publicAccessBlock"] == ALL_ON
    # Every write that reached AWS is in a record.
    recorded = {call["params"]["Bucket"] for record in records.values() for call in record["apiCalls"] if call["operation"] == "PutPublicAccessBlock"}
    assert {call.params["Bucket"] for call in faults.writes() if call.operation == "PutPublicAccessBlock"} <= recorded


def test_records_are_on_disk_before_verification_starts(aws: None, faults: Faults, tmp_path: Path) -> None:
    stack = write_stack(tmp_path, {"s3-bucket-public-access": {"mode": "auto"}})
    bucket = make_bucket("early-record")
    audit = tmp_path / "audit.jsonl"
    seen_before_verification: list[dict[str, Any]] = []
    writes_done = []

    def after_write(call: Call, _response: dict[str, Any]) -> None:
        if call.operation == "PutPublicAccessBlock":
            writes_done.append(call)
        elif writes_done and call.operation == "GetPublicAccessBlock" and not seen_before_verification:
            seen_before_verification.extend(latest_records(audit).values())

    faults.after.append(after_write)
    assert main(["apply", "--stack-file", str(stack), "--yes", "--audit-file", str(audit)]) == 0
    assert [record["resourceId"] for record in seen_before_verification] == [bucket]
    assert seen_before_verification[0]["apiCalls"], "the record of the write is on disk before the verification read"
    final = latest_records(audit)[seen_before_verification[0]["recordId"]]
    assert final["decision"] == "remediated" and final["final"] is True and final["verification"] == {"status": "compliant"}



def test_a_verification_read_that_still_sees_the_old_state_is_read_again_after_the_engines_wait(
    aws: None, faults: Faults, tmp_path: Path, verification_waits: list[float]
) -> None:
    # AWS propagates bucket configuration eventually: the first read after a write may show the old state.
    stack = write_stack(tmp_path, {"s3-bucket-public-access": {"mode": "auto"}})
    bucket = make_bucket("slow-to-propagate")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={**ALL_ON, "RestrictPublicBuckets": False})
    stale_reads: list[Call] = []

    def propagate_late(call: Call, _response: dict[str, Any]) -> None:
        if call.operation == "PutPublicAccessBlock" and call.params.get("Bucket") == bucket and not stale_reads:
            stale_reads.append(call)
            # What the next read sees: the old state (as one that reads, so that the hooks see it).
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={**ALL_ON, "RestrictPublicBuckets": False})
        elif call.operation == "GetPublicAccessBlock" and len(stale_reads) == 1:
            stale_reads.append(call)
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=ALL_ON)  # now it has propagated

    faults.after.append(propagate_late)
    audit = tmp_path / "audit.jsonl"
    assert main(["apply", "--stack-file", str(stack), "--yes", "--audit-file", str(audit)]) == 0
    record = next(iter(latest_records(audit).values()))
    assert record["decision"] == "remediated" and record["verification"] == {"status": "compliant"}, record
    assert record["after"]["publicAccessBlock"] == ALL_ON
    assert verification_waits == [1.0], "one stale read, then one wait before the read that found the change"


def test_a_batch_verification_that_sees_the_old_state_reads_the_group_again_on_its_own(
    aws: None, faults: Faults, tmp_path: Path, verification_waits: list[float]
) -> None:
    stack = write_stack(tmp_path, {"restricted-admin-ports": {"mode": "auto"}})
    group = make_open_group("slow-to-propagate")
    ec2 = boto3.client("ec2", region_name="us-east-1")
    events: list[str] = []

    def propagate_late(call: Call, _response: dict[str, Any]) -> None:
        if call.operation == "RevokeSecurityGroupIngress" and not events:
            events.append("revoked")
            ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[WORLD_SSH])  # the old state, once more
        elif call.operation == "DescribeSecurityGroups" and events == ["revoked"]:
            events.append("batch read stale")
            ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[WORLD_SSH])  # now it has propagated

    faults.after.append(propagate_late)
    audit = tmp_path / "audit.jsonl"
    assert main(["apply", "--stack-file", str(stack), "--yes", "--audit-file", str(audit)]) == 0
    assert events == ["revoked", "batch read stale"]
    record = next(iter(latest_records(audit).values()))
    assert record["decision"] == "remediated" and record["verification"] == {"status": "compliant"}, record
    assert not ssh_open(group)
    described = [call for call in faults.calls if call.operation == "DescribeSecurityGroups"]
    assert described[-1].params.get("GroupIds") == [group], "the second read is the group's own"
    assert verification_waits == [1.0]


# --- state is read again after the confirmation ----------------------------------------------------


def test_a_group_tagged_exempt_while_the_prompt_is_shown_is_not_changed(aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stack = write_stack(tmp_path, {"restricted-admin-ports": {"mode": "auto"}})
    group = make_open_group("late-exempt")
    ec2 = boto3.client("ec2", region_name="us-east-1")
    confirm_with(monkeypatch, lambda: ec2.create_tags(Resources=[group], Tags=[{"Key": EXEMPT, "Value": "approved meanwhile"}]))
    audit = tmp_path / "audit.jsonl"
    assert main(["apply", "--stack-file", str(stack), "--audit-file", str(audit)]) == 0
    assert ssh_open(group), "the group was changed although it was tagged exempt before the write"
    (record,) = latest_records(audit).values()
    assert record["decision"] == "exempt" and not [c for c in record["apiCalls"] if c["operation"].startswith(("Authorize", "Revoke"))]


def test_a_bucket_fixed_by_someone_else_while_the_prompt_is_shown_is_not_overwritten(aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stack = write_stack(tmp_path, {"s3-bucket-public-access": {"mode": "auto"}})
    bucket = make_bucket("fixed-meanwhile")
    theirs = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={**theirs, "RestrictPublicBuckets": False})
    confirm_with(monkeypatch, lambda: s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=theirs))
    audit = tmp_path / "audit.jsonl"
    assert main(["apply", "--stack-file", str(stack), "--audit-file", str(audit)]) == 0
    (record,) = latest_records(audit).values()
    assert record["decision"] == "already_compliant", record["reason"]
    assert record["before"]["publicAccessBlock"] == theirs, "the record shows the state read after the confirmation"
    assert not [c for c in record["apiCalls"] if c["operation"] == "PutPublicAccessBlock"]


def test_a_group_whose_rule_was_narrowed_meanwhile_is_planned_from_its_new_rules(aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stack = write_stack(tmp_path, {"restricted-admin-ports": {"mode": "auto"}})
    group = make_open_group("replanned")
    ec2 = boto3.client("ec2", region_name="us-east-1")
    wide = {"IpProtocol": "tcp", "FromPort": 20, "ToPort": 25, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}

    def widen() -> None:
        ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[WORLD_SSH])
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[wide])

    confirm_with(monkeypatch, widen)
    audit = tmp_path / "audit.jsonl"
    assert main(["apply", "--stack-file", str(stack), "--audit-file", str(audit)]) == 0
    (record,) = latest_records(audit).values()
    assert record["decision"] == "remediated"
    assert [rule["fromPort"] for rule in record["change"]["detail"]["revoked"]] == [20], "planned from the rules read after the prompt"
    assert not ssh_open(group)


# --- one account-region failing does not stop the fleet --------------------------------------------


def isolated_stack(tmp_path: Path) -> Path:
    return write_stack(
        tmp_path, {"s3-bucket-public-access": {"mode": "auto"}},
        accounts=[{"id": HOME}, {"id": OTHER, "roleArn": ROLE}], regions=["us-east-1", "eu-west-1"],
    )


def deny_other_account_and_home_eu(faults: Faults) -> None:
    faults.fail("AccessDenied", lambda call: call.operation == "AssumeRole" and call.params.get("RoleArn") == ROLE)
    faults.fail("AccessDenied", lambda call: call.region == "eu-west-1" and call.service == "s3")


def test_scan_reports_an_account_it_cannot_enter_and_a_region_it_cannot_read_and_scans_the_rest(
    aws: None, faults: Faults, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = isolated_stack(tmp_path)
    bucket = make_bucket("home-us-bucket")
    deny_other_account_and_home_eu(faults)
    assert main(["scan", "--stack-file", str(stack), "--json"]) == 1
    findings = json.loads(capsys.readouterr().out)
    assert [f["resourceId"] for f in findings if f["status"] == "non_compliant"] == [bucket]
    failed = {(f["account"], f["region"]): f for f in findings if f["status"] == "failed"}
    assert set(failed) == {(OTHER, "us-east-1"), (OTHER, "eu-west-1"), (HOME, "eu-west-1")}
    assert "AccessDenied" in failed[(OTHER, "us-east-1")]["summary"]
    assert main(["scan", "--stack-file", str(stack)]) == 1
    table = capsys.readouterr().out
    assert "eu-west-1" in table and "AccessDenied" in table


def test_apply_fixes_the_reachable_account_regions_and_records_the_others(aws: None, faults: Faults, tmp_path: Path) -> None:
    stack = isolated_stack(tmp_path)
    bucket = make_bucket("home-us-bucket")
    unreachable = make_bucket("home-eu-bucket", region="eu-west-1")
    deny_other_account_and_home_eu(faults)
    audit = tmp_path / "audit.jsonl"
    assert main(["apply", "--stack-file", str(stack), "--yes", "--audit-file", str(audit)]) == 1
    records = list(latest_records(audit).values())
    fixed = [r for r in records if r["resourceId"] == bucket]
    assert fixed and fixed[0]["decision"] == "remediated"
    failed_units = {(r["account"], r["region"]) for r in records if r["decision"] == "failed"}
    assert failed_units == {(OTHER, "us-east-1"), (OTHER, "eu-west-1"), (HOME, "eu-west-1")}
    faults.heal()
    assert public_access_of(bucket) == ALL_ON
    assert public_access_of(unreachable, region="eu-west-1") is None


# --- exemption tags that cannot be read ------------------------------------------------------------


@pytest.mark.parametrize("code", ["AccessDenied", "ExpiredToken", "InternalFailure"])
def test_apply_changes_nothing_when_the_tagging_api_itself_fails(code: str, aws: None, faults: Faults, tmp_path: Path) -> None:
    stack = write_stack(tmp_path, {"s3-bucket-public-access": {"mode": "auto"}, "restricted-admin-ports": {"mode": "auto"}})
    bucket, group = make_bucket("tags-unreadable"), make_open_group("tags-unreadable")
    faults.fail(code, lambda call: call.operation == "GetResources")
    faults.calls.clear()
    audit = tmp_path / "audit.jsonl"
    assert main(["apply", "--stack-file", str(stack), "--yes", "--audit-file", str(audit)]) == 1
    assert faults.writes() == []
    records = {r["resourceId"]: r for r in latest_records(audit).values()}
    for resource in (bucket, group):
        assert records[resource]["decision"] == "failed" and "exemptions fail closed" in records[resource]["reason"]
    assert public_access_of(bucket) is None and ssh_open(group)


def test_apply_leaves_an_exempt_group_vpc_and_log_validation_trail_alone(aws: None, faults: Faults, tmp_path: Path) -> None:
    stack = write_stack(tmp_path, {
        "restricted-admin-ports": {"mode": "auto"},
        "vpc-flow-logs": {"mode": "auto", "params": {"destinationType": "s3", "s3BucketArn": "arn:aws:s3:::flow-logs-home"}},
        "cloudtrail-log-validation": {"mode": "auto"},
    })
    make_bucket("flow-logs-home")
    make_bucket("trail-logs-home")
    ec2 = boto3.client("ec2", region_name="us-east-1")
    for vpc in ec2.describe_vpcs()["Vpcs"]:
        ec2.create_tags(Resources=[vpc["VpcId"]], Tags=[{"Key": EXEMPT, "Value": "network team"}])
    group = make_open_group("exempt-group", tags={EXEMPT: "bastion"})
    cloudtrail = boto3.client("cloudtrail", region_name="us-east-1")
    trail = cloudtrail.create_trail(Name="exempt-trail", S3BucketName="trail-logs-home", TagsList=[{"Key": EXEMPT, "Value": "audit team"}])["TrailARN"]
    faults.calls.clear()
    audit = tmp_path / "audit.jsonl"
    assert main(["apply", "--stack-file", str(stack), "--yes", "--audit-file", str(audit)]) == 0
    assert faults.writes() == []
    assert ssh_open(group)
    assert ec2.describe_flow_logs()["FlowLogs"] == []
    assert cloudtrail.get_trail(Name=trail)["Trail"]["LogFileValidationEnabled"] is False
    decisions = {r["resourceId"]: r["decision"] for r in latest_records(audit).values()}
    assert decisions[group] == "exempt" and decisions[trail] == "exempt"
    assert all(decision == "exempt" for decision in decisions.values())


def test_a_resource_that_became_fixable_after_the_prompt_is_not_changed_without_confirmation(aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kms = boto3.client("kms", region_name="us-east-1")
    ours, theirs = (kms.create_key(Description=name)["KeyMetadata"]["Arn"] for name in ("governance", "owner"))
    stack = write_stack(tmp_path, {"s3-bucket-encryption": {"mode": "auto", "params": {"algorithm": "aws:kms", "kmsKeyArn": ours}}})
    s3 = boto3.client("s3", region_name="us-east-1")
    own_key, confirmed = make_bucket("owner-keyed"), make_bucket("confirmed-fix")

    def encrypt(bucket: str, default: dict[str, str]) -> None:
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": default}]})

    encrypt(own_key, {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": theirs})
    encrypt(confirmed, {"SSEAlgorithm": "AES256"})
    # Shown as "not switched to another key" at the prompt; its owner moves it back to SSE-S3 meanwhile.
    confirm_with(monkeypatch, lambda: encrypt(own_key, {"SSEAlgorithm": "AES256"}))
    audit = tmp_path / "audit.jsonl"
    assert main(["apply", "--stack-file", str(stack), "--audit-file", str(audit)]) == 1
    records = {record["resourceId"]: record for record in latest_records(audit).values()}
    assert records[confirmed]["decision"] == "remediated"
    assert records[own_key]["decision"] == "failed" and "nobody confirmed" in records[own_key]["reason"]
    rules = s3.get_bucket_encryption(Bucket=own_key)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
