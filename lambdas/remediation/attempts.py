"""Earlier attempts at the same event, so that its final record describes every write made for it.

Lambda retries an asynchronous event whose handler raised (twice by default, after one and then
two more minutes), possibly in another container: nothing kept in memory survives between
attempts. What survives is the function's own log. An attempt interrupted by a transient error
logs a non-final record with its before-state, its planned change and undo, and every API call it
made with its outcome. A later attempt at the same event reads those records back
(FilterLogEvents on the function's log group, by event id) and its final record then holds the
first attempt's before-state, the calls of every attempt, and undo calls for all their writes,
latest first. So a trail made multi-region by the first attempt, before its StartLogging was
throttled, is in the final record that ``undo`` uses, next to the retry's StartLogging.

Why this design: the error an attempt raises never reaches the retry (Lambda re-delivers the
original event, not the error); the half-fixed resource cannot tell its own earlier state (a
multi-region trail does not say it was single-region); a table or parameter would be new
infrastructure and IAM for what the log already holds.

Cost: the lookup runs only when the event may be a retry. Lambda waits at least a minute before
retrying (facts §8.3), so an event younger than RETRY_DELAY_SECONDS cannot be one and costs no
request; an older one costs one FilterLogEvents request per page, at most MAX_PAGES. When the log
cannot be read, the event is still handled and its record says that earlier writes may be missing.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .audit import AuditRecord
from .clients import client
from .errors import THROTTLING_ERROR_CODES, describe_error

# UNVERIFIED: that the runtime's AWS_LAMBDA_LOG_GROUP_NAME names the group the function logs to
# (the program keeps the default /aws/lambda/<function>), and that CloudWatch Logs makes a line
# searchable by FilterLogEvents within the minute before Lambda's first retry (ingestion delay).
LOG_GROUP_VARIABLE = "AWS_LAMBDA_LOG_GROUP_NAME"
"""Set by the Lambda runtime to the function's log group; without it no lookup is made."""
RETRY_DELAY_SECONDS = 55
"""Lambda's first retry comes a minute after the failed attempt; 5 seconds allow for clock skew."""
MAX_PAGES = 5
"""FilterLogEvents pages read at most (each is one request)."""
EVENT_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
"""Event ids looked up; EventBridge ids are UUIDs, anything else is not searched for."""
READ_PREFIXES = ("Get", "Describe", "List")

clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731 - replaced by tests
"""The current time (tests replace it)."""


def parse_time(text: str | None) -> datetime | None:
    """An EventBridge ``time`` (ISO 8601, UTC), or None when absent or malformed."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def may_be_retry(event_time: str | None) -> bool:
    """Whether an attempt at this event may have run before: not when it is younger than a retry delay."""
    sent = parse_time(event_time)
    return sent is None or (clock() - sent).total_seconds() >= RETRY_DELAY_SECONDS


def earlier_records(record: AuditRecord, event_time: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """Non-final records that earlier attempts logged for the same event and resource, oldest first.

    Returns the records and, when the log could not be read, why (the caller records it).
    """
    group = os.environ.get(LOG_GROUP_VARIABLE)
    if not group or record.event_id is None or not EVENT_ID.fullmatch(record.event_id) or not may_be_retry(event_time):
        return [], None
    request: dict[str, Any] = {"logGroupName": group, "filterPattern": f'"{record.event_id}"'}
    sent = parse_time(event_time)
    if sent is not None:
        # The first attempt ran after the event was sent; a minute of slack allows for clock skew.
        request["startTime"] = int(sent.timestamp() * 1000) - 60_000
    found: list[dict[str, Any]] = []
    try:
        for _ in range(MAX_PAGES):
            response = client("logs").filter_log_events(**request)
            found += [line for line in (_json(event.get("message")) for event in response.get("events", [])) if _same_attempt_chain(line, record)]
            if not response.get("nextToken"):
                break
            request["nextToken"] = response["nextToken"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return [], None
        return found, describe_error(error)
    except BotoCoreError as error:
        return found, describe_error(error)
    return sorted(found, key=lambda line: str(line.get("time"))), None


def _json(message: Any) -> dict[str, Any]:
    try:
        data = json.loads(message) if isinstance(message, str) else None
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _same_attempt_chain(line: dict[str, Any], record: AuditRecord) -> bool:
    """A non-final record of the same event, rule and resource, written by this function's account."""
    return (
        line.get("schemaVersion") == 1
        and line.get("final") is False
        and (line.get("eventId"), line.get("rule"), line.get("resourceType"), line.get("resourceId"), line.get("account"), line.get("region"))
        == (record.event_id, record.rule, record.resource_type, record.resource_id, record.account, record.region)
        and line.get("recordId") != record.record_id
    )


def made_writes(line: dict[str, Any]) -> bool:
    """Whether an earlier attempt's calls include a write that took effect, or may have.

    A write refused by throttling never acted; one that timed out or failed with a 5xx may have.
    """
    for call in line.get("apiCalls") or []:
        if not isinstance(call, dict) or str(call.get("operation", "")).startswith(READ_PREFIXES):
            continue
        outcome = call.get("outcome")
        if outcome == "ok" or (outcome not in ("not-sent", None) and outcome not in THROTTLING_ERROR_CODES):
            return True
    return False


def include_earlier(record: AuditRecord, earlier: list[dict[str, Any]], problem: str | None) -> AuditRecord:
    """The final record, extended with what earlier attempts at the same event did.

    The before-state is the first attempt's; the API calls are every attempt's, in order; undo
    lists this attempt's undo first, then each earlier writing attempt's, newest first, without
    repeating a call. When this attempt found the resource already compliant because an earlier
    attempt fixed it, the event is ``remediated`` (this attempt's read is the verification).
    """
    if problem is not None:
        reason = f"{record.reason} (earlier attempts at this event could not be read: {problem}; their writes, if any, are missing here)"
        record = replace(record, reason=reason, level="error" if record.level == "error" else "warning")
    if not earlier:
        return record
    calls = tuple(call for line in earlier for call in line.get("apiCalls") or [] if isinstance(call, dict))
    record = replace(record, api_calls=calls + record.api_calls, earlier_records=tuple(str(line.get("recordId")) for line in earlier))
    writers = [line for line in earlier if made_writes(line)]
    if not writers:
        return record
    undo: list[dict[str, Any]] = []
    for call in [*record.undo, *(call for line in reversed(writers) for call in line.get("undo") or [])]:
        if isinstance(call, dict) and call not in undo:
            undo.append(call)
    first_before = next((line.get("before") for line in earlier if isinstance(line.get("before"), dict)), None)
    ids = ", ".join(str(line.get("recordId")) for line in writers)
    this_read = record.before
    record = replace(record, before=first_before or record.before, undo=tuple(undo), change=record.change or writers[-1].get("change"))
    if record.decision == "already_compliant":
        # This attempt's read is the state after the fix: it is the record's after-state.
        reason = f"an earlier attempt at this event made the fix (record {ids}); this attempt read the resource as compliant"
        return replace(record, decision="remediated", reason=reason, after=record.after or this_read)
    if record.decision == "remediated":
        return replace(record, reason=f"{record.reason}; continues the earlier attempt(s) {ids}, whose writes are included")
    reason = f"{record.reason}; an earlier attempt at this event made writes (record {ids}), listed in apiCalls with their undo"
    return replace(record, reason=reason, level="error" if record.level == "error" else "warning")
