"""``doctor`` in organization mode: what the hub's stack sets rely on, checked from the hub.

- the organization's targets could be listed (one line per target that could not);
- trusted access for StackSets is on (``ListAWSServiceAccessForOrganization``);
- ``adminAccountId`` is a delegated administrator of StackSets (``ListDelegatedAdministrators``);
- no target lies inside another (``ListParents`` up to the root): two stack sets, or two instances of
  one, would both claim the inner target's accounts;
- every stack set has a CURRENT, SUCCEEDED instance for each targeted account in each region it deploys
  to (``ListStackInstances`` with ``CallAs=DELEGATED_ADMIN``): the iam stack set in the first region, the
  rules stack set in every region.

The per-account checks (member role, Config recorder, ...) run in ``doctor`` itself, through the member role.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from governance.cli.doctor import CheckResult
from governance.cli.organization_fleet import MANAGEMENT_REASON, GovernedFleet
from governance.cli.sessions import AccountSessions
from governance.organization_plan import ORGANIZATION_KEY, OrganizationPlan, ProfileStackSets
from governance.settings import OrganizationSettings

STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
"""The service principal of StackSets' trusted access and of its delegated administrators."""
HUB = "hub"
"""What the account column shows for checks of the organization as a whole."""
MAX_OU_DEPTH = 5
"""Organizations nests OUs at most five levels under the root; a walk up stops there in any case."""
GOOD_STATUS, GOOD_DETAILED_STATUS = "CURRENT", "SUCCEEDED"
INSTANCES_PAGE_SIZE = 100
"""``MaxResults`` of ``ListStackInstances``: its largest page (one instance per account and region)."""

TARGETS_CHECK = "organization targets can be listed"
TRUSTED_ACCESS_CHECK = "StackSets trusted access is on"
DELEGATED_ADMIN_CHECK = "hub is a StackSets delegated administrator"
NESTED_CHECK = "no target lies inside another"
INSTANCES_CHECK = "stack set instances are current"

_ERRORS = (ClientError, BotoCoreError)


def organization_checks(fleet: GovernedFleet, sessions: AccountSessions) -> list[CheckResult]:
    """Every organization-wide check; empty without organization mode."""
    organization = fleet.settings.organization
    if organization is None or fleet.plan is None:
        return []
    results = list(_target_checks(fleet, organization))
    if fleet.listing is None:
        return results  # the hub could not be entered: nothing else can be read
    region = organization.regions[0]
    organizations = sessions.hub_client("organizations", region)
    results.append(_trusted_access(organizations, region))
    results.append(_delegated_admin(organizations, organization, region))
    results.extend(_nested_targets(organizations, fleet.plan, region))
    cloudformation = sessions.hub_client("cloudformation", fleet.plan.stack_set_region)
    results.extend(stack_set_checks(cloudformation, fleet))
    return results


def _target_checks(fleet: GovernedFleet, organization: OrganizationSettings) -> Iterator[CheckResult]:
    if fleet.listing is None or fleet.problems:
        fix = (
            f"check {ORGANIZATION_KEY}.targets and that the hub's credentials may call organizations:ListAccountsForParent "
            "and organizations:ListOrganizationalUnitsForParent"
        )
        for problem in fleet.problems:
            yield CheckResult(HUB, "-", TARGETS_CHECK, False, problem, fix)
        return
    skipped = len(fleet.listing.skipped)
    detail = f"{len(organization.targets)} targets: {len(fleet.members)} accounts governed, {skipped} excluded or not ACTIVE"
    if fleet.management_account and fleet.management_account in fleet.listing.ids:
        detail += f"; management account {fleet.management_account} left out ({MANAGEMENT_REASON})"
    yield CheckResult(HUB, "-", TARGETS_CHECK, True, detail)


def _pages(client: Any, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Every item of every page: the paginators go on while a NextToken comes back, even after an empty page."""
    for page in client.get_paginator(operation).paginate(**params):
        yield from page.get(key, [])


def _error_text(error: Exception) -> str:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'Error')}: {details.get('Message', '')}".strip()
    return str(error)


def _trusted_access(organizations: Any, region: str) -> CheckResult:
    fix = (
        "from the management account, turn on trusted access for StackSets: "
        "aws cloudformation activate-organizations-access (or the StackSets console's Enable trusted access)"
    )
    try:
        enabled = {service["ServicePrincipal"] for service in _pages(organizations, "list_aws_service_access_for_organization", "EnabledServicePrincipals")}
    except _ERRORS as error:
        return CheckResult(HUB, region, TRUSTED_ACCESS_CHECK, False, f"could not read the organization's trusted services ({_error_text(error)})", fix)
    if STACKSETS_PRINCIPAL not in enabled:
        return CheckResult(HUB, region, TRUSTED_ACCESS_CHECK, False, f"{STACKSETS_PRINCIPAL} is not among the organization's trusted services", fix)
    return CheckResult(HUB, region, TRUSTED_ACCESS_CHECK, True, f"{STACKSETS_PRINCIPAL} is trusted")


def _delegated_admin(organizations: Any, organization: OrganizationSettings, region: str) -> CheckResult:
    admin = organization.admin_account_id
    fix = (
        f"from the management account: aws organizations register-delegated-administrator --account-id {admin} "
        f"--service-principal {STACKSETS_PRINCIPAL}"
    )
    try:
        admins = [entry["Id"] for entry in _pages(organizations, "list_delegated_administrators", "DelegatedAdministrators", ServicePrincipal=STACKSETS_PRINCIPAL)]
    except _ERRORS as error:
        return CheckResult(HUB, region, DELEGATED_ADMIN_CHECK, False, f"could not list StackSets' delegated administrators ({_error_text(error)})", fix)
    if admin not in admins:
        listed = ", ".join(admins) or "none"
        return CheckResult(HUB, region, DELEGATED_ADMIN_CHECK, False, f"{ORGANIZATION_KEY}.adminAccountId {admin} is not one (registered: {listed})", fix)
    return CheckResult(HUB, region, DELEGATED_ADMIN_CHECK, True, f"{admin} is registered for {STACKSETS_PRINCIPAL}")


def _nested_targets(organizations: Any, plan: OrganizationPlan, region: str) -> Iterator[CheckResult]:
    """One failed line per target inside another target, naming both and the stack sets that would claim its accounts."""
    targets = plan.organization.targets
    stack_sets = {target: profile.rules_name for profile in plan.profiles for target in profile.profile.targets}
    parents: dict[str, str] = {}
    found = False
    for target in targets:
        if not target.startswith("ou-"):
            continue  # a root is alone in its targets (the stack config allows nothing beside it)
        try:
            outer = _enclosing_target(organizations, target, set(targets), parents)
        except _ERRORS as error:
            found = True
            yield CheckResult(HUB, region, NESTED_CHECK, False, f"the OUs above {target} could not be read ({_error_text(error)})",
                              "give the hub's credentials organizations:ListParents")
            continue
        if outer is None:
            continue
        found = True
        inner_set, outer_set = stack_sets.get(target, "?"), stack_sets.get(outer, "?")
        claim = f"two instances of {inner_set}" if inner_set == outer_set else f"stack sets {inner_set} and {outer_set}"
        yield CheckResult(
            HUB, region, NESTED_CHECK, False,
            f"{target} lies inside {outer}: {claim} would both deploy to the accounts of {target}",
            f"remove {target} from {ORGANIZATION_KEY}.targets (a target covers its child OUs), or target {outer}'s other OUs instead of {outer}",
        )
    if not found:
        yield CheckResult(HUB, region, NESTED_CHECK, True, f"{len(targets)} targets, none inside another")


def _enclosing_target(organizations: Any, target: str, targets: set[str], parents: dict[str, str]) -> str | None:
    """The nearest other target above ``target``, walking up with ListParents (answers cached in ``parents``)."""
    child = target
    for _ in range(MAX_OU_DEPTH + 1):
        if child not in parents:
            listed = list(_pages(organizations, "list_parents", "Parents", ChildId=child))
            if not listed:
                return None
            parents[child] = listed[0]["Id"]  # "a child can have only a single parent"
        parent = parents[child]
        if parent in targets:
            return parent
        if not parent.startswith("ou-"):
            return None  # the root
        child = parent
    return None


def stack_set_checks(cloudformation: Any, fleet: GovernedFleet) -> list[CheckResult]:
    """One line per stack set whose instances are all CURRENT and SUCCEEDED, else one line per account with a problem."""
    plan = fleet.plan
    if plan is None:
        return []
    results: list[CheckResult] = []
    for stack_sets in plan.profiles:
        accounts = _profile_accounts(fleet, stack_sets)
        if stack_sets.templates.iam is not None:
            results.extend(_instances(cloudformation, stack_sets.iam_name, accounts, plan.organization.regions[:1], plan.stack_set_region))
        if stack_sets.templates.rules is not None:
            results.extend(_instances(cloudformation, stack_sets.rules_name, accounts, plan.organization.regions, plan.stack_set_region))
    return results


def _profile_accounts(fleet: GovernedFleet, stack_sets: ProfileStackSets) -> list[str]:
    """The targeted accounts (ACTIVE, not excluded, not the management account) found under the profile's targets."""
    if fleet.listing is None:
        return []
    targets = set(stack_sets.profile.targets)
    return [
        account.id for account in fleet.listing.accounts
        if account.target in targets and account.id != fleet.management_account
    ]


def _instances(cloudformation: Any, name: str, accounts: list[str], regions: tuple[str, ...], region: str) -> list[CheckResult]:
    fix = f"see the stack set's operations (aws cloudformation list-stack-set-operations --stack-set-name {name} --call-as DELEGATED_ADMIN), fix the cause, then pulumi up"
    try:
        summaries = list(_pages(
            cloudformation, "list_stack_instances", "Summaries", StackSetName=name, CallAs="DELEGATED_ADMIN",
            PaginationConfig={"PageSize": INSTANCES_PAGE_SIZE},
        ))
    except _ERRORS as error:
        code = error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None
        detail = f"stack set {name} does not exist" if code == "StackSetNotFoundException" else f"could not list the instances of {name} ({_error_text(error)})"
        return [CheckResult(HUB, region, INSTANCES_CHECK, False, detail, "run pulumi up for the organization stack" if code == "StackSetNotFoundException" else fix)]
    # UNVERIFIED: the API reference labels Account "[Self-managed permissions]"; service-managed instances are
    # expected to carry it too (one instance per account and region). Without it every account reads as missing.
    by_place = {(summary.get("Account"), summary.get("Region")): summary for summary in summaries}
    results = []
    for account in accounts:
        problems = []
        for instance_region in regions:
            summary = by_place.get((account, instance_region))
            if summary is None:
                problems.append(f"{instance_region}: no instance")
                continue
            status = summary.get("Status", "?")
            detailed = summary.get("StackInstanceStatus", {}).get("DetailedStatus", "?")
            if status != GOOD_STATUS or detailed != GOOD_DETAILED_STATUS:
                reason = summary.get("StatusReason") or "no reason given"
                problems.append(f"{instance_region}: {status}/{detailed} ({reason})")
        if problems:
            results.append(CheckResult(account, region, INSTANCES_CHECK, False, f"{name}: {'; '.join(problems)}", fix))
    if not results:
        results.append(CheckResult(HUB, region, INSTANCES_CHECK, True, f"{name}: {len(accounts)} accounts x {len(regions)} regions {GOOD_STATUS}/{GOOD_DETAILED_STATUS}"))
    return results
