"""``report --audit-file``, ``--since``/``--until``, the usage errors, and ``apply --format`` on the moto fleet.

The audit files are recorded the way ``apply`` and the Lambda write them: a pending line amended by a
later line of the same record id, a non-final attempt, an account-region that could not be read,
and a torn line.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from governance.cli.main import main
from governance.cli.report import summarize
from governance.cli.time_range import TimeRange, TimeRangeError, parse_instant, time_range
from tests.cli.test_scan_apply_undo import HOME, OTHER, seed, stack_file

__all__ = ["stack_file"]  # the moto fleet fixture, shared with the scan/apply/undo tests


def record(record_id: str, time: str, decision: str, reason: str, *, final: bool = True, account: str = HOME, region: str = "us-east-1",
           rule_key: str | None = "s3-bucket-encryption", resource: str = "logs-bucket", engine: str = "cli") -> dict[str, Any]:
    return {
        "schemaVersion": 1, "recordId": record_id, "time": time, "final": final, "level": "error" if decision == "failed" else "info",
        "decision": decision, "reason": reason, "engine": engine, "account": account, "region": region,
        "rule": f"governance-{rule_key}" if rule_key else None, "ruleKey": rule_key, "mode": "auto" if rule_key else None,
        "resourceType": "AWS::S3::Bucket" if rule_key else None, "resourceId": resource if rule_key else None,
        "apiCalls": [], "before": None, "after": None, "change": None, "undo": [], "narrowing": [],
    }


UNREAD = "account 222222222222 in us-east-1 could not be read (AccessDenied: not authorized | no trust\nfor the role); nothing there was scanned or changed"
APPLY_RUN = [
    record("r-1", "2026-11-20T09:00:01.000Z", "remediated", "encrypted with the region's KMS key (written; verification pending)", final=False),
    record("r-2", "2026-11-20T09:00:01.200Z", "exempt", "tagged governance:exempt=owner approved", resource="audit-bucket"),
    record("r-3", "2026-11-20T09:00:02.000Z", "remediated", "revoked 0.0.0.0/0 on 22 (written; verification pending)", final=False,
           account=OTHER, region="eu-west-1", rule_key="restricted-admin-ports", resource="sg-0a1b"),
    record("r-4", "2026-11-20T09:00:00.500Z", "failed", UNREAD, account=OTHER, rule_key=None),
    "{\"recordId\": \"r-5\", \"final\": tr",
    record("r-1", "2026-11-20T09:00:03.000Z", "remediated", "encrypted with the region's KMS key"),
    record("r-3", "2026-11-20T09:00:03.500Z", "failed", "the change was made, but the resource still reads as non-compliant",
           account=OTHER, region="eu-west-1", rule_key="restricted-admin-ports", resource="sg-0a1b"),
]
LATER_RUN = [
    record("r-6", "2026-11-27T14:30:00.000Z", "failed", "transient error (Throttling: Rate exceeded); raised so that Lambda retries the event", final=False, engine="lambda"),
    record("r-7", "2026-11-27T14:31:00.000Z", "failed", "-1 objects: AWS refused a call", engine="lambda", resource="=HYPERLINK(\"http://x\")"),
]


def write_audit(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line, separators=(",", ":"))) + "\n" for line in lines))
    return path


@pytest.fixture
def audit_files(tmp_path: Path) -> list[Path]:
    return [write_audit(tmp_path / "apply.jsonl", APPLY_RUN), write_audit(tmp_path / "later.jsonl", LATER_RUN)]


def report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["report", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_only_the_last_line_of_final_records_counts(audit_files: list[Path]) -> None:
    from governance.cli.report import read_audit_files

    summary = summarize(read_audit_files(audit_files))
    assert summary.totals == {"exempt": 1, "failed": 3, "remediated": 1}
    assert [f.record_id for f in summary.failed] == ["r-4", "r-3", "r-7"], "failed records by time; the non-final attempt r-6 is not one"


def test_report_table(audit_files: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = report(capsys, "--audit-file", str(audit_files[0]))
    assert code == 1
    assert out == (
        "4 final records: 2 failed, 1 exempt, 1 remediated.\n\n"
        "Records per account, region, rule and decision\n"
        "account       region     rule                    decision    records\n"
        "123456789012  us-east-1  s3-bucket-encryption    exempt      1\n"
        "123456789012  us-east-1  s3-bucket-encryption    remediated  1\n"
        "222222222222  eu-west-1  restricted-admin-ports  failed      1\n"
        "222222222222  us-east-1  -                       failed      1\n\n"
        "Failed records\n"
        "record id  time                      account       region     rule                    resource  reason\n"
        "r-4        2026-11-20T09:00:00.500Z  222222222222  us-east-1  -                       -         "
        "account 222222222222 in us-east-1 could not be read (AccessDenied: not authorized | no trust\\nfor the role); nothing there was scanned or changed\n"
        "r-3        2026-11-20T09:00:03.500Z  222222222222  eu-west-1  restricted-admin-ports  sg-0a1b   the change was made, but the resource still reads as non-compliant\n"
    )


def test_report_markdown_never_breaks_its_tables(audit_files: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = report(capsys, "--audit-file", str(audit_files[0]), "--format", "markdown")
    assert code == 1
    assert out == (
        "4 final records: 2 failed, 1 exempt, 1 remediated.\n\n"
        "### Records per account, region, rule and decision\n\n"
        "| account | region | rule | decision | records |\n|---|---|---|---|---|\n"
        "| 123456789012 | us-east-1 | s3-bucket-encryption | exempt | 1 |\n"
        "| 123456789012 | us-east-1 | s3-bucket-encryption | remediated | 1 |\n"
        "| 222222222222 | eu-west-1 | restricted-admin-ports | failed | 1 |\n"
        "| 222222222222 | us-east-1 | - | failed | 1 |\n\n"
        "### Failed records\n\n"
        "| record id | time | account | region | rule | resource | reason |\n|---|---|---|---|---|---|---|\n"
        "| r-4 | 2026-11-20T09:00:00.500Z | 222222222222 | us-east-1 | - | - | "
        "account 222222222222 in us-east-1 could not be read (AccessDenied: not authorized \\| no trust<br>for the role); nothing there was scanned or changed |\n"
        "| r-3 | 2026-11-20T09:00:03.500Z | 222222222222 | eu-west-1 | restricted-admin-ports | sg-0a1b | the change was made, but the resource still reads as non-compliant |\n"
    )


def test_report_json_of_several_files(audit_files: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = report(capsys, "--audit-file", str(audit_files[0]), "--audit-file", str(audit_files[1]), "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert data["totals"] == {"exempt": 1, "failed": 3, "remediated": 1}
    assert data["counts"][1] == {"account": HOME, "region": "us-east-1", "rule": "s3-bucket-encryption", "decision": "failed", "records": 1}
    assert data["failed"][2] == {
        "recordId": "r-7", "time": "2026-11-27T14:31:00.000Z", "account": HOME, "region": "us-east-1", "rule": "s3-bucket-encryption",
        "resourceId": "=HYPERLINK(\"http://x\")", "reason": "-1 objects: AWS refused a call",
    }
    assert data["unread"] == [] and data["failedShownLimit"] is None


def test_report_csv_defuses_formulas(audit_files: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = report(capsys, "--audit-file", str(audit_files[1]), "--format", "csv")
    assert code == 1
    assert out == (
        "section,account,region,rule,decision,records,recordId,time,resourceId,reason\n"
        "count,123456789012,us-east-1,s3-bucket-encryption,failed,1,,,,\n"
        "failed,123456789012,us-east-1,s3-bucket-encryption,failed,,r-7,2026-11-27T14:31:00.000Z,\"'=HYPERLINK(\"\"http://x\"\")\",'-1 objects: AWS refused a call\n"
    )
    assert list(csv.reader(io.StringIO(out)))[2][8] == "'=HYPERLINK(\"http://x\")"


def test_since_and_until_filter_on_the_record_time(audit_files: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    files = ["--audit-file", str(audit_files[0]), "--audit-file", str(audit_files[1])]
    code, out, _ = report(capsys, *files, "--since", "2026-11-27", "--format", "json")
    assert (code, json.loads(out)["totals"]) == (1, {"failed": 1})
    code, out, _ = report(capsys, *files, "--until", "2026-11-20T09:00:02Z", "--format", "json")
    assert (code, json.loads(out)["totals"]) == (1, {"exempt": 1, "failed": 1})
    code, out, _ = report(capsys, *files, "--since", "2026-11-20T10:00:01+01:00", "--until", "2026-11-20T09:00:01.5Z", "--format", "json")
    assert (code, json.loads(out)["totals"]) == (0, {"exempt": 1}), "offsets are honoured: 10:00:01+01:00 is 09:00:01Z"


def test_records_without_a_readable_time_are_left_out_of_a_window_and_said_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_audit(tmp_path / "a.jsonl", [record("x-1", "yesterday", "remediated", "done"), record("x-2", "2026-11-20T09:00:00Z", "exempt", "tag")])
    code, out, err = report(capsys, "--audit-file", str(path), "--since", "2026-01-01", "--format", "json")
    assert (code, json.loads(out)["totals"]) == (0, {"exempt": 1})
    assert err == "note: 1 record without a readable time was left out by --since/--until.\n"
    code, out, _ = report(capsys, "--audit-file", str(path))
    assert (code, out.splitlines()[0]) == (0, "2 final records: 1 exempt, 1 remediated.")


def test_an_empty_audit_file_reports_no_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_audit(tmp_path / "empty.jsonl", [])
    code, out, _ = report(capsys, "--audit-file", str(path))
    assert code == 0
    assert out == "No final records.\n\nRecords per account, region, rule and decision\nNo final records.\n\nFailed records\nNone.\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "report needs --audit-file F (repeatable) or --stack S (or --stack-file F): say which records to report on."),
        (["--audit-file", "{missing}"], "--audit-file '{missing}' is not a file: give the path of a JSONL audit file written by apply (repeatable)."),
        (["--audit-file", "{file}", "--since", "last week"],
         "--since 'last week' is not a time: give an ISO 8601 date or time (2026-11-27, 2026-11-27T10:00:00Z; without an offset it is UTC) "
         "or a duration before now (30m, 24h, 7d, 2w)."),
        (["--audit-file", "{file}", "--until", "7 d"],
         "--until '7 d' is not a time: give an ISO 8601 date or time (2026-11-27, 2026-11-27T10:00:00Z; without an offset it is UTC) "
         "or a duration before now (30m, 24h, 7d, 2w)."),
        (["--audit-file", "{file}", "--since", "2026-11-27", "--until", "2026-11-20"],
         "--until '2026-11-20' is before --since '2026-11-27': give an --until later than --since."),
        (["--audit-file", "{file}", "--stack", "dev"],
         "--audit-file and --stack cannot be combined: report on audit files or on a stack's Lambda logs, one at a time."),
        (["--stack", "dev", "--stack-file", "{file}"], "--stack and --stack-file cannot be combined: give the stack by name or by file, not both."),
        (["--stack", "no-such-stack", "--since", "1d"], "Invalid stack config:\n- --stack no-such-stack has no Pulumi.no-such-stack.yaml"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2_before_anything_is_read(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from governance.cli import report as report_module

    def must_not_read(*_args: Any) -> Any:
        raise AssertionError("nothing may be read after a usage error")

    monkeypatch.setattr(report_module, "read_audit_files", must_not_read)
    monkeypatch.chdir(tmp_path)
    existing = write_audit(tmp_path / "audit.jsonl", APPLY_RUN)
    missing = tmp_path / "nope.jsonl"
    filled = [arg.format(missing=missing, file=existing) for arg in args]
    code, out, err = report(capsys, *filled)
    assert (code, out) == (2, "")
    # The unknown stack's message goes on to list the stacks there are; the rest is compared whole.
    assert err.split("; stacks here")[0].rstrip("\n") == message.format(missing=missing, file=existing)
    assert err.endswith(".\n") and (err.count("\n") == 1 or err.startswith("Invalid stack config:\n"))


def test_relative_and_iso_times() -> None:
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert parse_instant("--since", "7d", now) == now - timedelta(days=7)
    assert parse_instant("--since", "24h", now) == now - timedelta(hours=24)
    assert parse_instant("--since", "30m", now) == now - timedelta(minutes=30)
    assert parse_instant("--since", "2w", now) == now - timedelta(weeks=2)
    assert parse_instant("--since", "90s", now) == now - timedelta(seconds=90)
    assert parse_instant("--since", "2026-11-20", now) == datetime(2026, 11, 20, tzinfo=UTC)
    assert parse_instant("--since", "2026-11-20T10:00:00+02:00", now) == datetime(2026, 11, 20, 8, tzinfo=UTC)
    with pytest.raises(TimeRangeError, match=r"^--until '7' is not a time"):
        parse_instant("--until", "7", now)
    window = time_range("1d", None, now)
    assert window == TimeRange(now - timedelta(days=1), None)
    assert window.contains(now) and not window.contains(now - timedelta(days=2))
    assert not TimeRange().bounded and TimeRange().contains(now)


def test_apply_prints_its_summary_in_every_format(aws: None, stack_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed(HOME, "us-east-1", "sum")
    audit = tmp_path / "audit.jsonl"
    capsys.readouterr()
    assert main(["apply", "--stack-file", str(stack_file), "--yes", "--audit-file", str(audit), "--rule", "s3-bucket-encryption"]) == 0
    out = capsys.readouterr().out
    assert out == (
        "Records per account, region, rule and decision\n"
        "account       region     rule                  decision    records\n"
        "123456789012  us-east-1  s3-bucket-encryption  exempt      1\n"
        "123456789012  us-east-1  s3-bucket-encryption  remediated  1\n"
        f"1 exempt, 1 remediated; audit records in {audit}\n"
    )
    # A second run finds only the exempt bucket: each format says so.
    for fmt, expected in [
        ("markdown", "1 final record: 1 exempt.\n\n### Records per account, region, rule and decision\n\n"
                     "| account | region | rule | decision | records |\n|---|---|---|---|---|\n"
                     "| 123456789012 | us-east-1 | s3-bucket-encryption | exempt | 1 |\n\n### Failed records\n\nNone.\n\n"
                     "Audit records in `{audit}`.\n"),
        ("csv", "section,account,region,rule,decision,records,recordId,time,resourceId,reason\n"
                "count,123456789012,us-east-1,s3-bucket-encryption,exempt,1,,,,\n"),
    ]:
        again = tmp_path / f"again-{fmt}.jsonl"
        assert main(["apply", "--stack-file", str(stack_file), "--yes", "--audit-file", str(again), "--rule", "s3-bucket-encryption", "--format", fmt]) == 0
        captured = capsys.readouterr()
        assert captured.out == expected.format(audit=again)
        if fmt == "csv":
            assert captured.err.endswith(f"1 exempt; audit records in {again}\n")
    again = tmp_path / "again-json.jsonl"
    assert main(["apply", "--stack-file", str(stack_file), "--yes", "--audit-file", str(again), "--rule", "s3-bucket-encryption", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["auditFile"] == str(again) and data["totals"] == {"exempt": 1} and data["failed"] == []


def test_apply_with_nothing_to_fix_still_prints_its_format(aws: None, stack_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["apply", "--stack-file", str(stack_file), "--yes", "--rule", "s3-bucket-encryption"]
    capsys.readouterr()
    assert main([*args, "--format", "csv"]) == 0
    assert capsys.readouterr().out == "section,account,region,rule,decision,records,recordId,time,resourceId,reason\n"
    assert main([*args, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"auditFile": None, "counts": [], "failed": [], "failedShownLimit": None, "totals": {}, "unread": []}
    assert main([*args, "--format", "markdown"]) == 0
    assert capsys.readouterr().out == "No non-compliant resources found.\n"
