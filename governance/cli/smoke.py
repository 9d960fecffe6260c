"""``smoke``: prove a deployed remediation works, end to end, in a real account.

It creates a clearly tagged, non-compliant test resource for one rule, waits (with a timeout) until
the deployed remediation has fixed it, reports how long that took and the audit record, and always
deletes the test resource. Only rules whose test resource is harmless to create and delete are
offered: a security group, a bucket, a VPC. Account-wide settings and trails are never touched.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from governance.cli.sessions import CLIENT_CONFIG
from governance.lambda_code import lambda_module
from governance.plan import Names
from governance.settings import Account, Settings

SMOKE_TAG = "governance:smoke-test"


@dataclass
class TestResource:
    """A non-compliant resource created for the test, and how to remove it."""

    __test__ = False  # not a pytest test class

    rule_key: str
    resource_type: str
    resource_id: str
    cleanup: Callable[[], None]


@dataclass
class SmokeResult:
    """What the smoke test saw."""

    rule_key: str
    account: str
    region: str
    resource_id: str = ""
    remediated: bool = False
    seconds: float | None = None
    record: dict[str, Any] | None = None
    cleaned_up: bool = False
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The result as one JSON object."""
        return {
            "rule": self.rule_key, "account": self.account, "region": self.region, "resourceId": self.resource_id,
            "remediated": self.remediated, "secondsToRemediate": self.seconds, "record": self.record,
            "cleanedUp": self.cleaned_up, "problems": self.problems,
        }


def _open_security_group(session: boto3.Session, run_id: str) -> TestResource:
    ec2 = session.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    group = ec2.create_security_group(
        GroupName=f"governance-smoke-{run_id}", Description="governance smoke test: SSH open to the world, deleted after the test",
        VpcId=vpc, TagSpecifications=[{"ResourceType": "security-group", "Tags": [{"Key": SMOKE_TAG, "Value": run_id}]}],
    )["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "governance smoke test"}]},
    ])
    return TestResource("restricted-admin-ports", "AWS::EC2::SecurityGroup", group, lambda: ec2.delete_security_group(GroupId=group))


def _public_bucket(session: boto3.Session, run_id: str) -> TestResource:
    s3 = session.client("s3")
    region = session.region_name or "us-east-1"
    bucket = f"governance-smoke-{run_id}"
    s3.create_bucket(Bucket=bucket, **({} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}))
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": SMOKE_TAG, "Value": run_id}]})
    # New buckets block public access by default; removing the block makes the bucket non-compliant.
    s3.delete_public_access_block(Bucket=bucket)
    return TestResource("s3-bucket-public-access", "AWS::S3::Bucket", bucket, lambda: s3.delete_bucket(Bucket=bucket))


def _vpc_without_flow_logs(session: boto3.Session, run_id: str) -> TestResource:
    ec2 = session.client("ec2")
    vpc = ec2.create_vpc(
        CidrBlock="10.254.0.0/28",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": SMOKE_TAG, "Value": run_id}]}],
    )["Vpc"]["VpcId"]

    def cleanup() -> None:
        flow_logs = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc]}])["FlowLogs"]
        if flow_logs:
            ec2.delete_flow_logs(FlowLogIds=[log["FlowLogId"] for log in flow_logs])
        ec2.delete_vpc(VpcId=vpc)

    return TestResource("vpc-flow-logs", "AWS::EC2::VPC", vpc, cleanup)


CREATORS: dict[str, Callable[[boto3.Session, str], TestResource]] = {
    "restricted-admin-ports": _open_security_group,
    "s3-bucket-public-access": _public_bucket,
    "vpc-flow-logs": _vpc_without_flow_logs,
}
"""Rules with a harmless test resource (S3 default encryption cannot be turned off on new buckets)."""


def choose(settings: Settings, rule_key: str, account_id: str | None, region: str | None, default: Account | None = None) -> tuple[Account, str]:
    """The account and region to test in; raises ValueError with one sentence when the rule cannot be tested there.

    Without ``--account``: ``default`` (organization mode: the first targeted account), else the stack's first account.
    """
    if rule_key not in CREATORS:
        raise ValueError(f"--rule must be one of {', '.join(CREATORS)}: only these have a test resource that is harmless to create and delete.")
    if not settings.accounts:
        raise ValueError("the stack has no account to test in: governance:accounts is empty and no organization target holds an ACTIVE account.")
    account = next((a for a in settings.accounts if a.id == account_id), None) if account_id else default or settings.accounts[0]
    if account is None:
        where = " (neither in governance:accounts nor an ACTIVE, not excluded account under governance:organization.targets)" if settings.organization else ""
        raise ValueError(f"--account {account_id} is not in this stack{where}.")
    region = region or account.home_region
    if region not in account.regions:
        raise ValueError(f"--region {region} is not a region of account {account.id} in this stack.")
    rule = next((r for r in account.rules_in(region) if r.key == rule_key), None)
    if rule is None or rule.mode != "auto":
        mode = rule.mode if rule else "off"
        raise ValueError(f"--rule {rule_key} is {mode} in account {account.id}: smoke needs it in auto mode, or nothing will fix the test resource.")
    return account, region


def _is_compliant(session: boto3.Session, resource: TestResource, account: Account, region: str, params: Any) -> bool:
    fixer = lambda_module("fixers").load_fixer(resource.rule_key)
    target = lambda_module("fixers.base").Target(resource.resource_type, resource.resource_id, account.id, region, account.partition)
    with lambda_module("clients").using_session(session, CLIENT_CONFIG):
        return fixer.plan(fixer.read_state(target), params) is None


def find_record(session: boto3.Session, log_group: str, resource_id: str) -> dict[str, Any] | None:
    """The newest final audit record for ``resource_id`` in the remediation Lambda's log group."""
    logs = session.client("logs")
    try:
        events = logs.filter_log_events(logGroupName=log_group, filterPattern=f'"{resource_id}"').get("events", [])
    except ClientError:
        return None
    records = []
    for event in events:
        try:
            record = json.loads(event["message"])
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("resourceId") == resource_id and record.get("final", True):
            records.append(record)
    return records[-1] if records else None


def run_smoke(
    settings: Settings,
    session: boto3.Session,
    account: Account,
    region: str,
    rule_key: str,
    timeout: float,
    poll: float = 10.0,
    after_create: Callable[[TestResource], None] | None = None,
    records_session: boto3.Session | None = None,
) -> SmokeResult:
    """Create the test resource, wait for the remediation, look up its audit record, clean up.

    The record is looked up with ``records_session`` (organization mode: the hub's, whose Lambda fixes
    member accounts), else with ``session``.
    """
    from governance.plan import plan_account

    result = SmokeResult(rule_key, account.id, region)
    region_plan = next(r for r in plan_account(settings, account).regions if r.region == region)
    rule = next(r for r in region_plan.rules if r.key == rule_key)
    params = lambda_module("fixers").load_fixer(rule_key).parse_params(region_plan.lambda_params(rule))
    run_id = uuid.uuid4().hex[:12]
    resource: TestResource | None = None
    try:
        resource = CREATORS[rule_key](session, run_id)
        result.resource_id = resource.resource_id
        started = time.monotonic()
        if after_create:
            after_create(resource)
        while time.monotonic() - started <= timeout:
            if _is_compliant(session, resource, account, region, params):
                result.remediated, result.seconds = True, round(time.monotonic() - started, 1)
                break
            time.sleep(poll)
        if not result.remediated:
            result.problems.append(f"not remediated within {timeout:.0f} s")
        log_group = Names(settings.rule_name_prefix).function_log_group
        result.record = find_record(records_session or session, log_group, resource.resource_id)
        if result.record is None:
            result.problems.append(f"no audit record for {resource.resource_id} in {log_group}")
    except (ClientError, BotoCoreError) as error:
        result.problems.append(f"AWS refused a call: {error}")
    finally:
        if resource is not None:
            try:
                resource.cleanup()
                result.cleaned_up = True
            except (ClientError, BotoCoreError) as error:
                result.problems.append(f"cleanup of {resource.resource_id} failed, delete it by hand (tag {SMOKE_TAG}): {error}")
    return result
