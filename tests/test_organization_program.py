"""Organization mode under mocks: what ``pulumi up`` registers in the hub account for ``governance:organization``."""

from __future__ import annotations

import copy
import json
from collections import Counter
from functools import cache
from typing import Any

import pulumi
import pytest

from governance.lambda_code import lambda_module
from governance.limits import LAMBDA_ENVIRONMENT
from governance.member_template import member_plan, render_member_templates
from governance.mock_program import (
    GET_ORGANIZATION,
    MOCK_ORGANIZATION_ID,
    ProgramRun,
    RecordingMocks,
    Registered,
    run_program,
)
from governance.plan import Names
from governance.settings import RuleProfile, Settings, load_settings
from tests.config_problems import assert_names_its_key, assert_one_sentence
from tests.test_member_template import dev_rules
from tests.test_member_template import override_settings as template_overrides

HUB = "999999999999"
OTHER = "111111111111"
OU_1, OU_2, OU_3 = "ou-ab12-11111111", "ou-ab12-22222222", "ou-ab12-33333333"
EXCLUDED = ["444444444444", "555555555555"]
REGIONS = ["us-east-1", "eu-west-1"]
MEMBER_ROLE = "governance-member"
HUB_PROVIDER = f"::aws-hub-{HUB}::"
STACK_SET = "aws:cloudformation/stackSet:StackSet"
INSTANCE = "aws:cloudformation/stackSetInstance:StackSetInstance"
FUNCTION = "aws:lambda/function:Function"
BUS = "aws:cloudwatch/eventBus:EventBus"
BUS_POLICY = "aws:cloudwatch/eventBusPolicy:EventBusPolicy"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
PERMISSION = "aws:lambda/permission:Permission"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
QUEUE = "aws:sqs/queue:Queue"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
PROVIDER = "pulumi:providers:aws"
COMPONENT = "governance:index:Organization"
HUB_REGION_TYPES = (BUS, BUS_POLICY, EVENT_RULE, EVENT_TARGET, PERMISSION, INVOKE_CONFIG, QUEUE, LOG_GROUP, FUNCTION)
"""What the hub deploys in each governed region."""


def organization_rules() -> dict[str, Any]:
    """The dev stack's rules, with flow logs detected only (their CloudWatch Logs delivery needs a role of each member)."""
    rules = dev_rules()
    rules["vpc-flow-logs"] = {"mode": "detect"}
    return rules


OVERRIDES: list[dict[str, Any]] = [
    # The hub's settings agree: an override turns Lambda rules off or to detect, or adds one the base does not remediate.
    # SSM-engine rules may differ: s3-bucket-encryption is auto in the base.
    {"targets": [OU_2], "rules": {
        "restricted-admin-ports": {"mode": "detect"}, "s3-bucket-versioning": {"mode": "manual"}, "s3-bucket-encryption": {"mode": "manual"},
    }},
    # The Lambda fixes s3-bucket-encryption here, SSM elsewhere: the hub's config holds both.
    {"targets": [OU_3], "rules": {"kms-key-rotation": {"mode": "off"}, "s3-bucket-encryption": {"engine": "lambda"}}},
]


def org_stack(
    *,
    regions: list[str] = REGIONS,
    targets: list[str] | None = None,
    overrides: list[dict[str, Any]] | None = None,
    exclude: list[str] | None = None,
    rules: dict[str, Any] | None = None,
    **top: Any,
) -> dict[str, Any]:
    """An organization stack's config without namespace: OU_1 plus the overrides' targets unless ``targets`` says otherwise."""
    organization: dict[str, Any] = {
        "adminAccountId": HUB,
        "adminRoleArn": f"arn:aws:iam::{HUB}:role/governance-deploy",
        "targets": targets or [OU_1, *(target for override in overrides or [] for target in override["targets"])],
    }
    if overrides:
        organization["overrides"] = copy.deepcopy(overrides)
    if exclude:
        organization["excludeAccounts"] = list(exclude)
    return {"regions": regions, "rules": rules if rules is not None else organization_rules(), "organization": organization, **top}


def namespaced(raw: dict[str, Any]) -> dict[str, Any]:
    return {f"governance:{key}": value for key, value in raw.items()}


@cache
def overridden_raw() -> str:
    return json.dumps(org_stack(overrides=OVERRIDES, exclude=EXCLUDED))


@cache
def overridden_run() -> ProgramRun:
    return run_program(namespaced(json.loads(overridden_raw())))


@cache
def overridden_settings() -> Settings:
    return load_settings(json.loads(overridden_raw()))


def profiles(settings: Settings) -> tuple[RuleProfile, ...]:
    assert settings.organization is not None
    return settings.organization.profiles


def hub_resources(run: ProgramRun) -> list[Registered]:
    return [resource for resource in run.resources if resource.type not in (PROVIDER, COMPONENT)]


def in_region(run: ProgramRun, region: str, type_token: str) -> list[Registered]:
    return [resource for resource in run.of_type(type_token) if resource.name.startswith(f"gov-org-{HUB}-{region}-")]


def on_hub_bus(run: ProgramRun, region: str, type_token: str) -> list[Registered]:
    """The region's rules or targets on the members' bus (the notification rule is on the default bus)."""
    return [resource for resource in in_region(run, region, type_token) if resource.inputs.get("eventBusName") == "governance-member-events"]


ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
OPERATIONS_PER_REGION = {ALARM: 4, TOPIC: 1, EVENT_RULE: 1, EVENT_TARGET: 1}
"""Direct mode's alarms, topic and notification rule with its target, on the hub's function."""


def expected_count(regions: int, targets_per_profile: list[int]) -> int:
    """Provider, component, the Lambda role and its policy, the dashboard; nine resources per region for the function
    and seven for its alarms and notifications; per profile two stack sets, one IAM instance per target and one rules
    instance per target and region."""
    per_region = len(HUB_REGION_TYPES) + sum(OPERATIONS_PER_REGION.values())
    return 5 + per_region * regions + sum(2 + targets * (1 + regions) for targets in targets_per_profile)


# --- what is registered, and how many -------------------------------------------------------------


def test_the_resource_count_does_not_depend_on_the_organization_size() -> None:
    raw = namespaced(org_stack())
    small = run_program(raw, organization_accounts=("222222222222",))
    large = run_program(raw, organization_accounts=tuple(f"{100000000000 + index}" for index in range(2000)))
    assert len(small.resources) == len(large.resources) == expected_count(2, [1])
    assert Counter((resource.type, resource.name) for resource in small.resources) == Counter(
        (resource.type, resource.name) for resource in large.resources
    )
    # The only invoke asks for the organization's own fields, never its accounts.
    for run in (small, large):
        assert [(invoked.token, invoked.args) for invoked in run.invokes] == [(GET_ORGANIZATION, {"returnOrganizationOnly": True})]


@pytest.mark.parametrize(
    ("regions", "overrides"),
    [
        (["us-east-1"], None),
        (REGIONS, None),
        (["us-east-1", "eu-west-1", "ap-southeast-2"], OVERRIDES),
        (["eu-west-1"], [{"targets": [OU_2, OU_3], "rules": {"restricted-admin-ports": {"mode": "detect"}}}]),
    ],
)
def test_the_resource_count_is_a_function_of_regions_profiles_and_their_targets(regions: list[str], overrides: Any) -> None:
    raw = org_stack(regions=regions, overrides=overrides)
    run = run_program(namespaced(raw))
    targets = [len(profile.targets) for profile in profiles(load_settings(raw))]
    assert len(run.resources) == expected_count(len(regions), targets)
    counts = Counter(resource.type for resource in run.resources)
    assert counts[STACK_SET] == 2 * len(targets)
    assert counts[INSTANCE] == sum(targets) * (1 + len(regions))
    for type_token in HUB_REGION_TYPES:
        assert counts[type_token] == len(regions) * (1 + OPERATIONS_PER_REGION.get(type_token, 0)), type_token
    for type_token, per_region in OPERATIONS_PER_REGION.items():
        assert counts[type_token] == len(regions) * (per_region + (type_token in HUB_REGION_TYPES)), type_token
    assert counts[ROLE] == counts[ROLE_POLICY] == counts[PROVIDER] == counts[COMPONENT] == counts[DASHBOARD] == 1


def test_a_detect_only_organization_deploys_no_hub_lambda_and_a_member_role_for_the_cli() -> None:
    rules = {key: {"mode": "detect"} for key in ("s3-bucket-versioning", "cloudtrail-multi-region", "restricted-admin-ports")}
    run = run_program(namespaced(org_stack(rules=rules)))
    assert Counter(resource.type for resource in run.resources) == {PROVIDER: 1, COMPONENT: 1, STACK_SET: 2, INSTANCE: 1 + len(REGIONS)}
    assert sorted(stack_set.inputs["name"] for stack_set in run.of_type(STACK_SET)) == ["governance-member-iam-base", "governance-member-rules-base"]
    assert run.invokes == []  # no bus, so no organization id to read


def test_logical_names_are_unique() -> None:
    pairs = Counter((resource.type, resource.name) for resource in overridden_run().resources)
    assert [pair for pair, count in pairs.items() if count > 1] == []


# --- stack sets and their instances ---------------------------------------------------------------


def test_every_stack_set_is_service_managed_auto_deployed_by_the_delegated_admin_with_the_rendered_template() -> None:
    run, settings = overridden_run(), overridden_settings()
    names = Names(settings.rule_name_prefix)
    expected = {}
    for profile in profiles(settings):
        templates = render_member_templates(settings, profile)
        expected[names.stack_set("iam", profile.name)] = templates.iam
        expected[names.stack_set("rules", profile.name)] = templates.rules
    stack_sets = run.of_type(STACK_SET)
    assert {stack_set.inputs["name"]: stack_set.inputs["templateBody"] for stack_set in stack_sets} == expected
    for stack_set in stack_sets:
        inputs = stack_set.inputs
        assert inputs["permissionModel"] == "SERVICE_MANAGED"
        auto_deployment = dict(inputs["autoDeployment"])
        after = auto_deployment.pop("dependsOnStackSets", None)
        assert auto_deployment == {"enabled": True, "retainStacksOnAccountRemoval": False}
        if inputs["name"].startswith(names.stack_set("rules", "")):
            # A new account's rules wait for its roles: the rules stack set's auto-deployment depends on the roles'.
            iam_name = inputs["name"].replace(names.stack_set("rules", ""), names.stack_set("iam", ""), 1)
            (iam,) = [other for other in stack_sets if other.inputs["name"] == iam_name]
            assert after == [f"arn:aws:cloudformation:mock:000000000000:{iam.name}"]
        else:
            assert after is None
        assert inputs["callAs"] == "DELEGATED_ADMIN"
        assert inputs["capabilities"] == ["CAPABILITY_NAMED_IAM"]
        assert inputs["region"] == REGIONS[0]
        preferences = inputs["operationPreferences"]
        assert preferences["failureTolerancePercentage"] > 0
        assert preferences["maxConcurrentPercentage"] <= preferences["failureTolerancePercentage"] + 1  # STRICT_FAILURE_TOLERANCE
        assert "administrationRoleArn" not in inputs and "executionRoleName" not in inputs


def test_instances_target_each_whole_ou_in_each_region() -> None:
    run, settings = overridden_run(), overridden_settings()
    names = Names(settings.rule_name_prefix)
    expected = set()
    for profile in profiles(settings):
        for target in profile.targets:
            expected.add((names.stack_set("iam", profile.name), target, REGIONS[0]))
            expected.update((names.stack_set("rules", profile.name), target, region) for region in REGIONS)
    instances = run.of_type(INSTANCE)
    found = {
        (instance.inputs["stackSetName"], *instance.inputs["deploymentTargets"]["organizationalUnitIds"], instance.inputs["stackSetInstanceRegion"])
        for instance in instances
    }
    assert found == expected and len(instances) == len(expected)
    for instance in instances:
        assert instance.inputs["callAs"] == "DELEGATED_ADMIN"
        # Excluded accounts are left out by the templates: an account filter would replace the instance when it changes.
        assert list(instance.inputs["deploymentTargets"]) == ["organizationalUnitIds"]
        assert "region" not in instance.inputs and "accountId" not in instance.inputs
        assert instance.options.delete_before_replace


def test_a_new_exclusion_list_changes_the_templates_and_the_hub_config_but_no_instance() -> None:
    before = overridden_run()
    after = run_program(namespaced(org_stack(overrides=OVERRIDES, exclude=[*EXCLUDED, "666666666666"])))
    def by_name(run: ProgramRun, type_token: str) -> dict[str, dict[str, Any]]:
        return {resource.name: resource.inputs for resource in run.of_type(type_token)}

    assert by_name(after, INSTANCE) == by_name(before, INSTANCE)
    stack_sets, earlier = by_name(after, STACK_SET), by_name(before, STACK_SET)
    assert sorted(stack_sets) == sorted(earlier)
    changed = [name for name, inputs in stack_sets.items() if inputs["templateBody"] != earlier[name]["templateBody"]]
    assert sorted(changed) == sorted(earlier), "every template leaves the newly excluded account out"
    for stack_set in after.of_type(STACK_SET):
        assert '"666666666666"' in stack_set.inputs["templateBody"]
    assert all("666666666666" in function.inputs["environment"]["variables"]["GOVERNANCE_CONFIG"] for function in after.of_type(FUNCTION))


def test_the_iam_stack_set_and_its_instances_come_before_the_rules_stack_set_and_its_instances() -> None:
    run, settings = overridden_run(), overridden_settings()
    for profile in profiles(settings):
        prefix = f"gov-org-{HUB}-{profile.name}-"
        iam = [resource.name for resource in run.resources if resource.name.startswith(f"{prefix}iam")]
        rules = [resource for resource in run.resources if resource.name.startswith(f"{prefix}rules")]
        assert len(iam) == 1 + len(profile.targets) and len(rules) == 1 + len(profile.targets) * len(REGIONS)
        for resource in rules:
            waits_for = {urn.rsplit("::", 1)[1] for urn in resource.options.dependencies}
            assert set(iam) <= waits_for, (resource.name, sorted(waits_for))


# --- the hub's provider ---------------------------------------------------------------------------


def test_every_hub_resource_and_invoke_uses_the_hub_provider() -> None:
    run = overridden_run()
    custom = hub_resources(run)
    assert custom and all(resource.custom for resource in custom)
    for resource in custom:
        assert HUB_PROVIDER in resource.provider, (resource.type, resource.name, resource.provider)
    assert [invoked.token for invoked in run.invokes] == [GET_ORGANIZATION]
    assert HUB_PROVIDER in run.invokes[0].provider
    (provider,) = run.of_type(PROVIDER)
    assert provider.inputs["region"] == REGIONS[0]
    assert json.loads(provider.inputs["allowedAccountIds"]) == [HUB]
    assert [role["roleArn"] for role in json.loads(provider.inputs["assumeRoles"])] == [f"arn:aws:iam::{HUB}:role/governance-deploy"]


def test_accounts_beside_the_organization_keep_their_direct_mode_bundles() -> None:
    raw = org_stack(accounts=[{"id": OTHER, "roleArn": f"arn:aws:iam::{OTHER}:role/deploy"}])
    run = run_program(namespaced(raw))
    direct = [resource for resource in run.resources if resource.name.startswith(f"gov-{OTHER}")]
    assert direct and all(f"::aws-{OTHER}::" in resource.provider for resource in direct if resource.custom)
    assert len(run.resources) - len(direct) - 1 == expected_count(2, [1])  # the other account's provider is not named gov-
    assert set(run.outputs["accountRegions"]) == {f"{OTHER}/{region}" for region in REGIONS}
    assert run.outputs["organization"]["stackSets"] == ["governance-member-iam-base", "governance-member-rules-base"]


# --- the hub Lambda -------------------------------------------------------------------------------


def hub_config(run: ProgramRun, region: str) -> dict[str, Any]:
    (function,) = in_region(run, region, FUNCTION)
    config: dict[str, Any] = json.loads(function.inputs["environment"]["variables"]["GOVERNANCE_CONFIG"])
    return config


def effective_rules(config: dict[str, Any], target: str) -> dict[str, Any]:
    """The Lambda rules the hub's config gives accounts under ``target``: its rules with that profile's differences."""
    rules = dict(config["rules"])
    for profile in config["organization"].get("profiles", []):
        if target in profile["targets"]:
            rules.update(profile["rules"])
    return {key: entry for key, entry in rules.items() if entry is not None}


def assert_each_profile_gets_its_members_rules(run: ProgramRun, settings: Settings) -> None:
    for index, region in enumerate(REGIONS):
        config = hub_config(run, region)
        for profile in profiles(settings):
            # The member's own values as the hub in its region has them: its account stays for the function to fill in.
            rules = member_plan(settings, profile).regions[index].lambda_config["rules"]
            member = json.loads(json.dumps(rules).replace("<AWS.Partition>", "aws").replace("<AWS.Region>", region))
            for target in profile.targets:
                assert effective_rules(config, target) == member, (profile.name, target, region)


def test_a_rule_naming_each_members_own_role_leaves_the_account_for_the_function_to_fill_in() -> None:
    # The dev stack's rules deliver flow logs to CloudWatch Logs through each member's own delivery role.
    raw = org_stack(rules=dev_rules(), overrides=[{"targets": [OU_2], "rules": {"vpc-flow-logs": {"mode": "auto"}}}])
    run, settings = run_program(namespaced(raw)), load_settings(raw)
    assert_each_profile_gets_its_members_rules(run, settings)
    config = hub_config(run, REGIONS[0])
    role = "arn:aws:iam::<AWS.AccountId>:role/governance-flow-logs-delivery"
    assert config["rules"]["vpc-flow-logs"]["params"]["deliverLogsRoleArn"] == role
    assert effective_rules(config, OU_2)["vpc-flow-logs"]["mode"] == "auto"
    assert HUB not in json.dumps(config["rules"]), "no value of the hub's own account stands for a member's"
    for profile in profiles(settings):
        iam = json.loads(render_member_templates(settings, profile).iam or "{}")
        assert iam["Resources"]["FlowLogsDeliveryRole"]["Properties"]["RoleName"] == "governance-flow-logs-delivery"


def test_the_hub_lambda_config_gives_each_profile_exactly_its_members_rules() -> None:
    run, settings = overridden_run(), overridden_settings()
    assert_each_profile_gets_its_members_rules(run, settings)
    for index, region in enumerate(REGIONS):
        config = hub_config(run, region)
        section = config["organization"]
        assert {key: section[key] for key in ("memberRoleName", "targets", "excludeAccounts")} == {
            "memberRoleName": MEMBER_ROLE, "targets": [OU_1, OU_2, OU_3], "excludeAccounts": EXCLUDED
        }
        expected_runbooks: dict[str, Any] = {}
        for profile in profiles(settings):
            for document, runbook in member_plan(settings, profile).regions[index].lambda_config["ssmRunbooks"].items():
                expected_runbooks.setdefault(document, runbook)
        assert config["ssmRunbooks"] == expected_runbooks
        # Each override changes what the Lambda acts on: s3-bucket-versioning only in OU_2, restricted-admin-ports not there.
        assert {"s3-bucket-versioning", "restricted-admin-ports", "kms-key-rotation", "s3-bucket-encryption"} <= set(config["rules"])
        assert "restricted-admin-ports" not in effective_rules(config, OU_2)
        assert "s3-bucket-versioning" not in effective_rules(config, OU_1)
        assert config["ssmRunbooks"]["AWS-EnableS3BucketEncryption"]["mode"] == "auto"


def test_profiles_may_fix_a_lambda_rule_in_another_mode_or_from_another_source() -> None:
    overrides = [
        {"targets": [OU_2], "rules": {"sqs-queue-public": {"mode": "auto"}}},
        {"name": "shared-hub", "targets": [OU_3], "rules": {"restricted-admin-ports": {"source": "securityhub"}}},
    ]
    raw = org_stack(overrides=overrides)
    run, settings = run_program(namespaced(raw)), load_settings(raw)
    assert_each_profile_gets_its_members_rules(run, settings)
    config = hub_config(run, REGIONS[0])
    assert (config["rules"]["sqs-queue-public"]["mode"], effective_rules(config, OU_2)["sqs-queue-public"]["mode"]) == ("manual", "auto")
    assert "securityHubPrefixes" in effective_rules(config, OU_3)["restricted-admin-ports"]
    assert "securityHubPrefixes" not in effective_rules(config, OU_1)["restricted-admin-ports"]


def test_the_lambda_takes_the_hub_config_as_an_organization_hub_within_its_environment_limit() -> None:
    run = overridden_run()
    parse_config = lambda_module("config").parse_config
    for region in REGIONS:
        (function,) = in_region(run, region, FUNCTION)
        variables = function.inputs["environment"]["variables"]
        assert len(json.dumps(variables)) <= LAMBDA_ENVIRONMENT.maximum
        parsed = parse_config(variables["GOVERNANCE_CONFIG"])
        assert parsed.organization is not None
        assert (parsed.organization.member_role_name, parsed.organization.targets, parsed.organization.exclude_accounts) == (
            MEMBER_ROLE, (OU_1, OU_2, OU_3), tuple(EXCLUDED)
        )
        assert parsed.rule_for("governance-s3-bucket-versioning") is not None


def test_the_hub_lambda_role_assumes_only_the_member_role_and_walks_the_organization() -> None:
    run = overridden_run()
    (policy,) = run.of_type(ROLE_POLICY)
    statements = json.loads(policy.inputs["policy"])["Statement"]

    def granting(action: str) -> list[dict[str, Any]]:
        return [statement for statement in statements if action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])]

    (assume,) = granting("sts:AssumeRole")
    assert assume["Resource"] == f"arn:aws:iam::*:role/{MEMBER_ROLE}" and assume["Action"] == "sts:AssumeRole"
    assert len(granting("organizations:ListParents")) == 1
    actions = {action for statement in statements for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])}
    # Fixes run with the member role: the hub's own role holds no fixer action.
    assert actions == {
        "logs:CreateLogStream", "logs:PutLogEvents", "logs:FilterLogEvents", "sqs:SendMessage", "events:PutEvents",
        "ssm:GetAutomationExecution", "sts:AssumeRole", "organizations:ListParents",
    }
    (role,) = run.of_type(ROLE)
    assert role.inputs["name"] == "governance-remediation-lambda"


def test_the_hub_bus_admits_the_organization_and_feeds_the_lambda_with_the_members_pattern() -> None:
    run, settings = overridden_run(), overridden_settings()
    for index, region in enumerate(REGIONS):
        (bus,) = in_region(run, region, BUS)
        assert bus.inputs["name"] == "governance-member-events" and bus.inputs["region"] == region
        (bus_policy,) = in_region(run, region, BUS_POLICY)
        (statement,) = json.loads(bus_policy.inputs["policy"])["Statement"]
        assert statement["Principal"] == "*" and statement["Action"] == "events:PutEvents"
        assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": MOCK_ORGANIZATION_ID}}
        assert statement["Resource"] == bus.state["arn"]
        (rule,) = on_hub_bus(run, region, EVENT_RULE)
        assert rule.inputs["eventBusName"] == "governance-member-events"
        pattern = json.loads(rule.inputs["eventPattern"])
        hub_names = json.dumps(pattern)
        for profile in profiles(settings):
            member_pattern = member_plan(settings, profile).regions[index].event_pattern
            assert member_pattern is not None
            for part in member_pattern.get("$or", [member_pattern]):
                for name in part["detail"].get("configRuleName", part["detail"].get("Definition")):
                    assert json.dumps(name) in hub_names, (profile.name, name)
        (target,) = on_hub_bus(run, region, EVENT_TARGET)
        assert target.inputs["eventBusName"] == "governance-member-events"
        assert target.inputs["deadLetterConfig"]["arn"] and target.inputs["retryPolicy"]["maximumRetryAttempts"] >= 0


def test_with_one_profile_the_hub_rule_matches_exactly_what_members_forward() -> None:
    raw = org_stack()
    run, settings = run_program(namespaced(raw)), load_settings(raw)
    (profile,) = profiles(settings)
    for index, region in enumerate(REGIONS):
        (rule,) = on_hub_bus(run, region, EVENT_RULE)
        assert json.loads(rule.inputs["eventPattern"]) == member_plan(settings, profile).regions[index].event_pattern


def test_members_trust_the_hub_role_and_forward_to_the_hub_bus_the_program_creates() -> None:
    run, settings = overridden_run(), overridden_settings()
    (role,) = run.of_type(ROLE)
    bus_names = {bus.inputs["name"] for bus in run.of_type(BUS)}
    for profile in profiles(settings):
        templates = render_member_templates(settings, profile)
        assert templates.iam is not None and templates.rules is not None
        trust = json.loads(templates.iam)["Resources"]["MemberRole"]["Properties"]["AssumeRolePolicyDocument"]
        (statement,) = trust["Statement"]
        # The hub Lambda's role, and adminRoleArn: the operator CLI's way into the members.
        assert settings.organization is not None
        assert statement["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [
            f"arn:aws:iam::{HUB}:role/{role.inputs['name']}", settings.organization.admin_role_arn,
        ]
        (target,) = json.loads(templates.rules)["Resources"]["ForwardEvents"]["Properties"]["Targets"]
        account_and_bus = ":".join(target["Arn"]["Fn::Sub"].rsplit(":", 2)[1:])
        assert {account_and_bus} == {f"{HUB}:event-bus/{name}" for name in bus_names}


def per_profile_environment(settings: Settings, region_index: int) -> str:
    """The hub Lambda's environment if its config held each profile's rules and runbooks, keyed by profile, with its targets."""
    assert settings.organization is not None
    configs = {profile.name: (profile, member_plan(settings, profile).regions[region_index].lambda_config) for profile in profiles(settings)}
    shared = {key: value for key, value in next(iter(configs.values()))[1].items() if key not in ("rules", "ssmRunbooks")}
    document = {
        **shared,
        "organization": {"memberRoleName": MEMBER_ROLE, "targets": list(settings.organization.targets), "excludeAccounts": []},
        "profiles": {
            name: {"targets": list(profile.targets), "rules": config["rules"], "ssmRunbooks": config["ssmRunbooks"]}
            for name, (profile, config) in configs.items()
        },
    }
    return json.dumps({"GOVERNANCE_CONFIG": json.dumps(document, sort_keys=True, separators=(",", ":"))})


def test_a_config_per_profile_would_not_fit_the_lambda_environment_for_the_dev_rules_with_two_overrides() -> None:
    # Why one hub config serves every profile: the dev stack's rules with member_template's two overrides.
    environment = per_profile_environment(template_overrides(), 0)
    assert len(environment.encode()) > LAMBDA_ENVIRONMENT.maximum


# --- invalid organization configs -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (org_stack(ruleNamePrefix="gov_"), "governance:ruleNamePrefix "),
        (org_stack(accounts=[{"id": HUB, "roleArn": f"arn:aws:iam::{HUB}:role/deploy"}]), "governance:accounts[0].id "),
        (org_stack(exclude=[f"{300000000000 + index}" for index in range(150)]), "governance:organization.excludeAccounts "),
    ],
)
def test_an_invalid_organization_config_registers_nothing(raw: dict[str, Any], key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    recorded: list[Any] = []
    original = RecordingMocks.new_resource

    def recording_new_resource(self: RecordingMocks, args: Any) -> Any:
        recorded.append(args)
        return original(self, args)

    monkeypatch.setattr(RecordingMocks, "new_resource", recording_new_resource)
    with pytest.raises(pulumi.RunError) as raised:
        run_program(namespaced(raw))
    assert recorded == []
    problems = [line.removeprefix("- ") for line in str(raised.value).splitlines()[1:]]
    matching = [problem for problem in problems if problem.startswith(key)]
    assert matching, problems
    for problem in problems:
        assert_one_sentence(problem)
        assert_names_its_key(problem, raw)
