"""Fixer: automatic rotation of a customer managed symmetric KMS key.

Only ever turns rotation on (EnableKeyRotation, with KMS's default period), for keys KMS can rotate:
customer managed (KeyManager CUSTOMER), KeySpec SYMMETRIC_DEFAULT, key material from KMS (Origin
AWS_KMS, so no imported material and no custom key store), enabled, and not a multi-Region replica
(a replica rotates with its primary). Every other key is left alone: AWS managed keys (AWS rotates
them every year), asymmetric and HMAC keys, imported material, custom key stores and keys pending
deletion are not evaluated; a disabled key or a replica with rotation off is a ``failed`` record that
says what to do. Rotation keeps every earlier key material, so nothing encrypted becomes unreadable.

Requests per event: compliant 2 (DescribeKey, GetKeyRotationStatus; 1 for a key that cannot rotate);
fixed 6 (+ ListResourceTags, EnableKeyRotation, DescribeKey and GetKeyRotationStatus to verify).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..clients import client
from .base import ApiCall, NoAction, Plan, PlanResult, Target, execute, name_from_arn_or_name, read_tags

IAM_ACTIONS: tuple[str, ...] = ("kms:DescribeKey", "kms:EnableKeyRotation", "kms:GetKeyRotationStatus", "kms:ListResourceTags")
# CMK_BACKING_KEY_ROTATION_ENABLED evaluates AWS::KMS::Key; the resourceId is taken to be the key id
# (the runbook's KeyId is "The ID of the CMK"); a key ARN of the function's account and region is accepted too.
RESOURCE_TYPES: tuple[str, ...] = ("AWS::KMS::Key",)
KEY_ID = re.compile(r"(?:mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:([a-z0-9-]+):(?P<account>\d{12}):key/(?P<name>.+)")
NOT_EVALUATED_STATES = ("PendingDeletion", "PendingReplicaDeletion")


@dataclass(frozen=True)
class Params:
    """No params: the fix is always the same."""


@dataclass(frozen=True)
class KeyState:
    """A key's metadata (DescribeKey) and, for a key KMS can rotate, its rotation status."""

    key_id: str
    arn: str
    key_manager: str
    key_spec: str
    origin: str
    key_state: str
    multi_region_type: str | None
    """PRIMARY or REPLICA for a multi-Region key, else None."""
    rotation_enabled: bool | None
    """None when not read: the key is of a kind this rule does not evaluate."""

    @property
    def evaluated(self) -> bool:
        """Whether the rule evaluates this key: a customer managed symmetric key with KMS key material, not pending deletion.

        UNVERIFIED: how CMK_BACKING_KEY_ROTATION_ENABLED reports the other keys; its page says only that
        automatic rotation is not supported for asymmetric, HMAC, imported and custom-key-store keys, and
        that it matches customer created keys, so they are taken as not evaluated (NOT_APPLICABLE).
        """
        return (
            self.key_manager == "CUSTOMER"
            and self.key_spec == "SYMMETRIC_DEFAULT"
            and self.origin == "AWS_KMS"
            and self.key_state not in NOT_EVALUATED_STATES
        )

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict."""
        return {
            "keyId": self.key_id,
            "arn": self.arn,
            "keyManager": self.key_manager,
            "keySpec": self.key_spec,
            "origin": self.origin,
            "keyState": self.key_state,
            "multiRegionKeyType": self.multi_region_type,
            "keyRotationEnabled": self.rotation_enabled,
        }


def parse_params(_raw: Mapping[str, Any]) -> Params:
    """No params to check."""
    return Params()


def resource_id(resource_type: str, raw_id: str, account: str) -> str | None:
    """The key id; a key ARN must be of the function's own account."""
    return name_from_arn_or_name(raw_id, account, KEY_ARN, KEY_ID) if resource_type in RESOURCE_TYPES else None


def key_state(metadata: Mapping[str, Any], rotation_enabled: bool | None) -> KeyState:
    """The fixer's state from DescribeKey's KeyMetadata and the rotation status."""
    multi_region = metadata.get("MultiRegionConfiguration") or {}
    return KeyState(
        key_id=str(metadata["KeyId"]),
        arn=str(metadata["Arn"]),
        key_manager=str(metadata.get("KeyManager", "")),
        # Older responses carry only CustomerMasterKeySpec (the same values).
        key_spec=str(metadata.get("KeySpec") or metadata.get("CustomerMasterKeySpec") or ""),
        origin=str(metadata.get("Origin", "")),
        key_state=str(metadata.get("KeyState", "")),
        multi_region_type=multi_region.get("MultiRegionKeyType") if metadata.get("MultiRegion") else None,
        rotation_enabled=rotation_enabled,
    )


def read_state(target: Target) -> KeyState:
    """DescribeKey; GetKeyRotationStatus only for a key the rule evaluates."""
    kms = client("kms")
    state = key_state(kms.describe_key(KeyId=target.resource_id)["KeyMetadata"], None)
    if not state.evaluated:
        return state
    rotation = kms.get_key_rotation_status(KeyId=state.key_id)
    return replace(state, rotation_enabled=bool(rotation["KeyRotationEnabled"]))


def plan(state: KeyState, _params: Params) -> PlanResult:
    """EnableKeyRotation on an evaluated key without rotation; a key KMS cannot rotate now is a failure that says why."""
    if not state.evaluated or state.rotation_enabled is not False:
        return None
    if state.multi_region_type == "REPLICA":
        return NoAction("failed", f"{state.arn} is a multi-Region replica key: it rotates with its primary key; turn rotation on there")
    if state.key_state != "Enabled":
        return NoAction("failed", f"{state.arn} is in state {state.key_state}; KMS turns rotation on only for an enabled key (enable it first, or exempt it)")
    return Plan(
        summary=f"Turn on automatic rotation of KMS key {state.arn}",
        calls=(ApiCall("kms", "EnableKeyRotation", {"KeyId": state.key_id}),),
        undo=(ApiCall("kms", "DisableKeyRotation", {"KeyId": state.key_id}),),
        detail={"key": state.arn, "enableKeyRotation": True},
        changed_resource=state.arn,
    )


def is_exempt(_target: Target, state: KeyState, _plan: Plan, exemption_tag: str) -> bool:
    """Whether the key carries the exemption tag (ListResourceTags; a key has at most 50 tags, one page)."""

    def tags() -> list[dict[str, Any]]:
        # KMS names the tag fields TagKey/TagValue.
        response = client("kms").list_resource_tags(KeyId=state.key_id)
        return [{"Key": tag.get("TagKey")} for tag in response.get("Tags", [])]

    return exemption_tag in read_tags(tags, ())


def apply(_target: Target, change: Plan, _params: Params) -> Plan:
    """EnableKeyRotation."""
    return execute(change)


def finding_resource(target: Target, state: KeyState | None) -> tuple[str, str]:
    """Findings name the key by its ARN; by key id only, match the ARN's end."""
    if state is not None:
        return state.arn, "EQUALS"
    return f":key/{target.resource_id}", "CONTAINS"


# --- undo: computed from a record's before-state, never replayed ---------------------------------

UNDO_OPERATIONS: tuple[str, ...] = ("DisableKeyRotation",)
"""The only operation undo may call for this rule: turning rotation back off on the same key."""


def undo_calls(target: Target, before: Mapping[str, Any], _change: Mapping[str, Any], params: Params, _current: Any) -> tuple[ApiCall, ...]:
    """The DisableKeyRotation that restores a record's ``before`` of the record's own key, derived by ``plan``; raises UndoRefused."""
    from .inverse import inverse_of, require, same_resource

    same_resource(before.get("keyId"), target.resource_id, "key")
    arn = KEY_ARN.fullmatch(str(before.get("arn") or ""))
    require(
        arn is not None and arn.group(2) == target.account and arn.group(1) == target.region and arn.group(3) == target.resource_id,
        "the record's before-state does not name a key ARN of the record's account, region and key",
    )
    rotation = before.get("keyRotationEnabled")
    require(rotation is None or isinstance(rotation, bool), "the record's before-state has no readable rotation status")
    require(before.get("multiRegionKeyType") in (None, "PRIMARY", "REPLICA"), "the record's before-state has an unknown multi-Region key type")
    fields = ("keyManager", "keySpec", "origin", "keyState")
    require(all(isinstance(before.get(name), str) for name in fields), "the record's before-state lacks the key's manager, spec, origin or state")
    manager, spec, origin, key_state_name = (str(before[name]) for name in fields)
    state = KeyState(target.resource_id, str(before["arn"]), manager, spec, origin, key_state_name, before.get("multiRegionKeyType"), rotation)
    return inverse_of(plan(state, params)).undo
