"""Organization hub: the function's access to member accounts, one per container and deployment config.

An organization hub (a deployment config with an ``organization`` section) takes compliance events
that member accounts forward to its bus. Before any request in a member account it asks
``OrganizationMembership`` whether the account is governed (under a target, not excluded), then
acts through ``MemberSessions`` (the member role, assumed once per account while its credentials
are fresh, refused when STS answers for another account). Both keep their caches in the ``Hub``,
which lives as long as the container.
"""

from __future__ import annotations

import threading

from . import member_sessions, membership
from .config import OrganizationSetting
from .member_sessions import MemberSessions
from .membership import OrganizationMembership

HUB_IAM_ACTIONS: tuple[str, ...] = tuple(sorted(member_sessions.IAM_ACTIONS + membership.IAM_ACTIONS))
"""What only a hub calls with its own credentials: ``sts:AssumeRole`` on the member roles and ``organizations:ListParents``."""


class Hub:
    """Membership checks and member sessions for one organization setting, in one account and partition."""

    def __init__(self, setting: OrganizationSetting, own_account: str, partition: str) -> None:
        self.setting = setting
        self.membership = OrganizationMembership(setting.targets, setting.exclude_accounts)
        self.sessions = MemberSessions(setting.member_role_name, partition, own_account, frozenset(setting.exclude_accounts))


_HUBS: dict[tuple[str, tuple[str, ...], tuple[str, ...], str, str], Hub] = {}
_LOCK = threading.Lock()


def hub_for(setting: OrganizationSetting, own_account: str, partition: str) -> Hub:
    """The container's ``Hub`` for ``setting``, made on first use."""
    # What the membership checks and sessions depend on; profiles only choose rule settings.
    key = (setting.member_role_name, setting.targets, setting.exclude_accounts, own_account, partition)
    with _LOCK:
        hub = _HUBS.get(key)
        if hub is None:
            hub = _HUBS[key] = Hub(setting, own_account, partition)
        return hub


def forget_hubs() -> None:
    """Drop the cached hubs, their verdicts and sessions (tests use this between mocked organizations)."""
    with _LOCK:
        _HUBS.clear()
