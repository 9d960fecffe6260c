"""Worst-case valid configs either fail validation with one sentence naming a key, or deploy nothing
that breaks an AWS or provider limit.

The oracle reads what the program registers under mocks (not the plan's own list of emitted values),
and checks each value against ``governance.limits``. The mocks answer with the ARNs AWS would give
(log groups and roles), so ARNs built from them have their real length.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest

from governance import limits
from governance.limits import Limit
from governance.mock_program import ProgramRun, RecordingMocks, run_program
from governance.settings import ConfigError
from tests.config_problems import assert_names_its_key, assert_one_sentence, validate
from tests.safety.figures import record as record_figure
from tests.worst_case import (
    FITTING_LAMBDA_LOG_GROUP,
    as_stack_config,
    fitting_lambda_rules,
    named_worst_case_configs,
    trimmed,
)

CONFIGS = named_worst_case_configs()
ACCOUNT_IN_NAME = re.compile(r"gov-([0-9]{12})-")


def realistic_arn(resource_type: str, logical_name: str, inputs: dict[str, Any]) -> str | None:
    """The ARN AWS would give a log group or role, or None for other types."""
    match = ACCOUNT_IN_NAME.match(logical_name)
    if match is None:
        return None
    account = match.group(1)
    if resource_type == "aws:cloudwatch/logGroup:LogGroup":
        return f"arn:aws:logs:{inputs['region']}:{account}:log-group:{inputs['name']}"
    if resource_type == "aws:iam/role:Role":
        return f"arn:aws:iam::{account}:role/{inputs['name']}"
    return None


@pytest.fixture
def real_arns(monkeypatch: pytest.MonkeyPatch) -> None:
    original = RecordingMocks.new_resource

    def new_resource(self: RecordingMocks, args: Any) -> tuple[str, dict[str, Any]]:
        resource_id, state = original(self, args)
        arn = realistic_arn(args.typ, args.name, dict(args.inputs))
        if arn is not None:
            state["arn"] = arn
            self.resources[-1].state["arn"] = arn
        return resource_id, state

    monkeypatch.setattr(RecordingMocks, "new_resource", new_resource)


def _decoded(value: Any) -> Any:
    """A provider input as a value: providers receive JSON strings, secrets arrive wrapped with their value."""
    if isinstance(value, str) and value[:1] in "[{":
        value = json.loads(value)
    if isinstance(value, dict) and "value" in value and len(value) == 2:
        return _decoded(value["value"])
    return value


def breaches(limit: Limit, value: Any, where: str) -> list[str]:
    """``where`` and the breach, when ``value`` is a string outside ``limit``."""
    if not isinstance(value, str):
        return [f"{where}: expected a string, got {type(value).__name__}"]
    problem = limits.violation(limit, value)
    return [f"{where}: {limit.what} {problem}"] if problem else []


def resource_breaches(run: ProgramRun) -> list[str]:
    """Every limit breached by a registered resource's inputs."""
    found: list[str] = []
    remediated_rules = {resource.inputs["configRuleName"] for resource in run.of_type(
        "aws:cfg/remediationConfiguration:RemediationConfiguration")}
    log_groups: Counter[tuple[str, str, str]] = Counter()
    for resource in run.resources:
        inputs, where = resource.inputs, resource.name
        kind = resource.type
        for key, value in (inputs.get("tags") or {}).items():
            found += breaches(limits.TAG_KEY, key, where) + breaches(limits.TAG_VALUE, value, where)
        if kind == "aws:cfg/rule:Rule":
            found += breaches(limits.CONFIG_RULE_NAME, inputs["name"], where)
            if inputs["name"] in remediated_rules:
                found += breaches(limits.REMEDIATION_RULE_NAME, inputs["name"], where)
            if "inputParameters" in inputs:
                found += breaches(limits.CONFIG_RULE_INPUT_PARAMETERS, inputs["inputParameters"], where)
            found += breaches(limits.CONFIG_RULE_DESCRIPTION, inputs["description"], where)
        elif kind == "aws:cfg/remediationConfiguration:RemediationConfiguration":
            parameters = inputs["parameters"]
            if len(parameters) > limits.REMEDIATION_PARAMETERS_MAX:
                found.append(f"{where}: {len(parameters)} remediation parameters")
            names = [parameter["name"] for parameter in parameters]
            if names != sorted(names):
                found.append(f"{where}: remediation parameters not sorted by name")
            for parameter in parameters:
                found += breaches(limits.REMEDIATION_PARAMETER_NAME, parameter["name"], where)
                if "staticValue" in parameter:
                    found += breaches(limits.REMEDIATION_STATIC_VALUE, parameter["staticValue"], f"{where} {parameter['name']}")
            found += breaches(limits.REMEDIATION_TARGET_ID, inputs["targetId"], where)
        elif kind == "aws:lambda/function:Function":
            found += breaches(limits.LAMBDA_FUNCTION_NAME, inputs["name"], where)
            found += breaches(limits.LAMBDA_DESCRIPTION, inputs["description"], where)
            variables = inputs["environment"]["variables"]
            for name in variables:
                found += breaches(limits.LAMBDA_ENVIRONMENT_VARIABLE_NAME, name, where)
            size = limits.lambda_environment_size(variables)
            if size > limits.LAMBDA_ENVIRONMENT.maximum:
                found.append(f"{where}: Lambda environment of {size} bytes")
        elif kind == "aws:iam/role:Role":
            found += breaches(limits.IAM_ROLE_NAME, inputs["name"], where)
            found += breaches(limits.IAM_ROLE_DESCRIPTION, inputs["description"], where)
        elif kind == "aws:iam/rolePolicy:RolePolicy":
            compact = re.sub(r"\s", "", inputs["policy"])
            found += breaches(limits.IAM_ROLE_INLINE_POLICIES, compact, where)
        elif kind == "aws:cloudwatch/logGroup:LogGroup":
            found += breaches(limits.LOG_GROUP_NAME, inputs["name"], where)
            if inputs["name"].startswith(limits.RESERVED_LOG_GROUP_PREFIX):
                found.append(f"{where}: log group name begins with {limits.RESERVED_LOG_GROUP_PREFIX}")
            log_groups[(resource.provider, inputs["region"], inputs["name"])] += 1
        elif kind == "aws:sqs/queue:Queue":
            found += breaches(limits.SQS_QUEUE_NAME, inputs["name"], where)
            found += breaches(limits.SQS_QUEUE_POLICY, inputs["policy"], where)
        elif kind == "aws:cloudwatch/eventRule:EventRule":
            found += breaches(limits.EVENT_RULE_NAME, inputs["name"], where)
            found += breaches(limits.EVENT_RULE_DESCRIPTION, inputs["description"], where)
            found += breaches(limits.EVENT_PATTERN, inputs["eventPattern"], where)
        elif kind == "pulumi:providers:aws":
            for assumed in _decoded(inputs.get("assumeRoles")) or []:
                external_id = _decoded(assumed.get("externalId"))
                if external_id is not None:
                    found += breaches(limits.STS_EXTERNAL_ID, external_id, where)
    found += [f"log group {name} created {count} times in {region}" for (_p, region, name), count in log_groups.items() if count > 1]
    return found


@pytest.mark.parametrize("name", list(CONFIGS))
def test_a_worst_case_config_is_rejected_with_named_keys_or_breaches_no_limit(name: str, real_arns: None) -> None:
    raw = CONFIGS[name]
    try:
        validate(raw)
    except ConfigError as error:
        for problem in error.problems:
            assert_one_sentence(problem)
            assert_names_its_key(problem, raw)
        record_figure("limits", "worst cases rejected", 1)
        record_figure("limits", "problems named", len(error.problems))
        return
    run = run_program(as_stack_config(trimmed(raw)))
    assert run.resources, "an accepted config deploys something"
    assert resource_breaches(run) == []
    record_figure("limits", "worst cases accepted", 1)
    record_figure("limits", "resources checked", len(run.resources))


def test_the_worst_cases_include_accepted_and_rejected_configs() -> None:
    outcomes: Counter[str] = Counter()
    for raw in CONFIGS.values():
        try:
            validate(raw)
            outcomes["accepted"] += 1
        except ConfigError:
            outcomes["rejected"] += 1
    assert outcomes["accepted"] >= 4, outcomes
    assert outcomes["rejected"] >= 3, outcomes


def test_the_oracle_sees_a_breach(real_arns: None) -> None:
    # The largest fitting config passes; one more character on every rule name is a breach the oracle reports.
    raw = trimmed(CONFIGS["ssm engine, largest params that fit, all regions"])
    run = run_program(as_stack_config(raw))
    assert resource_breaches(run) == []
    static_values = [
        parameter["staticValue"]
        for remediation in run.of_type("aws:cfg/remediationConfiguration:RemediationConfiguration")
        for parameter in remediation.inputs["parameters"]
        if "staticValue" in parameter
    ]
    # The flow-log destination ARN is built from the log group the mocks named as AWS would: exactly at the limit.
    assert max(len(value) for value in static_values) == limits.REMEDIATION_STATIC_VALUE.maximum
    for resource in run.of_type("aws:cfg/rule:Rule"):
        resource.inputs["name"] = "x" + resource.inputs["name"]
    for remediation in run.of_type("aws:cfg/remediationConfiguration:RemediationConfiguration"):
        remediation.inputs["configRuleName"] = "x" + remediation.inputs["configRuleName"]
    assert any("65 characters, over the 64 allowed" in breach for breach in resource_breaches(run))


def test_the_largest_lambda_configuration_is_the_largest_that_fits() -> None:
    """Every rule on the Lambda engine fits its 4 KB environment; one more character is refused, naming why."""
    fitting = CONFIGS["lambda engine, the largest configuration its environment holds"]
    validate(fitting)
    one_more = {**fitting, "rules": fitting_lambda_rules(FITTING_LAMBDA_LOG_GROUP + 1)}
    with pytest.raises(ConfigError) as refused:
        validate(one_more)
    assert any("Lambda environment" in problem and "over the 4,096 allowed" in problem for problem in refused.value.problems), refused.value.problems
