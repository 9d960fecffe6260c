"""Organization mode's member templates: cfn-lint clean, and the same rules, remediations, roles and events as direct mode."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from typing import Any

import cfnlint.api
import pytest

from components.account_roles import lambda_grants as direct_lambda_grants
from components.account_roles import ssm_grants as direct_ssm_grants
from governance import limits, member_template
from governance.catalog import CATALOG
from governance.cli.permissions import FORWARDED_DEAD_LETTER_READS, operator_reads
from governance.lambda_code import fixer_iam_actions
from governance.member_template import (
    FIRST_REGION,
    HUB_PLUMBING_SIDS,
    MemberTemplates,
    iam_template,
    member_plan,
    render_member_templates,
    rules_template,
)
from governance.mock_program import PROJECT_ROOT, ProgramRun, Registered, run_program, stack_config
from governance.plan import Names
from governance.settings import ConfigError, RuleProfile, Settings, load_settings
from tests import worst_case
from tests.config_problems import assert_names_its_key, assert_one_sentence

HUB = "999999999999"
MEMBER = "111111111111"
OU_1, OU_2, OU_3 = "ou-ab12-11111111", "ou-ab12-22222222", "ou-ab12-33333333"
REGIONS = ["us-east-1", "eu-west-1"]
Template = dict[str, Any]
RULE = "aws:cfg/rule:Rule"
REMEDIATION = "aws:cfg/remediationConfiguration:RemediationConfiguration"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
CONFIG_RULE_TYPE = "AWS::Config::ConfigRule"
REMEDIATION_TYPE = "AWS::Config::RemediationConfiguration"
KMS_KEYS = [f"arn:aws:kms:{region}:{HUB}:key/{index}1111111-2222-3333-4444-555555555555" for index, region in enumerate(REGIONS)]
OVERRIDES: list[dict[str, Any]] = [
    {
        "targets": [OU_2],
        "rules": {
            "restricted-admin-ports": {"mode": "detect"},
            "s3-bucket-encryption": {"mode": "manual"},
            "vpc-flow-logs": {"mode": "off"},
        },
    },
    {
        "name": "sandbox",
        "targets": [OU_3],
        "rules": {
            # One KMS key per region: the rule's input parameters differ between regions.
            "s3-bucket-encryption": {"engine": "lambda", "params": {"algorithm": "aws:kms", "kmsKeyArn": KMS_KEYS}},
            "kms-key-rotation": {"engine": "ssm"},
            "guardduty-enabled": {"mode": "auto", "engine": "ssm"},
            # Security Hub's rule instead of our own: no Config rule, and its name prefixes in the forwarded events.
            "restricted-admin-ports": {"source": "securityhub"},
        },
    },
]
"""Overrides of the dev stack's rules: modes, engines and per-region params change for OU_2 and OU_3."""
CONTROLS: dict[str, Any] = {"remediation": {"maximumAutomaticAttempts": 7, "retryAttemptSeconds": 1234, "concurrentExecutionRatePercentage": 20, "errorPercentage": 30},
            "logRetentionDays": 90}
"""Stack settings away from their defaults, so that agreeing on them means something."""


def dev_rules() -> dict[str, Any]:
    """The dev stack's rules (``governance:rules`` of Pulumi.dev.yaml)."""
    rules: dict[str, Any] = copy.deepcopy(stack_config("dev")["governance:rules"])
    return rules


def org_stack(rules: dict[str, Any], *, regions: list[str] = REGIONS, overrides: list[dict[str, Any]] | None = None, **top: Any) -> dict[str, Any]:
    """An organization-mode stack (keys without the namespace) with these rules and overrides."""
    targets = [OU_1, *(target for override in overrides or [] for target in override["targets"])]
    organization: dict[str, Any] = {"adminAccountId": HUB, "targets": targets}
    if overrides:
        organization["overrides"] = copy.deepcopy(overrides)
    return {"regions": regions, "rules": copy.deepcopy(rules), "organization": organization, **top}


def profile_named(settings: Settings, name: str) -> RuleProfile:
    assert settings.organization is not None
    (profile,) = [profile for profile in settings.organization.profiles if profile.name == name]
    return profile


def rendered(settings: Settings, name: str = "base") -> tuple[Template, Template]:
    """Both templates of a profile, as dicts (both must exist)."""
    templates = render_member_templates(settings, profile_named(settings, name))
    assert templates.iam is not None and templates.rules is not None
    return json.loads(templates.iam), json.loads(templates.rules)


@cache
def dev_settings() -> Settings:
    return load_settings(org_stack(dev_rules()))


@cache
def override_settings() -> Settings:
    return load_settings(org_stack(dev_rules(), overrides=OVERRIDES, **CONTROLS))


# --- resolving a template as CloudFormation would in one account and region -----------------------

SUB_VARIABLE = re.compile(r"\$\{(!?)([^}]+)\}")
FUNCTIONS = ("Ref", "Fn::Sub", "Fn::FindInMap", "Fn::If", "Fn::Equals", "Fn::Not", "Fn::Or", "Fn::And", "Condition")


def resolve(template: Template, account: str, region: str, partition: str = "aws") -> dict[str, dict[str, Any]]:
    """The resources CloudFormation creates from ``template`` in ``account`` and ``region``, with every function evaluated."""
    pseudo = {"AWS::AccountId": account, "AWS::Region": region, "AWS::Partition": partition}

    def evaluate(node: Any) -> Any:
        if isinstance(node, list):
            return [evaluate(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1 and next(iter(node)) in FUNCTIONS:
            ((function, argument),) = node.items()
            if function == "Ref":
                # A resource's Ref stays its logical id: what it stands for exists only once created.
                return pseudo.get(argument, {"Ref": argument})
            if function == "Fn::Sub":
                return SUB_VARIABLE.sub(lambda match: "${" + match[2] + "}" if match[1] else pseudo[match[2]], argument)
            if function == "Fn::FindInMap":
                mapping, first, second = (evaluate(item) for item in argument)
                return template["Mappings"][mapping][first][second]
            if function == "Fn::If":
                condition, when_true, when_false = argument
                return evaluate(when_true if holds(condition) else when_false)
            if function == "Condition":
                return holds(argument)
            if function == "Fn::Not":
                (inner,) = argument
                return not evaluate(inner)
            if function in ("Fn::Or", "Fn::And"):
                assert 2 <= len(argument) <= 10, f"{function} takes 2 to 10 conditions, got {len(argument)}"
                values = [evaluate(item) for item in argument]
                return any(values) if function == "Fn::Or" else all(values)
            left, right = (evaluate(item) for item in argument)
            return left == right
        return {key: evaluate(value) for key, value in node.items()}

    def holds(condition: str) -> bool:
        return bool(evaluate(template["Conditions"][condition]))

    conditions = {name: holds(name) for name in template.get("Conditions", {})}
    return {
        logical: evaluate(resource)
        for logical, resource in template["Resources"].items()
        if conditions.get(resource.get("Condition", ""), True)
    }


def of_type(resources: dict[str, dict[str, Any]], type_name: str) -> dict[str, dict[str, Any]]:
    return {logical: resource for logical, resource in resources.items() if resource["Type"] == type_name}


# --- direct mode, normalised to compare --------------------------------------------------------------


def direct_stack(rules: dict[str, Any], **top: Any) -> dict[str, Any]:
    """Direct mode: one account with ``rules`` in the same regions (namespaced for ``run_program``)."""
    raw = {"regions": REGIONS, "rules": rules, "accounts": [{"id": MEMBER, "roleArn": f"arn:aws:iam::{MEMBER}:role/deploy"}], **top}
    return worst_case.as_stack_config(raw)


@cache
def direct_run(profile_name: str) -> ProgramRun:
    """Direct mode for an account with the rules of one profile of ``override_settings`` (base is the dev stack's)."""
    rules = dev_rules()
    if profile_name != "base":
        override = next(written for written in OVERRIDES if written.get("name", written["targets"][0]) == profile_name)
        for key, settings in override["rules"].items():
            merged = {**rules.get(key, {}), **settings}
            merged["params"] = {**rules.get(key, {}).get("params", {}), **settings.get("params", {})}
            rules[key] = merged
    return run_program(direct_stack(rules, **CONTROLS))


def in_bundle(run: ProgramRun, region: str, type_token: str) -> list[Registered]:
    return [resource for resource in run.of_type(type_token) if resource.name.startswith(f"gov-{MEMBER}-{region}-")]


def real_arns(run: ProgramRun, region: str) -> dict[str, str]:
    """The mocks' synthetic ARNs of roles and log groups, mapped to the ARNs AWS gives them."""
    arns = {}
    for resource in run.resources:
        if resource.type == "aws:iam/role:Role":
            arns[resource.state["arn"]] = f"arn:aws:iam::{MEMBER}:role/{resource.inputs['name']}"
        elif resource.type == "aws:cloudwatch/logGroup:LogGroup" and resource.name.startswith(f"gov-{MEMBER}-{region}-"):
            arns[resource.state["arn"]] = f"arn:aws:logs:{region}:{MEMBER}:log-group:{resource.inputs['name']}"
    return arns


def direct_rules(run: ProgramRun, region: str) -> dict[str, dict[str, Any]]:
    rules = {}
    for rule in in_bundle(run, region, RULE):
        inputs = rule.inputs
        rules[inputs["name"]] = {
            "description": inputs["description"],
            "source": (inputs["source"]["owner"], inputs["source"]["sourceIdentifier"]),
            "scope": inputs.get("scope", {}).get("complianceResourceTypes"),
            "input": json.loads(inputs["inputParameters"]) if inputs.get("inputParameters") else None,
        }
    return rules


def member_rules(resources: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    rules = {}
    for resource in of_type(resources, CONFIG_RULE_TYPE).values():
        properties = resource["Properties"]
        rules[properties["ConfigRuleName"]] = {
            "description": properties["Description"],
            "source": (properties["Source"]["Owner"], properties["Source"]["SourceIdentifier"]),
            "scope": properties.get("Scope", {}).get("ComplianceResourceTypes"),
            "input": json.loads(properties["InputParameters"]) if "InputParameters" in properties else None,
        }
    return rules


def direct_remediations(run: ProgramRun, region: str) -> dict[str, dict[str, Any]]:
    arns = real_arns(run, region)
    remediations = {}
    for remediation in in_bundle(run, region, REMEDIATION):
        inputs = remediation.inputs
        parameters = {
            parameter["name"]: ("resource", parameter["resourceValue"]) if parameter.get("resourceValue")
            else ("static", arns.get(parameter["staticValue"], parameter["staticValue"]))
            for parameter in inputs["parameters"]
        }
        controls = inputs["executionControls"]["ssmControls"]
        remediations[inputs["configRuleName"]] = {
            "target": (inputs["targetType"], inputs["targetId"]),
            "parameters": parameters,
            "resource_type": inputs.get("resourceType"),
            "automatic": inputs["automatic"],
            "attempts": inputs["maximumAutomaticAttempts"],
            "retry_seconds": inputs["retryAttemptSeconds"],
            "controls": (controls["concurrentExecutionRatePercentage"], controls["errorPercentage"]),
        }
    return remediations


def member_remediations(resources: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    remediations = {}
    for resource in of_type(resources, REMEDIATION_TYPE).values():
        properties = resource["Properties"]
        parameters = {}
        for name, value in properties["Parameters"].items():
            if "ResourceValue" in value:
                parameters[name] = ("resource", value["ResourceValue"]["Value"])
            else:
                (static,) = value["StaticValue"]["Values"]
                parameters[name] = ("static", static)
        controls = properties["ExecutionControls"]["SsmControls"]
        remediations[properties["ConfigRuleName"]] = {
            "target": (properties["TargetType"], properties["TargetId"]),
            "parameters": parameters,
            "resource_type": properties.get("ResourceType"),
            "automatic": properties["Automatic"],
            "attempts": properties["MaximumAutomaticAttempts"],
            "retry_seconds": properties["RetryAttemptSeconds"],
            "controls": (controls["ConcurrentExecutionRatePercentage"], controls["ErrorPercentage"]),
        }
    return remediations


def direct_event_pattern(run: ProgramRun, region: str) -> Any:
    rules = [rule for rule in in_bundle(run, region, EVENT_RULE) if rule.name.endswith("-remediation-events")]
    return json.loads(rules[0].inputs["eventPattern"]) if rules else None


def member_event_pattern(resources: dict[str, dict[str, Any]]) -> Any:
    forwarding = of_type(resources, "AWS::Events::Rule")
    return forwarding["ForwardEvents"]["Properties"]["EventPattern"] if forwarding else None


def direct_log_groups(run: ProgramRun, region: str) -> dict[str, int]:
    groups = in_bundle(run, region, "aws:cloudwatch/logGroup:LogGroup")
    return {group.inputs["name"]: group.inputs["retentionInDays"] for group in groups if group.name.endswith("-flow-logs")}


def member_log_groups(resources: dict[str, dict[str, Any]]) -> dict[str, int]:
    groups = of_type(resources, "AWS::Logs::LogGroup").values()
    return {group["Properties"]["LogGroupName"]: group["Properties"]["RetentionInDays"] for group in groups}


def direct_role(run: ProgramRun, logical: str) -> tuple[Any, Any]:
    """(trust, policy) of a direct-mode role."""
    return json.loads(run.named(logical).inputs["assumeRolePolicy"]), json.loads(run.named(f"{logical}-policy").inputs["policy"])


def member_role(resources: dict[str, dict[str, Any]], logical: str) -> tuple[Any, Any]:
    properties = resources[logical]["Properties"]
    (policy,) = properties["Policies"]
    return properties["AssumeRolePolicyDocument"], policy["PolicyDocument"]


def statement_actions(policy: dict[str, Any]) -> set[str]:
    actions: set[str] = set()
    for statement in policy["Statement"]:
        action = statement["Action"]
        actions.update([action] if isinstance(action, str) else action)
    return actions


# --- one description, two renderings -----------------------------------------------------------------

PROFILES = ("base", OU_2, "sandbox")
"""The profiles of ``override_settings``: an override is named by its first target unless it gives a name."""


@pytest.mark.parametrize("profile_name", PROFILES)
@pytest.mark.parametrize("region", REGIONS)
def test_rules_remediations_and_events_are_what_direct_mode_deploys(profile_name: str, region: str) -> None:
    run = direct_run(profile_name)
    _, rules = rendered(override_settings(), profile_name)
    resources = resolve(rules, MEMBER, region)
    assert member_rules(resources) == direct_rules(run, region)
    assert member_remediations(resources) == direct_remediations(run, region)
    assert member_event_pattern(resources) == direct_event_pattern(run, region)
    assert member_log_groups(resources) == direct_log_groups(run, region)
    assert direct_rules(run, region), "the comparison covers some rules"


@pytest.mark.parametrize("profile_name", PROFILES)
def test_roles_are_what_direct_mode_deploys(profile_name: str) -> None:
    run = direct_run(profile_name)
    iam, _ = rendered(override_settings(), profile_name)
    resources = resolve(iam, MEMBER, REGIONS[0])
    assert member_role(resources, "SsmAutomationRole") == direct_role(run, f"gov-{MEMBER}-ssm-automation")
    flow_logs = [resource for resource in run.of_type("aws:iam/role:Role") if resource.name.endswith("-flow-logs-delivery")]
    if flow_logs:
        assert member_role(resources, "FlowLogsDeliveryRole") == direct_role(run, flow_logs[0].name)
    else:
        assert "FlowLogsDeliveryRole" not in resources
    # The member role holds what the Lambda role grants its fixers, minus what concerns the function itself, and
    # the fixer actions of every other rule the operator CLI scans or fixes through it (SSM-engine and detect rules).
    _, lambda_policy = direct_role(run, f"gov-{MEMBER}-remediation-lambda")
    _, member_policy = member_role(resources, "MemberRole")
    fixing = statement_actions(lambda_policy) - {
        "logs:CreateLogStream", "logs:PutLogEvents", "logs:FilterLogEvents", "sqs:SendMessage", "events:PutEvents",
    }
    profile = profile_named(override_settings(), profile_name)
    operated = {
        action
        for rule in profile.rules
        if rule.source == "own" or rule.engine == "lambda"
        for action in fixer_iam_actions(rule.key)
        if rule.remediates or action.split(":")[1].startswith(("Get", "List", "Describe", "Lookup", "Head"))
    }
    cli_reads = set(operator_reads(frozenset(rule.key for rule in profile.rules if rule.source == "own" or rule.engine == "lambda")))
    assert fixing <= statement_actions(member_policy) == fixing | operated | cli_reads | set(FORWARDED_DEAD_LETTER_READS)
    assert operated - fixing, "the profile has rules the Lambda does not fix, which the CLI reads through the member role"
    assert {statement["Sid"] for statement in member_policy["Statement"]}.isdisjoint(HUB_PLUMBING_SIDS)


@pytest.mark.parametrize("profile_name", PROFILES)
def test_the_grants_are_computed_by_direct_modes_functions(profile_name: str) -> None:
    plan = member_plan(override_settings(), profile_named(override_settings(), profile_name))
    assert member_template.lambda_grants(plan) == direct_lambda_grants(plan)
    assert member_template.ssm_grants(plan) == direct_ssm_grants(plan)


def test_the_member_role_grants_exactly_the_fixers_actions_of_the_rules_the_hub_and_the_cli_run() -> None:
    iam, _ = rendered(dev_settings())
    _, policy = member_role(resolve(iam, MEMBER, REGIONS[0]), "MemberRole")
    operated = [rule for rule in profile_named(dev_settings(), "base").rules if rule.uses_lambda or rule.source == "own"]
    fixers = {
        action for rule in operated for action in fixer_iam_actions(rule.key) if rule.remediates or ":Describe" in action or ":Get" in action or ":List" in action
    }
    # The hub audits the member's SSM executions through the role too, as direct mode's Lambda does; the CLI
    # finds resources and exemptions and runs doctor's checks with it.
    cli_reads = set(operator_reads(frozenset(rule.key for rule in operated)))
    assert statement_actions(policy) == fixers | {"ssm:GetAutomationExecution"} | cli_reads | set(FORWARDED_DEAD_LETTER_READS)
    assert {"tag:GetResources", "config:DescribeConfigurationRecorders"} <= cli_reads


def test_doctor_reads_the_forwarding_dead_letter_queue_and_no_other_queue() -> None:
    iam, _ = rendered(dev_settings())
    _, policy = member_role(resolve(iam, MEMBER, REGIONS[0]), "MemberRole")
    (statement,) = [statement for statement in policy["Statement"] if statement.get("Sid") == "ReadForwardingDeadLetterDepth"]
    assert statement["Action"] == list(FORWARDED_DEAD_LETTER_READS)
    assert statement["Resource"] == f"arn:aws:sqs:*:{MEMBER}:governance-forward-events-dlq"


# --- the member role and event forwarding ---------------------------------------------------------


def test_the_member_role_trusts_the_hubs_lambda_role_by_arn_as_a_string() -> None:
    iam, _ = rendered(dev_settings())
    role = resolve(iam, MEMBER, REGIONS[0])["MemberRole"]["Properties"]
    assert role["RoleName"] == "governance-member"
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{HUB}:root"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"ArnEquals": {"aws:PrincipalArn": [f"arn:aws:iam::{HUB}:role/governance-remediation-lambda"]}}


def test_the_member_role_name_and_the_trusted_roles_come_from_the_caller() -> None:
    settings = load_settings(org_stack(dev_rules(), ruleNamePrefix="acme-") | {
        "organization": {"adminAccountId": HUB, "targets": [OU_1], "memberRoleName": "acme-member"},
    })
    base = profile_named(settings, "base")
    operator = f"arn:aws:iam::{HUB}:role/operators"
    template = iam_template(settings, base, (f"arn:aws:iam::{HUB}:role/acme-remediation-lambda", operator))
    assert template is not None
    role = template["Resources"]["MemberRole"]["Properties"]
    assert role["RoleName"] == "acme-member"
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [f"arn:aws:iam::{HUB}:role/acme-remediation-lambda", operator]


def test_events_go_to_the_hubs_bus_in_the_same_region_through_the_forwarding_role() -> None:
    iam, rules = rendered(dev_settings())
    roles = resolve(iam, MEMBER, REGIONS[0])
    forwarding = roles["EventForwardingRole"]["Properties"]
    (trust,) = forwarding["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": MEMBER}}
    (grant,) = forwarding["Policies"][0]["PolicyDocument"]["Statement"]
    assert grant["Action"] == "events:PutEvents"
    assert grant["Resource"] == f"arn:aws:events:*:{HUB}:event-bus/governance-member-events"
    for region in REGIONS:
        rule = resolve(rules, MEMBER, region)["ForwardEvents"]["Properties"]
        assert "EventBusName" not in rule, "the default bus, where AWS services send their events"
        (target,) = rule["Targets"]
        assert set(target) == {"Id", "Arn", "RoleArn", "DeadLetterConfig"}, "no Input, InputPath or InputTransformer on a bus of another account"
        assert target["Arn"] == f"arn:aws:events:{region}:{HUB}:event-bus/governance-member-events"
        assert target["RoleArn"] == f"arn:aws:iam::{MEMBER}:role/{forwarding['RoleName']}"
        # Events the hub's bus refuses land in the member's queue, which only this rule may send to.
        resources = resolve(rules, MEMBER, region)
        queue = resources["ForwardEventsDeadLetters"]["Properties"]
        queue_arn = f"arn:aws:sqs:{region}:{MEMBER}:{queue['QueueName']}"
        assert target["DeadLetterConfig"] == {"Arn": queue_arn}
        assert (queue["MessageRetentionPeriod"], queue["SqsManagedSseEnabled"]) == (1209600, True)
        policy = resources["ForwardEventsDeadLettersPolicy"]["Properties"]
        assert policy["Queues"] == [{"Ref": "ForwardEventsDeadLetters"}]
        (sender,) = policy["PolicyDocument"]["Statement"]
        assert (sender["Principal"], sender["Action"], sender["Resource"]) == ({"Service": "events.amazonaws.com"}, "sqs:SendMessage", queue_arn)
        assert sender["Condition"] == {"ArnEquals": {"aws:SourceArn": [f"arn:aws:events:{region}:{MEMBER}:rule/{rule['Name']}"]}}


# --- modes, engines, regions and overrides -------------------------------------------------------


def test_detect_deploys_a_rule_off_nothing_and_lambda_no_remediation() -> None:
    settings = load_settings(org_stack({
        "s3-bucket-versioning": {"mode": "detect"},
        "s3-ssl-only": {"mode": "off"},
        "restricted-admin-ports": {"mode": "auto", "engine": "lambda"},
        "s3-bucket-encryption": {"mode": "manual", "engine": "ssm"},
    }))
    _, rules = rendered(settings)
    resources = rules["Resources"]
    assert set(of_type(resources, CONFIG_RULE_TYPE)) == {"S3BucketVersioningRule", "RestrictedAdminPortsRule", "S3BucketEncryptionRule"}
    (remediation,) = of_type(resources, REMEDIATION_TYPE).values()
    assert remediation["Properties"]["ConfigRuleName"] == "governance-s3-bucket-encryption"
    assert remediation["Properties"]["Automatic"] is False
    assert remediation["DependsOn"] == ["S3BucketEncryptionRule"]


def test_a_profile_of_detect_rules_needs_only_a_member_role_that_reads() -> None:
    settings = load_settings(org_stack({key: {"mode": "detect"} for key in CATALOG}))
    templates = render_member_templates(settings, profile_named(settings, "base"))
    assert templates.iam is not None
    resources = json.loads(templates.iam)["Resources"]
    assert list(resources) == ["MemberRole"]
    actions = statement_actions(resources["MemberRole"]["Properties"]["Policies"][0]["PolicyDocument"])
    assert actions, "the operator CLI scans detect rules through the member role"
    assert all(action.split(":")[1].startswith(("Get", "List", "Describe", "Lookup", "Head")) for action in actions), sorted(actions)
    assert templates.rules is not None
    assert "AWS::Events::Rule" not in templates.rules


@pytest.mark.parametrize("regions", [REGIONS, REGIONS[:1]], ids=["two regions", "one region"])
def test_account_level_rules_are_in_the_first_region_only(regions: list[str]) -> None:
    settings = load_settings(org_stack(worst_case.every_rule("ssm", buckets=2, log_group_length=30), regions=regions))
    _, rules = rendered(settings)
    assert rules["Conditions"] == {FIRST_REGION: {"Fn::Equals": [{"Ref": "AWS::Region"}, regions[0]]}}
    account_level = {key for key, entry in CATALOG.items() if entry.scope == "account"}
    for logical, resource in rules["Resources"].items():
        if resource["Type"] not in (CONFIG_RULE_TYPE, REMEDIATION_TYPE):
            continue
        key = resource["Properties"]["ConfigRuleName"].removeprefix("governance-")
        assert (resource.get("Condition") == FIRST_REGION) == (key in account_level), logical
    first = member_rules(resolve(rules, MEMBER, regions[0]))
    assert {name.removeprefix("governance-") for name in first} == set(CATALOG)
    other = member_rules(resolve(rules, MEMBER, "ap-south-1"))
    assert {name.removeprefix("governance-") for name in other} == set(CATALOG) - account_level


def test_events_of_account_level_rules_alone_are_forwarded_from_the_first_region_only() -> None:
    settings = load_settings(org_stack({"iam-password-policy": {"mode": "auto"}}))
    iam, rules = rendered(settings)
    assert rules["Resources"]["ForwardEvents"]["Condition"] == FIRST_REGION
    assert "ForwardEvents" in resolve(rules, MEMBER, REGIONS[0])
    assert "ForwardEvents" not in resolve(rules, MEMBER, REGIONS[1])
    assert "EventForwardingRole" in iam["Resources"]


def rule_key_of(logical: str, template: Template) -> str | None:
    """The rule a resource belongs to; None for the event forwarding shared by all."""
    resource = template["Resources"][logical]
    if logical == "FlowLogsLogGroup":
        return "vpc-flow-logs"
    if resource["Type"] in (CONFIG_RULE_TYPE, REMEDIATION_TYPE):
        return str(resource["Properties"]["ConfigRuleName"]).removeprefix("governance-")
    return None


def test_an_override_profile_differs_from_the_base_in_its_overridden_rules_only() -> None:
    _, base = rendered(override_settings(), "base")
    _, overridden = rendered(override_settings(), OU_2)
    logicals = set(base["Resources"]) | set(overridden["Resources"])
    differing = {
        rule_key_of(logical, base if logical in base["Resources"] else overridden)
        for logical in logicals
        if base["Resources"].get(logical) != overridden["Resources"].get(logical)
    }
    # The forwarded events change with the rules the hub fixes (restricted-admin-ports, vpc-flow-logs).
    assert differing == {*OVERRIDES[0]["rules"], None}


def test_a_value_that_differs_between_regions_is_looked_up_by_region() -> None:
    _, rules = rendered(override_settings(), "sandbox")
    lookup = rules["Resources"]["S3BucketEncryptionRule"]["Properties"]["InputParameters"]
    assert lookup == {"Fn::FindInMap": ["RegionalValues", {"Ref": "AWS::Region"}, "S3BucketEncryptionRuleInputParameters"]}
    for region, key in zip(REGIONS, KMS_KEYS, strict=True):
        resolved = resolve(rules, MEMBER, region)["S3BucketEncryptionRule"]["Properties"]
        assert json.loads(resolved["InputParameters"]) == {"kmsKeyArns": key}


# --- excluded accounts ----------------------------------------------------------------------------

EXCLUDED = [f"4444444{index:05d}" for index in range(23)]
"""More than ten, so that the condition nests ``Fn::Or`` (2 to 10 conditions each), and a group of three left over."""


@cache
def excluding_settings() -> Settings:
    raw = org_stack(dev_rules(), overrides=OVERRIDES, **CONTROLS)
    raw["organization"]["excludeAccounts"] = EXCLUDED
    return load_settings(raw)


@pytest.mark.parametrize("profile_name", PROFILES)
def test_an_excluded_account_gets_only_a_placeholder_and_the_others_what_they_get_without_exclusions(profile_name: str) -> None:
    with_exclusions, without = rendered(excluding_settings(), profile_name), rendered(override_settings(), profile_name)
    for template, plain in zip(with_exclusions, without, strict=True):
        for region in REGIONS:
            for account in (EXCLUDED[0], EXCLUDED[10], EXCLUDED[-1]):
                assert resolve(template, account, region) == {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}
            governed = resolve(template, MEMBER, region)
            placeholder = governed.pop("Placeholder")
            assert placeholder == {"Type": "AWS::CloudFormation::WaitConditionHandle"}
            assert {logical: {k: v for k, v in resource.items() if k != "Condition"} for logical, resource in governed.items()} == {
                logical: {k: v for k, v in resource.items() if k != "Condition"} for logical, resource in resolve(plain, MEMBER, region).items()
            }


def test_without_exclusions_the_templates_have_no_account_condition() -> None:
    for template in rendered(override_settings()):
        assert "Placeholder" not in template["Resources"]
        assert member_template.GOVERNED not in template.get("Conditions", {})


@pytest.mark.parametrize("profile_name", PROFILES)
def test_templates_with_exclusions_lint_clean(profile_name: str) -> None:
    templates = render_member_templates(excluding_settings(), profile_named(excluding_settings(), profile_name))
    for body in (templates.iam, templates.rules):
        assert body is not None
        assert lint_errors(body, REGIONS) == []


# --- what CloudFormation and the Config API accept -------------------------------------------------


def lint_errors(body: str, regions: list[str]) -> list[str]:
    return [f"{match.rule.id} {'/'.join(map(str, match.path))}: {match.message}" for match in cfnlint.api.lint(body, regions=regions)
            if match.rule.id.startswith("E")]


def largest_settings(kind: str) -> Settings:
    """Every rule with the largest params the settings accept, each on the engine that makes ``kind``'s template biggest."""
    ssm = worst_case.every_rule("ssm", buckets=50, log_group_length=512, mode="manual")
    lambda_rules = worst_case.every_rule("lambda", buckets=50, log_group_length=512, mode="manual")
    rules = {key: ssm[key] if ssm[key]["engine"] == "ssm" else lambda_rules[key] for key in CATALOG}

    def size(candidate: dict[str, Any]) -> int:
        settings = load_settings(largest_stack(candidate))
        template = (iam_template if kind == "iam" else rules_template)(settings, profile_named(settings, "base"))
        return len(member_template.canonical_json(template or {}).encode())

    for key in CATALOG:
        if len(CATALOG[key].engines) == 2:
            other = {**rules, key: lambda_rules[key] if rules[key]["engine"] == "ssm" else ssm[key]}
            if size(other) > size(rules):
                rules = other
    return load_settings(largest_stack(rules))


def largest_stack(rules: dict[str, Any]) -> dict[str, Any]:
    return org_stack(
        rules,
        regions=worst_case.ALL_REGIONS,
        ruleNamePrefix=worst_case.LONGEST_PREFIX,
        securityHubUpdates=True,
        remediation={"maximumAutomaticAttempts": 25, "retryAttemptSeconds": 2678000, "concurrentExecutionRatePercentage": 100, "errorPercentage": 100},
    ) | {"organization": {"adminAccountId": HUB, "targets": [OU_1], "memberRoleName": "m" * 64}}


@cache
def largest_templates() -> dict[str, str]:
    """The biggest iam and rules templates the settings can produce."""
    sizes = {}
    for kind in ("iam", "rules"):
        settings = largest_settings(kind)
        templates = render_member_templates(settings, profile_named(settings, "base"))
        body = templates.iam if kind == "iam" else templates.rules
        assert body is not None
        sizes[kind] = body
    return sizes


def every_template() -> Iterator[tuple[str, str, list[str]]]:
    """(name, body, regions to lint in) of the dev profile, the largest templates and every profile with overrides."""
    for name in PROFILES:
        templates = render_member_templates(override_settings(), profile_named(override_settings(), name))
        yield f"{name} iam", templates.iam or "", REGIONS
        yield f"{name} rules", templates.rules or "", REGIONS
    for kind, body in largest_templates().items():
        yield f"largest {kind}", body, [worst_case.ALL_REGIONS[0], worst_case.LONGEST_REGIONS[0]]


@cache
def all_templates() -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    return tuple((name, body, tuple(regions)) for name, body, regions in every_template())


@pytest.mark.parametrize("index", range(8), ids=[*(f"{name} {kind}" for name in PROFILES for kind in ("iam", "rules")), "largest iam", "largest rules"])
def test_cfn_lint_finds_no_error(index: int) -> None:
    name, body, regions = all_templates()[index]
    assert body, name
    assert lint_errors(body, list(regions)) == [], name


def test_the_dev_stacks_rules_as_one_profile_lint_clean() -> None:
    templates = render_member_templates(dev_settings(), profile_named(dev_settings(), "base"))
    for body in (templates.iam, templates.rules):
        assert body is not None
        assert lint_errors(body, REGIONS) == []


def test_remediations_use_values_the_config_api_accepts() -> None:
    # cfn-lint's schema types these as a plain string and integers.
    checked = 0
    for name, body, _ in all_templates():
        for resource in json.loads(body)["Resources"].values():
            if resource["Type"] != REMEDIATION_TYPE:
                continue
            properties = resource["Properties"]
            assert properties["TargetType"] == "SSM_DOCUMENT", name
            assert 1 <= properties["MaximumAutomaticAttempts"] <= 25, name
            assert 1 <= properties["RetryAttemptSeconds"] <= 2678000, name
            controls = properties["ExecutionControls"]["SsmControls"]
            assert 1 <= controls["ConcurrentExecutionRatePercentage"] <= 100, name
            assert 1 <= controls["ErrorPercentage"] <= 100, name
            assert len(properties["Parameters"]) <= limits.REMEDIATION_PARAMETERS_MAX, name
            checked += 1
    assert checked > 0


def test_the_largest_profile_fits_inline() -> None:
    for kind, body in largest_templates().items():
        size = len(body.encode())
        assert size <= limits.CLOUDFORMATION_TEMPLATE_BODY.maximum, (kind, size)
    largest_rules = json.loads(largest_templates()["rules"])
    assert len(of_type(largest_rules["Resources"], CONFIG_RULE_TYPE)) == len(CATALOG)


def test_the_largest_profiles_policies_and_event_patterns_fit_in_a_member() -> None:
    iam = resolve(json.loads(largest_templates()["iam"]), MEMBER, worst_case.LONGEST_REGIONS[0])
    for logical, resource in of_type(iam, "AWS::IAM::Role").items():
        (policy,) = resource["Properties"]["Policies"]
        compact = json.dumps(policy["PolicyDocument"], separators=(",", ":"))
        assert limits.violation(limits.IAM_ROLE_INLINE_POLICIES, compact) is None, logical
    rules = json.loads(largest_templates()["rules"])
    for region in (worst_case.ALL_REGIONS[0], worst_case.LONGEST_REGIONS[0]):
        pattern = member_event_pattern(resolve(rules, MEMBER, region))
        assert limits.violation(limits.EVENT_PATTERN, json.dumps(pattern, sort_keys=True)) is None, region


def test_a_template_over_the_limit_is_refused_naming_the_profiles_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    small = dataclasses.replace(limits.CLOUDFORMATION_TEMPLATE_BODY, maximum=5000)
    monkeypatch.setattr(limits, "CLOUDFORMATION_TEMPLATE_BODY", small)
    raw = org_stack(dev_rules(), overrides=OVERRIDES)
    settings = load_settings(raw)
    with pytest.raises(ConfigError) as raised:
        render_member_templates(settings, profile_named(settings, "sandbox"))
    problems = raised.value.problems
    assert problems and all(problem.startswith("governance:organization.overrides[1].rules makes") for problem in problems)
    for problem in problems:
        assert_one_sentence(problem)
        assert_names_its_key(problem, {"organization": raw["organization"]})
    assert "5,000 allowed" in problems[0]


def test_templates_are_canonical_json_without_transforms_or_recorders() -> None:
    for name, body, _ in all_templates():
        template = json.loads(body)
        assert body == json.dumps(template, sort_keys=True, separators=(",", ":")), name
        assert "Transform" not in template, name
        types = {resource["Type"] for resource in template["Resources"].values()}
        assert not types & {"AWS::Config::ConfigurationRecorder", "AWS::Config::DeliveryChannel"}, name
        allowed = ("AWS::IAM::", "AWS::Config::", "AWS::Events::", "AWS::Logs::", "AWS::SQS::", "AWS::CloudFormation::WaitConditionHandle")
        assert all(type_name.startswith(allowed) for type_name in types), name


def test_the_names_of_organization_mode_fit_with_the_longest_prefix() -> None:
    names = Names(worst_case.LONGEST_PREFIX)
    assert limits.violation(limits.IAM_ROLE_NAME, names.forwarding_role) is None
    assert limits.violation(limits.EVENT_RULE_NAME, names.forwarding_rule) is None
    assert limits.violation(limits.SQS_QUEUE_NAME, names.forwarding_dead_letter_queue) is None
    # EventBridge bus names: 1-256 of [/.-_A-Za-z0-9] (botocore events EventBusName).
    assert re.fullmatch(r"[/._A-Za-z0-9-]{1,256}", names.hub_event_bus)


def test_rendering_needs_no_pulumi() -> None:
    code = "import sys, governance.member_template; sys.exit('pulumi' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, check=False).returncode == 0


def test_a_template_needs_governance_organization() -> None:
    settings = load_settings({"regions": REGIONS, "accounts": [{"id": MEMBER}], "rules": {}})
    with pytest.raises(ValueError, match="governance:organization"):
        render_member_templates(settings, RuleProfile(name="base", targets=(OU_1,), rules=()))


def test_member_templates_record_their_profile() -> None:
    templates = render_member_templates(override_settings(), profile_named(override_settings(), OU_2))
    assert isinstance(templates, MemberTemplates)
    assert templates.profile == OU_2
