"""AWS clients, created once per container and reused by every event.

Clients use botocore's adaptive retry mode: throttling and 5xx errors are retried with backoff
and client-side rate limiting, then raised so that Lambda retries the event.
"""

from __future__ import annotations

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

_CLIENTS: dict[tuple[str, str | None], Any] = {}


def client(service: str, region: str | None = None) -> Any:
    """The cached client for ``service`` in ``region`` (None: the function's own region)."""
    key = (service, region)
    cached = _CLIENTS.get(key)
    if cached is None:
        cached = boto3.client(service, region_name=region, config=CLIENT_CONFIG)
        attach_recorder(cached)
        _CLIENTS[key] = cached
    return cached


def forget_clients() -> None:
    """Drop the cached clients (tests use this between mocked accounts)."""
    _CLIENTS.clear()
