"""Whether a trail's event selectors log every management event, and the least change that makes them.

MULTI_REGION_CLOUD_TRAIL_ENABLED is NON_COMPLIANT when a trail's selectors leave out management
events or exclude management event sources (ExcludeManagementEventSources, or an eventSource
condition on an advanced management selector). A trail has either basic or advanced selectors,
never both (PutEventSelectors replaces one kind with the other), so a change keeps the kind the
trail has. Changes only ever add logging: data-event selectors are never removed or narrowed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

BOTH = frozenset({"read", "write"})
READ_WRITE = {"All": BOTH, "ReadOnly": frozenset({"read"}), "WriteOnly": frozenset({"write"})}
MAX_BASIC_SELECTORS = 5
"""PutEventSelectors accepts at most five basic event selectors per trail."""
MANAGEMENT_SELECTOR: dict[str, Any] = {"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": [], "ExcludeManagementEventSources": []}
ADVANCED_MANAGEMENT_SELECTOR: dict[str, Any] = {"Name": "Management events", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}


@dataclass(frozen=True)
class EventSelectors:
    """A trail's event selectors as GetEventSelectors returns them (one of the two kinds is used)."""

    basic: tuple[Mapping[str, Any], ...] = ()
    advanced: tuple[Mapping[str, Any], ...] = ()

    @property
    def is_advanced(self) -> bool:
        """Whether the trail uses advanced event selectors."""
        return bool(self.advanced)

    def put_params(self, trail_arn: str) -> dict[str, Any]:
        """PutEventSelectors parameters that set exactly these selectors."""
        if self.is_advanced:
            return {"TrailName": trail_arn, "AdvancedEventSelectors": [dict(selector) for selector in self.advanced]}
        return {"TrailName": trail_arn, "EventSelectors": [dict(selector) for selector in self.basic]}

    def to_json(self) -> dict[str, Any]:
        """The selectors as a JSON-ready dict, in GetEventSelectors' field names."""
        return {"EventSelectors": [dict(s) for s in self.basic], "AdvancedEventSelectors": [dict(s) for s in self.advanced]}

    @classmethod
    def from_response(cls, response: Mapping[str, Any]) -> EventSelectors:
        """The selectors of a GetEventSelectors response."""
        return cls(tuple(response.get("EventSelectors") or ()), tuple(response.get("AdvancedEventSelectors") or ()))


def logs_all_management_events(selectors: EventSelectors | None) -> bool:
    """Whether read and write management events are logged with no event source excluded.

    ``None`` is a trail without custom selectors, which logs all management events.
    UNVERIFIED: whether Config accepts a trail logging only read-only or only write-only
    management events when the rule has no readWriteType parameter; both are required here, as
    Security Hub's CloudTrail.1 does (readWriteType ALL, includeManagementEvents true).
    """
    if selectors is None:
        return True
    if selectors.is_advanced:
        covered, excluded = _advanced_coverage(selectors.advanced)
    else:
        covered, excluded = _basic_coverage(selectors.basic)
    return not excluded and covered >= BOTH


def with_all_management_events(selectors: EventSelectors) -> EventSelectors | None:
    """The least change to ``selectors`` that logs every management event; None when none is possible.

    Basic: exclusions are emptied; then a management selector without data resources is widened
    to All, or a management-only selector is added (None when the trail already has five).
    Advanced: eventSource conditions of management selectors are dropped; then the first
    management selector loses its readOnly condition, or a management selector is added.
    """
    if selectors.is_advanced:
        return EventSelectors(advanced=_advanced_fixed(selectors.advanced))
    basic = _basic_fixed(selectors.basic)
    return None if basic is None else EventSelectors(basic=basic)


def _basic_coverage(selectors: Sequence[Mapping[str, Any]]) -> tuple[frozenset[str], bool]:
    covered: set[str] = set()
    excluded = False
    for selector in selectors:
        excluded = excluded or bool(selector.get("ExcludeManagementEventSources"))
        # IncludeManagementEvents and ReadWriteType default to true and All (PutEventSelectors).
        if selector.get("IncludeManagementEvents", True):
            covered |= READ_WRITE.get(str(selector.get("ReadWriteType", "All")), frozenset())
    return frozenset(covered), excluded


def _basic_fixed(selectors: Sequence[Mapping[str, Any]]) -> tuple[Mapping[str, Any], ...] | None:
    fixed = [dict(selector) for selector in selectors]
    for selector in fixed:
        if selector.get("ExcludeManagementEventSources"):
            selector["ExcludeManagementEventSources"] = []
    if _basic_coverage(fixed)[0] >= BOTH:
        return tuple(fixed)
    # Widening a selector with data resources would also widen its data events: avoid it.
    without_data = [selector for selector in fixed if not selector.get("DataResources")]
    widen = next((s for s in without_data if s.get("IncludeManagementEvents", True)), None) or next(iter(without_data), None)
    if widen is not None:
        widen.update(IncludeManagementEvents=True, ReadWriteType="All")
        return tuple(fixed)
    if len(fixed) >= MAX_BASIC_SELECTORS:
        return None
    return (*fixed, dict(MANAGEMENT_SELECTOR))


def _is_management(selector: Mapping[str, Any]) -> bool:
    return any(
        field.get("Field") == "eventCategory" and "Management" in (field.get("Equals") or ())
        for field in selector.get("FieldSelectors", ())
    )


def _advanced_coverage(selectors: Sequence[Mapping[str, Any]]) -> tuple[frozenset[str], bool]:
    covered: set[str] = set()
    excluded = False
    for selector in filter(_is_management, selectors):
        fields = list(selector.get("FieldSelectors", ()))
        excluded = excluded or any(field.get("Field") == "eventSource" for field in fields)
        read_only = [field for field in fields if field.get("Field") == "readOnly"]
        if not read_only:
            covered |= BOTH
            continue
        for field in read_only:
            values = {str(value).lower() for value in field.get("Equals") or ()}
            covered |= {"read"} if "true" in values else set()
            covered |= {"write"} if "false" in values else set()
    return frozenset(covered), excluded


def _advanced_fixed(selectors: Sequence[Mapping[str, Any]]) -> tuple[Mapping[str, Any], ...]:
    fixed: list[dict[str, Any]] = []
    for selector in selectors:
        copy = dict(selector)
        if _is_management(selector):
            copy["FieldSelectors"] = [dict(f) for f in selector.get("FieldSelectors", ()) if f.get("Field") != "eventSource"]
        fixed.append(copy)
    if _advanced_coverage(fixed)[0] >= BOTH:
        return tuple(fixed)
    first = next((selector for selector in fixed if _is_management(selector)), None)
    if first is None:
        return (*fixed, {"Name": ADVANCED_MANAGEMENT_SELECTOR["Name"], "FieldSelectors": [dict(f) for f in ADVANCED_MANAGEMENT_SELECTOR["FieldSelectors"]]})
    first["FieldSelectors"] = [field for field in first["FieldSelectors"] if field.get("Field") != "readOnly"]
    return tuple(fixed)
