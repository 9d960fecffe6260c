"""Organization mode: scan, apply and undo fix member accounts through their member role, assuming it once per account."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest

from governance.cli.main import main
from tests.cli.aws_faults import Faults, faults, latest_records  # noqa: F401
from tests.cli.organization_fixtures import MEMBER_ROLE, Organization, member_session, organization_stack, write_stack

REGION = "us-east-1"
WORLD_SSH = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}


def open_group(account: str) -> str:
    ec2 = member_session(account, REGION).client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    group: str = ec2.create_security_group(GroupName="open-ssh", Description="open", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[WORLD_SSH])
    return group


def world_open(account: str, group: str) -> bool:
    ec2 = member_session(account, REGION).client("ec2")
    permissions = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
    return any(r["CidrIp"] == "0.0.0.0/0" for p in permissions for r in p.get("IpRanges", []))


def plain_bucket(account: str) -> str:
    name = f"plain-{account}"
    member_session(account, REGION).client("s3").create_bucket(Bucket=name)
    return name


def versioning(account: str, bucket: str) -> str | None:
    status: str | None = member_session(account, REGION).client("s3").get_bucket_versioning(Bucket=bucket).get("Status")
    return status


def assume_role_calls(faults: Faults) -> Counter[str]:  # noqa: F811
    return Counter(call.params["RoleArn"] for call in faults.calls if call.operation == "AssumeRole")


@pytest.fixture
def seeded(organization: Organization, tmp_path: Path) -> dict[str, Any]:
    org = organization
    # Two members of different profiles: the workloads OU (base) and the sandbox OU (override: no versioning rule).
    base, sandbox = org.accounts["prod"][0], org.accounts["sandbox"][0]
    excluded = org.accounts["workloads"][0]
    stack = write_stack(tmp_path / "Pulumi.org.yaml", organization_stack(org, exclude=[excluded]))
    return {
        "stack": stack, "base": base, "sandbox": sandbox, "excluded": excluded,
        "groups": {account: open_group(account) for account in (base, sandbox, excluded)},
        "buckets": {account: plain_bucket(account) for account in (base, sandbox)},
        "members": {*org.accounts["workloads"], *org.accounts["prod"], *org.accounts["sandbox"]} - {excluded},
    }


def test_scan_apply_and_undo_reach_member_accounts_through_the_member_role_once_per_account(
    seeded: dict[str, Any], faults: Faults, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    stack, base, sandbox, excluded = seeded["stack"], seeded["base"], seeded["sandbox"], seeded["excluded"]
    groups, buckets = seeded["groups"], seeded["buckets"]
    faults.calls.clear()  # the seeding's own AssumeRole calls

    assert main(["scan", "--stack-file", str(stack), "--format", "json"]) == 1
    findings = json.loads(capsys.readouterr().out)
    found = {(finding["account"], finding["rule"], finding["resourceId"]) for finding in findings}
    assert {(base, "restricted-admin-ports", groups[base]), (sandbox, "restricted-admin-ports", groups[sandbox])} <= found
    assert (base, "s3-bucket-versioning", buckets[base]) in found
    assert not {finding for finding in found if finding[0] == sandbox and finding[1] == "s3-bucket-versioning"}  # not its profile's rule
    assert excluded not in {finding[0] for finding in found}
    member_roles = {f"arn:aws:iam::{account}:role/{MEMBER_ROLE}" for account in seeded["members"]}
    assert assume_role_calls(faults) == Counter(dict.fromkeys(member_roles, 1))  # once per account, not per region

    faults.calls.clear()
    audit = tmp_path / "audit.jsonl"
    assert main(["apply", "--stack-file", str(stack), "--yes", "--audit-file", str(audit)]) == 0
    assert assume_role_calls(faults) == Counter(dict.fromkeys(member_roles, 1))

    assert not world_open(base, groups[base]) and not world_open(sandbox, groups[sandbox])
    assert world_open(excluded, groups[excluded])
    assert versioning(base, buckets[base]) == "Enabled" and versioning(sandbox, buckets[sandbox]) is None
    records = latest_records(audit)
    fixed = {(record["account"], record["resourceId"]) for record in records.values() if record["decision"] == "remediated"}
    assert fixed == {(base, groups[base]), (sandbox, groups[sandbox]), (base, buckets[base])}

    faults.calls.clear()
    record = next(r for r in records.values() if r["account"] == sandbox and r["decision"] == "remediated")
    assert main(["undo", record["recordId"], "--stack-file", str(stack), "--audit-file", str(audit), "--yes"]) == 0
    assert assume_role_calls(faults)[f"arn:aws:iam::{sandbox}:role/{MEMBER_ROLE}"] == 1
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["undone"] is True
    assert world_open(sandbox, groups[sandbox])


def test_undo_finds_a_record_of_a_member_in_the_hubs_log_group_and_undoes_it_through_the_member_role(
    seeded: dict[str, Any], faults: Faults, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    stack, base, groups = seeded["stack"], seeded["base"], seeded["groups"]
    audit = tmp_path / "audit.jsonl"
    assert main(["apply", "--stack-file", str(stack), "--yes", "--audit-file", str(audit), "--rule", "restricted-admin-ports"]) == 0
    record = next(r for r in latest_records(audit).values() if r["account"] == base)
    # The hub Lambda logs its records in the hub's log group (the caller's account here), with the member's account id.
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName="/aws/lambda/governance-remediation")
    logs.create_log_stream(logGroupName="/aws/lambda/governance-remediation", logStreamName="hub")
    logs.put_log_events(logGroupName="/aws/lambda/governance-remediation", logStreamName="hub",
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": json.dumps(record)}])
    capsys.readouterr()
    faults.calls.clear()

    assert main(["undo", record["recordId"], "--stack-file", str(stack), "--yes"]) == 0

    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["undone"] is True
    searched = {call.access_key for call in faults.calls if call.operation == "FilterLogEvents"}
    caller = boto3.Session().get_credentials().access_key
    assert searched == {caller}  # the hub's log group (the caller's credentials), never a member's
    assert assume_role_calls(faults)[f"arn:aws:iam::{base}:role/{MEMBER_ROLE}"] == 1
    assert world_open(base, groups[base])
