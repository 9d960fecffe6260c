"""Fixer: S3 account-level Block Public Access (s3control), all four flags on.

Only ever turns flags on. An account has no tags this function can read, so the exemption tag
does not apply: disable the rule or set it to manual in the stack to leave an account alone.

Requests per event: compliant 1 (GetPublicAccessBlock); fixed 3 (+ PutPublicAccessBlock,
GetPublicAccessBlock to verify).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..clients import client
from ..errors import error_code
from .base import Plan, PlanResult, Target, account_resource_id, execute
from .s3_bucket_public_access import NO_CONFIGURATION_CODE, PublicAccessState, all_flags_on_plan

IAM_ACTIONS: tuple[str, ...] = ("s3:GetAccountPublicAccessBlock", "s3:PutAccountPublicAccessBlock")
# S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC evaluates AWS::::Account with the account id (facts §2).
RESOURCE_TYPES: tuple[str, ...] = ("AWS::::Account",)


@dataclass(frozen=True)
class Params:
    """No params: the fix is always the same."""


def parse_params(_raw: Mapping[str, Any]) -> Params:
    """No params to check."""
    return Params()


resource_id = account_resource_id
"""The account id, which must be the function's own account."""


def read_state(target: Target) -> PublicAccessState:
    """s3control GetPublicAccessBlock for the account."""
    try:
        response = client("s3control").get_public_access_block(AccountId=target.account)
    except ClientError as error:
        if error_code(error) == NO_CONFIGURATION_CODE:
            return PublicAccessState(target.account, None)
        raise
    return PublicAccessState(target.account, dict(response["PublicAccessBlockConfiguration"]))


def plan(state: PublicAccessState, _params: Params) -> PlanResult:
    """All four flags on, unless they are."""
    if state.all_on:
        return None
    return all_flags_on_plan(state, "s3control", {"AccountId": state.owner}, "account-level")


def is_exempt(_target: Target, _state: PublicAccessState, _plan: Plan, _exemption_tag: str) -> bool:
    """Never: an account carries no tags this function can read."""
    return False


def apply(_target: Target, change: Plan, _params: Params) -> Plan:
    """s3control PutPublicAccessBlock."""
    return execute(change)


def finding_resource(target: Target, _state: Any) -> tuple[str, str]:
    """Account-level findings name the account (``AWS::::Account:<id>`` in Security Hub, facts §7.2)."""
    return target.account, "CONTAINS"


# --- undo: computed from a record's before-state, never replayed ---------------------------------

UNDO_OPERATIONS: tuple[str, ...] = ("PutPublicAccessBlock", "DeletePublicAccessBlock")
"""The only operations undo may call for this rule: the inverses of the fixer's own write."""


def undo_calls(target: Target, before: Mapping[str, Any], _change: Mapping[str, Any], params: Params, _current: Any) -> tuple[Any, ...]:
    """The calls (``ApiCall``) that put the account's flags back to a record's ``before``, derived by ``plan``; raises UndoRefused."""
    from .inverse import inverse_of, same_resource
    from .s3_bucket_public_access import public_access_from_record

    same_resource(target.resource_id, target.account, "account")
    return inverse_of(plan(public_access_from_record(target.account, before, "account"), params)).undo
