"""The safety suite reuses the Lambda tests' fixtures: moto in-process, fake credentials, the
deployment config, the request log and fault injection (tests/lambdas/conftest.py, faults.py)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from botocore.retries.bucket import TokenBucket

LAMBDA_TESTS = str(Path(__file__).resolve().parents[1] / "lambdas")
if LAMBDA_TESTS not in sys.path:
    sys.path.insert(0, LAMBDA_TESTS)

# Re-exported as this directory's fixtures: ``aws`` (autouse: moto, fresh clients), ``requests``, ``deploy``.
from conftest import aws, deploy, requests  # noqa: E402

__all__ = ["aws", "deploy", "no_backoff", "requests"]


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Botocore's retry backoff and adaptive rate limiter wait; the tests only need to see that it retried."""
    monkeypatch.setattr(time, "sleep", lambda _seconds: None)
    monkeypatch.setattr(TokenBucket, "acquire", lambda self, amount=1, block=True: True)
