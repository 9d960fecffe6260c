"""Fixer: CloudTrail log file validation on a trail.

Only turns validation on; a trail owned by another account (an organization trail) is reported
as a failure to fix in that account.

Requests per event: compliant 1 (GetTrail); fixed 4 (+ ListTags, UpdateTrail, GetTrail to verify).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..clients import client
from .base import ApiCall, NoAction, Plan, PlanResult, Target, execute
from .cloudtrail_common import arn_account, home_region_or_none, trail_id, trail_is_exempt

IAM_ACTIONS: tuple[str, ...] = ("cloudtrail:GetTrail", "cloudtrail:ListTags", "cloudtrail:UpdateTrail")
RESOURCE_TYPES: tuple[str, ...] = ("AWS::CloudTrail::Trail",)


@dataclass(frozen=True)
class Params:
    """No params: the fix is always the same."""


@dataclass(frozen=True)
class TrailState:
    """A trail's settings as GetTrail returns them, and where the function runs."""

    trail: Mapping[str, Any]
    target: Target

    @property
    def arn(self) -> str:
        """The trail's ARN."""
        return str(self.trail["TrailARN"])

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict."""
        keys = ("Name", "TrailARN", "HomeRegion", "IsMultiRegionTrail", "IsOrganizationTrail", "LogFileValidationEnabled")
        return {key: self.trail[key] for key in keys if key in self.trail}


def parse_params(_raw: Mapping[str, Any]) -> Params:
    """No params to check."""
    return Params()


def resource_id(resource_type: str, raw_id: str, _account: str) -> str | None:
    """The trail name or ARN."""
    return trail_id(raw_id) if resource_type in RESOURCE_TYPES else None


def read_state(target: Target) -> TrailState:
    """GetTrail (by name or ARN)."""
    return TrailState(client("cloudtrail").get_trail(Name=target.resource_id)["Trail"], target)


def plan(state: TrailState, _params: Params) -> PlanResult:
    """Turn on log file validation, in the trail's home region."""
    if state.trail.get("LogFileValidationEnabled"):
        return None
    owner = arn_account(state.arn)
    if owner != state.target.account:
        return NoAction("failed", f"the trail belongs to account {owner} (an organization trail); fix it there")
    region = home_region_or_none(state.arn, state.target)
    return Plan(
        summary=f"Turn on log file validation for trail {state.arn}",
        calls=(ApiCall("cloudtrail", "UpdateTrail", {"Name": state.arn, "EnableLogFileValidation": True}, region),),
        undo=(ApiCall("cloudtrail", "UpdateTrail", {"Name": state.arn, "EnableLogFileValidation": False}, region),),
        detail={"trail": state.arn, "enableLogFileValidation": True},
        changed_resource=state.arn,
    )


def is_exempt(target: Target, state: TrailState, _plan: Plan, exemption_tag: str) -> bool:
    """Whether the trail carries the exemption tag."""
    return trail_is_exempt(state.arn, target, exemption_tag)


def apply(_target: Target, change: Plan, _params: Params) -> Plan:
    """UpdateTrail."""
    return execute(change)


def finding_resource(target: Target, state: TrailState | None) -> tuple[str, str]:
    """Findings name the trail by its ARN (facts §7.2 sample); by name only, match the ARN's end."""
    if state is not None:
        return state.arn, "EQUALS"
    if target.resource_id.startswith("arn:"):
        return target.resource_id, "EQUALS"
    return f":trail/{target.resource_id}", "CONTAINS"


# --- undo: computed from a record's before-state, never replayed ---------------------------------

UNDO_OPERATIONS: tuple[str, ...] = ("UpdateTrail",)
"""The only operation undo may call for this rule: turning validation back off on the same trail."""


def undo_calls(target: Target, before: Mapping[str, Any], _change: Mapping[str, Any], params: Params, _current: Any) -> tuple[ApiCall, ...]:
    """The UpdateTrail that restores a record's ``before`` of the record's own trail, derived by ``plan``; raises UndoRefused."""
    from .inverse import inverse_of, require

    arn = str(before.get("TrailARN") or "")
    require(arn_account(arn) == target.account, "the record's before-state does not name a trail ARN of the record's account")
    require(target.resource_id in (arn, arn.rsplit("/", 1)[-1]), f"the record's before-state names trail {arn!r}, not the record's resource {target.resource_id}")
    return inverse_of(plan(TrailState(dict(before), target), params)).undo
