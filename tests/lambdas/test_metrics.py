"""Metrics in the final record's log line: valid Embedded Metric Format, the right counts, no extra request."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import FakeContext, compliance_event, rule_entry, rule_name
from deployment_params import DEFAULT_PARAMS
from emf_spec import emf_problems
from lambda_scenarios import SCENARIOS
from remediation import metrics
from remediation.handler import lambda_handler

NOW = datetime.now(UTC).replace(microsecond=0)
PORTS = next(scenario for scenario in SCENARIOS if scenario.key == "restricted-admin-ports")
METRIC_MEMBERS = ("_aws", "function", "Decisions", "TimeToRemediate")


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _record(**fields: Any) -> dict[str, Any]:
    return {"recordId": "r-1", "time": _iso(NOW), "final": True, "decision": "remediated", "ruleKey": "restricted-admin-ports", **fields}


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_the_checker_finds_what_the_specification_forbids() -> None:
    """The checker the other tests rely on must refuse broken documents, one problem each."""
    good = metrics.with_metrics(_record(), "governance-remediation")
    assert emf_problems(good) == []
    assert emf_problems({**good, "_aws": {"CloudWatchMetrics": good["_aws"]["CloudWatchMetrics"]}}) == [
        "_aws.Timestamp is not an integer number of milliseconds"
    ]
    stale = {**good, "_aws": {**good["_aws"], "Timestamp": good["_aws"]["Timestamp"] - 15 * 24 * 3600 * 1000}}
    assert emf_problems(stale) == ["_aws.Timestamp is more than 14 days old or 2 hours ahead"]
    assert emf_problems({**good, "function": ""})[0].endswith("'function' is not a root member holding 1-1024 ASCII characters")
    assert emf_problems({**good, "Decisions": "1"}) == [
        "CloudWatchMetrics[0]: metric Decisions is not a root member holding a number or up to 100 numbers"
    ]
    directive = good["_aws"]["CloudWatchMetrics"][0]
    bad_namespace = {**good, "_aws": {**good["_aws"], "CloudWatchMetrics": [{**directive, "Namespace": "Gov ernance"}]}}
    assert len(emf_problems(bad_namespace)) == 1


def test_a_remediation_counts_once_per_dimension_set_and_times_the_fix() -> None:
    record = _record(evaluationTime=_iso(NOW - timedelta(seconds=42, milliseconds=250)))
    line = metrics.with_metrics(record, "governance-remediation")
    assert emf_problems(line) == []
    assert {key: value for key, value in line.items() if key not in METRIC_MEMBERS} == record, "the record itself is unchanged"
    assert (line["Decisions"], line["TimeToRemediate"], line["function"]) == (1, 42250, "governance-remediation")
    assert line["_aws"] == {
        "Timestamp": round(NOW.timestamp() * 1000),
        "CloudWatchMetrics": [{
            "Namespace": "Governance",
            "Dimensions": [["function", "decision"], ["function", "ruleKey", "decision"]],
            "Metrics": [{"Name": "Decisions", "Unit": "Count"}, {"Name": "TimeToRemediate", "Unit": "Milliseconds"}],
        }],
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"decision": "failed", "evaluationTime": _iso(NOW)},
        {"decision": "already_compliant", "evaluationTime": _iso(NOW)},
        {"evaluationTime": None},
        {"evaluationTime": "yesterday"},
        {"evaluationTime": "2026-01-01T00:00:00"},  # no zone: ambiguous, so no figure
        {"evaluationTime": _iso(NOW + timedelta(seconds=5))},  # evaluated after the fix: a clock or a forgery
    ],
    ids=["failed", "already-compliant", "no-evaluation-time", "unparseable", "naive", "evaluated-later"],
)
def test_time_to_remediate_only_for_a_remediation_with_a_sound_evaluation_time(fields: dict[str, Any]) -> None:
    line = metrics.with_metrics(_record(**fields), "governance-remediation")
    assert emf_problems(line) == []
    assert "TimeToRemediate" not in line
    assert [metric["Name"] for metric in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]] == ["Decisions"]


def test_a_record_without_a_rule_is_counted_by_decision_only() -> None:
    line = metrics.with_metrics(_record(ruleKey=None, decision="ignored"), "governance-remediation")
    assert emf_problems(line) == []
    assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["function", "decision"]]


@pytest.mark.parametrize(
    ("fields", "function"),
    [({}, ""), ({}, "fünf"), ({"decision": None}, "governance-remediation"), ({"time": "now"}, "governance-remediation")],
    ids=["no-function", "non-ascii-function", "no-decision", "bad-time"],
)
def test_a_record_that_cannot_be_counted_is_logged_unchanged(fields: dict[str, Any], function: str) -> None:
    record = _record(**fields)
    assert metrics.with_metrics(record, function) is record


def test_a_record_too_big_for_one_log_event_gets_its_metrics_on_a_small_line_first() -> None:
    record = _record(before={"policy": "x" * metrics.MAX_LOG_EVENT_BYTES}, evaluationTime=_iso(NOW - timedelta(seconds=3)))
    small, full = metrics.log_lines(record, "governance-remediation")
    assert full is record
    assert emf_problems(small) == []
    assert (small["recordId"], small["metricsOnly"], small["Decisions"], small["TimeToRemediate"]) == ("r-1", True, 1, 3000)
    assert "final" not in small, "readers counting final records must not count this line twice"
    assert len(json.dumps(small)) < 2048
    assert metrics.log_lines(_record(), "governance-remediation") == [metrics.with_metrics(_record(), "governance-remediation")]


def test_the_handler_logs_one_line_whose_metrics_count_the_decision(requests, capsys) -> None:
    group = PORTS.make_non_compliant()
    capsys.readouterr()
    requests.clear()
    record = lambda_handler(compliance_event(rule_name(PORTS.key), PORTS.resource_type, group), FakeContext())
    (line,) = _lines(capsys)
    assert emf_problems(line) == []
    assert {key: value for key, value in line.items() if key not in METRIC_MEMBERS} == record
    assert (line["decision"], line["Decisions"], line["function"]) == ("remediated", 1, "governance-remediation")
    assert line["evaluationTime"] == "2021-04-19T19:04:04.741Z"
    assert line["TimeToRemediate"] == metrics.time_to_remediate_ms(record)
    assert not any(service == "monitoring" for service, _ in requests.sent), "no PutMetricData: CloudWatch Logs extracts the metrics"


def test_a_dry_run_counts_as_dry_run(deploy, capsys) -> None:
    deploy(rules={PORTS.key: rule_entry(DEFAULT_PARAMS[PORTS.key], mode="manual")})
    group = PORTS.make_non_compliant()
    capsys.readouterr()
    lambda_handler(compliance_event(rule_name(PORTS.key), PORTS.resource_type, group), FakeContext())
    (line,) = _lines(capsys)
    assert emf_problems(line) == []
    assert (line["decision"], line["Decisions"]) == ("dry_run", 1) and "TimeToRemediate" not in line


def test_an_event_that_needs_nothing_is_not_counted(capsys) -> None:
    event = compliance_event(rule_name(PORTS.key), PORTS.resource_type, "sg-0123456789abcdef0")
    event["detail"]["newEvaluationResult"]["complianceType"] = "COMPLIANT"
    record = lambda_handler(event, FakeContext())
    (line,) = _lines(capsys)
    assert (record["decision"], record["level"]) == ("ignored", "info")
    assert "_aws" not in line, "info-level ignores are the bulk of events and not decisions"
