"""scan's Config verdicts follow each managed rule's documented logic, case by case, and agree with the fixers."""

from __future__ import annotations

from typing import Any

import pytest
from remediation.fixers import (
    base,
    cloudtrail_log_validation,
    cloudtrail_multi_region,
    ebs_default_encryption,
    iam_password_policy,
    kms_key_rotation,
    load_fixer,
    restricted_admin_ports,
    s3_account_public_access,
    s3_bucket_encryption,
    s3_bucket_public_access,
    vpc_flow_logs,
)

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
