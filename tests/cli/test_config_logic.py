"""scan's Config verdicts follow each managed rule's documented logic, case by case, and agree with the fixers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from remediation.fixers import (
    base,
    cloudtrail_log_validation,
    cloudtrail_multi_region,
    guardduty_enabled,
    iam_unused_credentials,
    load_fixer,
    log_group_retention,
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


def encryption(*algorithms: str) -> Any:
    return s3_bucket_encryption.EncryptionState("some-bucket", tuple({"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": a}} for a in algorithms))


def retention(days: int | None, name: str = "/app/api", policy: str | None = None) -> Any:
    group: dict[str, Any] = {"logGroupName": name}
    if days is not None:
        group["retentionInDays"] = days
    if policy:
        group["retentionPolicyName"] = policy
    return log_group_retention.LogGroupState(name, group, TARGET)


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
    ("log-group-retention", "30 days, under the default 365", retention(30), {}, "NON_COMPLIANT"),
    ("log-group-retention", "never expires", retention(None), {}, "COMPLIANT"),
    ("log-group-retention", "exactly the minimum", retention(365), {}, "COMPLIANT"),
    ("log-group-retention", "longer than the minimum", retention(3653), {}, "COMPLIANT"),
    ("log-group-retention", "400 days under a configured 731", retention(400), {"minRetentionDays": 731}, "NON_COMPLIANT"),
    ("log-group-retention", "short, outside the prefixes", retention(1), {"logGroupNames": ["/prod/"]}, "NOT_APPLICABLE"),
    ("log-group-retention", "short, inside the prefixes", retention(1, "/prod/db"), {"logGroupNames": ["/prod/"]}, "NON_COMPLIANT"),
    ("log-group-retention", "short, set by an account-level policy", retention(7, policy="org-default"), {}, "NON_COMPLIANT"),
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
