"""Fixer: EBS encryption by default in the function's region (the setting is regional, per account).

Only ever turns encryption by default on. With ``params.kmsKeyArn`` it also makes that key the
region's default EBS key, but only while the default is still the AWS managed key ``aws/ebs``: an
existing customer managed default key is never replaced. The resource is the account in this
region, which carries no tags this function can read, so the exemption tag does not apply: disable
the rule or set it to manual in the stack to leave an account or region alone.

Requests per event: compliant 1 (GetEbsEncryptionByDefault); fixed 3 (+ EnableEbsEncryptionByDefault,
GetEbsEncryptionByDefault to verify). With ``params.kmsKeyArn``, a fix also reads the default key
(GetEbsDefaultKmsKeyId) before writing and, when it is AWS managed, sends ModifyEbsDefaultKmsKeyId
(5 requests).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..clients import client
from .base import ApiCall, NoAction, Plan, PlanResult, Target, account_resource_id, execute, param_optional_string

IAM_ACTIONS: tuple[str, ...] = (
    "ec2:EnableEbsEncryptionByDefault",
    "ec2:GetEbsDefaultKmsKeyId",
    "ec2:GetEbsEncryptionByDefault",
    "ec2:ModifyEbsDefaultKmsKeyId",
)
# EC2_EBS_ENCRYPTION_BY_DEFAULT is periodic and evaluates AWS::::Account (Security Hub EC2.7's resource
# type), one evaluation per account in each region where the rule is deployed.
RESOURCE_TYPES: tuple[str, ...] = ("AWS::::Account",)
KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):key/[A-Za-z0-9-]+")
AWS_MANAGED_DEFAULT = "alias/aws/ebs"
"""How GetEbsDefaultKmsKeyId names the AWS managed key. UNVERIFIED: the API reference says it returns the
key's ARN; the AWS managed default is taken to read as ``alias/aws/ebs`` or an alias ARN ending in it. Any
other value is treated as a customer managed key and kept, so a misreading can only leave a key alone."""


@dataclass(frozen=True)
class Params:
    """The KMS key to make the default EBS key of this region, if any."""

    kms_key_arn: str | None


@dataclass(frozen=True)
class EbsDefaultState:
    """Whether new EBS volumes of the account in this region are encrypted by default."""

    account: str
    region: str
    enabled: bool

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict."""
        return {"account": self.account, "region": self.region, "ebsEncryptionByDefault": self.enabled}


def parse_params(raw: Mapping[str, Any]) -> Params:
    """``kmsKeyArn``: null, or the ARN of a KMS key (of the function's region)."""
    key = param_optional_string(raw, "kmsKeyArn")
    if key is not None and not KEY_ARN.fullmatch(key):
        raise ValueError("params.kmsKeyArn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>) or null")
    return Params(key)


resource_id = account_resource_id
"""The account id, which must be the function's own account."""


def read_state(target: Target) -> EbsDefaultState:
    """GetEbsEncryptionByDefault in the function's region."""
    enabled = client("ec2").get_ebs_encryption_by_default()["EbsEncryptionByDefault"]
    return EbsDefaultState(target.account, target.region, bool(enabled))


def plan(state: EbsDefaultState, params: Params) -> PlanResult:
    """Turn encryption by default on; with a key, also make it the default key (``apply`` keeps a customer managed one)."""
    if state.enabled:
        return None
    enable = ApiCall("ec2", "EnableEbsEncryptionByDefault", {})
    disable = ApiCall("ec2", "DisableEbsEncryptionByDefault", {})
    if params.kms_key_arn is None:
        return Plan(
            summary=f"Turn on EBS encryption by default in {state.region} (default key unchanged)",
            calls=(enable,),
            undo=(disable,),
            detail={"encryptionByDefault": True, "kmsKeyArn": None},
        )
    key_region = KEY_ARN.fullmatch(params.kms_key_arn).group(1)  # type: ignore[union-attr]
    if key_region != state.region:
        return NoAction("failed", f"params.kmsKeyArn is a key of {key_region}; EBS in {state.region} can use only a key of its own region")
    return Plan(
        summary=(
            f"Turn on EBS encryption by default in {state.region} and make {params.kms_key_arn} the default key "
            "if the default is still the AWS managed key aws/ebs"
        ),
        # ModifyEbsDefaultKmsKeyId needs encryption by default on ("the encrypted state must be true").
        calls=(enable, ApiCall("ec2", "ModifyEbsDefaultKmsKeyId", {"KmsKeyId": params.kms_key_arn})),
        undo=(ApiCall("ec2", "ResetEbsDefaultKmsKeyId", {}), disable),
        detail={"encryptionByDefault": True, "kmsKeyArn": params.kms_key_arn},
    )


def is_exempt(_target: Target, _state: EbsDefaultState, _plan: Plan, _exemption_tag: str) -> bool:
    """Never: the account in a region carries no tags this function can read."""
    return False


def is_aws_managed(key_id: str) -> bool:
    """Whether GetEbsDefaultKmsKeyId's value names the AWS managed key aws/ebs (see ``AWS_MANAGED_DEFAULT``)."""
    return key_id == AWS_MANAGED_DEFAULT or key_id.endswith(f":{AWS_MANAGED_DEFAULT}")


def apply(_target: Target, change: Plan, _params: Params) -> Plan:
    """EnableEbsEncryptionByDefault; ModifyEbsDefaultKmsKeyId only when the current default key is AWS managed."""
    if len(change.calls) == 1:
        return execute(change)
    return execute(with_default_key(change, str(client("ec2").get_ebs_default_kms_key_id().get("KmsKeyId") or "")))


def with_default_key(change: Plan, current: str) -> Plan:
    """Pure: the plan to make when GetEbsDefaultKmsKeyId reads ``current``; a customer managed default key is kept."""
    if is_aws_managed(current):
        return Plan(change.summary, change.calls, change.undo, {**change.detail, "previousDefaultKey": current, "defaultKeyChanged": True})
    return Plan(
        summary=f"Turn on EBS encryption by default; the customer managed default key {current} is kept",
        calls=change.calls[:1],
        undo=change.undo[1:],
        detail={**change.detail, "previousDefaultKey": current, "defaultKeyChanged": False},
    )


def finding_resource(target: Target, _state: Any) -> tuple[str, str]:
    """Account-level findings name the account (``AWS::::Account:<id>`` in Security Hub, facts §7.2)."""
    return target.account, "CONTAINS"


# --- undo: computed from a record's before-state, never replayed ---------------------------------

UNDO_OPERATIONS: tuple[str, ...] = ("DisableEbsEncryptionByDefault", "ResetEbsDefaultKmsKeyId")
"""The only operations undo may call for this rule: the inverses of the fixer's own writes."""


def undo_calls(target: Target, before: Mapping[str, Any], change: Mapping[str, Any], _params: Params, _current: Any) -> tuple[ApiCall, ...]:
    """The calls that restore a record's ``before`` of this account and region, derived by ``plan``; raises UndoRefused.

    The default key is reset to the AWS managed key only when the record says the fix replaced the
    AWS managed key (a customer managed default was never changed, so it is never reset).
    """
    from .inverse import inverse_of, record_mapping, require, same_resource

    same_resource(before.get("account"), target.account, "account")
    require(before.get("region") == target.region, f"the record's before-state names region {before.get('region')!r}, not the record's region {target.region}")
    enabled = before.get("ebsEncryptionByDefault")
    require(isinstance(enabled, bool), "the record's before-state does not say whether encryption by default was on")
    detail = record_mapping(change.get("detail") or {}, "change detail")
    key = detail.get("kmsKeyArn") if detail.get("defaultKeyChanged") is True else None
    require(key is None or (isinstance(key, str) and KEY_ARN.fullmatch(key) is not None), "the record's change names no valid KMS key ARN")
    planned = inverse_of(plan(EbsDefaultState(target.account, target.region, bool(enabled)), Params(key)))
    return planned.undo
