"""Fixer: Lambda function policies grant nothing to everyone (LAMBDA_FUNCTION_PUBLIC_ACCESS_PROHIBITED, FSBP Lambda.1).

Removes, one RemovePermission per statement id, exactly the public statements of the function's
resource policy (``public_policy``: an Allow to ``*`` without a condition that restricts the caller to
fixed values); every other statement stays. The first RemovePermission carries the RevisionId that was
read, so a policy changed since the read is not touched (PreconditionFailedException, a ``failed``
record). Lambda has no call that writes a whole policy, and AddPermission can express only some
conditions: a public statement that AddPermission could not re-create exactly (no Sid, a list of
actions, a qualified resource, another condition) makes the whole fix a ``failed`` record, so undo can
always put back what was removed.

Only the unqualified function's policy is read; policies of versions and aliases (``Qualifier``) are
not (whether Config evaluates them is UNVERIFIED). A function with no policy, or one that no longer
exists, answers GetPolicy with ResourceNotFoundException: nothing is public, so nothing is changed.

Config's resourceId of a function is its name ([P]); an unqualified function ARN is accepted too.

Requests per event: compliant 1 (GetPolicy); fixed 4 (+ ListTags, RemovePermission, GetPolicy to
verify), one RemovePermission more per further public statement.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..clients import client
from ..errors import error_code
from . import public_policy
from .base import ApiCall, NoAction, Plan, PlanResult, Target, arn_or_name, execute, read_tags, regional_arn

IAM_ACTIONS: tuple[str, ...] = ("lambda:GetPolicy", "lambda:ListTags", "lambda:RemovePermission")
RESOURCE_TYPES: tuple[str, ...] = ("AWS::Lambda::Function",)

FUNCTION_NAME = r"[A-Za-z0-9_-]{1,64}"
FUNCTION_ARN = re.compile(rf"arn:aws(?:-cn|-us-gov)?:lambda:[a-z0-9-]+:(?P<account>\d{{12}}):function:({FUNCTION_NAME})")
FUNCTION_NAME_ONLY = re.compile(FUNCTION_NAME)
NO_POLICY_CODE = "ResourceNotFoundException"

CONDITION_PARAMETERS: dict[tuple[str, str], str] = {
    ("arnlike", "aws:sourcearn"): "SourceArn",
    ("stringequals", "aws:sourceaccount"): "SourceAccount",
    ("stringequals", "aws:principalorgid"): "PrincipalOrgID",
    ("stringequals", "lambda:functionurlauthtype"): "FunctionUrlAuthType",
    ("stringequals", "lambda:eventsourcetoken"): "EventSourceToken",
}
"""The conditions AddPermission writes, by (operator, key) in lower case, and the parameter that writes each."""
STATEMENT_KEYS = frozenset({"Sid", "Effect", "Principal", "Action", "Resource", "Condition"})


@dataclass(frozen=True)
class Params:
    """No params: the rule has none."""


@dataclass(frozen=True)
class FunctionState:
    """A function's resource policy, as GetPolicy returns it."""

    function: str
    """The FunctionName the fixer calls with (name or ARN, as the event gave it)."""
    arn: str
    """The unqualified function ARN (the policy's Resource, and where the tags are read)."""
    policy: str | None
    """The policy text exactly as read, or None when the function has no policy."""
    revision_id: str | None

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict."""
        return {"functionName": self.function, "functionArn": self.arn, "policy": self.policy, "revisionId": self.revision_id}


def parse_params(_raw: Mapping[str, Any]) -> Params:
    """No params to check."""
    return Params()


def resource_id(resource_type: str, raw_id: str, account: str) -> str | None:
    """The function name, or its unqualified ARN, as given, when it names a function of ``account``."""
    return arn_or_name(raw_id, account, (FUNCTION_ARN,), FUNCTION_NAME_ONLY) if resource_type in RESOURCE_TYPES else None


def function_arn(target: Target) -> str:
    """The unqualified function ARN: the resource id, or built from a name in the function's account and region."""
    if FUNCTION_ARN.fullmatch(target.resource_id):
        return target.resource_id
    return regional_arn(target, "lambda", f"function:{target.resource_id}")


def read_state(target: Target) -> FunctionState:
    """GetPolicy (ResourceNotFoundException: no policy)."""
    try:
        response = client("lambda").get_policy(FunctionName=target.resource_id)
    except ClientError as error:
        if error_code(error) == NO_POLICY_CODE:
            return FunctionState(target.resource_id, function_arn(target), None, None)
        raise
    return FunctionState(target.resource_id, function_arn(target), str(response["Policy"]), response.get("RevisionId"))


def add_permission_params(statement: Mapping[str, Any], function: str, arn: str) -> dict[str, Any] | str:
    """The AddPermission request that re-creates ``statement`` exactly, or why there is none."""
    sid = statement.get("Sid")
    if not isinstance(sid, str) or not sid:
        return "it has no Sid, so RemovePermission cannot name it"
    if set(statement) - STATEMENT_KEYS:
        return f"it has {', '.join(sorted(set(statement) - STATEMENT_KEYS))}, which AddPermission cannot write"
    action = statement.get("Action")
    action = action[0] if isinstance(action, list) and len(action) == 1 else action
    if not isinstance(action, str):
        return "it grants a list of actions, and AddPermission grants one"
    if statement.get("Principal") not in ("*", {"AWS": "*"}):
        return "its principal is not \"*\" or {\"AWS\": \"*\"}"
    if statement.get("Resource") != arn:
        return f"its resource is not the unqualified function {arn}"
    params: dict[str, Any] = {"FunctionName": function, "StatementId": sid, "Action": action, "Principal": "*"}
    condition = statement.get("Condition") or {}
    if not isinstance(condition, Mapping):
        return "its condition is not an object"
    for operator, entries in condition.items():
        for key, value in (entries.items() if isinstance(entries, Mapping) else [(None, None)]):
            parameter = CONDITION_PARAMETERS.get((str(operator).lower(), str(key).lower()))
            if parameter is None or not isinstance(value, str):
                return f"its condition {operator} {key} is not one AddPermission can write"
            params[parameter] = value
    return params


def plan(state: FunctionState, _params: Params) -> PlanResult:
    """RemovePermission for each public statement, and the AddPermission calls that put each back."""
    if state.policy is None:
        return None
    try:
        document = public_policy.parse(state.policy)
    except public_policy.NotAPolicy as error:
        return NoAction("failed", f"{error}, so its public statements cannot be told apart")
    public = public_policy.split(document).public
    if not public:
        return None
    re_adds: list[dict[str, Any]] = []
    for statement in public:
        params = add_permission_params(statement, state.function, state.arn)
        if isinstance(params, str):
            return NoAction("failed", f"public statement {statement.get('Sid')!r} is left alone and so is the rest: {params}, so its removal could not be undone; remove it by hand")
        re_adds.append(params)
    sids = [params["StatementId"] for params in re_adds]
    removes = tuple(
        ApiCall("lambda", "RemovePermission", {"FunctionName": state.function, "StatementId": sid, **({"RevisionId": state.revision_id} if index == 0 and state.revision_id else {})})
        for index, sid in enumerate(sids)
    )
    return Plan(
        summary=f"Remove {len(sids)} public statement(s) ({', '.join(sids)}) from the policy of function {state.arn}",
        calls=removes,
        undo=tuple(ApiCall("lambda", "AddPermission", params) for params in re_adds),
        detail={"removedStatements": list(public)},
    )


def is_exempt(_target: Target, state: FunctionState, _plan: Plan, exemption_tag: str) -> bool:
    """Whether the function carries the exemption tag (ListTags; fails closed)."""
    tags = read_tags(lambda: [{"Key": key} for key in client("lambda").list_tags(Resource=state.arn).get("Tags", {})], ())
    return exemption_tag in tags


def apply(_target: Target, change: Plan, _params: Params) -> Plan:
    """RemovePermission, one statement at a time; the first carries the RevisionId that was read."""
    return execute(change)


def finding_resource(target: Target, state: FunctionState | None) -> tuple[str, str]:
    """Security Hub names a function by its ARN."""
    return (state.arn if state is not None else function_arn(target)), "EQUALS"


# --- undo: computed from a record's before-state, never replayed ---------------------------------

UNDO_OPERATIONS: tuple[str, ...] = ("AddPermission",)
"""The only operation undo may call for this rule: re-adding the removed statements to the same function."""


def undo_calls(target: Target, before: Mapping[str, Any], _change: Mapping[str, Any], params: Params, _current: Any) -> tuple[ApiCall, ...]:
    """The AddPermission calls that re-create the statements removed from a record's ``before``, derived by ``plan``; raises UndoRefused."""
    from .inverse import inverse_of, require, same_resource

    same_resource(before.get("functionName"), target.resource_id, "function")
    same_resource(before.get("functionArn"), function_arn(target), "function ARN")
    policy, revision = before.get("policy"), before.get("revisionId")
    require(policy is None or isinstance(policy, str), "the record's before-state policy is not a policy text")
    require(revision is None or isinstance(revision, str), "the record's before-state revisionId is not a string")
    return inverse_of(plan(FunctionState(target.resource_id, function_arn(target), policy, revision), params)).undo
