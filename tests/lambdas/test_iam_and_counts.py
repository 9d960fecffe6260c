"""Least privilege and minimal calls: every call a fixer makes is declared, every declaration is
used, and the AWS requests per event match the counts documented in docs/fixers.md."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import ACCOUNT, DEFAULT_PARAMS, FakeContext, compliance_event, rule_entry, rule_name
from ebs_default_key_stub import stub_default_key
from lambda_scenarios import SCENARIOS, Scenario, cluster_snapshot, new_group, new_queue, new_vpc, public_send, trail
from remediation.fixers import FIXER_MODULES, iam_actions
from remediation.handler import lambda_handler

# API operation → IAM actions, where they differ from "<service>:<Operation>".
S3_ACTIONS = {
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "PutBucketEncryption"): "s3:PutEncryptionConfiguration",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "PutPublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("s3", "GetBucketTagging"): "s3:GetBucketTagging",
    ("s3control", "GetPublicAccessBlock"): "s3:GetAccountPublicAccessBlock",
    ("s3control", "PutPublicAccessBlock"): "s3:PutAccountPublicAccessBlock",
    ("s3", "GetBucketVersioning"): "s3:GetBucketVersioning",
    ("s3", "PutBucketVersioning"): "s3:PutBucketVersioning",
    ("s3", "GetBucketPolicy"): "s3:GetBucketPolicy",
    ("s3", "PutBucketPolicy"): "s3:PutBucketPolicy",
}


def required_actions(call: dict) -> set[str]:
    """The IAM actions one recorded call needs."""
    service, operation, params = call["service"], call["operation"], call["params"]
    if service in ("s3", "s3control"):
        return {S3_ACTIONS[(service, operation)]}
    actions = {f"{service}:{operation}"}
    if operation == "CreateFlowLogs":
        if params.get("DeliverLogsPermissionArn"):
            actions.add("iam:PassRole")
        if params.get("LogDestinationType") == "s3":
            actions.update({"logs:CreateLogDelivery", "logs:DeleteLogDelivery"})
    return actions


def _s3_flow_logs(deploy) -> str:
    boto3.client("s3").create_bucket(Bucket="flow-log-bucket")
    params = {**DEFAULT_PARAMS["vpc-flow-logs"], "destinationType": "s3", "s3BucketArn": "arn:aws:s3:::flow-log-bucket"}
    deploy(rules={"vpc-flow-logs": rule_entry(params)})
    return new_vpc()


def _ranged_group(_deploy) -> str:
    group = new_group()
    boto3.client("ec2").authorize_security_group_ingress(
        GroupId=group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 20, "ToPort": 25, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    return group


def _no_trails() -> None:
    cloudtrail = boto3.client("cloudtrail")
    for found in cloudtrail.describe_trails()["trailList"]:
        cloudtrail.delete_trail(Name=found["Name"])


def _idle_multi_region_trail(_deploy) -> str:
    _no_trails()
    trail("idle-trail", multi_region=True, logging=False)
    return ACCOUNT


def _no_trail_at_all(_deploy) -> str:
    _no_trails()
    return ACCOUNT


def _trail_without_management_events(_deploy) -> str:
    _no_trails()
    arn = trail("data-only-trail", multi_region=True)
    data = {"ReadWriteType": "All", "IncludeManagementEvents": False, "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::payroll/"]}]}
    boto3.client("cloudtrail").put_event_selectors(TrailName=arn, EventSelectors=[data])
    return ACCOUNT


def _trail_homed_in_another_region(_deploy) -> str:
    _no_trails()
    west = boto3.client("cloudtrail", region_name="us-west-2")
    west.create_trail(Name="west-trail", S3BucketName="governance-trail-bucket")
    west.start_logging(Name="west-trail")
    return ACCOUNT


def _sse_s3_bucket_to_kms(deploy) -> str:
    key_arn = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    deploy(rules={"s3-bucket-encryption": rule_entry({"algorithm": "aws:kms", "kmsKeyArn": key_arn})})
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="sse-s3-bucket")
    s3.put_bucket_encryption(Bucket="sse-s3-bucket", ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    return "sse-s3-bucket"


def _ebs_off_with_a_key_and_the_aws_managed_default(deploy) -> str:
    key_arn = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    deploy(rules={"ebs-default-encryption": rule_entry({"kmsKeyArn": key_arn})})
    boto3.client("ec2").disable_ebs_encryption_by_default()
    stub_default_key("alias/aws/ebs")  # moto has no GetEbsDefaultKmsKeyId: botocore's Stubber answers that call only
    return ACCOUNT


def _public_cluster_snapshot(_deploy) -> tuple[str, str]:
    return "AWS::RDS::DBClusterSnapshot", cluster_snapshot()


# Extra paths that exercise calls the main scenario does not (the IAM test must see every action).
def _queue_named_by_name(_deploy) -> str:
    # Config's resourceId form of a queue is unverified: a name costs one GetQueueUrl more.
    new_queue("by-name", public_send(name="by-name"))
    return "by-name"


EXTRA_PATHS: dict[str, list[Callable[[Any], str | tuple[str, str]]]] = {
    "s3-bucket-encryption": [_sse_s3_bucket_to_kms],
    "restricted-admin-ports": [_ranged_group],
    "vpc-flow-logs": [_s3_flow_logs],
    "cloudtrail-multi-region": [_idle_multi_region_trail, _no_trail_at_all, _trail_without_management_events, _trail_homed_in_another_region],
    "sqs-queue-public": [_queue_named_by_name],
    "ebs-default-encryption": [_ebs_off_with_a_key_and_the_aws_managed_default],
    "rds-snapshot-public": [_public_cluster_snapshot],
}


def _run(scenario: Scenario, resource: str | tuple[str, str]) -> dict:
    # A path may name another resource type of the rule as (resource type, id).
    resource_type, resource_id = resource if isinstance(resource, tuple) else (scenario.resource_type, resource)
    return lambda_handler(compliance_event(rule_name(scenario.key), resource_type, resource_id), FakeContext())


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_every_call_is_declared_and_every_declaration_is_used(scenario: Scenario, deploy) -> None:
    calls: list[dict] = []
    resource_id = scenario.make_non_compliant()
    calls += _run(scenario, resource_id)["apiCalls"]
    if scenario.tag_exempt:
        scenario.tag_exempt(resource_id)
    calls += _run(scenario, scenario.make_compliant() if scenario.key != "cloudtrail-multi-region" else resource_id)["apiCalls"]
    for make in EXTRA_PATHS.get(scenario.key, []):
        record = _run(scenario, make(deploy))
        assert record["decision"] == "remediated", record["reason"]
        calls += record["apiCalls"]
    needed = set().union(*(required_actions(call) for call in calls))
    declared = set(iam_actions(scenario.key))
    assert needed <= declared, f"calls not covered by IAM_ACTIONS: {needed - declared}"
    assert declared == needed, f"declared but never called: {declared - needed}"


def test_iam_action_declarations_are_well_formed() -> None:
    for key, module in FIXER_MODULES.items():
        assert isinstance(module.IAM_ACTIONS, tuple), key
        for action in module.IAM_ACTIONS:
            assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z]+", action), action


# (compliant, fixed) AWS requests per event, PutEvents excluded; the same table is in the docs.
EXPECTED_COUNTS = {
    "s3-bucket-encryption": (1, 5),
    "s3-bucket-public-access": (1, 4),
    "s3-account-public-access": (1, 3),
    "restricted-admin-ports": (1, 3),
    "vpc-flow-logs": (1, 4),
    "cloudtrail-multi-region": (2, 6),
    "cloudtrail-log-validation": (1, 4),
    "s3-bucket-versioning": (1, 4),
    "s3-ssl-only": (1, 4),
    "sqs-queue-public": (1, 4),
    "sns-topic-public": (1, 4),
    "ebs-snapshot-public": (2, 6),
    "ebs-default-encryption": (1, 3),
    "kms-key-rotation": (2, 6),
    "default-security-group-closed": (1, 6),
    "ec2-imdsv2": (1, 4),
    "log-group-retention": (1, 4),
    "rds-public-access": (1, 4),
    "ecr-scan-on-push": (1, 4),
    "lambda-public-access": (1, 4),
    "rds-snapshot-public": (1, 4),
    "ssm-document-public": (1, 4),
    "iam-password-policy": (1, 3),
    "iam-unused-credentials": (4, 9),
    "guardduty-enabled": (3, 5),
}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_requests_per_event(scenario: Scenario, requests) -> None:
    compliant, _ = EXPECTED_COUNTS[scenario.key]
    _run(scenario, scenario.make_compliant())
    assert len(requests.operations()) == compliant, requests.operations()
    assert requests.sent[-1] == ("events", "PutEvents"), "already-compliant results are published too"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_requests_per_fixed_event(scenario: Scenario, requests) -> None:
    _, fixed = EXPECTED_COUNTS[scenario.key]
    _run(scenario, scenario.make_non_compliant())
    assert len(requests.operations()) == fixed, requests.operations()
    assert requests.sent[-1] == ("events", "PutEvents")
    assert len(requests.sent) == fixed + 1


def test_the_docs_list_the_measured_counts() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "fixers.md").read_text()
    for key, (compliant, fixed) in EXPECTED_COUNTS.items():
        assert re.search(rf"\| `{re.escape(key)}` \| {compliant} \| {fixed} \|", doc), key
