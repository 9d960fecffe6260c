"""One scenario per fixer: how to make a non-compliant resource, a compliant one, an exempt one,
and how to check, independently of the fixer, that the resource is fixed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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


# --- EBS encryption by default --------------------------------------------------------------------


def _ebs_default_off() -> str:
    return ACCOUNT


def _ebs_default_on() -> str:
    boto3.client("ec2").enable_ebs_encryption_by_default()
    return ACCOUNT


def _ebs_default_is_on(_account: str) -> bool:
    return bool(boto3.client("ec2").get_ebs_encryption_by_default()["EbsEncryptionByDefault"])


# --- KMS ----------------------------------------------------------------------------------------


def _key_without_rotation() -> str:
    return str(boto3.client("kms").create_key(Description="customer managed symmetric key")["KeyMetadata"]["KeyId"])


def _key_with_rotation() -> str:
    key_id = _key_without_rotation()
    boto3.client("kms").enable_key_rotation(KeyId=key_id)
    return key_id


def _tag_key(key_id: str) -> None:
    boto3.client("kms").tag_resource(KeyId=key_id, Tags=[{"TagKey": EXEMPTION_TAG, "TagValue": "true"}])


def _key_rotates(key_id: str) -> bool:
    return bool(boto3.client("kms").get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"])


# --- IAM password policy --------------------------------------------------------------------------

PASSWORD_MINIMUMS = {
    "RequireUppercaseCharacters": True, "RequireLowercaseCharacters": True, "RequireSymbols": True, "RequireNumbers": True,
    "MinimumPasswordLength": 14, "PasswordReusePrevention": 24, "MaxPasswordAge": 90,
}


def _weak_password_policy() -> str:
    boto3.client("iam").update_account_password_policy(MinimumPasswordLength=8, AllowUsersToChangePassword=True)
    return ACCOUNT


def _strong_password_policy() -> str:
    boto3.client("iam").update_account_password_policy(**PASSWORD_MINIMUMS, AllowUsersToChangePassword=True)
    return ACCOUNT


def _password_policy_meets_minimums(_account: str) -> bool:
    policy = boto3.client("iam").get_account_password_policy()["PasswordPolicy"]
    return all(policy.get(name) == value for name, value in PASSWORD_MINIMUMS.items()) and policy["AllowUsersToChangePassword"] is True


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
    # No key in the generic tests: moto has no GetEbsDefaultKmsKeyId (the key path is in test_ebs_default_encryption.py).
    Scenario("ebs-default-encryption", "AWS::::Account", _ebs_default_off, _ebs_default_on, None, _ebs_default_is_on),
    Scenario("kms-key-rotation", "AWS::KMS::Key", _key_without_rotation, _key_with_rotation, _tag_key, _key_rotates),
    Scenario("iam-password-policy", "AWS::::Account", _weak_password_policy, _strong_password_policy, None, _password_policy_meets_minimums),
]
"""Every fixer, in catalog order."""
