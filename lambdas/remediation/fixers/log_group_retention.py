"""Fixer: CloudWatch Logs retention raised to the configured minimum (CW_LOGGROUP_RETENTION_PERIOD_CHECK).

The managed rule is NON_COMPLIANT when a log group's retention is shorter than ``MinRetentionTime``
(here ``minRetentionDays``), and COMPLIANT when the group never expires ("If the retention setting is
"Never expire" for a log group, the rule is marked as COMPLIANT", rule page). So the fix only ever
raises a too-short retention to ``minRetentionDays``: more data is kept, none is deleted. It never
shortens a retention and never sets one on a never-expire group (that would delete older events and
the rule already passes the group). With ``logGroupNames`` prefixes, other groups are not evaluated
by the rule and are left alone. A group whose retention comes from an account-level retention policy
(DescribeLogGroups names it in ``retentionPolicyName``) is a ``failed`` record: PutRetentionPolicy
would succeed there but change nothing until the account policy no longer applies (botocore's
PutRetentionPolicy documentation), so the account policy is what must change.

Requests per event: compliant 1 (DescribeLogGroups); fixed 4 (+ ListTagsForResource,
PutRetentionPolicy, DescribeLogGroups to verify).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..clients import client
from .base import ApiCall, NoAction, Plan, PlanResult, Target, execute, name_from_arn_or_name, read_tags, regional_arn

IAM_ACTIONS: tuple[str, ...] = ("logs:DescribeLogGroups", "logs:ListTagsForResource", "logs:PutRetentionPolicy")
RESOURCE_TYPES: tuple[str, ...] = ("AWS::Logs::LogGroup",)

RULE_RETENTION_DAYS: tuple[int, ...] = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)
"""The rule's documented MinRetentionTime values; PutRetentionPolicy accepts each of them too (it also
accepts 1096, 2192, 2557, 2922 and 3288, which the rule does not list, so they are not offered)."""
RETENTION_DAYS: tuple[int, ...] = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
"""Every value PutRetentionPolicy accepts (botocore's ``Days`` documentation); a recorded retention must be one."""
LOG_GROUP_NAME = re.compile(r"[A-Za-z0-9_\-/.#]{1,512}")
LOG_GROUP_ARN = re.compile(r"arn:aws(?:-cn|-us-gov)?:logs:[a-z0-9-]+:(?P<account>\d{12}):log-group:(?P<name>[A-Za-z0-9_\-/.#]{1,512}?)(?::\*)?")


@dataclass(frozen=True)
class Params:
    """The shortest retention the rule accepts, and which groups it evaluates."""

    min_retention_days: int
    log_group_prefixes: tuple[str, ...]
    """Name prefixes of the groups the rule checks (its LogGroupNames); empty: every group."""


@dataclass(frozen=True)
class LogGroupState:
    """One log group as DescribeLogGroups returns it; ``group`` is None when it does not exist."""

    name: str
    group: Mapping[str, Any] | None
    target: Target

    @property
    def retention_days(self) -> int | None:
        """Retention in days; None when the group never expires."""
        value = (self.group or {}).get("retentionInDays")
        return int(value) if value is not None else None

    @property
    def arn(self) -> str:
        """The group's ARN without the trailing ``:*`` (the form ListTagsForResource takes)."""
        group = self.group or {}
        if group.get("logGroupArn"):
            return str(group["logGroupArn"])
        if group.get("arn"):
            return str(group["arn"]).removesuffix(":*")
        return regional_arn(self.target, "logs", f"log-group:{self.name}")

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict: the name, whether it exists, and its retention (null: never expires)."""
        data: dict[str, Any] = {"logGroupName": self.name, "exists": self.group is not None, "retentionInDays": self.retention_days}
        if (self.group or {}).get("retentionPolicyName"):
            data["retentionPolicyName"] = str((self.group or {})["retentionPolicyName"])
        return data


def parse_params(raw: Mapping[str, Any]) -> Params:
    """Typed params: minRetentionDays from the rule's list, logGroupNames a list of name prefixes."""
    days = raw.get("minRetentionDays", 365)
    if isinstance(days, bool) or not isinstance(days, int) or days not in RULE_RETENTION_DAYS:
        raise ValueError("params.minRetentionDays must be one of " + ", ".join(map(str, RULE_RETENTION_DAYS)))
    prefixes = raw.get("logGroupNames") or []
    if not isinstance(prefixes, list) or not all(isinstance(prefix, str) and LOG_GROUP_NAME.fullmatch(prefix) for prefix in prefixes):
        raise ValueError("params.logGroupNames must be a list of log group name prefixes")
    return Params(days, tuple(prefixes))


def resource_id(resource_type: str, raw_id: str, account: str) -> str | None:
    """The log group name; an ARN of the function's own account is reduced to the name.

    Config's resourceId for AWS::Logs::LogGroup is taken to be the group name (UNVERIFIED: inferred,
    research R18), so the ARN form is accepted too.
    """
    return name_from_arn_or_name(raw_id, account, LOG_GROUP_ARN, LOG_GROUP_NAME) if resource_type in RESOURCE_TYPES else None


def read_state(target: Target) -> LogGroupState:
    """DescribeLogGroups with the name as prefix: the exact name sorts first, so one page holds it when it exists."""
    logs = client("logs")
    request: dict[str, Any] = {"logGroupNamePrefix": target.resource_id}
    while True:
        response = logs.describe_log_groups(**request)
        for group in response.get("logGroups", []):
            if group.get("logGroupName") == target.resource_id:
                return LogGroupState(target.resource_id, dict(group), target)
        if not response.get("nextToken"):
            return LogGroupState(target.resource_id, None, target)
        request["nextToken"] = response["nextToken"]


def evaluated(name: str, params: Params) -> bool:
    """Whether the rule evaluates this group: every group, or those starting with one of the prefixes."""
    return not params.log_group_prefixes or any(name.startswith(prefix) for prefix in params.log_group_prefixes)


def plan(state: LogGroupState, params: Params) -> PlanResult:
    """Raise a retention shorter than minRetentionDays to it; never-expire and longer retentions are compliant."""
    if state.group is None:
        return NoAction("failed", f"log group {state.name} does not exist (deleted since Config evaluated it); nothing was changed")
    current = state.retention_days
    if not evaluated(state.name, params) or current is None or current >= params.min_retention_days:
        return None
    policy = state.group.get("retentionPolicyName")
    if policy:
        return NoAction(
            "failed",
            f"the retention of log group {state.name} ({current} days) comes from the account-level retention policy {policy}, "
            "which overrides PutRetentionPolicy; raise it in that policy",
        )
    return Plan(
        summary=f"Raise the retention of log group {state.name} from {current} to {params.min_retention_days} days (keeps more data, deletes none)",
        calls=(ApiCall("logs", "PutRetentionPolicy", {"logGroupName": state.name, "retentionInDays": params.min_retention_days}),),
        undo=(ApiCall("logs", "PutRetentionPolicy", {"logGroupName": state.name, "retentionInDays": current}),),
        detail={"logGroupName": state.name, "retentionInDays": {"before": current, "after": params.min_retention_days}},
        changed_resource=state.arn,
    )


def is_exempt(_target: Target, state: LogGroupState, _plan: Plan, exemption_tag: str) -> bool:
    """Whether the log group carries the exemption tag (ListTagsForResource on its ARN without ``:*``; fails closed)."""

    def read() -> list[dict[str, str]]:
        tags = client("logs").list_tags_for_resource(resourceArn=state.arn).get("tags", {})
        return [{"Key": key} for key in tags]

    return exemption_tag in read_tags(read, ())


def apply(_target: Target, change: Plan, _params: Params) -> Plan:
    """PutRetentionPolicy."""
    return execute(change)


def finding_resource(target: Target, state: LogGroupState | None) -> tuple[str, str]:
    """Findings name the group by its ARN; UNVERIFIED whether Security Hub's form ends in ``:*`` (then nothing matches)."""
    if state is not None:
        return state.arn, "EQUALS"
    return regional_arn(target, "logs", f"log-group:{target.resource_id}"), "EQUALS"


# --- undo: computed from a record's before-state, never replayed ---------------------------------

UNDO_OPERATIONS: tuple[str, ...] = ("PutRetentionPolicy",)
"""The only operation undo may call for this rule: putting the group's recorded retention back."""


def undo_calls(target: Target, before: Mapping[str, Any], _change: Mapping[str, Any], params: Params, _current: Any) -> tuple[ApiCall, ...]:
    """The PutRetentionPolicy that restores a record's ``before`` retention of the record's own group, derived by ``plan``.

    Undo shortens the retention again, so CloudWatch Logs expires the events older than it.
    Raises UndoRefused for a record that names another group or a retention AWS would not accept.
    """
    from .inverse import inverse_of, require, same_resource

    same_resource(before.get("logGroupName"), target.resource_id, "log group")
    require(before.get("exists") is True, "the record's before-state does not say the log group existed")
    days = before.get("retentionInDays")
    require(
        isinstance(days, int) and not isinstance(days, bool) and days in RETENTION_DAYS,
        "the record's before-state retention is not a value PutRetentionPolicy accepts",
    )
    require(not before.get("retentionPolicyName"), "the record's before-state retention came from an account-level policy, which the fix never changes")
    group = {"logGroupName": target.resource_id, "retentionInDays": days}
    return inverse_of(plan(LogGroupState(target.resource_id, group, target), params)).undo
