"""``--format``: the renderers on small inputs (exact output), and ``scan --format`` on the moto fleet."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from governance.cli.formats import (
    Section,
    count_by,
    csv_text,
    markdown_cell,
    markdown_table,
    plain_table,
    render_sections,
    spreadsheet_safe,
)
from governance.cli.main import main
from governance.cli.scan_report import render_findings
from tests.cli.test_scan_apply_undo import HOME, OTHER, seed, stack_file

__all__ = ["stack_file"]  # the moto fleet fixture, shared with the scan/apply/undo tests

FINDING = {
    "account": HOME, "region": "us-east-1", "rule": "restricted-admin-ports", "mode": "manual", "resourceType": "AWS::EC2::SecurityGroup",
    "resourceId": "sg-0a1b", "config": "NON_COMPLIANT", "status": "non_compliant", "summary": "Revoke 0.0.0.0/0 on 22 | keep 443\nfrom 10/8", "change": {"calls": []},
}
UNREADABLE = {
    "account": OTHER, "region": "eu-west-1", "rule": None, "mode": None, "resourceType": None, "resourceId": None, "config": "UNKNOWN",
    "status": "failed", "summary": "=account 222222222222 in eu-west-1 could not be read (AccessDenied)", "change": None,
}


def test_markdown_cells_escape_backslashes_pipes_and_every_line_break() -> None:
    assert markdown_cell("a|b") == "a\\|b"
    assert markdown_cell("C:\\|x") == "C:\\\\\\|x", "a backslash in the input cannot un-escape the pipe"
    assert markdown_cell("one\ntwo\r\nthree\rfour") == "one<br>two<br>three<br>four"
    assert markdown_cell(None) == "-"
    assert markdown_cell(3) == "3"


def test_a_markdown_table_keeps_one_row_per_item_whatever_the_cells_hold() -> None:
    rendered = markdown_table(["name", "note"], [["a|b", "x\ny"], [None, 2]])
    assert rendered == "| name | note |\n|---|---|\n| a\\|b | x<br>y |\n| - | 2 |\n"


def test_spreadsheet_formulas_get_a_leading_apostrophe_and_numbers_stay_numbers() -> None:
    for dangerous in ("=SUM(A1)", "+1", "-2+3", "@cmd", "\tx", "\rx"):
        assert spreadsheet_safe(dangerous) == f"'{dangerous}"
    assert spreadsheet_safe("sg-0a1b") == "sg-0a1b"
    assert spreadsheet_safe(-1) == -1
    assert spreadsheet_safe(None) == ""


def test_csv_is_written_by_the_csv_module_with_a_fixed_header() -> None:
    text = csv_text(["id", "reason"], [["=HYPERLINK(\"x\")", "a, \"quoted\"\nline"], ["b", None]])
    assert text == 'id,reason\n"\'=HYPERLINK(""x"")","a, ""quoted""\nline"\nb,\n'
    assert list(csv.reader(io.StringIO(text))) == [["id", "reason"], ["'=HYPERLINK(\"x\")", 'a, "quoted"\nline'], ["b", ""]]


def test_plain_tables_align_columns_and_keep_each_row_on_one_line() -> None:
    assert plain_table(["a", "long header"], [["xyz", "1\n2"], [None, 3]]) == "a    long header\nxyz  1\\n2\n-    3\n"


def test_sections_render_under_their_titles_or_say_they_are_empty() -> None:
    sections = [Section("Counts", ["k", "n"], [["x", 1]]), Section("Failed", ["id"], [], empty="None failed.")]
    assert render_sections(sections, "table") == "Counts\nk  n\nx  1\n\nFailed\nNone failed.\n"
    assert render_sections(sections, "markdown") == "### Counts\n\n| k | n |\n|---|---|\n| x | 1 |\n\n### Failed\n\nNone failed.\n"
    with pytest.raises(ValueError):
        render_sections(sections, "csv")


def test_count_by_puts_the_most_first_then_by_value_and_none_last() -> None:
    items: list[dict[str, Any]] = [{"k": "b"}, {"k": None}, {"k": "a"}, {"k": "b"}, {"k": "a"}, {"k": "c"}]
    assert count_by(items, "k") == [("a", 2), ("b", 2), ("c", 1), (None, 1)]


def test_scan_markdown_summarises_then_lists_every_finding() -> None:
    assert render_findings([FINDING, UNREADABLE], "markdown") == (
        "**2 findings** in 2 accounts.\n\n"
        "### Findings per account\n\n| account | findings |\n|---|---|\n| 123456789012 | 1 |\n| 222222222222 | 1 |\n\n"
        "### Findings per rule\n\n| rule | findings |\n|---|---|\n| restricted-admin-ports | 1 |\n| - | 1 |\n\n"
        "### Findings per status\n\n| status | findings |\n|---|---|\n| failed | 1 |\n| non_compliant | 1 |\n\n"
        "### Findings\n\n| account | region | rule | resource | status | planned change |\n|---|---|---|---|---|---|\n"
        "| 123456789012 | us-east-1 | restricted-admin-ports | sg-0a1b | non_compliant | Revoke 0.0.0.0/0 on 22 \\| keep 443<br>from 10/8 |\n"
        "| 222222222222 | eu-west-1 | - | - | failed | =account 222222222222 in eu-west-1 could not be read (AccessDenied) |\n"
    )
    assert render_findings([], "markdown") == "No non-compliant resources found.\n"


def test_scan_csv_has_one_row_per_finding_and_defuses_formulas() -> None:
    assert render_findings([FINDING, UNREADABLE], "csv") == (
        "account,region,rule,mode,resourceType,resourceId,config,status,summary\n"
        '123456789012,us-east-1,restricted-admin-ports,manual,AWS::EC2::SecurityGroup,sg-0a1b,NON_COMPLIANT,non_compliant,"Revoke 0.0.0.0/0 on 22 | keep 443\nfrom 10/8"\n'
        "222222222222,eu-west-1,,,,,UNKNOWN,failed,'=account 222222222222 in eu-west-1 could not be read (AccessDenied)\n"
    )
    assert render_findings([], "csv") == "account,region,rule,mode,resourceType,resourceId,config,status,summary\n"


def test_scan_json_and_table_are_what_scan_printed_before() -> None:
    assert json.loads(render_findings([FINDING], "json")) == [FINDING]
    assert render_findings([FINDING], "json") == json.dumps([FINDING], indent=1, sort_keys=True) + "\n"
    assert render_findings([UNREADABLE], "table") == (
        "account       region     rule  resource  status  planned change\n"
        "222222222222  eu-west-1  None  None      failed  =account 222222222222 in eu-west-1 could not be read (AccessDenied)\n"
    )


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv"])
def test_json_cannot_be_combined_with_another_format(fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Refused before the stack file is even read: this path does not exist.
    assert main(["scan", "--stack-file", str(tmp_path / "missing.yaml"), "--json", "--format", fmt]) == 2
    assert capsys.readouterr().err == f"--json and --format {fmt} cannot be combined: --json is short for --format json, so pass only one of them.\n"


def test_an_unknown_format_is_refused_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["scan", "--stack", "dev", "--format", "xml"])
    assert exit_info.value.code == 2
    assert "argument --format: invalid choice: 'xml'" in capsys.readouterr().err


def _bucket_findings(stack: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> str:
    capsys.readouterr()
    assert main(["scan", "--stack-file", str(stack), "--rule", "s3-bucket-encryption", *flags]) == 1
    return capsys.readouterr().out


def test_scan_formats_on_the_moto_fleet_agree(aws: None, stack_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed(HOME, "us-east-1", "fmt")
    seed(OTHER, "eu-west-1", "fmt")
    as_json = json.loads(_bucket_findings(stack_file, capsys, "--json"))
    assert json.loads(_bucket_findings(stack_file, capsys, "--format", "json")) == as_json
    assert json.loads(_bucket_findings(stack_file, capsys, "--json", "--format", "json")) == as_json
    resources = [finding["resourceId"] for finding in as_json]
    assert sorted(resources) == ["fmt-exempt-012-us-east-1", "fmt-exempt-222-eu-west-1", "fmt-plain-012-us-east-1", "fmt-plain-222-eu-west-1"]

    rows = list(csv.DictReader(io.StringIO(_bucket_findings(stack_file, capsys, "--format", "csv"))))
    assert [(row["account"], row["resourceId"], row["status"]) for row in rows] == [(f["account"], f["resourceId"], f["status"]) for f in as_json]

    markdown = _bucket_findings(stack_file, capsys, "--format", "markdown")
    assert markdown.startswith(
        "**4 findings** in 2 accounts.\n\n"
        "### Findings per account\n\n| account | findings |\n|---|---|\n| 123456789012 | 2 |\n| 222222222222 | 2 |\n\n"
        "### Findings per rule\n\n| rule | findings |\n|---|---|\n| s3-bucket-encryption | 4 |\n\n"
        "### Findings per status\n\n| status | findings |\n|---|---|\n| exempt | 2 |\n| non_compliant | 2 |\n\n"
    )
    finding_rows = markdown.split("### Findings\n\n", 1)[1].splitlines()[2:]
    assert [row.split(" | ")[3] for row in finding_rows] == resources
    assert all(row.count(" | ") == 5 for row in finding_rows), "every finding row has exactly six cells"
