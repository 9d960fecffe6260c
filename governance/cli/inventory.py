"""Find every resource a rule evaluates in one account-region, reading AWS in as few requests as it allows.

Security groups, VPCs and their flow logs come from one paginated Describe call each; buckets from
one ListBuckets per region; the exemption tag of every resource from one Resource Groups Tagging
API query. S3 has no batch read of a bucket's encryption or Block Public Access, so those are read
per bucket by the fixer itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from governance.cli.sessions import CLIENT_CONFIG
from governance.lambda_code import lambda_module
from governance.settings import Account

TAGGING_TYPES = {
    "s3-bucket-encryption": "s3",
    "s3-bucket-public-access": "s3",
    "restricted-admin-ports": "ec2:security-group",
    "vpc-flow-logs": "ec2:vpc",
    "cloudtrail-multi-region": "cloudtrail:trail",
    "cloudtrail-log-validation": "cloudtrail:trail",
}
"""Resource Groups Tagging API type of what each rule's fixer writes to (accounts carry no tags)."""


@dataclass(frozen=True)
class Found:
    """One resource a rule evaluates, with the fixer's read of it when a batch call already gave it."""

    target: Any
    """The fixer's ``Target``."""
    state: Any | None
    """The fixer's state, or None to let the fixer read it."""
    arn: str | None
    """ARN used to match the exemption tag, when the resource can carry tags."""


class ExemptionsUnreadable(Exception):
    """The exemption tags could not be read, so nothing in this account-region may be changed."""


def _target(account: Account, region: str, resource_type: str, resource_id: str) -> Any:
    base = lambda_module("fixers.base")
    return base.Target(resource_type=resource_type, resource_id=resource_id, account=account.id, region=region, partition=account.partition)


def _client(session: boto3.Session, service: str) -> Any:
    # Batch reads retry throttling adaptively, like every other CLI call.
    return session.client(service, config=CLIENT_CONFIG)


def _pages(session: boto3.Session, service: str, operation: str, key: str, **params: Any) -> list[Any]:
    client = _client(session, service)
    items: list[Any] = []
    for page in client.get_paginator(operation).paginate(**params):
        items.extend(page.get(key, []))
    return items


def _buckets(session: boto3.Session, account: Account, region: str) -> list[Found]:
    response = _client(session, "s3").list_buckets(BucketRegion=region)
    return [
        Found(_target(account, region, "AWS::S3::Bucket", bucket["Name"]), None, f"arn:{account.partition}:s3:::{bucket['Name']}")
        for bucket in response.get("Buckets", [])
    ]


def _security_groups(session: boto3.Session, account: Account, region: str) -> list[Found]:
    fixer = lambda_module("fixers.restricted_admin_ports")
    return [
        Found(
            _target(account, region, "AWS::EC2::SecurityGroup", group["GroupId"]),
            fixer.group_state(group),
            f"arn:{account.partition}:ec2:{region}:{account.id}:security-group/{group['GroupId']}",
        )
        for group in _pages(session, "ec2", "describe_security_groups", "SecurityGroups")
    ]


def _vpcs(session: boto3.Session, account: Account, region: str) -> list[Found]:
    fixer = lambda_module("fixers.vpc_flow_logs")
    logs_by_vpc: dict[str | None, list[Any]] = defaultdict(list)
    for flow_log in _pages(session, "ec2", "describe_flow_logs", "FlowLogs"):
        logs_by_vpc[flow_log.get("ResourceId")].append(flow_log)
    return [
        Found(
            _target(account, region, "AWS::EC2::VPC", vpc["VpcId"]),
            fixer.FlowLogState(vpc["VpcId"], tuple(logs_by_vpc.get(vpc["VpcId"], ()))),
            f"arn:{account.partition}:ec2:{region}:{account.id}:vpc/{vpc['VpcId']}",
        )
        for vpc in _pages(session, "ec2", "describe_vpcs", "Vpcs")
    ]


def _trails(session: boto3.Session, account: Account, region: str) -> list[Found]:
    trails = _client(session, "cloudtrail").describe_trails(includeShadowTrails=False).get("trailList", [])
    return [
        Found(_target(account, region, "AWS::CloudTrail::Trail", trail["TrailARN"]), None, trail["TrailARN"])
        for trail in trails
        if trail.get("HomeRegion", region) == region
    ]


def _log_groups(session: boto3.Session, account: Account, region: str) -> list[Found]:
    # One paginated DescribeLogGroups gives every group's retention: the fixer's state, no read per group.
    # No tagging-API type: the ARN form the Resource Groups Tagging API returns for log groups (with or
    # without ":*") is UNVERIFIED and moto 5.2.5 does not model it, so a mismatch would miss an exemption.
    # Without an ARN here the fixer reads each group's tags itself (ListTagsForResource, fails closed),
    # only for the groups it would change.
    fixer = lambda_module("fixers.log_group_retention")
    found = []
    for group in _pages(session, "logs", "describe_log_groups", "logGroups"):
        target = _target(account, region, "AWS::Logs::LogGroup", group["logGroupName"])
        found.append(Found(target, fixer.LogGroupState(group["logGroupName"], group, target), None))
    return found


def _iam_users(session: boto3.Session, account: Account, region: str) -> list[Found]:
    # One paginated ListUsers names every user; the fixer reads each one's password and keys. The users
    # carry tags, but the Resource Groups Tagging API does not list IAM users (UNVERIFIED whether it does
    # today), so the fixer reads ListUserTags itself for the users it would change (fails closed).
    return [Found(_target(account, region, "AWS::IAM::User", user["UserId"]), None, None) for user in _pages(session, "iam", "list_users", "Users")]


def _account(_session: boto3.Session, account: Account, region: str) -> list[Found]:
    return [Found(_target(account, region, "AWS::::Account", account.id), None, None)]


DISCOVERY: dict[str, Callable[[boto3.Session, Account, str], list[Found]]] = {
    "s3-bucket-encryption": _buckets,
    "s3-bucket-public-access": _buckets,
    "s3-account-public-access": _account,
    "restricted-admin-ports": _security_groups,
    "vpc-flow-logs": _vpcs,
    "cloudtrail-multi-region": _account,
    "cloudtrail-log-validation": _trails,
    "log-group-retention": _log_groups,
    "iam-unused-credentials": _iam_users,
    "guardduty-enabled": _account,
}
"""How to find the resources of each rule (one entry per catalog key)."""


def discover(rule_key: str, session: boto3.Session, account: Account, region: str) -> list[Found]:
    """Every resource ``rule_key`` evaluates in this account-region."""
    return DISCOVERY[rule_key](session, account, region)


def exempt_arns(session: boto3.Session, tag_key: str, rule_keys: set[str]) -> set[str]:
    """ARNs carrying ``tag_key``, in one paginated Resource Groups Tagging API query.

    Raises ``ExemptionsUnreadable`` when the tags cannot be read: exemptions fail closed.
    """
    types = sorted({TAGGING_TYPES[key] for key in rule_keys if key in TAGGING_TYPES})
    if not types:
        return set()
    try:
        mappings = _pages(session, "resourcegroupstaggingapi", "get_resources", "ResourceTagMappingList",
                          TagFilters=[{"Key": tag_key}], ResourceTypeFilters=types)
    except (ClientError, BotoCoreError) as error:
        raise ExemptionsUnreadable from error
    return {mapping["ResourceARN"] for mapping in mappings}
