"""Public shares, as the fixers of public snapshots and documents see them (pure).

A snapshot or document shared publicly lists a public marker (``all``; Systems Manager spells it
``All``) among the account ids it is shared with. These fixers remove the public marker and
nothing else: every account-specific share survives the fix, and undo adds back only the marker.
"""

from __future__ import annotations

from collections.abc import Iterable

PUBLIC = "all"
"""The public marker, compared without regard to case."""


def is_public(value: str) -> bool:
    """Whether ``value`` is the public marker rather than an account id."""
    return value.lower() == PUBLIC


def public_entries(shares: Iterable[str]) -> tuple[str, ...]:
    """The public markers among ``shares``, as listed: the only entries a fix removes."""
    return tuple(value for value in shares if is_public(value))


def account_shares(shares: Iterable[str]) -> tuple[str, ...]:
    """Every entry that is not the public marker, in order: the shares a fix keeps."""
    return tuple(value for value in shares if not is_public(value))


def after_removal(shares: Iterable[str], removed: Iterable[str]) -> tuple[str, ...]:
    """The shares left once ``removed`` is taken out (what AWS reports after the fix)."""
    gone = {value.lower() for value in removed}
    return tuple(value for value in shares if value.lower() not in gone)
