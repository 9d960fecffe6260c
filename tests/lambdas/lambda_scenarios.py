"""One scenario per fixer: how to make a non-compliant resource, a compliant one, an exempt one,
and how to check, independently of the fixer, that the resource is fixed."""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import zipfile
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


def _unversioned_bucket() -> str:
    return _bucket()


def _versioned_bucket() -> str:
    name = _bucket()
    boto3.client("s3").put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def _bucket_versioned(name: str) -> bool:
    return boto3.client("s3").get_bucket_versioning(Bucket=name).get("Status") == "Enabled"


READER_STATEMENT = {
    "Sid": "ReadersMayRead",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/reader"},
    "Action": "s3:GetObject",
    "Resource": "arn:aws:s3:::governance-test-bucket/*",
}


def _bucket_with_reader_policy() -> str:
    name = _bucket()
    boto3.client("s3").put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [READER_STATEMENT]}))
    return name


def _tls_only_bucket() -> str:
    name = _bucket()
    deny = {
        "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    boto3.client("s3").put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [READER_STATEMENT, deny]}))
    return name


def _denies_http_and_keeps_readers(name: str) -> bool:
    statements = json.loads(boto3.client("s3").get_bucket_policy(Bucket=name)["Policy"])["Statement"]
    denies = [s for s in statements if s.get("Effect") == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
    return bool(denies) and READER_STATEMENT in statements


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


# --- SQS ----------------------------------------------------------------------------------------

QUEUE = "governance-test-queue"


def queue_policy(*statements: dict) -> str:
    """A queue policy with these statements."""
    return json.dumps({"Version": "2012-10-17", "Id": "queue-policy", "Statement": list(statements)})


def queue_arn(name: str = QUEUE) -> str:
    return f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"


def public_send(sid: str = "Public", name: str = QUEUE) -> dict:
    """A statement that lets everyone send to the queue."""
    return {"Sid": sid, "Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": queue_arn(name)}


def topic_send(sid: str = "FromTopic", name: str = QUEUE) -> dict:
    """Everyone, but only for one SNS topic (fixed aws:SourceArn): not public."""
    return {**public_send(sid, name), "Condition": {"ArnEquals": {"aws:SourceArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:events"}}}


def new_queue(name: str = QUEUE, *statements: dict) -> str:
    """A queue with a policy of ``statements`` (none: no policy); returns its URL."""
    sqs = boto3.client("sqs")
    url = str(sqs.create_queue(QueueName=name)["QueueUrl"])
    if statements:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": queue_policy(*statements)})
    return url


def _public_queue() -> str:
    return new_queue(QUEUE, topic_send(), public_send())


def _private_queue() -> str:
    return new_queue(QUEUE, topic_send())


def _tag_queue(url: str) -> None:
    boto3.client("sqs").tag_queue(QueueUrl=url, Tags={EXEMPTION_TAG: "true"})


def _queue_not_public(url: str) -> bool:
    policy = boto3.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
    return bool(json.loads(policy)["Statement"] == [topic_send()])


# --- SNS ----------------------------------------------------------------------------------------

TOPIC = "governance-test-topic"


def topic_arn(name: str = TOPIC) -> str:
    return f"arn:aws:sns:us-east-1:{ACCOUNT}:{name}"


def default_topic_statement(name: str = TOPIC) -> dict:
    """The statement SNS gives every new topic: the owner account only (fixed AWS:SourceOwner)."""
    return json.loads(boto3.client("sns").get_topic_attributes(TopicArn=topic_arn(name))["Attributes"]["Policy"])["Statement"][0]


def public_publish(sid: str = "PublicPublish", name: str = TOPIC) -> dict:
    """A statement that lets everyone publish to the topic."""
    return {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "SNS:Publish", "Resource": topic_arn(name)}


def new_topic(name: str = TOPIC, *extra: dict) -> str:
    """A topic with SNS's default policy plus ``extra`` statements; returns its ARN."""
    sns = boto3.client("sns")
    arn = str(sns.create_topic(Name=name)["TopicArn"])
    if extra:
        policy = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])
        policy["Statement"].extend(extra)
        sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(policy))
    return arn


def _tag_topic(arn: str) -> None:
    boto3.client("sns").tag_resource(ResourceArn=arn, Tags=[{"Key": EXEMPTION_TAG, "Value": "true"}])


def _topic_not_public(arn: str) -> bool:
    policy = json.loads(boto3.client("sns").get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])
    return [s.get("Sid") for s in policy["Statement"]] == ["__default_statement_ID"]


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


def default_group(vpc_id: str | None = None) -> str:
    """The default security group of a new VPC (or of ``vpc_id``), as moto creates it: one egress rule to 0.0.0.0/0."""
    vpc = vpc_id or new_vpc()
    filters = [{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    return str(boto3.client("ec2").describe_security_groups(Filters=filters)["SecurityGroups"][0]["GroupId"])


def self_referencing(group: str) -> None:
    """Add the all-traffic ingress rule from the group itself that AWS gives every default group (moto does not)."""
    boto3.client("ec2").authorize_security_group_ingress(GroupId=group, IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group}]}])


def _open_default_group() -> str:
    group = default_group()
    self_referencing(group)
    return group


def _closed_default_group() -> str:
    group = default_group()
    ec2 = boto3.client("ec2")
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroupRules"]
    ec2.revoke_security_group_egress(GroupId=group, SecurityGroupRuleIds=[rule["SecurityGroupRuleId"] for rule in rules])
    return group


def _default_group_closed(group: str) -> bool:
    found = boto3.client("ec2").describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
    return not found["IpPermissions"] and not found["IpPermissionsEgress"]


def instance(http_tokens: str = "optional", **options: object) -> str:
    """A running instance with these metadata options (moto's default image; hop limit 2, as for containers)."""
    metadata = {"HttpTokens": http_tokens, "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 2, **options}
    ec2 = boto3.client("ec2")
    return str(ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, MetadataOptions=metadata)["Instances"][0]["InstanceId"])


def _tokens_required(instance_id: str) -> bool:
    found = boto3.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return bool(found["MetadataOptions"]["HttpTokens"] == "required")


# --- CloudWatch Logs ----------------------------------------------------------------------------

LOG_GROUP = "/app/short-lived"


def log_group(retention_days: int | None, name: str = LOG_GROUP) -> str:
    # A scenario may be made more than once in a test: the group then gets the asked-for retention again.
    logs = boto3.client("logs")
    try:
        logs.create_log_group(logGroupName=name)
    except logs.exceptions.ResourceAlreadyExistsException:
        logs.delete_retention_policy(logGroupName=name)
    if retention_days is not None:
        logs.put_retention_policy(logGroupName=name, retentionInDays=retention_days)
    return name


def _tag_log_group(name: str) -> None:
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{name}"
    boto3.client("logs").tag_resource(resourceArn=arn, tags={EXEMPTION_TAG: "true"})


def _retention_raised(name: str) -> bool:
    (group,) = [g for g in boto3.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"] if g["logGroupName"] == name]
    return bool(group.get("retentionInDays") == DEFAULT_PARAMS["log-group-retention"]["minRetentionDays"])


def db_instance(public: bool = True, name: str = "orders-db") -> str:
    """A PostgreSQL DB instance; returns its DbiResourceId, the id Config's events carry."""
    boto3.client("rds").create_db_instance(
        DBInstanceIdentifier=name, DBInstanceClass="db.t3.micro", Engine="postgres", AllocatedStorage=20,
        MasterUsername="orders_admin", MasterUserPassword="correct-horse-battery", PubliclyAccessible=public,
    )
    return unique_dbi_resource_id(name)


def unique_dbi_resource_id(name: str) -> str:
    """Give the instance its own DbiResourceId: moto 5.2.5 gives every instance db-M5ENSHXFPU6XHZ4G4ZEI5QIO2U."""
    from moto.rds.models import rds_backends

    resource_id = "db-" + base64.b32encode(hashlib.sha256(name.encode()).digest()).decode()[:26]
    rds_backends[ACCOUNT][boto3.client("rds").meta.region_name].databases[name].dbi_resource_id = resource_id
    return resource_id


def described_db(resource_id: str) -> dict[str, object]:
    """The DB instance with this DbiResourceId, as DescribeDBInstances returns it."""
    found: dict[str, object] = boto3.client("rds").describe_db_instances(Filters=[{"Name": "dbi-resource-id", "Values": [resource_id]}])["DBInstances"][0]
    return found


def _tag_db(resource_id: str) -> None:
    boto3.client("rds").add_tags_to_resource(ResourceName=str(described_db(resource_id)["DBInstanceArn"]), Tags=[{"Key": EXEMPTION_TAG, "Value": "true"}])


def _db_private(resource_id: str) -> bool:
    return described_db(resource_id)["PubliclyAccessible"] is False


# --- ECR ----------------------------------------------------------------------------------------


def _repository(scan_on_push: bool = False) -> str:
    # Repository names are unique per registry: the compliant one gets its own name.
    name = "team/scanned" if scan_on_push else "team/service"
    boto3.client("ecr").create_repository(repositoryName=name, imageScanningConfiguration={"scanOnPush": scan_on_push})
    return name


def _tag_repository(name: str) -> None:
    ecr = boto3.client("ecr")
    (repository,) = ecr.describe_repositories(repositoryNames=[name])["repositories"]
    ecr.tag_resource(resourceArn=repository["repositoryArn"], tags=[{"Key": EXEMPTION_TAG, "Value": "true"}])


def _scans_on_push(name: str) -> bool:
    (repository,) = boto3.client("ecr").describe_repositories(repositoryNames=[name])["repositories"]
    return repository["imageScanningConfiguration"]["scanOnPush"] is True


# --- Lambda -------------------------------------------------------------------------------------

FUNCTION = "governance-test-function"


def function_arn(name: str = FUNCTION) -> str:
    return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"


def new_function(name: str = FUNCTION, *permissions: dict) -> str:
    """A new function with one AddPermission per ``permissions`` entry (FunctionName filled in); returns its name."""
    iam = boto3.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    try:
        role = iam.get_role(RoleName="function-role")["Role"]["Arn"]
    except ClientError:
        role = iam.create_role(RoleName="function-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 1\n")
    lambda_client = boto3.client("lambda")
    if name in [function["FunctionName"] for function in lambda_client.list_functions()["Functions"]]:
        lambda_client.delete_function(FunctionName=name)  # a scenario's second resource replaces the first
    lambda_client.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler", Code={"ZipFile": code.getvalue()})
    for permission in permissions:
        lambda_client.add_permission(FunctionName=name, **permission)
    return name


PUBLIC_INVOKE = {"StatementId": "PublicInvoke", "Action": "lambda:InvokeFunction", "Principal": "*"}
"""Everyone may invoke the function."""
BUCKET_INVOKE = {"StatementId": "FromBucket", "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com", "SourceArn": "arn:aws:s3:::uploads", "SourceAccount": ACCOUNT}
"""S3 may invoke it for one bucket of the account: not public."""


def _tag_function(name: str) -> None:
    boto3.client("lambda").tag_resource(Resource=function_arn(name), Tags={EXEMPTION_TAG: "true"})


def _function_not_public(name: str) -> bool:
    policy = json.loads(boto3.client("lambda").get_policy(FunctionName=name)["Policy"])
    return [s["Sid"] for s in policy["Statement"]] == ["FromBucket"]


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
    Scenario("s3-bucket-versioning", "AWS::S3::Bucket", _unversioned_bucket, _versioned_bucket, _tag_bucket, _bucket_versioned),
    Scenario("s3-ssl-only", "AWS::S3::Bucket", _bucket_with_reader_policy, _tls_only_bucket, _tag_bucket, _denies_http_and_keeps_readers),
    Scenario("sqs-queue-public", "AWS::SQS::Queue", _public_queue, _private_queue, _tag_queue, _queue_not_public),
    Scenario("sns-topic-public", "AWS::SNS::Topic", lambda: new_topic(TOPIC, public_publish()), lambda: new_topic(TOPIC), _tag_topic, _topic_not_public),
    Scenario("ebs-snapshot-public", "AWS::::Account", _public_snapshot_account, _private_snapshot_account, _tag_account_snapshots, _no_public_snapshot),
    # No key in the generic tests: moto has no GetEbsDefaultKmsKeyId (the key path is in test_ebs_default_encryption.py).
    Scenario("ebs-default-encryption", "AWS::::Account", _ebs_default_off, _ebs_default_on, None, _ebs_default_is_on),
    Scenario("kms-key-rotation", "AWS::KMS::Key", _key_without_rotation, _key_with_rotation, _tag_key, _key_rotates),
    Scenario("default-security-group-closed", "AWS::EC2::SecurityGroup", _open_default_group, _closed_default_group, _tag_ec2, _default_group_closed),
    Scenario("ec2-imdsv2", "AWS::EC2::Instance", instance, lambda: instance("required"), _tag_ec2, _tokens_required),
    Scenario("log-group-retention", "AWS::Logs::LogGroup", lambda: log_group(30), lambda: log_group(731, "/app/long-lived"), _tag_log_group, _retention_raised),
    Scenario("rds-public-access", "AWS::RDS::DBInstance", db_instance, lambda: db_instance(public=False, name="private-db"), _tag_db, _db_private),
    Scenario("ecr-scan-on-push", "AWS::ECR::Repository", _repository, lambda: _repository(scan_on_push=True), _tag_repository, _scans_on_push),
    Scenario(
        "lambda-public-access", "AWS::Lambda::Function",
        lambda: new_function(FUNCTION, BUCKET_INVOKE, PUBLIC_INVOKE), lambda: new_function(FUNCTION, BUCKET_INVOKE), _tag_function, _function_not_public,
    ),
    Scenario("rds-snapshot-public", "AWS::RDS::DBSnapshot", db_snapshot, lambda: db_snapshot(restore=(SHARED_WITH,)), _tag_db_snapshot, _db_snapshot_private),
    Scenario("ssm-document-public", "AWS::SSM::Document", document, lambda: document(shared_with=(SHARED_WITH,)), _tag_document, _document_private),
    Scenario("iam-password-policy", "AWS::::Account", _weak_password_policy, _strong_password_policy, None, _password_policy_meets_minimums),
    Scenario(
        "iam-unused-credentials", "AWS::IAM::User",
        lambda: iam_user("stale-user", key_age=LONG_AGO, key_last_used=LONG_AGO), lambda: iam_user("busy-user", key_age=LONG_AGO, key_last_used=timedelta(days=1)),
        _tag_user, _keys_inactive,
    ),
    Scenario("guardduty-enabled", "AWS::::Account", _no_detector, _enabled_detector, None, _detector_enabled),
]
"""Every fixer, in catalog order."""
