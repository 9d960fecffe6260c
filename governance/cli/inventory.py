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
    "s3-bucket-versioning": "s3",
    "s3-ssl-only": "s3",
    "sqs-queue-public": "sqs",
    "sns-topic-public": "sns",
    "kms-key-rotation": "kms:key",
    "default-security-group-closed": "ec2:security-group",
    "ec2-imdsv2": "ec2:instance",
    "rds-public-access": "rds:db",
    "ecr-scan-on-push": "ecr:repository",
    "lambda-public-access": "lambda:function",
    "rds-snapshot-public": "rds",
    "ssm-document-public": "ssm:document",
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
    # The session's cached client (the fixers use the same ones), retrying like every other CLI call.
    clients = lambda_module("clients")
    with clients.using_session(session, CLIENT_CONFIG):
        return clients.client(service)


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


GROUP_FILTER_VALUES = 100
"""Group ids per ``group-id`` filter in one batch read (EC2's limit of values per filter is UNVERIFIED; 100 stays well under 200)."""


def _by_group(session: boto3.Session, operation: str, key: str, group_ids: list[str]) -> dict[str, list[Any]]:
    """Entries of a Describe call filtered by group-id, by each group they name (``GroupId`` or ``Groups``)."""
    found: dict[str, list[Any]] = defaultdict(list)
    for start in range(0, len(group_ids), GROUP_FILTER_VALUES):
        chunk = group_ids[start : start + GROUP_FILTER_VALUES]
        for item in _pages(session, "ec2", operation, key, Filters=[{"Name": "group-id", "Values": chunk}]):
            named = [item["GroupId"]] if "GroupId" in item else [group["GroupId"] for group in item.get("Groups", [])]
            for group_id in named:
                if group_id in chunk:
                    found[group_id].append(item)
    return found


def _default_groups(session: boto3.Session, account: Account, region: str) -> list[Found]:
    # Only default groups are evaluated (any other is NOT_APPLICABLE). Rule ids and interfaces are read in
    # one batch for the groups that have rules; a closed group's state is complete without them.
    fixer = lambda_module("fixers.default_security_group_closed")
    groups = _pages(session, "ec2", "describe_security_groups", "SecurityGroups", Filters=[{"Name": "group-name", "Values": ["default"]}])
    open_ids = [group["GroupId"] for group in groups if group.get("IpPermissions") or group.get("IpPermissionsEgress")]
    rules = _by_group(session, "describe_security_group_rules", "SecurityGroupRules", open_ids) if open_ids else {}
    interfaces = _by_group(session, "describe_network_interfaces", "NetworkInterfaces", open_ids) if open_ids else {}
    found = []
    for group in groups:
        state = fixer.group_state(group)
        if group["GroupId"] in open_ids:
            state = fixer.with_rules(state, rules.get(group["GroupId"], []), interfaces.get(group["GroupId"], []))
        arn = f"arn:{account.partition}:ec2:{region}:{account.id}:security-group/{group['GroupId']}"
        found.append(Found(_target(account, region, "AWS::EC2::SecurityGroup", group["GroupId"]), state, arn))
    return found


LIVE_INSTANCE_STATES = ["pending", "running", "stopping", "stopped"]


def _instances(session: boto3.Session, account: Account, region: str) -> list[Found]:
    # An instance that requires tokens is complete from DescribeInstances; one that does not is read by the
    # fixer, which also reads its MetadataNoToken evidence (CloudWatch has no batch read of the same daily sums).
    fixer = lambda_module("fixers.ec2_imdsv2")
    filters = [{"Name": "instance-state-name", "Values": LIVE_INSTANCE_STATES}]
    found = []
    for reservation in _pages(session, "ec2", "describe_instances", "Reservations", Filters=filters):
        for instance in reservation.get("Instances", []):
            state = fixer.instance_state(instance)
            arn = f"arn:{account.partition}:ec2:{region}:{account.id}:instance/{instance['InstanceId']}"
            target = _target(account, region, "AWS::EC2::Instance", instance["InstanceId"])
            found.append(Found(target, state if state.http_tokens == "required" else None, arn))
    return found


def _db_instances(session: boto3.Session, account: Account, region: str) -> list[Found]:
    # One paginated DescribeDBInstances gives every instance's state; Config names them by DbiResourceId.
    fixer = lambda_module("fixers.rds_public_access")
    return [
        Found(_target(account, region, "AWS::RDS::DBInstance", instance["DbiResourceId"]), fixer.instance_state(instance), instance.get("DBInstanceArn"))
        for instance in _pages(session, "rds", "describe_db_instances", "DBInstances")
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


def _queues(session: boto3.Session, account: Account, region: str) -> list[Found]:
    # SQS has no batch read of queue policies: ListQueues gives the URLs, the fixer reads each policy.
    found = []
    for url in _pages(session, "sqs", "list_queues", "QueueUrls"):
        name = url.rsplit("/", 1)[-1]
        found.append(Found(_target(account, region, "AWS::SQS::Queue", url), None, f"arn:{account.partition}:sqs:{region}:{account.id}:{name}"))
    return found


def _topics(session: boto3.Session, account: Account, region: str) -> list[Found]:
    # SNS has no batch read of topic policies: ListTopics gives the ARNs, the fixer reads each policy.
    return [
        Found(_target(account, region, "AWS::SNS::Topic", topic["TopicArn"]), None, topic["TopicArn"])
        for topic in _pages(session, "sns", "list_topics", "Topics")
    ]


def _keys(session: boto3.Session, account: Account, region: str) -> list[Found]:
    # ListKeys gives ids and ARNs only; the fixer reads each key's metadata and rotation status itself.
    return [
        Found(_target(account, region, "AWS::KMS::Key", key["KeyId"]), None, key["KeyArn"])
        for key in _pages(session, "kms", "list_keys", "Keys")
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


def _functions(session: boto3.Session, account: Account, region: str) -> list[Found]:
    # Lambda has no batch read of function policies: ListFunctions gives the names, the fixer reads each policy.
    return [
        Found(_target(account, region, "AWS::Lambda::Function", function["FunctionName"]), None, function["FunctionArn"])
        for function in _pages(session, "lambda", "list_functions", "Functions")
    ]


def _rds_snapshots(session: boto3.Session, account: Account, region: str) -> list[Found]:
    # Only manual snapshots can be shared, so only they can be public; the attributes are read per snapshot.
    found = []
    for resource_type, operation, key, id_key, arn_key in (
        ("AWS::RDS::DBSnapshot", "describe_db_snapshots", "DBSnapshots", "DBSnapshotIdentifier", "DBSnapshotArn"),
        ("AWS::RDS::DBClusterSnapshot", "describe_db_cluster_snapshots", "DBClusterSnapshots", "DBClusterSnapshotIdentifier", "DBClusterSnapshotArn"),
    ):
        for snapshot in _pages(session, "rds", operation, key, SnapshotType="manual"):
            found.append(Found(_target(account, region, resource_type, snapshot[id_key]), None, snapshot.get(arn_key)))
    return found


def _documents(session: boto3.Session, account: Account, region: str) -> list[Found]:
    # The rule evaluates documents owned by the account only; their sharing is read per document.
    documents = _pages(session, "ssm", "list_documents", "DocumentIdentifiers", Filters=[{"Key": "Owner", "Values": ["Self"]}])
    return [
        Found(_target(account, region, "AWS::SSM::Document", document["Name"]), None, f"arn:{account.partition}:ssm:{region}:{account.id}:document/{document['Name']}")
        for document in documents
    ]


def _iam_users(session: boto3.Session, account: Account, region: str) -> list[Found]:
    # One paginated ListUsers names every user; the fixer reads each one's password and keys. The users
    # carry tags, but the Resource Groups Tagging API does not list IAM users (UNVERIFIED whether it does
    # today), so the fixer reads ListUserTags itself for the users it would change (fails closed).
    return [Found(_target(account, region, "AWS::IAM::User", user["UserId"]), None, None) for user in _pages(session, "iam", "list_users", "Users")]


def _account(_session: boto3.Session, account: Account, region: str) -> list[Found]:
    return [Found(_target(account, region, "AWS::::Account", account.id), None, None)]


def _repositories(session: boto3.Session, account: Account, region: str) -> list[Found]:
    fixer = lambda_module("fixers.ecr_scan_on_push")
    return [
        Found(_target(account, region, "AWS::ECR::Repository", repository["repositoryName"]), fixer.repository_state(repository), repository["repositoryArn"])
        for repository in _pages(session, "ecr", "describe_repositories", "repositories")
    ]


DISCOVERY: dict[str, Callable[[boto3.Session, Account, str], list[Found]]] = {
    "s3-bucket-encryption": _buckets,
    "s3-bucket-public-access": _buckets,
    "s3-account-public-access": _account,
    "restricted-admin-ports": _security_groups,
    "vpc-flow-logs": _vpcs,
    "cloudtrail-multi-region": _account,
    "cloudtrail-log-validation": _trails,
    "s3-bucket-versioning": _buckets,
    "s3-ssl-only": _buckets,
    "sqs-queue-public": _queues,
    "sns-topic-public": _topics,
    "ebs-snapshot-public": _account,
    "ebs-default-encryption": _account,
    "kms-key-rotation": _keys,
    "default-security-group-closed": _default_groups,
    "ec2-imdsv2": _instances,
    "log-group-retention": _log_groups,
    "rds-public-access": _db_instances,
    "ecr-scan-on-push": _repositories,
    "lambda-public-access": _functions,
    "rds-snapshot-public": _rds_snapshots,
    "ssm-document-public": _documents,
    "iam-password-policy": _account,
    "iam-unused-credentials": _iam_users,
    "guardduty-enabled": _account,
}
"""How to find the resources of each rule (one entry per catalog key)."""


NAMES_ONLY = frozenset({_buckets, _account, _trails, _queues, _topics, _keys, _functions, _rds_snapshots, _documents, _iam_users})
"""The discoveries that name resources without their state: every ``Found`` they give has ``state`` None."""


def discovery_gives_state(rule_key: str) -> bool:
    """Whether ``discover`` may give the state of some of ``rule_key``'s resources (a batch read of it)."""
    return DISCOVERY[rule_key] not in NAMES_ONLY


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
