"""What each fixer never does: replace KMS, turn a flag off, delete a flow log, stop logging (see also test_fixer_writes)."""

from __future__ import annotations

import ast
from pathlib import Path

import boto3
from conftest import ACCOUNT, DEFAULT_PARAMS, FakeContext, compliance_event, rule_entry, rule_name
from lambda_scenarios import TRAIL_BUCKET, new_vpc, trail
from remediation.fixers import cloudtrail_log_validation, cloudtrail_multi_region
from remediation.fixers.base import NoAction, Target
from remediation.handler import lambda_handler

KMS_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"


def run(key: str, resource_type: str, resource_id: str) -> dict:
    return lambda_handler(compliance_event(rule_name(key), resource_type, resource_id), FakeContext())


def test_an_existing_kms_configuration_is_never_replaced() -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="kms-bucket")
    s3.put_bucket_encryption(
        Bucket="kms-bucket",
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "other"}}]},
    )
    record = run("s3-bucket-encryption", "AWS::S3::Bucket", "kms-bucket")
    assert (record["decision"], record["apiCalls"][-1]["operation"]) == ("failed", "GetBucketEncryption"), "another key is reported, not swapped"
    rule = s3.get_bucket_encryption(Bucket="kms-bucket")["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "other"}


def test_kms_params_set_the_key_with_bucket_key_on(deploy) -> None:
    key_arn = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]  # the fixer checks the key exists before using it
    deploy(rules={"s3-bucket-encryption": rule_entry({"algorithm": "aws:kms", "kmsKeyArn": key_arn})})
    boto3.client("s3").create_bucket(Bucket="plain-bucket")
    assert run("s3-bucket-encryption", "AWS::S3::Bucket", "plain-bucket")["decision"] == "remediated"
    rule = boto3.client("s3").get_bucket_encryption(Bucket="plain-bucket")["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
    assert rule["BucketKeyEnabled"] is True


def test_bucket_flags_are_only_turned_on_and_excluded_buckets_are_left_alone(deploy, requests) -> None:
    deploy(rules={"s3-bucket-public-access": rule_entry({"excludedPublicBuckets": ["public-site"]})})
    boto3.client("s3").create_bucket(Bucket="public-site")
    record = run("s3-bucket-public-access", "AWS::S3::Bucket", "public-site")
    assert record["decision"] == "exempt" and "excludedPublicBuckets" in record["reason"]
    assert requests.writes() == []


def test_an_existing_flow_log_is_kept_and_another_added(requests) -> None:
    ec2 = boto3.client("ec2")
    vpc = new_vpc()
    existing = ec2.create_flow_logs(
        ResourceIds=[vpc], ResourceType="VPC", TrafficType="REJECT", LogDestinationType="cloud-watch-logs",
        LogGroupName="/old", DeliverLogsPermissionArn=f"arn:aws:iam::{ACCOUNT}:role/old",
    )["FlowLogIds"][0]
    record = run("vpc-flow-logs", "AWS::EC2::VPC", vpc)
    assert record["decision"] == "remediated"
    logs = {log["FlowLogId"]: log["TrafficType"] for log in ec2.describe_flow_logs()["FlowLogs"]}
    assert logs[existing] == "REJECT" and sorted(logs.values()) == ["ALL", "REJECT"]
    assert "DeleteFlowLogs" not in requests.operations()
    assert record["undo"] == [{"service": "ec2", "operation": "DeleteFlowLogs", "params": {"FlowLogIds": record["change"]["detail"]["flowLogIds"]}}]


def test_a_new_trail_is_created_only_when_there_is_none() -> None:
    boto3.client("s3").create_bucket(Bucket=TRAIL_BUCKET)
    record = run("cloudtrail-multi-region", "AWS::::Account", ACCOUNT)
    assert record["decision"] == "remediated"
    created = boto3.client("cloudtrail").get_trail(Name=DEFAULT_PARAMS["cloudtrail-multi-region"]["trailName"])["Trail"]
    assert created["IsMultiRegionTrail"] and created["LogFileValidationEnabled"]


def test_no_trail_and_no_bucket_is_a_failure(deploy, requests) -> None:
    deploy(rules={"cloudtrail-multi-region": rule_entry({"s3BucketName": None, "trailName": "governance"})})
    record = run("cloudtrail-multi-region", "AWS::::Account", ACCOUNT)
    assert record["decision"] == "failed" and "s3BucketName" in record["reason"]
    assert requests.writes() == []


def test_an_idle_multi_region_trail_only_starts_logging(requests) -> None:
    trail("idle-trail", multi_region=True, logging=False)
    record = run("cloudtrail-multi-region", "AWS::::Account", ACCOUNT)
    assert record["decision"] == "remediated"
    assert requests.writes() == ["StartLogging"]


def test_a_trail_id_is_accepted_for_the_account_rule() -> None:
    arn = trail()
    assert run("cloudtrail-multi-region", "AWS::CloudTrail::Trail", arn)["decision"] == "remediated"


def test_log_validation_accepts_a_trail_name_as_well_as_an_arn() -> None:
    trail("named-trail")
    assert run("cloudtrail-log-validation", "AWS::CloudTrail::Trail", "named-trail")["decision"] == "remediated"


def test_an_organization_trail_of_another_account_is_not_changed() -> None:
    target = Target("AWS::CloudTrail::Trail", "org", ACCOUNT, "us-east-1")
    state = cloudtrail_log_validation.TrailState({"TrailARN": "arn:aws:cloudtrail:us-east-1:999999999999:trail/org", "LogFileValidationEnabled": False}, target)
    result = cloudtrail_log_validation.plan(state, cloudtrail_log_validation.Params())
    assert isinstance(result, NoAction) and result.decision == "failed"


def test_an_organization_trail_that_logs_multi_region_counts_as_compliant() -> None:
    target = Target("AWS::::Account", ACCOUNT, ACCOUNT, "us-east-1")
    org = cloudtrail_multi_region.TrailInfo("org", "arn:aws:cloudtrail:us-east-1:999999999999:trail/org", True, True, True)
    state = cloudtrail_multi_region.AccountTrailsState((org,), target)
    assert cloudtrail_multi_region.plan(state, cloudtrail_multi_region.Params(None, "governance")) is None


def test_the_package_imports_itself_only_relatively() -> None:
    package = Path(cloudtrail_multi_region.__file__).parents[1]
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                assert node.module and node.module.split(".")[0] in {"__future__", "boto3", "botocore", "collections", "contextlib", "contextvars", "copy", "dataclasses", "datetime", "functools", "hashlib", "importlib", "json", "os", "re", "sys", "time", "traceback", "types", "typing"}, (path, node.module)
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name.split(".")[0] not in {"remediation", "lambdas", "governance", "pulumi"}, (path, alias.name)
