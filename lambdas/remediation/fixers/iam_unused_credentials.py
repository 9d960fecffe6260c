"""Fixer: IAM user credentials unused for maxCredentialUsageAge days (IAM_USER_UNUSED_CREDENTIALS_CHECK).

Deactivates (UpdateAccessKey Status=Inactive) each active access key of the user that was last used,
or if never used was created, more than ``maxCredentialUsageAge`` days ago. It never deletes a key,
and never touches a console password: the only way to disable one is DeleteLoginProfile, which
deletes it for good (the password cannot be recovered). An unused console password is therefore
reported with a sentence saying an operator must remove it: alone it is a ``failed`` record; next to
stale keys the keys are deactivated and the record is still ``failed``, because Config keeps the user
NON_COMPLIANT until the password is gone (a ``remediated`` record would let Security Hub call it fixed).
Undo reactivates exactly the keys the fix deactivated.

Config's resourceId is the user id (``AIDA…``), not the name: ListUsers (paginated) maps it to the name.

Requests per event: compliant 4 (ListUsers, GetLoginProfile, ListAccessKeys, GetAccessKeyLastUsed per
active key — one here); fixed 9 (+ ListUserTags, UpdateAccessKey per stale key, then ListUsers,
GetLoginProfile, ListAccessKeys to verify; a deactivated key needs no GetAccessKeyLastUsed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from ..clients import client
from ..errors import error_code
from .base import ApiCall, NoAction, Plan, PlanResult, Target, execute, read_tags

IAM_ACTIONS: tuple[str, ...] = (
    "iam:ListUsers",
    "iam:GetLoginProfile",
    "iam:ListAccessKeys",
    "iam:GetAccessKeyLastUsed",
    "iam:ListUserTags",
    "iam:UpdateAccessKey",
)
RESOURCE_TYPES: tuple[str, ...] = ("AWS::IAM::User",)
USER_ID = re.compile(r"AIDA[A-Z0-9]{12,124}")
"""IAM user ids: AIDA and upper-case letters and digits (Config's resourceId of AWS::IAM::User, facts §4)."""
ACCESS_KEY_ID = re.compile(r"AKIA[A-Z0-9]{12,124}")
NO_SUCH_ENTITY = "NoSuchEntity"
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Params:
    """How long a credential may go unused."""

    max_credential_usage_age: int
    """Days (the rule's maxCredentialUsageAge)."""


@dataclass(frozen=True)
class AccessKey:
    """One access key: its status, creation and (for active keys) last use."""

    key_id: str
    status: str
    created: datetime
    last_used: datetime | None = None
    """None: never used (read for active keys only)."""

    def to_json(self) -> dict[str, Any]:
        """The key as a JSON-ready dict."""
        data: dict[str, Any] = {"AccessKeyId": self.key_id, "Status": self.status, "CreateDate": self.created.isoformat()}
        if self.status == "Active":
            data["LastUsedDate"] = self.last_used.isoformat() if self.last_used else None
        return data


@dataclass(frozen=True)
class CredentialsState:
    """A user's console password and access keys as read at ``read_at``; ``user_name`` is None when no user has the id."""

    user_id: str
    user_name: str | None
    user_arn: str | None
    read_at: datetime
    password_created: datetime | None = None
    """Creation of the console password (login profile); None when the user has none."""
    password_last_used: datetime | None = None
    keys: tuple[AccessKey, ...] = field(default_factory=tuple)

    @property
    def has_password(self) -> bool:
        """Whether the user has a console password."""
        return self.password_created is not None

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict, precise enough to plan again (and so to undo)."""
        password = None
        if self.password_created is not None:
            last = self.password_last_used.isoformat() if self.password_last_used else None
            password = {"createDate": self.password_created.isoformat(), "lastUsed": last}
        return {
            "userId": self.user_id,
            "userName": self.user_name,
            "userArn": self.user_arn,
            "readAt": self.read_at.isoformat(),
            "consolePassword": password,
            "accessKeys": [key.to_json() for key in self.keys],
        }


def parse_params(raw: Mapping[str, Any]) -> Params:
    """Typed params: maxCredentialUsageAge is a whole number of days."""
    days = raw.get("maxCredentialUsageAge", 90)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650:
        raise ValueError("params.maxCredentialUsageAge must be a whole number of days from 1 to 3650")
    return Params(days)


def resource_id(resource_type: str, raw_id: str, _account: str) -> str | None:
    """The IAM user id (AIDA…)."""
    return raw_id if resource_type in RESOURCE_TYPES and USER_ID.fullmatch(raw_id) else None


# --- read ---------------------------------------------------------------------------------------


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def find_user(user_id: str) -> Mapping[str, Any] | None:
    """The ListUsers entry with ``user_id`` (pages of up to 1,000 users), or None."""
    iam = client("iam")
    request: dict[str, Any] = {"MaxItems": 1000}
    while True:
        response = iam.list_users(**request)
        for user in response.get("Users", []):
            if user.get("UserId") == user_id:
                return dict(user)
        if not response.get("IsTruncated") or not response.get("Marker"):
            return None
        request["Marker"] = response["Marker"]


def _password_created(user_name: str) -> datetime | None:
    try:
        profile = client("iam").get_login_profile(UserName=user_name)["LoginProfile"]
    except ClientError as error:
        if error_code(error) == NO_SUCH_ENTITY:
            return None
        raise
    return _aware(profile["CreateDate"])


def _access_keys(user_name: str) -> tuple[AccessKey, ...]:
    iam = client("iam")
    keys = []
    request: dict[str, Any] = {"UserName": user_name}
    while True:
        response = iam.list_access_keys(**request)
        for metadata in response.get("AccessKeyMetadata", []):
            last_used = None
            if metadata.get("Status") == "Active":
                used = iam.get_access_key_last_used(AccessKeyId=metadata["AccessKeyId"]).get("AccessKeyLastUsed", {}).get("LastUsedDate")
                last_used = _aware(used) if used else None
            keys.append(AccessKey(metadata["AccessKeyId"], str(metadata.get("Status")), _aware(metadata["CreateDate"]), last_used))
        if not response.get("IsTruncated") or not response.get("Marker"):
            return tuple(keys)
        request["Marker"] = response["Marker"]


def read_state(target: Target) -> CredentialsState:
    """ListUsers (id → name, PasswordLastUsed), GetLoginProfile, ListAccessKeys, GetAccessKeyLastUsed per active key."""
    read_at = datetime.now(UTC)
    user = find_user(target.resource_id)
    if user is None:
        return CredentialsState(target.resource_id, None, None, read_at)
    name = str(user["UserName"])
    used = user.get("PasswordLastUsed")
    return CredentialsState(
        target.resource_id,
        name,
        str(user.get("Arn") or f"arn:{target.partition}:iam::{target.account}:user/{name}"),
        read_at,
        _password_created(name),
        _aware(used) if used else None,
        _access_keys(name),
    )


# --- plan ---------------------------------------------------------------------------------------


def _stale(last_used: datetime | None, created: datetime, read_at: datetime, params: Params) -> bool:
    # Unused for more than the age: last use, or creation when never used (research R17, inferred from the
    # AWS runbook and ASR; UNVERIFIED on the rule page, also whether exactly maxCredentialUsageAge days counts).
    return read_at - (last_used or created) > params.max_credential_usage_age * DAY


def stale_keys(state: CredentialsState, params: Params) -> tuple[AccessKey, ...]:
    """The active keys unused for more than the age; inactive keys are ignored, as the rule ignores them."""
    return tuple(key for key in state.keys if key.status == "Active" and _stale(key.last_used, key.created, state.read_at, params))


def stale_password(state: CredentialsState, params: Params) -> bool:
    """Whether the user has a console password unused for more than the age."""
    return state.password_created is not None and _stale(state.password_last_used, state.password_created, state.read_at, params)


def password_sentence(state: CredentialsState, params: Params) -> str:
    """What the record says about an unused console password: an operator must remove it."""
    since = state.password_last_used or state.password_created
    how = "last used" if state.password_last_used else "never used, created"
    return (
        f"the console password of IAM user {state.user_name} is unused for more than {params.max_credential_usage_age} days "
        f"({how} {since.isoformat() if since else 'unknown'}); an operator must remove it (DeleteLoginProfile), which this "
        "function never does because it deletes the password and cannot be undone"
    )


def plan(state: CredentialsState, params: Params) -> PlanResult:
    """Deactivate the stale active keys; an unused console password is only reported."""
    if state.user_name is None:
        return NoAction("failed", f"no IAM user has the id {state.user_id} (deleted since Config evaluated it); nothing was changed")
    keys = stale_keys(state, params)
    password = stale_password(state, params)
    if not keys:
        return NoAction("failed", password_sentence(state, params)) if password else None
    ids = [key.key_id for key in keys]
    summary = f"Deactivate access key{'s' if len(ids) > 1 else ''} {', '.join(ids)} of IAM user {state.user_name}, unused for more than {params.max_credential_usage_age} days"
    detail: dict[str, Any] = {"userName": state.user_name, "deactivated": ids}
    if password:
        summary += f"; {password_sentence(state, params)}"
        detail["consolePassword"] = password_sentence(state, params)
    return Plan(
        summary=summary,
        calls=tuple(ApiCall("iam", "UpdateAccessKey", {"UserName": state.user_name, "AccessKeyId": key_id, "Status": "Inactive"}) for key_id in ids),
        undo=tuple(ApiCall("iam", "UpdateAccessKey", {"UserName": state.user_name, "AccessKeyId": key_id, "Status": "Active"}) for key_id in ids),
        detail=detail,
        changed_resource=state.user_arn,
    )


def is_exempt(_target: Target, state: CredentialsState, _plan: Plan, exemption_tag: str) -> bool:
    """Whether the user carries the exemption tag (ListUserTags; fails closed)."""
    return exemption_tag in read_tags(lambda: client("iam").list_user_tags(UserName=state.user_name)["Tags"], ())


def apply(_target: Target, change: Plan, _params: Params) -> Plan:
    """UpdateAccessKey Status=Inactive, per key."""
    return execute(change)


def finding_resource(target: Target, state: CredentialsState | None) -> tuple[str, str]:
    """Findings name the user by its ARN when known (UNVERIFIED: the ASFF form for AWS::IAM::User); else by its id."""
    if state is not None and state.user_arn:
        return state.user_arn, "EQUALS"
    return target.resource_id, "CONTAINS"


# --- undo: computed from a record's before-state, never replayed ---------------------------------

UNDO_OPERATIONS: tuple[str, ...] = ("UpdateAccessKey",)
"""The only operation undo may call for this rule: reactivating the keys the fix deactivated."""


def _recorded_time(value: Any, what: str) -> datetime:
    from .inverse import require

    require(isinstance(value, str), f"the record's {what} is not a time")
    try:
        return _aware(datetime.fromisoformat(value))
    except ValueError:
        require(False, f"the record's {what} is not a time")
        raise


def state_from_record(target: Target, before: Mapping[str, Any]) -> CredentialsState:
    """The state a record's before-state describes; raises UndoRefused for anything malformed."""
    from .inverse import record_list, record_mapping, require, same_resource

    same_resource(before.get("userId"), target.resource_id, "IAM user id")
    name = before.get("userName")
    require(isinstance(name, str) and bool(name), "the record's before-state names no IAM user")
    keys = []
    for key in record_list(before.get("accessKeys"), "before-state access keys"):
        key_id, status = key.get("AccessKeyId"), key.get("Status")
        require(isinstance(key_id, str) and bool(ACCESS_KEY_ID.fullmatch(key_id)), "the record's before-state names an access key id that is not one")
        require(status in ("Active", "Inactive"), "the record's before-state gives an access key a status IAM does not have")
        used = key.get("LastUsedDate")
        keys.append(AccessKey(str(key_id), str(status), _recorded_time(key.get("CreateDate"), "access key creation"), _recorded_time(used, "access key last use") if used else None))
    password = before.get("consolePassword")
    created = last = None
    if password is not None:
        password = record_mapping(password, "console password")
        created = _recorded_time(password.get("createDate"), "console password creation")
        last = _recorded_time(password["lastUsed"], "console password last use") if password.get("lastUsed") else None
    return CredentialsState(target.resource_id, str(name), before.get("userArn"), _recorded_time(before.get("readAt"), "read time"), created, last, tuple(keys))


def undo_calls(target: Target, before: Mapping[str, Any], _change: Mapping[str, Any], params: Params, current: Any) -> tuple[ApiCall, ...]:
    """Reactivate exactly the keys the fix deactivated: those the plan of the record's before-state deactivates.

    The user is the one the record's user id names now (``current``, read by id), and each key must be
    one of that user's keys now, so a record edited to name another user or key is refused.
    """
    from .inverse import inverse_of, require

    state = state_from_record(target, before)
    require(isinstance(current, CredentialsState) and current.user_id == target.resource_id, "the IAM user of the record could not be read by its id")
    require(current.user_name == state.user_name, f"the user with id {target.resource_id} is now named {getattr(current, 'user_name', None)!r}, not {state.user_name!r} as recorded")
    undo = inverse_of(plan(state, params)).undo
    owned = {key.key_id for key in current.keys}
    for call in undo:
        require(call.params["AccessKeyId"] in owned, f"access key {call.params['AccessKeyId']} is not a key of IAM user {state.user_name} now")
    return undo
