"""``--since`` and ``--until``: an ISO 8601 instant or a duration before now, checked before anything is read."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from governance.lambda_code import lambda_module

UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
"""Suffixes of a relative time: ``90s``, ``30m``, ``24h``, ``7d``, ``2w``."""
RELATIVE = re.compile(r"(\d+)([smhdw])")
ALLOWED = "an ISO 8601 date or time (2026-11-27, 2026-11-27T10:00:00Z; without an offset it is UTC) or a duration before now (30m, 24h, 7d, 2w)"


class TimeRangeError(ValueError):
    """A ``--since`` or ``--until`` that is not a time, or a range that ends before it starts."""


def parse_instant(flag: str, text: str, now: datetime) -> datetime:
    """``text`` as an aware UTC datetime: ``7d`` is seven days before ``now``; ISO 8601 without offset is UTC.

    Raises ``TimeRangeError`` naming ``flag`` and what it accepts.
    """
    relative = RELATIVE.fullmatch(text.strip())
    if relative:
        return now - timedelta(**{UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise TimeRangeError(f"{flag} {text!r} is not a time: give {ALLOWED}.") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@dataclass(frozen=True)
class TimeRange:
    """Instants from ``since`` to ``until``, both inclusive; None is open-ended."""

    since: datetime | None = None
    until: datetime | None = None

    @property
    def bounded(self) -> bool:
        """Whether either end is set."""
        return self.since is not None or self.until is not None

    def contains(self, instant: datetime) -> bool:
        """Whether ``instant`` (aware) lies in the range."""
        return (self.since is None or instant >= self.since) and (self.until is None or instant <= self.until)


def time_range(since: str | None, until: str | None, now: datetime) -> TimeRange:
    """The range ``--since``/``--until`` give; raises ``TimeRangeError`` for a bad value or an empty range."""
    start = parse_instant("--since", since, now) if since is not None else None
    end = parse_instant("--until", until, now) if until is not None else None
    if start is not None and end is not None and end < start:
        raise TimeRangeError(f"--until {until!r} is before --since {since!r}: give an --until later than --since.")
    return TimeRange(start, end)


def record_time(value: Any) -> datetime | None:
    """An audit record's ``time`` as an aware datetime, or None when it is missing or not ISO 8601 with an offset.

    The Lambda reads record times the same way for its metrics, so both use its function.
    """
    instant: datetime | None = lambda_module("metrics").aware_instant(value)
    return instant
