"""scan's Config verdicts follow each managed rule's documented logic, case by case, and agree with the fixers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from remediation.fixers import (
    base,
    cloudtrail_log_validation,
    cloudtrail_multi_region,
    default_security_group_closed,
    ebs_default_encryption,
    ec2_imdsv2,
    ecr_scan_on_push,
    guardduty_enabled,
    iam_password_policy,
    iam_unused_credentials,
    kms_key_rotation,
    lambda_public_access,
    load_fixer,
    log_group_retention,
    rds_public_access,
    restricted_admin_ports,
    s3_account_public_access,
    s3_bucket_encryption,
    s3_bucket_public_access,
    s3_bucket_versioning,
    s3_ssl_only,
    sns_topic_public,
    sqs_queue_public,
    vpc_flow_logs,
)
from remediation.fixers import ebs_snapshot_public as snapshot_fixer
from remediation.fixers import rds_snapshot_public as rds
from remediation.fixers import ssm_document_public as ssm

from governance.catalog import CATALOG
from governance.compliance import config_verdict
from governance.plan import plan_account
from governance.settings import load_settings

TARGET = base.Target("AWS::::Account", "123456789012", "123456789012", "us-east-1")


def params_for(key: str, **overrides: Any) -> dict[str, Any]:
    """The rule's params as the Lambda and the CLI receive them (defaults filled)."""
    settings = load_settings({
        "regions": ["us-east-1"],
        "accounts": [{"id": "123456789012"}],
        "rules": {key: {"mode": "auto", "params": overrides}},
    })
    region = plan_account(settings, settings.accounts[0]).regions[0]
    (rule,) = region.rules
    return region.lambda_params(rule)


def group(*permissions: dict[str, Any]) -> Any:
    return restricted_admin_ports.group_state({"GroupId": "sg-0123456789abcdef0", "VpcId": "vpc-01234567", "IpPermissions": list(permissions), "Tags": []})


def world(protocol: str, low: int | None, high: int | None, cidr: str = "0.0.0.0/0") -> dict[str, Any]:
    permission: dict[str, Any] = {"IpProtocol": protocol}
    if low is not None:
        permission.update(FromPort=low, ToPort=high)
    permission["IpRanges" if ":" not in cidr else "Ipv6Ranges"] = [{"CidrIp": cidr} if ":" not in cidr else {"CidrIpv6": cidr}]
    return permission


def trails(*trail_flags: tuple[bool, bool]) -> Any:
    infos = tuple(
        cloudtrail_multi_region.TrailInfo(f"trail-{index}", f"arn:aws:cloudtrail:us-east-1:123456789012:trail/trail-{index}", multi, True, logging)
        for index, (multi, logging) in enumerate(trail_flags)
    )
    return cloudtrail_multi_region.AccountTrailsState(infos, TARGET)


def bucket_block(**flags: bool) -> Any:
    base_flags = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    return s3_bucket_public_access.PublicAccessState("some-bucket", {**base_flags, **flags})


def flow_state(*logs: tuple[str, str]) -> Any:
    return vpc_flow_logs.FlowLogState("vpc-01234567", tuple({"FlowLogId": f"fl-{i}", "FlowLogStatus": status, "TrafficType": traffic} for i, (status, traffic) in enumerate(logs)))


def trail(validation: bool) -> Any:
    return cloudtrail_log_validation.TrailState({"Name": "main", "TrailARN": "arn:aws:cloudtrail:us-east-1:123456789012:trail/main", "HomeRegion": "us-east-1", "LogFileValidationEnabled": validation}, TARGET)


EBS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def ebs(enabled: bool) -> Any:
    return ebs_default_encryption.EbsDefaultState("123456789012", "us-east-1", enabled)


def kms_key(manager: str = "CUSTOMER", spec: str = "SYMMETRIC_DEFAULT", origin: str = "AWS_KMS", key_state: str = "Enabled", rotation: bool | None = False) -> Any:
    key_id = "1234abcd-12ab-34cd-56ef-1234567890ab"
    arn = f"arn:aws:kms:us-east-1:123456789012:key/{key_id}"
    return kms_key_rotation.KeyState(key_id, arn, manager, spec, origin, key_state, None, rotation)


def password(overrides: dict[str, Any] | None) -> Any:
    if overrides is None:
        return iam_password_policy.PasswordPolicyState("123456789012", None)
    policy: dict[str, Any] = {
        "RequireUppercaseCharacters": True, "RequireLowercaseCharacters": True, "RequireSymbols": True, "RequireNumbers": True,
        "MinimumPasswordLength": 14, "PasswordReusePrevention": 24, "MaxPasswordAge": 90, "AllowUsersToChangePassword": True,
        "ExpirePasswords": True, "HardExpiry": False,
    }
    policy.update(overrides)
    return iam_password_policy.PasswordPolicyState("123456789012", {name: value for name, value in policy.items() if value is not None})


def encryption(*algorithms: str) -> Any:
    return s3_bucket_encryption.EncryptionState("some-bucket", tuple({"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": a}} for a in algorithms))


QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/orders"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:orders"


def queue(*statements: dict[str, Any]) -> Any:
    policy = json.dumps({"Version": "2012-10-17", "Statement": list(statements)}) if statements else None
    return sqs_queue_public.QueueState(QUEUE_URL, QUEUE_ARN, policy)


def grant(principal: Any, condition: dict[str, Any] | None = None, effect: str = "Allow") -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": effect, "Principal": principal, "Action": "sqs:SendMessage", "Resource": QUEUE_ARN}
    if condition is not None:
        statement["Condition"] = condition
    return statement


TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:alerts"
DEFAULT_TOPIC_STATEMENT = {
    "Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["SNS:Publish", "SNS:Subscribe"],
    "Resource": TOPIC_ARN, "Condition": {"StringEquals": {"AWS:SourceOwner": "123456789012"}},
}


def topic(*statements: dict[str, Any]) -> Any:
    return sns_topic_public.TopicState(TOPIC_ARN, json.dumps({"Version": "2008-10-17", "Statement": [DEFAULT_TOPIC_STATEMENT, *statements]}))


def snapshots(*shares: tuple[str, ...]) -> Any:
    entries = tuple(
        snapshot_fixer.SnapshotShares(f"snap-0{index:016x}", tuple(s for s in share if not s.isdigit()), tuple(s for s in share if s.isdigit())) for index, share in enumerate(shares)
    )
    return snapshot_fixer.AccountSnapshotsState("123456789012", entries)


def default_group(*rules: dict[str, Any]) -> Any:
    group = {"GroupId": "sg-0123456789abcdef0", "GroupName": "default", "VpcId": "vpc-01234567", "Tags": []}
    state = default_security_group_closed.group_state(group)
    entries = [{"SecurityGroupRuleId": f"sgr-{index:017x}", "GroupId": "sg-0123456789abcdef0", **rule} for index, rule in enumerate(rules)]
    return default_security_group_closed.with_rules(state, entries, []) if rules else state


def metadata(tokens: str | None, **options: Any) -> Any:
    metadata_options: dict[str, Any] = {"HttpEndpoint": "enabled", **options}
    if tokens is not None:
        metadata_options["HttpTokens"] = tokens
    return ec2_imdsv2.instance_state({"InstanceId": "i-0123456789abcdef0", "State": {"Name": "running"}, "MetadataOptions": metadata_options})


def retention(days: int | None, name: str = "/app/api", policy: str | None = None) -> Any:
    group: dict[str, Any] = {"logGroupName": name}
    if days is not None:
        group["retentionInDays"] = days
    if policy:
        group["retentionPolicyName"] = policy
    return log_group_retention.LogGroupState(name, group, TARGET)


def db(public: bool | None, **extra: Any) -> Any:
    instance: dict[str, Any] = {"DbiResourceId": "db-ABCDEFGHIJKLMNOPQRSTUVWXYZ", "DBInstanceIdentifier": "orders-db", "DBInstanceStatus": "available", "Engine": "postgres", **extra}
    if public is not None:
        instance["PubliclyAccessible"] = public
    return rds_public_access.instance_state(instance)


FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:api"


def function(*statements: dict[str, Any]) -> Any:
    listed = [{"Sid": f"s{index}", **statement, "Action": "lambda:InvokeFunction", "Resource": FUNCTION_ARN} for index, statement in enumerate(statements)]
    policy = json.dumps({"Version": "2012-10-17", "Id": "default", "Statement": listed}) if statements else None
    return lambda_public_access.FunctionState("api", FUNCTION_ARN, policy, "rev-1" if statements else None)


NOW = datetime(2026, 12, 1, tzinfo=UTC)


def credentials(*keys: tuple[str, int | None, int], password: tuple[int | None, int] | None = None) -> Any:
    """A user's credentials: keys (status, days since last use or None, age in days), password (days since use, age)."""
    access_keys = tuple(
        iam_unused_credentials.AccessKey(f"AKIA{index:016d}", status, NOW - timedelta(days=age), NOW - timedelta(days=used) if used is not None else None)
        for index, (status, used, age) in enumerate(keys)
    )
    created = last = None
    if password is not None:
        created = NOW - timedelta(days=password[1])
        last = NOW - timedelta(days=password[0]) if password[0] is not None else None
    return iam_unused_credentials.CredentialsState("AIDA0123456789ABCDEF0", "alice", "arn:aws:iam::123456789012:user/alice", NOW, created, last, access_keys)


def detectors(*statuses: str, administrator: str | None = None) -> Any:
    found = tuple({"detectorId": f"{index:032x}", "status": status} for index, status in enumerate(statuses))
    return guardduty_enabled.DetectorState("123456789012", found, administrator)


CASES: list[tuple[str, str, Any, dict[str, Any], str]] = [
    # rule, case, state, params, Config's verdict
    ("s3-bucket-encryption", "no default encryption", encryption(), {}, "NON_COMPLIANT"),
    ("s3-bucket-encryption", "SSE-S3", encryption("AES256"), {}, "COMPLIANT"),
    ("s3-bucket-encryption", "SSE-KMS", encryption("aws:kms"), {}, "COMPLIANT"),
    ("s3-bucket-public-access", "no configuration", s3_bucket_public_access.PublicAccessState("some-bucket", None), {}, "NON_COMPLIANT"),
    ("s3-bucket-public-access", "all four on", bucket_block(), {}, "COMPLIANT"),
    ("s3-bucket-public-access", "one flag off", bucket_block(RestrictPublicBuckets=False), {}, "NON_COMPLIANT"),
    ("s3-account-public-access", "account flag off", s3_account_public_access.PublicAccessState("123456789012", {"BlockPublicAcls": False}), {}, "NON_COMPLIANT"),
    ("restricted-admin-ports", "ssh from the world", group(world("tcp", 22, 22)), {}, "NON_COMPLIANT"),
    ("restricted-admin-ports", "rdp from ::/0", group(world("tcp", 3389, 3389, "::/0")), {}, "NON_COMPLIANT"),
    ("restricted-admin-ports", "a range covering 22", group(world("tcp", 20, 25)), {}, "NON_COMPLIANT"),
    ("restricted-admin-ports", "all traffic", group(world("-1", None, None)), {}, "NON_COMPLIANT"),
    ("restricted-admin-ports", "https from the world", group(world("tcp", 443, 443)), {}, "COMPLIANT"),
    ("restricted-admin-ports", "udp 22 from the world (TCP only)", group(world("udp", 22, 22)), {}, "COMPLIANT"),
    ("restricted-admin-ports", "ssh from a private range", group({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}), {}, "COMPLIANT"),
    ("restricted-admin-ports", "configured port 5432", group(world("tcp", 5432, 5432)), {"ports": [5432]}, "NON_COMPLIANT"),
    ("vpc-flow-logs", "no flow log", flow_state(), {}, "NON_COMPLIANT"),
    ("vpc-flow-logs", "active, all traffic", flow_state(("ACTIVE", "ALL")), {}, "COMPLIANT"),
    ("vpc-flow-logs", "only REJECT when ALL is checked", flow_state(("ACTIVE", "REJECT")), {}, "NON_COMPLIANT"),
    ("vpc-flow-logs", "REJECT checked and present", flow_state(("ACTIVE", "REJECT")), {"trafficType": "REJECT"}, "COMPLIANT"),
    ("cloudtrail-multi-region", "no trail", trails(), {"s3BucketName": "logs-bucket"}, "NON_COMPLIANT"),
    ("cloudtrail-multi-region", "multi-region, not logging", trails((True, False)), {}, "NON_COMPLIANT"),
    ("cloudtrail-multi-region", "single-region, logging", trails((False, True)), {}, "NON_COMPLIANT"),
    ("cloudtrail-multi-region", "multi-region and logging", trails((True, True)), {}, "COMPLIANT"),
    ("cloudtrail-log-validation", "validation off", trail(False), {}, "NON_COMPLIANT"),
    ("cloudtrail-log-validation", "validation on", trail(True), {}, "COMPLIANT"),
    ("s3-bucket-versioning", "never versioned", s3_bucket_versioning.VersioningState("some-bucket", None, None), {}, "NON_COMPLIANT"),
    ("s3-bucket-versioning", "suspended", s3_bucket_versioning.VersioningState("some-bucket", "Suspended", "Disabled"), {}, "NON_COMPLIANT"),
    ("s3-bucket-versioning", "suspended, MFA delete on", s3_bucket_versioning.VersioningState("some-bucket", "Suspended", "Enabled"), {}, "NON_COMPLIANT"),
    ("s3-bucket-versioning", "enabled", s3_bucket_versioning.VersioningState("some-bucket", "Enabled", None), {}, "COMPLIANT"),
    ("s3-ssl-only", "no policy", s3_ssl_only.PolicyState("some-bucket", "aws", None), {}, "NON_COMPLIANT"),
    ("s3-ssl-only", "documented deny", s3_ssl_only.PolicyState("some-bucket", "aws", json.dumps({"Statement": [s3_ssl_only.deny_statement("some-bucket", "aws")]})), {}, "COMPLIANT"),
    ("s3-ssl-only", "allow over TLS only", s3_ssl_only.PolicyState("some-bucket", "aws", json.dumps({"Statement": [{**s3_ssl_only.deny_statement("some-bucket", "aws"), "Effect": "Allow", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]})), {}, "NON_COMPLIANT"),
    ("sqs-queue-public", "no policy", queue(), {}, "COMPLIANT"),
    ("sqs-queue-public", "Principal *", queue(grant("*")), {}, "NON_COMPLIANT"),
    ("sqs-queue-public", "AWS * in a list", queue(grant({"AWS": ["111122223333", "*"]})), {}, "NON_COMPLIANT"),
    ("sqs-queue-public", "one account", queue(grant({"AWS": "arn:aws:iam::111122223333:root"})), {}, "COMPLIANT"),
    ("sqs-queue-public", "* from one topic", queue(grant("*", {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:t"}})), {}, "COMPLIANT"),
    ("sqs-queue-public", "* with a wildcard source", queue(grant("*", {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:t"}})), {}, "NON_COMPLIANT"),
    ("sqs-queue-public", "* with a negated account", queue(grant("*", {"StringNotEquals": {"aws:SourceAccount": "123456789012"}})), {}, "NON_COMPLIANT"),
    ("sqs-queue-public", "* with IfExists", queue(grant("*", {"StringEqualsIfExists": {"aws:SourceAccount": "123456789012"}})), {}, "NON_COMPLIANT"),
    ("sqs-queue-public", "* with an organization", queue(grant("*", {"StringEquals": {"aws:PrincipalOrgID": "o-abcdef1234"}})), {}, "COMPLIANT"),
    ("sqs-queue-public", "* from any address", queue(grant("*", {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})), {}, "NON_COMPLIANT"),
    ("sqs-queue-public", "* over TLS only", queue(grant("*", {"Bool": {"aws:SecureTransport": "true"}})), {}, "NON_COMPLIANT"),
    ("sqs-queue-public", "a public Deny", queue(grant("*", effect="Deny")), {}, "COMPLIANT"),
    ("sns-topic-public", "SNS's default policy", topic(), {}, "COMPLIANT"),
    ("sns-topic-public", "default plus AWS *", topic(grant({"AWS": "*"})), {}, "NON_COMPLIANT"),
    ("sns-topic-public", "* from one bucket", topic(grant("*", {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::logs"}})), {}, "COMPLIANT"),
    ("sns-topic-public", "* with a variable", topic(grant("*", {"StringEquals": {"aws:SourceAccount": "${aws:PrincipalAccount}"}})), {}, "NON_COMPLIANT"),
    ("sns-topic-public", "a service principal", topic(grant({"Service": "cloudwatch.amazonaws.com"})), {}, "COMPLIANT"),
    ("ebs-snapshot-public", "no public snapshot", snapshots(), {}, "COMPLIANT"),
    ("ebs-snapshot-public", "shared with one account only", snapshots(("111122223333",)), {}, "COMPLIANT"),
    ("ebs-snapshot-public", "one public snapshot", snapshots(("all",)), {}, "NON_COMPLIANT"),
    ("ebs-snapshot-public", "public and shared with an account", snapshots(("111122223333",), ("all", "111122223333")), {}, "NON_COMPLIANT"),
    ("ebs-default-encryption", "encryption by default off", ebs(False), {}, "NON_COMPLIANT"),
    ("ebs-default-encryption", "encryption by default on", ebs(True), {}, "COMPLIANT"),
    ("ebs-default-encryption", "off, with a key to set", ebs(False), {"kmsKeyArn": EBS_KEY}, "NON_COMPLIANT"),
    ("ebs-default-encryption", "on, whatever the default key (not checked)", ebs(True), {"kmsKeyArn": EBS_KEY}, "COMPLIANT"),
    ("kms-key-rotation", "customer symmetric key, rotation off", kms_key(), {}, "NON_COMPLIANT"),
    ("kms-key-rotation", "customer symmetric key, rotation on", kms_key(rotation=True), {}, "COMPLIANT"),
    ("kms-key-rotation", "disabled key, rotation off", kms_key(key_state="Disabled"), {}, "NON_COMPLIANT"),
    ("kms-key-rotation", "AWS managed key", kms_key(manager="AWS", rotation=None), {}, "NOT_APPLICABLE"),
    ("kms-key-rotation", "asymmetric key", kms_key(spec="RSA_2048", rotation=None), {}, "NOT_APPLICABLE"),
    ("kms-key-rotation", "imported key material", kms_key(origin="EXTERNAL", rotation=None), {}, "NOT_APPLICABLE"),
    ("kms-key-rotation", "pending deletion", kms_key(key_state="PendingDeletion", rotation=None), {}, "NOT_APPLICABLE"),
    ("default-security-group-closed", "no rules", default_group(), {}, "COMPLIANT"),
    ("default-security-group-closed", "AWS's initial rules", default_group(
        {"IsEgress": False, "IpProtocol": "-1", "ReferencedGroupInfo": {"GroupId": "sg-0123456789abcdef0", "UserId": "123456789012"}},
        {"IsEgress": True, "IpProtocol": "-1", "CidrIpv4": "0.0.0.0/0"},
    ), {}, "NON_COMPLIANT"),
    ("default-security-group-closed", "one egress rule to a prefix list", default_group({"IsEgress": True, "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "PrefixListId": "pl-12345678"}), {}, "NON_COMPLIANT"),
    ("ec2-imdsv2", "tokens optional", metadata("optional"), {}, "NON_COMPLIANT"),
    ("ec2-imdsv2", "tokens required", metadata("required"), {}, "COMPLIANT"),
    ("ec2-imdsv2", "tokens required, endpoint disabled", metadata("required", HttpEndpoint="disabled"), {}, "COMPLIANT"),
    ("ec2-imdsv2", "no HttpTokens reported (AWS's default is optional)", metadata(None), {}, "NON_COMPLIANT"),
    ("rds-public-access", "publicly accessible", db(True), {}, "NON_COMPLIANT"),
    ("rds-public-access", "private", db(False), {}, "COMPLIANT"),
    ("rds-public-access", "flag not reported", db(None), {}, "COMPLIANT"),
    ("rds-public-access", "public Aurora instance", db(True, Engine="aurora-postgresql", DBClusterIdentifier="orders"), {}, "NON_COMPLIANT"),
    ("default-security-group-closed", "one inbound rule from ::/0", default_group({"IsEgress": False, "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv6": "::/0"}), {}, "NON_COMPLIANT"),
    ("log-group-retention", "30 days, under the default 365", retention(30), {}, "NON_COMPLIANT"),
    ("log-group-retention", "never expires", retention(None), {}, "COMPLIANT"),
    ("log-group-retention", "exactly the minimum", retention(365), {}, "COMPLIANT"),
    ("log-group-retention", "longer than the minimum", retention(3653), {}, "COMPLIANT"),
    ("log-group-retention", "400 days under a configured 731", retention(400), {"minRetentionDays": 731}, "NON_COMPLIANT"),
    ("log-group-retention", "short, outside the prefixes", retention(1), {"logGroupNames": ["/prod/"]}, "NOT_APPLICABLE"),
    ("log-group-retention", "short, inside the prefixes", retention(1, "/prod/db"), {"logGroupNames": ["/prod/"]}, "NON_COMPLIANT"),
    ("log-group-retention", "short, set by an account-level policy", retention(7, policy="org-default"), {}, "NON_COMPLIANT"),
    ("ecr-scan-on-push", "scan on push off", ecr_scan_on_push.RepositoryState("repo", "arn:aws:ecr:us-east-1:123456789012:repository/repo", False), {}, "NON_COMPLIANT"),
    ("ecr-scan-on-push", "scan on push on", ecr_scan_on_push.RepositoryState("repo", "arn:aws:ecr:us-east-1:123456789012:repository/repo", True), {}, "COMPLIANT"),
    ("lambda-public-access", "no policy", function(), {}, "COMPLIANT"),
    ("lambda-public-access", "anyone may invoke", function({"Effect": "Allow", "Principal": "*"}), {}, "NON_COMPLIANT"),
    ("lambda-public-access", "public function URL", function({"Effect": "Allow", "Principal": "*", "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}}), {}, "NON_COMPLIANT"),
    ("lambda-public-access", "* from one account", function({"Effect": "Allow", "Principal": "*", "Condition": {"StringEquals": {"AWS:SourceAccount": "123456789012"}}}), {}, "COMPLIANT"),
    ("lambda-public-access", "another account", function({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}}), {}, "COMPLIANT"),
    ("rds-snapshot-public", "not shared", rds.SnapshotState(rds.DB_SNAPSHOT, "snap", ()), {}, "COMPLIANT"),
    ("rds-snapshot-public", "shared with an account", rds.SnapshotState(rds.DB_SNAPSHOT, "snap", ("111122223333",)), {}, "COMPLIANT"),
    ("rds-snapshot-public", "public", rds.SnapshotState(rds.DB_SNAPSHOT, "snap", ("all",)), {}, "NON_COMPLIANT"),
    ("rds-snapshot-public", "public cluster snapshot with a share", rds.SnapshotState(rds.CLUSTER_SNAPSHOT, "snap", ("111122223333", "all")), {}, "NON_COMPLIANT"),
    ("ssm-document-public", "not shared", ssm.DocumentShares("runbook", (), {}), {}, "COMPLIANT"),
    ("ssm-document-public", "shared with an account", ssm.DocumentShares("runbook", ("111122223333",), {}), {}, "COMPLIANT"),
    ("ssm-document-public", "public", ssm.DocumentShares("runbook", ("all",), {}), {}, "NON_COMPLIANT"),
    ("ssm-document-public", "public and shared with an account", ssm.DocumentShares("runbook", ("All", "111122223333"), {}), {}, "NON_COMPLIANT"),
    ("iam-password-policy", "no policy", password(None), {}, "NON_COMPLIANT"),
    ("iam-password-policy", "meets every default", password({}), {}, "COMPLIANT"),
    ("iam-password-policy", "stricter than every default", password({"MinimumPasswordLength": 30, "MaxPasswordAge": 30}), {}, "COMPLIANT"),
    ("iam-password-policy", "too short", password({"MinimumPasswordLength": 8}), {}, "NON_COMPLIANT"),
    ("iam-password-policy", "8 is enough when configured", password({"MinimumPasswordLength": 8}), {"MinimumPasswordLength": 8}, "COMPLIANT"),
    ("iam-password-policy", "passwords never expire", password({"MaxPasswordAge": None}), {}, "NON_COMPLIANT"),
    ("iam-password-policy", "expire too late", password({"MaxPasswordAge": 180}), {}, "NON_COMPLIANT"),
    ("iam-password-policy", "too few remembered", password({"PasswordReusePrevention": 5}), {}, "NON_COMPLIANT"),
    ("iam-password-policy", "no symbols", password({"RequireSymbols": False}), {}, "NON_COMPLIANT"),
    ("iam-password-policy", "no symbols, not required", password({"RequireSymbols": False}), {"RequireSymbols": False}, "COMPLIANT"),
    ("iam-unused-credentials", "no credentials", credentials(), {}, "COMPLIANT"),
    ("iam-unused-credentials", "key used yesterday", credentials(("Active", 1, 400)), {}, "COMPLIANT"),
    ("iam-unused-credentials", "key unused for 200 days", credentials(("Active", 200, 400)), {}, "NON_COMPLIANT"),
    ("iam-unused-credentials", "key never used, created 100 days ago", credentials(("Active", None, 100)), {}, "NON_COMPLIANT"),
    ("iam-unused-credentials", "key never used, created 10 days ago", credentials(("Active", None, 10)), {}, "COMPLIANT"),
    ("iam-unused-credentials", "inactive key unused for years", credentials(("Inactive", None, 2000)), {}, "COMPLIANT"),
    ("iam-unused-credentials", "key unused for 50 days, age 45", credentials(("Active", 50, 400)), {"maxCredentialUsageAge": 45}, "NON_COMPLIANT"),
    ("iam-unused-credentials", "password unused for 200 days", credentials(password=(200, 900)), {}, "NON_COMPLIANT"),
    ("iam-unused-credentials", "password never used, created 5 days ago", credentials(password=(None, 5)), {}, "COMPLIANT"),
    ("guardduty-enabled", "no detector", detectors(), {}, "NON_COMPLIANT"),
    ("guardduty-enabled", "enabled detector", detectors("ENABLED"), {}, "COMPLIANT"),
    ("guardduty-enabled", "suspended detector", detectors("DISABLED"), {}, "NON_COMPLIANT"),
    ("guardduty-enabled", "administered by the central account", detectors("ENABLED", administrator="111111111111"), {"centralMonitoringAccount": ["111111111111"]}, "COMPLIANT"),
    ("guardduty-enabled", "administered by another account", detectors("ENABLED", administrator="999999999999"), {"centralMonitoringAccount": ["111111111111"]}, "NON_COMPLIANT"),
    ("guardduty-enabled", "not administered, central set", detectors("ENABLED"), {"centralMonitoringAccount": ["111111111111"]}, "NON_COMPLIANT"),
    ("guardduty-enabled", "the central account itself", detectors("ENABLED"), {"centralMonitoringAccount": ["123456789012"]}, "COMPLIANT"),
]


@pytest.mark.parametrize(("key", "case", "state", "overrides", "expected"), CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES])
def test_config_verdict_and_fixer_agree(key: str, case: str, state: Any, overrides: dict[str, Any], expected: str) -> None:
    params = params_for(key, **overrides)
    assert config_verdict(key, state.to_json(), params, "some-bucket") == expected
    fixer = load_fixer(key)
    planned = fixer.plan(state, fixer.parse_params(params))
    # The fixer plans a change exactly when Config will flag the resource.
    assert (planned is not None) == (expected == "NON_COMPLIANT"), planned


def test_excluded_public_buckets_are_not_evaluated() -> None:
    params = params_for("s3-bucket-public-access", excludedPublicBuckets=["public-site"])
    state = s3_bucket_public_access.PublicAccessState("public-site", None)
    assert config_verdict("s3-bucket-public-access", state.to_json(), params, "public-site") == "NOT_APPLICABLE"


def test_every_rule_has_cases() -> None:
    assert {case[0] for case in CASES} == set(CATALOG)
