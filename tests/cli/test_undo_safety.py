"""``undo`` computes the inverse from the fixer's own code and a record's before-state, never from the calls a
record lists: edited records are refused with nothing written; records with nothing to undo are skipped."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from governance.cli.main import main
from tests.cli.aws_faults import Faults, faults, latest_records
from tests.cli.test_apply_faults import EXEMPT, make_bucket, make_open_group, public_access_of, ssh_open, write_stack

__all__ = ["faults"]

FLOW_LOGS = {"destinationType": "s3", "s3BucketArn": "arn:aws:s3:::flow-logs-home"}
PORT_22_ON: dict[str, Any] = {
    "service": "ec2", "operation": "AuthorizeSecurityGroupIngress",
    "params": {"GroupId": "<other>", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]},
}


@pytest.fixture
def applied(aws: None, tmp_path: Path) -> dict[str, Any]:
    """A stack, an apply run over an open group, a bucket without Block Public Access, an exempt bucket and a VPC."""
    stack = write_stack(tmp_path, {
        "restricted-admin-ports": {"mode": "auto"},
        "s3-bucket-public-access": {"mode": "auto"},
        "vpc-flow-logs": {"mode": "auto", "params": FLOW_LOGS},
    }, regions=["us-east-1", "eu-west-1"])
    group, bystander = make_open_group("fixed-group"), make_open_group("bystander-group", tags={EXEMPT: "kept open"})
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    closed = ec2.create_security_group(GroupName="closed-group", Description="no world rules", VpcId=vpc)["GroupId"]
    bucket, exempt_bucket = make_bucket("fixed-bucket"), make_bucket("exempt-bucket")
    flow_logs_bucket = make_bucket("flow-logs-home")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_bucket_tagging(Bucket=exempt_bucket, Tagging={"TagSet": [{"Key": EXEMPT, "Value": "public on purpose"}]})
    s3.put_public_access_block(Bucket=flow_logs_bucket, PublicAccessBlockConfiguration=dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True))
    eu_vpcs = boto3.client("ec2", region_name="eu-west-1").describe_vpcs()["Vpcs"]
    audit = tmp_path / "audit.jsonl"
    # Only us-east-1 is fixed: the stack lists eu-west-1 so that a record may name a region of the stack.
    assert main(["apply", "--stack-file", str(stack), "--yes", "--audit-file", str(audit), "--concurrency", "2"]) == 0
    records = {record["resourceId"]: record for record in latest_records(audit).values() if record["region"] == "us-east-1"}
    assert records[group]["decision"] == "remediated" and records[bucket]["decision"] == "remediated"
    assert records[vpc]["decision"] == "remediated" and records[exempt_bucket]["decision"] == "exempt"
    return {"stack": stack, "audit": audit, "records": records, "group": group, "bystander": bystander, "bucket": bucket,
            "exempt_bucket": exempt_bucket, "vpc": vpc, "eu_vpcs": eu_vpcs, "closed": closed}


def undo_file(tmp_path: Path, stack: Path, records: list[dict[str, Any]], capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, list[dict[str, Any]]]:
    path = tmp_path / "edited.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    capsys.readouterr()
    code = main(["undo", "--stack-file", str(stack), str(path), "--yes", *extra])
    return code, [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def edited(record: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    copied = copy.deepcopy(record)
    change(copied)
    return copied


def port_22_on(group: str) -> dict[str, Any]:
    call = copy.deepcopy(PORT_22_ON)
    call["params"]["GroupId"] = group
    return call


TAMPERING: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    # An encryption-like record (the bucket's) whose undo opens port 22 on an unrelated group.
    "bucket record opens port 22": lambda s: edited(s["records"][s["bucket"]], lambda r: r.update(undo=[port_22_on(s["closed"])])),
    "group record opens port 22 on its own group": lambda s: edited(
        s["records"][s["group"]], lambda r: r.update(undo=[*r["undo"], port_22_on(s["group"])])
    ),
    "group record's calls target another group": lambda s: edited(
        s["records"][s["group"]], lambda r: [call["params"].update(GroupId=s["closed"]) for call in r["undo"]]
    ),
    "bucket record's calls target another bucket": lambda s: edited(
        s["records"][s["bucket"]], lambda r: r["undo"][0]["params"].update(Bucket=s["exempt_bucket"])
    ),
    "unknown operation": lambda s: edited(
        s["records"][s["bucket"]], lambda r: r.update(undo=[{"service": "s3", "operation": "DeleteBucket", "params": {"Bucket": s["bucket"]}}])
    ),
    "region outside the stack": lambda s: edited(s["records"][s["bucket"]], lambda r: r.update(region="ap-south-1")),
    "another region of the stack": lambda s: edited(s["records"][s["group"]], lambda r: r.update(region="eu-west-1")),
    "account outside the stack": lambda s: edited(s["records"][s["bucket"]], lambda r: r.update(account="999999999999")),
    "before-state names another bucket": lambda s: edited(
        s["records"][s["bucket"]], lambda r: r["before"].update(owner=s["exempt_bucket"])
    ),
    "resource id names another bucket": lambda s: edited(s["records"][s["bucket"]], lambda r: r.update(resourceId=s["exempt_bucket"])),
    "before-state names another group": lambda s: edited(s["records"][s["group"]], lambda r: r["before"].update(groupId=s["bystander"])),
    "before-state the fixer would not have changed": lambda s: edited(s["records"][s["group"]], lambda r: r["before"].update(worldRules=[])),
    "revoked rule the before-state never had": lambda s: edited(
        s["records"][s["group"]],
        lambda r: r["change"]["detail"]["revoked"].append({"protocol": "tcp", "fromPort": 3389, "toPort": 3389, "cidr": "0.0.0.0/0", "description": None}),
    ),
    "before-state that does not parse": lambda s: edited(s["records"][s["group"]], lambda r: r.update(before={"groupId": s["group"], "worldRules": "all"})),
    "rule key of another fixer": lambda s: edited(s["records"][s["bucket"]], lambda r: r.update(ruleKey="restricted-admin-ports")),
    "flow log of another VPC": lambda s: edited(
        s["records"][s["vpc"]], lambda r: r["change"]["detail"].update(flowLogIds=["fl-0123456789abcdef0"])
    ),
}


EDITED = "refused: the record's undo calls differ from the inverse the fixer computes from its before-state, so the record was edited"
REFUSALS: dict[str, Callable[[dict[str, Any]], str]] = {
    "bucket record opens port 22": lambda s: EDITED,
    "group record opens port 22 on its own group": lambda s: EDITED,
    "group record's calls target another group": lambda s: EDITED,
    "bucket record's calls target another bucket": lambda s: EDITED,
    "unknown operation": lambda s: EDITED,
    "region outside the stack": lambda s: "refused: region 'ap-south-1' is not a region of account 123456789012 in this stack",
    # The record's group does not exist in the other region: undo reads before anything else.
    "another region of the stack": lambda s: f"the resource could not be read: InvalidGroup.NotFound: The security group '{{'{s['group']}'}}' does not exist",
    "account outside the stack": lambda s: "refused: account '999999999999' is not in this stack",
    "before-state names another bucket": lambda s: f"refused: the record's before-state names bucket '{s['exempt_bucket']}', not the record's resource {s['bucket']}",
    "resource id names another bucket": lambda s: f"refused: the record's before-state names bucket '{s['bucket']}', not the record's resource {s['exempt_bucket']}",
    "before-state names another group": lambda s: f"refused: the record's before-state names security group '{s['bystander']}', not the record's resource {s['group']}",
    "before-state the fixer would not have changed": lambda s: "refused: the fixer would not have changed the recorded before-state, so there is nothing it could undo",
    "revoked rule the before-state never had": lambda s: (
        "refused: the record's revoked rule {'protocol': 'tcp', 'fromPort': 3389, 'toPort': 3389, 'cidr': '0.0.0.0/0', 'description': None} "
        "was not an admin-port rule of the before-state"
    ),
    "before-state that does not parse": lambda s: "refused: the record's before-state world rules is not a list of JSON objects",
    "rule key of another fixer": lambda s: f"refused: resource AWS::S3::Bucket '{s['bucket']}' is not one the restricted-admin-ports fixer changes",
    "flow log of another VPC": lambda s: f"refused: flow log fl-0123456789abcdef0 is not attached to {s['vpc']} now",
}
"""The refusal each edit gets: the check meant for it, not a later one."""


@pytest.mark.parametrize("tampering", sorted(TAMPERING))
def test_an_edited_record_is_refused_and_nothing_is_written(
    tampering: str, applied: dict[str, Any], faults: Faults, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = TAMPERING[tampering](applied)
    faults.calls.clear()
    code, results = undo_file(tmp_path, applied["stack"], [record], capsys, "--force")
    assert code == 1
    (result,) = results
    assert result["undone"] is False and result["reason"], result
    assert result["reason"] == REFUSALS[tampering](applied), "each edit is caught by the check meant for it"
    assert faults.writes() == [], f"undo wrote although the record was edited ({tampering})"
    assert not ssh_open(applied["group"]) and not ssh_open(applied["closed"]) and ssh_open(applied["bystander"])
    assert public_access_of(applied["bucket"]) is not None


def test_an_unedited_record_of_each_rule_is_undone(applied: dict[str, Any], faults: Faults, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = [applied["records"][key] for key in (applied["group"], applied["bucket"], applied["vpc"])]
    faults.calls.clear()
    code, results = undo_file(tmp_path, applied["stack"], records, capsys)
    assert code == 0, results
    assert [result["undone"] for result in results] == [True, True, True]
    assert ssh_open(applied["group"]) and public_access_of(applied["bucket"]) is None
    assert boto3.client("ec2", region_name="us-east-1").describe_flow_logs()["FlowLogs"] == []
    operations = sorted(call.operation for call in faults.writes())
    assert operations == ["AuthorizeSecurityGroupIngress", "DeleteFlowLogs", "DeletePublicAccessBlock"]


def test_undoing_a_whole_apply_file_skips_records_with_nothing_to_undo(
    applied: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["undo", "--stack-file", str(applied["stack"]), str(applied["audit"]), "--yes"]) == 0
    results = {result["undoOf"]: result for result in map(json.loads, capsys.readouterr().out.splitlines())}
    exempt = results[applied["records"][applied["exempt_bucket"]]["recordId"]]
    assert exempt["undone"] is False and exempt["skipped"] is True and "nothing to undo" in exempt["reason"]
    assert results[applied["records"][applied["group"]]["recordId"]]["undone"] is True
    assert ssh_open(applied["group"])
    assert len(results) == len(latest_records(applied["audit"])), "one result per record, amended lines included once"
