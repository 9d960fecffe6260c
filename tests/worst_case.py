"""Worst-case stack configs: every value at the edge of what the settings loader accepts.

Longest rule-name prefix, largest params, every rule on both engines and both sources, many accounts
and regions (with the longest region names), long role ARNs, external ids and labels. Some of these
configs are meant to be rejected by the plan's limits (a 40-character prefix on an SSM remediation),
others are the largest that fit. Tests replay them through the program; any test may reuse them.

Configs are keyed as ``load_settings`` takes them (no ``governance:`` namespace); ``as_stack_config``
adds it for ``run_program``.
"""

from __future__ import annotations

import copy
from typing import Any

from governance.catalog import CATALOG
from governance.settings import regions_of

LONGEST_PREFIX = ("Gov_-" * 8)[:40]
"""The longest prefix the settings accept (40 characters of every allowed kind)."""
LONGEST_KEY = max(CATALOG, key=len)
FITTING_PREFIX = LONGEST_PREFIX[: 64 - len(LONGEST_KEY)]
"""The longest prefix that keeps every remediated rule's name within the provider's 64 characters."""
ALL_REGIONS = sorted(regions_of("aws"))
LONGEST_REGIONS = sorted(ALL_REGIONS, key=lambda region: (-len(region), region))
LONG_LABEL = ("Account label " * 5)[:63] + "z"
EXTERNAL_ID = ("ext+=,.@:/-" * 112)[:1224]
LONGEST_TAG = ("governance:exempt/" * 8)[:128]
BUCKET = ("worst-case-bucket." * 4)[:62] + "z"
TRAIL_NAME = ("Trail_name-" * 12)[:127] + "z"
ADMIN_PORTS_SSM = [22, 3389]
ADMIN_PORTS_MAX = [22, 3389, 1, 65535, 5432]


def account_id(index: int) -> str:
    """A distinct 12-digit account id."""
    return f"{100000000000 + index:012d}"


def role_arn(account: str, partition: str = "aws") -> str:
    """The longest role ARN the settings accept: a 510-character path and a 64-character role name."""
    path = ("deploy/path-" * 43)[:509] + "/"
    name = ("Governance+=,.@_-Deploy" * 3)[:64]
    return f"arn:{partition}:iam::{account}:role/{path}{name}"


def bucket_names(count: int, length: int = 63) -> list[str]:
    """Distinct valid S3 bucket names of ``length`` characters."""
    return [f"b{index:03d}-".ljust(length - 1, "x") + "z" for index in range(count)]


def log_group_name(length: int) -> str:
    """A valid CloudWatch Logs group name of exactly ``length`` characters."""
    return ("/governance/flow-logs#" * 24)[: length - 1] + "z"


def flow_log_group_arn_room(region: str, partition: str = "aws") -> int:
    """The longest log group name whose ARN in ``region`` fits a remediation static value (256)."""
    return 256 - len(f"arn:{partition}:logs:{region}:{account_id(0)}:log-group:")


def s3_bucket_arn(length: int) -> str:
    """A bucket ARN with a folder, of exactly ``length`` characters."""
    base = f"arn:aws:s3:::{BUCKET}/"
    return base + ("flow-logs/" * 30)[: length - len(base) - 1] + "z"


def _param_names(key: str) -> set[str]:
    return {spec.name for spec in CATALOG[key].params}


def _encryption_params(engine: str) -> dict[str, Any]:
    # SSE-KMS needs a key ARN under whichever name the catalog declares; the ssm engine supports AES256 only.
    names = _param_names("s3-bucket-encryption")
    key_param = next((name for name in ("kmsKeyArn", "kmsKeyId") if name in names), None)
    if engine == "lambda" and key_param:
        # One key per region (S3 uses only a key of the bucket's own region): the largest valid list.
        return {"algorithm": "aws:kms", key_param: [f"arn:aws:kms:{region}:{account_id(0)}:key/mrk-{'0' * 32}" for region in ALL_REGIONS]}
    return {"algorithm": "AES256"}


def _ebs_params(engine: str) -> dict[str, Any]:
    # The ssm engine cannot set a key; on lambda, one key per region (EBS uses a key of its own region only).
    if engine == "lambda":
        return {"kmsKeyArn": [f"arn:aws:kms:{region}:{account_id(0)}:key/mrk-{'1' * 32}" for region in ALL_REGIONS]}
    return {}


def every_rule(engine: str, *, buckets: int, log_group_length: int, mode: str = "auto", source: str = "own") -> dict[str, Any]:
    """Every rule in ``mode`` on ``engine`` (lambda where a rule has no runbook) with large params."""
    ssm = engine == "ssm"
    rules: dict[str, Any] = {
        "s3-bucket-encryption": {"params": _encryption_params(engine)},
        "s3-bucket-public-access": {"params": {"excludedPublicBuckets": bucket_names(buckets)}},
        "s3-account-public-access": {},
        "restricted-admin-ports": {"params": {"ports": ADMIN_PORTS_SSM if ssm or source == "securityhub" else ADMIN_PORTS_MAX}},
        "vpc-flow-logs": {"params": {"trafficType": "REJECT", "logGroupName": log_group_name(log_group_length)}},
        "cloudtrail-multi-region": {"params": {"s3BucketName": BUCKET, "trailName": TRAIL_NAME}},
        "cloudtrail-log-validation": {},
        "s3-bucket-versioning": {},
        "s3-ssl-only": {},
        "sqs-queue-public": {},
        "sns-topic-public": {},
        "ebs-snapshot-public": {},
        "ebs-default-encryption": {"params": _ebs_params(engine)},
        "kms-key-rotation": {},
        "default-security-group-closed": {"params": {"evenWhenInUse": True}},
        "ec2-imdsv2": {"params": {"metadataNoTokenDays": 455}},
        "rds-public-access": {},
        "ecr-scan-on-push": {},
        "lambda-public-access": {},
        "rds-snapshot-public": {},
        "ssm-document-public": {},
        "iam-password-policy": {"params": {"MinimumPasswordLength": 128, "PasswordReusePrevention": 24, "MaxPasswordAge": 1095, "RequireSymbols": False}},
        # With source securityhub, only the params Security Hub's own rules use (their defaults).
        "log-group-retention": {"params": {} if source == "securityhub" else {"minRetentionDays": 3653, "logGroupNames": [f"/aws/lambda/team-{index:02d}-" for index in range(5)]}},
        "iam-unused-credentials": {"params": {} if source == "securityhub" else {"maxCredentialUsageAge": 3650}},
        "guardduty-enabled": {"params": {} if source == "securityhub" else {"centralMonitoringAccount": [account_id(index) for index in range(5)]}},
    }
    for key, settings in rules.items():
        entry = CATALOG[key]
        settings["mode"] = mode
        settings["engine"] = engine if engine in entry.engines else "lambda"
        if engine == "ssm" and settings["engine"] == "lambda":
            # The ssm configs are about SSM's limits; a rule without a runbook still deploys its Config rule (whose
            # limits are checked) but only detects, so the Lambda's 4 KB environment is measured by the lambda configs.
            settings["mode"] = "detect"
        if source == "securityhub" and settings["engine"] == "lambda":
            settings["source"] = "securityhub"
    return rules


def accounts(count: int, regions: list[str] | None = None) -> list[dict[str, Any]]:
    """``count`` accounts with the longest role ARNs, external ids and labels."""
    result = []
    for index in range(count):
        account: dict[str, Any] = {
            "id": account_id(index),
            "name": LONG_LABEL,
            "roleArn": role_arn(account_id(index)),
            "externalId": EXTERNAL_ID,
        }
        if regions is not None:
            account["regions"] = regions
        result.append(account)
    return result


def _stack(prefix: str, rules: dict[str, Any], account_list: list[dict[str, Any]], regions: list[str]) -> dict[str, Any]:
    return {
        "ruleNamePrefix": prefix,
        "exemptionTag": LONGEST_TAG,
        "logRetentionDays": 3653,
        "securityHubUpdates": True,
        "protectedRules": sorted(CATALOG),
        "regions": regions,
        "accounts": account_list,
        "rules": rules,
        "remediation": {
            "maximumAutomaticAttempts": 25,
            "retryAttemptSeconds": 2678000,
            "concurrentExecutionRatePercentage": 100,
            "errorPercentage": 100,
        },
        "delivery": {"eventRetryAttempts": 185, "eventMaxAgeSeconds": 86400, "lambdaRetryAttempts": 2, "lambdaMaxAgeSeconds": 21600},
    }


def _mixed_accounts(count: int) -> list[dict[str, Any]]:
    """Accounts that each override the stack's rules differently: engines, modes, sources and params."""
    result = accounts(count, regions=LONGEST_REGIONS[: 3 + count % 4])
    for index, account in enumerate(result):
        engine = "ssm" if index % 2 else "lambda"
        mode = ("auto", "manual", "detect")[index % 3]
        source = "securityhub" if index % 4 == 3 else "own"
        account["rules"] = every_rule(engine, buckets=4 + index % 8, log_group_length=60 + index, mode=mode, source=source)
    return result


FITTING_LAMBDA_LOG_GROUP = 316
"""Length of the flow-log group name that, beside every other rule, fills the Lambda's 4 KB environment."""


def fitting_lambda_rules(log_group_length: int = FITTING_LAMBDA_LOG_GROUP) -> dict[str, Any]:
    """Every rule on the lambda engine with params as large as the Lambda's 4 KB environment holds for all 25 together.

    15 excluded buckets are as many as the Config rule's 1,024-character InputParameters hold; the
    flow-log group name, which only the Lambda receives, takes the rest of the environment.
    """
    rules = every_rule("lambda", buckets=15, log_group_length=log_group_length)
    rules["cloudtrail-multi-region"]["params"] = {"s3BucketName": BUCKET}
    rules["log-group-retention"]["params"] = {"minRetentionDays": 3653, "logGroupNames": ["/aws/lambda/team-00-"]}
    return rules


def _stack_rules_for_overrides() -> dict[str, Any]:
    # Account overrides merge their params over the stack's: params that hold only on one engine or source
    # (a KMS key for EBS, Security Hub's fixed values) stay in the accounts that choose it.
    rules = every_rule("lambda", buckets=3, log_group_length=40)
    for key in ("ebs-default-encryption", "log-group-retention", "iam-unused-credentials", "guardduty-enabled"):
        rules[key].pop("params", None)
    return rules


def named_worst_case_configs() -> dict[str, dict[str, Any]]:
    """Worst-case configs by a name that says what is extreme about each."""
    fitting_log_group = flow_log_group_arn_room(LONGEST_REGIONS[0])
    fitted_ssm = every_rule("ssm", buckets=15, log_group_length=fitting_log_group)
    s3_destination = copy.deepcopy(fitted_ssm)
    s3_destination["vpc-flow-logs"]["params"] = {"destinationType": "s3", "s3BucketArn": s3_bucket_arn(256)}
    s3_destination_over = copy.deepcopy(s3_destination)
    s3_destination_over["vpc-flow-logs"]["params"]["s3BucketArn"] = s3_bucket_arn(257)
    return {
        "ssm engine, largest params, longest prefix": _stack(
            LONGEST_PREFIX, every_rule("ssm", buckets=50, log_group_length=512), accounts(3), ALL_REGIONS
        ),
        "ssm engine, largest params that fit, all regions": _stack(FITTING_PREFIX, fitted_ssm, accounts(3), ALL_REGIONS),
        "ssm engine, log group one past the destination ARN limit": _stack(
            FITTING_PREFIX, every_rule("ssm", buckets=15, log_group_length=fitting_log_group + 1), accounts(2), LONGEST_REGIONS[:2]
        ),
        "ssm engine, flow logs to the longest S3 destination": _stack(FITTING_PREFIX, s3_destination, accounts(2), ALL_REGIONS),
        "ssm engine, S3 destination one past 256": _stack(FITTING_PREFIX, s3_destination_over, accounts(2), LONGEST_REGIONS[:2]),
        "lambda engine, largest params, longest prefix": _stack(
            LONGEST_PREFIX, every_rule("lambda", buckets=50, log_group_length=512), accounts(3), ALL_REGIONS
        ),
        "lambda engine, moderate params, longest prefix": _stack(
            LONGEST_PREFIX, every_rule("lambda", buckets=10, log_group_length=300), accounts(3), ALL_REGIONS
        ),
        "lambda engine, the largest configuration its environment holds": {
            **_stack("", fitting_lambda_rules(), accounts(3), ALL_REGIONS),
            "protectedRules": sorted(CATALOG)[:3],  # each protected key is in the environment too
        },
        "security hub sources, longest prefix": _stack(
            LONGEST_PREFIX, every_rule("lambda", buckets=15, log_group_length=200, source="securityhub"), accounts(2), ALL_REGIONS
        ),
        "manual mode everywhere, empty prefix": _stack("", every_rule("ssm", buckets=15, log_group_length=150, mode="manual"), accounts(2), ALL_REGIONS),
        "many accounts with their own overrides": _stack(FITTING_PREFIX, _stack_rules_for_overrides(), _mixed_accounts(12), ALL_REGIONS),
    }


def worst_case_configs() -> list[dict[str, Any]]:
    """Every worst-case config, as a list of stack-config dicts (keys without the namespace)."""
    return list(named_worst_case_configs().values())


def as_stack_config(raw: dict[str, Any]) -> dict[str, Any]:
    """The same config keyed as the Pulumi CLI passes it (``governance:<key>``), for ``run_program``."""
    return {f"governance:{key}": value for key, value in raw.items()}


def trimmed(raw: dict[str, Any], account_count: int = 2) -> dict[str, Any]:
    """A smaller config with the same extremes: the first accounts, each with its home region and the longest-named one.

    Every emitted value depends on one account and one region only (names, params, ARNs), so the
    longest region name gives the longest values; this keeps a run of the program under mocks quick.
    """
    smaller = copy.deepcopy(raw)
    smaller["accounts"] = smaller["accounts"][:account_count]
    for account in smaller["accounts"]:
        regions = account.get("regions", smaller["regions"])
        account["regions"] = list(dict.fromkeys([regions[0], *sorted(regions, key=lambda region: (-len(region), region))[:1]]))
    return smaller
