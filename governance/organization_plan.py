"""What organization mode deploys in the hub (delegated-administrator) account, derived from ``Settings`` without Pulumi.

The hub runs one remediation Lambda per governed region, fed by the bus member accounts forward their
events to, and deploys each rule profile's member templates through two service-managed stack sets.
The program never lists the organization's accounts: what it registers depends on the regions, the
profiles and their targets only.

One hub Lambda per region serves every profile, and a forwarded event names its account, not its
profile: the function finds the target above the account (it walks the account's parents anyway to
know it is governed) and takes that target's profile. Its config holds the union of the profiles'
Lambda rules as ``rules`` and, in ``organization.profiles``, each profile that differs with its
differences only (a rule the profile does not have the Lambda fix is ``null``), which keeps several
profiles within Lambda's 4 KB environment where whole per-profile configs would not fit.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

from governance import limits
from governance.member_template import (
    ACCOUNT_ID,
    PARTITION,
    REGION,
    MemberTemplates,
    member_plan,
    render_member_templates,
)
from governance.plan import AccountPlan, Names, RegionPlan, limit_problems, plan_account
from governance.settings import (
    NAMESPACE,
    Account,
    ConfigError,
    OrganizationSettings,
    RuleProfile,
    RuleSettings,
    Settings,
)

STACK_SET_NAME = re.compile(r"[A-Za-z][0-9A-Za-z-]{0,127}", re.ASCII)
"""What CloudFormation accepts as a stack set's name."""
ORGANIZATION_KEY = f"{NAMESPACE}:organization"


@dataclass(frozen=True)
class ProfileStackSets:
    """One rule profile's two stack sets: their names and templates (``None`` where the profile needs no template)."""

    profile: RuleProfile
    templates: MemberTemplates
    iam_name: str
    rules_name: str


@dataclass(frozen=True)
class OrganizationPlan:
    """Everything the hub deploys: its Lambda per region (``hub``) and each profile's stack sets."""

    organization: OrganizationSettings
    hub: AccountPlan
    """The hub account planned like a direct-mode account with every profile's remediating rules and the organization section."""
    profiles: tuple[ProfileStackSets, ...]

    @property
    def stack_set_region(self) -> str:
        """Where the stack sets are managed: the first governed region, the hub provider's region."""
        return self.organization.regions[0]


def hub_section(organization: OrganizationSettings) -> dict[str, Any]:
    """The Lambda config's ``organization`` section: the member role, every target and the excluded accounts."""
    return {
        "memberRoleName": organization.member_role_name,
        "targets": list(organization.targets),
        "excludeAccounts": list(organization.exclude_accounts),
    }


def _member_entries(settings: Settings, profile: RuleProfile, hub_region: RegionPlan, index: int) -> dict[str, dict[str, Any]]:
    """The Lambda config sections of ``profile``'s members in ``hub_region`` (its ``index``-th), as the hub's function reads them.

    Region and partition are the hub's own (it serves the members of its region); the account id stays a
    placeholder, which the function replaces with each event's account.
    """
    config = member_plan(settings, profile).regions[index].lambda_config
    text = json.dumps({section: config[section] for section in ("rules", "ssmRunbooks")})
    text = text.replace(REGION, hub_region.region).replace(PARTITION, hub_region.account.partition)
    entries: dict[str, dict[str, Any]] = json.loads(text)
    return entries


def hub_rules(organization: OrganizationSettings) -> tuple[RuleSettings, ...]:
    """The union of the profiles' remediating rules: one per key and engine, the first profile's.

    The hub's config holds these as ``rules`` and each profile's differences from them (``profile_differences``).
    """
    union: dict[tuple[str, str], RuleSettings] = {}
    for profile in organization.profiles:
        for rule in profile.rules:
            if rule.remediates:
                union.setdefault((rule.key, rule.engine), rule)
    return tuple(rule for profile in organization.profiles for rule in profile.rules if union.get((rule.key, rule.engine)) is rule)


def profile_differences(settings: Settings, organization: OrganizationSettings, hub_region: RegionPlan, index: int) -> list[dict[str, Any]]:
    """The ``organization.profiles`` entries of the hub's config in ``hub_region``: each profile whose Lambda rules differ.

    A rule the profile's members do not have the Lambda fix is ``null``; one they fix otherwise is their entry.
    The function takes the profile from the target it finds above the event's account.
    """
    union = hub_region.lambda_config["rules"]
    differing = []
    for profile in organization.profiles:
        members = _member_entries(settings, profile, hub_region, index)["rules"]
        differences: dict[str, Any] = {key: entry for key, entry in members.items() if union.get(key) != entry}
        differences.update({key: None for key in union if key not in members})
        if differences:
            differing.append({"targets": list(profile.targets), "rules": differences})
    return differing


def hub_account(organization: OrganizationSettings, rules: tuple[RuleSettings, ...]) -> Account:
    """The hub as an account: the admin account, its role, the governed regions and the union of the profiles' rules."""
    return Account(
        id=organization.admin_account_id,
        name="organization-hub",
        role_arn=organization.admin_role_arn,
        external_id=None,
        partition=organization.partition,
        regions=organization.regions,
        rules=rules,
    )


def _section_problems(organization: OrganizationSettings, hub: AccountPlan) -> list[str]:
    """One sentence when the ``organization`` section takes the hub Lambda's environment over its limit, naming what to change."""
    for region in hub.regions:
        if not region.needs_function or region.organization is None:
            continue
        environment = json.dumps(region.lambda_environment())
        if limits.violation(limits.LAMBDA_ENVIRONMENT, environment) is None:
            continue
        without_profiles = dataclasses.replace(region, organization={k: v for k, v in region.organization.items() if k != "profiles"})
        without = json.dumps(dataclasses.replace(region, organization=None).lambda_environment())
        breach = limits.violation(limits.LAMBDA_ENVIRONMENT, environment)
        if limits.violation(limits.LAMBDA_ENVIRONMENT, json.dumps(without_profiles.lambda_environment())) is None:
            return [
                f"{ORGANIZATION_KEY}.overrides make {limits.LAMBDA_ENVIRONMENT.what} of the hub's remediation Lambda in {region.region} "
                f"{breach}, with each profile's differences in the Lambda's rules it must carry; make the overrides' Lambda rules more alike "
                "(same mode and params), or use the ssm engine for the rules that differ."
            ]
        if limits.violation(limits.LAMBDA_ENVIRONMENT, without) is None:
            key = f"{ORGANIZATION_KEY}.excludeAccounts" if organization.exclude_accounts else f"{ORGANIZATION_KEY}.targets"
            return [
                f"{key} makes {limits.LAMBDA_ENVIRONMENT.what} of the hub's remediation Lambda in {region.region} {breach}, "
                "with the targets and excluded accounts it must carry; exclude fewer accounts (move them to an OU that is "
                "not a target) or list fewer targets."
            ]
    return []


def _stack_set_names(names: Names, profile: RuleProfile) -> tuple[str, str, list[str]]:
    iam, rules = names.stack_set("iam", profile.name), names.stack_set("rules", profile.name)
    problems = [
        f"{NAMESPACE}:ruleNamePrefix makes the stack set name {name} invalid: CloudFormation takes 1-128 letters, digits and dashes "
        "starting with a letter; use a prefix of letters, digits and dashes that starts with a letter."
        for name in (iam, rules)
        if not STACK_SET_NAME.fullmatch(name)
    ]
    return iam, rules, problems


def _admin_in_accounts(settings: Settings, organization: OrganizationSettings) -> list[str]:
    return [
        f"{NAMESPACE}:accounts[{index}].id is {ORGANIZATION_KEY}.adminAccountId, whose Lambda and roles the hub already deploys "
        "under the same names; remove the account from one of the two."
        for index, account in enumerate(settings.accounts)
        if account.id == organization.admin_account_id
    ]


def plan_organization(settings: Settings) -> OrganizationPlan:
    """The hub's plan; raises ``ConfigError`` with one sentence per problem before anything is registered."""
    organization = settings.organization
    if organization is None:
        raise ValueError("organization mode needs governance:organization")
    problems = _admin_in_accounts(settings, organization)
    planned = plan_account(settings, hub_account(organization, hub_rules(organization)))
    regions = []
    for index, planned_region in enumerate(planned.regions):
        # The Lambda's params name a member's own roles (flow-log delivery) with the account left as a placeholder,
        # which the function fills in with each event's account, as the member templates do with AWS::AccountId.
        region = dataclasses.replace(planned_region, params_account=ACCOUNT_ID)
        section = hub_section(organization)
        differences = profile_differences(settings, organization, region, index)
        if differences:
            section["profiles"] = differences
        regions.append(dataclasses.replace(region, organization=section))
    hub = dataclasses.replace(planned, regions=tuple(regions))
    section_problems = _section_problems(organization, hub)
    problems.extend(section_problems)
    # When the organization section is what breaks the environment's limit, its own sentence says so instead.
    problems.extend(
        problem for problem in limit_problems((hub,)) if not (section_problems and limits.LAMBDA_ENVIRONMENT.what in problem)
    )
    names = Names(settings.rule_name_prefix)
    profiles = []
    for profile in organization.profiles:
        iam_name, rules_name, name_problems = _stack_set_names(names, profile)
        problems.extend(name_problems)
        try:
            templates = render_member_templates(settings, profile)
        except ConfigError as error:
            problems.extend(error.problems)
            continue
        profiles.append(ProfileStackSets(profile, templates, iam_name, rules_name))
    if problems:
        raise ConfigError(list(dict.fromkeys(problems)))
    return OrganizationPlan(organization=organization, hub=hub, profiles=tuple(profiles))
