"""Fixer: SQS queue policies grant nothing to everyone (SQS_QUEUE_NO_PUBLIC_ACCESS, FSBP SQS.3).

Removes exactly the public statements of the queue policy (``public_policy``: an Allow to ``*`` without a
condition that restricts the caller to fixed values) and leaves every other statement as it was, in
order. When every statement is public the policy is removed (``Policy`` set to ""). Never adds a
statement, never touches another queue attribute: SetQueueAttributes is sent with ``Policy`` only.

SQS has no conditional write: a statement added to the policy between this fixer's read and its write
is lost. The default mode is manual for that reason too.

Config's resourceId of a queue is UNVERIFIED (the queue URL, per cloud-custodian's Config mapping; its
ARN or name are accepted as well). A URL is used as it is; an ARN or name costs one GetQueueUrl more.

Requests per event (queue named by URL): compliant 1 (GetQueueAttributes); fixed 4 (+ ListQueueTags,
SetQueueAttributes, GetQueueAttributes to verify). Named by ARN or name: one GetQueueUrl more per read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..clients import client
from . import public_policy
from .base import ApiCall, NoAction, Plan, PlanResult, Target, arn_or_name, execute, read_tags, regional_arn

IAM_ACTIONS: tuple[str, ...] = ("sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListQueueTags", "sqs:SetQueueAttributes")
RESOURCE_TYPES: tuple[str, ...] = ("AWS::SQS::Queue",)

QUEUE_NAME = r"(?:[A-Za-z0-9_-]{1,75}\.fifo|[A-Za-z0-9_-]{1,80})"
"""SQS queue names: 1-80 letters, digits, hyphens and underscores; FIFO queues end in .fifo (within the 80)."""
QUEUE_URL = re.compile(rf"https://(?:sqs\.[a-z0-9-]+|[a-z0-9-]+\.queue)\.amazonaws\.com(?:\.cn)?/(?P<account>\d{{12}})/({QUEUE_NAME})")
"""A queue URL: the service endpoint form (sqs.<region>.amazonaws.com) or the legacy one (<region>.queue.amazonaws.com)."""
QUEUE_ARN = re.compile(rf"arn:aws(?:-cn|-us-gov)?:sqs:[a-z0-9-]+:(?P<account>\d{{12}}):({QUEUE_NAME})")
QUEUE_NAME_ONLY = re.compile(QUEUE_NAME)


@dataclass(frozen=True)
class Params:
    """No params: the rule has none."""


@dataclass(frozen=True)
class QueueState:
    """A queue's policy, as GetQueueAttributes returns it."""

    url: str
    arn: str
    policy: str | None
    """The policy text exactly as read, or None when the queue has none."""

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict."""
        return {"queueUrl": self.url, "queueArn": self.arn, "policy": self.policy}


def parse_params(_raw: Mapping[str, Any]) -> Params:
    """No params to check."""
    return Params()


def resource_id(resource_type: str, raw_id: str, account: str) -> str | None:
    """The queue URL, ARN or name as given, when it names a queue of ``account``."""
    return arn_or_name(raw_id, account, (QUEUE_URL, QUEUE_ARN), QUEUE_NAME_ONLY) if resource_type in RESOURCE_TYPES else None


def queue_name(queue_id: str) -> str:
    """The queue's name from its URL, ARN or name."""
    for pattern in (QUEUE_URL, QUEUE_ARN):
        match = pattern.fullmatch(queue_id)
        if match:
            return match.group(2)
    return queue_id


def queue_url(target: Target) -> str:
    """The queue URL: the resource id itself, or GetQueueUrl for an ARN or name."""
    if QUEUE_URL.fullmatch(target.resource_id):
        return target.resource_id
    response = client("sqs").get_queue_url(QueueName=queue_name(target.resource_id), QueueOwnerAWSAccountId=target.account)
    return str(response["QueueUrl"])


def read_state(target: Target) -> QueueState:
    """GetQueueAttributes (Policy and QueueArn), after GetQueueUrl when the id is not a URL."""
    url = queue_url(target)
    attributes = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["Policy", "QueueArn"]).get("Attributes", {})
    return QueueState(url, str(attributes.get("QueueArn", "")), attributes.get("Policy") or None)


def policy_change(url: str, policy: str) -> PlanResult:
    """Pure: the SetQueueAttributes that drops the public statements of ``policy``, and the one that restores it."""
    try:
        document = public_policy.parse(policy)
    except public_policy.NotAPolicy as error:
        return NoAction("failed", f"{error}, so its public statements cannot be told apart")
    split = public_policy.split(document)
    if not split.public:
        return None
    remaining = public_policy.without_public(document)
    # An empty Statement list is not a policy: removing the policy is what SQS offers instead ([P]: Policy "" removes it).
    new_policy = json.dumps(remaining) if split.kept else ""
    sids = [sid or "(no Sid)" for sid in public_policy.statement_ids(split.public)]
    action = "remove the queue policy" if not split.kept else f"keep {len(split.kept)} other statement(s)"
    return Plan(
        summary=f"Remove {len(split.public)} public statement(s) ({', '.join(sids)}) from the policy of queue {url}; {action}",
        calls=(ApiCall("sqs", "SetQueueAttributes", {"QueueUrl": url, "Attributes": {"Policy": new_policy}}),),
        undo=(ApiCall("sqs", "SetQueueAttributes", {"QueueUrl": url, "Attributes": {"Policy": policy}}),),
        detail={"removedStatements": list(split.public), "keptStatements": len(split.kept), "policyRemoved": not split.kept},
    )


def plan(state: QueueState, _params: Params) -> PlanResult:
    """Remove the public statements, or nothing when there are none."""
    if state.policy is None:
        return None
    return policy_change(state.url, state.policy)


def is_exempt(_target: Target, state: QueueState, _plan: Plan, exemption_tag: str) -> bool:
    """Whether the queue carries the exemption tag (ListQueueTags; fails closed)."""
    tags = read_tags(lambda: [{"Key": key} for key in client("sqs").list_queue_tags(QueueUrl=state.url).get("Tags", {})], ())
    return exemption_tag in tags


def apply(_target: Target, change: Plan, _params: Params) -> Plan:
    """SetQueueAttributes with Policy only (any other attribute in the same call is left out on purpose)."""
    return execute(change)


def finding_resource(target: Target, state: QueueState | None) -> tuple[str, str]:
    """Security Hub names a queue by its ARN; without a read, the ARN is built from the function's region."""
    if state is not None and state.arn:
        return state.arn, "EQUALS"
    if QUEUE_ARN.fullmatch(target.resource_id):
        return target.resource_id, "EQUALS"
    return regional_arn(target, "sqs", queue_name(target.resource_id)), "EQUALS"


# --- undo: computed from a record's before-state, never replayed ---------------------------------

UNDO_OPERATIONS: tuple[str, ...] = ("SetQueueAttributes",)
"""The only operation undo may call for this rule: putting the queue's own policy back."""


def _names_queue(queue_id: str, url: str, arn: str, account: str) -> bool:
    url_match, arn_match = QUEUE_URL.fullmatch(url), QUEUE_ARN.fullmatch(arn)
    if not url_match or not arn_match or {url_match.group(1), arn_match.group(1)} != {account}:
        return False
    if url_match.group(2) != arn_match.group(2):
        return False
    return queue_id in (url, arn, url_match.group(2))


def undo_calls(target: Target, before: Mapping[str, Any], _change: Mapping[str, Any], params: Params, _current: Any) -> tuple[ApiCall, ...]:
    """The SetQueueAttributes that puts a record's ``before`` policy back on the record's own queue, derived by ``plan``; raises UndoRefused."""
    from .inverse import inverse_of, require

    url, arn, policy = before.get("queueUrl"), before.get("queueArn"), before.get("policy")
    require(isinstance(url, str) and isinstance(arn, str), "the record's before-state does not name a queue URL and ARN")
    require(_names_queue(target.resource_id, str(url), str(arn), target.account), f"the record's before-state names queue {url!r}, not the record's resource {target.resource_id}")
    require(policy is None or isinstance(policy, str), "the record's before-state policy is not a policy text")
    return inverse_of(plan(QueueState(str(url), str(arn), policy), params)).undo
