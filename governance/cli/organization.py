"""Which accounts an organization-mode deployment governs: the ACTIVE accounts under its target OUs.

A target is an OU id (``ou-…``) or the organization's root (``r-…``); it covers the accounts directly
in it and in every OU nested below it. The listing is read fresh on every call (accounts join, move
and close at any time) and needs the Organizations read permissions of the management account or
of a delegated administrator (``organizations:ListAccountsForParent``,
``organizations:ListOrganizationalUnitsForParent``).

Requests: the walk sends, for each OU or root it visits, ``ListAccountsForParent`` and
``ListOrganizationalUnitsForParent``, one request per 20 entries (the API's largest page), so
about ``2 × OUs + accounts / 20`` requests in all. That is the fewest of the ways the API offers:
``ListChildren`` costs the same two requests per OU (one per child type) but returns bare ids, so
every account's state would need one ``DescribeAccount`` more; ``ListAccounts`` plus
``ListParents`` costs one request per account in the organization, governed or not. Listing the
whole organization with ``ListAccounts`` and matching each account's ``Paths`` against the targets
would cost ``accounts / 20`` requests, but it reads every account of the organization, cannot tell
a target that does not exist from an empty one, and relies on ``ListAccounts`` filling ``Paths``.
UNVERIFIED: that ``ListAccounts`` returns ``Paths`` (the API reference lists the field on
``Account`` without saying which operations fill it; moto never returns it), so it is not used.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

PAGE_SIZE = 20
"""``MaxResults`` of every listing: the largest page ``ListAccountsForParent`` and ``ListOrganizationalUnitsForParent`` allow."""

TARGET_ID = re.compile(r"ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32}")
"""The ids Organizations accepts as a parent: an OU or a root (the API's ``ParentId`` pattern)."""

GOVERNED_STATE = "ACTIVE"

SKIPPED_STATES = {
    "PENDING_ACTIVATION": "the account is not activated yet (PENDING_ACTIVATION)",
    "SUSPENDED": "the account is suspended (SUSPENDED)",
    "PENDING_CLOSURE": "the account is being closed (PENDING_CLOSURE)",
    "CLOSED": "the account is closed (CLOSED)",
}
"""Why an account in each non-ACTIVE state is not governed."""

EXCLUDED_REASON = "the account is listed in the exclusions"

MISSING_TARGET_CODES = frozenset({"ParentNotFoundException", "OrganizationalUnitNotFoundException", "RootNotFoundException"})
"""Error codes that mean the target (or an OU under it) does not exist."""


@dataclass(frozen=True)
class OrganizationAccount:
    """One account found under a target."""

    id: str
    name: str
    state: str
    """``State`` as listed (``Status`` when the response has no ``State``); empty when it has neither."""
    parent_id: str
    """The OU or root the account is directly in: where it was found."""
    target: str
    """The target whose walk found it (the first one, when targets overlap)."""


@dataclass(frozen=True)
class SkippedAccount:
    """An account under a target that is not governed, and why."""

    account: OrganizationAccount
    reason: str


@dataclass(frozen=True)
class TargetError:
    """A target that could not be listed; the other targets are listed all the same."""

    target: str
    code: str
    message: str

    @property
    def missing(self) -> bool:
        """Whether the target (or an OU under it) does not exist, or is not an OU or root id."""
        return self.code in MISSING_TARGET_CODES or self.code == "InvalidTargetId"


@dataclass
class RequestCount:
    """Organizations requests sent: API calls per operation, plus the retries botocore made of them."""

    calls: Counter[str] = field(default_factory=Counter)
    retries: int = 0

    @property
    def total(self) -> int:
        """Every request sent, first tries and retries."""
        return sum(self.calls.values()) + self.retries


@dataclass(frozen=True)
class TargetedAccounts:
    """The accounts the targets cover, those left out and why, and the targets that failed."""

    accounts: tuple[OrganizationAccount, ...]
    """The ACTIVE, not excluded accounts, each once, ordered by account id."""
    skipped: tuple[SkippedAccount, ...]
    """Accounts under the targets that are not governed (excluded or not ACTIVE), ordered by account id."""
    errors: tuple[TargetError, ...]
    """One entry per target that could not be listed (its accounts are in neither list), in target order."""
    requests: RequestCount

    @property
    def ids(self) -> tuple[str, ...]:
        """The governed account ids, in order."""
        return tuple(account.id for account in self.accounts)


def targeted_accounts(organizations_client: Any, targets: Iterable[str], exclude: Iterable[str] = ()) -> TargetedAccounts:
    """The ACTIVE accounts under ``targets`` (OU or root ids, nested OUs included), minus ``exclude``.

    Each target is walked on its own: one that does not exist, or whose listing fails, is reported
    in ``errors`` and contributes no account (a partial walk would hide accounts), while the others
    are listed. An OU already walked for an earlier target is not listed again.
    """
    excluded = frozenset(exclude)
    found: dict[str, OrganizationAccount] = {}
    walked: set[str] = set()
    errors: list[TargetError] = []
    with counting(organizations_client) as requests:
        for target in dict.fromkeys(targets):
            if not TARGET_ID.fullmatch(target):
                errors.append(TargetError(target, "InvalidTargetId", f"{target!r} is neither an OU id (ou-…) nor a root id (r-…)."))
                continue
            try:
                accounts, parents = _walk(organizations_client, target, walked)
            except (ClientError, BotoCoreError) as error:
                errors.append(_target_error(target, error))
                continue
            walked.update(parents)
            for account in accounts:
                found.setdefault(account.id, account)
    return _classify(found.values(), excluded, tuple(errors), requests)


def _walk(client: Any, target: str, walked: set[str]) -> tuple[list[OrganizationAccount], list[str]]:
    """Every account under ``target`` and the parents visited, skipping parents in ``walked``."""
    accounts: list[OrganizationAccount] = []
    visited: list[str] = []
    pending = [target]
    while pending:
        parent = pending.pop(0)
        if parent in walked or parent in visited:
            continue
        visited.append(parent)
        accounts.extend(_account(raw, parent, target) for raw in _pages(client, "list_accounts_for_parent", "Accounts", parent))
        pending.extend(unit["Id"] for unit in _pages(client, "list_organizational_units_for_parent", "OrganizationalUnits", parent))
    return accounts, visited


def _pages(client: Any, operation: str, key: str, parent: str) -> Iterator[dict[str, Any]]:
    """The items of every page; botocore's paginator goes on while a ``NextToken`` comes back, even after an empty page."""
    paginator = client.get_paginator(operation)
    for page in paginator.paginate(ParentId=parent, PaginationConfig={"PageSize": PAGE_SIZE}):
        yield from page.get(key, [])


def _account(raw: dict[str, Any], parent: str, target: str) -> OrganizationAccount:
    # Status is retired on 2026-09-09 in favour of State; read it only where State is absent.
    state = raw.get("State") or raw.get("Status") or ""
    return OrganizationAccount(id=raw["Id"], name=raw.get("Name", ""), state=state, parent_id=parent, target=target)


def _classify(
    accounts: Iterable[OrganizationAccount], excluded: frozenset[str], errors: tuple[TargetError, ...], requests: RequestCount
) -> TargetedAccounts:
    governed: list[OrganizationAccount] = []
    skipped: list[SkippedAccount] = []
    for account in sorted(accounts, key=lambda each: each.id):
        reason = skip_reason(account, excluded)
        if reason is None:
            governed.append(account)
        else:
            skipped.append(SkippedAccount(account, reason))
    return TargetedAccounts(tuple(governed), tuple(skipped), errors, requests)


def skip_reason(account: OrganizationAccount, excluded: frozenset[str]) -> str | None:
    """Why ``account`` is not governed, or None when it is (ACTIVE and not excluded)."""
    if account.id in excluded:
        return EXCLUDED_REASON
    if account.state == GOVERNED_STATE:
        return None
    if account.state in SKIPPED_STATES:
        return SKIPPED_STATES[account.state]
    return f"the account's state is {account.state or 'not reported'}, not ACTIVE"


def _target_error(target: str, error: ClientError | BotoCoreError) -> TargetError:
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code") or "ClientError")
        if code in MISSING_TARGET_CODES:
            return TargetError(target, code, f"{target} does not exist in this organization, or an OU under it was deleted during the listing.")
        return TargetError(target, code, f"{target} could not be listed ({code}).")
    return TargetError(target, type(error).__name__, f"{target} could not be listed ({type(error).__name__}).")


_COUNTER = threading.local()
_HANDLER_ID = "governance-organization-requests"


@contextmanager
def counting(client: Any) -> Iterator[RequestCount]:
    """Count the requests ``client`` sends inside the block, in this thread, into the yielded ``RequestCount``.

    API calls are counted as their parameters are built, before anything answers them (so calls a
    botocore ``Stubber`` answers count too); the retries botocore made of a call are read from the
    answer's ``ResponseMetadata.RetryAttempts``.
    """
    events = client.meta.events
    events.register_first("before-parameter-build.organizations", _count_call, unique_id=f"{_HANDLER_ID}-call")
    events.register("after-call.organizations", _count_retries, unique_id=f"{_HANDLER_ID}-retries")
    count = RequestCount()
    previous = getattr(_COUNTER, "current", None)
    _COUNTER.current = count
    try:
        yield count
    finally:
        _COUNTER.current = previous


def _count_call(model: Any, **_: Any) -> None:
    count = getattr(_COUNTER, "current", None)
    if count is not None:
        count.calls[model.name] += 1


def _count_retries(parsed: Any, **_: Any) -> None:
    count = getattr(_COUNTER, "current", None)
    if count is not None and isinstance(parsed, dict):
        count.retries += int(parsed.get("ResponseMetadata", {}).get("RetryAttempts") or 0)
