"""Fixer: S3 bucket versioning turned on (Config rule S3_BUCKET_VERSIONING_ENABLED, Security Hub S3.14).

Only ever sets versioning to ``Enabled``; it never suspends it and never sends MFA delete (changing
MFA delete needs the root user's MFA device, which no fixer has). A bucket whose MFA delete is on
cannot have its versioning state changed without that device either, so it is a ``failed`` record.

Old object versions are kept from then on and cost storage: the rule's default mode is manual.

Requests per event: compliant 1 (GetBucketVersioning); fixed 4 (+ GetBucketTagging,
PutBucketVersioning, GetBucketVersioning to verify).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..clients import client
from .base import ApiCall, NoAction, Plan, PlanResult, Target, execute
from .s3_common import BUCKET_RESOURCE_TYPES, bucket_finding_resource, bucket_is_exempt, bucket_name

IAM_ACTIONS: tuple[str, ...] = ("s3:GetBucketTagging", "s3:GetBucketVersioning", "s3:PutBucketVersioning")
RESOURCE_TYPES: tuple[str, ...] = BUCKET_RESOURCE_TYPES

ENABLED, SUSPENDED = "Enabled", "Suspended"
STATUSES = (ENABLED, SUSPENDED)
"""The versioning states S3 reports; a bucket that was never versioned reports none."""
MFA_DELETE_STATES = ("Enabled", "Disabled")


@dataclass(frozen=True)
class Params:
    """No params: the fix is always the same (the rule's isMfaDeleteEnabled is never set, see the catalog)."""


@dataclass(frozen=True)
class VersioningState:
    """A bucket's versioning as GetBucketVersioning returns it."""

    bucket: str
    status: str | None
    """Enabled, Suspended, or None for a bucket that was never versioned."""
    mfa_delete: str | None
    """Enabled, Disabled, or None when S3 does not report it (never configured)."""

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict."""
        return {"bucket": self.bucket, "status": self.status, "mfaDelete": self.mfa_delete}


def parse_params(_raw: Mapping[str, Any]) -> Params:
    """No params to check."""
    return Params()


resource_id = bucket_name
finding_resource = bucket_finding_resource


def read_state(target: Target) -> VersioningState:
    """GetBucketVersioning."""
    response = client("s3").get_bucket_versioning(Bucket=target.resource_id)
    return VersioningState(target.resource_id, response.get("Status"), response.get("MFADelete"))


def plan(state: VersioningState, _params: Params) -> PlanResult:
    """Versioning Enabled, unless it is; a bucket with MFA delete on is left to its root user."""
    if state.status == ENABLED:
        return None
    if state.mfa_delete == "Enabled":
        # S3 asks for the x-amz-mfa header (the root user's MFA device) to change the versioning state of a
        # bucket with MFA delete on; UNVERIFIED here that a request without it is refused rather than ignored.
        return NoAction("failed", "MFA delete is on for this bucket, so only its root user with the MFA device can turn versioning back on")
    previous = state.status or "never enabled"
    return Plan(
        summary=f"Turn on versioning for bucket {state.bucket} (was {previous})",
        calls=(ApiCall("s3", "PutBucketVersioning", {"Bucket": state.bucket, "VersioningConfiguration": {"Status": ENABLED}}),),
        # S3 cannot return a bucket to "never versioned": Suspended is the closest state, and what Config
        # and S3 treat alike (no new versions; versions already written stay until deleted).
        undo=(ApiCall("s3", "PutBucketVersioning", {"Bucket": state.bucket, "VersioningConfiguration": {"Status": SUSPENDED}}),),
        detail={"bucket": state.bucket, "statusBefore": state.status, "statusAfter": ENABLED},
    )


def is_exempt(target: Target, _state: VersioningState, _plan: Plan, exemption_tag: str) -> bool:
    """Whether the bucket carries the exemption tag."""
    return bucket_is_exempt(target.resource_id, exemption_tag)


def apply(_target: Target, change: Plan, _params: Params) -> Plan:
    """PutBucketVersioning."""
    return execute(change)


# --- undo: computed from a record's before-state, never replayed ---------------------------------

UNDO_OPERATIONS: tuple[str, ...] = ("PutBucketVersioning",)
"""The only operation undo may call for this rule: suspending versioning again on the same bucket."""


def versioning_from_record(bucket: str, before: Mapping[str, Any]) -> VersioningState:
    """The versioning state a record's ``before`` describes for ``bucket``; raises UndoRefused."""
    from .inverse import require, same_resource

    same_resource(before.get("bucket"), bucket, "bucket")
    status, mfa_delete = before.get("status"), before.get("mfaDelete")
    require(status is None or status in STATUSES, "the record's before-state status is not a versioning state S3 reports")
    require(mfa_delete is None or mfa_delete in MFA_DELETE_STATES, "the record's before-state mfaDelete is not an MFA delete state S3 reports")
    return VersioningState(bucket, status, mfa_delete)


def undo_calls(target: Target, before: Mapping[str, Any], _change: Mapping[str, Any], params: Params, _current: Any) -> tuple[ApiCall, ...]:
    """The PutBucketVersioning that suspends versioning again, derived by ``plan`` from a record's ``before``; raises UndoRefused."""
    from .inverse import inverse_of

    return inverse_of(plan(versioning_from_record(target.resource_id, before), params)).undo
