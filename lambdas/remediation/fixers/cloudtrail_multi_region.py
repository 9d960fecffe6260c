"""Fixer: the account has a logging multi-region CloudTrail trail that logs every management event.

A trail counts only when it is multi-region, logging, and its event selectors log read and write
management events with no event source excluded (as MULTI_REGION_CLOUD_TRAIL_ENABLED requires).
The fixer takes the account's own trail that needs the fewest changes (a multi-region one, then a
logging one, then one whose selectors need no change, then one of this region) and makes it
multi-region with global service events, adds management events to its selectors with the least
change, and starts logging; writes go to the trail's home region. When this region shows none of
the account's trails, ListTrails finds one homed in another region. Only when the account has no
trail at all is one created, to params.s3BucketName. Logging is never stopped, no trail is
deleted and no data-event selector is removed. An account has no tags this function can read: the
exemption tag is read from the trails that could be changed, and the first one not exempt is
changed; only when all are exempt is the decision exempt.

Requests per event with one trail and default selectors: compliant 2 (DescribeTrails,
GetTrailStatus); fixed 6 or 7 (+ ListTags, UpdateTrail and/or StartLogging, then DescribeTrails and
GetTrailStatus to verify). +1 GetEventSelectors per trail with custom selectors (+1
PutEventSelectors when they exclude management events); +1 ListTrails, and GetTrail and
GetTrailStatus per trail found, when this region shows no trail of the account; +1 ListTags per
exempt candidate passed over.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..clients import client
from .base import (
    ApiCall,
    NoAction,
    Plan,
    PlanResult,
    Target,
    execute,
    own_account_id,
    param_optional_string,
    param_string,
)
from .cloudtrail_common import TRAIL_NAME, arn_account, arn_region, home_region_or_none, trail_id, trail_is_exempt
from .cloudtrail_selectors import EventSelectors, logs_all_management_events, with_all_management_events

IAM_ACTIONS: tuple[str, ...] = (
    "cloudtrail:DescribeTrails",
    "cloudtrail:GetTrailStatus",
    "cloudtrail:GetEventSelectors",
    "cloudtrail:ListTrails",
    "cloudtrail:GetTrail",
    "cloudtrail:ListTags",
    "cloudtrail:UpdateTrail",
    "cloudtrail:PutEventSelectors",
    "cloudtrail:StartLogging",
    "cloudtrail:CreateTrail",
)
# MULTI_REGION_CLOUD_TRAIL_ENABLED's evaluated resource type is not documented: AWS::::Account is
# inferred (facts §2, UNVERIFIED), so a trail id is accepted too. Either way the fix is account-wide.
RESOURCE_TYPES: tuple[str, ...] = ("AWS::::Account", "AWS::CloudTrail::Trail")


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
    selectors: EventSelectors | None = None
    """Custom event selectors; None when the trail has none (it then logs all management events)."""

    @property
    def home_region(self) -> str | None:
        """The region the trail was created in."""
        return arn_region(self.arn)

    @property
    def satisfies_rule(self) -> bool:
        """Multi-region, logging, and logging every management event."""
        return self.is_multi_region and self.is_logging and logs_all_management_events(self.selectors)

    def to_json(self) -> dict[str, Any]:
        """The trail as a JSON-ready dict."""
        return {
            "name": self.name,
            "arn": self.arn,
            "isMultiRegionTrail": self.is_multi_region,
            "includeGlobalServiceEvents": self.include_global_service_events,
            "isLogging": self.is_logging,
            "eventSelectors": None if self.selectors is None else self.selectors.to_json(),
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
        return own_account_id(raw_id, account)
    if resource_type == "AWS::CloudTrail::Trail":
        return trail_id(raw_id)
    return None


def read_state(target: Target) -> AccountTrailsState:
    """DescribeTrails, then GetTrailStatus (by ARN) and, for custom selectors, GetEventSelectors per trail.

    When none of the trails this region shows belongs to the account, ListTrails finds the
    account's trails homed in other regions (single-region trails there are not shadowed here);
    each is read in its home region.
    UNVERIFIED: that ListTrails lists the account's trails of every region (its reference says
    "trails that are in the current account" and returns each one's HomeRegion).
    """
    cloudtrail = client("cloudtrail")
    trails = []
    for trail in cloudtrail.describe_trails(includeShadowTrails=True).get("trailList", []):
        trails.append(_trail_info(trail, cloudtrail.get_trail_status(Name=str(trail["TrailARN"])), target))
    if not any(arn_account(trail.arn) == target.account for trail in trails):
        seen = {trail.arn for trail in trails}
        for page in cloudtrail.get_paginator("list_trails").paginate():
            for listed in page.get("Trails", []):
                arn = str(listed["TrailARN"])
                if arn in seen or arn_account(arn) != target.account:
                    continue
                home = client("cloudtrail", str(listed.get("HomeRegion") or arn_region(arn)))
                trails.append(_trail_info(home.get_trail(Name=arn)["Trail"], home.get_trail_status(Name=arn), target))
    return AccountTrailsState(tuple(trails), target)


def _trail_info(trail: Mapping[str, Any], status: Mapping[str, Any], target: Target) -> TrailInfo:
    arn = str(trail["TrailARN"])
    selectors = None
    # UNVERIFIED: HasCustomEventSelectors false means the trail has CloudTrail's default selector
    # (all management events, read and write), so its selectors need no read.
    # UNVERIFIED: a member account may call GetEventSelectors on its organization's trail; if AWS
    # refuses, the error ends the event as failed and nothing is written.
    if trail.get("HasCustomEventSelectors") is not False:
        response = client("cloudtrail", home_region_or_none(arn, target)).get_event_selectors(TrailName=arn)
        selectors = EventSelectors.from_response(response)
    return TrailInfo(
        name=str(trail["Name"]),
        arn=arn,
        is_multi_region=bool(trail.get("IsMultiRegionTrail")),
        include_global_service_events=bool(trail.get("IncludeGlobalServiceEvents")),
        is_logging=bool(status.get("IsLogging")),
        selectors=selectors,
    )


def plan(state: AccountTrailsState, params: Params) -> PlanResult:
    """The fewest writes that leave one logging multi-region trail logging every management event.

    The plan changes the best candidate; ``detail["candidates"]`` holds every candidate's change
    in order of preference, so that an exempt trail gives way to the next one (``is_exempt``).
    """
    if any(trail.satisfies_rule for trail in state.trails):
        return None
    own = [trail for trail in state.trails if arn_account(trail.arn) == state.target.account]
    changes = [change for change in (_update_plan(trail, state.target) for trail in own) if change is not None]
    # Prefer a multi-region trail, then a logging one, then one whose selectors need no change, then this region's.
    changes.sort(key=lambda change: change[0])
    if changes:
        best = changes[0][1]
        candidates = [change.to_json() | {"trail": change.changed_resource, "undo": [c.to_json() for c in change.undo]} for _, change in changes]
        return Plan(best.summary, best.calls, best.undo, {**best.detail, "candidates": candidates}, best.narrowing, best.changed_resource)
    if own:
        return NoAction("failed", "every trail of the account has five basic event selectors with data resources, so management events cannot be added without changing its data events")
    if params.s3_bucket_name is None:
        return NoAction("failed", "the account has no trail to update and params.s3BucketName is not set, so none can be created")
    return _create_plan(params.trail_name, params.s3_bucket_name)


def _update_plan(trail: TrailInfo, target: Target) -> tuple[tuple[bool, bool, bool, bool, str], Plan] | None:
    """The change that makes ``trail`` satisfy the rule, with its preference key; None when it cannot."""
    region = home_region_or_none(trail.arn, target)
    calls: list[ApiCall] = []
    undo: list[ApiCall] = []
    steps: list[str] = []
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
        steps.append("make it multi-region with global service events")
    selectors_change = not logs_all_management_events(trail.selectors)
    if selectors_change:
        assert trail.selectors is not None  # only custom selectors can leave out management events
        wanted = with_all_management_events(trail.selectors)
        if wanted is None:
            return None
        calls.append(ApiCall("cloudtrail", "PutEventSelectors", wanted.put_params(trail.arn), region))
        # Undo puts back exactly the selectors the trail had.
        undo.insert(0, ApiCall("cloudtrail", "PutEventSelectors", trail.selectors.put_params(trail.arn), region))
        steps.append("log all management events")
    if not trail.is_logging:
        calls.append(ApiCall("cloudtrail", "StartLogging", {"Name": trail.arn}, region))
        undo.insert(0, ApiCall("cloudtrail", "StopLogging", {"Name": trail.arn}, region))
        steps.append("start logging")
    change = Plan(
        summary=f"Trail {trail.arn}: {' and '.join(steps)}",
        calls=tuple(calls),
        undo=tuple(undo),
        detail={"trail": trail.arn, "updated": True},
        changed_resource=trail.arn,
    )
    preference = (not trail.is_multi_region, not trail.is_logging, selectors_change, trail.home_region != target.region, trail.name)
    return preference, change


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
    """Whether every trail the plan could change carries the exemption tag; a new trail is never exempt.

    Candidates are checked in order of preference (ListTags in each one's home region) and the
    first one without the tag is noted in the plan's detail as the trail ``apply`` changes. A plan
    without candidates (undo's, of one recorded change) can change only its ``changed_resource``.
    """
    if change.changed_resource is None:
        return False
    candidates = change.detail.get("candidates") or [{"trail": change.changed_resource}]
    exempt: list[str] = []
    for candidate in candidates:
        if not trail_is_exempt(candidate["trail"], target, exemption_tag):
            break
        exempt.append(candidate["trail"])
    else:
        return True
    if exempt and isinstance(change.detail, dict):
        change.detail["exemptCandidates"] = exempt  # read by apply: the plan is this module's own record
    return False


def apply(_target: Target, change: Plan, _params: Params) -> Plan:
    """UpdateTrail, PutEventSelectors and/or StartLogging on the first non-exempt candidate, or CreateTrail then StartLogging."""
    return execute(_chosen(change))


def _chosen(change: Plan) -> Plan:
    """The candidate's change to make: the best one, unless ``is_exempt`` found it exempt."""
    exempt = set(change.detail.get("exemptCandidates", ()))
    if not exempt:
        return change
    for candidate in change.detail.get("candidates", ()):
        if candidate["trail"] not in exempt:
            calls = tuple(_api_call(data) for data in candidate["calls"])
            undo = tuple(_api_call(data) for data in candidate["undo"])
            detail = {**candidate["detail"], "passedOver": sorted(exempt)}
            return Plan(candidate["summary"], calls, undo, detail, tuple(candidate["narrowing"]), candidate["trail"])
    raise AssertionError("is_exempt reports a non-exempt candidate")


def _api_call(data: Mapping[str, Any]) -> ApiCall:
    return ApiCall(data["service"], data["operation"], data["params"], data.get("region"))


def finding_resource(target: Target, _state: Any) -> tuple[str, str]:
    """Account-level findings name the account (``AWS::::Account:<id>`` in Security Hub, facts §7.2)."""
    return target.account, "CONTAINS"


# --- undo: computed from a record's before-state, never replayed ---------------------------------

UNDO_OPERATIONS: tuple[str, ...] = ("UpdateTrail", "PutEventSelectors", "StopLogging", "DeleteTrail")
"""The only operations undo may call for this rule: the inverses of the fixer's own writes."""


def _trail_from_record(entry: Mapping[str, Any]) -> TrailInfo:
    from .cloudtrail_selectors import EventSelectors
    from .inverse import record_mapping, require

    flags = ("isMultiRegionTrail", "includeGlobalServiceEvents", "isLogging")
    require(isinstance(entry.get("name"), str) and isinstance(entry.get("arn"), str), "a trail of the record's before-state has no name or ARN")
    require(all(isinstance(entry.get(flag), bool) for flag in flags), "a trail of the record's before-state lacks its multi-region, global-events or logging flag")
    selectors = entry.get("eventSelectors")
    return TrailInfo(
        str(entry["name"]), str(entry["arn"]), entry["isMultiRegionTrail"], entry["includeGlobalServiceEvents"], entry["isLogging"],
        None if selectors is None else EventSelectors.from_response(record_mapping(selectors, "trail event selectors")),
    )


def undo_calls(target: Target, before: Mapping[str, Any], change: Mapping[str, Any], params: Params, _current: Any) -> tuple[ApiCall, ...]:
    """The undo of the change the fixer plans from a record's ``before``, for the trail the record says it changed.

    Only a candidate the fixer itself would have chosen from that state (or the trail it would
    have created) is accepted. Raises UndoRefused otherwise.
    """
    from .inverse import UndoRefused, inverse_of, record_list, record_mapping, require

    require(target.resource_id == target.account, "undo of this rule needs the record's account as its resource")
    state = AccountTrailsState(tuple(_trail_from_record(entry) for entry in record_list(before.get("trails"), "before-state trails")), target)
    planned = inverse_of(plan(state, params))
    detail = record_mapping(change.get("detail"), "change detail")
    if "created" in planned.detail:
        require("created" in detail, "the record does not describe the trail the fixer would have created")
        return planned.undo
    changed = detail.get("trail")
    for candidate in planned.detail.get("candidates", ()):
        if candidate["trail"] == changed:
            # The candidates come from ``plan`` above, never from the record: their undo is the fixer's own.
            return tuple(_api_call(call) for call in candidate["undo"])
    raise UndoRefused(f"the record's changed trail {changed!r} is not one the fixer would have changed from the before-state")
