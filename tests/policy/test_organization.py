"""The policy pack on organization mode: the hub's stack sets, their member templates, the hub bus and Lambda."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE

from governance.mock_program import ProgramRun, Registered, run_program
from policy import validators
from policy.validators import EVENT_BUS_POLICY, FUNCTION, STACK_SET, STACK_SET_INSTANCE
from tests.policy.support import (
    analyze,
    analyze_stack,
    check_resource,
    check_stack,
    custom_resources,
    evaluate_pack,
    policy_resource,
    provider_inputs,
    provider_urn,
    resource_args,
    urn_of,
)
from tests.test_organization_program import EXCLUDED, HUB, OTHER, OVERRIDES, namespaced, org_stack

PROTECTED = ["ec2-imdsv2", "s3-account-public-access"]
"""Rules the organization stack protects: manual in every profile (a lambda-engine rule and an SSM one)."""
PROTECTED_SSM_RULE = "s3-account-public-access"
HUB_ROLE = f"arn:aws:iam::{HUB}:role/governance-remediation-lambda"
Template = dict[str, Any]


@cache
def org_run() -> ProgramRun:
    """Three rule profiles in two regions, with excluded accounts and protected rules."""
    return run_program(namespaced(org_stack(overrides=OVERRIDES, exclude=EXCLUDED, protectedRules=PROTECTED)))


def provider(run: ProgramRun, resource: Registered) -> dict[str, Any]:
    """The inputs of ``resource``'s provider (the hub's, pinned to the hub account); none for a provider itself."""
    return dict(provider_inputs(run).get(provider_urn(resource).rsplit("::", 1)[-1], {}))


def template(resource: Registered) -> Template:
    parsed: Template = json.loads(resource.inputs["templateBody"])
    return parsed


def of_kind(template_: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    return {logical: resource for logical, resource in template_["Resources"].items() if resource["Type"] == resource_type}


def stack_sets_with(run: ProgramRun, resource_type: str) -> list[Registered]:
    """The stack sets whose template holds a resource of ``resource_type``."""
    found = [stack_set for stack_set in run.of_type(STACK_SET) if of_kind(template(stack_set), resource_type)]
    assert found, resource_type
    return found


def remediation_of(template_: Template, rule_key: str) -> tuple[str, dict[str, Any]]:
    """The logical id and resource of the template's remediation for ``rule_key`` (its rule is named prefix + key)."""
    (found,) = [
        (logical, resource) for logical, resource in of_kind(template_, "AWS::Config::RemediationConfiguration").items()
        if resource["Properties"]["ConfigRuleName"].endswith(rule_key)
    ]
    return found


def with_template(resource: Registered, change: Callable[[Template], Any], props: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy of a stack set's props whose template is changed by ``change(template)``."""
    changed = copy.deepcopy(resource.inputs if props is None else props)
    body = json.loads(changed["templateBody"])
    change(body)
    changed["templateBody"] = json.dumps(body)
    return changed


def stack(run: ProgramRun, overrides: dict[str, dict[str, Any]] | None = None, *, with_providers: bool = True) -> list[Any]:
    """What a stack policy receives: every resource's outputs (``overrides`` by logical name) and its provider."""
    overrides = overrides or {}
    return [
        policy_resource(resource, overrides.get(resource.name), provider(run, resource) if with_providers else None)
        for resource in custom_resources(run)
    ]


def protected_rule_messages(run: ProgramRun, overrides: dict[str, dict[str, Any]] | None = None, config: Any = None) -> list[tuple[str, str | None]]:
    return check_stack(validators.validate_protected_rules, stack(run, overrides), config)


# --- the whole pack -------------------------------------------------------------------------------


def test_the_organization_stack_passes_the_pack() -> None:
    run = org_run()
    assert {STACK_SET, STACK_SET_INSTANCE, EVENT_BUS_POLICY, FUNCTION} <= {resource.type for resource in run.resources}
    assert evaluate_pack(run) == []


def test_the_organization_stack_passes_on_the_wire() -> None:
    run = org_run()
    for resource in custom_resources(run):
        assert analyze(resource, provider=provider(run, resource)) == [], resource.name
    assert analyze_stack(((resource, resource.state) for resource in custom_resources(run)), providers=provider_inputs(run)) == []


def test_preview_unknowns_neither_fail_nor_skip_a_whole_policy_on_the_wire() -> None:
    run = org_run()
    unknown = {STACK_SET: "templateBody", EVENT_BUS_POLICY: "policy", STACK_SET_INSTANCE: "callAs"}
    for resource in custom_resources(run):
        if resource.type in unknown:
            props = {**resource.inputs, unknown[resource.type]: UNKNOWN_STRING_VALUE}
            assert analyze(resource, props, provider=provider(run, resource)) == [], resource.name
    outputs = [(resource, {**resource.state, "arn": UNKNOWN_STRING_VALUE, "templateBody": UNKNOWN_STRING_VALUE}) for resource in custom_resources(run)]
    assert analyze_stack(outputs, providers=provider_inputs(run)) == []


def test_a_violation_on_the_wire_names_its_policy() -> None:
    run = org_run()
    stack_set = run.of_type(STACK_SET)[0]
    (violation,) = analyze(stack_set, {**stack_set.inputs, "callAs": "SELF"}, provider=provider(run, stack_set))
    assert violation.policy == "organization-stack-sets"
    assert stack_set.inputs["name"] in violation.message


def test_the_hub_account_reaches_the_policy_with_the_provider_on_the_wire() -> None:
    run = org_run()
    (stack_set, *_) = member_role_stack_sets()
    elsewhere = {**provider(run, stack_set), "allowedAccountIds": json.dumps([OTHER])}
    violations = analyze(stack_set, provider=elsewhere)
    assert violations and {violation.policy for violation in violations} == {"member-role-trusts-hub-only"}


def test_a_protected_rule_automatic_in_members_is_blocked_on_the_wire() -> None:
    run = run_program(namespaced(org_stack(protectedRules=["s3-bucket-encryption"])))
    violations = analyze_stack(((resource, resource.state) for resource in custom_resources(run)), providers=provider_inputs(run))
    flagged = {violation.urn for violation in violations if "\nStackSet " in violation.message}
    assert flagged == automatic_remediations(run, "s3-bucket-encryption")
    assert {violation.policy for violation in violations} == {"protected-rules-never-auto"}


# --- protected rules in member templates and in the hub Lambda --------------------------------------


def test_protected_rules_in_manual_pass_in_every_profile() -> None:
    run = org_run()
    assert validators.protected_rule_keys(stack(run)) == set(PROTECTED)
    assert validators.rule_name_prefixes(stack(run)) == {"governance-"}
    # Not vacuous: the protected SSM rule has a remediation in member templates, manual.
    for stack_set in stack_sets_with(run, "AWS::Config::RemediationConfiguration"):
        _, remediation = remediation_of(template(stack_set), PROTECTED_SSM_RULE)
        assert remediation["Properties"]["Automatic"] is False
    assert protected_rule_messages(run) == []


def automatic_remediations(run: ProgramRun, rule_key: str) -> set[str]:
    """URNs of the stack sets whose template remediates ``rule_key`` automatically (read without the pack)."""
    return {
        urn_of(stack_set) for stack_set in run.of_type(STACK_SET)
        for resource in of_kind(template(stack_set), "AWS::Config::RemediationConfiguration").values()
        if resource["Properties"]["ConfigRuleName"] == f"governance-{rule_key}" and resource["Properties"]["Automatic"] is True
    }


def test_the_program_remediating_a_protected_rule_automatically_in_members_is_blocked() -> None:
    # The base profile remediates s3-bucket-encryption automatically with SSM; the first override makes it manual.
    run = run_program(namespaced(org_stack(overrides=OVERRIDES, protectedRules=["s3-bucket-encryption"])))
    expected = automatic_remediations(run, "s3-bucket-encryption")
    assert expected and len(expected) < len(run.of_type(STACK_SET))
    reported = [(message, urn) for message, urn in protected_rule_messages(run) if message.startswith("StackSet ")]
    assert {urn for _, urn in reported} == expected
    for message, _ in reported:
        assert "remediates protected rule s3-bucket-encryption automatically in member accounts" in message
        assert "Config rule governance-s3-bucket-encryption" in message and "governance:rules.s3-bucket-encryption" in message


def set_automatic(value: Any, rule_key: str = PROTECTED_SSM_RULE) -> Callable[[Template], None]:
    def change(template_: Template) -> None:
        _, remediation = remediation_of(template_, rule_key)
        remediation["Properties"]["Automatic"] = value
    return change


def rule_name_by_reference(template_: Template) -> None:
    """The remediation names its rule by ``Ref`` to the rule resource, as a template may."""
    _, remediation = remediation_of(template_, PROTECTED_SSM_RULE)
    (rule_id,) = [rule for rule, resource in of_kind(template_, "AWS::Config::ConfigRule").items()
                  if resource["Properties"]["ConfigRuleName"] == remediation["Properties"]["ConfigRuleName"]]
    remediation["Properties"].update(Automatic=True, ConfigRuleName={"Ref": rule_id})


def rule_name_by_mapping(template_: Template) -> None:
    """The remediation's rule name differs by region, through a mapping."""
    _, remediation = remediation_of(template_, PROTECTED_SSM_RULE)
    name = remediation["Properties"]["ConfigRuleName"]
    template_["Mappings"] = {"Names": {"us-east-1": {"Rule": name}, "eu-west-1": {"Rule": f"{name}-eu"}}}
    remediation["Properties"].update(Automatic=True, ConfigRuleName={"Fn::FindInMap": ["Names", {"Ref": "AWS::Region"}, "Rule"]})


def excluded_accounts_condition(template_: Template) -> None:
    """The remediation deploys in some accounts only (a ``Condition``): it must pass in every account all the same."""
    _, remediation = remediation_of(template_, PROTECTED_SSM_RULE)
    template_.setdefault("Conditions", {})["Governed"] = {"Fn::Not": [{"Fn::Equals": [{"Ref": "AWS::AccountId"}, "444444444444"]}]}
    remediation.update(Condition="Governed")
    remediation["Properties"]["Automatic"] = True


@pytest.mark.parametrize(
    "change",
    [
        set_automatic(True),
        set_automatic("true"),
        set_automatic({"Fn::If": ["IsFirstRegion", True, False]}),
        rule_name_by_reference,
        rule_name_by_mapping,
        excluded_accounts_condition,
    ],
    ids=["true", "string-true", "fn-if", "ref", "find-in-map", "condition"],
)
def test_an_automatic_remediation_of_a_protected_rule_in_any_profile_fails(change: Callable[[Template], None]) -> None:
    run = org_run()
    for stack_set in stack_sets_with(run, "AWS::Config::RemediationConfiguration"):
        logical, _ = remediation_of(template(stack_set), PROTECTED_SSM_RULE)
        ((message, urn),) = protected_rule_messages(run, {stack_set.name: with_template(stack_set, change, stack_set.state)})
        assert urn == urn_of(stack_set)
        assert f"StackSet {stack_set.inputs['name']} remediates protected rule {PROTECTED_SSM_RULE} automatically" in message
        assert logical in message


def test_an_automatic_remediation_of_a_rule_the_pack_cannot_name_fails() -> None:
    run = org_run()
    (stack_set, *_) = stack_sets_with(run, "AWS::Config::RemediationConfiguration")

    def unreadable(template_: Template) -> None:
        _, remediation = remediation_of(template_, "ebs-default-encryption")
        remediation["Properties"].update(Automatic=True, ConfigRuleName={"Fn::Join": ["", ["governance-", "ebs-default-encryption"]]})

    logical, _ = remediation_of(template(stack_set), "ebs-default-encryption")
    ((message, urn),) = protected_rule_messages(run, {stack_set.name: with_template(stack_set, unreadable, stack_set.state)})
    assert urn == urn_of(stack_set) and logical in message and "cannot read" in message


def test_an_automatic_remediation_of_an_unprotected_rule_passes() -> None:
    run = org_run()
    (stack_set, *_) = stack_sets_with(run, "AWS::Config::RemediationConfiguration")
    changed = with_template(stack_set, set_automatic(True, "ebs-default-encryption"), stack_set.state)
    assert protected_rule_messages(run, {stack_set.name: changed}) == []


def test_the_hub_lambda_running_a_protected_rule_in_auto_fails() -> None:
    run = org_run()
    overrides = {}
    for function in run.of_type(FUNCTION):
        config = json.loads(function.state["environment"]["variables"]["GOVERNANCE_CONFIG"])
        assert "organization" in config and config["rules"]["ec2-imdsv2"]["mode"] == "manual"
        config["rules"]["ec2-imdsv2"]["mode"] = "auto"
        changed = copy.deepcopy(function.state)
        changed["environment"]["variables"]["GOVERNANCE_CONFIG"] = json.dumps(config)
        overrides[function.name] = changed
    reported = protected_rule_messages(run, overrides)
    assert {urn for _, urn in reported} == {urn_of(function) for function in run.of_type(FUNCTION)}
    assert all("protected rule ec2-imdsv2 automatically" in message for message, _ in reported)


def test_policy_config_protects_rules_of_member_templates() -> None:
    run = org_run()
    reported = protected_rule_messages(run, config={"protectedRules": ["s3-bucket-encryption"]})
    assert {urn for message, urn in reported if message.startswith("StackSet ")} == automatic_remediations(run, "s3-bucket-encryption")


def test_in_preview_unknown_templates_are_skipped_and_an_unknown_lambda_config_still_leaves_rule_names_readable() -> None:
    run = org_run()
    protect = {"protectedRules": ["s3-bucket-encryption"]}
    unknown_templates = {stack_set.name: {**stack_set.state, "templateBody": UNKNOWN_STRING_VALUE} for stack_set in run.of_type(STACK_SET)}
    assert [message for message, _ in protected_rule_messages(run, config=protect) if message.startswith("StackSet ")]
    assert [message for message, _ in protected_rule_messages(run, unknown_templates, protect) if message.startswith("StackSet ")] == []
    # The Lambda's config (protected rules and rule-name prefix) unknown: policy config protects, names match by key.
    unknown_config = {
        function.name: {**function.state, "environment": {"variables": {"GOVERNANCE_CONFIG": UNKNOWN_STRING_VALUE}}}
        for function in run.of_type(FUNCTION)
    }
    (stack_set, *_) = stack_sets_with(run, "AWS::Config::RemediationConfiguration")
    automatic = {**unknown_config, stack_set.name: with_template(stack_set, set_automatic(True), stack_set.state)}
    assert protected_rule_messages(run, unknown_config) == []
    ((message, urn),) = protected_rule_messages(run, automatic, {"protectedRules": [PROTECTED_SSM_RULE]})
    assert urn == urn_of(stack_set) and PROTECTED_SSM_RULE in message
    automatic_unknown = {**unknown_config, stack_set.name: with_template(stack_set, set_automatic(UNKNOWN_BOOLEAN_VALUE), stack_set.state)}
    assert protected_rule_messages(run, automatic_unknown, {"protectedRules": [PROTECTED_SSM_RULE]}) == []


# --- stack sets -----------------------------------------------------------------------------------


def test_the_programs_stack_sets_and_instances_pass() -> None:
    run = org_run()
    resources = run.of_type(STACK_SET) + run.of_type(STACK_SET_INSTANCE)
    assert len(run.of_type(STACK_SET)) == 6 and run.of_type(STACK_SET_INSTANCE)
    for resource in resources:
        assert check_resource(validators.validate_stack_sets, resource_args(resource)) == [], resource.name


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"permissionModel": "SELF_MANAGED"}, "permissionModel is 'SELF_MANAGED'; it must be 'SERVICE_MANAGED'"),
        ({"permissionModel": None}, "permissionModel is absent; it must be 'SERVICE_MANAGED'"),
        ({"autoDeployment": {"enabled": False, "retainStacksOnAccountRemoval": False}}, "autoDeployment.enabled is False; it must be True"),
        ({"autoDeployment": None}, "autoDeployment.enabled is absent; it must be True"),
        ({"callAs": "SELF"}, "callAs is 'SELF'; it must be 'DELEGATED_ADMIN'"),
        ({"callAs": None}, "callAs is absent; it must be 'DELEGATED_ADMIN'"),
    ],
)
def test_a_stack_set_that_is_not_service_managed_auto_deployed_by_the_delegated_admin_fails(change: dict[str, Any], expected: str) -> None:
    stack_set = org_run().of_type(STACK_SET)[0]
    props = {key: value for key, value in {**stack_set.inputs, **change}.items() if value is not None}
    (message,) = check_resource(validators.validate_stack_sets, resource_args(stack_set, props))
    assert message.startswith(f"StackSet {stack_set.inputs['name']}: {expected}")


def test_a_stack_set_instance_not_called_as_the_delegated_admin_fails() -> None:
    instance = org_run().of_type(STACK_SET_INSTANCE)[0]
    (message,) = check_resource(validators.validate_stack_sets, resource_args(instance, {**instance.inputs, "callAs": "SELF"}))
    assert message.startswith(f"StackSetInstance {instance.name}: callAs is 'SELF'; it must be 'DELEGATED_ADMIN'")


def test_unknown_stack_set_settings_are_skipped() -> None:
    stack_set = org_run().of_type(STACK_SET)[0]
    props = {**stack_set.inputs, "permissionModel": UNKNOWN_STRING_VALUE, "callAs": UNKNOWN_STRING_VALUE,
             "autoDeployment": {"enabled": UNKNOWN_BOOLEAN_VALUE}}
    assert check_resource(validators.validate_stack_sets, resource_args(stack_set, props)) == []


# --- the hub bus ----------------------------------------------------------------------------------


def test_the_programs_bus_policies_pass() -> None:
    policies = org_run().of_type(EVENT_BUS_POLICY)
    assert len(policies) == 2
    for policy in policies:
        assert check_resource(validators.validate_bus_policy, resource_args(policy)) == [], policy.name


def with_statement(policy: Registered, change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    props = copy.deepcopy(policy.inputs)
    document = json.loads(props["policy"])
    change(document)
    props["policy"] = json.dumps(document)
    return props


def first_statement(update: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda document: document["Statement"][0].update(update)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda document: document["Statement"][0].pop("Condition"), "without an aws:PrincipalOrgID condition"),
        (first_statement({"Condition": {"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-mock0example"}}}), "without an aws:PrincipalOrgID"),
        (first_statement({"Condition": {"StringLike": {"aws:PrincipalOrgID": "o-*"}}}), "must name the organization's id"),
        (first_statement({"Condition": {"StringEquals": {"aws:SourceAccount": OTHER}}}), "without an aws:PrincipalOrgID"),
        (first_statement({"Action": "events:*", "Condition": {}}), "without an aws:PrincipalOrgID"),
        (lambda document: document["Statement"][0].pop("Action") and document["Statement"][0].update(NotAction="events:List*", Condition={}),
         "without an aws:PrincipalOrgID"),
        (lambda document: document["Statement"].append(
            {"Sid": "OneAccount", "Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "events:PutEvents", "Resource": "*"}),
         "statement 'OneAccount' allows events:PutEvents without an aws:PrincipalOrgID"),
    ],
    ids=["no-condition", "if-exists", "wildcard-org", "other-key", "events-star", "not-action", "an-account-outside"],
)
def test_a_bus_policy_open_beyond_the_organization_fails(change: Callable[[dict[str, Any]], Any], expected: str) -> None:
    policy = org_run().of_type(EVENT_BUS_POLICY)[0]
    (message,) = check_resource(validators.validate_bus_policy, resource_args(policy, with_statement(policy, change)))
    assert message.startswith(f"EventBusPolicy {policy.name}: ") and expected in message


def test_a_bus_policy_statement_that_grants_no_put_events_or_denies_needs_no_condition() -> None:
    policy = org_run().of_type(EVENT_BUS_POLICY)[0]
    extra = [
        {"Effect": "Deny", "Principal": "*", "Action": "events:PutEvents", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "events:DescribeRule", "Resource": "*"},
    ]
    props = with_statement(policy, lambda document: document["Statement"].extend(extra))
    assert check_resource(validators.validate_bus_policy, resource_args(policy, props)) == []


def test_a_bus_policy_computed_in_preview_is_skipped() -> None:
    policy = org_run().of_type(EVENT_BUS_POLICY)[0]
    assert check_resource(validators.validate_bus_policy, resource_args(policy, {**policy.inputs, "policy": UNKNOWN_STRING_VALUE})) == []


# --- member roles trust the hub only --------------------------------------------------------------


def member_trust(stack_set: Registered, props: dict[str, Any] | None = None, pinned: dict[str, Any] | None = None) -> list[str]:
    run = org_run()
    args = resource_args(stack_set, props, provider=provider(run, stack_set) if pinned is None else pinned)
    return check_resource(validators.validate_member_trust, args)


def member_role_stack_sets() -> list[Registered]:
    """The stack sets whose template has a role trusted by an AWS principal (the member role)."""
    found = [
        stack_set for stack_set in org_run().of_type(STACK_SET)
        if any("AWS" in statement["Principal"] for role in of_kind(template(stack_set), "AWS::IAM::Role").values()
               for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"])
    ]
    assert len(found) == 3
    return found


def test_the_programs_member_roles_trust_the_hub_only() -> None:
    for stack_set in org_run().of_type(STACK_SET):
        assert member_trust(stack_set) == [], stack_set.name


def test_the_hub_is_the_account_the_stack_sets_provider_is_pinned_to() -> None:
    (stack_set, *_) = member_role_stack_sets()
    elsewhere = {**provider(org_run(), stack_set), "allowedAccountIds": json.dumps([OTHER])}
    messages = member_trust(stack_set, pinned=elsewhere)
    assert messages and all(f"only the hub ({OTHER}) may assume a member role" in message for message in messages)
    assert any(f"arn:aws:iam::{HUB}:root" in message for message in messages)


def trusting(update: dict[str, Any] | Callable[[dict[str, Any]], Any]) -> Callable[[Template], None]:
    """A template change: the member role's trust statement updated (or changed by a function)."""
    def change(template_: Template) -> None:
        for role in of_kind(template_, "AWS::IAM::Role").values():
            statement = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
            if "AWS" in statement["Principal"]:
                update(statement) if callable(update) else statement.update(update)
    return change


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (trusting({"Principal": "*"}), "trusts any principal"),
        (trusting({"Principal": {"AWS": "*"}}), "trusts any principal (*)"),
        (trusting({"Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}}), f'"arn:aws:iam::{OTHER}:root" of account {OTHER}'),
        (trusting({"Principal": {"AWS": [f"arn:aws:iam::{HUB}:root", OTHER]}}), f'"{OTHER}" of account {OTHER}'),
        (trusting({"Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}}), "of the member account itself"),
        (trusting(lambda statement: statement["Condition"]["ArnEquals"]["aws:PrincipalArn"].append(f"arn:aws:iam::{OTHER}:role/x")),
         f'"arn:aws:iam::{OTHER}:role/x" of account {OTHER}'),
        (trusting({"Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/governance-remediation-lambda"}}}), "of any account"),
        (trusting({"Principal": {"Federated": "cognito-identity.amazonaws.com"}}), "trusts Federated principals"),
        (trusting(lambda statement: statement.update(NotPrincipal=statement.pop("Principal"))), "trusts any principal"),
        (trusting({"Principal": {"AWS": {"Ref": "TrustedAccount"}}}), "names no account the pack can read"),
    ],
    ids=["star", "aws-star", "other-account", "other-account-in-list", "member-itself", "other-principal-arn",
         "any-account-arn", "federated", "not-principal", "unreadable"],
)
def test_a_member_role_trusted_beyond_the_hub_fails(change: Callable[[Template], None], expected: str) -> None:
    for stack_set in member_role_stack_sets():
        messages = member_trust(stack_set, with_template(stack_set, change))
        assert messages and all(message.startswith(f"StackSet {stack_set.inputs['name']}, role ") for message in messages)
        assert any(expected in message for message in messages), messages


def test_a_member_role_may_trust_several_roles_of_the_hub() -> None:
    deploy_role = f"arn:aws:iam::{HUB}:role/governance-deploy"
    change = trusting(lambda statement: statement["Condition"]["ArnEquals"].update({"aws:PrincipalArn": [HUB_ROLE, deploy_role]}))
    for stack_set in member_role_stack_sets():
        assert member_trust(stack_set, with_template(stack_set, change)) == []


def test_without_a_pinned_provider_only_wildcards_and_unreadable_principals_fail() -> None:
    (stack_set, *_) = member_role_stack_sets()
    other = with_template(stack_set, trusting({"Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}}))
    assert member_trust(stack_set, other, pinned={}) == []
    anyone = with_template(stack_set, trusting({"Principal": {"AWS": "*"}}))
    assert member_trust(stack_set, anyone, pinned={}) != []
    any_account = with_template(stack_set, trusting({"Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/x"}}}))
    assert member_trust(stack_set, any_account, pinned={}) != []


def test_a_negated_principal_arn_condition_excludes_and_passes() -> None:
    change = trusting(lambda statement: statement["Condition"].update({"ArnNotEquals": {"aws:PrincipalArn": f"arn:aws:iam::{OTHER}:role/x"}}))
    for stack_set in member_role_stack_sets():
        assert member_trust(stack_set, with_template(stack_set, change)) == []


def test_an_unknown_template_skips_the_trust_check() -> None:
    (stack_set, *_) = member_role_stack_sets()
    assert member_trust(stack_set, {**stack_set.inputs, "templateBody": UNKNOWN_STRING_VALUE}) == []


# --- service roles of member templates: confused-deputy conditions ------------------------------------


def service_trust_messages(stack_set: Registered, props: dict[str, Any] | None = None) -> list[str]:
    return check_resource(validators.validate_role_trust, resource_args(stack_set, props))


def service_roles(template_: Template) -> dict[str, dict[str, Any]]:
    """Roles of a template that an AWS service assumes, by the service."""
    return {
        statement["Principal"]["Service"]: statement
        for role in of_kind(template_, "AWS::IAM::Role").values()
        for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"] if "Service" in statement["Principal"]
    }


def test_the_service_roles_of_member_templates_carry_confused_deputy_conditions() -> None:
    stack_sets = stack_sets_with(org_run(), "AWS::IAM::Role")
    assert {"ssm.amazonaws.com", "events.amazonaws.com"} <= {service for s in stack_sets for service in service_roles(template(s))}
    for stack_set in org_run().of_type(STACK_SET):
        assert service_trust_messages(stack_set) == [], stack_set.name


def service_statement(service: str, change: Callable[[dict[str, Any]], Any]) -> Callable[[Template], None]:
    return lambda template_: change(service_roles(template_)[service])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (service_statement("events.amazonaws.com", lambda statement: statement.pop("Condition")),
         "lets events.amazonaws.com assume the role without an aws:SourceAccount condition"),
        (service_statement("events.amazonaws.com", lambda statement: statement.update(Condition={"StringLike": {"aws:SourceAccount": "*"}})),
         "it must name 12-digit account ids"),
        (service_statement("ssm.amazonaws.com", lambda statement: statement["Condition"].pop("ArnLike")),
         "lets ssm.amazonaws.com assume the role without an aws:SourceArn condition"),
    ],
    ids=["no-source-account", "any-source-account", "ssm-without-source-arn"],
)
def test_a_service_role_of_a_member_template_without_its_conditions_fails(change: Callable[[Template], None], expected: str) -> None:
    (stack_set, *_) = stack_sets_with(org_run(), "AWS::IAM::Role")
    (message,) = service_trust_messages(stack_set, with_template(stack_set, change))
    assert message.startswith(f"StackSet {stack_set.inputs['name']}, role ") and expected in message


def test_an_unknown_template_skips_the_service_trust_check() -> None:
    (stack_set, *_) = stack_sets_with(org_run(), "AWS::IAM::Role")
    assert service_trust_messages(stack_set, {**stack_set.inputs, "templateBody": UNKNOWN_STRING_VALUE}) == []


# --- member templates: no credentials, no wildcard actions -----------------------------------------


def member_template_messages(stack_set: Registered, props: dict[str, Any] | None = None) -> list[str]:
    return check_resource(validators.validate_member_templates, resource_args(stack_set, props))


def test_the_programs_member_templates_pass() -> None:
    stack_sets = org_run().of_type(STACK_SET)
    assert stack_sets_with(org_run(), "AWS::IAM::Role")
    for stack_set in stack_sets:
        assert member_template_messages(stack_set) == [], stack_set.name


def add_resource(logical: str, resource: dict[str, Any]) -> Callable[[Template], None]:
    return lambda template_: template_["Resources"].update({logical: resource})


def first_role_policy(update: Callable[[dict[str, Any]], Any]) -> Callable[[Template], None]:
    def change(template_: Template) -> None:
        role = next(iter(of_kind(template_, "AWS::IAM::Role").values()))
        update(role["Properties"])
    return change


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (add_resource("Operator", {"Type": "AWS::IAM::User", "Condition": "IsFirstRegion", "Properties": {"UserName": "ops"}}),
         "Operator (AWS::IAM::User) creates an IAM user in every member account"),
        (add_resource("OperatorKey", {"Type": "AWS::IAM::AccessKey", "Properties": {"UserName": "ops"}}),
         "OperatorKey (AWS::IAM::AccessKey) creates an access key"),
        (first_role_policy(lambda properties: properties["Policies"][0]["PolicyDocument"]["Statement"].append(
            {"Effect": "Allow", "Action": "*", "Resource": "*"})), "allows wildcard actions ['*']"),
        (first_role_policy(lambda properties: properties["Policies"][0]["PolicyDocument"]["Statement"].append(
            {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})), "allows NotAction"),
        (first_role_policy(lambda properties: properties.update(ManagedPolicyArns=["arn:aws:iam::aws:policy/AdministratorAccess"])),
         "attaches managed policies"),
        (add_resource("Extra", {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": {
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}}}),
         "Extra its PolicyDocument: statement 0 allows wildcard actions ['s3:*']"),
    ],
    ids=["user", "access-key", "action-star", "not-action", "managed-policy", "policy-resource"],
)
def test_a_member_template_with_credentials_or_wildcards_fails(change: Callable[[Template], None], expected: str) -> None:
    (stack_set, *_) = stack_sets_with(org_run(), "AWS::IAM::Role")
    (message,) = member_template_messages(stack_set, with_template(stack_set, change))
    assert message.startswith(f"StackSet {stack_set.inputs['name']}: ") and expected in message


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"templateBody": "Resources:\n  Role:\n    Type: AWS::IAM::Role\n"}, "is not JSON"),
        ({"templateBody": "[]"}, "without a Resources object"),
        ({"templateBody": None, "templateUrl": "https://example.com/template.json"}, "has no inline templateBody"),
    ],
)
def test_a_template_the_pack_cannot_read_fails(props: dict[str, Any], expected: str) -> None:
    stack_set = org_run().of_type(STACK_SET)[0]
    changed = {key: value for key, value in {**stack_set.inputs, **props}.items() if value is not None}
    (message,) = member_template_messages(stack_set, changed)
    assert message.startswith(f"StackSet {stack_set.inputs['name']} ") and expected in message


def test_an_unknown_template_is_skipped_in_preview() -> None:
    stack_set = org_run().of_type(STACK_SET)[0]
    assert member_template_messages(stack_set, {**stack_set.inputs, "templateBody": UNKNOWN_STRING_VALUE}) == []
