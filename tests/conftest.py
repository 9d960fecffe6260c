"""Shared fixtures: fake AWS credentials so no test can reach a real account, and moto made to behave like AWS."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from governance import moto_fidelity
from governance.cli.emulator import FAKE_CREDENTIALS

FAKE_ENVIRONMENT = {**FAKE_CREDENTIALS, "AWS_SECURITY_TOKEN": "testing"}

# Every test that uses moto, in-process or through the embedded server, sees S3 as AWS is today:
# each bucket has SSE-S3 default encryption, and deleting it resets it to SSE-S3.
moto_fidelity.install()


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
