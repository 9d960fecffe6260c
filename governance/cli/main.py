"""Argument parsing and dispatch for ``python -m governance``.

Exit codes follow linters: 0 nothing found / all passed, 1 something found / a check or fix failed,
2 bad usage or bad stack config.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from governance.catalog import CATALOG, rule_notes
from governance.cli.audit_file import AuditWriter
from governance.cli.doctor import run_doctor
from governance.cli.formats import FORMATS, csv_text, render_sections
from governance.cli.organization_fleet import GovernedFleet, govern
from governance.cli.output import EXIT_FOUND, EXIT_OK, EXIT_USAGE, json_lines, table
from governance.cli.report import CSV_HEADERS, csv_rows, render_report, report_sections, summarize
from governance.cli.scan_report import render_findings
from governance.cli.sessions import MAX_WORKERS, AccountSessions
from governance.settings import ConfigError, Settings
from governance.stack_file import load_stack, load_stack_file

DEFAULT_CONCURRENCY = 16


def _add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="stack name: reads Pulumi.<stack>.yaml next to Pulumi.yaml")
    where.add_argument("--stack-file", type=Path, help="path of a Pulumi.<stack>.yaml file")


def _add_fleet_arguments(parser: argparse.ArgumentParser) -> None:
    _add_stack_arguments(parser)
    parser.add_argument("--rule", action="append", choices=list(CATALOG), help="only this rule (repeatable)")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, help=f"parallel AWS workers (default {DEFAULT_CONCURRENCY})")


def _add_format_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--format", choices=FORMATS, help=f"{what}: table (default), markdown (for a ticket), json or csv")


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser."""
    parser = argparse.ArgumentParser(prog="python -m governance", description="Operate governance stacks: preflight, what-if, fix, undo.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    commands.add_parser("demo", help="run the whole flow on the embedded emulator (no AWS account needed)")
    doctor = commands.add_parser("doctor", help="check what the deployment relies on in every account and region")
    _add_stack_arguments(doctor)
    doctor.add_argument("--json", action="store_true", help="print JSON instead of a table")
    scan = commands.add_parser("scan", help="what-if: find non-compliant resources and show the planned change (no writes)")
    _add_fleet_arguments(scan)
    scan.add_argument("--json", action="store_true", help="print JSON instead of a table (same as --format json)")
    _add_format_argument(scan, "how to print the findings")
    apply = commands.add_parser("apply", help="fix what scan finds, with the Lambda's exemptions and safety")
    _add_fleet_arguments(apply)
    apply.add_argument("--audit-file", type=Path, help="JSONL file for the audit records (default governance-audit-<time>.jsonl)")
    apply.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    _add_format_argument(apply, "how to print the final summary")
    undo = commands.add_parser("undo", help="restore the before-state of audit records (by record id or JSONL file)")
    _add_stack_arguments(undo)
    undo.add_argument("records", help="a record id, or a JSONL file of audit records")
    undo.add_argument("--audit-file", type=Path, action="append", default=[], help="JSONL file to look the record id up in (repeatable)")
    undo.add_argument("--force", action="store_true", help="undo even if the resource changed since the record")
    undo.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    smoke = commands.add_parser("smoke", help="create a tagged non-compliant test resource, wait for the deployed fix, report, clean up")
    _add_stack_arguments(smoke)
    smoke.add_argument("--rule", required=True, choices=list(CATALOG), help="rule to test")
    smoke.add_argument("--account", help="account id (default: the stack's first account)")
    smoke.add_argument("--region", help="region (default: the account's first region)")
    smoke.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the remediation (default 900)")
    report = commands.add_parser("report", help="count the final decisions of audit files, or of the deployed Lambdas' logs")
    report.add_argument("--audit-file", type=Path, action="append", default=[], help="JSONL audit file written by apply (repeatable)")
    report.add_argument("--stack", help="stack name: query its Lambdas' log groups with CloudWatch Logs Insights")
    report.add_argument("--stack-file", type=Path, help="path of a Pulumi.<stack>.yaml file, instead of --stack")
    report.add_argument("--since", help="only records from then on: ISO 8601, or a duration before now like 7d or 24h (logs: default 7d)")
    report.add_argument("--until", help="only records until then: ISO 8601, or a duration before now")
    _add_format_argument(report, "how to print the report")
    return parser


class UsageError(Exception):
    """A flag the user got wrong: one sentence naming it and what is allowed; exit 2 before anything is read."""


def output_format(args: argparse.Namespace) -> str:
    """The chosen ``--format``; ``--json`` is a synonym of ``--format json`` and cannot be combined with another format."""
    chosen: str | None = getattr(args, "format", None)
    if getattr(args, "json", False):
        if chosen not in (None, "json"):
            raise UsageError(f"--json and --format {chosen} cannot be combined: --json is short for --format json, so pass only one of them.")
        return "json"
    return chosen or "table"


def smoke_command(
    settings: Settings, rule: str, account_id: str | None, region: str | None, timeout: float, fleet: GovernedFleet | None = None,
    sessions: AccountSessions | None = None,
) -> int:
    """Run the smoke test and print its result as JSON; 1 when it did not pass.

    In organization mode ``--account`` may be any targeted account (default: the first one), and the
    audit record is looked up in the hub's log group, where the hub Lambda writes it.
    """
    from governance.cli.smoke import choose, run_smoke

    sessions = sessions or AccountSessions()
    members = fleet.members if fleet else ()
    try:
        account, chosen_region = choose(settings, rule, account_id, region, default=members[0] if members else None)
    except ValueError as error:
        sys.stderr.write(f"{error}\n")
        return EXIT_USAGE
    session = sessions.regional(account, chosen_region)
    records = sessions.hub_session(chosen_region) if sessions.is_member(account) else None
    result = run_smoke(settings, session, account, chosen_region, rule, timeout, records_session=records)
    print(json.dumps(result.to_json(), indent=1, default=str))
    return EXIT_OK if result.remediated and result.record and result.cleaned_up else EXIT_FOUND


def _concurrency(value: int) -> int:
    if not 1 <= value <= MAX_WORKERS:
        raise ConfigError([f"--concurrency must be a whole number from 1 to {MAX_WORKERS}, got {value}."])
    return value


def doctor_command(settings: Settings, as_json: bool, fleet: GovernedFleet | None = None, sessions: AccountSessions | None = None) -> int:
    """Run the preflight checks and print them; 1 when any failed.

    In organization mode the organization's checks come first, then every account's, members through their member role.
    """
    from governance.cli.organization_doctor import organization_checks

    sessions = sessions or AccountSessions()
    results = (organization_checks(fleet, sessions) if fleet else []) + run_doctor(settings, sessions)
    if as_json:
        json_lines([result.to_json() for result in results])
    else:
        table(
            ["", "account", "region", "check", "detail", "fix"],
            [["PASS" if r.passed else "FAIL", r.account, r.region, r.check, r.detail, "" if r.passed else r.fix] for r in results],
        )
    return EXIT_OK if all(result.passed for result in results) else EXIT_FOUND


def _print_findings(findings: list[dict[str, Any]], fmt: str = "table") -> None:
    sys.stdout.write(render_findings(findings, fmt))


def scan_command(settings: Settings, rules: set[str] | None, concurrency: int, fmt: str, sessions: AccountSessions | None = None) -> int:
    """What-if: read every resource, report the non-compliant ones, their planned changes and unreadable account-regions."""
    from governance.cli.fleet import read_fleet

    read = read_fleet(settings, sessions or AccountSessions(), concurrency, rules)
    findings = [failure.finding() for failure in read.failures] + [item.finding() for item in read.items if item.non_compliant]
    _print_findings(findings, fmt)
    scanned = ((rule.key, rule.params) for account in settings.accounts for rule in account.rules if rules is None or rule.key in rules)
    for note in rule_notes(scanned):
        sys.stderr.write(f"note: {note}\n")
    return EXIT_FOUND if any(finding["status"] != "exempt" for finding in findings) else EXIT_OK


def apply_command(
    settings: Settings, rules: set[str] | None, concurrency: int, audit_file: Path | None, assume_yes: bool, fmt: str = "table",
    sessions: AccountSessions | None = None,
) -> int:
    """Fix what scan finds; audit records go to a JSONL file as each decision is made.

    With ``assume_yes`` nothing is shown or confirmed, so every resource is read once, right before
    its write; otherwise the fleet is read, shown, confirmed, and read again before each write. The
    audit file is opened before anything is read: a path that cannot be written changes nothing.
    """
    path = audit_file or Path(f"governance-audit-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.jsonl")
    audit = AuditWriter(path)
    try:
        audit.open()
    except OSError as error:
        sys.stderr.write(f"--audit-file: {path} cannot be written ({error.strerror or error}); give a writable file path. Nothing was changed.\n")
        return EXIT_USAGE
    with audit:
        if assume_yes:
            return _apply_unconfirmed(settings, rules, concurrency, audit, fmt, sessions or AccountSessions())
        return _apply_confirmed(settings, rules, concurrency, audit, fmt, sessions or AccountSessions())


def _apply_unconfirmed(settings: Settings, rules: set[str] | None, concurrency: int, audit: AuditWriter, fmt: str, sessions: AccountSessions) -> int:
    from governance.cli import fleet

    # Nothing is read per resource before the write step: the fixers read each one right before its write.
    fleet.checkpoint("read", None)
    fleet.checkpoint("confirm", None)
    records, unreadable = fleet.apply_unconfirmed(settings, sessions, concurrency, audit, rules)
    if not records:
        return _print_nothing_to_fix(fmt)
    return _finish_apply(records, [failure.finding() for failure in unreadable], audit.path, fmt)


def _apply_confirmed(settings: Settings, rules: set[str] | None, concurrency: int, audit: AuditWriter, fmt: str, sessions: AccountSessions) -> int:
    from governance.cli import fleet

    read = fleet.read_fleet(settings, sessions, concurrency, rules, remediating=True)
    fleet.checkpoint("read", None)
    failures = [failure.finding() for failure in read.failures]
    findings = [item.finding() for item in read.items if item.non_compliant]
    fixable = [finding for finding in findings if finding["status"] == "non_compliant"]
    if not findings and not failures:
        return _print_nothing_to_fix(fmt)
    if fixable:
        _print_findings(failures + findings)
        if not sys.stdin.isatty():
            sys.stderr.write("apply changes resources: confirm on a terminal or pass --yes.\n")
            return EXIT_USAGE
        if input(f"Fix {len(fixable)} resources? [y/N] ").strip().lower() not in ("y", "yes"):
            print("Nothing changed.")
            return EXIT_OK
    fleet.checkpoint("confirm", None)
    records = fleet.apply_fleet(read, settings, concurrency, audit)
    return _finish_apply(records, failures, audit.path, fmt)


def _print_nothing_to_fix(fmt: str) -> int:
    if fmt == "json":
        print(json.dumps({**summarize([]).to_json(), "auditFile": None}, indent=1, sort_keys=True))
    elif fmt == "csv":
        sys.stdout.write(csv_text(CSV_HEADERS, []))
    else:
        print("No non-compliant resources found.")
    return EXIT_OK


def _finish_apply(records: list[dict[str, Any]], failures: list[dict[str, Any]], path: Path, fmt: str) -> int:
    decisions: dict[str, int] = {}
    for record in records:
        decisions[record["decision"]] = decisions.get(record["decision"], 0) + 1
    _print_apply_summary(records, failures, decisions, path, fmt)
    return EXIT_FOUND if decisions.get("failed") else EXIT_OK


def _print_apply_summary(records: list[dict[str, Any]], failures: list[dict[str, Any]], decisions: dict[str, int], path: Path, fmt: str) -> None:
    """Print ``apply``'s final summary in ``fmt``.

    The table format keeps its unreadable account-regions and its one-line summary, after the counts
    table; the others print the whole report (counts and failed records), with the audit file's path
    in the JSON object, under the Markdown, or on stderr for CSV.
    """
    summary = summarize(records)
    line = ", ".join(f"{count} {decision}" for decision, count in sorted(decisions.items())) + f"; audit records in {path}"
    if fmt == "table":
        if failures:
            _print_findings(failures)
        sys.stdout.write(render_sections(report_sections(summary, with_failed=False), "table"))
        print(line)
    elif fmt == "markdown":
        sys.stdout.write(render_report(summary, "markdown") + f"\nAudit records in `{path}`.\n")
    elif fmt == "json":
        print(json.dumps({**summary.to_json(), "auditFile": str(path)}, indent=1, sort_keys=True, default=str))
    else:
        sys.stdout.write(csv_text(CSV_HEADERS, csv_rows(summary)))
        sys.stderr.write(f"{line}\n")


def _report_source(args: argparse.Namespace) -> None:
    """Check ``report``'s source flags; raises ``UsageError`` before anything is read."""
    from governance.cli.report import missing_audit_file

    stacks = [flag for flag, value in (("--stack", args.stack), ("--stack-file", args.stack_file)) if value is not None]
    if not args.audit_file and not stacks:
        raise UsageError("report needs --audit-file F (repeatable) or --stack S (or --stack-file F): say which records to report on.")
    if args.audit_file and stacks:
        raise UsageError(f"--audit-file and {stacks[0]} cannot be combined: report on audit files or on a stack's Lambda logs, one at a time.")
    if len(stacks) > 1:
        raise UsageError("--stack and --stack-file cannot be combined: give the stack by name or by file, not both.")
    problem = missing_audit_file(args.audit_file)
    if problem:
        raise UsageError(problem)


def report_command(args: argparse.Namespace) -> int:
    """Summarise final audit records of JSONL files or of the stack's Lambda logs; 1 when any failed or could not be read."""
    from governance.cli import insights
    from governance.cli.report import report_from_files
    from governance.cli.time_range import TimeRangeError, time_range

    now = datetime.now(UTC)
    try:
        fmt = output_format(args)
        _report_source(args)
        window = time_range(args.since, args.until, now)
    except (UsageError, TimeRangeError) as error:
        sys.stderr.write(f"{error}\n")
        return EXIT_USAGE
    if args.audit_file:
        report = report_from_files(args.audit_file, window)
    else:
        try:
            settings = load_stack_file(args.stack_file) if args.stack_file else load_stack(args.stack)
            units = insights.log_units(settings)
        except ConfigError as error:
            sys.stderr.write(f"{error}\n")
            return EXIT_USAGE
        report = insights.report_from_logs(units, insights.logs_clients(AccountSessions()), window, now)
    sys.stdout.write(render_report(report, fmt))
    return EXIT_FOUND if report.has_problems else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from governance.cli.demo import run_demo

        return run_demo()
    if args.command == "report":
        return report_command(args)
    try:
        fmt = output_format(args)
    except UsageError as error:
        sys.stderr.write(f"{error}\n")
        return EXIT_USAGE
    try:
        settings = load_stack_file(args.stack_file) if args.stack_file else load_stack(args.stack)
        concurrency = _concurrency(args.concurrency) if hasattr(args, "concurrency") else DEFAULT_CONCURRENCY
    except ConfigError as error:
        sys.stderr.write(f"{error}\n")
        return EXIT_USAGE
    rules = set(args.rule) if isinstance(getattr(args, "rule", None), list) else None
    sessions = AccountSessions()
    try:
        fleet = govern(settings, sessions)
    except ConfigError as error:
        sys.stderr.write(f"{error}\n")
        return EXIT_USAGE
    if args.command == "doctor":
        # The listing's problems are lines of doctor's own output.
        return doctor_command(fleet.settings, args.json, fleet, sessions)
    for problem in fleet.problems:
        sys.stderr.write(f"error: {problem}\n")
    if fleet.listing is not None and settings.organization is not None:
        sys.stderr.write(
            f"note: organization: {len(fleet.members)} accounts under {len(settings.organization.targets)} targets, entered through "
            f"role {settings.organization.member_role_name}; {len(fleet.listing.skipped)} excluded or not ACTIVE.\n"
        )
    return with_listing(_run(args, fleet, sessions, rules, concurrency, fmt), fleet)


def with_listing(code: int, fleet: GovernedFleet) -> int:
    """``code``, made 1 when it was 0 but some organization target could not be listed (part of the fleet was not governed)."""
    return EXIT_FOUND if code == EXIT_OK and not fleet.complete else code


def _run(args: argparse.Namespace, fleet: GovernedFleet, sessions: AccountSessions, rules: set[str] | None, concurrency: int, fmt: str) -> int:
    settings = fleet.settings
    if args.command == "scan":
        return scan_command(settings, rules, concurrency, fmt, sessions)
    if args.command == "apply":
        return apply_command(settings, rules, concurrency, args.audit_file, args.yes, fmt, sessions)
    if args.command == "smoke":
        return smoke_command(settings, args.rule, args.account, args.region, args.timeout, fleet, sessions)
    if args.command == "undo":
        from governance.cli.undo import undo_command

        return undo_command(settings, args.records, args.audit_file, args.force, args.yes, sessions)
    raise AssertionError(f"unhandled command {args.command}")
