"""One scenario per fixer: how to make a non-compliant resource, a compliant one, an exempt one,
and how to check, independently of the fixer, that the resource is fixed."""

from __future__ import annotations

import itertools
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


# --- EBS snapshots ------------------------------------------------------------------------------

SHARED_WITH = "111122223333"
"""An account a snapshot is shared with on purpose: the fix must keep this share."""


def snapshot(public: bool = True, shared_with: tuple[str, ...] = (SHARED_WITH,)) -> str:
    ec2 = boto3.client("ec2")
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1)["VolumeId"]
    snapshot_id = str(ec2.create_snapshot(VolumeId=volume)["SnapshotId"])
    if public or shared_with:
        # OperationType + GroupNames/UserIds: moto 5.2.5 ignores the CreateVolumePermission structure.
        groups = {"GroupNames": ["all"]} if public else {}
        users = {"UserIds": list(shared_with)} if shared_with else {}
        ec2.modify_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission", OperationType="add", **groups, **users)
    return snapshot_id


def own_snapshots() -> list[str]:
    pages = boto3.client("ec2").get_paginator("describe_snapshots").paginate(Filters=[{"Name": "owner-id", "Values": [ACCOUNT]}])
    return [found["SnapshotId"] for page in pages for found in page["Snapshots"]]


def snapshot_permissions(snapshot_id: str) -> list[dict[str, str]]:
    return list(boto3.client("ec2").describe_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission")["CreateVolumePermissions"])


def _public_snapshot_account() -> str:
    snapshot()
    return ACCOUNT


def _private_snapshot_account() -> str:
    snapshot(public=False)
    return ACCOUNT


def _tag_account_snapshots(_account: str) -> None:
    for snapshot_id in own_snapshots():
        _tag_ec2(snapshot_id)


def _no_public_snapshot(_account: str) -> bool:
    permissions = [snapshot_permissions(snapshot_id) for snapshot_id in own_snapshots()]
    return all({"Group": "all"} not in entries and {"UserId": SHARED_WITH} in entries for entries in permissions)


# --- RDS snapshots ------------------------------------------------------------------------------


_NAMES = itertools.count(1)


def db_snapshot(name: str = "", restore: tuple[str, ...] = ("all", SHARED_WITH)) -> str:
    name = name or f"governance-db-snapshot-{next(_NAMES)}"
    rds = boto3.client("rds")
    instance = f"{name}-db"
    rds.create_db_instance(
        DBInstanceIdentifier=instance, Engine="postgres", DBInstanceClass="db.t3.micro", MasterUsername="admin1", MasterUserPassword="password123", AllocatedStorage=20
    )
    rds.create_db_snapshot(DBInstanceIdentifier=instance, DBSnapshotIdentifier=name)
    if restore:
        rds.modify_db_snapshot_attribute(DBSnapshotIdentifier=name, AttributeName="restore", ValuesToAdd=list(restore))
    return name


def cluster_snapshot(name: str = "", restore: tuple[str, ...] = ("all", SHARED_WITH)) -> str:
    name = name or f"governance-cluster-snapshot-{next(_NAMES)}"
    rds = boto3.client("rds")
    cluster = f"{name}-cluster"
    rds.create_db_cluster(DBClusterIdentifier=cluster, Engine="aurora-postgresql", MasterUsername="admin1", MasterUserPassword="password123")
    rds.create_db_cluster_snapshot(DBClusterIdentifier=cluster, DBClusterSnapshotIdentifier=name)
    if restore:
        rds.modify_db_cluster_snapshot_attribute(DBClusterSnapshotIdentifier=name, AttributeName="restore", ValuesToAdd=list(restore))
    return name


def db_snapshot_restore(name: str) -> list[str]:
    result = boto3.client("rds").describe_db_snapshot_attributes(DBSnapshotIdentifier=name)["DBSnapshotAttributesResult"]
    return [value for attribute in result["DBSnapshotAttributes"] if attribute["AttributeName"] == "restore" for value in attribute["AttributeValues"]]


def _tag_db_snapshot(name: str) -> None:
    arn = f"arn:aws:rds:us-east-1:{ACCOUNT}:snapshot:{name}"
    boto3.client("rds").add_tags_to_resource(ResourceName=arn, Tags=[{"Key": EXEMPTION_TAG, "Value": "true"}])


def _db_snapshot_private(name: str) -> bool:
    return db_snapshot_restore(name) == [SHARED_WITH]


# --- SSM documents ------------------------------------------------------------------------------

DOCUMENT_CONTENT = '{"schemaVersion": "2.2", "description": "test", "mainSteps": [{"action": "aws:runShellScript", "name": "run", "inputs": {"runCommand": ["true"]}}]}'


def document(name: str = "", shared_with: tuple[str, ...] = ("All", SHARED_WITH)) -> str:
    name = name or f"governance-document-{next(_NAMES)}"
    ssm = boto3.client("ssm")
    ssm.create_document(Name=name, Content=DOCUMENT_CONTENT, DocumentType="Command")
    if shared_with:
        ssm.modify_document_permission(Name=name, PermissionType="Share", AccountIdsToAdd=list(shared_with))
    return name


def document_shares(name: str) -> list[str]:
    return list(boto3.client("ssm").describe_document_permission(Name=name, PermissionType="Share").get("AccountIds", []))


def delete_document(name: str) -> None:
    """Unshare, then delete (SSM refuses to delete a shared document)."""
    ssm = boto3.client("ssm")
    shares = document_shares(name)
    if shares:
        ssm.modify_document_permission(Name=name, PermissionType="Share", AccountIdsToRemove=shares)
    ssm.delete_document(Name=name)


def _tag_document(name: str) -> None:
    boto3.client("ssm").add_tags_to_resource(ResourceType="Document", ResourceId=name, Tags=[{"Key": EXEMPTION_TAG, "Value": "true"}])


def _document_private(name: str) -> bool:
    return document_shares(name) == [SHARED_WITH]


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
    Scenario("ebs-snapshot-public", "AWS::::Account", _public_snapshot_account, _private_snapshot_account, _tag_account_snapshots, _no_public_snapshot),
    Scenario("rds-snapshot-public", "AWS::RDS::DBSnapshot", db_snapshot, lambda: db_snapshot(restore=(SHARED_WITH,)), _tag_db_snapshot, _db_snapshot_private),
    Scenario("ssm-document-public", "AWS::SSM::Document", document, lambda: document(shared_with=(SHARED_WITH,)), _tag_document, _document_private),
]
"""Every fixer, in catalog order."""
