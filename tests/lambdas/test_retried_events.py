"""A retried event's final record describes every write made for it, across attempts and containers.

Lambda retries an event whose handler raised, possibly in a new container. These tests run the
first attempt, send its log lines to CloudWatch Logs (moto) as the Lambda runtime does, forget
every in-memory client and config as a new container would, and run the retry.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.retries.bucket import TokenBucket
from conftest import ACCOUNT, DEFAULT_PARAMS, REGION, FakeContext, compliance_event, rule_name
from faults import inject_error
from lambda_scenarios import trail
from remediation import attempts, audit, clients, config, handler
from remediation.clients import RETRY_ATTEMPTS
from remediation.fixers import load_fixer
from remediation.fixers.base import ApiCall, Target, call

LOG_GROUP = "/aws/lambda/governance-remediation"
KEY = "cloudtrail-multi-region"
EVENT_TIME = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def lambda_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Every line the function writes goes to its log group, as the Lambda runtime sends stdout there."""
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=LOG_GROUP)
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName="attempts")
    monkeypatch.setenv(attempts.LOG_GROUP_VARIABLE, LOG_GROUP)
    lines: list[dict[str, Any]] = []
    original = audit.write_log_line

    def to_logs(data: dict[str, Any]) -> None:
        original(data)
        lines.append(json.loads(json.dumps(data, default=str)))
        logs.put_log_events(
            logGroupName=LOG_GROUP,
            logStreamName="attempts",
            logEvents=[{"timestamp": int(time.time() * 1000), "message": json.dumps(data, default=str, separators=(",", ":"))}],
        )

    monkeypatch.setattr(handler, "write_log_line", to_logs)
    yield lines


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", lambda _seconds: None)
    monkeypatch.setattr(TokenBucket, "acquire", lambda self, amount=1, block=True: True)


def at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    monkeypatch.setattr(attempts, "clock", lambda: moment)


def new_container() -> None:
    """What a retry in another container starts from: no clients, no parsed config, no memory."""
    clients.forget_clients()
    config._LOADED.clear()


def event_for(account_id: str) -> dict[str, Any]:
    event = compliance_event(rule_name(KEY), "AWS::::Account", account_id)
    event["time"] = EVENT_TIME.isoformat().replace("+00:00", "Z")
    return event


def writes(record: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["operation"], c["outcome"]) for c in record["apiCalls"] if not c["operation"].startswith(("Get", "Describe", "List"))]


def read_account_state() -> dict[str, Any]:
    state: dict[str, Any] = load_fixer(KEY).read_state(Target("AWS::::Account", ACCOUNT, ACCOUNT, REGION)).to_json()
    return state


def run_undo(record: dict[str, Any]) -> None:
    for entry in record["undo"]:
        call(ApiCall(entry["service"], entry["operation"], entry["params"], entry.get("region")))


def test_the_final_record_lists_the_first_attempts_write_and_undo_covers_both(monkeypatch, lambda_logs, no_backoff) -> None:
    trail(multi_region=False, logging=False)
    original = read_account_state()
    at(monkeypatch, EVENT_TIME + timedelta(seconds=5))
    # First attempt: UpdateTrail (write A) succeeds, StartLogging (write B) stays throttled.
    inject_error("cloudtrail", "StartLogging", "ThrottlingException", 400, times=1 + RETRY_ATTEMPTS)
    with pytest.raises(ClientError):
        handler.lambda_handler(event_for(ACCOUNT), FakeContext())
    (first,) = lambda_logs
    assert first["final"] is False
    assert ("UpdateTrail", "ok") in writes(first)
    assert read_account_state() != original, "the first attempt left the trail half-fixed"

    new_container()
    at(monkeypatch, EVENT_TIME + timedelta(minutes=1, seconds=10))
    final = handler.lambda_handler(event_for(ACCOUNT), FakeContext(aws_request_id="retry"))
    assert (final["decision"], final["final"]) == ("remediated", True), final["reason"]
    assert ("UpdateTrail", "ok") in writes(final), "the first attempt's write A is in the final record"
    assert ("StartLogging", "ok") in writes(final), "the retry's write B is in the final record"
    assert final["before"] == original, "the before-state is the one the first attempt read"
    assert final["earlierRecords"] == [first["recordId"]]

    fixer = load_fixer(KEY)
    if hasattr(fixer, "undo_calls"):
        # How the operator CLI undoes a record: recomputed from its before-state and change.
        target = Target("AWS::::Account", ACCOUNT, ACCOUNT, REGION)
        params = fixer.parse_params(DEFAULT_PARAMS[KEY])
        recomputed = [entry.to_json() for entry in fixer.undo_calls(target, final["before"], final["change"], params, None)]
        assert sorted(map(str, recomputed)) == sorted(map(str, final["undo"])), "the record's undo is the fixer's own inverse"
    run_undo(final)
    assert read_account_state() == original, "undo restores what both attempts changed"


def test_a_retry_after_every_write_was_made_still_records_them(monkeypatch, lambda_logs, no_backoff) -> None:
    """The first attempt wrote everything, then its verification read was throttled."""
    trail(multi_region=False, logging=False)
    original = read_account_state()
    at(monkeypatch, EVENT_TIME + timedelta(seconds=5))
    reads = {"count": 0}
    fixer = load_fixer(KEY)
    real_read = fixer.read_state

    def read_then_throttle(target: Target) -> Any:
        reads["count"] += 1
        if reads["count"] == 2:
            inject_error("cloudtrail", "DescribeTrails", "ThrottlingException", 400, times=1 + RETRY_ATTEMPTS)
        return real_read(target)

    monkeypatch.setattr(fixer, "read_state", read_then_throttle)
    with pytest.raises(ClientError):
        handler.lambda_handler(event_for(ACCOUNT), FakeContext())
    monkeypatch.setattr(fixer, "read_state", real_read)

    new_container()
    at(monkeypatch, EVENT_TIME + timedelta(minutes=1, seconds=10))
    final = handler.lambda_handler(event_for(ACCOUNT), FakeContext(aws_request_id="retry"))
    assert final["decision"] == "remediated", "the event's fix was made, by its first attempt"
    assert final["after"] == read_account_state(), "the retry's read is the after-state undo checks against"
    assert {"UpdateTrail", "StartLogging"} <= {operation for operation, outcome in writes(final) if outcome == "ok"}
    run_undo(final)
    assert read_account_state() == original


def test_a_fresh_event_is_not_looked_up(monkeypatch, lambda_logs, requests) -> None:
    """Lambda retries no sooner than a minute later: a younger event costs no log request."""
    trail(multi_region=True, logging=True)
    at(monkeypatch, EVENT_TIME + timedelta(seconds=20))
    handler.lambda_handler(event_for(ACCOUNT), FakeContext())
    assert not any(service == "logs" for service, _ in requests.sent)
    at(monkeypatch, EVENT_TIME + timedelta(minutes=2))
    handler.lambda_handler(event_for(ACCOUNT), FakeContext())
    assert [operation for service, operation in requests.sent if service == "logs"] == ["FilterLogEvents"], "one request when nothing earlier matches"


def test_records_of_other_events_and_final_records_are_not_included(monkeypatch, lambda_logs, no_backoff) -> None:
    trail(multi_region=False, logging=False)
    at(monkeypatch, EVENT_TIME + timedelta(seconds=5))
    other = event_for(ACCOUNT)
    other["id"] = "d4c8a5b0-0000-4000-8000-000000000000"
    inject_error("cloudtrail", "StartLogging", "ThrottlingException", 400, times=1 + RETRY_ATTEMPTS)
    with pytest.raises(ClientError):
        handler.lambda_handler(other, FakeContext())
    new_container()
    at(monkeypatch, EVENT_TIME + timedelta(minutes=3))
    final = handler.lambda_handler(event_for(ACCOUNT), FakeContext(aws_request_id="retry"))
    assert final["earlierRecords"] == []
    assert ("UpdateTrail", "ok") not in writes(final), "another event's writes are not this event's"


def test_an_unreadable_log_is_said_in_the_record(monkeypatch, lambda_logs) -> None:
    trail(multi_region=True, logging=True)
    at(monkeypatch, EVENT_TIME + timedelta(minutes=2))
    inject_error("logs", "FilterLogEvents", "AccessDeniedException", 400)
    final = handler.lambda_handler(event_for(ACCOUNT), FakeContext())
    assert final["decision"] == "already_compliant"
    assert final["level"] == "warning"
    assert "earlier attempts at this event could not be read" in final["reason"]
