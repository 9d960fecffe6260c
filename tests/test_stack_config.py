"""Invalid stack config stops the program before any resource is registered, with one clear sentence."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from governance.mock_program import RecordingMocks, run_program
from governance.settings import DEFAULTS, ConfigError, load_settings
from tests.test_program import ACCOUNT_A, ACCOUNT_B, config_with

ROLE_A = f"arn:aws:iam::{ACCOUNT_A}:role/deploy"
ROLE_B = f"arn:aws:iam::{ACCOUNT_B}:role/deploy"

CASES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown rule key", {"rules": {"s3-encryption": {"mode": "auto"}}}, "governance:rules has unknown rule 's3-encryption'"),
    (
        "unknown rule key in an account override",
        {"accounts": [{"id": ACCOUNT_A, "roleArn": ROLE_A, "rules": {"open-ports": {"mode": "auto"}}}]},
        "governance:accounts[0].rules has unknown rule 'open-ports'",
    ),
    ("bad mode", {"rules": {"vpc-flow-logs": {"mode": "fix"}}}, "governance:rules.vpc-flow-logs.mode must be one of off, detect, manual, auto"),
    ("bad engine", {"rules": {"vpc-flow-logs": {"mode": "auto", "engine": "step-functions"}}}, "governance:rules.vpc-flow-logs.engine must be one of ssm, lambda"),
    (
        "securityhub source with the ssm engine",
        {"rules": {"s3-bucket-encryption": {"mode": "auto", "engine": "ssm", "source": "securityhub"}}},
        "governance:rules.s3-bucket-encryption.source can be securityhub only with engine lambda",
    ),
    ("account id not 12 digits", {"accounts": [{"id": "12345", "roleArn": ROLE_A}]}, "governance:accounts[0].id must be a 12-digit account id string"),
    ("account id unquoted", {"accounts": [{"id": 11111111111}]}, "quote it in YAML"),
    (
        "duplicate account",
        {"accounts": [{"id": ACCOUNT_A, "roleArn": ROLE_A}, {"id": ACCOUNT_A, "roleArn": ROLE_A}]},
        "governance:accounts[1].id repeats an account",
    ),
    (
        "two accounts without roleArn",
        {"accounts": [{"id": ACCOUNT_A}, {"id": ACCOUNT_B}]},
        "governance:accounts[1].roleArn is required: at most one account may omit it",
    ),
    (
        "roleArn of another account",
        {"accounts": [{"id": ACCOUNT_A, "roleArn": ROLE_B}]},
        f"governance:accounts[0].roleArn must be a role in account {ACCOUNT_A} itself",
    ),
    ("region that is not a region", {"regions": ["us-east-7"]}, "governance:regions[0] must be a region name of partition aws"),
    (
        "account region that is not a region",
        {"accounts": [{"id": ACCOUNT_A, "roleArn": ROLE_A, "regions": ["mars-north-1"]}]},
        "governance:accounts[0].regions[0] must be a region name of partition aws",
    ),
    ("no regions at all", {"regions": None}, "governance:accounts[0].regions is required because governance:regions is not set"),
    (
        "param the rule does not take",
        {"rules": {"cloudtrail-log-validation": {"mode": "auto", "params": {"bucket": "x"}}}},
        "governance:rules.cloudtrail-log-validation.params.bucket is not a parameter of cloudtrail-log-validation; allowed: none",
    ),
    (
        "param value not allowed",
        {"rules": {"s3-bucket-encryption": {"mode": "auto", "params": {"algorithm": "DES"}}}},
        "governance:rules.s3-bucket-encryption.params.algorithm must be one of AES256, aws:kms",
    ),
    (
        "port out of range",
        {"rules": {"restricted-admin-ports": {"mode": "auto", "params": {"ports": [22, 70000]}}}},
        "governance:rules.restricted-admin-ports.params.ports must be a list of 1 to 5 distinct TCP ports",
    ),
    (
        "kms without a key",
        {"rules": {"s3-bucket-encryption": {"mode": "auto", "engine": "lambda", "params": {"algorithm": "aws:kms"}}}},
        "governance:rules.s3-bucket-encryption needs params.kmsKeyArn",
    ),
    (
        "ssm engine for ports its runbook cannot handle",
        {"rules": {"restricted-admin-ports": {"mode": "auto", "engine": "ssm", "params": {"ports": [22, 5432]}}}},
        "governance:rules.restricted-admin-ports supports only params.ports 22 and 3389 with the ssm engine",
    ),
    ("attempts above the API limit", {"remediation": {"maximumAutomaticAttempts": 30}}, "governance:remediation.maximumAutomaticAttempts must be a whole number from 1 to 25, got 30"),
    ("retry seconds below the API limit", {"remediation": {"retryAttemptSeconds": 0}}, "governance:remediation.retryAttemptSeconds must be a whole number from 1 to 2678000"),
    ("rate percentage above 100", {"remediation": {"concurrentExecutionRatePercentage": 150}}, "governance:remediation.concurrentExecutionRatePercentage must be a whole number from 1 to 100"),
    ("lambda retries above 2", {"delivery": {"lambdaRetryAttempts": 3}}, "governance:delivery.lambdaRetryAttempts must be a whole number from 0 to 2"),
    ("event age below a minute", {"delivery": {"eventMaxAgeSeconds": 10}}, "governance:delivery.eventMaxAgeSeconds must be a whole number from 60 to 86400"),
    ("retention not a CloudWatch value", {"logRetentionDays": 45}, "governance:logRetentionDays must be one of 1, 3, 5"),
    ("exemption tag in the aws: namespace", {"exemptionTag": "aws:exempt"}, "governance:exemptionTag must be a tag key"),
    ("unknown top-level key", {"rule": {}}, "governance:rule is not a setting of this program"),
    ("unknown account key", {"accounts": [{"id": ACCOUNT_A, "roleArn": ROLE_A, "region": "us-east-1"}]}, "governance:accounts[0].region is not an account setting"),
    ("accounts missing", {"accounts": None}, "governance:accounts is required"),
    ("protected rule that does not exist", {"protectedRules": ["ssh"]}, "governance:protectedRules must be a list of rule keys"),
    (
        "stack-level mode of a rule an account overrides only in params",
        {
            "rules": {"vpc-flow-logs": {"mode": "fix"}},
            "accounts": [{"id": ACCOUNT_A, "roleArn": ROLE_A, "rules": {"vpc-flow-logs": {"params": {"trafficType": "ALL"}}}}],
        },
        "governance:rules.vpc-flow-logs.mode must be one of off, detect, manual, auto",
    ),
    (
        "account id of fullwidth digits",
        {"accounts": [{"id": "\uff11" * 12, "roleArn": ROLE_A}]},
        "governance:accounts[0].id must be a 12-digit account id string",
    ),
    (
        "external id that is not ASCII",
        {"accounts": [{"id": ACCOUNT_A, "roleArn": ROLE_A, "externalId": "s\u00e9cret-id"}]},
        "governance:accounts[0].externalId must be 2-1224 characters",
    ),
    (
        "role ARN with an empty role name",
        {"accounts": [{"id": ACCOUNT_A, "roleArn": f"arn:aws:iam::{ACCOUNT_A}:role/ops/"}]},
        "governance:accounts[0].roleArn must be an IAM role ARN",
    ),
    (
        "role ARN with a role name over 64 characters",
        {"accounts": [{"id": ACCOUNT_A, "roleArn": f"arn:aws:iam::{ACCOUNT_A}:role/" + "r" * 65}]},
        "governance:accounts[0].roleArn must be an IAM role ARN",
    ),
    (
        "role ARN with a role name that is not ASCII",
        {"accounts": [{"id": ACCOUNT_A, "roleArn": f"arn:aws:iam::{ACCOUNT_A}:role/d\u00e9ploy"}]},
        "governance:accounts[0].roleArn must be an IAM role ARN",
    ),
    (
        "flow-log group in the aws/ namespace",
        {"rules": {"vpc-flow-logs": {"mode": "auto", "params": {"logGroupName": "aws/flows"}}}},
        "governance:rules.vpc-flow-logs.params.logGroupName must be a CloudWatch Logs group name",
    ),
    (
        "security hub source for ports security hub does not check",
        {"rules": {"restricted-admin-ports": {"mode": "auto", "source": "securityhub", "params": {"ports": [22, 5432]}}}},
        "governance:rules.restricted-admin-ports.source can be securityhub only when params.ports",
    ),
]


@pytest.mark.parametrize(("case", "overrides", "message"), CASES, ids=[case for case, _, _ in CASES])
def test_invalid_config_fails_before_anything_is_registered(
    case: str, overrides: dict[str, Any], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded: list[Any] = []
    original = RecordingMocks.new_resource

    def recording_new_resource(self: RecordingMocks, args: Any) -> Any:
        recorded.append(args)
        return original(self, args)

    monkeypatch.setattr(RecordingMocks, "new_resource", recording_new_resource)
    config = {key: value for key, value in config_with(**overrides).items() if value is not None}
    with pytest.raises(pulumi.RunError) as raised:
        run_program(config)
    assert message in str(raised.value)
    assert recorded == []


@pytest.mark.parametrize(("case", "overrides", "message"), CASES, ids=[case for case, _, _ in CASES])
def test_each_problem_is_one_sentence_naming_its_key(case: str, overrides: dict[str, Any], message: str) -> None:
    raw = {key.removeprefix("governance:"): value for key, value in config_with(**overrides).items() if value is not None}
    with pytest.raises(ConfigError) as raised:
        load_settings(raw)
    problems = raised.value.problems
    assert len(problems) == 1, problems
    assert problems[0].startswith("governance:")
    assert problems[0].endswith(".") and problems[0].count(". ") == 0


def test_all_problems_are_reported_together() -> None:
    raw = {"accounts": [{"id": "1"}], "logRetentionDays": 2, "rules": {"nope": {}}}
    with pytest.raises(ConfigError) as raised:
        load_settings(raw)
    assert len(raised.value.problems) == 3


def test_account_rules_merge_over_stack_rules_key_by_key() -> None:
    settings = load_settings({
        "regions": ["us-east-1"],
        "rules": {"vpc-flow-logs": {"mode": "detect", "params": {"trafficType": "REJECT"}}},
        "accounts": [
            {"id": ACCOUNT_A, "roleArn": ROLE_A, "rules": {"vpc-flow-logs": {"mode": "auto", "params": {"logGroupName": "/x"}}}},
            {"id": ACCOUNT_B, "roleArn": ROLE_B},
        ],
    })
    (rule_a,) = settings.accounts[0].rules
    assert (rule_a.mode, rule_a.engine, rule_a.params["trafficType"], rule_a.params["logGroupName"]) == ("auto", "lambda", "REJECT", "/x")
    (rule_b,) = settings.accounts[1].rules
    assert (rule_b.mode, rule_b.params["logGroupName"]) == ("detect", "/governance/vpc-flow-logs")


def test_unlisted_rules_are_off_and_defaults_apply() -> None:
    settings = load_settings({"regions": ["eu-west-1"], "accounts": [{"id": ACCOUNT_A}]})
    assert settings.accounts[0].rules == ()
    assert settings.exemption_tag == "governance:exempt"
    assert settings.remediation.maximum_automatic_attempts == 3
    assert settings.remediation.retry_attempt_seconds == 60


def project_declarations() -> dict[str, Any]:
    import yaml

    from governance.mock_program import PROJECT_ROOT

    return dict(yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text())["config"])


def test_pulumi_yaml_declares_every_setting_with_type_and_description() -> None:
    declared = {key: value for key, value in project_declarations().items() if ":" not in key}
    known = {"accounts", "regions", "rules", "remediation", "delivery", "protectedRules", "notifications", "alarms", "organization", *DEFAULTS}
    assert set(declared) == known
    for key, declaration in declared.items():
        assert declaration["type"] in ("string", "integer", "boolean", "array", "object"), key
        assert declaration["description"], key
        if key in DEFAULTS:
            assert declaration["default"] == DEFAULTS[key], key
    assert project_declarations()["pulumi:disable-default-providers"] == {"value": ["aws"]}


def test_the_clis_project_defaults_are_valid_settings() -> None:
    # The Pulumi CLI passes every declared default for keys a stack does not set.
    defaults = {key: value["default"] for key, value in project_declarations().items() if ":" not in key and "default" in value}
    settings = load_settings({**defaults, "accounts": [{"id": ACCOUNT_A, "regions": ["us-east-1"]}]})
    assert settings.accounts[0].regions == ("us-east-1",)
    with pytest.raises(ConfigError, match=r"governance:accounts\[0\]\.regions is required"):
        load_settings({**defaults, "accounts": [{"id": ACCOUNT_A}]})


def test_every_catalog_rule_has_a_lambda_fixer_under_the_same_key() -> None:
    from remediation.fixers import RULE_KEYS

    from governance.catalog import CATALOG

    assert tuple(CATALOG) == RULE_KEYS


def test_an_invalid_external_id_is_described_without_quoting_the_secret() -> None:
    secret = "s\u00e9cret-external-id-0042"
    overrides = {"accounts": [{"id": ACCOUNT_A, "roleArn": ROLE_A, "externalId": secret}]}
    raw = {key.removeprefix("governance:"): value for key, value in config_with(**overrides).items() if value is not None}
    with pytest.raises(ConfigError) as raised:
        load_settings(raw)
    message = str(raised.value)
    assert "governance:accounts[0].externalId" in message
    assert secret not in message and "cret-external" not in message
