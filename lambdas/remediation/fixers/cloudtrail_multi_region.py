"""Fixer: the account has a logging multi-region CloudTrail trail.

If a multi-region trail exists but is not logging, it starts logging. Otherwise an existing trail
of this region becomes multi-region with global service events (one that is already logging is
preferred) and is made to log. Only when the account has no trail at all is one created, to
params.s3BucketName. Logging is never stopped and no trail is deleted. An account has no tags
this function can read: the exemption tag is read from the trail that would change.

Requests per event with one trail: compliant 2 (DescribeTrails, GetTrailStatus); fixed 6 or 7
(+ ListTags, UpdateTrail and/or StartLogging, then DescribeTrails and GetTrailStatus to verify).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..clients import client
from .base import ApiCall, NoAction, Plan, PlanResult, Target, execute, param_optional_string, param_string
from .cloudtrail_common import TRAIL_NAME, arn_account, arn_region, home_region_or_none, trail_id, trail_is_exempt

IAM_ACTIONS: tuple[str, ...] = (
    "cloudtrail:DescribeTrails",
    "cloudtrail:GetTrailStatus",
    "cloudtrail:ListTags",
    "cloudtrail:UpdateTrail",
    "cloudtrail:StartLogging",
    "cloudtrail:CreateTrail",
)
# MULTI_REGION_CLOUD_TRAIL_ENABLED's evaluated resource type is not documented: AWS::::Account is
# inferred (facts §2, UNVERIFIED), so a trail id is accepted too. Either way the fix is account-wide.
RESOURCE_TYPES: tuple[str, ...] = ("AWS::::Account", "AWS::CloudTrail::Trail")
ACCOUNT_ID = re.compile(r"\d{12}")


@dataclass(frozen=True)
class Params:
    """The trail to create when the account has none."""

    s3_bucket_name: str | None
    trail_name: str


@dataclass(frozen=True)
class TrailInfo:
    """One trail visible in this region, with its logging status."""

    name: str
    arn: str
    is_multi_region: bool
    include_global_service_events: bool
    is_logging: bool

    @property
    def home_region(self) -> str | None:
        """The region the trail was created in."""
        return arn_region(self.arn)

    def to_json(self) -> dict[str, Any]:
        """The trail as a JSON-ready dict."""
        return {
            "name": self.name,
            "arn": self.arn,
            "isMultiRegionTrail": self.is_multi_region,
            "includeGlobalServiceEvents": self.include_global_service_events,
            "isLogging": self.is_logging,
        }


@dataclass(frozen=True)
class AccountTrailsState:
    """Every trail the account has in this region, including other regions' multi-region trails."""

    trails: tuple[TrailInfo, ...]
    target: Target

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict."""
        return {"trails": [trail.to_json() for trail in self.trails]}


def parse_params(raw: Mapping[str, Any]) -> Params:
    """Typed params: trailName is required, s3BucketName may be null."""
    trail_name = param_string(raw, "trailName")
    if not TRAIL_NAME.fullmatch(trail_name):
        raise ValueError("params.trailName must be a CloudTrail trail name")
    return Params(param_optional_string(raw, "s3BucketName"), trail_name)


def resource_id(resource_type: str, raw_id: str, account: str) -> str | None:
    """The account id (which must be the function's own), or a trail name or ARN."""
    if resource_type == "AWS::::Account":
        return raw_id if ACCOUNT_ID.fullmatch(raw_id) and raw_id == account else None
    if resource_type == "AWS::CloudTrail::Trail":
        return trail_id(raw_id)
    return None


def read_state(target: Target) -> AccountTrailsState:
    """DescribeTrails, then GetTrailStatus (by ARN) for each trail."""
    cloudtrail = client("cloudtrail")
    trails = []
    for trail in cloudtrail.describe_trails(includeShadowTrails=True).get("trailList", []):
        arn = str(trail["TrailARN"])
        status = cloudtrail.get_trail_status(Name=arn)
        trails.append(
            TrailInfo(
                name=str(trail["Name"]),
                arn=arn,
                is_multi_region=bool(trail.get("IsMultiRegionTrail")),
                include_global_service_events=bool(trail.get("IncludeGlobalServiceEvents")),
                is_logging=bool(status.get("IsLogging")),
            )
        )
    return AccountTrailsState(tuple(trails), target)


def plan(state: AccountTrailsState, params: Params) -> PlanResult:
    """The fewest writes that leave one logging multi-region trail."""
    if any(trail.is_multi_region and trail.is_logging for trail in state.trails):
        return None
    own = [trail for trail in state.trails if arn_account(trail.arn) == state.target.account]
    # Prefer a multi-region trail that only needs to log, then a logging trail of this region.
    candidates = sorted(
        (trail for trail in own if trail.is_multi_region or trail.home_region == state.target.region),
        key=lambda trail: (not trail.is_multi_region, not trail.is_logging, trail.name),
    )
    if candidates:
        return _update_plan(candidates[0], state.target)
    if params.s3_bucket_name is None:
        return NoAction("failed", "the account has no trail to update and params.s3BucketName is not set, so none can be created")
    return _create_plan(params.trail_name, params.s3_bucket_name)


def _update_plan(trail: TrailInfo, target: Target) -> Plan:
    region = home_region_or_none(trail.arn, target)
    calls: list[ApiCall] = []
    undo: list[ApiCall] = []
    if not trail.is_multi_region or not trail.include_global_service_events:
        calls.append(ApiCall("cloudtrail", "UpdateTrail", {"Name": trail.arn, "IsMultiRegionTrail": True, "IncludeGlobalServiceEvents": True}, region))
        undo.append(
            ApiCall(
                "cloudtrail",
                "UpdateTrail",
                {"Name": trail.arn, "IsMultiRegionTrail": trail.is_multi_region, "IncludeGlobalServiceEvents": trail.include_global_service_events},
                region,
            )
        )
    if not trail.is_logging:
        calls.append(ApiCall("cloudtrail", "StartLogging", {"Name": trail.arn}, region))
        undo.insert(0, ApiCall("cloudtrail", "StopLogging", {"Name": trail.arn}, region))
    steps = " and ".join(
        step
        for step, needed in (("make it multi-region with global service events", bool(calls) and calls[0].operation == "UpdateTrail"), ("start logging", not trail.is_logging))
        if needed
    )
    return Plan(
        summary=f"Trail {trail.arn}: {steps}",
        calls=tuple(calls),
        undo=tuple(undo),
        detail={"trail": trail.arn, "updated": True},
        changed_resource=trail.arn,
    )


def _create_plan(trail_name: str, bucket: str) -> Plan:
    create = {
        "Name": trail_name,
        "S3BucketName": bucket,
        "IsMultiRegionTrail": True,
        "IncludeGlobalServiceEvents": True,
        "EnableLogFileValidation": True,
    }
    return Plan(
        summary=f"Create multi-region trail {trail_name} to bucket {bucket} and start logging",
        calls=(ApiCall("cloudtrail", "CreateTrail", create), ApiCall("cloudtrail", "StartLogging", {"Name": trail_name})),
        undo=(ApiCall("cloudtrail", "StopLogging", {"Name": trail_name}), ApiCall("cloudtrail", "DeleteTrail", {"Name": trail_name})),
        detail={"created": create},
    )


def is_exempt(target: Target, _state: AccountTrailsState, change: Plan, exemption_tag: str) -> bool:
    """Whether the trail the plan changes carries the exemption tag; a new trail is never exempt."""
    if change.changed_resource is None:
        return False
    return trail_is_exempt(change.changed_resource, target, exemption_tag)


def apply(_target: Target, change: Plan, _params: Params) -> Plan:
    """UpdateTrail and/or StartLogging, or CreateTrail then StartLogging."""
    return execute(change)


def finding_resource(target: Target, _state: Any) -> tuple[str, str]:
    """Account-level findings name the account (``AWS::::Account:<id>`` in Security Hub, facts §7.2)."""
    return target.account, "CONTAINS"
