"""Fixtures shared by the CLI tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from governance.lambda_code import lambda_module


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[None]:
    """In-process moto, with the fixers' cached clients dropped before and after (they are bound to an endpoint)."""
    with mock_aws():
        lambda_module("clients").forget_clients()
        yield
        lambda_module("clients").forget_clients()
