"""What every fixer shares: the target it acts on, the plan it makes, and small helpers.

A fixer is a module with the functions of ``Fixer``. Its ``plan`` is pure (state in, change out),
so that dry runs, scans and undo need no AWS access; ``read_state`` and ``apply`` do the I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from botocore import xform_name
from botocore.exceptions import ClientError

from ..clients import client
from ..errors import describe_error, error_code, is_transient


@dataclass(frozen=True)
class Target:
    """The resource a fixer acts on, as validated from the event."""

    resource_type: str
    """Config resource type, e.g. ``AWS::S3::Bucket``."""
    resource_id: str
    """Canonical id: bucket name, group id, VPC id, trail name or ARN, or the account id."""
    account: str
    """The account the resource is in: the function's own, or, for an organization hub, the member
    account whose credentials the fixer's clients then use (``clients.using_session``)."""
    region: str
    """The function's own region."""
    partition: str = "aws"
    """ARN partition of the account (aws, aws-cn, aws-us-gov)."""
    idempotency_key: str | None = None
    """Names the evaluation being remediated, the same for every delivery of one Config event and
    different for a later one; fixers derive idempotency tokens (ClientToken) from it. None when no
    event asked for the change (the operator CLI): then each request gets a fresh token."""


@dataclass(frozen=True)
class ApiCall:
    """One AWS API call, as data: what a plan will do, or what would undo it."""

    service: str
    """boto3 service name, e.g. ``s3``."""
    operation: str
    """API operation name, e.g. ``PutBucketEncryption``."""
    params: Mapping[str, Any]
    """Request parameters, exactly as passed to boto3."""
    region: str | None = None
    """Region to call, when not the function's own."""

    def to_json(self) -> dict[str, Any]:
        """The call as a JSON-ready dict."""
        data: dict[str, Any] = {"service": self.service, "operation": self.operation, "params": dict(self.params)}
        if self.region:
            data["region"] = self.region
        return data


@dataclass(frozen=True)
class Plan:
    """The change a fixer will make to a non-compliant resource."""

    summary: str
    """One sentence for people, e.g. "Turn on all four Block Public Access flags"."""
    calls: tuple[ApiCall, ...]
    """The write calls, in order."""
    undo: tuple[ApiCall, ...]
    """Calls that put the resource back as it was."""
    detail: Mapping[str, Any] = field(default_factory=dict)
    """Fixer-specific, JSON-ready description of the change (e.g. rules revoked and re-added)."""
    narrowing: tuple[str, ...] = ()
    """Access removed beyond the minimum, each in one sentence; empty when the fix is exact."""
    changed_resource: str | None = None
    """ARN or id of the resource written to, when it is not the event's resource (tags are read from it)."""

    def to_json(self) -> dict[str, Any]:
        """The plan as a JSON-ready dict."""
        return {
            "summary": self.summary,
            "calls": [call.to_json() for call in self.calls],
            "detail": dict(self.detail),
            "narrowing": list(self.narrowing),
        }


@dataclass(frozen=True)
class NoAction:
    """A non-compliant resource the fixer must not or cannot change."""

    decision: Literal["exempt", "failed"]
    reason: str


PlanResult = Plan | NoAction | None
"""What ``plan`` returns: a change, a reason to make none, or None when already compliant."""


class State(Protocol):
    """A fixer's read of a resource's current state."""

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict, precise enough to undo a change."""
        ...


class Fixer(Protocol):
    """The functions and declarations every fixer module provides."""

    IAM_ACTIONS: tuple[str, ...]
    """Exactly the IAM actions the module's code calls."""
    RESOURCE_TYPES: tuple[str, ...]
    """Config resource types this fixer accepts in events."""

    def parse_params(self, raw: Mapping[str, Any]) -> Any:
        """Typed params from the deployment config; raises ValueError naming the bad param."""
        ...

    def resource_id(self, resource_type: str, raw_id: str, account: str) -> str | None:
        """The canonical resource id, or None when ``raw_id`` is malformed for ``resource_type``."""
        ...

    def read_state(self, target: Target) -> Any:
        """Read the resource's current state (no writes)."""
        ...

    def plan(self, state: Any, params: Any) -> PlanResult:
        """Pure: the change that makes ``state`` compliant with ``params``."""
        ...

    def is_exempt(self, target: Target, state: Any, plan: Plan, exemption_tag: str) -> bool:
        """Whether the resource ``plan`` writes to carries the exemption tag; raises TagsUnreadable."""
        ...

    def apply(self, target: Target, plan: Plan, params: Any) -> Plan:
        """Make the change; returns the plan as actually applied."""
        ...

    def finding_resource(self, target: Target, state: Any) -> tuple[str, str]:
        """Security Hub ResourceId filter for this resource: (value, comparison); ``state`` may be None."""
        ...


class TagsUnreadable(Exception):
    """The resource's tags could not be read, so it must be treated as exempt (fail closed)."""


class NotRemediable(Exception):
    """A write was accepted by the API but reported a per-resource failure (permanent)."""


def call(api_call: ApiCall) -> dict[str, Any]:
    """Make one API call through the cached client and return its response."""
    method = getattr(client(api_call.service, api_call.region), xform_name(api_call.operation))
    response: dict[str, Any] = method(**api_call.params)
    return response


def execute(plan: Plan) -> Plan:
    """Make a plan's calls in order; the default ``apply`` for fixers with nothing to adapt."""
    for api_call in plan.calls:
        call(api_call)
    return plan


def read_tags(read: Callable[[], Sequence[Mapping[str, Any]]], absent_codes: tuple[str, ...]) -> set[str]:
    """The tag keys from ``read()`` (only a key marks an exemption); none when AWS answers with one of ``absent_codes``.

    Any other error, AccessDenied included, raises TagsUnreadable: an exemption that cannot be
    checked is treated as present. Transient errors are raised as they are, for Lambda to retry.
    """
    try:
        tags = read()
    except ClientError as error:
        if error_code(error) in absent_codes:
            return set()
        if is_transient(error):
            raise
        raise TagsUnreadable(describe_error(error)) from error
    return {str(tag.get("Key")) for tag in tags}


# --- resource ids -------------------------------------------------------------------------------

ACCOUNT_RESOURCE_TYPE = "AWS::::Account"
"""Config resource type of rules whose resource is the account itself."""
ACCOUNT_ID = re.compile(r"\d{12}")
"""A 12-digit AWS account id."""


def own_account_id(raw_id: str, account: str) -> str | None:
    """``raw_id`` when it is an account id and the function's own ``account``, else None."""
    return raw_id if ACCOUNT_ID.fullmatch(raw_id) and raw_id == account else None


def account_resource_id(resource_type: str, raw_id: str, account: str) -> str | None:
    """``resource_id`` of a rule whose resource is the account: the account id, which must be the function's own account."""
    return own_account_id(raw_id, account) if resource_type == ACCOUNT_RESOURCE_TYPE else None


def arn_or_name(raw_id: str, account: str, arns: tuple[re.Pattern[str], ...], name: re.Pattern[str]) -> str | None:
    """``raw_id`` as given, when one of ``arns`` matches it with ``account`` as its ``account`` group or ``name`` matches it.

    ``arns`` are tried in order; the first that matches decides. None when the id names another
    account's resource or is malformed.
    """
    for pattern in arns:
        match = pattern.fullmatch(raw_id)
        if match:
            return raw_id if match["account"] == account else None
    return raw_id if name.fullmatch(raw_id) else None


def name_from_arn_or_name(raw_id: str, account: str, arn: re.Pattern[str], name: re.Pattern[str]) -> str | None:
    """The resource's name: ``raw_id`` itself, or the ``name`` group of an ``arn`` whose ``account`` group is ``account``.

    None when the ARN is another account's or the name does not match ``name``.
    """
    match = arn.fullmatch(raw_id)
    if match:
        if match["account"] != account:
            return None
        raw_id = match["name"]
    return raw_id if name.fullmatch(raw_id) else None


def regional_arn(target: Target, service: str, resource: str) -> str:
    """The ARN of ``resource`` (e.g. ``function:name``) of ``service`` in the function's account and region."""
    return f"arn:{target.partition}:{service}:{target.region}:{target.account}:{resource}"


# --- params -------------------------------------------------------------------------------------


def param_choice(raw: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    """A string param that must be one of ``allowed``."""
    value = raw.get(name)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"params.{name} must be one of {', '.join(allowed)}")
    return value


def param_optional_string(raw: Mapping[str, Any], name: str) -> str | None:
    """A string param that may be null or absent."""
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"params.{name} must be a non-empty string or null")
    return value


def param_string(raw: Mapping[str, Any], name: str) -> str:
    """A required non-empty string param."""
    value = param_optional_string(raw, name)
    if value is None:
        raise ValueError(f"params.{name} must be a non-empty string")
    return value
