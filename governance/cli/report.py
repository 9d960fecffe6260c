"""``report``: what the audit records say was decided, counted per account, region, rule and decision.

Only final records count: a record with ``final: false`` is an attempt the retry or the
verification amends, not a decision. Audit files are read with ``latest_records`` (the last line of
each record id wins, across every file given, in the order given). The same summary closes
``apply``. Records from the deployed Lambdas' logs come from ``insights``.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from governance.cli.audit_file import latest_records
from governance.cli.formats import Section, csv_text, render_sections
from governance.cli.time_range import TimeRange, record_time

FAILED = "failed"
CSV_HEADERS = ("section", "account", "region", "rule", "decision", "records", "recordId", "time", "resourceId", "reason")
"""The fixed CSV header of ``report`` and of ``apply``'s summary: ``section`` says which table a row belongs to."""


@dataclass(frozen=True, order=True)
class Count:
    """How many final records one account-region has for one rule and decision."""

    account: str | None
    region: str | None
    rule: str | None
    decision: str
    records: int

    def to_json(self) -> dict[str, Any]:
        """The count as a JSON object."""
        return {"account": self.account, "region": self.region, "rule": self.rule, "decision": self.decision, "records": self.records}


@dataclass(frozen=True)
class FailedRecord:
    """A final record whose decision is ``failed``: what to look at first."""

    record_id: str | None
    time: str | None
    account: str | None
    region: str | None
    rule: str | None
    resource_id: str | None
    reason: str | None

    def to_json(self) -> dict[str, Any]:
        """The failure as a JSON object, with the audit records' own key names."""
        return {
            "recordId": self.record_id, "time": self.time, "account": self.account, "region": self.region,
            "rule": self.rule, "resourceId": self.resource_id, "reason": self.reason,
        }


@dataclass(frozen=True)
class UnreadUnit:
    """An account-region whose records could not be read: the report is incomplete there."""

    account: str
    region: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        """The account-region and why, as a JSON object."""
        return {"account": self.account, "region": self.region, "reason": self.reason}


@dataclass(frozen=True)
class Report:
    """Counts of final records, the failed ones, and the account-regions that could not be read."""

    counts: list[Count]
    failed: list[FailedRecord]
    unread: list[UnreadUnit] = field(default_factory=list)
    failed_shown_limit: int | None = None
    """Set when the failed list was cut to the latest this many per account-region."""

    @property
    def totals(self) -> dict[str, int]:
        """Records per decision, over every account-region."""
        totals: Counter[str] = Counter()
        for count in self.counts:
            totals[count.decision] += count.records
        return dict(sorted(totals.items()))

    @property
    def has_problems(self) -> bool:
        """Whether any decision failed or any account-region could not be read (``report`` exits 1 then)."""
        return bool(self.totals.get(FAILED) or self.failed or self.unread)

    def to_json(self) -> dict[str, Any]:
        """The report as one JSON object."""
        return {
            "totals": self.totals,
            "counts": [count.to_json() for count in self.counts],
            "failed": [failure.to_json() for failure in self.failed],
            "unread": [unit.to_json() for unit in self.unread],
            "failedShownLimit": self.failed_shown_limit,
        }


def rule_of(record: dict[str, Any]) -> str | None:
    """The rule a record is about: its catalog key, else its Config rule name (None for account-region failures)."""
    value = record.get("ruleKey") or record.get("rule")
    return str(value) if value is not None else None


def is_decision(record: dict[str, Any]) -> bool:
    """Whether a record is a final decision: ``final`` is exactly true and it has a decision."""
    return record.get("final") is True and isinstance(record.get("decision"), str)


def summarize(records: Iterable[dict[str, Any]]) -> Report:
    """Count the final records per account, region, rule and decision, and list the failed ones by time."""
    decisions = [record for record in records if is_decision(record)]
    grouped = Counter((record.get("account"), record.get("region"), rule_of(record), record["decision"]) for record in decisions)
    counts = sorted((Count(*key, records=number) for key, number in grouped.items()), key=_count_order)
    failed = [failed_record(record) for record in decisions if record["decision"] == FAILED]
    failed.sort(key=lambda item: (item.time or "", item.record_id or ""))
    return Report(counts, failed)


def _count_order(count: Count) -> tuple[str, str, str, str]:
    return (count.account or "", count.region or "", count.rule or "", count.decision)


def failed_record(record: dict[str, Any]) -> FailedRecord:
    """The fields of a failed record that the report lists."""
    return FailedRecord(
        record.get("recordId"), record.get("time"), record.get("account"), record.get("region"),
        rule_of(record), record.get("resourceId"), record.get("reason"),
    )


def in_range(records: Iterable[dict[str, Any]], window: TimeRange) -> tuple[list[dict[str, Any]], int]:
    """The records whose ``time`` lies in ``window``, and how many were left out because their time is unreadable.

    An unbounded window keeps every record, readable time or not.
    """
    if not window.bounded:
        return list(records), 0
    kept, undated = [], 0
    for record in records:
        instant = record_time(record.get("time"))
        if instant is None:
            undated += 1
        elif window.contains(instant):
            kept.append(record)
    return kept, undated


def read_audit_files(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """The latest line of every record id across ``paths``, read in order (a later file's line wins)."""
    lines: list[str] = []
    for path in paths:
        lines.extend(path.read_text(encoding="utf-8").splitlines())
    return latest_records(lines)


def missing_audit_file(paths: Sequence[Path]) -> str | None:
    """The usage error for the first ``--audit-file`` that is not a readable file, or None."""
    for path in paths:
        if not path.is_file():
            return f"--audit-file {str(path)!r} is not a file: give the path of a JSONL audit file written by apply (repeatable)."
    return None


def report_from_files(paths: Sequence[Path], window: TimeRange) -> Report:
    """Summarise the final records of the audit files in ``window``; notes on stderr what the window left out."""
    records, undated = in_range(read_audit_files(paths), window)
    if undated:
        said = "record without a readable time was" if undated == 1 else "records without a readable time were"
        sys.stderr.write(f"note: {undated} {said} left out by --since/--until.\n")
    return summarize(records)


def _decisions_line(report: Report) -> str:
    totals = report.totals
    total = sum(totals.values())
    if not total:
        return "No final records."
    return f"{total} final {'record' if total == 1 else 'records'}: " + ", ".join(f"{number} {decision}" for decision, number in sorted(totals.items(), key=lambda pair: (-pair[1], pair[0]))) + "."


def report_sections(report: Report, with_failed: bool = True) -> list[Section]:
    """The report's tables: counts, then failed records, then unread account-regions (when there are any)."""
    sections = [
        Section(
            "Records per account, region, rule and decision",
            ["account", "region", "rule", "decision", "records"],
            [[c.account, c.region, c.rule, c.decision, c.records] for c in report.counts],
            empty="No final records.",
        )
    ]
    if with_failed:
        title = "Failed records"
        if report.failed_shown_limit is not None:
            title += f" (the latest {report.failed_shown_limit} of each account-region at most)"
        sections.append(Section(
            title,
            ["record id", "time", "account", "region", "rule", "resource", "reason"],
            [[f.record_id, f.time, f.account, f.region, f.rule, f.resource_id, f.reason] for f in report.failed],
        ))
    if report.unread:
        sections.append(Section("Account-regions not read (the counts above leave them out)", ["account", "region", "reason"],
                                [[u.account, u.region, u.reason] for u in report.unread]))
    return sections


def csv_rows(report: Report, with_failed: bool = True) -> list[list[Any]]:
    """The report as rows under ``CSV_HEADERS``: ``count`` rows, then ``failed`` rows, then ``unread`` rows."""
    rows: list[list[Any]] = [["count", c.account, c.region, c.rule, c.decision, c.records, None, None, None, None] for c in report.counts]
    if with_failed:
        rows += [["failed", f.account, f.region, f.rule, FAILED, None, f.record_id, f.time, f.resource_id, f.reason] for f in report.failed]
    rows += [["unread", u.account, u.region, None, None, None, None, None, None, u.reason] for u in report.unread]
    return rows


def render_report(report: Report, fmt: str, with_failed: bool = True) -> str:
    """The report in ``fmt``: a decisions line then tables (table, markdown), one JSON object, or CSV rows."""
    if fmt == "json":
        return json.dumps(report.to_json(), indent=1, sort_keys=True, default=str) + "\n"
    if fmt == "csv":
        return csv_text(CSV_HEADERS, csv_rows(report, with_failed))
    return f"{_decisions_line(report)}\n\n" + render_sections(report_sections(report, with_failed), fmt)
