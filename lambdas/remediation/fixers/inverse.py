"""Undo computed, not replayed: what the fixers share to derive the inverse of a change from a record's before-state.

An audit record is data anyone with write access to a file or log can edit, so undo never runs the
calls a record lists. Each fixer rebuilds its own state from the record's before-state, plans as it
would have planned, and takes the undo of that plan (restricted to its ``UNDO_OPERATIONS``). Anything
that does not parse, names another resource, or would not have been changed is refused with one
sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import Plan, PlanResult


class UndoRefused(ValueError):
    """The record cannot be undone safely; the message is one sentence saying why."""


def require(condition: bool, sentence: str) -> None:
    """Refuse with ``sentence`` unless ``condition`` holds."""
    if not condition:
        raise UndoRefused(sentence)


def record_mapping(value: Any, what: str) -> Mapping[str, Any]:
    """``value`` as a JSON object, or a refusal naming ``what``."""
    require(isinstance(value, Mapping), f"the record's {what} is not a JSON object")
    mapping: Mapping[str, Any] = value
    return mapping


def record_list(value: Any, what: str) -> list[Mapping[str, Any]]:
    """``value`` as a list of JSON objects, or a refusal naming ``what``."""
    require(isinstance(value, list) and all(isinstance(entry, Mapping) for entry in value), f"the record's {what} is not a list of JSON objects")
    entries: list[Mapping[str, Any]] = value
    return entries


def same_resource(recorded: Any, resource: str, what: str) -> None:
    """Refuse unless the before-state names the record's own resource."""
    require(recorded == resource, f"the record's before-state names {what} {recorded!r}, not the record's resource {resource}")


NOTHING_TO_UNDO = "the fixer would not have changed the recorded before-state, so there is nothing it could undo"
"""Why a record whose before-state the fixer would have left as it was is refused."""


def inverse_of(planned: PlanResult) -> Plan:
    """The plan the fixer makes from the recorded before-state; refused when it would have changed nothing."""
    require(isinstance(planned, Plan), NOTHING_TO_UNDO)
    plan: Plan = planned  # type: ignore[assignment]
    return plan
