"""The hub function's boto3 sessions in member accounts: the member role assumed through STS, cached per container.

One session per account lives as long as the container. Its credentials refresh themselves in
place (botocore ``RefreshableCredentials``) when less than ``REFRESH_MARGIN`` of their hour is
left, so the session object, and the clients ``clients.using_session(session)`` caches by that
object's identity, stay valid for the life of the container. Building a new session at each
refresh would leave the old session's clients cached under an id Python may hand to a later
session of another account.

Before any request the account id is checked (12 digits, not excluded); after AssumeRole, the
assumed-role ARN STS returns must name the account asked for (no GetCallerIdentity, no extra
request). Refusals raise a ``MemberAccessRefused`` subclass whose message is one sentence. STS
throttling and 5xx are raised unchanged (``errors.is_transient`` is true for them); any other
STS refusal, AccessDenied or expired credentials included, becomes ``MemberRoleUnavailable``.
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.session
from botocore.credentials import CredentialProvider, CredentialResolver, RefreshableCredentials
from botocore.exceptions import ClientError

from .calls import attach_recorder
from .clients import CLIENT_CONFIG
from .errors import error_code, is_transient

IAM_ACTIONS: tuple[str, ...] = ("sts:AssumeRole",)
"""What this module calls with the function's own credentials (on the member roles)."""

# UNVERIFIED: whether the function's role assuming the member role counts as role chaining, which
# limits DurationSeconds to one hour; the longest session is kept within that limit either way.
MAX_DURATION_SECONDS = 3600
"""The longest session asked for: AssumeRole's limit for a chained role session."""
MIN_DURATION_SECONDS = 900
"""AssumeRole's shortest session."""
REFRESH_MARGIN = timedelta(minutes=5)
"""Credentials with less than this left are replaced before use."""
DEFAULT_SESSION_NAME = "governance-remediation"
"""RoleSessionName when the function's name is unknown (outside Lambda)."""

ACCOUNT_ID = re.compile(r"[0-9]{12}")
ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
PARTITION = re.compile(r"aws(-[a-z]+)*")
_SESSION_NAME_CHARACTER = re.compile(r"[^\w+=,.@-]", re.ASCII)
_ASSUMED_ROLE_ARN = re.compile(r"arn:[a-z-]+:sts::(?P<account>[0-9]{12}):assumed-role/.+")

Clock = Callable[[], datetime]


class MemberAccessRefused(Exception):
    """The function will not act in a member account; the message says why in one sentence."""


class InvalidAccountId(MemberAccessRefused):
    """The account id is not 12 digits."""


class ExcludedAccount(MemberAccessRefused):
    """The account is excluded from governance."""


class CredentialsForAnotherAccount(MemberAccessRefused):
    """STS answered with credentials of an account other than the one asked for."""


class MemberRoleUnavailable(MemberAccessRefused):
    """STS refused to let the function assume the member role (denied, expired credentials, bad request): retrying will not help."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def session_name_for(function_name: str | None) -> str:
    """A valid RoleSessionName (2–64 letters, digits or ``+=,.@_-``) naming the function, the same at every call.

    ``function_name`` is the function's name (Lambda's ``AWS_LAMBDA_FUNCTION_NAME``); other characters become ``-``.
    """
    name = _SESSION_NAME_CHARACTER.sub("-", function_name or DEFAULT_SESSION_NAME)[:64]
    return name if len(name) >= 2 else DEFAULT_SESSION_NAME


def _utc_now() -> datetime:
    return datetime.now(UTC)


class _Provider(CredentialProvider):
    """Hands the member account's refreshable credentials to a botocore session."""

    METHOD = "governance-member-role"
    CANONICAL_NAME = "governance-member-role"

    def __init__(self, credentials: RefreshableCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> RefreshableCredentials:
        return self._credentials


class MemberSessions:
    """Sessions in member accounts, through ``arn:{partition}:iam::{account}:role/{role_name}``.

    ``own_account`` (the hub's) is reached through its member role like any other: the hub's own role holds
    no fixer action, and a hub under one of its targets has a member role from the stack sets.
    Safe to call from several threads: one AssumeRole per account while its credentials are fresh.
    """

    def __init__(
        self,
        role_name: str,
        partition: str,
        own_account: str,
        excluded: frozenset[str] | set[str] = frozenset(),
        *,
        session_name: str | None = None,
        duration_seconds: int = MAX_DURATION_SECONDS,
        sts_client: Any = None,
        clock: Clock = _utc_now,
        base_session: boto3.Session | None = None,
    ) -> None:
        _check_settings(role_name, partition, own_account, excluded, duration_seconds)
        self.role_name = role_name
        self.partition = partition
        self.own_account = own_account
        self.excluded = frozenset(excluded)
        self.session_name = session_name_for(session_name or os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
        self.duration_seconds = duration_seconds
        self._sts = sts_client
        self._clock = clock
        self._base = base_session
        self._sessions: dict[str, tuple[boto3.Session, RefreshableCredentials]] = {}
        self._loader: Any = None
        self._account_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._assume_role_calls: Counter[str] = Counter()

    def role_arn(self, account_id: str) -> str:
        """The member role's ARN in ``account_id``."""
        return f"arn:{self.partition}:iam::{account_id}:role/{self.role_name}"

    def assume_role_calls(self, account_id: str | None = None) -> int:
        """AssumeRole requests made so far (botocore's retries of one excluded), for one account or all."""
        with self._lock:
            return self._assume_role_calls[account_id] if account_id is not None else sum(self._assume_role_calls.values())

    def session_for(self, account_id: str) -> boto3.Session:
        """The session in ``account_id``, its credentials good for at least ``REFRESH_MARGIN``.

        Raises ``InvalidAccountId`` or ``ExcludedAccount`` before any request,
        ``CredentialsForAnotherAccount`` or ``MemberRoleUnavailable`` after AssumeRole (nothing is
        cached then), and STS's own ClientError when it is transient (throttling, 5xx).
        """
        self._check_account(account_id)
        with self._account_lock(account_id):
            cached = self._sessions.get(account_id)
            if cached is None:
                credentials = self._first_credentials(account_id)
                cached = (self._session_with(credentials), credentials)
                self._sessions[account_id] = cached
        session, credentials = cached
        # Refreshes when less than REFRESH_MARGIN is left; botocore's lock lets one thread do it.
        credentials.get_frozen_credentials()
        return session

    def _check_account(self, account_id: str) -> None:
        if not isinstance(account_id, str) or not ACCOUNT_ID.fullmatch(account_id):
            raise InvalidAccountId(f"{account_id!r} is not an AWS account id (12 digits), so no role is assumed for it.")
        if account_id in self.excluded:
            raise ExcludedAccount(f"Account {account_id} is excluded from governance, so nothing is done in it.")

    def _session_with(self, credentials: RefreshableCredentials) -> boto3.Session:
        """A boto3 session whose only credentials are ``credentials`` (never the function's own, as a fallback).

        All member sessions share one data loader, so each service model is read once per container
        rather than once per account (a loader per account made the first s3 and ec2 clients of an
        account about four times slower to create).
        """
        core = botocore.session.get_session()
        core.register_component("credential_provider", CredentialResolver(providers=[_Provider(credentials)]))
        with self._lock:
            if self._loader is None:
                self._loader = botocore.session.get_session().get_component("data_loader")
            loader = self._loader
            core.register_component("data_loader", loader)
            known = list(loader.search_paths)
            session = boto3.Session(botocore_session=core)
            # boto3 appends its own data path to the loader at every session: keep it once.
            if len(loader.search_paths) > len(known) and loader.search_paths[-1] in known:
                loader.search_paths.pop()
        return session

    def _account_lock(self, account_id: str) -> threading.Lock:
        with self._lock:
            return self._account_locks.setdefault(account_id, threading.Lock())

    def _sts_client(self) -> Any:
        with self._lock:
            if self._sts is None:
                base = self._base or boto3.Session()
                self._sts = base.client("sts", config=CLIENT_CONFIG)
                attach_recorder(self._sts)
            return self._sts

    def _first_credentials(self, account_id: str) -> RefreshableCredentials:
        metadata = self._assume(account_id)
        return RefreshableCredentials(
            access_key=metadata["access_key"],
            secret_key=metadata["secret_key"],
            token=metadata["token"],
            expiry_time=datetime.fromisoformat(metadata["expiry_time"]),
            refresh_using=lambda: self._assume(account_id),
            method=_Provider.METHOD,
            time_fetcher=self._clock,
            advisory_timeout=REFRESH_MARGIN.total_seconds(),
            mandatory_timeout=REFRESH_MARGIN.total_seconds(),
        )

    def _assume(self, account_id: str) -> dict[str, str]:
        """One AssumeRole into ``account_id``, checked, as botocore's credential metadata."""
        sts = self._sts_client()
        role_arn = self.role_arn(account_id)
        with self._lock:
            self._assume_role_calls[account_id] += 1
        try:
            response = sts.assume_role(RoleArn=role_arn, RoleSessionName=self.session_name, DurationSeconds=self.duration_seconds)
        except ClientError as error:
            if is_transient(error):
                raise
            code = error_code(error)
            raise MemberRoleUnavailable(
                f"STS refused to let the function assume {role_arn} ({code}), so nothing is done in account {account_id}.", code
            ) from error
        _check_assumed_account(response, account_id, role_arn)
        credentials = response["Credentials"]
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": _aware(credentials["Expiration"]).isoformat(),
        }


def _check_assumed_account(response: dict[str, Any], account_id: str, role_arn: str) -> None:
    """Refuse credentials whose assumed-role ARN does not name ``account_id``."""
    arn = str(response.get("AssumedRoleUser", {}).get("Arn", ""))
    match = _ASSUMED_ROLE_ARN.fullmatch(arn)
    if match is None or match["account"] != account_id:
        raise CredentialsForAnotherAccount(
            f"Assuming {role_arn} returned credentials of {arn or 'an unnamed principal'}, not of account {account_id}, so they are not used."
        )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _check_settings(role_name: str, partition: str, own_account: str, excluded: frozenset[str] | set[str], duration_seconds: int) -> None:
    if not ROLE_NAME.fullmatch(role_name):
        raise ValueError(f"The member role name {role_name!r} must be 1–64 characters of letters, digits and +=,.@_-.")
    if not PARTITION.fullmatch(partition):
        raise ValueError(f"The partition {partition!r} must be an AWS partition such as aws, aws-cn or aws-us-gov.")
    if not ACCOUNT_ID.fullmatch(own_account):
        raise ValueError(f"The hub account {own_account!r} must be an account id of 12 digits.")
    malformed = sorted(account for account in excluded if not ACCOUNT_ID.fullmatch(account))
    if malformed:
        raise ValueError(f"The excluded accounts {malformed} must be account ids of 12 digits.")
    if not MIN_DURATION_SECONDS <= duration_seconds <= MAX_DURATION_SECONDS:
        raise ValueError(f"The session duration must be {MIN_DURATION_SECONDS}–{MAX_DURATION_SECONDS} seconds, not {duration_seconds}.")
