"""Load: apply over 1,000 resources in 3 accounts and 2 regions, with throttling injected on 10% of requests."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import yaml

from governance.cli.emulator import embedded_emulator
from governance.cli.main import main
from governance.lambda_code import lambda_module
from tests.safety.figures import record

ACCOUNTS = ["123456789012", "222222222222", "333333333333"]
REGIONS = ["us-east-1", "eu-west-1"]
BUCKETS_PER_UNIT, GROUPS_PER_UNIT = 84, 83
THROTTLE_RATIO = 0.10
WORLD = [
    {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
    {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
    {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
]
EXPECTED_AFTER = {("tcp", 443, 443, "10.0.0.0/8")}
"""What each group allows after the fix: the world's admin ports gone (IPv4 and IPv6), the private rule untouched."""


def session_of(account: str, region: str) -> boto3.Session:
    if account == ACCOUNTS[0]:
        return boto3.Session(region_name=region)
    credentials = boto3.client("sts", region_name=region).assume_role(RoleArn=f"arn:aws:iam::{account}:role/deploy", RoleSessionName="seed")["Credentials"]
    return boto3.Session(aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
                         aws_session_token=credentials["SessionToken"], region_name=region)


def seed_unit(unit: tuple[str, str]) -> tuple[list[str], list[str]]:
    account, region = unit
    session = session_of(account, region)
    s3, ec2 = session.client("s3"), session.client("ec2")
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    buckets = [f"load-{account[-3:]}-{region}-{index:03d}" for index in range(BUCKETS_PER_UNIT)]
    for bucket in buckets:
        s3.create_bucket(Bucket=bucket, **location)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    groups = []
    for index in range(GROUPS_PER_UNIT):
        group = ec2.create_security_group(GroupName=f"load-{index}", Description="load", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=WORLD)
        groups.append(group)
    return buckets, groups


def still_wrong(unit: tuple[str, str], buckets: list[str], groups: list[str]) -> list[str]:
    account, region = unit
    session = session_of(account, region)
    s3, ec2 = session.client("s3"), session.client("ec2")
    problems = []
    for bucket in buckets:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        if rules[0]["ApplyServerSideEncryptionByDefault"].get("SSEAlgorithm") != "aws:kms":
            problems.append(f"{bucket} not on SSE-KMS")
    for group in ec2.describe_security_groups(GroupIds=groups)["SecurityGroups"]:
        rules = rule_tuples(group["IpPermissions"])
        if rules != EXPECTED_AFTER:
            problems.append(f"{group['GroupId']} {sorted(rules)}")
    return problems


def rule_tuples(permissions: list[dict[str, Any]]) -> set[tuple[str, int | None, int | None, str]]:
    """Every (protocol, from port, to port, source) a group's IpPermissions allow, whatever the kind of source."""
    return {
        (permission["IpProtocol"], permission.get("FromPort"), permission.get("ToPort"), str(source))
        for permission in permissions
        for source in [
            *(item["CidrIp"] for item in permission.get("IpRanges", [])),
            *(item["CidrIpv6"] for item in permission.get("Ipv6Ranges", [])),
            *(item["PrefixListId"] for item in permission.get("PrefixListIds", [])),
            *(item["GroupId"] for item in permission.get("UserIdGroupPairs", [])),
        ]
    }


def record_figures(figures: dict[str, Any]) -> None:
    for key, value in figures.items():
        record("apply_load", key, value)


def test_apply_fixes_a_thousand_resources_under_throttling(tmp_path: Path) -> None:
    stack: dict[str, Any] = {"config": {
        "governance:regions": REGIONS,
        "governance:accounts": [{"id": ACCOUNTS[0]}] + [{"id": a, "roleArn": f"arn:aws:iam::{a}:role/deploy"} for a in ACCOUNTS[1:]],
        "governance:rules": {"s3-bucket-encryption": {"mode": "auto", "engine": "lambda"}, "restricted-admin-ports": {"mode": "auto"}},
    }}
    stack_file = tmp_path / "Pulumi.load.yaml"
    units = [(account, region) for account in ACCOUNTS for region in REGIONS]
    lambda_module("clients").forget_clients()
    with embedded_emulator() as emulator, ThreadPoolExecutor(max_workers=6) as pool:
        seeded = dict(zip(units, pool.map(seed_unit, units), strict=True))
        total = sum(len(b) + len(g) for b, g in seeded.values())
        assert total >= 1000
        # Every bucket has SSE-S3 already (as on AWS): the encryption rule moves them to each account-region's KMS key.
        keys = {unit: session_of(*unit).client("kms").create_key()["KeyMetadata"]["Arn"] for unit in units}
        for account in stack["config"]["governance:accounts"]:
            account["rules"] = {"s3-bucket-encryption": {"params": {"algorithm": "aws:kms", "kmsKeyArn": [keys[(account["id"], region)] for region in REGIONS]}}}
        stack_file.write_text(yaml.safe_dump(stack))
        emulator.requests.reset()
        emulator.requests.throttle_ratio = THROTTLE_RATIO
        audit = tmp_path / "audit.jsonl"
        code = main(["apply", "--stack-file", str(stack_file), "--yes", "--audit-file", str(audit), "--concurrency", "16"])
        requests, throttled = emulator.requests.total, emulator.requests.throttled
        emulator.requests.throttle_ratio = 0.0
        problems = [problem for unit, (b, g) in seeded.items() for problem in still_wrong(unit, b, g)]
    lambda_module("clients").forget_clients()
    # A record may be amended by later lines with the same recordId (written ahead, then verified): keep the last.
    latest = {record["recordId"]: record for record in map(json.loads, audit.read_text().splitlines())}
    records = list(latest.values())
    assert code == 0
    assert problems == []
    assert len(records) == total, "exactly one record per non-compliant resource"
    assert len({(r["account"], r["region"], r["resourceId"]) for r in records}) == total
    assert {r["decision"] for r in records} == {"remediated"}
    writes = [call for r in records for call in r["apiCalls"] if call["operation"] in ("PutBucketEncryption", "RevokeSecurityGroupIngress", "AuthorizeSecurityGroupIngress")]
    assert len(writes) == total and all(call["outcome"] == "ok" for call in writes), "one write per resource"
    assert 0.05 * requests < throttled < 0.15 * requests, (throttled, requests)
    record_figures({"resources": total, "accounts": len(ACCOUNTS), "regions": len(REGIONS), "requests": requests,
                    "throttled": throttled, "writes": len(writes), "failed": 0, "records": len(records)})
