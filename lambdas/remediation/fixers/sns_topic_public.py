"""Fixer: SNS topic policies grant nothing to everyone (SNS_TOPIC_NO_PUBLIC_ACCESS, FSBP SNS.4).

Removes exactly the public statements of the topic policy (``public_policy``: an Allow to ``*`` without a
condition that restricts the caller to fixed values) and leaves every other statement as it was, in
order. The default statement SNS gives every topic (``{"AWS": "*"}`` with ``AWS:SourceOwner`` = the
account) is restricted to a fixed value, so it is not public and stays.

When every statement is public the fixer changes nothing and the record is ``failed``: SNS has no call
that deletes a topic policy, and it rejects a policy without statements ("Invalid parameter: Policy
Error: null", reported by cloud-custodian users; UNVERIFIED in AWS's documentation). Writing a policy
of its own instead would grant what the topic did not grant before.

SNS has no conditional write: a statement added between this fixer's read and its write is lost.

Config's resourceId of a topic is its ARN ([P], UNVERIFIED); a bare topic name is also accepted and
taken as a topic of the function's own account and region.

Requests per event: compliant 1 (GetTopicAttributes); fixed 4 (+ ListTagsForResource,
SetTopicAttributes, GetTopicAttributes to verify).
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

IAM_ACTIONS: tuple[str, ...] = ("sns:GetTopicAttributes", "sns:ListTagsForResource", "sns:SetTopicAttributes")
RESOURCE_TYPES: tuple[str, ...] = ("AWS::SNS::Topic",)

TOPIC_NAME = r"[A-Za-z0-9_-]{1,256}(?:\.fifo)?"
"""SNS topic names: up to 256 letters, digits, hyphens and underscores; FIFO topics end in .fifo."""
TOPIC_ARN = re.compile(rf"arn:aws(?:-cn|-us-gov)?:sns:[a-z0-9-]+:(?P<account>\d{{12}}):({TOPIC_NAME})")
TOPIC_NAME_ONLY = re.compile(TOPIC_NAME)


@dataclass(frozen=True)
class Params:
    """No params: the rule has none."""


@dataclass(frozen=True)
class TopicState:
    """A topic's policy, as GetTopicAttributes returns it."""

    arn: str
    policy: str | None
    """The policy text exactly as read, or None when the topic reports none."""

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict."""
        return {"topicArn": self.arn, "policy": self.policy}


def parse_params(_raw: Mapping[str, Any]) -> Params:
    """No params to check."""
    return Params()


def resource_id(resource_type: str, raw_id: str, account: str) -> str | None:
    """The topic ARN (or name) as given, when it names a topic of ``account``."""
    return arn_or_name(raw_id, account, (TOPIC_ARN,), TOPIC_NAME_ONLY) if resource_type in RESOURCE_TYPES else None


def topic_arn(target: Target) -> str:
    """The topic's ARN: the resource id, or built from a name in the function's account and region."""
    if TOPIC_ARN.fullmatch(target.resource_id):
        return target.resource_id
    return regional_arn(target, "sns", target.resource_id)


def read_state(target: Target) -> TopicState:
    """GetTopicAttributes."""
    arn = topic_arn(target)
    attributes = client("sns").get_topic_attributes(TopicArn=arn).get("Attributes", {})
    return TopicState(arn, attributes.get("Policy") or None)


def plan(state: TopicState, _params: Params) -> PlanResult:
    """Remove the public statements; refuse when none would be left (see the module docstring)."""
    if state.policy is None:
        return None
    try:
        document = public_policy.parse(state.policy)
    except public_policy.NotAPolicy as error:
        return NoAction("failed", f"{error}, so its public statements cannot be told apart")
    split = public_policy.split(document)
    if not split.public:
        return None
    if not split.kept:
        return NoAction(
            "failed",
            "every statement of the topic policy is public; SNS rejects a policy without statements and cannot delete one, "
            "so narrow the statements (e.g. aws:SourceAccount) or replace the policy by hand",
        )
    sids = [sid or "(no Sid)" for sid in public_policy.statement_ids(split.public)]
    return Plan(
        summary=f"Remove {len(split.public)} public statement(s) ({', '.join(sids)}) from the policy of topic {state.arn}; keep {len(split.kept)} other statement(s)",
        calls=(ApiCall("sns", "SetTopicAttributes", {"TopicArn": state.arn, "AttributeName": "Policy", "AttributeValue": json.dumps(public_policy.without_public(document))}),),
        undo=(ApiCall("sns", "SetTopicAttributes", {"TopicArn": state.arn, "AttributeName": "Policy", "AttributeValue": state.policy}),),
        detail={"removedStatements": list(split.public), "keptStatements": len(split.kept)},
    )


def is_exempt(_target: Target, state: TopicState, _plan: Plan, exemption_tag: str) -> bool:
    """Whether the topic carries the exemption tag (ListTagsForResource; fails closed)."""
    tags = read_tags(lambda: client("sns").list_tags_for_resource(ResourceArn=state.arn).get("Tags", []), ())
    return exemption_tag in tags


def apply(_target: Target, change: Plan, _params: Params) -> Plan:
    """SetTopicAttributes (Policy)."""
    return execute(change)


def finding_resource(target: Target, state: TopicState | None) -> tuple[str, str]:
    """Security Hub names a topic by its ARN."""
    return (state.arn if state is not None else topic_arn(target)), "EQUALS"


# --- undo: computed from a record's before-state, never replayed ---------------------------------

UNDO_OPERATIONS: tuple[str, ...] = ("SetTopicAttributes",)
"""The only operation undo may call for this rule: putting the topic's own policy back."""


def undo_calls(target: Target, before: Mapping[str, Any], _change: Mapping[str, Any], params: Params, _current: Any) -> tuple[ApiCall, ...]:
    """The SetTopicAttributes that puts a record's ``before`` policy back on the record's own topic, derived by ``plan``; raises UndoRefused."""
    from .inverse import inverse_of, require, same_resource

    same_resource(before.get("topicArn"), topic_arn(target), "topic")
    policy = before.get("policy")
    require(policy is None or isinstance(policy, str), "the record's before-state policy is not a policy text")
    return inverse_of(plan(TopicState(topic_arn(target), policy), params)).undo
