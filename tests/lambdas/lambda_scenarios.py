"""One scenario per fixer: how to make a non-compliant resource, a compliant one, an exempt one,
and how to check, independently of the fixer, that the resource is fixed."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import ClientError
from conftest import ACCOUNT, DEFAULT_PARAMS, EXEMPTION_TAG

TRAIL_BUCKET = "governance-trail-bucket"


@dataclass(frozen=True)
class Scenario:
    key: str
    resource_type: str
    make_non_compliant: Callable[[], str]
    """Create a non-compliant resource; returns the id the Config event carries."""
    make_compliant: Callable[[], str]
    tag_exempt: Callable[[str], None] | None
    """Tag the resource as exempt; None when the resource cannot carry tags."""
    check_fixed: Callable[[str], bool]

    def is_fixed(self, resource_id: str) -> bool:
        try:
            return self.check_fixed(resource_id)
        except ClientError:
            return False

    def __str__(self) -> str:
        return self.key


# --- S3 -----------------------------------------------------------------------------------------


def _bucket(name: str = "governance-test-bucket") -> str:
    boto3.client("s3").create_bucket(Bucket=name)
    return name


def _test_key() -> str:
    return str(DEFAULT_PARAMS["s3-bucket-encryption"]["kmsKeyArn"])


def _kms_bucket() -> str:
    # New buckets have SSE-S3 (as on AWS): the non-compliant one is a plain bucket, the compliant one uses the test key.
    name = _bucket()
    boto3.client("s3").put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": _test_key()}}]},
    )
    return name


def _tag_bucket(name: str) -> None:
    boto3.client("s3").put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": EXEMPTION_TAG, "Value": "true"}]})


def _bucket_on_test_key(name: str) -> bool:
    (rule,) = boto3.client("s3").get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
    return bool(rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": _test_key()} and rule["BucketKeyEnabled"])


ALL_ON = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


def _partly_blocked_bucket() -> str:
    name = _bucket()
    boto3.client("s3").put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={**ALL_ON, "BlockPublicPolicy": False})
    return name


def _blocked_bucket() -> str:
    name = _bucket()
    boto3.client("s3").put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=ALL_ON)
    return name


def _bucket_blocked(name: str) -> bool:
    return boto3.client("s3").get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"] == ALL_ON


def _account_unblocked() -> str:
    return ACCOUNT


def _account_blocked() -> str:
    boto3.client("s3control").put_public_access_block(AccountId=ACCOUNT, PublicAccessBlockConfiguration=ALL_ON)
    return ACCOUNT


def _account_is_blocked(_account: str) -> bool:
    return boto3.client("s3control").get_public_access_block(AccountId=ACCOUNT)["PublicAccessBlockConfiguration"] == ALL_ON


# --- EC2 ----------------------------------------------------------------------------------------


def new_vpc() -> str:
    return boto3.client("ec2").create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]


def new_group(vpc_id: str | None = None) -> str:
    ec2 = boto3.client("ec2")
    return ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc_id or new_vpc())["GroupId"]


def _open_group() -> str:
    group = new_group()
    boto3.client("ec2").authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    return group


def _closed_group() -> str:
    group = new_group()
    boto3.client("ec2").authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}],
    )
    return group


def _tag_ec2(resource_id: str) -> None:
    boto3.client("ec2").create_tags(Resources=[resource_id], Tags=[{"Key": EXEMPTION_TAG, "Value": "yes"}])


def _group_closed(group: str) -> bool:
    permissions = boto3.client("ec2").describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
    return not any(
        source.get("CidrIp") == "0.0.0.0/0" and permission.get("FromPort", 0) <= 22 <= permission.get("ToPort", 65535)
        for permission in permissions
        for source in permission.get("IpRanges", [])
    )


def _vpc_with_flow_log() -> str:
    vpc = new_vpc()
    boto3.client("ec2").create_flow_logs(
        ResourceIds=[vpc],
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="cloud-watch-logs",
        LogGroupName="/existing",
        DeliverLogsPermissionArn=f"arn:aws:iam::{ACCOUNT}:role/existing",
    )
    return vpc


def _vpc_logged(vpc: str) -> bool:
    logs = boto3.client("ec2").describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc]}])["FlowLogs"]
    return any(log["TrafficType"] == "ALL" for log in logs)


# --- CloudTrail ---------------------------------------------------------------------------------


def trail(name: str = "main-trail", multi_region: bool = False, logging: bool = True, validation: bool = False) -> str:
    boto3.client("s3").create_bucket(Bucket=TRAIL_BUCKET)
    cloudtrail = boto3.client("cloudtrail")
    arn = cloudtrail.create_trail(Name=name, S3BucketName=TRAIL_BUCKET, IsMultiRegionTrail=multi_region, EnableLogFileValidation=validation)["TrailARN"]
    if logging:
        cloudtrail.start_logging(Name=name)
    return str(arn)


def _tag_trail(arn: str) -> None:
    boto3.client("cloudtrail").add_tags(ResourceId=arn, TagsList=[{"Key": EXEMPTION_TAG, "Value": "true"}])


def _single_region_trail_account() -> str:
    trail()
    return ACCOUNT


def _multi_region_account() -> str:
    trail(multi_region=True)
    return ACCOUNT


def _has_logging_multi_region_trail(_account: str) -> bool:
    cloudtrail = boto3.client("cloudtrail")
    return any(
        t["IsMultiRegionTrail"] and cloudtrail.get_trail_status(Name=t["TrailARN"])["IsLogging"] for t in cloudtrail.describe_trails()["trailList"]
    )


def _tag_account_trail(_account: str) -> None:
    for found in boto3.client("cloudtrail").describe_trails()["trailList"]:
        _tag_trail(found["TrailARN"])


def _validation_on(trail_id: str) -> bool:
    return bool(boto3.client("cloudtrail").get_trail(Name=trail_id)["Trail"]["LogFileValidationEnabled"])


# --- CloudWatch Logs ----------------------------------------------------------------------------

LOG_GROUP = "/app/short-lived"


def log_group(retention_days: int | None, name: str = LOG_GROUP) -> str:
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=name)
    if retention_days is not None:
        logs.put_retention_policy(logGroupName=name, retentionInDays=retention_days)
    return name


def _tag_log_group(name: str) -> None:
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{name}"
    boto3.client("logs").tag_resource(resourceArn=arn, tags={EXEMPTION_TAG: "true"})


def _retention_raised(name: str) -> bool:
    (group,) = [g for g in boto3.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"] if g["logGroupName"] == name]
    return bool(group.get("retentionInDays") == DEFAULT_PARAMS["log-group-retention"]["minRetentionDays"])


# --- IAM users ----------------------------------------------------------------------------------
# moto 5.2.5 gives users random lower-case ids (AWS: AIDA…) and cannot set when a key or password was last
# used (it records a use only when a request signed with that key reaches it, always "now"): the scenarios
# set both on moto's backend objects, which is what the fixer then reads through the API.

LONG_AGO = timedelta(days=200)


def _iam_user(name: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[ACCOUNT]["global"].users[name]


def iam_user(name: str, key_age: timedelta | None = None, key_last_used: timedelta | None = None, password_age: timedelta | None = None) -> str:
    """A user with an AIDA… id, optionally one active access key and a console password, dated ``age`` ago."""
    from moto.iam.models import AccessKeyLastUsed

    iam = boto3.client("iam")
    iam.create_user(UserName=name)
    user = _iam_user(name)
    user.id = "AIDA" + hashlib.sha1(name.encode()).hexdigest().upper()[:17]
    now = datetime.now(UTC)
    if key_age is not None:
        iam.create_access_key(UserName=name)
        (key,) = user.access_keys
        key.create_date = (now - key_age).replace(tzinfo=None)
        if key_last_used is not None:
            key.last_used = AccessKeyLastUsed(now - key_last_used, "s3", "us-east-1")
    if password_age is not None:
        iam.create_login_profile(UserName=name, Password="Governance-test-1")
        user.create_date = (now - password_age).replace(tzinfo=None)  # moto dates the login profile with the user
    return str(user.id)


def user_name(user_id: str) -> str:
    return next(user["UserName"] for user in boto3.client("iam").list_users()["Users"] if user["UserId"] == user_id)


def _tag_user(user_id: str) -> None:
    boto3.client("iam").tag_user(UserName=user_name(user_id), Tags=[{"Key": EXEMPTION_TAG, "Value": "true"}])


def _keys_inactive(user_id: str) -> bool:
    keys = boto3.client("iam").list_access_keys(UserName=user_name(user_id))["AccessKeyMetadata"]
    return bool(keys) and all(key["Status"] == "Inactive" for key in keys)


# --- GuardDuty ----------------------------------------------------------------------------------


def _no_detector() -> str:
    return ACCOUNT


def _enabled_detector() -> str:
    boto3.client("guardduty").create_detector(Enable=True)
    return ACCOUNT


def _detector_enabled(_account: str) -> bool:
    guardduty = boto3.client("guardduty")
    ids = guardduty.list_detectors()["DetectorIds"]
    return any(guardduty.get_detector(DetectorId=detector)["Status"] == "ENABLED" for detector in ids)


SCENARIOS = [
    Scenario("s3-bucket-encryption", "AWS::S3::Bucket", _bucket, _kms_bucket, _tag_bucket, _bucket_on_test_key),
    Scenario("s3-bucket-public-access", "AWS::S3::Bucket", _partly_blocked_bucket, _blocked_bucket, _tag_bucket, _bucket_blocked),
    Scenario("s3-account-public-access", "AWS::::Account", _account_unblocked, _account_blocked, None, _account_is_blocked),
    Scenario("restricted-admin-ports", "AWS::EC2::SecurityGroup", _open_group, _closed_group, _tag_ec2, _group_closed),
    Scenario("vpc-flow-logs", "AWS::EC2::VPC", new_vpc, _vpc_with_flow_log, _tag_ec2, _vpc_logged),
    Scenario(
        "cloudtrail-multi-region", "AWS::::Account", _single_region_trail_account, _multi_region_account, _tag_account_trail, _has_logging_multi_region_trail
    ),
    Scenario("cloudtrail-log-validation", "AWS::CloudTrail::Trail", lambda: trail(), lambda: trail(validation=True), _tag_trail, _validation_on),
    Scenario("log-group-retention", "AWS::Logs::LogGroup", lambda: log_group(30), lambda: log_group(731, "/app/long-lived"), _tag_log_group, _retention_raised),
    Scenario(
        "iam-unused-credentials", "AWS::IAM::User",
        lambda: iam_user("stale-user", key_age=LONG_AGO, key_last_used=LONG_AGO), lambda: iam_user("busy-user", key_age=LONG_AGO, key_last_used=timedelta(days=1)),
        _tag_user, _keys_inactive,
    ),
    Scenario("guardduty-enabled", "AWS::::Account", _no_detector, _enabled_detector, None, _detector_enabled),
]
"""Every fixer, in catalog order."""
