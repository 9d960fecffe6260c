"""The accounts a CLI run governs: ``governance:accounts``, plus in organization mode every targeted member account.

Members are listed fresh on every run with the hub's Organizations client (``targeted_accounts``),
and each becomes an ``Account`` whose role is the member role, whose regions are
``governance:regions`` and whose rules are those of the profile of the target it was found under.
A target that cannot be listed is reported in one sentence and the others go on; so does a hub
role that cannot be assumed (then no member is listed at all).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from governance.cli.organization import OrganizationAccount, TargetedAccounts, targeted_accounts
from governance.cli.sessions import AccountSessions
from governance.organization_plan import ORGANIZATION_KEY, OrganizationPlan, hub_account, plan_organization
from governance.settings import Account, OrganizationSettings, RuleProfile, Settings

MANAGEMENT_REASON = "StackSets never deploy to the organization's management account; list it in governance:accounts to govern it"


@dataclass(frozen=True)
class GovernedFleet:
    """What one run governs, and what kept some of it out."""

    settings: Settings
    """The stack's settings with ``accounts`` = ``governance:accounts`` followed by the member accounts found."""
    members: tuple[Account, ...] = ()
    """The organization's accounts found under the targets (ACTIVE, not excluded), by account id."""
    listing: TargetedAccounts | None = None
    """The Organizations listing; None without organization mode or when the hub could not be entered."""
    problems: tuple[str, ...] = ()
    """One sentence per target that could not be listed, or for a hub role that could not be assumed."""
    plan: OrganizationPlan | None = None
    """What organization mode deploys (stack set names); None without organization mode."""
    management_account: str | None = None
    """The organization's management account, when Organizations told it."""

    @property
    def complete(self) -> bool:
        """Whether every target was listed."""
        return not self.problems


def member_role_arn(organization: OrganizationSettings, account_id: str) -> str:
    """The member role the CLI assumes in ``account_id``."""
    return f"arn:{organization.partition}:iam::{account_id}:role/{organization.member_role_name}"


def profile_of(organization: OrganizationSettings, target: str) -> RuleProfile:
    """The rule profile whose targets contain ``target`` (every target is in exactly one)."""
    return next(profile for profile in organization.profiles if target in profile.targets)


def member_account(organization: OrganizationSettings, found: OrganizationAccount) -> Account:
    """A targeted account as the CLI governs it: the member role, ``governance:regions``, its profile's rules."""
    return Account(
        id=found.id,
        name=found.name or found.id,
        role_arn=member_role_arn(organization, found.id),
        external_id=None,
        partition=organization.partition,
        regions=organization.regions,
        rules=profile_of(organization, found.target).rules,
    )


def govern(settings: Settings, sessions: AccountSessions) -> GovernedFleet:
    """The accounts of this run; in organization mode, the members are listed now and entered through the hub.

    Raises ``ConfigError`` when the organization's plan is refused, before any AWS call.
    """
    organization = settings.organization
    if organization is None:
        return GovernedFleet(settings)
    plan = plan_organization(settings)
    hub = hub_account(organization, ())
    sessions.enter_through_hub(hub, ())
    region = organization.regions[0]
    try:
        # The hub's role is assumed here, once: a role that cannot be assumed stops the listing of every target.
        client = sessions.hub_client("organizations", region)
    except (ClientError, BotoCoreError) as error:
        role = organization.admin_role_arn
        problem = (
            f"{ORGANIZATION_KEY}.adminRoleArn {role} could not be assumed ({_error_text(error)}); no organization account was "
            "listed: run with credentials that may assume it."
            if role else f"the caller's credentials could not be used for the hub account {organization.admin_account_id} ({_error_text(error)}); "
            "no organization account was listed."
        )
        return GovernedFleet(settings, problems=(problem,), plan=plan)
    management = _management_account(client)
    listing = targeted_accounts(client, organization.targets, organization.exclude_accounts)
    direct = {account.id for account in settings.accounts}
    # An account of governance:accounts keeps its own role; the management account has no member role.
    members = tuple(
        member_account(organization, found) for found in listing.accounts if found.id not in direct and found.id != management
    )
    sessions.enter_through_hub(hub, (member.id for member in members))
    problems = tuple(
        f"{ORGANIZATION_KEY}.targets: {error.message.rstrip('.')}; its accounts are left out of this run." for error in listing.errors
    )
    return GovernedFleet(
        dataclasses.replace(settings, accounts=settings.accounts + members), members, listing, problems, plan, management,
    )


def _management_account(client: Any) -> str | None:
    """The organization's management account; None when Organizations does not tell (it is then tried as a member)."""
    try:
        organization = client.describe_organization()["Organization"]
    except (ClientError, BotoCoreError):
        return None
    return str(organization.get("MasterAccountId") or "") or None


def _error_text(error: Exception) -> str:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'Error')}: {details.get('Message', '')}".strip()
    return str(error)
