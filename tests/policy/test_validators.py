"""The policy pack's validators, on the program's real registrations and on mutated copies of them."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE

from governance.mock_program import ProgramRun, Registered, run_program
from policy import validators
from policy.validators import (
    CONFIG_RULE,
    EVENT_TARGET,
    FUNCTION,
    INVOKE_CONFIG,
    REMEDIATION,
    ROLE,
    ROLE_POLICY,
    lookup,
)
from tests.policy.support import (
    check_resource,
    check_stack,
    custom_resources,
    policy_resource,
    resource_args,
)
from tests.test_program import config_with

ACCOUNT = "111111111111"


@pytest.fixture(scope="module")
def run() -> ProgramRun:
    """One account and region with all three roles, an SSM remediation and the Lambda path."""
    return run_program(config_with(
        protectedRules=["restricted-admin-ports", "s3-bucket-encryption"],
        rules={
            "restricted-admin-ports": {"mode": "manual"},
            "s3-bucket-encryption": {"mode": "manual", "engine": "ssm"},
            "cloudtrail-log-validation": {"mode": "auto"},
            "vpc-flow-logs": {"mode": "manual"},
        },
    ))


def only(run: ProgramRun, type_token: str, contains: str = "") -> Registered:
    matches = [resource for resource in run.of_type(type_token) if contains in resource.name]
    assert len(matches) == 1, [resource.name for resource in matches]
    return matches[0]


def with_json(props: dict[str, Any], key: str, change: Any) -> dict[str, Any]:
    """A copy of ``props`` whose JSON string property ``key`` is changed by ``change(document)``."""
    changed = copy.deepcopy(props)
    document = json.loads(changed[key])
    change(document)
    changed[key] = json.dumps(document)
    return changed


def stack(run: ProgramRun, overrides: dict[str, dict[str, Any]] | None = None) -> list[Any]:
    overrides = overrides or {}
    return [policy_resource(resource, overrides.get(resource.name)) for resource in custom_resources(run)]


# --- lookup ---------------------------------------------------------------------------------------


def test_lookup_tells_missing_from_unknown_without_raising() -> None:
    props = resource_args(Registered("t", "n", {"a": {"b": UNKNOWN_STRING_VALUE, "c": None}, "l": [1]}, "", True, {}), None).props
    assert lookup(props, "a", "b") is validators.UNKNOWN
    assert lookup(props, "a", "c") is validators.MISSING
    assert lookup(props, "a", "d") is validators.MISSING
    assert lookup(props, "l", 0) == 1
    assert lookup(props, "l", 3) is validators.MISSING


# --- trust policies -------------------------------------------------------------------------------


def test_the_programs_trust_policies_pass(run: ProgramRun) -> None:
    roles = run.of_type(ROLE)
    assert {role.name.removeprefix(f"gov-{ACCOUNT}-") for role in roles} == {"ssm-automation", "remediation-lambda", "flow-logs-delivery"}
    for role in roles:
        assert check_resource(validators.validate_role_trust, resource_args(role)) == [], role.name


def test_a_trust_policy_without_source_account_fails(run: ProgramRun) -> None:
    role = only(run, ROLE, "remediation-lambda")
    props = with_json(role.inputs, "assumeRolePolicy", lambda doc: doc["Statement"][0].pop("Condition"))
    (message,) = check_resource(validators.validate_role_trust, resource_args(role, props))
    assert "lambda.amazonaws.com" in message and "aws:SourceAccount" in message
    assert role.name in message


def test_ssm_and_flow_logs_trust_also_need_source_arn(run: ProgramRun) -> None:
    for contains, service in (("ssm-automation", "ssm.amazonaws.com"), ("flow-logs", "vpc-flow-logs.amazonaws.com")):
        role = only(run, ROLE, contains)
        props = with_json(role.inputs, "assumeRolePolicy", lambda doc: doc["Statement"][0]["Condition"].pop("ArnLike"))
        (message,) = check_resource(validators.validate_role_trust, resource_args(role, props))
        assert service in message and "aws:SourceArn" in message


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}}, "without an aws:SourceAccount"),
        ({"StringLike": {"aws:SourceAccount": "*"}}, "12-digit account ids"),
        ({"StringEquals": {"aws:sourceaccount": ACCOUNT}}, None),  # condition keys are case-insensitive
    ],
)
def test_source_account_must_really_be_required(run: ProgramRun, condition: dict[str, Any], expected: str | None) -> None:
    role = only(run, ROLE, "remediation-lambda")
    props = with_json(role.inputs, "assumeRolePolicy", lambda doc: doc["Statement"][0].update(Condition=condition))
    messages = check_resource(validators.validate_role_trust, resource_args(role, props))
    assert (messages == []) if expected is None else (len(messages) == 1 and expected in messages[0])


def test_a_trust_policy_for_anyone_fails(run: ProgramRun) -> None:
    role = only(run, ROLE, "remediation-lambda")
    props = with_json(role.inputs, "assumeRolePolicy", lambda doc: doc["Statement"][0].update(Principal={"AWS": "*"}))
    (message,) = check_resource(validators.validate_role_trust, resource_args(role, props))
    assert "any principal" in message


def test_an_unknown_trust_policy_is_skipped_in_preview(run: ProgramRun) -> None:
    role = only(run, ROLE, "remediation-lambda")
    props = {**role.inputs, "assumeRolePolicy": UNKNOWN_STRING_VALUE}
    assert check_resource(validators.validate_role_trust, resource_args(role, props)) == []


# --- wildcard actions -----------------------------------------------------------------------------


def test_the_programs_role_policies_pass(run: ProgramRun) -> None:
    assert len(run.of_type(ROLE_POLICY)) == 3
    for policy in run.of_type(ROLE_POLICY):
        assert check_resource(validators.validate_no_wildcard_actions, resource_args(policy)) == [], policy.name


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ({"Effect": "Allow", "Action": "*", "Resource": "*"}, "wildcard actions ['*']"),
        ({"Effect": "Allow", "Action": ["ec2:DescribeVpcs", "ec2:*"], "Resource": "*"}, "wildcard actions ['ec2:*']"),
        ({"Effect": "Allow", "Action": "s3:Put*", "Resource": "*"}, "wildcard actions ['s3:Put*']"),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "NotAction"),
    ],
)
def test_a_wildcard_action_fails(run: ProgramRun, statement: dict[str, Any], expected: str) -> None:
    policy = only(run, ROLE_POLICY, "remediation-lambda")
    props = with_json(policy.inputs, "policy", lambda doc: doc["Statement"].append(statement))
    (message,) = check_resource(validators.validate_no_wildcard_actions, resource_args(policy, props))
    assert expected in message and policy.name in message


def test_a_deny_with_a_wildcard_is_fine(run: ProgramRun) -> None:
    policy = only(run, ROLE_POLICY, "ssm-automation")
    deny = {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    props = with_json(policy.inputs, "policy", lambda doc: doc["Statement"].append(deny))
    assert check_resource(validators.validate_no_wildcard_actions, resource_args(policy, props)) == []


def test_a_policy_that_is_not_json_fails(run: ProgramRun) -> None:
    policy = only(run, ROLE_POLICY, "ssm-automation")
    (message,) = check_resource(validators.validate_no_wildcard_actions, resource_args(policy, {**policy.inputs, "policy": "{"}))
    assert "not valid JSON" in message


# --- EventBridge targets --------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["remediation-target", "operations-notify"])
def test_the_programs_event_targets_pass(run: ProgramRun, which: str) -> None:
    """The Lambda's target and the notification target both keep what they cannot deliver."""
    target = only(run, EVENT_TARGET, which)
    assert check_resource(validators.validate_event_target_dead_letter, resource_args(target)) == []


@pytest.mark.parametrize("dead_letter", [None, {}, {"arn": ""}])
def test_an_event_target_without_dead_letter_queue_fails(run: ProgramRun, dead_letter: Any) -> None:
    target = only(run, EVENT_TARGET, "remediation-target")
    props = {key: value for key, value in target.inputs.items() if key != "deadLetterConfig"}
    if dead_letter is not None:
        props["deadLetterConfig"] = dead_letter
    (message,) = check_resource(validators.validate_event_target_dead_letter, resource_args(target, props))
    assert "deadLetterConfig.arn" in message and target.name in message


def test_a_dead_letter_queue_created_in_the_same_update_passes_in_preview(run: ProgramRun) -> None:
    target = only(run, EVENT_TARGET, "remediation-target")
    props = {**target.inputs, "deadLetterConfig": {"arn": UNKNOWN_STRING_VALUE}}
    assert check_resource(validators.validate_event_target_dead_letter, resource_args(target, props)) == []


# --- Lambda on-failure destinations ---------------------------------------------------------------


def test_the_programs_functions_have_on_failure_destinations() -> None:
    two_regions = run_program(config_with(regions=["us-east-1", "eu-west-1"], rules={"restricted-admin-ports": {"mode": "auto"}}))
    assert len(two_regions.of_type(FUNCTION)) == 2
    assert check_stack(validators.validate_lambda_on_failure, stack(two_regions)) == []


def test_a_function_without_invoke_config_fails() -> None:
    two_regions = run_program(config_with(regions=["us-east-1", "eu-west-1"], rules={"restricted-admin-ports": {"mode": "auto"}}))
    # The eu-west-1 function's config is gone; the us-east-1 one (same function name) must not count for it.
    resources = [r for r in stack(two_regions) if not (r.resource_type == INVOKE_CONFIG and "eu-west-1" in r.name)]
    ((message, urn),) = check_stack(validators.validate_lambda_on_failure, resources)
    assert "no FunctionEventInvokeConfig" in message
    assert urn is not None and "eu-west-1" in urn


def test_an_invoke_config_without_on_failure_destination_fails(run: ProgramRun) -> None:
    invoke = only(run, INVOKE_CONFIG)
    props = {**invoke.state, "destinationConfig": {"onSuccess": {"destination": "arn:aws:sqs:us-east-1:1:q"}}}
    ((message, urn),) = check_stack(validators.validate_lambda_on_failure, stack(run, {invoke.name: props}))
    assert "onFailure" in message
    assert urn is not None and urn.endswith(only(run, FUNCTION).name)


def test_unknowns_in_preview_do_not_fail_the_on_failure_check(run: ProgramRun) -> None:
    invoke, function = only(run, INVOKE_CONFIG), only(run, FUNCTION)
    overrides = {
        invoke.name: {**invoke.state, "destinationConfig": {"onFailure": {"destination": UNKNOWN_STRING_VALUE}}},
    }
    assert check_stack(validators.validate_lambda_on_failure, stack(run, overrides)) == []
    # An auto-named function's name is unknown in preview: skipped rather than reported.
    lone = {function.name: {**function.state, "name": UNKNOWN_STRING_VALUE}}
    resources = [r for r in stack(run, lone) if r.resource_type != INVOKE_CONFIG]
    assert check_stack(validators.validate_lambda_on_failure, resources) == []


def test_invoke_config_may_name_the_function_by_arn(run: ProgramRun) -> None:
    invoke, function = only(run, INVOKE_CONFIG), only(run, FUNCTION)
    by_arn = {invoke.name: {**invoke.state, "functionName": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function.inputs['name']}:live"}}
    assert check_stack(validators.validate_lambda_on_failure, stack(run, by_arn)) == []


# --- protected rules ------------------------------------------------------------------------------


def test_protected_rules_in_manual_pass(run: ProgramRun) -> None:
    assert validators.protected_rule_keys(stack(run)) == {"restricted-admin-ports", "s3-bucket-encryption"}
    assert check_stack(validators.validate_protected_rules, stack(run)) == []


def test_the_program_making_a_protected_rule_auto_is_blocked() -> None:
    auto = run_program(config_with(
        protectedRules=["restricted-admin-ports", "s3-bucket-encryption"],
        rules={"restricted-admin-ports": {"mode": "auto"}, "s3-bucket-encryption": {"mode": "auto", "engine": "ssm"}},
    ))
    messages = [message for message, _ in check_stack(validators.validate_protected_rules, stack(auto))]
    assert any("RemediationConfiguration" in m and "s3-bucket-encryption" in m for m in messages)
    assert any("Lambda function" in m and "restricted-admin-ports" in m and "rules['restricted-admin-ports']" in m for m in messages)
    assert any("Config rule governance-restricted-admin-ports" in m and "governance:mode=auto" in m for m in messages)


def test_an_automatic_remediation_on_a_protected_rule_fails(run: ProgramRun) -> None:
    remediation = only(run, REMEDIATION, "s3-bucket-encryption")
    overrides = {remediation.name: {**remediation.state, "automatic": True}}
    ((message, urn),) = check_stack(validators.validate_protected_rules, stack(run, overrides))
    assert "remediates protected rule s3-bucket-encryption" in message
    assert "governance:rules.s3-bucket-encryption.mode" in message
    assert urn is not None and urn.endswith(remediation.name)


def test_automatic_remediation_of_an_unprotected_rule_passes(run: ProgramRun) -> None:
    remediation = only(run, REMEDIATION, "cloudtrail-log-validation")
    assert remediation.inputs["automatic"] is True
    assert check_stack(validators.validate_protected_rules, stack(run)) == []


def test_a_lambda_running_a_protected_rule_in_auto_fails(run: ProgramRun) -> None:
    function = only(run, FUNCTION)
    config = json.loads(function.state["environment"]["variables"]["GOVERNANCE_CONFIG"])
    config["rules"]["restricted-admin-ports"]["mode"] = "auto"
    changed = copy.deepcopy(function.state)
    changed["environment"]["variables"]["GOVERNANCE_CONFIG"] = json.dumps(config)
    ((message, _),) = check_stack(validators.validate_protected_rules, stack(run, {function.name: changed}))
    assert "protected rule restricted-admin-ports automatically" in message


def test_security_hub_rules_are_checked_by_prefix() -> None:
    hub = run_program(config_with(
        protectedRules=["restricted-admin-ports"],
        accounts=[{"id": ACCOUNT, "roleArn": f"arn:aws:iam::{ACCOUNT}:role/deploy", "rules": {"restricted-admin-ports": {"source": "securityhub"}}}],
        rules={"restricted-admin-ports": {"mode": "auto"}},
    ))
    assert hub.of_type(CONFIG_RULE) == []  # no rule of our own: only the Lambda config says it is protected
    messages = [message for message, _ in check_stack(validators.validate_protected_rules, stack(hub))]
    assert messages and all("GOVERNANCE_CONFIG.rules['restricted-admin-ports'].mode is auto" in m for m in messages)


def test_unknown_values_are_skipped(run: ProgramRun) -> None:
    remediation, function = only(run, REMEDIATION, "s3-bucket-encryption"), only(run, FUNCTION)
    overrides = {
        remediation.name: {**remediation.state, "automatic": UNKNOWN_BOOLEAN_VALUE},
        function.name: {**function.state, "environment": {"variables": {"GOVERNANCE_CONFIG": UNKNOWN_STRING_VALUE}}},
    }
    assert check_stack(validators.validate_protected_rules, stack(run, overrides)) == []


def test_policy_config_protects_more_rules(run: ProgramRun) -> None:
    assert check_stack(validators.validate_protected_rules, stack(run), {"protectedRules": ["cloudtrail-log-validation"]}) != []
    assert check_stack(validators.validate_protected_rules, stack(run), {"protectedRules": []}) == []
