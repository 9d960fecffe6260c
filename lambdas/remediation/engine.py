"""The remediation decision for one compliance event: read, plan, check exemption and mode, apply, verify.

Nothing is written unless the resource is non-compliant, not exempt (exemptions fail closed) and
its rule is in ``auto`` mode (a protected rule never is). Permanent AWS errors become a ``failed``
outcome; transient ones are raised for Lambda to retry, after the attempt's progress (before-state,
planned change and its undo) is noted in ``Progress`` for the handler's non-final record.

A fix counts as ``remediated`` only when a write took effect and verification then read the
resource as compliant (the fixer plans nothing for it); when the writes turn out to have changed
nothing (a duplicate delivery already fixed it), the outcome is ``already_compliant``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
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
    verified: bool = False
    """Whether a read made after the writes (or instead of them) found the resource compliant."""


@dataclass
class Progress:
    """What one attempt has read and planned so far; recorded when a transient error interrupts it."""

    before: dict[str, Any] | None = None
    change: dict[str, Any] | None = None
    undo: tuple[dict[str, Any], ...] = ()


def remediate(event: ComplianceEvent, exemption_tag: str, progress: Progress | None = None) -> Outcome:
    """Decide and, in auto mode, fix the event's resource. Raises AWS errors as they come.

    A protected rule arrives here already in manual mode (see config.RuleSetting); when the
    deployment asked for ``auto`` anyway, its dry run says so at warning level.
    """
    outcome = remediate_target(event.rule.key, event.rule.mode, event.target, event.rule.params, exemption_tag, progress=progress)
    if event.rule.auto_refused and outcome.decision == "dry_run":
        reason = (
            f"rule key {event.rule.key} is protected in this stack, so it is never remediated automatically although its mode is auto; "
            f"{outcome.reason}"
        )
        outcome = replace(outcome, reason=reason, level="warning")
    return outcome


def remediate_target(
    rule_key: str,
    mode: str,
    target: Target,
    params: Any,
    exemption_tag: str,
    state: Any = None,
    exempt: bool | None = None,
    verify_after: bool = True,
    progress: Progress | None = None,
) -> Outcome:
    """Decide and, in ``auto`` mode, fix one resource; the operator CLI calls this too.

    ``state`` is the fixer's read of the resource when the caller already has it, and ``exempt``
    whether it carries the exemption tag (the CLI reads many resources and their tags in a few
    calls); otherwise the fixer reads them. ``verify_after=False`` leaves verification to a caller
    that re-reads many resources at once. ``progress``, when given, receives the before-state and
    the planned change as soon as they are known.
    """
    progress = progress if progress is not None else Progress()
    fixer = load_fixer(rule_key)
    if state is None:
        state = fixer.read_state(target)
    before = state.to_json()
    progress.before = before
    finding = fixer.finding_resource(target, state)
    result = fixer.plan(state, params)
    if result is None:
        reason = "the resource is already compliant; nothing was changed"
        return Outcome("already_compliant", reason, before=before, finding_resource=finding, verified=True)
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
    progress.change, progress.undo = planned, undo
    applied = fixer.apply(target, result, params)
    applied_json = applied.to_json()
    applied_undo = tuple(call.to_json() for call in applied.undo)
    if not applied.calls:
        # The fixer adapted to what it found while writing and no write took effect (another
        # delivery of the event got there first): this delivery changed nothing.
        reason = f"a concurrent change had already made the resource compliant; nothing was changed ({applied.summary})"
        return Outcome("already_compliant", reason, before=before, change=applied_json, finding_resource=finding)
    if not verify_after:
        level = "warning" if applied.narrowing else "info"
        return Outcome("remediated", applied.summary, level, before, None, applied_json, applied_undo, applied.narrowing, finding)
    after, verified, left = verify(fixer, target, params, applied_json)
    if left is not None:
        # The writes took, but what the fixer left alone on purpose keeps the resource non-compliant:
        # not verified, so Security Hub is told (NOTIFIED), never RESOLVED.
        return Outcome("remediated", f"{applied.summary}; {left}", "warning", before, after, applied_json, applied_undo, applied.narrowing, finding)
    if not verified:
        reason = "the change was made, but the resource still reads as non-compliant"
        return Outcome("failed", reason, "error", before, after, applied_json, applied_undo, applied.narrowing, finding)
    level = "warning" if applied.narrowing else "info"
    return Outcome("remediated", applied.summary, level, before, after, applied_json, applied_undo, applied.narrowing, finding, verified=True)


def verify(
    fixer: Fixer, target: Target, params: Any, change: dict[str, Any] | None = None, first_read: Any = None
) -> tuple[dict[str, Any], bool, str | None]:
    """Read the resource again until it is compliant or the reads run out; returns the last state.

    Compliant means the fixer plans nothing for it: a plan that refuses to act (NoAction) is not.
    The third value is None, or, when all that is left is what ``change`` left alone on purpose
    (see ``left_alone``), the fixer's sentence saying so; the reads stop there. ``first_read`` is
    the fixer's state from a read the caller made after the writes (a batch read of many
    resources); it stands for the first read.
    """
    after: dict[str, Any] = {}
    for attempt, delay in enumerate(VERIFY_DELAYS_SECONDS):
        if delay:
            sleep(delay)
        state = first_read if attempt == 0 and first_read is not None else fixer.read_state(target)
        after = state.to_json()
        remaining = fixer.plan(state, params)
        if remaining is None:
            return after, True, None
        left = left_alone(fixer, remaining, change)
        if left is not None:
            return after, False, left
    return after, False, None


def left_alone(fixer: Fixer, remaining: Any, change: dict[str, Any] | None) -> str | None:
    """What a fixer that changes several resources per event left alone on purpose (exempt ones), or None.

    Only a fixer that defines ``left_alone(remaining, change)`` can leave part of its plan undone;
    for every other fixer a plan that remains after the writes is a failed fix.
    """
    judge = getattr(fixer, "left_alone", None)
    if judge is None or change is None or not isinstance(remaining, Plan):
        return None
    sentence: str | None = judge(remaining, change)
    return sentence
