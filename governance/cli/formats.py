"""Rendering rows as a plain table, GitHub-flavoured Markdown, JSON or CSV: what ``--format`` chooses.

A report is a list of ``Section``s (a title, headers and rows). The plain table and Markdown show
every section under its title; CSV writes one table with one fixed header, so callers give it the
rows they want in a spreadsheet; JSON is built by each command from its own data, not from sections.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

FORMATS = ("table", "markdown", "json", "csv")
"""The values ``--format`` accepts; ``table`` is the default."""

MISSING = "-"
"""What the plain table and Markdown show for a missing value (None)."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP's list for CSV injection)."""


@dataclass(frozen=True)
class Section:
    """One titled table of a report."""

    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[Any]]
    empty: str = "None."
    """What is shown instead of the table when there are no rows."""


def plain_cell(value: Any) -> str:
    """A value as a plain-table or Markdown cell: None as ``-``, everything else as ``str``."""
    return MISSING if value is None else str(value)


def one_line(value: Any) -> str:
    r"""A plain-table cell on one line: line breaks shown as ``\n`` so that a row stays a row."""
    return plain_cell(value).replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Rows under headers, each column as wide as its widest cell, separated by two spaces, one line per row."""
    cells = [[one_line(cell) for cell in row] for row in rows]
    widths = [max([len(header), *(len(row[index]) for row in cells)]) for index, header in enumerate(headers)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in [list(headers), *cells]]
    return "\n".join(lines) + "\n"


def markdown_cell(value: Any) -> str:
    r"""A value as one GitHub-flavoured Markdown table cell that cannot break the table.

    Backslashes are doubled first (so input cannot escape the pipe escape), pipes become ``\|``,
    and line breaks of any kind become ``<br>``: a raw newline would end the row.
    """
    text = plain_cell(value).replace("\\", "\\\\").replace("|", "\\|")
    return text.replace("\r\n", "<br>").replace("\r", "<br>").replace("\n", "<br>")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table: header row, delimiter row, one row per item."""
    lines = ["| " + " | ".join(markdown_cell(header) for header in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(markdown_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell that a spreadsheet will not run as a formula.

    Strings starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return get a leading
    apostrophe, which spreadsheets read as "text follows" (CSV formula injection). Numbers are
    left alone, so counts stay numbers; None becomes an empty cell.
    """
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


def csv_text(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """One header line and one line per row, written by the ``csv`` module, every cell made ``spreadsheet_safe``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows([spreadsheet_safe(cell) for cell in row] for row in rows)
    return out.getvalue()


def render_sections(sections: Sequence[Section], fmt: str) -> str:
    """Sections as a plain table (title line, table) or as Markdown (``###`` heading, table); blank line between."""
    if fmt not in ("table", "markdown"):
        raise ValueError(f"sections render as table or markdown, not {fmt}")
    parts = []
    for section in sections:
        if fmt == "markdown":
            body = markdown_table(section.headers, section.rows) if section.rows else f"{section.empty}\n"
            parts.append(f"### {section.title}\n\n{body}")
        else:
            body = plain_table(section.headers, section.rows) if section.rows else f"{section.empty}\n"
            parts.append(f"{section.title}\n{body}")
    return "\n".join(parts)


def count_by(items: Iterable[dict[str, Any]], key: str) -> list[tuple[Any, int]]:
    """How many items have each value of ``key``: most first, then by value (None last)."""
    counts = Counter(item.get(key) for item in items)
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0] is None, str(pair[0])))
