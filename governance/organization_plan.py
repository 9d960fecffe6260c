"""What organization mode deploys in the hub (delegated-administrator) account, derived from ``Settings`` without Pulumi.

The hub runs one remediation Lambda per governed region, fed by the bus member accounts forward their
events to, and deploys each rule profile's member templates through two service-managed stack sets.
The program never lists the organization's accounts: what it registers depends on the regions, the
profiles and their targets only.

One hub Lambda serves every profile, and a forwarded event names its account, not its profile. So the
Lambda's config holds one setting per rule key and per runbook: profiles may differ in which rules
the Lambda acts on (a profile without a rule neither forwards its events nor grants its member role
the fixer's actions), but a rule that the Lambda fixes in several profiles must have the same mode,
source and params in all of them. Rules remediated by SSM may differ: their remediation runs in the
member account as its template sets it. A per-profile config does not fit: for the dev stack's rules with
two overrides it measures 6,575 bytes of environment in us-east-1, over Lambda's 4,096
(``tests/test_organization_program.py`` rebuilds that layout).
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

from governance import limits
from governance.member_template import MemberTemplates, member_plan, profile_rules_key, render_member_templates
from governance.plan import AccountPlan, Names, limit_problems, plan_account
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


def _member_entries(settings: Settings, profile: RuleProfile) -> dict[tuple[str, str, str], Any]:
    """What the hub's Lambda config would hold for ``profile``, by (region, section, name), with member placeholders."""
    entries: dict[tuple[str, str, str], Any] = {}
    for region in member_plan(settings, profile).regions:
        config = region.lambda_config
        for section in ("rules", "ssmRunbooks"):
            for name, entry in config[section].items():
                entries[(region.region, section, name)] = entry
    return entries


def _rule_key_of(section: str, name: str, entry: Any) -> str:
    return name if section == "rules" else str(entry["key"])


def hub_rules(settings: Settings, organization: OrganizationSettings) -> tuple[tuple[RuleSettings, ...], list[str]]:
    """The union of the profiles' remediating rules, and one sentence per rule whose hub settings differ between profiles."""
    problems: list[str] = []
    seen: dict[tuple[str, str, str], tuple[RuleProfile, Any]] = {}
    for profile in organization.profiles:
        for where, entry in _member_entries(settings, profile).items():
            earlier = seen.setdefault(where, (profile, entry))
            # A runbook's entry only labels the hub's records of automation events, and the hub takes none of a
            # member account's yet: the first profile's entry stands for all (SSM modes may differ by profile).
            if earlier[1] != entry and where[1] == "rules":
                key = _rule_key_of(where[1], where[2], entry)
                problems.append(
                    f"{profile_rules_key(profile)}.{key} gives the rule other remediation settings than {profile_rules_key(earlier[0])} "
                    "(mode, source or params), but one hub Lambda serves every profile and cannot tell them apart; "
                    "make them equal, or turn the rule off or to detect in one of them."
                )
    # By key and engine: a rule the Lambda fixes in one profile and SSM in another is in both sections of the config.
    union: dict[tuple[str, str], RuleSettings] = {}
    for profile in organization.profiles:
        for rule in profile.rules:
            if rule.remediates:
                union.setdefault((rule.key, rule.engine), rule)
    ordered = tuple(rule for profile in organization.profiles for rule in profile.rules if union.get((rule.key, rule.engine)) is rule)
    return ordered, list(dict.fromkeys(problems))


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


def _account_specific(settings: Settings, organization: OrganizationSettings, hub: AccountPlan) -> list[str]:
    """One sentence per rule whose hub setting holds a value of the hub's own account where members need their own."""
    problems = []
    config_keys = {rule.key: rule.config_key for rule in hub.account.rules if rule.config_key}
    members: dict[tuple[str, str, str], Any] = {}
    for profile in organization.profiles:
        for where, entry in _member_entries(settings, profile).items():
            members.setdefault(where, entry)
    for region in hub.regions:
        config = region.lambda_config
        for section in ("rules", "ssmRunbooks"):
            for name, entry in config[section].items():
                if members.get((region.region, section, name), entry) != entry:
                    key = _rule_key_of(section, name, entry)
                    problems.append(
                        f"{config_keys.get(key, f'{NAMESPACE}:rules.{key}')} makes the hub Lambda pass a resource of each member account (such as a role ARN) "
                        "that its config cannot name for every account; organization mode does not support it yet, so use the ssm engine "
                        "or another destination for this rule."
                    )
    return list(dict.fromkeys(problems))


def _section_problems(organization: OrganizationSettings, hub: AccountPlan) -> list[str]:
    """One sentence when the ``organization`` section alone takes the hub Lambda's environment over its limit."""
    key = f"{ORGANIZATION_KEY}.excludeAccounts" if organization.exclude_accounts else f"{ORGANIZATION_KEY}.targets"
    for region in hub.regions:
        if not region.needs_function:
            continue
        environment = json.dumps(region.lambda_environment())
        without = json.dumps(dataclasses.replace(region, organization=None).lambda_environment())
        breach = limits.violation(limits.LAMBDA_ENVIRONMENT, environment)
        if breach is not None and limits.violation(limits.LAMBDA_ENVIRONMENT, without) is None:
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
    rules, conflicts = hub_rules(settings, organization)
    problems.extend(conflicts)
    planned = plan_account(settings, hub_account(organization, rules))
    section = hub_section(organization)
    hub = dataclasses.replace(planned, regions=tuple(dataclasses.replace(region, organization=section) for region in planned.regions))
    if not conflicts:
        problems.extend(_account_specific(settings, organization, hub))
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
