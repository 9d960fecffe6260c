"""Fixer: S3 bucket-level Block Public Access, all four flags on.

Only ever turns flags on. Buckets listed in params.excludedPublicBuckets are meant to be public:
they are recorded as exempt and never changed.

Requests per event: compliant 1 (GetPublicAccessBlock); fixed 4 (+ GetBucketTagging,
PutPublicAccessBlock, GetPublicAccessBlock to verify).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..clients import client
from ..errors import error_code
from .base import ApiCall, NoAction, Plan, PlanResult, Target, execute
from .s3_common import BUCKET_NAME, BUCKET_RESOURCE_TYPES, bucket_finding_resource, bucket_is_exempt, bucket_name

IAM_ACTIONS: tuple[str, ...] = ("s3:GetBucketPublicAccessBlock", "s3:GetBucketTagging", "s3:PutBucketPublicAccessBlock")
RESOURCE_TYPES: tuple[str, ...] = BUCKET_RESOURCE_TYPES

FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
"""The four Block Public Access flags."""
NO_CONFIGURATION_CODE = "NoSuchPublicAccessBlockConfiguration"


@dataclass(frozen=True)
class Params:
    """Buckets that are public on purpose."""

    excluded_public_buckets: frozenset[str]


@dataclass(frozen=True)
class PublicAccessState:
    """A Block Public Access configuration (bucket or account level)."""

    owner: str
    """Bucket name or account id."""
    configuration: Mapping[str, bool] | None
    """The four flags, or None when no configuration exists."""

    @property
    def all_on(self) -> bool:
        """Whether all four flags are on."""
        return self.configuration is not None and all(self.configuration.get(flag) is True for flag in FLAGS)

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict."""
        return {"owner": self.owner, "publicAccessBlock": dict(self.configuration) if self.configuration is not None else None}


def parse_params(raw: Mapping[str, Any]) -> Params:
    """Typed params: excludedPublicBuckets is a list of bucket names."""
    excluded = raw.get("excludedPublicBuckets") or []
    if not isinstance(excluded, list) or not all(isinstance(name, str) and BUCKET_NAME.fullmatch(name) for name in excluded):
        raise ValueError("params.excludedPublicBuckets must be a list of bucket names")
    return Params(frozenset(excluded))


resource_id = bucket_name
finding_resource = bucket_finding_resource


def read_state(target: Target) -> PublicAccessState:
    """GetPublicAccessBlock for the bucket."""
    try:
        response = client("s3").get_public_access_block(Bucket=target.resource_id)
    except ClientError as error:
        if error_code(error) == NO_CONFIGURATION_CODE:
            return PublicAccessState(target.resource_id, None)
        raise
    return PublicAccessState(target.resource_id, dict(response["PublicAccessBlockConfiguration"]))


def all_flags_on_plan(state: PublicAccessState, service: str, owner_param: Mapping[str, str], what: str) -> Plan:
    """Pure: turn every flag on, and the undo that restores the previous configuration."""
    flags_on = dict.fromkeys(FLAGS, True)
    turned_on = [flag for flag in FLAGS if not (state.configuration or {}).get(flag)]
    if state.configuration is None:
        undo = ApiCall(service, "DeletePublicAccessBlock", dict(owner_param))
    else:
        undo = ApiCall(service, "PutPublicAccessBlock", {**owner_param, "PublicAccessBlockConfiguration": dict(state.configuration)})
    return Plan(
        summary=f"Turn on {what} Block Public Access flags {', '.join(turned_on)}",
        calls=(ApiCall(service, "PutPublicAccessBlock", {**owner_param, "PublicAccessBlockConfiguration": flags_on}),),
        undo=(undo,),
        detail={"turnedOn": turned_on},
    )


def plan(state: PublicAccessState, params: Params) -> PlanResult:
    """All four flags on, unless they are, or the bucket is public on purpose."""
    if state.all_on:
        return None
    if state.owner in params.excluded_public_buckets:
        return NoAction("exempt", "the bucket is listed in params.excludedPublicBuckets")
    return all_flags_on_plan(state, "s3", {"Bucket": state.owner}, "bucket-level")


def is_exempt(target: Target, _state: PublicAccessState, _plan: Plan, exemption_tag: str) -> bool:
    """Whether the bucket carries the exemption tag."""
    return bucket_is_exempt(target.resource_id, exemption_tag)


def apply(_target: Target, change: Plan, _params: Params) -> Plan:
    """PutPublicAccessBlock."""
    return execute(change)


# --- undo: computed from a record's before-state, never replayed ---------------------------------

UNDO_OPERATIONS: tuple[str, ...] = ("PutPublicAccessBlock", "DeletePublicAccessBlock")
"""The only operations undo may call for this rule: the inverses of the fixer's own write."""


def public_access_from_record(owner: str, before: Mapping[str, Any], what: str) -> PublicAccessState:
    """The Block Public Access state a record's ``before`` describes for ``owner``; raises UndoRefused."""
    from .inverse import record_mapping, require, same_resource

    same_resource(before.get("owner"), owner, what)
    configuration = before.get("publicAccessBlock")
    if configuration is None:
        return PublicAccessState(owner, None)
    flags = record_mapping(configuration, "before-state publicAccessBlock")
    require(set(flags) <= set(FLAGS) and all(isinstance(value, bool) for value in flags.values()), "the record's before-state publicAccessBlock holds something other than the four flags")
    return PublicAccessState(owner, dict(flags))


def undo_calls(target: Target, before: Mapping[str, Any], _change: Mapping[str, Any], params: Params, _current: Any) -> tuple[ApiCall, ...]:
    """The calls that put the bucket's flags back to a record's ``before``, derived by ``plan``; raises UndoRefused."""
    from .inverse import inverse_of

    return inverse_of(plan(public_access_from_record(target.resource_id, before, "bucket"), params)).undo
