"""boto3 sessions per account: the caller's own, or the account's roleArn assumed through STS.

In organization mode the member accounts are entered through the hub: the caller's credentials
assume ``governance:organization.adminRoleArn`` (or are used as they are without it), and that hub
session assumes each member's role.

Each role is assumed at most once per account per run: the credentials are botocore
``RefreshableCredentials`` shared by every regional session of the account, and they assume the
role again only when they near their expiry (a run longer than the one hour an assumed role lasts
goes on). A role that cannot be assumed is not asked again in the same run: every region of that
account reports the same error, and the other accounts go on.

boto3 honours ``AWS_ENDPOINT_URL``, so the same code runs against AWS or an emulator.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialProvider, CredentialResolver, Credentials, RefreshableCredentials
from botocore.loaders import Loader, create_loader

from governance.settings import Account

MAX_WORKERS = 256
"""The most parallel workers ``--concurrency`` allows."""
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 8}, connect_timeout=5, read_timeout=30, max_pool_connections=MAX_WORKERS
)
"""Every CLI client: throttling and 5xx retried up to 8 times with exponential backoff and jitter.

Many workers share an account, so backoff per request suits better than the adaptive mode's
client-side rate limiter, which under scattered throttling slows a whole client to a crawl. Every
worker may use the same client (one account-region), so each keeps its connection open: botocore's
default pool of 10 would close and reopen (with a new TLS handshake) the connection of every
worker beyond the tenth after each request. Connections are opened only as workers need them."""
SESSION_NAME = "governance-cli"
HUB_SLOT = "hub"
"""The cache slot of the hub's credentials, apart from any account's (the hub may be a member too)."""

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, timezone-aware, as botocore compares credential expiry times."""
    return datetime.now(UTC)


class _Shared(CredentialProvider):
    """Hands one credentials object to a botocore session, so every session of an account refreshes the same one."""

    METHOD = "governance-shared"
    CANONICAL_NAME = "custom-governance-shared"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        """The shared credentials."""
        return self._credentials


_LOADER: list[Loader] = []
_LOADER_LOCK = threading.Lock()


def _shared_loader(core: botocore.session.Session) -> Loader:
    """One botocore data loader for every session of the run, so each service model is parsed once.

    botocore caches what a loader has read on the loader; a session of its own per account-region
    would otherwise parse the same JSON models again (the EC2 model alone is megabytes) in each.
    """
    with _LOADER_LOCK:
        if not _LOADER:
            _LOADER.append(create_loader(core.get_config_variable("data_path")))
        return _LOADER[0]


def session_with(credentials: Credentials | None, region: str | None = None) -> boto3.Session:
    """A boto3 session signing with ``credentials`` (the default chain when None), with ``region`` as its default."""
    core = botocore.session.Session()
    core.register_component("data_loader", _shared_loader(core))
    if credentials is not None:
        core.register_component("credential_provider", CredentialResolver([_Shared(credentials)]))
    return boto3.Session(botocore_session=core, region_name=region)


@dataclass
class AccountSessions:
    """Creates and caches the credentials of each account (and of the hub) once per run, and sessions on them."""

    base: boto3.Session = field(default_factory=boto3.Session)
    clock: Clock = utc_now
    """What the credentials compare their expiry with (a test moves it forward)."""
    hub: Account | None = None
    """Organization mode: the hub account (``adminAccountId``, its ``adminRoleArn``) member roles are assumed from."""
    _members: frozenset[str] = frozenset()
    _credentials: dict[str, Credentials | None] = field(default_factory=dict)
    _failures: dict[str, Exception] = field(default_factory=dict)
    _sessions: dict[str, boto3.Session] = field(default_factory=dict)
    _slot_locks: dict[str, threading.Lock] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def enter_through_hub(self, hub: Account, member_ids: Iterable[str]) -> None:
        """Enter the accounts ``member_ids`` with their role assumed from ``hub``'s session, not the caller's."""
        self.hub = hub
        self._members = self._members | frozenset(member_ids)

    def is_member(self, account: Account) -> bool:
        """Whether ``account`` is entered through the hub (an organization member)."""
        return self.hub is not None and account.id in self._members

    def credentials(self, account: Account) -> Credentials | None:
        """The account's credentials (None: the default chain found none); raises the STS error when its role cannot be assumed."""
        slot = f"member/{account.id}" if self.is_member(account) else account.id
        return self._slot(slot, lambda: self._assumed(account, self._source_of(account)))

    def hub_credentials(self) -> Credentials | None:
        """The hub's credentials: the caller's, or ``adminRoleArn`` assumed with them."""
        hub = self._hub()
        return self._slot(HUB_SLOT, lambda: self._assumed(hub, self.base.get_credentials()))

    def session(self, account: Account) -> boto3.Session:
        """The account's session, without a default region.

        Raises the STS error when the role cannot be assumed; the error is kept, not retried, for this run.
        """
        return self._cached(f"{account.id}/-", lambda: session_with(self.credentials(account)))

    def regional(self, account: Account, region: str) -> boto3.Session:
        """A session with the account's credentials whose default region is ``region``.

        The fixers create clients without naming a region, as the Lambda does in its own region.
        """
        member = "member/" if self.is_member(account) else ""
        return self._cached(f"{member}{account.id}/{region}", lambda: session_with(self.credentials(account), region))

    def client(self, account: Account, service: str, region: str) -> Any:
        """A client for ``service`` in ``region`` of ``account``."""
        return self.regional(account, region).client(service, region_name=region, config=CLIENT_CONFIG)

    def hub_session(self, region: str) -> boto3.Session:
        """The hub's session in ``region``."""
        return self._cached(f"{HUB_SLOT}/{region}", lambda: session_with(self.hub_credentials(), region))

    def hub_client(self, service: str, region: str) -> Any:
        """A client of the hub account for ``service`` in ``region``."""
        return self.hub_session(region).client(service, region_name=region, config=CLIENT_CONFIG)

    # --- internals ----------------------------------------------------------------------------

    def _hub(self) -> Account:
        if self.hub is None:
            raise RuntimeError("the hub is known only in organization mode (enter_through_hub)")
        return self.hub

    def _source_of(self, account: Account) -> Credentials | None:
        """The credentials that assume ``account``'s role: the hub's for a member, the caller's otherwise."""
        return self.hub_credentials() if self.is_member(account) else self.base.get_credentials()

    def _cached(self, key: str, make: Callable[[], boto3.Session]) -> boto3.Session:
        with self._lock:
            cached = self._sessions.get(key)
        if cached is None:
            cached = make()
            with self._lock:
                cached = self._sessions.setdefault(key, cached)
        return cached

    def _slot(self, slot: str, make: Callable[[], Credentials | None]) -> Credentials | None:
        """The slot's credentials, made once (one thread makes them while the others of the slot wait)."""
        with self._lock:
            lock = self._slot_locks.setdefault(slot, threading.Lock())
        with lock:
            if slot in self._failures:
                raise self._failures[slot]
            if slot not in self._credentials:
                try:
                    self._credentials[slot] = make()
                except Exception as error:
                    self._failures[slot] = error
                    raise
            return self._credentials[slot]

    def _assumed(self, account: Account, source: Credentials | None) -> Credentials | None:
        """``source`` itself without a role; else the role assumed once now, refreshed by assuming it again near expiry."""
        if account.role_arn is None:
            return source
        request = {"RoleArn": account.role_arn, "RoleSessionName": SESSION_NAME}
        if account.external_id:
            request["ExternalId"] = account.external_id
        # Chained role sessions last at most one hour (the default DurationSeconds): refreshing keeps long runs going.
        sts = session_with(source, account.home_region).client("sts", region_name=account.home_region, config=CLIENT_CONFIG)

        def assume() -> dict[str, str]:
            answer = sts.assume_role(**request)["Credentials"]
            return {
                "access_key": answer["AccessKeyId"],
                "secret_key": answer["SecretAccessKey"],
                "token": answer["SessionToken"],
                "expiry_time": answer["Expiration"].isoformat(),
            }

        first = assume()
        return RefreshableCredentials(
            access_key=first["access_key"],
            secret_key=first["secret_key"],
            token=first["token"],
            expiry_time=datetime.fromisoformat(first["expiry_time"]),
            refresh_using=assume,
            method="assume-role",
            time_fetcher=self.clock,
        )
