"""``report --stack``: the deployed Lambdas' final audit records, read with CloudWatch Logs Insights.

Every account-region of the stack that runs the remediation Lambda (``RegionPlan.needs_function``)
gets two queries on the function's log group, started together and polled with a bounded wait:

- ``AGGREGATE_QUERY`` counts final records per rule and decision with ``stats``, so the answer has one
  row per rule and decision however many records there are (a Logs Insights result holds at most
  10,000 rows);
- ``FAILED_QUERY`` lists the latest ``FAILED_LIMIT`` failed final records.

The Lambda logs each record as one JSON line, so Logs Insights discovers its top-level keys as
fields. JSON booleans are indexed as 1 and 0, so ``final`` is compared with 1; the metrics-only
line that precedes an oversized record has no ``final`` member and is never counted. The time range
applies to each log event's timestamp (when the Lambda wrote the record).

An account-region whose role cannot be assumed, whose log group does not exist, or whose query is
refused, ends ``Failed``, ``Cancelled`` or ``Timeout``, or outlasts the wait, is reported with the
reason; the others are counted as usual.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from governance.cli.report import Count, FailedRecord, Report, UnreadUnit
from governance.cli.sessions import AccountSessions
from governance.cli.time_range import TimeRange
from governance.lambda_code import lambda_module
from governance.plan import plan_stack
from governance.settings import Account, Settings

DEFAULT_SINCE = timedelta(days=7)
"""The window of ``report --stack`` without ``--since``."""
FAILED_LIMIT = 100
"""Failed records listed per account-region (the counts include every one)."""
QUERY_WORKERS = 8
"""Account-regions queried at once; each runs two queries, so at most 16 run at a time, under the
quota of 30 concurrent Logs Insights queries per account and region."""
DEFAULT_WAIT_SECONDS = 300.0
"""How long one account-region's queries may run before they are stopped and the account-region reported."""
POLL_SECONDS = (1.0, 2.0, 5.0)
"""Pauses between GetQueryResults calls: 1 s, 2 s, then every 5 s."""

PENDING = frozenset({"Scheduled", "Running", "Unknown"})
"""GetQueryResults statuses of a query that may still finish."""
ENDED_BADLY = frozenset({"Failed", "Cancelled", "Timeout"})
"""GetQueryResults statuses of a query that will never give results."""

# UNVERIFIED: Logs Insights indexes JSON booleans as 1 and 0, so ``final = 1`` matches final records (a
# maintainers' reply in aws-powertools/powertools-lambda-dotnet#667, not an AWS page).
RULE_FIELD = "coalesce(ruleKey, rule) as ruleName"
AGGREGATE_QUERY = (
    "filter final = 1 and ispresent(decision)\n"
    f"| fields {RULE_FIELD}\n"
    "| stats count(*) as records by ruleName, decision"
)
"""Final records per rule and decision."""
FAILED_QUERY = (
    'filter final = 1 and decision = "failed"\n'
    f"| fields recordId, time, {RULE_FIELD}, resourceId, reason\n"
    "| sort @timestamp desc\n"
    f"| limit {FAILED_LIMIT}"
)
"""The latest failed final records."""


class QueryProblem(Exception):
    """A query that gave no results: its reason is what the report shows for the account-region."""


@dataclass(frozen=True)
class LogUnit:
    """One account-region whose Lambda log group is queried."""

    account: Account
    region: str
    log_group: str


def log_units(settings: Settings) -> list[LogUnit]:
    """Every account-region of the stack that runs the remediation Lambda, with its log group.

    In organization mode the hub's Lambdas come last: they fix every member account, and their counts
    are shown under the hub's account id.
    """
    from governance.organization_plan import plan_organization

    plans = plan_stack(settings)
    if settings.organization is not None:
        plans = (*plans, plan_organization(settings).hub)
    return [
        LogUnit(region_plan.account, region_plan.region, region_plan.names.function_log_group)
        for account_plan in plans
        for region_plan in account_plan.regions
        if region_plan.needs_function
    ]


def query_window(window: TimeRange, now: datetime) -> tuple[int, int]:
    """StartQuery's ``startTime`` and ``endTime`` (epoch seconds, both inclusive) for ``window``; 7 days by default."""
    since = window.since if window.since is not None else now - DEFAULT_SINCE
    until = window.until if window.until is not None else now
    return int(since.timestamp()), int(until.timestamp())


def result_rows(results: Sequence[Sequence[dict[str, str]]]) -> list[dict[str, str]]:
    """GetQueryResults' ``results`` as one dict per row, without the ``@`` fields Logs Insights adds (``@ptr``)."""
    return [{cell["field"]: cell.get("value", "") for cell in row if "field" in cell and not cell["field"].startswith("@")} for row in results]


def counts_from_rows(account: str, region: str, rows: Sequence[dict[str, str]]) -> list[Count]:
    """The aggregate query's rows as counts of the account-region; a row without a decision or a number is skipped."""
    counts = []
    for row in rows:
        decision, number = row.get("decision"), row.get("records", "")
        if not decision or not number.isdigit():
            continue
        counts.append(Count(account, region, row.get("ruleName") or None, decision, int(number)))
    return counts


def failed_from_rows(account: str, region: str, rows: Sequence[dict[str, str]]) -> list[FailedRecord]:
    """The failed-records query's rows as failed records of the account-region."""
    return [
        FailedRecord(row.get("recordId"), row.get("time"), account, region, row.get("ruleName") or None, row.get("resourceId"), row.get("reason"))
        for row in rows
    ]


@dataclass
class Poller:
    """Waits for Logs Insights queries with a deadline; ``sleep`` and ``clock`` are injectable for tests."""

    wait_seconds: float = DEFAULT_WAIT_SECONDS
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def results(self, client: Any, query_ids: Sequence[str]) -> list[list[dict[str, str]]]:
        """The rows of every query, in order, once all are ``Complete``.

        Raises ``QueryProblem`` when one ends ``Failed``, ``Cancelled`` or ``Timeout``, or when the
        wait runs out (every unfinished query is then stopped, freeing its concurrency slot).
        """
        deadline = self.clock() + self.wait_seconds
        done: dict[str, list[dict[str, str]]] = {}
        pause = 0
        while True:
            for query_id in query_ids:
                if query_id in done:
                    continue
                response = client.get_query_results(queryId=query_id)
                status = response.get("status", "Unknown")
                if status == "Complete":
                    done[query_id] = result_rows(response.get("results", []))
                elif status in ENDED_BADLY:
                    stop_queries(client, [other for other in query_ids if other not in done and other != query_id])
                    raise QueryProblem(f"a Logs Insights query ended {status}")
                elif status not in PENDING:
                    raise QueryProblem(f"a Logs Insights query has the unexpected status {status!r}")
            if len(done) == len(query_ids):
                return [done[query_id] for query_id in query_ids]
            if self.clock() >= deadline:
                stop_queries(client, [query_id for query_id in query_ids if query_id not in done])
                raise QueryProblem(f"the Logs Insights queries did not finish within {self.wait_seconds:g} s and were stopped")
            self.sleep(POLL_SECONDS[min(pause, len(POLL_SECONDS) - 1)])
            pause += 1


def stop_queries(client: Any, query_ids: Sequence[str]) -> None:
    """StopQuery for each id; best effort (a query that just ended cannot be stopped, and that is fine)."""
    for query_id in query_ids:
        with contextlib.suppress(ClientError, BotoCoreError):
            client.stop_query(queryId=query_id)


def _describe(error: BaseException) -> str:
    text: str = lambda_module("errors").describe_error(error)
    return text


def query_unit(unit: LogUnit, client: Any, start: int, end: int, poller: Poller) -> Report:
    """Both queries on one account-region's log group; a problem becomes the account-region's ``UnreadUnit``."""
    account, region = unit.account.id, unit.region
    started: list[str] = []
    try:
        for query in (AGGREGATE_QUERY, FAILED_QUERY):
            response = client.start_query(logGroupName=unit.log_group, startTime=start, endTime=end, queryString=query)
            started.append(response["queryId"])
        aggregate, failed = poller.results(client, started)
    except ClientError as error:
        stop_queries(client, started)
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            reason = f"log group {unit.log_group} does not exist (the stack's Lambda is not deployed here)"
        else:
            reason = f"the Logs Insights query on {unit.log_group} was refused ({_describe(error)})"
        return Report([], [], [UnreadUnit(account, region, reason)])
    except BotoCoreError as error:
        stop_queries(client, started)
        return Report([], [], [UnreadUnit(account, region, f"CloudWatch Logs could not be reached ({_describe(error)})")])
    except QueryProblem as problem:
        return Report([], [], [UnreadUnit(account, region, f"{problem} on {unit.log_group}")])
    return Report(counts_from_rows(account, region, aggregate), failed_from_rows(account, region, failed))


def report_from_logs(
    units: Sequence[LogUnit],
    client_for: Callable[[Account, str], Any],
    window: TimeRange,
    now: datetime,
    poller: Poller | None = None,
) -> Report:
    """Query every account-region in parallel and merge the answers; an account-region that fails is reported, the rest go on."""
    start, end = query_window(window, now)
    poller = poller or Poller()

    def one(unit: LogUnit) -> Report:
        try:
            client = client_for(unit.account, unit.region)
        except (ClientError, BotoCoreError) as error:
            return Report([], [], [UnreadUnit(unit.account.id, unit.region, f"account {unit.account.id} could not be entered ({_describe(error)})")])
        return query_unit(unit, client, start, end, poller)

    if not units:
        return Report([], [], [], FAILED_LIMIT)
    with ThreadPoolExecutor(max_workers=min(QUERY_WORKERS, len(units))) as pool:
        parts = list(pool.map(one, units))
    counts = sorted((count for part in parts for count in part.counts), key=lambda c: (c.account or "", c.region or "", c.rule or "", c.decision))
    failed = sorted((item for part in parts for item in part.failed), key=lambda f: (f.time or "", f.record_id or ""))
    unread = [unit for part in parts for unit in part.unread]
    return Report(counts, failed, unread, FAILED_LIMIT)


def logs_clients(sessions: AccountSessions) -> Callable[[Account, str], Any]:
    """A CloudWatch Logs client per account-region, with the account's credentials (its role assumed when it has one)."""

    def client_for(account: Account, region: str) -> Any:
        return sessions.client(account, "logs", region)

    return client_for
