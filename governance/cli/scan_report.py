"""``scan``'s findings in each ``--format``: the plain table, a Markdown summary and table for a ticket, JSON, CSV."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from governance.cli.formats import Section, count_by, csv_text, render_sections
from governance.cli.output import json_lines, table

NOTHING_FOUND = "No non-compliant resources found."
TABLE_HEADERS = ("account", "region", "rule", "resource", "status", "planned change")
"""Columns of the plain table and of the Markdown findings table."""
CSV_HEADERS = ("account", "region", "rule", "mode", "resourceType", "resourceId", "config", "status", "summary")
"""The fixed CSV header, one row per finding; the planned API calls (``change``) are in the JSON only."""


def _table_row(finding: dict[str, Any]) -> list[Any]:
    return [finding["account"], finding["region"], finding["rule"], finding["resourceId"], finding["status"], finding["summary"]]


def plain_findings(findings: Sequence[dict[str, Any]]) -> str:
    """The plain table ``scan`` has always printed (None shown as ``None``)."""
    if not findings:
        return f"{NOTHING_FOUND}\n"
    out = io.StringIO()
    table(list(TABLE_HEADERS), [_table_row(finding) for finding in findings], out)
    return out.getvalue()


def markdown_findings(findings: Sequence[dict[str, Any]]) -> str:
    """A Markdown summary (findings per account, per rule, per status) then every finding as a GitHub table."""
    if not findings:
        return f"{NOTHING_FOUND}\n"
    accounts = {finding["account"] for finding in findings}
    headline = f"**{len(findings)} findings** in {len(accounts)} {'account' if len(accounts) == 1 else 'accounts'}.\n\n"
    sections = [
        Section("Findings per account", ["account", "findings"], count_by(findings, "account")),
        Section("Findings per rule", ["rule", "findings"], count_by(findings, "rule")),
        Section("Findings per status", ["status", "findings"], count_by(findings, "status")),
        Section("Findings", list(TABLE_HEADERS), [_table_row(finding) for finding in findings]),
    ]
    return headline + render_sections(sections, "markdown")


def csv_findings(findings: Sequence[dict[str, Any]]) -> str:
    """One CSV row per finding under ``CSV_HEADERS`` (only the header when there is none)."""
    return csv_text(CSV_HEADERS, [[finding.get(header) for header in CSV_HEADERS] for finding in findings])


def json_findings(findings: Sequence[dict[str, Any]]) -> str:
    """The JSON array ``scan --json`` has always printed: one object per finding, keys sorted."""
    out = io.StringIO()
    json_lines(findings, out)
    return out.getvalue()


def render_findings(findings: Sequence[dict[str, Any]], fmt: str) -> str:
    """``scan``'s findings in ``fmt`` (one of ``formats.FORMATS``)."""
    renderers = {"table": plain_findings, "markdown": markdown_findings, "csv": csv_findings, "json": json_findings}
    return renderers[fmt](findings)
