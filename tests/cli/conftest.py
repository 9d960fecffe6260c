"""Fixtures shared by the CLI tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from governance.lambda_code import lambda_module
from tests.cli.organization_fixtures import Organization, create_organization


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[None]:
    """In-process moto, with the fixers' cached clients dropped before and after (they are bound to an endpoint)."""
    with mock_aws():
        lambda_module("clients").forget_clients()
        yield
        lambda_module("clients").forget_clients()


@pytest.fixture(autouse=True)
def verification_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between verification reads (the engine's, which ``apply`` shares), recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr(lambda_module("engine"), "sleep", waits.append)
    return waits


@pytest.fixture
def organization(aws: None) -> Organization:
    """An organization in moto with 3 OUs (one nested) and 12 accounts (``tests/cli/organization_fixtures.py``)."""
    return create_organization()
