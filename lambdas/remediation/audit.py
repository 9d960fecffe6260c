"""The audit trail: one record per decision, as a JSON log line and as an event on the default bus.

Every event ends in exactly one final record. An attempt that raises on a transient error writes a
record with ``final: false`` (with its before-state, planned change, undo and calls); the retry
writes the final one, which includes the earlier attempts' calls and undo (see attempts.py).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from .clients import client
from .errors import describe_error

Decision = Literal["remediated", "already_compliant", "exempt", "dry_run", "ignored", "failed"]
Level = Literal["info", "warning", "error"]

RESULT_DETAIL_TYPE = "Governance Remediation Result"
"""DetailType of the result events published on the default bus."""
SCHEMA_VERSION = 1
MAX_ENTRY_BYTES = 256 * 1024
"""PutEvents' limit per entry: "The total entry size must be less than 256KB" (EventBridge user
guide, "Calculating PutEvents event entry size"); see ``entry_size``."""
QUOTED_FIELDS = ("apiCalls", "before", "after", "change", "undo", "narrowing", "securityHub", "reason")
"""Fields that quote input (resource state, request params, AWS messages); cut first when too big."""
KEPT_FIELDS = frozenset({"schemaVersion", "recordId", "decision", "final", "level", "engine", "rule", "ruleKey", "resourceType", "resourceId"})
"""Fields that are never cut to make a result event fit, unless forged input made them absurdly long."""
STRING_LIMITS = (4096, 1024, 256, 64)
"""Successive lengths quoted strings are cut to until the entry fits."""


@dataclass(frozen=True)
class AuditRecord:
    """One decision about one event: what was seen, what was done, and how to undo it."""

    decision: Decision
    reason: str
    level: Level = "info"
    final: bool = True
    engine: Literal["lambda", "ssm", "cli"] = "lambda"
    """Who decided: the Lambda, an SSM Automation outcome, or the operator CLI."""
    account: str | None = None
    """The account the decision is about: the resource's (a member account's, for an organization hub)."""
    region: str | None = None
    hub_account: str | None = None
    """The account of the function that made the record; differs from ``account`` only for a member account's event."""
    rule: str | None = None
    rule_key: str | None = None
    mode: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    event_id: str | None = None
    request_id: str | None = None
    api_calls: tuple[dict[str, Any], ...] = ()
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    change: dict[str, Any] | None = None
    undo: tuple[dict[str, Any], ...] = ()
    narrowing: tuple[str, ...] = ()
    security_hub: dict[str, Any] | None = None
    earlier_records: tuple[str, ...] = ()
    """Record ids of earlier, interrupted attempts at the same event whose calls this record includes."""
    evaluation_time: str | None = None
    """When Config recorded the evaluation this record answers (``resultRecordedTime``), as the event said."""
    record_id: str = field(default_factory=lambda: _uuid4())
    time: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"))

    def to_json(self) -> dict[str, Any]:
        """The record as the JSON object that is logged and published."""
        return {
            "schemaVersion": SCHEMA_VERSION,
            "recordId": self.record_id,
            "time": self.time,
            "final": self.final,
            "level": self.level,
            "decision": self.decision,
            "reason": self.reason,
            "engine": self.engine,
            "account": self.account,
            "region": self.region,
            "hubAccount": self.hub_account,
            "rule": self.rule,
            "ruleKey": self.rule_key,
            "mode": self.mode,
            "resourceType": self.resource_type,
            "resourceId": self.resource_id,
            "eventId": self.event_id,
            "requestId": self.request_id,
            "apiCalls": list(self.api_calls),
            "before": self.before,
            "after": self.after,
            "change": self.change,
            "undo": list(self.undo),
            "narrowing": list(self.narrowing),
            "securityHub": self.security_hub,
            "earlierRecords": list(self.earlier_records),
            "evaluationTime": self.evaluation_time,
        }


def _uuid4() -> str:
    # Same format as uuid.uuid4(), without importing uuid on the cold-start path.
    value = bytearray(os.urandom(16))
    value[6] = (value[6] & 0x0F) | 0x40
    value[8] = (value[8] & 0x3F) | 0x80
    text = value.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def write_log_line(data: dict[str, Any]) -> None:
    """Write one JSON object as one line on stdout (one CloudWatch Logs event)."""
    sys.stdout.write(json.dumps(data, default=str, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def should_publish(record: AuditRecord) -> bool:
    """Final records are published, except info-level ignores (well-formed events that need nothing)."""
    return record.final and not (record.decision == "ignored" and record.level == "info")


def entry_size(entry: dict[str, Any]) -> int:
    """A PutEvents entry's size as EventBridge computes it.

    14 bytes for Time if set, plus the UTF-8 bytes of Source, DetailType, Detail and each of
    Resources; EventBusName does not count.
    """
    size = 14 if entry.get("Time") is not None else 0
    for name in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(name) or "").encode("utf-8"))
    return size + sum(len(str(resource).encode("utf-8")) for resource in entry.get("Resources") or [])


def result_entry(record: AuditRecord, source: str, resources: tuple[str, ...] = ()) -> dict[str, Any]:
    """The PutEvents entry for ``record``, cut to fit the entry size limit.

    ``resources`` (the publishing function's ARN) lets a rule take only its own deployment's results
    when several deployments share an account and region.

    The full record is always in the log line. If the event would be too big, strings quoting
    input (states, request params, messages) are cut shorter and shorter, then those fields are
    left out, and ``truncated`` says what was cut and how big the record was. The decision, rule,
    resource and record id are kept; only a forged event can make them so long that they must be
    cut too (Config rule names have at most 128 characters), and then they are, so that the alarm
    still goes out.
    """
    detail = record.to_json()
    entry: dict[str, Any] = {"Source": source, "DetailType": RESULT_DETAIL_TYPE, "Detail": _compact(detail), "EventBusName": "default"}
    if resources:
        entry["Resources"] = list(resources)
    full_size = entry_size(entry)
    if full_size < MAX_ENTRY_BYTES:
        return entry
    note: dict[str, Any] = {"originalBytes": full_size, "cutStrings": None, "omitted": []}
    steps: list[Any] = [("cut", limit, QUOTED_FIELDS) for limit in STRING_LIMITS]
    steps += [("omit", name) for name in QUOTED_FIELDS if name != "reason"]
    steps += [("cut", limit, tuple(name for name in detail if name not in KEPT_FIELDS)) for limit in STRING_LIMITS]
    steps += [("cut", limit, tuple(detail)) for limit in (1024, 128)]
    for step in steps:
        if step[0] == "cut":
            _, limit, names = step
            for name in names:
                if name in detail and name != "truncated":
                    detail[name] = _cut_strings(detail[name], limit)
            note["cutStrings"] = limit
        else:
            detail[step[1]] = None
            note["omitted"].append(step[1])
        detail["truncated"] = note
        entry["Detail"] = _compact(detail)
        if entry_size(entry) < MAX_ENTRY_BYTES:
            break
    return entry


def _compact(data: Any) -> str:
    return json.dumps(data, default=str, separators=(",", ":"))


def _cut_strings(value: Any, limit: int) -> Any:
    """``value`` with every string longer than ``limit`` characters cut, noting its full length."""
    if isinstance(value, str):
        return value if len(value) <= limit else f"{value[:limit]}...[cut, {len(value)} characters]"
    if isinstance(value, dict):
        return {key: _cut_strings(item, limit) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_cut_strings(item, limit) for item in value]
    return value


def publish_result(record: AuditRecord, source: str, resources: tuple[str, ...] = ()) -> None:
    """PutEvents on the default bus; a failure is logged and never raised, the fix is already done."""
    entry = result_entry(record, source, resources)
    try:
        response = client("events").put_events(Entries=[entry])
    except (ClientError, BotoCoreError) as error:
        write_log_line({"level": "error", "message": "could not publish the result event", "recordId": record.record_id, "error": describe_error(error)})
        return
    if response.get("FailedEntryCount"):
        failure = response.get("Entries", [{}])[0]
        write_log_line(
            {
                "level": "error",
                "message": "could not publish the result event",
                "recordId": record.record_id,
                "error": f"{failure.get('ErrorCode')}: {failure.get('ErrorMessage')}",
            }
        )
