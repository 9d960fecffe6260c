"""A checker for CloudWatch Embedded Metric Format documents, written from the specification.

Sources: CloudWatch "Specification: Embedded metric format" (root node, metadata object,
MetricDirective, DimensionSet, MetricDefinition) and the limits AWS's aws-embedded-metrics
libraries enforce (30 dimensions per set, 100 metrics per directive, dimension values of 1-1024
ASCII characters, namespace of at most 256 characters of ``[a-zA-Z0-9._#:/-]``, timestamps at
most 14 days old or 2 hours ahead). It returns every problem, so a test shows them all.
"""

from __future__ import annotations

import re
import time
from typing import Any

NAMESPACE = re.compile(r"[a-zA-Z0-9._#:/-]{1,256}")
UNITS = frozenset({
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
    "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
    "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
    "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
})
MAX_DIMENSIONS = 30
MAX_METRICS = 100
MAX_PAST_MS = 14 * 24 * 3600 * 1000
MAX_FUTURE_MS = 2 * 3600 * 1000


def emf_problems(document: Any, now_ms: int | None = None) -> list[str]:
    """Every way ``document`` breaks the EMF specification; empty when CloudWatch would extract it."""
    now_ms = round(time.time() * 1000) if now_ms is None else now_ms
    if not isinstance(document, dict):
        return ["the root is not a JSON object"]
    meta = document.get("_aws")
    if not isinstance(meta, dict):
        return ["_aws is missing or not an object"]
    problems: list[str] = []
    stamp = meta.get("Timestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, int):
        problems.append("_aws.Timestamp is not an integer number of milliseconds")
    elif not now_ms - MAX_PAST_MS <= stamp <= now_ms + MAX_FUTURE_MS:
        problems.append("_aws.Timestamp is more than 14 days old or 2 hours ahead")
    directives = meta.get("CloudWatchMetrics")
    if not isinstance(directives, list) or not directives:
        return [*problems, "_aws.CloudWatchMetrics is not a non-empty array"]
    for index, directive in enumerate(directives):
        problems.extend(f"CloudWatchMetrics[{index}]: {problem}" for problem in _directive_problems(document, directive))
    return problems


def _directive_problems(document: dict[str, Any], directive: Any) -> list[str]:
    if not isinstance(directive, dict):
        return ["not an object"]
    problems: list[str] = []
    extra = set(directive) - {"Namespace", "Dimensions", "Metrics"}
    if extra:
        problems.append(f"unknown members {sorted(extra)}")
    namespace = directive.get("Namespace")
    if not isinstance(namespace, str) or not NAMESPACE.fullmatch(namespace):
        problems.append(f"Namespace {namespace!r} is not 1-256 characters of [a-zA-Z0-9._#:/-]")
    dimension_sets = directive.get("Dimensions")
    if not isinstance(dimension_sets, list):
        problems.append("Dimensions is not an array")
        dimension_sets = []
    for dimension_set in dimension_sets:
        if not isinstance(dimension_set, list) or not 1 <= len(dimension_set) <= MAX_DIMENSIONS:
            problems.append(f"dimension set {dimension_set!r} does not hold 1 to {MAX_DIMENSIONS} names")
            continue
        for name in dimension_set:
            value = document.get(name) if isinstance(name, str) else None
            if not (isinstance(value, str) and 1 <= len(value) <= 1024 and value.isascii() and value.strip()):
                problems.append(f"dimension {name!r} is not a root member holding 1-1024 ASCII characters")
    metrics = directive.get("Metrics")
    if not isinstance(metrics, list) or not 1 <= len(metrics) <= MAX_METRICS:
        return [*problems, f"Metrics does not hold 1 to {MAX_METRICS} definitions"]
    for metric in metrics:
        name = metric.get("Name") if isinstance(metric, dict) else None
        if not isinstance(name, str) or not 1 <= len(name) <= 255:
            problems.append(f"metric definition {metric!r} has no 1-255 character Name")
            continue
        if metric.get("Unit", "None") not in UNITS:
            problems.append(f"metric {name} has unit {metric.get('Unit')!r}, not a CloudWatch unit")
        value = document.get(name)
        values = value if isinstance(value, list) else [value]
        if not values or len(values) > 100 or not all(isinstance(item, int | float) and not isinstance(item, bool) for item in values):
            problems.append(f"metric {name} is not a root member holding a number or up to 100 numbers")
    return problems
