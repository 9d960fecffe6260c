"""Fixer: S3 bucket policy denies requests that do not use TLS (Config rule S3_BUCKET_SSL_REQUESTS_ONLY, FSBP S3.5).

Appends one statement, the one AWS documents for the rule (Deny, Principal ``*``, Action ``s3:*``,
Resource the bucket and its objects, Condition ``Bool aws:SecureTransport false``), to the bucket
policy, or creates a policy with only that statement when the bucket has none. Every other
statement, and every other top-level member of the policy, is kept as it was parsed. A bucket whose
policy already has such a statement is compliant and never written.

A bucket policy is at most 20 KB: a policy that would outgrow it is a ``failed`` record, and a
policy that is not a JSON object with a list of statements is a ``failed`` record too (the fixer
never rewrites what it cannot read). S3 has no conditional PutBucketPolicy, so an edit made between
the read and the write would be lost; the write follows the read within the same event.

Requests per event: compliant 1 (GetBucketPolicy); fixed 4 (+ GetBucketTagging, PutBucketPolicy,
GetBucketPolicy to verify).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..clients import client
from ..errors import error_code
from .base import ApiCall, NoAction, Plan, PlanResult, Target, execute
from .s3_common import BUCKET_RESOURCE_TYPES, bucket_finding_resource, bucket_is_exempt, bucket_name

IAM_ACTIONS: tuple[str, ...] = ("s3:GetBucketPolicy", "s3:GetBucketTagging", "s3:PutBucketPolicy")
RESOURCE_TYPES: tuple[str, ...] = BUCKET_RESOURCE_TYPES

NO_POLICY_CODE = "NoSuchBucketPolicy"
POLICY_SIZE_LIMIT = 20 * 1024
"""Bucket policy size limit in bytes (S3 quota "20 KB"; how S3 counts whitespace is UNVERIFIED, so the policy is written compact)."""
SID = "DenyInsecureTransport"
VERSION = "2012-10-17"


@dataclass(frozen=True)
class Params:
    """No params: the statement is always the documented one."""


@dataclass(frozen=True)
class PolicyState:
    """A bucket's policy, exactly as GetBucketPolicy returns it."""

    bucket: str
    partition: str
    policy: str | None
    """The policy document text, or None when the bucket has no policy."""

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict (the policy text is kept verbatim, so undo can put it back exactly)."""
        return {"bucket": self.bucket, "partition": self.partition, "policy": self.policy}


def parse_params(_raw: Mapping[str, Any]) -> Params:
    """No params to check."""
    return Params()


resource_id = bucket_name
finding_resource = bucket_finding_resource


def read_state(target: Target) -> PolicyState:
    """GetBucketPolicy; a bucket without a policy has None."""
    try:
        response = client("s3").get_bucket_policy(Bucket=target.resource_id)
    except ClientError as error:
        if error_code(error) == NO_POLICY_CODE:
            return PolicyState(target.resource_id, target.partition, None)
        raise
    return PolicyState(target.resource_id, target.partition, str(response["Policy"]))


# --- what counts as denying insecure transport ------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _denies_everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and set(principal) == {"AWS"} and _as_list(principal["AWS"]) == ["*"]


def _covers_all_s3_actions(action: Any) -> bool:
    return any(isinstance(item, str) and item.lower() in ("s3:*", "*") for item in _as_list(action))


def _covers_bucket_and_objects(resource: Any, bucket: str) -> bool:
    arns = [item for item in _as_list(resource) if isinstance(item, str)]
    bucket_arn = rf"arn:[a-z-]+:s3:::{re.escape(bucket)}"
    return any(re.fullmatch(bucket_arn, arn) for arn in arns) and any(re.fullmatch(rf"{bucket_arn}/\*", arn) for arn in arns)


def _when_insecure(condition: Any) -> bool:
    if not isinstance(condition, Mapping) or list(condition) != ["Bool"] or not isinstance(condition["Bool"], Mapping):
        return False
    keys = {str(key).lower(): value for key, value in condition["Bool"].items()}
    if list(keys) != ["aws:securetransport"]:
        return False
    return [str(value).lower() for value in _as_list(keys["aws:securetransport"])] == ["false"]


def denies_insecure_transport(statement: Any, bucket: str) -> bool:
    """Whether ``statement`` is the deny AWS documents for the rule (only that exact form counts).

    UNVERIFIED: which narrower statements Config also accepts (a deny of fewer actions, of the
    objects only, or on s3:TlsVersion); they are not counted, so such a policy gets the documented
    statement as well, which denies nothing more than the rule asks.
    """
    if not isinstance(statement, Mapping) or statement.get("Effect") != "Deny":
        return False
    if any(key in statement for key in ("NotPrincipal", "NotAction", "NotResource")):
        return False
    return (
        _denies_everyone(statement.get("Principal"))
        and _covers_all_s3_actions(statement.get("Action"))
        and _covers_bucket_and_objects(statement.get("Resource"), bucket)
        and _when_insecure(statement.get("Condition"))
    )


def parsed_policy(text: str) -> tuple[dict[str, Any], list[Any]] | None:
    """The policy object and its statements as a list, or None when it is not a policy this fixer can extend."""
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    statements = document.get("Statement")
    if isinstance(statements, dict):
        return document, [statements]
    if isinstance(statements, list):
        return document, list(statements)
    return None


def is_compliant(state: PolicyState) -> bool:
    """Whether the policy has a statement that denies requests without TLS (see ``denies_insecure_transport``)."""
    if state.policy is None:
        return False
    parsed = parsed_policy(state.policy)
    return parsed is not None and any(denies_insecure_transport(statement, state.bucket) for statement in parsed[1])


# --- the plan -----------------------------------------------------------------------------------------


def deny_statement(bucket: str, partition: str, sid: str = SID) -> dict[str, Any]:
    """The statement AWS documents for the rule (AWS Knowledge Center, s3-bucket-policy-for-config-rule)."""
    arn = f"arn:{partition}:s3:::{bucket}"
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def free_sid(statements: Sequence[Any]) -> str:
    """``DenyInsecureTransport``, numbered when a statement already uses that Sid (Sids must be unique)."""
    # Only a string can equal the Sid written here; a Sid of another type (S3 refuses one, an edited copy may hold
    # it) is not hashable in every case, so it is left out rather than crash the plan.
    taken = {statement["Sid"] for statement in statements if isinstance(statement, Mapping) and isinstance(statement.get("Sid"), str)}
    sid, number = SID, 1
    while sid in taken:
        number += 1
        sid = f"{SID}{number}"
    return sid


def policy_text(document: Mapping[str, Any]) -> str:
    """The policy as sent to S3: compact JSON, members in their original order."""
    return json.dumps(document, separators=(",", ":"))


def extended_policy(state: PolicyState) -> dict[str, Any] | None:
    """The policy with the deny statement appended (a new policy when there is none), or None when the policy cannot be read."""
    if state.policy is None:
        return {"Version": VERSION, "Statement": [deny_statement(state.bucket, state.partition)]}
    parsed = parsed_policy(state.policy)
    if parsed is None:
        return None
    document, statements = parsed
    statement = deny_statement(state.bucket, state.partition, free_sid(statements))
    return {**document, "Statement": [*statements, statement]}


def plan(state: PolicyState, _params: Params) -> PlanResult:
    """Append the deny-insecure-transport statement, unless the policy has it."""
    if is_compliant(state):
        return None
    document = extended_policy(state)
    if document is None:
        return NoAction("failed", "the bucket policy is not a JSON object with a Statement list, so the fixer will not rewrite it")
    text = policy_text(document)
    if len(text.encode()) > POLICY_SIZE_LIMIT:
        return NoAction("failed", f"the bucket policy with the deny statement would be {len(text.encode())} bytes, over the 20 KB bucket policy limit")
    undo = (
        ApiCall("s3", "DeleteBucketPolicy", {"Bucket": state.bucket})
        if state.policy is None
        else ApiCall("s3", "PutBucketPolicy", {"Bucket": state.bucket, "Policy": state.policy})
    )
    added = document["Statement"][-1]
    return Plan(
        summary=f"{'Create a bucket policy' if state.policy is None else 'Add a statement to the bucket policy'} of {state.bucket} that denies requests without TLS (aws:SecureTransport false)",
        calls=(ApiCall("s3", "PutBucketPolicy", {"Bucket": state.bucket, "Policy": text}),),
        undo=(undo,),
        detail={"bucket": state.bucket, "createdPolicy": state.policy is None, "addedStatement": added},
    )


def is_exempt(target: Target, _state: PolicyState, _plan: Plan, exemption_tag: str) -> bool:
    """Whether the bucket carries the exemption tag."""
    return bucket_is_exempt(target.resource_id, exemption_tag)


def apply(_target: Target, change: Plan, _params: Params) -> Plan:
    """PutBucketPolicy."""
    return execute(change)


# --- undo: computed from a record's before-state, never replayed ---------------------------------

UNDO_OPERATIONS: tuple[str, ...] = ("PutBucketPolicy", "DeleteBucketPolicy")
"""Putting the previous policy back, or deleting the policy the fixer created."""


def _same_policy(left: str | None, right: str | None) -> bool:
    if left is None or right is None:
        return left is right
    try:
        return bool(json.loads(left) == json.loads(right))
    except ValueError:
        return left == right


def undo_calls(target: Target, before: Mapping[str, Any], _change: Mapping[str, Any], params: Params, current: Any) -> tuple[ApiCall, ...]:
    """The previous policy put back (or the created one deleted), derived by ``plan`` from a record's ``before``; raises UndoRefused.

    A policy the fixer created is deleted only while it is still exactly what the fixer wrote: any
    statement added since would be deleted with it.
    """
    from .inverse import inverse_of, require, same_resource

    same_resource(before.get("bucket"), target.resource_id, "bucket")
    policy = before.get("policy")
    require(policy is None or isinstance(policy, str), "the record's before-state policy is not a policy document")
    require(before.get("partition") == target.partition, f"the record's before-state names partition {before.get('partition')!r}, not the record's {target.partition}")
    planned = inverse_of(plan(PolicyState(target.resource_id, target.partition, policy), params))
    if policy is None and isinstance(current, PolicyState):
        written = str(planned.calls[0].params["Policy"])
        require(_same_policy(current.policy, written), "the bucket policy is no longer the one the fixer created, so deleting it would remove statements the fixer did not write")
    return planned.undo
