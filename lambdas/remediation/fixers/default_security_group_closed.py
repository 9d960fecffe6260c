"""Fixer: a VPC's default security group closed (no inbound and no outbound rule).

Only a group named ``default`` is ever changed: any other group is outside the Config rule
(NOT_APPLICABLE) and is recorded as ``exempt`` without a write. Every ingress and egress rule of the
default group is revoked by its rule id, and nothing else is touched. The network interfaces that
still use the group are listed in the plan's detail, so a dry run shows who would lose traffic; in
``auto`` mode a group that interfaces still use is not closed (``failed``, nothing written) unless
params.evenWhenInUse is true. A group deleted with its VPC (``InvalidGroup.NotFound``) has nothing
left to close. Undo re-authorizes exactly the rules the before-state had and the change revoked.

Requests per event: compliant 1 (DescribeSecurityGroups, which also returns the tags); fixed 6
(+ DescribeSecurityGroupRules for the rule ids, DescribeNetworkInterfaces, RevokeSecurityGroupIngress,
RevokeSecurityGroupEgress, DescribeSecurityGroups to verify), 5 when only one direction has rules.
Each Describe* page holds up to 1,000 entries; a larger group or VPC adds one request per page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..clients import client
from ..errors import error_code
from .base import ApiCall, NoAction, NotRemediable, Plan, PlanResult, Target, call

IAM_ACTIONS: tuple[str, ...] = (
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSecurityGroupRules",
    "ec2:DescribeNetworkInterfaces",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupEgress",
)
RESOURCE_TYPES: tuple[str, ...] = ("AWS::EC2::SecurityGroup",)

GROUP_ID = re.compile(r"sg-[0-9a-f]{8}(?:[0-9a-f]{9})?")
DEFAULT_GROUP_NAME = "default"
GROUP_GONE_CODE = "InvalidGroup.NotFound"
RULE_GONE_CODES = frozenset({"InvalidPermission.NotFound", "InvalidSecurityGroupRuleId.NotFound"})
"""A rule id revoked meanwhile. moto answers InvalidPermission.NotFound; which code AWS uses for an
unknown SecurityGroupRuleIds entry is UNVERIFIED, so both are handled alike."""
MAX_ROUNDS = 3
"""Times to re-read the group when a concurrent change makes a revoke miss one of its rule ids."""
PAGE_SIZE = 1000
"""MaxResults of DescribeSecurityGroupRules and DescribeNetworkInterfaces (the largest both accept)."""
LISTED_INTERFACES = 25
"""Interfaces named in a plan's detail; the count covers them all (records must stay small)."""
PORTED_PROTOCOLS = frozenset({"tcp", "udp", "icmp", "icmpv6", "6", "17", "1", "58"})
"""Protocols whose FromPort/ToPort mean something (ports, or ICMP type and code)."""
SOURCE_KINDS = ("cidrIpv4", "cidrIpv6", "prefixListId", "referencedGroup")


@dataclass(frozen=True)
class Params:
    """Whether a group that network interfaces still use may be closed."""

    even_when_in_use: bool


@dataclass(frozen=True)
class Rule:
    """One security group rule (one source), as DescribeSecurityGroupRules returns it."""

    rule_id: str
    egress: bool
    protocol: str
    from_port: int | None
    to_port: int | None
    source_kind: str
    """cidrIpv4, cidrIpv6, prefixListId or referencedGroup."""
    source: str
    """The CIDR, prefix list id or referenced group id."""
    user_id: str | None = None
    """Account of a referenced group."""
    peering_id: str | None = None
    """VPC peering connection of a referenced group in a peered VPC."""
    description: str | None = None

    def permission(self) -> dict[str, Any]:
        """The rule as one IpPermissions entry that authorizes exactly it again."""
        permission: dict[str, Any] = {"IpProtocol": self.protocol}
        if self.protocol.lower() in PORTED_PROTOCOLS and self.from_port is not None and self.to_port is not None:
            permission["FromPort"], permission["ToPort"] = self.from_port, self.to_port
        entry: dict[str, Any]
        if self.source_kind == "cidrIpv4":
            key, entry = "IpRanges", {"CidrIp": self.source}
        elif self.source_kind == "cidrIpv6":
            key, entry = "Ipv6Ranges", {"CidrIpv6": self.source}
        elif self.source_kind == "prefixListId":
            key, entry = "PrefixListIds", {"PrefixListId": self.source}
        else:
            key, entry = "UserIdGroupPairs", {"GroupId": self.source}
            if self.user_id:
                entry["UserId"] = self.user_id
            if self.peering_id:
                entry["VpcPeeringConnectionId"] = self.peering_id
        if self.description is not None:
            entry["Description"] = self.description
        permission[key] = [entry]
        return permission

    def to_json(self) -> dict[str, Any]:
        """The rule as a JSON-ready dict."""
        data: dict[str, Any] = {
            "ruleId": self.rule_id,
            "egress": self.egress,
            "protocol": self.protocol,
            "fromPort": self.from_port,
            "toPort": self.to_port,
            "sourceKind": self.source_kind,
            "source": self.source,
        }
        for name, value in (("userId", self.user_id), ("peeringId", self.peering_id), ("description", self.description)):
            if value is not None:
                data[name] = value
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Rule:
        """The inverse of ``to_json``; raises KeyError or TypeError on anything else."""
        rule = cls(
            str(data["ruleId"]),
            data["egress"],
            str(data["protocol"]),
            data["fromPort"],
            data["toPort"],
            str(data["sourceKind"]),
            str(data["source"]),
            data.get("userId"),
            data.get("peeringId"),
            data.get("description"),
        )
        if not isinstance(rule.egress, bool) or rule.source_kind not in SOURCE_KINDS:
            raise TypeError("not a security group rule")
        for port in (rule.from_port, rule.to_port):
            if port is not None and (not isinstance(port, int) or isinstance(port, bool)):
                raise TypeError("ports are not whole numbers")
        for text in (rule.user_id, rule.peering_id, rule.description):
            if text is not None and not isinstance(text, str):
                raise TypeError("not a security group rule")
        return rule


def rule_from_api(entry: Mapping[str, Any]) -> Rule:
    """Pure: the fixer's view of one DescribeSecurityGroupRules entry."""
    referenced = entry.get("ReferencedGroupInfo") or {}
    user_id, peering_id = None, None
    if entry.get("CidrIpv4"):
        kind, source = "cidrIpv4", entry["CidrIpv4"]
    elif entry.get("CidrIpv6"):
        kind, source = "cidrIpv6", entry["CidrIpv6"]
    elif entry.get("PrefixListId"):
        kind, source = "prefixListId", entry["PrefixListId"]
    else:
        kind, source = "referencedGroup", referenced.get("GroupId", "")
        user_id, peering_id = referenced.get("UserId"), referenced.get("VpcPeeringConnectionId")
    return Rule(
        str(entry["SecurityGroupRuleId"]),
        bool(entry.get("IsEgress")),
        str(entry.get("IpProtocol")),
        entry.get("FromPort"),
        entry.get("ToPort"),
        kind,
        str(source),
        user_id,
        peering_id,
        entry.get("Description"),
    )


def interface_summary(interface: Mapping[str, Any]) -> dict[str, Any]:
    """Pure: who an attached network interface belongs to, for people reading a plan."""
    summary = {
        "networkInterfaceId": interface.get("NetworkInterfaceId"),
        "interfaceType": interface.get("InterfaceType"),
        "description": interface.get("Description") or None,
        "instanceId": (interface.get("Attachment") or {}).get("InstanceId"),
        "requesterId": interface.get("RequesterId"),
    }
    return {key: value for key, value in summary.items() if value is not None}


@dataclass(frozen=True)
class GroupState:
    """A security group as this fixer sees it."""

    group_id: str
    exists: bool
    group_name: str | None
    vpc_id: str | None
    tags: Mapping[str, str]
    rules: tuple[Rule, ...]
    """Every ingress and egress rule (read with ids only for a default group that has rules)."""
    interfaces: tuple[Mapping[str, Any], ...] = ()
    """Up to LISTED_INTERFACES interfaces that use the group (read only when there are rules to revoke)."""
    interface_count: int = 0
    """How many network interfaces use the group."""

    @property
    def is_default(self) -> bool:
        """Whether this is a VPC's default group (the only one the rule evaluates)."""
        return self.group_name == DEFAULT_GROUP_NAME

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict, precise enough to authorize every rule again."""
        return {
            "groupId": self.group_id,
            "exists": self.exists,
            "groupName": self.group_name,
            "vpcId": self.vpc_id,
            "rules": [rule.to_json() for rule in self.rules],
            "networkInterfaceCount": self.interface_count,
            "networkInterfaces": [dict(interface) for interface in self.interfaces],
        }


def parse_params(raw: Mapping[str, Any]) -> Params:
    """Typed params: evenWhenInUse is true or false (default false)."""
    value = raw.get("evenWhenInUse", False)
    if not isinstance(value, bool):
        raise ValueError("params.evenWhenInUse must be true or false")
    return Params(value)


def resource_id(resource_type: str, raw_id: str, _account: str) -> str | None:
    """The security group id (sg- and 8 or 17 hex digits)."""
    return raw_id if resource_type in RESOURCE_TYPES and GROUP_ID.fullmatch(raw_id) else None


def finding_resource(target: Target, _state: Any) -> tuple[str, str]:
    """Findings name the group by an ARN containing its id; the exact ASFF form is UNVERIFIED (facts §7.2)."""
    return target.resource_id, "CONTAINS"


# --- read ---------------------------------------------------------------------------------------


def read_state(target: Target) -> GroupState:
    """DescribeSecurityGroups (name, tags, whether it has rules); for a default group with rules, its rule ids and interfaces."""
    try:
        group = client("ec2").describe_security_groups(GroupIds=[target.resource_id])["SecurityGroups"][0]
    except ClientError as error:
        if error_code(error) == GROUP_GONE_CODE:
            return GroupState(target.resource_id, False, None, None, {}, ())
        raise
    state = group_state(group)
    if not state.is_default or not (group.get("IpPermissions") or group.get("IpPermissionsEgress")):
        return state
    rules = _pages("describe_security_group_rules", "SecurityGroupRules", target.resource_id)
    interfaces = _pages("describe_network_interfaces", "NetworkInterfaces", target.resource_id)
    return with_rules(state, rules, interfaces)


def _pages(operation: str, key: str, group_id: str) -> list[Mapping[str, Any]]:
    paginator = client("ec2").get_paginator(operation)
    items: list[Mapping[str, Any]] = []
    for page in paginator.paginate(Filters=[{"Name": "group-id", "Values": [group_id]}], MaxResults=PAGE_SIZE):
        items.extend(page.get(key, []))
    return items


def group_state(group: Mapping[str, Any]) -> GroupState:
    """Pure: the fixer's view of one DescribeSecurityGroups entry, before its rule ids are read."""
    tags = {str(tag["Key"]): str(tag.get("Value", "")) for tag in group.get("Tags", [])}
    return GroupState(str(group["GroupId"]), True, group.get("GroupName"), group.get("VpcId"), tags, ())


def with_rules(state: GroupState, rules: Sequence[Mapping[str, Any]], interfaces: Sequence[Mapping[str, Any]]) -> GroupState:
    """Pure: ``state`` with the group's DescribeSecurityGroupRules entries and the interfaces that use it."""
    own = tuple(rule_from_api(rule) for rule in rules if rule.get("GroupId", state.group_id) == state.group_id)
    listed = tuple(interface_summary(interface) for interface in interfaces[:LISTED_INTERFACES])
    return GroupState(state.group_id, state.exists, state.group_name, state.vpc_id, state.tags, own, listed, len(interfaces))


# --- plan (pure) --------------------------------------------------------------------------------


def plan(state: GroupState, _params: Params) -> PlanResult:
    """Revoke every rule of a default group; any other group is not evaluated by the rule and never changed."""
    if not state.exists:
        return None
    if not state.is_default:
        return NoAction(
            "exempt",
            f"{state.group_id} is not a default security group (it is named {state.group_name!r}); "
            "VPC_DEFAULT_SECURITY_GROUP_CLOSED does not apply to it, so it is never changed",
        )
    if not state.rules:
        return None
    return close_plan(state, list(state.rules))


def close_plan(state: GroupState, revoke: list[Rule]) -> Plan:
    """Pure: the plan (or record of what was done) for revoking ``revoke`` from the default group."""
    ingress = [rule for rule in revoke if not rule.egress]
    egress = [rule for rule in revoke if rule.egress]
    calls = [_revoke(state.group_id, rules, is_egress) for rules, is_egress in ((ingress, False), (egress, True)) if rules]
    undo = [_authorize(state.group_id, rules, is_egress) for rules, is_egress in ((ingress, False), (egress, True)) if rules]
    users = f"; {state.interface_count} network interface(s) still use it" if state.interface_count else ""
    return Plan(
        summary=(
            f"Close default security group {state.group_id} of {state.vpc_id}: revoke {len(ingress)} inbound and "
            f"{len(egress)} outbound rule(s){users}"
        ),
        calls=tuple(calls),
        undo=tuple(undo),
        detail={
            "groupId": state.group_id,
            "vpcId": state.vpc_id,
            "revoked": [rule.to_json() for rule in revoke],
            "networkInterfaceCount": state.interface_count,
            "networkInterfaces": [dict(interface) for interface in state.interfaces],
        },
    )


def _revoke(group_id: str, rules: list[Rule], egress: bool) -> ApiCall:
    operation = "RevokeSecurityGroupEgress" if egress else "RevokeSecurityGroupIngress"
    return ApiCall("ec2", operation, {"GroupId": group_id, "SecurityGroupRuleIds": [rule.rule_id for rule in rules]})


def _authorize(group_id: str, rules: list[Rule], egress: bool) -> ApiCall:
    operation = "AuthorizeSecurityGroupEgress" if egress else "AuthorizeSecurityGroupIngress"
    return ApiCall("ec2", operation, {"GroupId": group_id, "IpPermissions": [rule.permission() for rule in rules]})


def is_exempt(_target: Target, state: GroupState, _plan: Plan, exemption_tag: str) -> bool:
    """Whether the group carries the exemption tag (read with the group, so no extra request)."""
    return exemption_tag in state.tags


# --- apply --------------------------------------------------------------------------------------


def in_use_refusal(state_or_detail: Mapping[str, Any], group_id: str) -> str:
    """The sentence that says why a group still in use is not closed."""
    count = state_or_detail.get("networkInterfaceCount", 0)
    return (
        f"{count} network interface(s) still use default security group {group_id} (see the plan's networkInterfaces); "
        "closing it would cut their traffic, so nothing was changed: move them to other groups, "
        "or set params.evenWhenInUse to close it anyway"
    )


def apply(target: Target, change: Plan, params: Params) -> Plan:
    """Revoke the rules by id; refuses a group still in use unless params.evenWhenInUse.

    A rule id revoked meanwhile makes it re-read the group and revoke what is left (3 rounds); a
    group deleted with its VPC ends the change with what was revoked until then.
    """
    if change.detail.get("networkInterfaceCount") and not params.even_when_in_use:
        raise NotRemediable(in_use_refusal(change.detail, target.resource_id))
    pending = [Rule.from_json(rule) for rule in change.detail["revoked"]]
    revoked: list[Rule] = []
    interfaces = tuple(change.detail.get("networkInterfaces", ()))
    count = int(change.detail.get("networkInterfaceCount", 0))
    state = GroupState(target.resource_id, True, DEFAULT_GROUP_NAME, change.detail.get("vpcId"), {}, tuple(pending), interfaces, count)
    for _ in range(MAX_ROUNDS):
        try:
            for is_egress in (False, True):
                batch = [rule for rule in pending if rule.egress == is_egress]
                if batch:
                    call(_revoke(target.resource_id, batch, is_egress))
                    revoked += batch
                    pending = [rule for rule in pending if rule not in batch]
            break
        except ClientError as error:
            if error_code(error) == GROUP_GONE_CODE:
                break
            if error_code(error) not in RULE_GONE_CODES:
                raise
        state = read_state(target)
        fresh = plan(state, params)
        if not isinstance(fresh, Plan):
            break
        if state.interface_count and not params.even_when_in_use:
            raise NotRemediable(in_use_refusal(fresh.detail, target.resource_id))
        pending = [Rule.from_json(rule) for rule in fresh.detail["revoked"]]
    else:
        raise NotRemediable(f"the rules of {target.resource_id} kept changing during {MAX_ROUNDS} attempts")
    done = GroupState(target.resource_id, True, DEFAULT_GROUP_NAME, state.vpc_id, {}, (), state.interfaces, state.interface_count)
    return close_plan(done, revoked)


# --- undo: computed from a record's before-state, never replayed ---------------------------------

UNDO_OPERATIONS: tuple[str, ...] = ("AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress")
"""The only operations undo may call for this rule: the inverses of the fixer's own revokes."""


def _rules_from_record(entries: Any, what: str) -> list[Rule]:
    from .inverse import UndoRefused, record_list

    try:
        return [Rule.from_json(entry) for entry in record_list(entries, what)]
    except (KeyError, TypeError) as error:
        raise UndoRefused(f"the record's {what} are not security group rules ({error})") from error


def state_from_record(group_id: str, before: Mapping[str, Any]) -> GroupState:
    """The group a record's ``before`` describes; raises UndoRefused when it is not this record's group."""
    from .inverse import require, same_resource

    same_resource(before.get("groupId"), group_id, "security group")
    require(before.get("exists", True) is True, "the record's before-state says the group did not exist")
    name = before.get("groupName")
    require(name is None or isinstance(name, str), "the record's before-state group name is not a string")
    rules = _rules_from_record(before.get("rules"), "before-state rules")
    return GroupState(group_id, True, name, before.get("vpcId"), {}, tuple(rules))


def undo_calls(target: Target, before: Mapping[str, Any], change: Mapping[str, Any], params: Params, _current: Any) -> tuple[ApiCall, ...]:
    """Authorize again exactly the rules the change revoked, as the before-state had them; raises UndoRefused.

    The change may have revoked fewer rules than planned (a group deleted or a rule revoked by
    someone else meanwhile), so its revoked list is taken from the record, but only rules of the
    before-state, identical to it, are ever authorized.
    """
    from .inverse import inverse_of, record_mapping, require

    state = state_from_record(target.resource_id, before)
    planned = inverse_of(plan(state, params))
    detail = record_mapping(change.get("detail", planned.detail), "change detail")
    revoked = _rules_from_record(detail.get("revoked", []), "revoked rules")
    for rule in revoked:
        require(rule in state.rules, f"the record's revoked rule {rule.rule_id} is not a rule of the before-state")
    require(len({rule.rule_id for rule in revoked}) == len(revoked), "the record's revoked rules name one rule twice")
    return close_plan(state, revoked).undo
