"""``report --stack``: the Lambdas' final records through CloudWatch Logs Insights.

moto 5.2.5 cannot model these queries: its StartQuery runs every query at once and returns only
``@ptr``/``@timestamp``/``@message``-style fields, ignoring ``filter`` and ``stats`` (it never
parses the JSON of a log event), and GetQueryResults is always ``Complete``. So the query text and
the parsing of results are tested as pure functions, and the AWS conversation (polling through
``Scheduled``/``Running``, ``Failed``/``Timeout`` endings, the bounded wait and its StopQuery, refused
calls) with botocore's Stubber. moto is used where it is faithful: StartQuery on a log group that
does not exist raises ResourceNotFoundException.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.stub import ANY, Stubber

from governance.cli import insights
from governance.cli.insights import (
    AGGREGATE_QUERY,
    FAILED_QUERY,
    LogUnit,
    Poller,
    QueryProblem,
    counts_from_rows,
    failed_from_rows,
    log_units,
    query_unit,
    query_window,
    report_from_logs,
    result_rows,
)
from governance.cli.main import main
from governance.cli.report import Count, FailedRecord, UnreadUnit
from governance.cli.time_range import TimeRange
from governance.settings import Account
from governance.stack_file import load_stack_file

HOME, OTHER = "123456789012", "222222222222"
GROUP = "/aws/lambda/governance-remediation"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def cells(**fields: str) -> list[dict[str, str]]:
    return [{"field": name, "value": value} for name, value in fields.items()]


AGGREGATE_RESULTS = [
    cells(ruleName="s3-bucket-encryption", decision="remediated", records="41"),
    cells(ruleName="s3-bucket-encryption", decision="failed", records="2"),
    cells(decision="failed", records="1"),
]
FAILED_RESULTS = [
    cells(**{"recordId": "9f01", "time": "2026-11-27T11:00:00.000Z", "ruleName": "s3-bucket-encryption", "resourceId": "logs-bucket",
             "reason": "AWS refused a call (AccessDenied: no kms:Encrypt)", "@ptr": "CmAKJgoi"}),
    cells(**{"recordId": "9f00", "time": "2026-11-26T08:00:00.000Z", "ruleName": "s3-bucket-encryption", "resourceId": "web-bucket",
             "reason": "the resource still reads as non-compliant", "@ptr": "CmAKJgoj"}),
    cells(**{"recordId": "9e00", "time": "2026-11-25T08:00:00.000Z", "reason": "internal error (KeyError: 'detail')", "@ptr": "CmAKJgok"}),
]


def test_the_queries_count_final_records_and_list_the_latest_failures() -> None:
    assert AGGREGATE_QUERY == (
        "filter final = 1 and ispresent(decision)\n"
        "| fields coalesce(ruleKey, rule) as ruleName\n"
        "| stats count(*) as records by ruleName, decision"
    )
    assert FAILED_QUERY == (
        'filter final = 1 and decision = "failed"\n'
        "| fields recordId, time, coalesce(ruleKey, rule) as ruleName, resourceId, reason\n"
        "| sort @timestamp desc\n"
        "| limit 100"
    )


def test_result_rows_drop_the_fields_logs_insights_adds() -> None:
    assert result_rows(FAILED_RESULTS[:1]) == [{
        "recordId": "9f01", "time": "2026-11-27T11:00:00.000Z", "ruleName": "s3-bucket-encryption", "resourceId": "logs-bucket",
        "reason": "AWS refused a call (AccessDenied: no kms:Encrypt)",
    }]


def test_counts_and_failures_are_read_from_the_rows() -> None:
    rows = [*result_rows(AGGREGATE_RESULTS), {"ruleName": "x", "records": "3"}, {"decision": "failed", "records": "many"}]
    assert counts_from_rows(HOME, "us-east-1", rows) == [
        Count(HOME, "us-east-1", "s3-bucket-encryption", "remediated", 41),
        Count(HOME, "us-east-1", "s3-bucket-encryption", "failed", 2),
        Count(HOME, "us-east-1", None, "failed", 1),
    ], "a row without a decision or a whole number is skipped"
    assert failed_from_rows(HOME, "us-east-1", result_rows(FAILED_RESULTS[2:])) == [
        FailedRecord("9e00", "2026-11-25T08:00:00.000Z", HOME, "us-east-1", None, None, "internal error (KeyError: 'detail')"),
    ]


def test_the_window_is_seven_days_unless_since_or_until_say_otherwise() -> None:
    end = int(NOW.timestamp())
    assert query_window(TimeRange(), NOW) == (end - 7 * 86400, end)
    assert query_window(TimeRange(NOW - timedelta(hours=24), NOW - timedelta(hours=1)), NOW) == (end - 86400, end - 3600)


class FakeClock:
    """A monotonic clock that only moves when the poller sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def logs() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("logs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def expect_starts(stubber: Stubber, start: int = 100, end: int = 200) -> None:
    for query, query_id in ((AGGREGATE_QUERY, "q-agg"), (FAILED_QUERY, "q-failed")):
        stubber.add_response("start_query", {"queryId": query_id}, {"logGroupName": GROUP, "startTime": start, "endTime": end, "queryString": query})


def expect_status(stubber: Stubber, query_id: str, status: str, results: list[list[dict[str, str]]] | None = None) -> None:
    stubber.add_response("get_query_results", {"status": status, "results": results or []}, {"queryId": query_id})


def account(region: str) -> Account:
    return Account(HOME, "home", None, None, "aws", (region,), ())


UNIT = LogUnit(account("us-east-1"), "us-east-1", GROUP)


def test_queries_are_polled_until_complete_with_growing_pauses(logs: tuple[Any, Stubber]) -> None:
    client, stubber = logs
    expect_starts(stubber)
    expect_status(stubber, "q-agg", "Scheduled")
    expect_status(stubber, "q-failed", "Scheduled")
    expect_status(stubber, "q-agg", "Running")
    expect_status(stubber, "q-failed", "Complete", FAILED_RESULTS[:1])
    expect_status(stubber, "q-agg", "Running")
    expect_status(stubber, "q-agg", "Complete", AGGREGATE_RESULTS[:1])
    clock = FakeClock()
    result = query_unit(UNIT, client, 100, 200, Poller(wait_seconds=60, sleep=clock.sleep, clock=clock))
    assert result.counts == [Count(HOME, "us-east-1", "s3-bucket-encryption", "remediated", 41)]
    assert [failure.record_id for failure in result.failed] == ["9f01"] and result.unread == []
    assert clock.sleeps == [1.0, 2.0, 5.0], "four rounds of polling, three pauses"


@pytest.mark.parametrize("status", ["Failed", "Cancelled", "Timeout"])
def test_a_query_that_ends_badly_reports_its_account_region(status: str, logs: tuple[Any, Stubber]) -> None:
    client, stubber = logs
    expect_starts(stubber)
    expect_status(stubber, "q-agg", status)
    stubber.add_response("stop_query", {"success": True}, {"queryId": "q-failed"})
    result = query_unit(UNIT, client, 100, 200, Poller(wait_seconds=60, sleep=FakeClock().sleep))
    assert result.counts == [] and result.failed == []
    assert result.unread == [UnreadUnit(HOME, "us-east-1", f"a Logs Insights query ended {status} on {GROUP}")]


def test_queries_that_outlast_the_wait_are_stopped_and_reported(logs: tuple[Any, Stubber]) -> None:
    client, stubber = logs
    expect_starts(stubber)
    for _ in range(3):
        expect_status(stubber, "q-agg", "Running")
        expect_status(stubber, "q-failed", "Running")
    stubber.add_response("stop_query", {"success": True}, {"queryId": "q-agg"})
    stubber.add_client_error("stop_query", "InvalidParameterException", "query already ended", expected_params={"queryId": "q-failed"})
    clock = FakeClock()
    result = query_unit(UNIT, client, 100, 200, Poller(wait_seconds=3, sleep=clock.sleep, clock=clock))
    assert result.unread == [UnreadUnit(HOME, "us-east-1", f"the Logs Insights queries did not finish within 3 s and were stopped on {GROUP}")]
    assert clock.sleeps == [1.0, 2.0], "polled at 0, 1 and 3 s; stopped at the deadline, a failed StopQuery ignored"


def test_a_refused_start_reports_the_account_region_and_stops_what_started(logs: tuple[Any, Stubber]) -> None:
    client, stubber = logs
    stubber.add_response("start_query", {"queryId": "q-agg"}, {"logGroupName": GROUP, "startTime": 100, "endTime": 200, "queryString": AGGREGATE_QUERY})
    stubber.add_client_error("start_query", "LimitExceededException", "Account maximum query concurrency limit of [30] reached.")
    stubber.add_response("stop_query", {"success": True}, {"queryId": "q-agg"})
    result = query_unit(UNIT, client, 100, 200, Poller(sleep=FakeClock().sleep))
    assert result.unread == [UnreadUnit(
        HOME, "us-east-1", f"the Logs Insights query on {GROUP} was refused (LimitExceededException: Account maximum query concurrency limit of [30] reached.)"
    )]


def test_an_unexpected_status_is_a_problem_not_a_loop(logs: tuple[Any, Stubber]) -> None:
    client, stubber = logs
    expect_status(stubber, "q-1", "Paused")
    with pytest.raises(QueryProblem, match="unexpected status 'Paused'"):
        Poller(sleep=FakeClock().sleep).results(client, ["q-1"])


def test_a_missing_log_group_is_reported_on_moto(aws: None) -> None:
    client = boto3.client("logs", region_name="eu-west-1")
    result = query_unit(LogUnit(account("eu-west-1"), "eu-west-1", GROUP), client, 100, 200, Poller())
    assert result.unread == [UnreadUnit(HOME, "eu-west-1", f"log group {GROUP} does not exist (the stack's Lambda is not deployed here)")]


def write_stack(tmp_path: Path) -> Path:
    path = tmp_path / "Pulumi.logs.yaml"
    path.write_text(yaml.safe_dump({"config": {
        "governance:regions": ["us-east-1", "eu-west-1"],
        "governance:accounts": [
            {"id": HOME},
            {"id": OTHER, "roleArn": f"arn:aws:iam::{OTHER}:role/governance-deploy", "regions": ["us-east-1"]},
        ],
        "governance:rules": {"restricted-admin-ports": {"mode": "auto", "engine": "lambda"}, "vpc-flow-logs": {"mode": "detect"}},
    }}))
    return path


def test_every_account_region_that_runs_the_lambda_is_queried(tmp_path: Path) -> None:
    units = log_units(load_stack_file(write_stack(tmp_path)))
    assert [(unit.account.id, unit.region, unit.log_group) for unit in units] == [
        (HOME, "us-east-1", GROUP), (HOME, "eu-west-1", GROUP), (OTHER, "us-east-1", GROUP),
    ]
    detect_only = tmp_path / "Pulumi.detect.yaml"
    detect_only.write_text(yaml.safe_dump({"config": {
        "governance:regions": ["us-east-1"], "governance:accounts": [{"id": HOME}], "governance:rules": {"vpc-flow-logs": {"mode": "detect"}},
    }}))
    assert log_units(load_stack_file(detect_only)) == [], "no Lambda, no log group to query"


def test_report_from_logs_merges_account_regions_and_isolates_failures(tmp_path: Path) -> None:
    """Three account-regions: one answers, one's role cannot be assumed, one's query times out."""
    units = log_units(load_stack_file(write_stack(tmp_path)))
    start, end = query_window(TimeRange(), NOW)
    answering = boto3.client("logs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    timing_out = boto3.client("logs", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(answering) as good, Stubber(timing_out) as bad:
        expect_starts(good, start, end)
        expect_status(good, "q-agg", "Complete", AGGREGATE_RESULTS)
        expect_status(good, "q-failed", "Complete", FAILED_RESULTS)
        expect_starts(bad, start, end)
        expect_status(bad, "q-agg", "Timeout")
        bad.add_response("stop_query", {"success": True}, {"queryId": "q-failed"})

        def client_for(target: Account, region: str) -> Any:
            if target.id == OTHER:
                from botocore.exceptions import ClientError

                raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized to perform sts:AssumeRole"}}, "AssumeRole")
            return answering if region == "us-east-1" else timing_out

        merged = report_from_logs(units, client_for, TimeRange(), NOW, Poller(sleep=FakeClock().sleep))
        good.assert_no_pending_responses()
        bad.assert_no_pending_responses()
    assert merged.totals == {"failed": 3, "remediated": 41}
    assert [failure.record_id for failure in merged.failed] == ["9e00", "9f00", "9f01"], "oldest first, like the audit-file report"
    assert merged.unread == [
        UnreadUnit(HOME, "eu-west-1", f"a Logs Insights query ended Timeout on {GROUP}"),
        UnreadUnit(OTHER, "us-east-1", "account 222222222222 could not be entered (AccessDenied: not authorized to perform sts:AssumeRole)"),
    ]
    assert merged.failed_shown_limit == 100


def test_report_stack_prints_the_report_and_exits_1_when_an_account_region_was_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = write_stack(tmp_path)
    clients: dict[tuple[str, str], Any] = {}
    stubbers = []
    for account_id, region in ((HOME, "us-east-1"), (HOME, "eu-west-1"), (OTHER, "us-east-1")):
        client = boto3.client("logs", region_name=region, aws_access_key_id="x", aws_secret_access_key="x")
        stubber = Stubber(client)
        if region == "eu-west-1":
            stubber.add_client_error("start_query", "ResourceNotFoundException", "The specified log group does not exist.", expected_params={
                "logGroupName": GROUP, "startTime": ANY, "endTime": ANY, "queryString": AGGREGATE_QUERY,
            })
        else:
            for query, query_id in ((AGGREGATE_QUERY, f"{account_id}-agg"), (FAILED_QUERY, f"{account_id}-failed")):
                stubber.add_response("start_query", {"queryId": query_id}, {"logGroupName": GROUP, "startTime": ANY, "endTime": ANY, "queryString": query})
            aggregate = [cells(ruleName="restricted-admin-ports", decision="remediated", records="3" if account_id == HOME else "5")]
            expect_status(stubber, f"{account_id}-agg", "Complete", aggregate)
            expect_status(stubber, f"{account_id}-failed", "Complete", [])
        stubber.activate()
        clients[(account_id, region)] = client
        stubbers.append(stubber)
    monkeypatch.setattr(insights, "logs_clients", lambda _sessions: lambda target, region: clients[(target.id, region)])
    assert main(["report", "--stack-file", str(stack), "--since", "24h", "--format", "markdown"]) == 1
    assert capsys.readouterr().out == (
        "8 final records: 8 remediated.\n\n"
        "### Records per account, region, rule and decision\n\n"
        "| account | region | rule | decision | records |\n|---|---|---|---|---|\n"
        "| 123456789012 | us-east-1 | restricted-admin-ports | remediated | 3 |\n"
        "| 222222222222 | us-east-1 | restricted-admin-ports | remediated | 5 |\n\n"
        "### Failed records (the latest 100 of each account-region at most)\n\nNone.\n\n"
        "### Account-regions not read (the counts above leave them out)\n\n"
        "| account | region | reason |\n|---|---|---|\n"
        f"| 123456789012 | eu-west-1 | log group {GROUP} does not exist (the stack's Lambda is not deployed here) |\n"
    )
    for stubber in stubbers:
        stubber.assert_no_pending_responses()
        stubber.deactivate()
