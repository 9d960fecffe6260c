"""Fixer: the account's IAM password policy, raised to the configured minimums.

Only ever raises: each field of the result is at least as strict as the existing policy's and the
configured minimum (longer minimum length, more remembered passwords, a shorter maximum age, every
required character class kept). UpdateAccountPasswordPolicy replaces the whole policy and resets
every omitted field to its default, so the request carries every field, and AllowUsersToChangePassword
and HardExpiry are carried over as they are (false when the account had no policy, the API's
default). UpdateAccountPasswordPolicy has no condition: a change someone else makes between the read
and the write is replaced by the planned policy (the record shows what was read and written). An
account carries no tags this function can read, so the exemption tag does not apply:
disable the rule or set it to manual in the stack to leave an account alone.

Requests per event: compliant 1 (GetAccountPasswordPolicy); fixed 3 (+ UpdateAccountPasswordPolicy,
GetAccountPasswordPolicy to verify).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..clients import client
from ..errors import error_code
from .base import ApiCall, Plan, PlanResult, Target, account_resource_id, execute

IAM_ACTIONS: tuple[str, ...] = ("iam:GetAccountPasswordPolicy", "iam:UpdateAccountPasswordPolicy")
# IAM_PASSWORD_POLICY is periodic and evaluates AWS::::Account (Security Hub IAM.7's resource type).
RESOURCE_TYPES: tuple[str, ...] = ("AWS::::Account",)
NO_POLICY_CODE = "NoSuchEntity"
REQUIRED_CLASSES = ("RequireUppercaseCharacters", "RequireLowercaseCharacters", "RequireSymbols", "RequireNumbers")
RANGES = {"MinimumPasswordLength": (6, 128), "PasswordReusePrevention": (1, 24), "MaxPasswordAge": (1, 1095)}
"""UpdateAccountPasswordPolicy's ranges (botocore's IAM model)."""
POLICY_FIELDS = (*REQUIRED_CLASSES, "MinimumPasswordLength", "PasswordReusePrevention", "MaxPasswordAge", "AllowUsersToChangePassword", "HardExpiry")
"""Every field UpdateAccountPasswordPolicy takes; the fixer always sends all of them."""


@dataclass(frozen=True)
class Params:
    """The minimums, named like the Config rule's parameters."""

    require_uppercase: bool
    require_lowercase: bool
    require_symbols: bool
    require_numbers: bool
    minimum_length: int
    reuse_prevention: int
    max_age: int

    @property
    def required(self) -> dict[str, bool]:
        """The required character classes, by policy field."""
        return dict(zip(REQUIRED_CLASSES, (self.require_uppercase, self.require_lowercase, self.require_symbols, self.require_numbers), strict=True))


@dataclass(frozen=True)
class PasswordPolicyState:
    """The account's password policy as GetAccountPasswordPolicy returns it; None when none is set."""

    account: str
    policy: Mapping[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict."""
        if self.policy is None:
            return {"account": self.account, "passwordPolicy": None}
        return {"account": self.account, "passwordPolicy": {name: self.policy[name] for name in sorted(self.policy) if name != "ExpirePasswords"}}


def _bool_param(raw: Mapping[str, Any], name: str) -> bool:
    value = raw.get(name, True)
    if not isinstance(value, bool):
        raise ValueError(f"params.{name} must be true or false")
    return value


def _int_param(raw: Mapping[str, Any], name: str, default: int) -> int:
    value = raw.get(name, default)
    low, high = RANGES[name]
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"params.{name} must be a whole number from {low} to {high}")
    return value


def parse_params(raw: Mapping[str, Any]) -> Params:
    """The seven minimums; defaults are the managed rule's (true, 14, 24, 90)."""
    return Params(
        _bool_param(raw, "RequireUppercaseCharacters"),
        _bool_param(raw, "RequireLowercaseCharacters"),
        _bool_param(raw, "RequireSymbols"),
        _bool_param(raw, "RequireNumbers"),
        _int_param(raw, "MinimumPasswordLength", 14),
        _int_param(raw, "PasswordReusePrevention", 24),
        _int_param(raw, "MaxPasswordAge", 90),
    )


resource_id = account_resource_id
"""The account id, which must be the function's own account."""


def read_state(target: Target) -> PasswordPolicyState:
    """GetAccountPasswordPolicy; NoSuchEntity means the account has none."""
    try:
        response = client("iam").get_account_password_policy()
    except ClientError as error:
        if error_code(error) == NO_POLICY_CODE:
            return PasswordPolicyState(target.account, None)
        raise
    return PasswordPolicyState(target.account, dict(response["PasswordPolicy"]))


def _number(policy: Mapping[str, Any], name: str) -> int:
    """A numeric field, 0 when absent (no minimum length, no reuse prevention, passwords never expire)."""
    value = policy.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def raised(policy: Mapping[str, Any] | None, params: Params) -> dict[str, Any]:
    """Pure: the policy with every field at least as strict as both ``policy`` and ``params``; the two carried-over flags kept."""
    current = policy or {}
    age = _number(current, "MaxPasswordAge")
    merged: dict[str, Any] = {name: bool(current.get(name)) or wanted for name, wanted in params.required.items()}
    merged["MinimumPasswordLength"] = max(_number(current, "MinimumPasswordLength"), params.minimum_length)
    merged["PasswordReusePrevention"] = max(_number(current, "PasswordReusePrevention"), params.reuse_prevention)
    # 0 or absent: passwords never expire, the weakest value.
    merged["MaxPasswordAge"] = min(age, params.max_age) if age > 0 else params.max_age
    merged["AllowUsersToChangePassword"] = bool(current.get("AllowUsersToChangePassword"))
    merged["HardExpiry"] = bool(current.get("HardExpiry"))
    return merged


def _as_request(policy: Mapping[str, Any]) -> dict[str, Any]:
    """``policy`` as an UpdateAccountPasswordPolicy request: every field, so that none resets to its default."""
    request: dict[str, Any] = {}
    for name in POLICY_FIELDS:
        value = policy.get(name)
        if name in RANGES:
            if _number(policy, name) > 0:
                request[name] = _number(policy, name)
        else:
            request[name] = bool(value)
    return request


def plan(state: PasswordPolicyState, params: Params) -> PlanResult:
    """Raise every field that is weaker than the configured minimum; None when none is."""
    merged = raised(state.policy, params)
    if state.policy is not None and _as_request(state.policy) == merged:
        return None
    changed = sorted(name for name in merged if state.policy is None or _as_request(state.policy).get(name) != merged[name])
    undo = (
        ApiCall("iam", "DeleteAccountPasswordPolicy", {})
        if state.policy is None
        else ApiCall("iam", "UpdateAccountPasswordPolicy", _as_request(state.policy))
    )
    what = "Set the account password policy" if state.policy is None else f"Raise {', '.join(changed)} of the account password policy"
    return Plan(
        summary=what,
        calls=(ApiCall("iam", "UpdateAccountPasswordPolicy", merged),),
        undo=(undo,),
        detail={"raised": changed, "policy": merged},
    )


def is_exempt(_target: Target, _state: PasswordPolicyState, _plan: Plan, _exemption_tag: str) -> bool:
    """Never: an account carries no tags this function can read."""
    return False


def apply(_target: Target, change: Plan, _params: Params) -> Plan:
    """UpdateAccountPasswordPolicy with every field."""
    return execute(change)


def finding_resource(target: Target, _state: Any) -> tuple[str, str]:
    """Account-level findings name the account (``AWS::::Account:<id>`` in Security Hub, facts §7.2)."""
    return target.account, "CONTAINS"


# --- undo: computed from a record's before-state, never replayed ---------------------------------

UNDO_OPERATIONS: tuple[str, ...] = ("UpdateAccountPasswordPolicy", "DeleteAccountPasswordPolicy")
"""The only operations undo may call for this rule: putting back the policy read, or removing the one created."""


def policy_from_record(before: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The password policy of a record's before-state, checked field by field; raises UndoRefused."""
    from .inverse import record_mapping, require

    policy = before.get("passwordPolicy")
    if policy is None:
        return None
    policy = record_mapping(policy, "password policy")
    for name, value in policy.items():
        if name in RANGES:
            low, high = RANGES[name]
            require(isinstance(value, int) and not isinstance(value, bool) and (low <= value <= high or (name == "MaxPasswordAge" and value == 0)),
                    f"the record's password policy has {name} {value!r}, outside {low}-{high}")
        else:
            require(name in POLICY_FIELDS and isinstance(value, bool), f"the record's password policy has an unknown or non-boolean field {name!r}")
    return policy


def undo_calls(target: Target, before: Mapping[str, Any], _change: Mapping[str, Any], params: Params, _current: Any) -> tuple[ApiCall, ...]:
    """The call that puts back a record's ``before`` policy (or deletes the one the fix created), derived by ``plan``; raises UndoRefused."""
    from .inverse import inverse_of, require, same_resource

    same_resource(before.get("account"), target.account, "account")
    require("passwordPolicy" in before, "the record's before-state has no password policy entry")
    return inverse_of(plan(PasswordPolicyState(target.account, policy_from_record(before)), params)).undo
