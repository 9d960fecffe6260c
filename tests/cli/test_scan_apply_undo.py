"""``scan``, ``apply`` and ``undo`` across two accounts and two regions on the emulator."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from moto import mock_aws

from governance.cli import fleet, inventory
from governance.cli.main import main
from governance.settings import load_settings
from tests.cli.aws_faults import latest_records

HOME = "123456789012"  # moto's default account: the stack's own credentials
OTHER = "222222222222"
ROLE = f"arn:aws:iam::{OTHER}:role/governance-deploy"
REGIONS = ["us-east-1", "eu-west-1"]
WORLD_SSH = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}
WORLD_RANGE = {"IpProtocol": "tcp", "FromPort": 3380, "ToPort": 3390, "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "legacy range"}]}
PRIVATE_HTTPS = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
STACK: dict[str, Any] = {
    "governance:regions": REGIONS,
    "governance:accounts": [{"id": HOME}, {"id": OTHER, "roleArn": ROLE}],
    "governance:rules": {
        "s3-bucket-encryption": {"mode": "auto", "engine": "lambda"},
        "restricted-admin-ports": {"mode": "manual"},
        "vpc-flow-logs": {"mode": "detect"},
    },
}


KEYS: dict[tuple[str, str], str] = {}
"""The KMS key of each account-region, created by ``stack_file``."""


@pytest.fixture
def stack_file(tmp_path: Path, aws: None) -> Path:
    # Every bucket already has SSE-S3, as on AWS: the encryption rule's job is the move to each region's KMS key.
    KEYS.clear()
    accounts = []
    for account in STACK["governance:accounts"]:
        keys = [session_of(account["id"], region).client("kms").create_key()["KeyMetadata"]["Arn"] for region in REGIONS]
        KEYS.update(zip(((account["id"], region) for region in REGIONS), keys, strict=True))
        accounts.append({**account, "rules": {"s3-bucket-encryption": {"params": {"algorithm": "aws:kms", "kmsKeyArn": keys}}}})
    path = tmp_path / "Pulumi.fleet.yaml"
    path.write_text(yaml.safe_dump({"config": {**STACK, "governance:accounts": accounts}}))
    return path


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[None]:
    with mock_aws():
        yield


def session_of(account: str, region: str) -> boto3.Session:
    if account == HOME:
        return boto3.Session(region_name=region)
    credentials = boto3.client("sts").assume_role(RoleArn=ROLE, RoleSessionName="seed")["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"], region_name=region,
    )


def seed(account: str, region: str, tag: str) -> dict[str, str]:
    session = session_of(account, region)
    s3, ec2 = session.client("s3"), session.client("ec2")
    names = {}
    for kind in ("plain", "exempt", "encrypted"):
        name = f"{tag}-{kind}-{account[-3:]}-{region}"
        s3.create_bucket(Bucket=name, **({} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}))
        names[kind] = name
    s3.put_bucket_tagging(Bucket=names["exempt"], Tagging={"TagSet": [{"Key": "governance:exempt", "Value": "owner approved"}]})
    s3.put_bucket_encryption(Bucket=names["encrypted"], ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEYS[(account, region)]}}]})
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    group = ec2.create_security_group(GroupName=f"{tag}-open", Description="open", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[WORLD_SSH, WORLD_RANGE, PRIVATE_HTTPS])
    names["group"] = group
    return names


def encryption_of(account: str, region: str, bucket: str) -> str | None:
    s3 = session_of(account, region).client("s3")
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except s3.exceptions.ClientError:
        return None
    return str(rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"])


def ingress_of(account: str, region: str, group: str) -> list[dict[str, Any]]:
    ec2 = session_of(account, region).client("ec2")
    permissions: list[dict[str, Any]] = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
    return permissions


def world_ports(permissions: list[dict[str, Any]]) -> set[tuple[int, int]]:
    return {
        (p["FromPort"], p["ToPort"])
        for p in permissions
        if any(r["CidrIp"] == "0.0.0.0/0" for r in p.get("IpRanges", [])) or any(r["CidrIpv6"] == "::/0" for r in p.get("Ipv6Ranges", []))
    }


def run_cli(*args: str) -> int:
    return main(list(args))


def test_scan_reports_every_account_and_region_and_writes_nothing(aws: None, stack_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seeded = {(account, region): seed(account, region, "scan") for account in (HOME, OTHER) for region in REGIONS}
    assert run_cli("scan", "--stack-file", str(stack_file), "--json") == 1
    findings = json.loads(capsys.readouterr().out)
    by_resource = {(f["account"], f["region"], f["resourceId"]): f for f in findings}
    for (account, region), names in seeded.items():
        assert by_resource[(account, region, names["plain"])]["status"] == "non_compliant"
        assert by_resource[(account, region, names["exempt"])]["status"] == "exempt"
        assert (account, region, names["encrypted"]) not in by_resource
        group = by_resource[(account, region, names["group"])]
        assert group["mode"] == "manual" and group["status"] == "non_compliant"
        assert group["change"]["calls"], "the planned calls are shown"
        assert encryption_of(account, region, names["plain"]) == "AES256"
        assert world_ports(ingress_of(account, region, names["group"])) == {(22, 22), (3380, 3390)}
    # Every VPC lacks a flow log: the detect-only rule is scanned too.
    assert any(f["rule"] == "vpc-flow-logs" for f in findings)


def test_scan_of_a_clean_fleet_exits_zero(aws: None, stack_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("scan", "--stack-file", str(stack_file), "--rule", "s3-bucket-encryption") == 0
    assert "No non-compliant resources found." in capsys.readouterr().out


def test_apply_fixes_in_parallel_keeps_exemptions_and_records_everything(aws: None, stack_file: Path, tmp_path: Path) -> None:
    seeded = {(account, region): seed(account, region, "apply") for account in (HOME, OTHER) for region in REGIONS}
    audit = tmp_path / "audit.jsonl"
    assert run_cli("apply", "--stack-file", str(stack_file), "--yes", "--audit-file", str(audit), "--concurrency", "4") == 0
    records = list(latest_records(audit).values())
    by_resource = {(r["account"], r["region"], r["resourceId"]): r for r in records}
    for (account, region), names in seeded.items():
        assert encryption_of(account, region, names["plain"]) == "aws:kms"
        assert encryption_of(account, region, names["exempt"]) == "AES256"
        assert encryption_of(account, region, names["encrypted"]) == "aws:kms"
        assert by_resource[(account, region, names["plain"])]["decision"] == "remediated"
        assert by_resource[(account, region, names["exempt"])]["decision"] == "exempt"
        permissions = ingress_of(account, region, names["group"])
        # restricted-admin-ports is manual in this stack: apply fixes both, as an operator asked it to.
        assert world_ports(permissions) == {(3380, 3388), (3390, 3390)}
        assert any(p["FromPort"] == 443 and p["IpRanges"] == [{"CidrIp": "10.0.0.0/8"}] for p in permissions)
        group_record = by_resource[(account, region, names["group"])]
        assert group_record["decision"] == "remediated" and group_record["engine"] == "cli"
        assert group_record["after"] is not None and group_record["undo"]
    assert all(record["engine"] == "cli" and record["final"] for record in records)
    # The detect-only rule is never applied.
    assert not any(record["ruleKey"] == "vpc-flow-logs" for record in records)
    assert run_cli("apply", "--stack-file", str(stack_file), "--yes", "--audit-file", str(tmp_path / "again.jsonl")) == 0
    again = list(latest_records(tmp_path / "again.jsonl").values())
    assert {record["decision"] for record in again} == {"exempt"}, "a second apply only re-records the exempt buckets"
    assert all(call["operation"].startswith("Get") for record in again for call in record["apiCalls"]), "only reads"


def test_apply_changes_nothing_when_exemption_tags_cannot_be_read(aws: None, stack_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names = seed(HOME, "us-east-1", "closed")

    def unreadable(*_args: Any) -> set[str]:
        raise inventory.ExemptionsUnreadable("AccessDenied")

    monkeypatch.setattr(fleet, "exempt_arns", unreadable)
    audit = tmp_path / "audit.jsonl"
    assert run_cli("apply", "--stack-file", str(stack_file), "--yes", "--audit-file", str(audit), "--rule", "s3-bucket-encryption") == 1
    records = list(latest_records(audit).values())
    assert records and all(record["decision"] == "failed" for record in records)
    assert "exemptions fail closed" in records[0]["reason"]
    assert encryption_of(HOME, "us-east-1", names["plain"]) == "AES256"


def test_apply_without_yes_off_a_terminal_refuses(aws: None, stack_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = seed(HOME, "us-east-1", "confirm")
    assert run_cli("apply", "--stack-file", str(stack_file)) == 2
    assert "pass --yes" in capsys.readouterr().err
    assert encryption_of(HOME, "us-east-1", names["plain"]) == "AES256"


def test_undo_restores_the_before_state_and_refuses_when_the_resource_changed(aws: None, stack_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = seed(OTHER, "eu-west-1", "undo")
    audit = tmp_path / "audit.jsonl"
    assert run_cli("apply", "--stack-file", str(stack_file), "--yes", "--audit-file", str(audit)) == 0
    records = {r["resourceId"]: r for r in latest_records(audit).values()}
    group_record = records[names["group"]]
    bucket_record = records[names["plain"]]

    # Undo the group's change by record id: the exact world rules come back, 443 is untouched.
    capsys.readouterr()
    assert run_cli("undo", "--stack-file", str(stack_file), group_record["recordId"], "--audit-file", str(audit), "--yes") == 0
    assert json.loads(capsys.readouterr().out)["undone"] is True
    assert world_ports(ingress_of(OTHER, "eu-west-1", names["group"])) == {(22, 22), (3380, 3390)}

    # The bucket changed since the record: refused without --force, restored with it.
    session_of(OTHER, "eu-west-1").client("s3").put_bucket_encryption(
        Bucket=names["plain"],
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]},
    )
    assert run_cli("undo", "--stack-file", str(stack_file), bucket_record["recordId"], "--audit-file", str(audit), "--yes") == 1
    assert "changed since the record" in json.loads(capsys.readouterr().out)["reason"]
    assert encryption_of(OTHER, "eu-west-1", names["plain"]) == "aws:kms"
    assert run_cli("undo", "--stack-file", str(stack_file), bucket_record["recordId"], "--audit-file", str(audit), "--yes", "--force") == 0
    assert encryption_of(OTHER, "eu-west-1", names["plain"]) == "AES256"


def test_undo_finds_lambda_records_in_the_function_log_group(aws: None, stack_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = seed(HOME, "us-east-1", "lambda")
    audit = tmp_path / "audit.jsonl"
    assert run_cli("apply", "--stack-file", str(stack_file), "--yes", "--audit-file", str(audit), "--rule", "s3-bucket-encryption") == 0
    record = next(r for r in latest_records(audit).values() if r["resourceId"] == names["plain"])
    logs = boto3.client("logs", region_name="us-east-1")
    logs.create_log_group(logGroupName="/aws/lambda/governance-remediation")
    logs.create_log_stream(logGroupName="/aws/lambda/governance-remediation", logStreamName="2026/11/27/[$LATEST]abc")
    logs.put_log_events(
        logGroupName="/aws/lambda/governance-remediation", logStreamName="2026/11/27/[$LATEST]abc",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": json.dumps({**record, "engine": "lambda"})}],
    )
    capsys.readouterr()
    assert run_cli("undo", "--stack-file", str(stack_file), record["recordId"], "--yes") == 0
    assert encryption_of(HOME, "us-east-1", names["plain"]) == "AES256"
    assert run_cli("undo", "--stack-file", str(stack_file), "no-such-record", "--yes") == 2


def test_load_settings_of_the_test_stack_is_valid() -> None:
    raw = {key.removeprefix("governance:"): value for key, value in STACK.items()}
    assert [account.id for account in load_settings(raw).accounts] == [HOME, OTHER]


def test_an_unreadable_resource_is_reported_not_fatal(aws: None, stack_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    names = seed(HOME, "us-east-1", "denied")
    healthy = seed(OTHER, "eu-west-1", "healthy")
    from remediation.fixers import s3_bucket_encryption

    original = s3_bucket_encryption.read_state

    def denied_for_one(target: Any) -> Any:
        if target.resource_id == names["plain"]:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetBucketEncryption")
        return original(target)

    monkeypatch.setattr(s3_bucket_encryption, "read_state", denied_for_one)
    assert run_cli("scan", "--stack-file", str(stack_file), "--rule", "s3-bucket-encryption", "--json") == 1
    findings = {f["resourceId"]: f for f in json.loads(capsys.readouterr().out)}
    assert findings[names["plain"]]["status"] == "failed"
    assert "could not be read (AccessDenied" in findings[names["plain"]]["summary"]
    audit = tmp_path / "audit.jsonl"
    assert run_cli("apply", "--stack-file", str(stack_file), "--yes", "--audit-file", str(audit), "--rule", "s3-bucket-encryption") == 1
    records = {r["resourceId"]: r for r in latest_records(audit).values()}
    assert records[names["plain"]]["decision"] == "failed"
    assert records[healthy["plain"]]["decision"] == "remediated", "the other accounts' buckets are still fixed"


def test_apply_leaves_an_exempt_trail_of_an_account_rule_alone(aws: None, tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.trails.yaml"
    stack.write_text(yaml.safe_dump({"config": {
        "governance:regions": ["us-east-1"],
        "governance:accounts": [{"id": HOME}],
        "governance:rules": {"cloudtrail-multi-region": {"mode": "auto", "params": {"s3BucketName": "trail-logs-home"}}},
    }}))
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="trail-logs-home")
    cloudtrail = boto3.client("cloudtrail", region_name="us-east-1")
    arn = cloudtrail.create_trail(Name="team-trail", S3BucketName="trail-logs-home", TagsList=[{"Key": "governance:exempt", "Value": "owned by the audit team"}])["TrailARN"]
    cloudtrail.start_logging(Name=arn)
    audit = tmp_path / "audit.jsonl"
    run_cli("apply", "--stack-file", str(stack), "--yes", "--audit-file", str(audit))
    (record,) = latest_records(audit).values()
    assert record["decision"] == "exempt", record["reason"]
    assert cloudtrail.get_trail(Name=arn)["Trail"]["IsMultiRegionTrail"] is False
