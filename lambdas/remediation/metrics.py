"""CloudWatch metrics at no extra request: Embedded Metric Format members added to the final record's log line.

CloudWatch Logs extracts the metrics from the log event itself, so the function makes no
PutMetricData call and needs no extra permission. Every decision counts once in ``Decisions``,
dimensioned by the function, the decision and (when known) the rule; a verified remediation of a
Config evaluation also records ``TimeToRemediate``, from Config's ``resultRecordedTime`` to the
record. The dashboard and the alarms read exactly these names (``governance.operations``).

EMF rules followed (CloudWatch "Specification: Embedded metric format", and the limits AWS's own
aws-embedded-metrics libraries enforce): ``_aws`` holds ``Timestamp`` (epoch milliseconds) and
``CloudWatchMetrics``, each directive a ``Namespace``, ``Dimensions`` (dimension sets of at most 30
names) and ``Metrics`` (at most 100); every dimension and metric a directive names is a member of
the root object; dimension values are non-empty ASCII strings of at most 1024 characters.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

NAMESPACE = "Governance"
"""CloudWatch namespace of every metric this function emits."""
DECISIONS_METRIC = "Decisions"
"""Count of final decisions: one per record."""
TIME_TO_REMEDIATE_METRIC = "TimeToRemediate"
"""Milliseconds from Config's evaluation to the verified fix."""
FUNCTION_DIMENSION = "function"
"""Root member (and dimension) naming the function, so that two deployments in one account-region stay apart."""
DECISION_DIMENSION = "decision"
RULE_DIMENSION = "ruleKey"
MAX_DIMENSION_VALUE = 1024
MAX_LOG_EVENT_BYTES = 256 * 1024
"""CloudWatch Logs' event size limit as documented for EMF (some pages now say 1 MB; the smaller one is kept)."""
METRICS_LINE_MARGIN = 2048
"""Room left under ``MAX_LOG_EVENT_BYTES`` for what Lambda adds to a line (timestamp, request id)."""


def dimension_value(value: Any) -> str | None:
    """``value`` when CloudWatch accepts it as a dimension value, else None."""
    if isinstance(value, str) and 0 < len(value) <= MAX_DIMENSION_VALUE and value.isascii() and value.strip():
        return value
    return None


def time_to_remediate_ms(record: dict[str, Any]) -> int | None:
    """Milliseconds from ``evaluationTime`` to ``time`` for a verified remediation, else None.

    A timestamp that does not parse, or an evaluation later than the fix (a clock or a forged
    event), gives no figure rather than a wrong one.
    """
    if record.get("decision") != "remediated":
        return None
    evaluated, fixed = aware_instant(record.get("evaluationTime")), aware_instant(record.get("time"))
    if evaluated is None or fixed is None or fixed < evaluated:
        return None
    return round((fixed - evaluated).total_seconds() * 1000)


def aware_instant(value: Any) -> datetime | None:
    """``value`` as an aware datetime, or None when it is not an ISO 8601 string with a zone or offset."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def with_metrics(record: dict[str, Any], function_name: str) -> dict[str, Any]:
    """``record`` (a final record's JSON) plus the EMF members that count it; unchanged if it cannot be counted.

    A record is counted when its decision and the function name are valid dimension values. The
    rule dimension set is added only when the record names a rule.
    """
    function = dimension_value(function_name)
    decision = dimension_value(record.get("decision"))
    fixed_at = aware_instant(record.get("time"))
    if function is None or decision is None or fixed_at is None:
        return record
    dimension_sets = [[FUNCTION_DIMENSION, DECISION_DIMENSION]]
    if dimension_value(record.get("ruleKey")) is not None:
        dimension_sets.append([FUNCTION_DIMENSION, RULE_DIMENSION, DECISION_DIMENSION])
    members: dict[str, Any] = {FUNCTION_DIMENSION: function, DECISIONS_METRIC: 1}
    metrics: list[dict[str, str]] = [{"Name": DECISIONS_METRIC, "Unit": "Count"}]
    elapsed = time_to_remediate_ms(record)
    if elapsed is not None:
        members[TIME_TO_REMEDIATE_METRIC] = elapsed
        metrics.append({"Name": TIME_TO_REMEDIATE_METRIC, "Unit": "Milliseconds"})
    directive = {"Namespace": NAMESPACE, "Dimensions": dimension_sets, "Metrics": metrics}
    members["_aws"] = {"Timestamp": round(fixed_at.timestamp() * 1000), "CloudWatchMetrics": [directive]}
    return {**record, **members}


def log_lines(record: dict[str, Any], function_name: str) -> list[dict[str, Any]]:
    """The log lines of a final record: the record with its metrics, or two lines when that is too big.

    CloudWatch Logs cuts an event above its size limit, which would break the JSON and lose the
    metrics with it. A record that large (huge quoted states) is written as is, preceded by a small
    line with the same ``recordId`` that carries only the metrics and the dimensions.
    """
    counted = with_metrics(record, function_name)
    if counted is record or _size(counted) <= MAX_LOG_EVENT_BYTES - METRICS_LINE_MARGIN:
        return [counted]
    # No ``final`` member: readers that count final records (Logs Insights, reports) skip this line.
    keys = ("recordId", "time", "decision", "ruleKey", "evaluationTime")
    small = with_metrics({key: record[key] for key in keys if key in record}, function_name)
    return [{**small, "metricsOnly": True}, record]


def _size(data: dict[str, Any]) -> int:
    return len(json.dumps(data, default=str, separators=(",", ":")).encode("utf-8"))
