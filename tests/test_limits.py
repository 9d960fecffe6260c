"""Every AWS and provider limit on what the program emits is checked before anything is registered.

Each breach is one config error naming the stack-config key that caused it; the limits live in one
table (``governance.limits``) with their sources.
"""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pulumi
import pytest

from governance.mock_program import run_program
from governance.params import matches
from governance.plan import LAMBDA_CONFIG_VARIABLE, TERMINAL_AUTOMATION_STATUSES, RegionPlan, plan_stack
from governance.settings import ConfigError, load_settings
from tests.test_program import ACCOUNT_A, REMEDIATION, RULE, config_with

LONGEST_PREFIX = "p" * 40


def raw_config(**overrides: Any) -> dict[str, Any]:
    """A small valid stack config, keyed as ``load_settings`` takes it."""
    return {key.removeprefix("governance:"): value for key, value in config_with(**overrides).items() if value is not None}


def validate(**overrides: Any) -> None:
    """Validate a config the way the program does: settings, then the plan's limits."""
    plan_stack(load_settings(raw_config(**overrides)))


def only_problem(**overrides: Any) -> str:
    """The single problem a config is rejected with."""
    with pytest.raises(ConfigError) as raised:
        validate(**overrides)
    problems = raised.value.problems
    assert len(problems) == 1, problems
    return problems[0]


def bucket_names(count: int, length: int) -> list[str]:
    """Distinct valid bucket names of exactly ``length`` characters."""
    return [f"b{index:03d}".ljust(length, "x") for index in range(count)]


# --- names ---------------------------------------------------------------------------------------


def test_a_remediated_rule_name_over_the_providers_64_characters_is_a_prefix_error() -> None:
    problem = only_problem(
        ruleNamePrefix=LONGEST_PREFIX,
        rules={"cloudtrail-log-validation": {"mode": "auto", "engine": "ssm"}},
    )
    assert problem.startswith("governance:ruleNamePrefix "), problem
    assert "64" in problem and "65" in problem


def test_the_same_long_name_without_a_remediation_is_accepted() -> None:
    # Config itself allows 128 characters; only the provider's RemediationConfiguration stops at 64.
    validate(ruleNamePrefix=LONGEST_PREFIX, rules={"cloudtrail-log-validation": {"mode": "detect"}})


# --- Config rule InputParameters -----------------------------------------------------------------


def test_config_rule_input_parameters_over_1024_characters_name_the_param() -> None:
    problem = only_problem(
        rules={"s3-bucket-public-access": {"mode": "detect", "params": {"excludedPublicBuckets": bucket_names(16, 63)}}},
    )
    assert problem.startswith("governance:rules.s3-bucket-public-access.params.excludedPublicBuckets "), problem
    assert "1,024" in problem


def test_input_parameters_set_in_an_account_name_the_accounts_key() -> None:
    problem = only_problem(
        accounts=[{
            "id": ACCOUNT_A,
            "roleArn": f"arn:aws:iam::{ACCOUNT_A}:role/deploy",
            "rules": {"s3-bucket-public-access": {"mode": "detect", "params": {"excludedPublicBuckets": bucket_names(16, 63)}}},
        }],
    )
    assert problem.startswith("governance:accounts[0].rules.s3-bucket-public-access.params.excludedPublicBuckets "), problem


def test_input_parameters_that_fit_are_accepted() -> None:
    validate(rules={"s3-bucket-public-access": {"mode": "detect", "params": {"excludedPublicBuckets": bucket_names(15, 63)}}})


# --- Security Hub source -------------------------------------------------------------------------


def test_securityhub_source_for_ports_security_hub_does_not_check_is_a_config_error() -> None:
    config = config_with(rules={"restricted-admin-ports": {"mode": "auto", "source": "securityhub", "params": {"ports": [5432]}}})
    with pytest.raises(pulumi.RunError) as raised:
        run_program(config)
    assert "governance:rules.restricted-admin-ports.source " in str(raised.value)


# --- remediation parameters ----------------------------------------------------------------------


def test_remediation_parameters_are_sorted_by_name() -> None:
    run = run_program(config_with(rules={
        "vpc-flow-logs": {"mode": "auto", "engine": "ssm"},
        "s3-bucket-public-access": {"mode": "auto", "engine": "ssm"},
        "cloudtrail-multi-region": {"mode": "auto", "engine": "ssm", "params": {"s3BucketName": "trail-logs"}},
    }))
    remediations = run.of_type(REMEDIATION)
    assert len(remediations) == 3
    for remediation in remediations:
        names = [parameter["name"] for parameter in remediation.inputs["parameters"]]
        assert names == sorted(names), remediation.name


def test_a_static_value_over_256_characters_names_the_param() -> None:
    arn = "arn:aws:s3:::flow-log-bucket/" + "f" * 230
    problem = only_problem(rules={"vpc-flow-logs": {"mode": "auto", "engine": "ssm", "params": {"destinationType": "s3", "s3BucketArn": arn}}})
    assert problem.startswith("governance:rules.vpc-flow-logs.params.s3BucketArn "), problem
    assert "256" in problem


def test_a_long_log_group_name_that_pushes_the_destination_arn_past_256_names_the_param() -> None:
    problem = only_problem(rules={"vpc-flow-logs": {"mode": "auto", "engine": "ssm", "params": {"logGroupName": "/flows/" + "g" * 220}}})
    assert problem.startswith("governance:rules.vpc-flow-logs.params.logGroupName "), problem
    assert "256" in problem


def test_the_same_log_group_name_is_fine_for_the_lambda_engine() -> None:
    # The flow-log fixer passes LogGroupName, not an ARN, so only the log group's own 512 applies.
    validate(rules={"vpc-flow-logs": {"mode": "auto", "engine": "lambda", "params": {"logGroupName": "/flows/" + "g" * 220}}})


# --- event pattern -------------------------------------------------------------------------------


def _pattern_of_length(length: int) -> dict[str, Any]:
    pattern: dict[str, Any] = {"source": ["aws.config"], "detail": {"configRuleName": [""]}}
    overhead = len(json.dumps(pattern, sort_keys=True))
    pattern["detail"]["configRuleName"] = ["x" * (length - overhead)]
    assert len(json.dumps(pattern, sort_keys=True)) == length
    return pattern


@pytest.mark.parametrize(("length", "accepted"), [(2048, True), (2049, False)])
def test_event_pattern_guard_is_the_default_quota_of_2048(length: int, accepted: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RegionPlan, "event_pattern", property(lambda _self: _pattern_of_length(length)))
    settings = load_settings(raw_config(rules={"restricted-admin-ports": {"mode": "auto"}}))
    if accepted:
        plan_stack(settings)
        return
    with pytest.raises(ConfigError) as raised:
        plan_stack(settings)
    (problem,) = raised.value.problems
    assert problem.startswith("governance:"), problem
    assert "2,048" in problem


def test_the_event_pattern_routes_every_terminal_automation_status() -> None:
    model = botocore.session.get_session().get_service_model("ssm").shape_for("AutomationExecutionStatus")
    assert set(TERMINAL_AUTOMATION_STATUSES) <= set(model.enum)
    assert "ChangeCalendarOverrideRejected" in TERMINAL_AUTOMATION_STATUSES
    settings = load_settings(raw_config(rules={"cloudtrail-log-validation": {"mode": "auto", "engine": "ssm"}}))
    (plan,) = plan_stack(settings)
    pattern = plan.regions[0].event_pattern
    assert pattern is not None
    assert "ChangeCalendarOverrideRejected" in pattern["detail"]["Status"]


# --- scope ---------------------------------------------------------------------------------------


def test_periodic_only_rules_are_sent_without_a_scope() -> None:
    run = run_program(config_with(rules={
        "vpc-flow-logs": {"mode": "detect"},
        "cloudtrail-log-validation": {"mode": "detect"},
        "s3-bucket-public-access": {"mode": "detect"},
    }))
    scopes = {rule.inputs["name"]: rule.inputs.get("scope") for rule in run.of_type(RULE)}
    assert scopes["governance-vpc-flow-logs"] is None
    assert scopes["governance-cloudtrail-log-validation"] is None
    assert scopes["governance-s3-bucket-public-access"] == {"complianceResourceTypes": ["AWS::S3::Bucket"]}


# --- Lambda environment --------------------------------------------------------------------------


def _lambda_rules(buckets: list[str], log_group_length: int) -> dict[str, Any]:
    """Lambda-engine rules whose params fill the function's environment."""
    return {
        "s3-bucket-public-access": {"mode": "auto", "engine": "lambda", "source": "securityhub", "params": {"excludedPublicBuckets": buckets}},
        "vpc-flow-logs": {"mode": "auto", "engine": "lambda", "params": {"logGroupName": "/" + "g" * (log_group_length - 1)}},
    }


def _environment_sizes(rules: dict[str, Any]) -> tuple[int, int]:
    """(key plus config length, the variables map as JSON) of the Lambda these rules configure."""
    from governance.plan import plan_account

    settings = load_settings(raw_config(rules=rules))
    config_json = plan_account(settings, settings.accounts[0]).regions[0].lambda_config_json()
    return len(LAMBDA_CONFIG_VARIABLE) + len(config_json.encode()), len(json.dumps({LAMBDA_CONFIG_VARIABLE: config_json}).encode())


def _rules_between(low: int, high: int) -> dict[str, Any]:
    """Lambda-engine rules whose environment, as Lambda measures it, lies in (low, high]."""
    for count in range(30, 51):
        for log_group_length in range(1, 513, 7):
            rules = _lambda_rules(bucket_names(count, 63), log_group_length)
            _naive, measured = _environment_sizes(rules)
            if low < measured <= high:
                return rules
    raise AssertionError(f"no rules give an environment between {low} and {high} bytes")


def test_lambda_environment_is_measured_as_the_whole_variables_map_in_json() -> None:
    rules = _rules_between(4096, 4200)
    naive, measured = _environment_sizes(rules)
    assert naive <= 4096 < measured, (naive, measured)
    problem = only_problem(rules=rules)
    assert problem.startswith("governance:rules.s3-bucket-public-access.params.excludedPublicBuckets "), problem
    assert "4,096" in problem


def test_a_lambda_environment_that_fits_as_lambda_measures_it_is_accepted() -> None:
    validate(rules=_rules_between(4000, 4096))


def test_lambda_environment_size_counts_json_escapes() -> None:
    from governance.limits import lambda_environment_size

    assert lambda_environment_size({"A": '{"x":1}'}) == len(json.dumps({"A": '{"x":1}'}))
    assert lambda_environment_size({"A": '"'}) > len('A"')


# --- log groups ----------------------------------------------------------------------------------


def test_a_flow_log_group_named_like_the_functions_own_log_group_is_rejected() -> None:
    problem = only_problem(rules={
        "vpc-flow-logs": {"mode": "auto", "params": {"logGroupName": "/aws/lambda/governance-remediation"}},
    })
    assert problem.startswith("governance:rules.vpc-flow-logs.params.logGroupName "), problem


# --- regular expressions -------------------------------------------------------------------------


def test_parameter_patterns_accept_ascii_only() -> None:
    check = matches(r"\d{2}", "two digits")
    assert check("12") is None
    assert check("\uff11\uff12") == "must be two digits"


def test_a_role_arn_with_a_path_is_accepted() -> None:
    settings = load_settings(raw_config(accounts=[{"id": ACCOUNT_A, "roleArn": f"arn:aws:iam::{ACCOUNT_A}:role/ops/team/deploy"}]))
    assert settings.accounts[0].role_arn == f"arn:aws:iam::{ACCOUNT_A}:role/ops/team/deploy"


# --- the table -----------------------------------------------------------------------------------


def test_every_limit_has_a_source_and_a_positive_maximum() -> None:
    from governance.limits import LIMITS

    for name, limit in LIMITS.items():
        assert limit.source, name
        assert limit.maximum > 0, name
        assert limit.minimum <= limit.maximum, name
