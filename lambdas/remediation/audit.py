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
MAX_DETAIL_CHARACTERS = 200_000
"""PutEvents allows 256 KB per entry; larger records are published without their bulky fields."""


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
    region: str | None = None
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


def publish_result(record: AuditRecord, source: str) -> None:
    """PutEvents on the default bus; a failure is logged and never raised, the fix is already done."""
    detail = record.to_json()
    text = json.dumps(detail, default=str, separators=(",", ":"))
    if len(text) > MAX_DETAIL_CHARACTERS:
        detail.update(apiCalls=[], before=None, after=None, truncated=True)
        text = json.dumps(detail, default=str, separators=(",", ":"))
    entry = {"Source": source, "DetailType": RESULT_DETAIL_TYPE, "Detail": text, "EventBusName": "default"}
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
