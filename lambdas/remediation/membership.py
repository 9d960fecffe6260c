"""Whether an account of the organization is governed by the hub function: under a targeted OU, not excluded.

The answer comes from ``organizations:ListParents``, walked from the account up towards the root,
one parent per request (a child has exactly one parent). The account is governed when a target (an
OU id or the root id) is on that path; the walk stops at the first target it meets, or at the root.

Two caches, per container:

- **OU edges** (OU → its parent) are kept for the life of the container: a second account under an
  already-seen OU costs one request (its own parent). Organizations has no operation that moves an
  OU (only accounts move; an OU is created under a parent and stays there), so these edges do not
  go stale while the OU exists.
- **Verdicts** per account, with the account's own edge, are kept for ``VERDICT_TTL`` (15
  minutes). Accounts do move between OUs (``MoveAccount``); after a move out of the targets the hub
  keeps acting in the account for at most that long. Fifteen minutes bounds that window to the
  order of Config's own delay between a change and its evaluation event, while a burst of events
  from one account (a change touching many resources) costs no request after the first.

Excluded accounts and malformed ids are refused before any request. AccessDenied, an account that
is not in the organization (``ChildNotFoundException``) and any other permanent refusal make the
account not governed, with the reason; throttling, 5xx and timeouts are raised unchanged
(``errors.is_transient`` is true for them), so that Lambda retries the event.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .clients import client
from .errors import describe_error, error_code, is_transient

IAM_ACTIONS: tuple[str, ...] = ("organizations:ListParents",)
"""What this module calls, with the function's own credentials (the hub is a delegated administrator)."""

VERDICT_TTL_SECONDS = 15 * 60
"""How long a verdict (and the account's own parent) is reused before the organization is asked again."""

# UNVERIFIED: AWS documents OU nesting up to five levels below the root; the walk allows more
# before it gives up, so only a cycle (which Organizations cannot form) or a defect stops it.
MAX_DEPTH = 10
"""The most parents asked for one account before the walk gives up and refuses."""

ACCOUNT_ID = re.compile(r"[0-9]{12}")
TARGET_ID = re.compile(r"ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32}")
"""An OU id or a root id (CloudFormation's ``OrganizationalUnitId`` pattern)."""

Clock = Callable[[], float]


@dataclass(frozen=True)
class Verdict:
    """Whether the hub may act in an account, and, when not, one sentence saying why."""

    governed: bool
    reason: str = ""
    """Empty when governed; otherwise one sentence ending with a full stop."""
    path: tuple[str, ...] = ()
    """The parents walked, nearest first, as far as the walk went."""

    def __bool__(self) -> bool:
        return self.governed

    @property
    def target(self) -> str | None:
        """The target the account is governed under (the nearest one), None when it is not governed."""
        return self.path[-1] if self.governed and self.path else None


class OrganizationMembership:
    """Decides whether accounts are governed: under one of ``targets`` and not in ``excluded``.

    ``organizations_client`` is used as given (the hub's own credentials); without it one is made
    on first use with ``clients.client``, so the first call must not be inside ``clients.using_session``. ``clock`` returns seconds (monotonic) for the verdict cache.
    """

    def __init__(
        self,
        targets: Iterable[str],
        excluded: Iterable[str] = (),
        clock: Clock = time.monotonic,
        *,
        organizations_client: Any = None,
        verdict_ttl_seconds: float = VERDICT_TTL_SECONDS,
    ) -> None:
        self.targets = frozenset(targets)
        self.excluded = frozenset(excluded)
        _check_settings(self.targets, self.excluded)
        self._clock = clock
        self._client = organizations_client
        self._ttl = verdict_ttl_seconds
        # UNVERIFIED (not in the research notes): that Organizations offers no way to move an OU to
        # another parent, so an OU's parent, once learned, holds for the life of the container.
        self._ou_parents: dict[str, str] = {}
        self._verdicts: dict[str, tuple[float, Verdict]] = {}
        self._lock = threading.Lock()
        self._requests = 0

    def requests_made(self) -> int:
        """ListParents requests made so far (botocore's retries of one not counted)."""
        with self._lock:
            return self._requests

    def is_governed(self, account_id: str) -> Verdict:
        """Whether ``account_id`` is governed; raises AWS's ClientError only when it is transient."""
        refusal = self._refusal(account_id)
        if refusal is not None:
            return Verdict(False, refusal)
        now = self._clock()
        with self._lock:
            cached = self._verdicts.get(account_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        verdict = self._walk(account_id)
        with self._lock:
            self._verdicts[account_id] = (now, verdict)
        return verdict

    def _refusal(self, account_id: Any) -> str | None:
        if not isinstance(account_id, str) or not ACCOUNT_ID.fullmatch(account_id):
            return f"{account_id!r} is not an AWS account id (12 digits), so it is not governed."
        if account_id in self.excluded:
            return f"Account {account_id} is excluded from governance."
        return None

    def _walk(self, account_id: str) -> Verdict:
        path: list[str] = []
        child = account_id
        for _ in range(MAX_DEPTH):
            try:
                parent, is_root = self._parent(child, cached=child != account_id)
            except ClientError as error:
                if is_transient(error):
                    raise
                return Verdict(False, _refused_sentence(account_id, child, error), tuple(path))
            if parent is None:
                return Verdict(False, f"Organizations names no parent of {child}, so account {account_id} is not governed.", tuple(path))
            path.append(parent)
            if parent in self.targets:
                return Verdict(True, "", tuple(path))
            if is_root:
                return Verdict(False, f"Account {account_id} is not under any targeted OU (its path is {' < '.join(path)}).", tuple(path))
            child = parent
        return Verdict(False, f"Account {account_id} is more than {MAX_DEPTH} levels below the root, so it is not governed.", tuple(path))

    def _parent(self, child: str, *, cached: bool) -> tuple[str | None, bool]:
        """The parent of ``child`` and whether it is the root; OU parents from the cache when known."""
        if cached:
            with self._lock:
                known = self._ou_parents.get(child)
            if known is not None:
                return known, known.startswith("r-")
        response = self._organizations().list_parents(ChildId=child)
        with self._lock:
            self._requests += 1
        parents = response.get("Parents") or []
        if not parents:
            return None, False
        parent_id = str(parents[0].get("Id", ""))
        is_root = parents[0].get("Type") == "ROOT" or parent_id.startswith("r-")
        if cached:
            with self._lock:
                self._ou_parents[child] = parent_id
        return parent_id, is_root

    def _organizations(self) -> Any:
        if self._client is None:
            # Made outside any clients.using_session block: ListParents runs with the hub's own credentials.
            self._client = client("organizations")
        return self._client


def _refused_sentence(account_id: str, child: str, error: ClientError) -> str:
    code = error_code(error)
    if code == "ChildNotFoundException":
        return f"Organizations does not know {child} ({describe_error(error)}), so account {account_id} is not governed."
    if code in ("AccessDeniedException", "AccessDenied"):
        return f"Organizations refused to name the parent of {child} ({describe_error(error)}), so account {account_id} is not governed."
    return f"Organizations could not name the parent of {child} ({describe_error(error)}), so account {account_id} is not governed."


def _check_settings(targets: frozenset[str], excluded: frozenset[str]) -> None:
    if not targets:
        raise ValueError("At least one target (an OU id or the root id) is needed.")
    malformed = sorted(target for target in targets if not isinstance(target, str) or not TARGET_ID.fullmatch(target))
    if malformed:
        raise ValueError(f"The targets {malformed} must be OU ids (ou-…) or the root id (r-…).")
    bad_accounts = sorted(account for account in excluded if not isinstance(account, str) or not ACCOUNT_ID.fullmatch(account))
    if bad_accounts:
        raise ValueError(f"The excluded accounts {bad_accounts} must be account ids of 12 digits.")
