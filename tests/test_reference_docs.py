"""The generated reference pages match the code they are generated from."""

from __future__ import annotations

from governance.limits import LIMITS
from governance.reference_docs import ASSUMPTIONS_PAGE, LIMITS_PAGE, assumptions_page, limits_page, unverified_comments


def test_the_limits_page_lists_every_limit_as_the_code_has_it() -> None:
    page = LIMITS_PAGE.read_text(encoding="utf-8")
    assert page == limits_page(), "docs/limits.md is stale: run python -m governance.reference_docs"
    assert all(limit.what in page for limit in LIMITS.values())


def test_the_assumptions_page_lists_every_unverified_comment() -> None:
    page = ASSUMPTIONS_PAGE.read_text(encoding="utf-8")
    assert page == assumptions_page(), "docs/assumptions.md is stale: run python -m governance.reference_docs"
    comments = unverified_comments()
    assert comments, "the code marks no unverified assumption, or the scan finds none"
    assert all(f"`{file}:{line}`" in page for file, line, _ in comments)
