"""boto3 sessions per account: the caller's own, or the account's roleArn assumed through STS.

boto3 honours ``AWS_ENDPOINT_URL``, so the same code runs against AWS or an emulator.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from governance.settings import Account

CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, connect_timeout=5, read_timeout=30)
"""Every CLI client: throttling and 5xx retried up to 8 times with exponential backoff and jitter.

Many workers share an account, so backoff per request suits better than the adaptive mode's
client-side rate limiter, which under scattered throttling slows a whole client to a crawl."""
SESSION_NAME = "governance-cli"


@dataclass
class AccountSessions:
    """Creates and caches one boto3 session per account."""

    base: boto3.Session = field(default_factory=boto3.Session)
    _sessions: dict[str, boto3.Session] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def session(self, account: Account) -> boto3.Session:
        """The account's session: the caller's credentials, or the account's role assumed with them.

        Raises the STS error when the role cannot be assumed; nothing is cached then.
        """
        with self._lock:
            return self._session(account)

    def _session(self, account: Account) -> boto3.Session:
        cached = self._sessions.get(account.id)
        if cached is not None:
            return cached
        if account.role_arn is None:
            session = self.base
        else:
            request = {"RoleArn": account.role_arn, "RoleSessionName": SESSION_NAME}
            if account.external_id:
                request["ExternalId"] = account.external_id
            sts = self.base.client("sts", region_name=account.home_region, config=CLIENT_CONFIG)
            credentials = sts.assume_role(**request)["Credentials"]
            session = boto3.Session(
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
            )
        self._sessions[account.id] = session
        return session

    def regional(self, account: Account, region: str) -> boto3.Session:
        """A session with the account's credentials whose default region is ``region``.

        The fixers create clients without naming a region, as the Lambda does in its own region.
        """
        key = f"{account.id}/{region}"
        with self._lock:
            return self._regional(account, region, key)

    def _regional(self, account: Account, region: str, key: str) -> boto3.Session:
        cached = self._sessions.get(key)
        if cached is None:
            credentials = self.session(account).get_credentials()
            frozen = credentials.get_frozen_credentials() if credentials else None
            cached = boto3.Session(
                aws_access_key_id=frozen.access_key if frozen else None,
                aws_secret_access_key=frozen.secret_key if frozen else None,
                aws_session_token=frozen.token if frozen else None,
                region_name=region,
            )
            self._sessions[key] = cached
        return cached

    def client(self, account: Account, service: str, region: str) -> Any:
        """A client for ``service`` in ``region`` of ``account``."""
        return self.session(account).client(service, region_name=region, config=CLIENT_CONFIG)
