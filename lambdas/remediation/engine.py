"""The remediation decision for one compliance event: read, plan, check exemption and mode, apply, verify.

Nothing is written unless the resource is non-compliant, not exempt (exemptions fail closed) and
its rule is in ``auto`` mode. Permanent AWS errors become a ``failed`` outcome; transient ones are
raised for Lambda to retry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .audit import Decision, Level
from .events import ComplianceEvent
from .fixers import load_fixer
from .fixers.base import Fixer, NoAction, Plan, TagsUnreadable, Target

VERIFY_DELAYS_SECONDS = (0.0, 1.0, 2.0)
"""Waits before each verification read; later reads allow for eventual consistency."""

sleep: Callable[[float], None] = time.sleep
"""How the engine waits between verification reads (tests replace it)."""


@dataclass(frozen=True)
class Outcome:
    """What the engine decided and did, before it becomes an audit record."""

    decision: Decision
    reason: str
    level: Level = "info"
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    change: dict[str, Any] | None = None
    undo: tuple[dict[str, Any], ...] = ()
    narrowing: tuple[str, ...] = ()
    finding_resource: tuple[str, str] | None = None
    """Security Hub ResourceId filter for the resource, once its state is known."""


def remediate(event: ComplianceEvent, exemption_tag: str) -> Outcome:
    """Decide and, in auto mode, fix the event's resource. Raises AWS errors as they come."""
    return remediate_target(event.rule.key, event.rule.mode, event.target, event.rule.params, exemption_tag)


def remediate_target(
    rule_key: str,
    mode: str,
    target: Target,
    params: Any,
    exemption_tag: str,
    state: Any = None,
    exempt: bool | None = None,
    verify_after: bool = True,
) -> Outcome:
    """Decide and, in ``auto`` mode, fix one resource; the operator CLI calls this too.

    ``state`` is the fixer's read of the resource when the caller already has it, and ``exempt``
    whether it carries the exemption tag (the CLI reads many resources and their tags in a few
    calls); otherwise the fixer reads them. ``verify_after=False`` leaves verification to a caller
    that re-reads many resources at once.
    """
    fixer = load_fixer(rule_key)
    if state is None:
        state = fixer.read_state(target)
    before = state.to_json()
    finding = fixer.finding_resource(target, state)
    result = fixer.plan(state, params)
    if result is None:
        return Outcome("already_compliant", "the resource is already compliant; nothing was changed", before=before, finding_resource=finding)
    if isinstance(result, NoAction):
        level: Level = "error" if result.decision == "failed" else "info"
        return Outcome(result.decision, result.reason, level, before=before, finding_resource=finding)
    planned = result.to_json()
    try:
        if exempt is None:
            exempt = fixer.is_exempt(target, state, result, exemption_tag)
    except TagsUnreadable as error:
        reason = f"the tags could not be read ({error}); exemptions fail closed, so nothing was changed"
        return Outcome("failed", reason, "error", before=before, change=planned, finding_resource=finding)
    if exempt:
        return Outcome("exempt", f"the resource is tagged {exemption_tag}; nothing was changed", before=before, change=planned, finding_resource=finding)
    undo = tuple(call.to_json() for call in result.undo)
    if mode != "auto":
        reason = f"mode is manual; planned, not applied: {result.summary}"
        return Outcome("dry_run", reason, before=before, change=planned, undo=undo, narrowing=result.narrowing, finding_resource=finding)
    applied = fixer.apply(target, result, params)
    applied_json = applied.to_json()
    applied_undo = tuple(call.to_json() for call in applied.undo)
    if not verify_after:
        level = "warning" if applied.narrowing else "info"
        return Outcome("remediated", applied.summary, level, before, None, applied_json, applied_undo, applied.narrowing, finding)
    after, verified = verify(fixer, target, params)
    if not verified:
        reason = "the change was made, but the resource still reads as non-compliant"
        return Outcome("failed", reason, "error", before, after, applied_json, applied_undo, applied.narrowing, finding)
    level = "warning" if applied.narrowing else "info"
    return Outcome("remediated", applied.summary, level, before, after, applied_json, applied_undo, applied.narrowing, finding)


def verify(fixer: Fixer, target: Target, params: Any) -> tuple[dict[str, Any], bool]:
    """Read the resource again until it is compliant or the reads run out; returns the last state."""
    after: dict[str, Any] = {}
    for delay in VERIFY_DELAYS_SECONDS:
        if delay:
            sleep(delay)
        state = fixer.read_state(target)
        after = state.to_json()
        if not isinstance(fixer.plan(state, params), Plan):
            return after, True
    return after, False
