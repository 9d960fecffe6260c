"""AWS clients, created once per container and reused by every event.

Clients use botocore's adaptive retry mode: throttling and 5xx errors are retried with backoff
and client-side rate limiting, then raised so that Lambda retries the event.

In Lambda every client uses the function's own credentials. The operator CLI runs the same fixers
in many accounts at once: inside ``using_session(session)`` (per thread or task) clients come from
that account's boto3 session instead.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import boto3
from botocore.config import Config

from .calls import attach_recorder

RETRY_ATTEMPTS = 4
"""Retries per API call after the first try (botocore's ``max_attempts`` excludes the first try)."""

CLIENT_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": RETRY_ATTEMPTS},
    connect_timeout=5,
    read_timeout=20,
)
"""Botocore settings shared by every client."""

_CLIENTS: dict[tuple[int, str, str | None], tuple[boto3.Session | None, Any]] = {}
"""Clients by (id of the session, service, region); each keeps its session, so that id is never reused meanwhile."""
_CREATING = threading.Lock()
_SESSION: ContextVar[tuple[boto3.Session, Config] | None] = ContextVar("governance_session", default=None)


@contextmanager
def using_session(session: boto3.Session, config: Config | None = None) -> Iterator[None]:
    """Make ``client()`` use ``session`` (another account's credentials) inside the block.

    ``config`` replaces the clients' botocore settings: the CLI, with many workers in parallel,
    retries throttling with backoff and jitter rather than Lambda's adaptive rate limiting.
    """
    token = _SESSION.set((session, config or CLIENT_CONFIG))
    try:
        yield
    finally:
        _SESSION.reset(token)


def client(service: str, region: str | None = None) -> Any:
    """The cached client for ``service`` in ``region`` (None: the function's own region)."""
    override = _SESSION.get()
    key = (id(override[0]) if override is not None else 0, service, region)
    entry = _CLIENTS.get(key)
    if entry is None:
        # Creating clients is not thread-safe in botocore; using them is.
        with _CREATING:
            entry = _CLIENTS.get(key)
            if entry is None:
                if override is None:
                    entry = (None, boto3.client(service, region_name=region, config=CLIENT_CONFIG))
                else:
                    session, config = override
                    entry = (session, session.client(service, region_name=region, config=config))
                attach_recorder(entry[1])
                _CLIENTS[key] = entry
    return entry[1]


def cached_clients() -> list[Any]:
    """Every client created so far and still cached."""
    return [cached for _session, cached in list(_CLIENTS.values())]


def forget_clients() -> None:
    """Drop the cached clients (tests use this between mocked accounts)."""
    _CLIENTS.clear()
