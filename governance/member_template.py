"""The CloudFormation templates organization mode deploys in member accounts, rendered from the plan direct mode uses.

A rule profile becomes two templates, each deployed by a service-managed stack set to the profile's OUs:

- ``iam``, in one region per account (role names are global and would collide across regions): the member
  role the hub's remediation Lambda assumes, the SSM automation role, the flow-log delivery role and the
  role EventBridge uses to forward events to the hub;
- ``rules``, in every region of ``governance:regions``: the Config rules, their SSM remediations, the
  flow-log group, and the default-bus rule forwarding the remediation events to the hub's bus.

Nothing here is derived a second time: the member account is planned with ``plan_account`` like any
account of direct mode, with its id, partition and region left as placeholders that become
``${AWS::AccountId}``, ``${AWS::Partition}`` and ``${AWS::Region}`` (``Fn::Sub``). A value that differs
between regions (a rule's input parameters with one KMS key per region) is looked up in a mapping by
region; account-level rules carry a condition that holds in the first region only. Templates have no
``Transform`` (a service-managed stack set runs none without a custom execution role) and no Config
recorder (one must already exist in every governed account and region; a second one fails).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from components import policies
from components.log_buckets import RoleGrants, split_grants
from governance import limits
from governance.catalog import VPC_FLOW_LOGS
from governance.cli.permissions import FORWARDED_DEAD_LETTER_READS, operator_reads
from governance.lambda_code import fixer_iam_actions
from governance.plan import (
    DEAD_LETTER_RETENTION_SECONDS,
    AccountPlan,
    Emitted,
    Names,
    RegionPlan,
    RemediationParameter,
    plan_account,
    remediation_parameters,
    role_arn,
)
from governance.settings import (
    Account,
    ConfigError,
    OrganizationSettings,
    RuleProfile,
    RuleSettings,
    Settings,
)

Template = dict[str, Any]
TEMPLATE_VERSION = "2010-09-09"
ACCOUNT_ID = "<AWS.AccountId>"
PARTITION = "<AWS.Partition>"
REGION = "<AWS.Region>"
"""Placeholders for what a template learns only where it is deployed.

Without colons, so that ARNs built with them still split into their six parts (``policies.scoped_statements``
reads the account field); characters no validated config value contains.
"""
PSEUDO_PARAMETERS: Mapping[str, str] = {ACCOUNT_ID: "AWS::AccountId", PARTITION: "AWS::Partition", REGION: "AWS::Region"}
FIRST_REGION = "IsFirstRegion"
"""The condition that holds in the first region of ``governance:regions``, where account-level rules live."""
REGIONAL_VALUES = "RegionalValues"
"""The mapping of the values that differ between regions, by region, then by resource and property."""
HUB_PLUMBING_SIDS = frozenset({"WriteOwnLogs", "ReadOwnLogs", "KeepFailedEvents", "PublishResults"})
"""Statements of direct mode's Lambda role that concern the function itself (its logs, queue and bus): hub-side only."""
FORWARDING_TARGET_ID = "hub-event-bus"
GOVERNED = "IsGovernedAccount"
"""The condition that holds in every account but those of ``excludeAccounts``: an excluded account's stack holds nothing else."""
GOVERNED_FIRST_REGION = "IsGovernedAccountInFirstRegion"
PLACEHOLDER = "Placeholder"
"""A resource without properties or cost that every stack of a template with exclusions keeps, so none is left empty."""
READ_VERBS = ("Get", "List", "Describe", "Lookup", "Head")
"""Actions named so only read (IAM's naming convention): all a detect-only rule's fixer needs for ``scan``."""
MAX_OR_CONDITIONS = 10
"""``Fn::Or`` takes 2 to 10 conditions: longer lists of excluded accounts are nested."""


@dataclass(frozen=True)
class MemberTemplates:
    """One profile's two member templates as canonical JSON, or ``None`` where the profile needs nothing of one."""

    profile: str
    iam: str | None
    """Deployed in one region per account: the roles."""
    rules: str | None
    """Deployed in every governed region: rules, remediations and event forwarding."""


# --- the member account as a plan --------------------------------------------------------------


def member_account(organization: OrganizationSettings, profile: RuleProfile) -> Account:
    """Any account of the profile's targets: id and partition are placeholders, the regions are ``governance:regions``."""
    return Account(
        id=ACCOUNT_ID,
        name=profile.name,
        role_arn=None,
        external_id=None,
        partition=PARTITION,
        regions=organization.regions,
        rules=profile.rules,
    )


def member_plan(settings: Settings, profile: RuleProfile) -> AccountPlan:
    """The plan of a member account of ``profile``, exactly as direct mode plans an account with these rules."""
    return plan_account(settings, member_account(_organization(settings), profile))


def _organization(settings: Settings) -> OrganizationSettings:
    if settings.organization is None:
        raise ValueError("member templates need governance:organization")
    return settings.organization


def hub_lambda_role_arn(settings: Settings) -> str:
    """The hub's remediation Lambda role, named as direct mode names an account's Lambda role."""
    organization = _organization(settings)
    return f"arn:{organization.partition}:iam::{organization.admin_account_id}:role/{Names(settings.rule_name_prefix).lambda_role}"


def ssm_grants(plan: AccountPlan) -> RoleGrants:
    """The automation role's rights, as direct mode grants them (``components.account_roles.ssm_grants``)."""
    return split_grants([(rule, rule.entry.ssm.iam_actions) for region in plan.regions for rule in region.ssm_rules if rule.entry.ssm])


def lambda_grants(plan: AccountPlan) -> RoleGrants:
    """The fixers' and the handler's rights, as direct mode grants its Lambda (``components.account_roles.lambda_grants``)."""
    rules = [(rule, fixer_iam_actions(rule.key)) for region in plan.regions for rule in region.lambda_rules]
    return split_grants(rules, extra=plan.handler_actions)


def operated_rules(plan: AccountPlan) -> list[RuleSettings]:
    """The rules the operator CLI reads and fixes in a member through the member role, as ``scan`` selects them."""
    return [rule for region in plan.regions for rule in region.rules if rule.source == "own" or rule.uses_lambda]


def member_grants(plan: AccountPlan) -> RoleGrants:
    """The member role's rights: the fixers of every rule the hub's Lambda or the operator CLI runs there, and the handler's.

    One role serves both (``memberRoleName``): the Lambda fixes the profile's lambda-engine rules, the CLI
    scans every enabled rule and fixes the remediating ones of either engine. Direct mode leaves the CLI's
    role to the operator; here the template must hold it, so the role grants each remediating rule's fixer
    actions, each detect-only rule's reads, and what the CLI reads to find resources, exemptions and
    doctor's findings (``governance.cli.permissions``).
    """
    operated = operated_rules(plan)
    rules = [(rule, operator_actions(rule)) for rule in operated]
    rules += [(rule, fixer_iam_actions(rule.key)) for region in plan.regions for rule in region.lambda_rules]
    # The CLI's own reads: discovery of the operated rules, the exemption query and doctor's checks.
    reads = operator_reads(frozenset(rule.key for rule in operated)) if operated else ()
    return split_grants(rules, extra=(*plan.handler_actions, *reads))


def operator_actions(rule: RuleSettings) -> tuple[str, ...]:
    """What the CLI needs of ``rule``'s fixer: every action when the rule remediates, its reads when it only detects."""
    actions = fixer_iam_actions(rule.key)
    if rule.remediates:
        return actions
    return tuple(action for action in actions if action.split(":", 1)[1].startswith(READ_VERBS))


def trusted_principals(settings: Settings) -> tuple[str, ...]:
    """The hub roles the member role trusts: the remediation Lambda's, and ``adminRoleArn`` (the CLI's way in) when set."""
    organization = _organization(settings)
    admin = (organization.admin_role_arn,) if organization.admin_role_arn else ()
    return (hub_lambda_role_arn(settings), *admin)


# --- placeholders to CloudFormation ----------------------------------------------------------------

_PLACEHOLDER = re.compile("|".join(re.escape(placeholder) for placeholder in PSEUDO_PARAMETERS))


def substituted(value: Any) -> Any:
    """``value`` with every string holding a placeholder turned into ``Fn::Sub`` of the pseudo parameters (``Ref`` when alone)."""
    if isinstance(value, str):
        if not _PLACEHOLDER.search(value):
            return value
        if value in PSEUDO_PARAMETERS:
            return {"Ref": PSEUDO_PARAMETERS[value]}
        pieces = _PLACEHOLDER.split(value)
        found = _PLACEHOLDER.findall(value)
        # A literal "${" would read as a variable: "${!" writes it as it is.
        text = pieces[0].replace("${", "${!")
        for placeholder, piece in zip(found, pieces[1:], strict=True):
            text += "${" + PSEUDO_PARAMETERS[placeholder] + "}" + piece.replace("${", "${!")
        return {"Fn::Sub": text}
    if isinstance(value, dict):
        return {key: substituted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [substituted(item) for item in value]
    return value


def logical_id(key: str, suffix: str) -> str:
    """A resource's logical id: the rule key in CamelCase (``s3-bucket-encryption`` -> ``S3BucketEncryption``), then ``suffix``."""
    return "".join(part[:1].upper() + part[1:] for part in key.split("-")) + suffix


def canonical_json(template: Template) -> str:
    """The template as the stack set receives it: keys sorted, no whitespace."""
    return json.dumps(template, sort_keys=True, separators=(",", ":"))


def _template(description: str, resources: Mapping[str, Any], conditions: Mapping[str, Any], mappings: Mapping[str, Any]) -> Template:
    template: Template = {"AWSTemplateFormatVersion": TEMPLATE_VERSION, "Description": description, "Resources": dict(resources)}
    if conditions:
        template["Conditions"] = dict(conditions)
    if mappings:
        template["Mappings"] = dict(mappings)
    return template


# --- the iam template --------------------------------------------------------------------------------


def member_trust_policy(organization: OrganizationSettings, trusted_role_arns: tuple[str, ...]) -> policies.Document:
    """Trust for the member role: the hub account, and in it only the given roles, matched by ARN as a string.

    A role ARN in ``Principal`` is pinned to that role's unique id, so a re-created hub role would lose
    access until every member is updated; ``aws:PrincipalArn`` compares the ARN and survives it
    (UNVERIFIED: the standard IAM pattern, not re-read in AWS's pages for this project). No
    ``aws:PrincipalOrgID``: the principal is one account of the organization, the delegated administrator,
    and the condition would add the organization id, which the stack config does not hold.
    """
    hub_root = f"arn:{organization.partition}:iam::{organization.admin_account_id}:root"
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": hub_root},
            "Action": "sts:AssumeRole",
            "Condition": {"ArnEquals": {"aws:PrincipalArn": list(trusted_role_arns)}},
        }],
    }


def member_role_policy(plan: AccountPlan) -> policies.Document:
    """Direct mode's Lambda role policy for ``member_grants``, without the statements about the function itself (hub-side).

    Where the member forwards events, ``doctor`` also reads the depth of the forwarding dead-letter queue: a
    statement on that queue alone (in every region: the name is the same in each).
    """
    document = policies.lambda_role_policy(plan.account, plan.names, member_grants(plan))
    sids = {statement.get("Sid") for statement in document["Statement"]}
    missing = HUB_PLUMBING_SIDS - sids
    if missing:
        raise AssertionError(f"policies.lambda_role_policy no longer has the statements {sorted(missing)}; update HUB_PLUMBING_SIDS")
    statements = [statement for statement in document["Statement"] if statement.get("Sid") not in HUB_PLUMBING_SIDS]
    if forwards_events(plan):
        statements.append({
            "Sid": "ReadForwardingDeadLetterDepth",
            "Effect": "Allow",
            "Action": list(FORWARDED_DEAD_LETTER_READS),
            "Resource": f"arn:{PARTITION}:sqs:*:{ACCOUNT_ID}:{plan.names.forwarding_dead_letter_queue}",
        })
    return {**document, "Statement": statements}


def forwarding_trust_policy() -> policies.Document:
    """Trust for the forwarding role: EventBridge acting for a rule of this account."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}},
        }],
    }


def forwarding_role_policy(organization: OrganizationSettings, names: Names) -> policies.Document:
    """Put events on the hub's bus of that name in any region: the rules stack set may reach a new region first."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ForwardToHub",
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": f"arn:{PARTITION}:events:*:{organization.admin_account_id}:event-bus/{names.hub_event_bus}",
        }],
    }


def forwards_events(plan: AccountPlan) -> bool:
    """Whether any region of the member has events for the hub (a lambda-engine rule or an SSM remediation)."""
    return any(region.event_pattern is not None for region in plan.regions)


def _role(name: str, description: str, trust: policies.Document, policy: policies.Document) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": name,
            "Description": description,
            "AssumeRolePolicyDocument": trust,
            "Policies": [{"PolicyName": name, "PolicyDocument": policy}],
        },
    }


def iam_resources(settings: Settings, plan: AccountPlan, trusted_role_arns: tuple[str, ...]) -> dict[str, Any]:
    """The member's roles, each only when a rule of the profile needs it, with direct mode's documents."""
    organization, account, names = _organization(settings), plan.account, plan.names
    resources: dict[str, Any] = {}
    if plan.needs_lambda_role or operated_rules(plan):
        resources["MemberRole"] = _role(
            organization.member_role_name,
            "Assumed by the hub's remediation Lambda and the operator CLI to read and fix this account's resources.",
            member_trust_policy(organization, trusted_role_arns),
            member_role_policy(plan),
        )
    if plan.needs_ssm_role:
        resources["SsmAutomationRole"] = _role(
            names.ssm_role,
            "Assumed by SSM Automation to run Config remediations.",
            policies.ssm_trust_policy(account),
            policies.ssm_role_policy(account, names, ssm_grants(plan)),
        )
    if plan.needs_flow_logs_role:
        log_groups = tuple(sorted({group for region in plan.regions if (group := region.flow_logs_log_group)}))
        resources["FlowLogsDeliveryRole"] = _role(
            names.flow_logs_role,
            "Lets VPC Flow Logs write to the program's flow-log groups.",
            policies.flow_logs_trust_policy(account),
            policies.flow_logs_role_policy(account, log_groups),
        )
    if forwards_events(plan):
        resources["EventForwardingRole"] = _role(
            names.forwarding_role,
            "Lets EventBridge forward compliance and automation events to the hub's event bus.",
            forwarding_trust_policy(),
            forwarding_role_policy(organization, names),
        )
    return resources


def iam_template(settings: Settings, profile: RuleProfile, trusted_role_arns: tuple[str, ...] | None = None) -> Template | None:
    """The profile's IAM template, or ``None`` when its rules need no role (detect only).

    ``trusted_role_arns`` are the hub roles that may assume the member role (default: the hub's remediation Lambda role).
    """
    plan = member_plan(settings, profile)
    resources = iam_resources(settings, plan, trusted_role_arns or trusted_principals(settings))
    if not resources:
        return None
    description = f"governance: member roles of rule profile {profile.name}, governed from account {_organization(settings).admin_account_id}."
    resources, conditions = with_exclusions(resources, {}, _organization(settings).exclude_accounts)
    return _template(description, substituted(resources), conditions, {})


# --- excluded accounts ------------------------------------------------------------------------------


def _any_of(conditions: list[dict[str, Any]]) -> dict[str, Any]:
    """One condition that holds when any of ``conditions`` does, nesting ``Fn::Or`` by tens."""
    if len(conditions) == 1:
        return conditions[0]
    if len(conditions) <= MAX_OR_CONDITIONS:
        return {"Fn::Or": conditions}
    groups = [conditions[start : start + MAX_OR_CONDITIONS] for start in range(0, len(conditions), MAX_OR_CONDITIONS)]
    return _any_of([_any_of(group) for group in groups])


def governed_condition(excluded: tuple[str, ...]) -> dict[str, Any]:
    """The condition that holds in any account but the excluded ones."""
    return {"Fn::Not": [_any_of([{"Fn::Equals": [{"Ref": "AWS::AccountId"}, account]} for account in excluded])]}


def with_exclusions(
    resources: Mapping[str, Any], conditions: Mapping[str, Any], excluded: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``resources`` created in governed accounts only, and a placeholder that every stack keeps.

    Excluded accounts are left out by the templates, not by the stack set instances' account filter: the
    provider replaces an instance whose deployment targets change, which deletes the stacks of every
    account of its OU before creating them again. A new exclusion list is a template update instead: the
    excluded accounts' resources are deleted, the other stacks see no change. The placeholder keeps an
    excluded account's stack from being empty (UNVERIFIED: that CloudFormation refuses a stack whose every
    resource is conditioned out; the placeholder, which has no properties and costs nothing, makes it moot).
    """
    if not excluded:
        return dict(resources), dict(conditions)
    conditioned = dict(conditions)
    conditioned[GOVERNED] = governed_condition(excluded)
    governed: dict[str, Any] = {}
    for logical, resource in resources.items():
        condition = resource.get("Condition")
        if condition is None:
            governed[logical] = {**resource, "Condition": GOVERNED}
        elif condition == FIRST_REGION:
            conditioned[GOVERNED_FIRST_REGION] = {"Fn::And": [{"Condition": GOVERNED}, {"Condition": FIRST_REGION}]}
            governed[logical] = {**resource, "Condition": GOVERNED_FIRST_REGION}
        else:
            raise ValueError(f"{logical} has the condition {condition}, which exclusions do not combine with")
    governed[PLACEHOLDER] = {"Type": "AWS::CloudFormation::WaitConditionHandle"}
    return governed, conditioned


# --- the rules template ------------------------------------------------------------------------------


def config_rule_description(rule: RuleSettings) -> str:
    """The Config rule's description, as direct mode writes it."""
    return f"{rule.entry.title} ({rule.mode}, {rule.engine if rule.remediates else 'no'} remediation)."


def config_rule_properties(region: RegionPlan, rule: RuleSettings) -> dict[str, Any]:
    """The Config rule's properties in one region: the plan's name, identifier, scope and input parameters."""
    spec = rule.entry.config_rule
    properties: dict[str, Any] = {
        "ConfigRuleName": region.names.config_rule(rule),
        "Description": config_rule_description(rule),
        "Source": {"Owner": "AWS", "SourceIdentifier": spec.identifier},
    }
    if spec.scope_resource_types:
        properties["Scope"] = {"ComplianceResourceTypes": list(spec.scope_resource_types)}
    inputs = region.config_rule_input_parameters(rule)
    if inputs is not None:
        properties["InputParameters"] = inputs
    return properties


def _parameter_value(parameter: RemediationParameter) -> dict[str, Any]:
    if parameter.resource_value is not None:
        return {"ResourceValue": {"Value": parameter.resource_value}}
    if not isinstance(parameter.static_value, str):
        raise TypeError(f"runbook parameter {parameter.name} must be a string, got {parameter.static_value!r}")
    return {"StaticValue": {"Values": [parameter.static_value]}}


def remediation_properties(region: RegionPlan, rule: RuleSettings, settings: Settings) -> dict[str, Any]:
    """The remediation's properties: direct mode's target, parameters, automatic flag and retry controls."""
    runbook = rule.entry.ssm
    assert runbook is not None, "settings only allow ssm for rules with a runbook"
    # Placeholders for the region too: the runbook's parameters then read the same in every region.
    anywhere = dataclasses.replace(region, region=REGION)
    automation_role = role_arn(region.account, region.names.ssm_role)
    controls = settings.remediation
    properties: dict[str, Any] = {
        "ConfigRuleName": region.names.config_rule(rule),
        "TargetType": "SSM_DOCUMENT",
        "TargetId": runbook.document,
        "Parameters": {
            parameter.name: _parameter_value(parameter)
            for parameter in remediation_parameters(rule, anywhere.ssm_context(), automation_role)
        },
        "Automatic": rule.mode == "auto",
        "MaximumAutomaticAttempts": controls.maximum_automatic_attempts,
        "RetryAttemptSeconds": controls.retry_attempt_seconds,
        "ExecutionControls": {
            "SsmControls": {
                "ConcurrentExecutionRatePercentage": controls.concurrent_execution_rate_percentage,
                "ErrorPercentage": controls.error_percentage,
            },
        },
    }
    if rule.entry.scope == "region":
        properties["ResourceType"] = rule.entry.config_rule.evaluated_resource_types[0]
    return properties


def hub_event_bus_arn(organization: OrganizationSettings, names: Names) -> str:
    """The hub's bus in the member's own region (with placeholders)."""
    return f"arn:{PARTITION}:events:{REGION}:{organization.admin_account_id}:event-bus/{names.hub_event_bus}"


def forwarding_rule_properties(region: RegionPlan, organization: OrganizationSettings, pattern: Mapping[str, Any]) -> dict[str, Any]:
    """The default-bus rule sending direct mode's remediation events to the hub's bus, through the forwarding role.

    No ``Input``, ``InputPath`` or ``InputTransformer``: EventBridge refuses them on a bus of another account,
    and the hub needs the event as it is (its ``account`` names the member). The rule is on the default bus,
    where Config sends its events; that SSM sends its automation status events there too is UNVERIFIED (the
    standard behaviour of AWS service events, not re-read for this project).
    """
    return {
        "Name": region.names.forwarding_rule,
        "Description": "Non-compliant evaluations of lambda-engine rules and outcomes of SSM remediations, for the hub.",
        "State": "ENABLED",
        "EventPattern": dict(pattern),
        "Targets": [{
            "Id": FORWARDING_TARGET_ID,
            "Arn": hub_event_bus_arn(organization, region.names),
            # Required for a bus of another account since 2023-03-02; the role is in the iam template.
            "RoleArn": role_arn(region.account, region.names.forwarding_role),
            # Events the hub's bus refuses (its policy, a missing bus) are kept in the member: nothing is lost. A bus
            # target takes a dead-letter queue but no retry policy (the CDK's EventBusProps, AWS's documentation).
            "DeadLetterConfig": {"Arn": forwarding_dead_letter_queue_arn(region)},
        }],
    }


def forwarding_dead_letter_queue_arn(region: RegionPlan) -> str:
    """The member's queue for events the hub's bus does not take (with placeholders)."""
    return f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT_ID}:{region.names.forwarding_dead_letter_queue}"


def forwarding_dead_letter_resources(region: RegionPlan) -> Iterator[tuple[str, _Resource]]:
    """The queue and its policy: only the forwarding rule may send to it, as direct mode's dead-letter queue."""
    names = region.names
    yield "ForwardEventsDeadLetters", _Resource(
        "AWS::SQS::Queue",
        {"QueueName": names.forwarding_dead_letter_queue, "MessageRetentionPeriod": DEAD_LETTER_RETENTION_SECONDS, "SqsManagedSseEnabled": True},
    )
    rule_arn = f"arn:{PARTITION}:events:{REGION}:{ACCOUNT_ID}:rule/{names.forwarding_rule}"
    yield "ForwardEventsDeadLettersPolicy", _Resource(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": "ForwardEventsDeadLetters"}],
            "PolicyDocument": policies.dead_letter_queue_policy(forwarding_dead_letter_queue_arn(region), [rule_arn]),
        },
    )


@dataclass(frozen=True)
class _Resource:
    """One resource as rendered for one region."""

    type: str
    properties: dict[str, Any]
    extra: tuple[tuple[str, Any], ...] = ()
    """Other resource attributes (``DependsOn``, ``DeletionPolicy``), the same in every region."""


def region_resources(settings: Settings, region: RegionPlan) -> Iterator[tuple[str, _Resource]]:
    """Every resource of the rules template as ``region`` deploys it, by logical id."""
    organization = _organization(settings)
    group = region.flow_logs_log_group
    if group is not None:
        retained = (("DeletionPolicy", "Retain"), ("UpdateReplacePolicy", "Retain"))
        # Flow logs already delivered stay when the rule or the profile goes away, as in direct mode.
        yield "FlowLogsLogGroup", _Resource(
            "AWS::Logs::LogGroup", {"LogGroupName": group, "RetentionInDays": settings.log_retention_days}, retained
        )
    for rule in region.own_config_rules:
        rule_id = logical_id(rule.key, "Rule")
        yield rule_id, _Resource("AWS::Config::ConfigRule", config_rule_properties(region, rule))
        if rule.uses_ssm:
            depends = [rule_id, "FlowLogsLogGroup"] if rule.key == VPC_FLOW_LOGS.key and group is not None else [rule_id]
            yield logical_id(rule.key, "Remediation"), _Resource(
                "AWS::Config::RemediationConfiguration", remediation_properties(region, rule, settings), (("DependsOn", depends),)
            )
    pattern = region.event_pattern
    if pattern is not None:
        yield from forwarding_dead_letter_resources(region)
        yield "ForwardEvents", _Resource("AWS::Events::Rule", forwarding_rule_properties(region, organization, pattern))


@dataclass
class _Merger:
    """Folds the per-region renderings into one template: conditions for presence, a mapping or ``Fn::If`` for values."""

    regions: tuple[str, ...]
    account_level_ids: frozenset[str]
    """Logical ids of account-level rules and their remediations: first region only, even with one region."""
    mappings: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    uses_first_region: bool = False

    def resource(self, logical: str, by_region: Mapping[str, _Resource]) -> dict[str, Any]:
        present = [region for region in self.regions if region in by_region]
        renderings = [by_region[region] for region in present]
        first = renderings[0]
        if any(rendering.type != first.type or rendering.extra != first.extra for rendering in renderings):
            raise ValueError(f"{logical} differs between regions in more than its properties")
        resource: dict[str, Any] = {"Type": first.type, **dict(first.extra)}
        if len(present) < len(self.regions) or logical in self.account_level_ids:
            if present != [self.regions[0]]:
                raise ValueError(f"{logical} is in some regions only, not just the first: {present}")
            resource["Condition"] = FIRST_REGION
            self.uses_first_region = True
        names = list(dict.fromkeys(name for rendering in renderings for name in rendering.properties))
        resource["Properties"] = {name: self.value(logical, name, {r: by_region[r].properties.get(name) for r in present}) for name in names}
        return resource

    def value(self, logical: str, name: str, by_region: Mapping[str, Any]) -> Any:
        values = list(by_region.values())
        if all(value == values[0] for value in values):
            return values[0]
        if all(isinstance(value, str) and not _PLACEHOLDER.search(value) for value in values):
            # A mapping holds plain strings only: no Fn::Sub inside.
            key = f"{logical}{name}"
            for region, value in by_region.items():
                self.mappings.setdefault(region, {})[key] = value
            return {"Fn::FindInMap": [REGIONAL_VALUES, {"Ref": "AWS::Region"}, key]}
        first, others = values[0], values[1:]
        if next(iter(by_region)) == self.regions[0] and all(value == others[0] for value in others) and None not in values:
            self.uses_first_region = True
            return {"Fn::If": [FIRST_REGION, first, others[0]]}
        raise ValueError(f"{logical}.{name} differs between regions in a way no mapping or condition expresses")


def rules_template(settings: Settings, profile: RuleProfile) -> Template | None:
    """The profile's rules template, or ``None`` when no rule of the profile deploys anything."""
    organization = _organization(settings)
    plan = member_plan(settings, profile)
    by_logical: dict[str, dict[str, _Resource]] = {}
    for region in plan.regions:
        for logical, resource in region_resources(settings, region):
            by_logical.setdefault(logical, {})[region.region] = resource
    if not by_logical:
        return None
    account_level = frozenset(
        logical_id(rule.key, suffix) for rule in profile.rules if rule.entry.scope == "account" for suffix in ("Rule", "Remediation")
    )
    merger = _Merger(organization.regions, account_level)
    resources = {logical: merger.resource(logical, by_region) for logical, by_region in by_logical.items()}
    conditions = {FIRST_REGION: {"Fn::Equals": [{"Ref": "AWS::Region"}, organization.regions[0]]}} if merger.uses_first_region else {}
    resources, conditions = with_exclusions(resources, conditions, organization.exclude_accounts)
    mappings = {REGIONAL_VALUES: merger.mappings} if merger.mappings else {}
    description = (
        f"governance: Config rules, remediations and event forwarding of rule profile {profile.name}, "
        f"governed from account {organization.admin_account_id}."
    )
    return _template(description, substituted(resources), conditions, mappings)


# --- both, with the size limit -------------------------------------------------------------------


def profile_rules_key(profile: RuleProfile) -> str:
    """The stack-config key holding a profile's rule settings."""
    return profile.rules_key


def template_problems(profile: RuleProfile, templates: MemberTemplates) -> list[str]:
    """One sentence per template over CloudFormation's inline size, naming the key of the profile's rules."""
    problems = []
    for kind, body in (("iam", templates.iam), ("rules", templates.rules)):
        if body is None:
            continue
        emitted = Emitted(
            limits.CLOUDFORMATION_TEMPLATE_BODY, body, f"the {kind} template of rule profile {profile.name}", profile_rules_key(profile),
            "turn off some rules or shorten their params for these targets",
        )
        problem = emitted.problem()
        if problem:
            problems.append(problem)
    return problems


def render_member_templates(settings: Settings, profile: RuleProfile, trusted_role_arns: tuple[str, ...] | None = None) -> MemberTemplates:
    """Both templates of ``profile`` as canonical JSON.

    Raises ``ConfigError`` with one sentence naming the profile's rules key when a template is over the
    51,200 bytes a stack set takes inline.
    """
    iam = iam_template(settings, profile, trusted_role_arns)
    rules = rules_template(settings, profile)
    templates = MemberTemplates(
        profile=profile.name,
        iam=canonical_json(iam) if iam is not None else None,
        rules=canonical_json(rules) if rules is not None else None,
    )
    problems = template_problems(profile, templates)
    if problems:
        raise ConfigError(problems)
    return templates
