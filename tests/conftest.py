"""Shared fixtures: fake AWS credentials so no test can reach a real account."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

FAKE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def aws_credentials() -> Iterator[None]:
    """Fake credentials, and no profile or endpoint override from the caller's shell."""
    saved = {key: os.environ.get(key) for key in (*FAKE_ENVIRONMENT, "AWS_PROFILE", "AWS_ENDPOINT_URL")}
    os.environ.update(FAKE_ENVIRONMENT)
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
