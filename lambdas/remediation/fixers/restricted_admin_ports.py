"""Fixer: security groups that open admin ports (default TCP 22 and 3389) to 0.0.0.0/0 or ::/0.

Only ingress rules whose source is exactly 0.0.0.0/0 or ::/0 and that cover an admin port change:
each is revoked and re-added minus the admin ports, so every other port keeps exactly the
exposure it had. Other CIDRs, prefix lists, group references and descriptions are untouched.
A protocol -1 rule is re-added as TCP minus the admin ports, all UDP and ICMP (ICMPv6 for ::/0);
its other IP protocols are dropped and the record says so. The re-added rules are authorized
before the old ones are revoked, so a retry after a failure halfway never loses exposure; what
does not fit the group's rule quota then is re-added after the revoke has freed room.

Requests per event: compliant 1 (DescribeSecurityGroups, which also returns the tags); fixed 3 or
4 (+ AuthorizeSecurityGroupIngress when something is re-added, RevokeSecurityGroupIngress,
DescribeSecurityGroups to verify). Over the rule quota, AWS rejects a request as a whole, so the
re-add is retried in smaller requests (per IP family, then halves): at most 2n-1 Authorize
requests before and as many after the revoke for n re-added rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import ClientError

from ..clients import client
from ..errors import error_code
from .base import ApiCall, NotRemediable, Plan, PlanResult, Target, call

IAM_ACTIONS: tuple[str, ...] = (
    "ec2:DescribeSecurityGroups",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupIngress",
)
RESOURCE_TYPES: tuple[str, ...] = ("AWS::EC2::SecurityGroup",)

GROUP_ID = re.compile(r"sg-[0-9a-f]{8}(?:[0-9a-f]{9})?")
WORLD_IPV4 = "0.0.0.0/0"
WORLD_IPV6 = "::/0"
ALL_PORTS = (0, 65535)
PROTOCOL_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}
MAX_ROUNDS = 3
"""Times to re-read the group when a concurrent change makes a call miss its rule."""
RETRY_CODES = frozenset({"InvalidPermission.NotFound", "InvalidPermission.Duplicate"})
QUOTA_CODE = "RulesPerSecurityGroupLimitExceeded"


@dataclass(frozen=True)
class Params:
    """The admin ports that must not be open to the world."""

    ports: frozenset[int]


@dataclass(frozen=True)
class WorldRule:
    """One ingress rule whose source is 0.0.0.0/0 or ::/0."""

    protocol: str
    """IpProtocol as AWS reports it (tcp, udp, icmp, icmpv6, -1 or a number)."""
    from_port: int | None
    to_port: int | None
    cidr: str
    description: str | None = None

    @property
    def kind(self) -> str:
        """The protocol's name: tcp, udp, icmp, icmpv6, -1 (all) or the number."""
        return PROTOCOL_NAMES.get(self.protocol.lower(), self.protocol.lower())

    @property
    def ports(self) -> tuple[int, int]:
        """The TCP or UDP port range (all ports when unset)."""
        if self.from_port is None or self.to_port is None or self.from_port < 0:
            return ALL_PORTS
        return self.from_port, self.to_port

    def permission(self, with_description: bool = True) -> dict[str, Any]:
        """The rule as one IpPermissions entry for Authorize/RevokeSecurityGroupIngress."""
        permission: dict[str, Any] = {"IpProtocol": self.protocol}
        if self.from_port is not None:
            permission["FromPort"] = self.from_port
            permission["ToPort"] = self.to_port
        source: dict[str, Any] = {"CidrIp": self.cidr} if self.cidr == WORLD_IPV4 else {"CidrIpv6": self.cidr}
        if with_description and self.description is not None:
            source["Description"] = self.description
        permission["IpRanges" if self.cidr == WORLD_IPV4 else "Ipv6Ranges"] = [source]
        return permission

    def to_json(self) -> dict[str, Any]:
        """The rule as a JSON-ready dict."""
        return {
            "protocol": self.protocol,
            "fromPort": self.from_port,
            "toPort": self.to_port,
            "cidr": self.cidr,
            "description": self.description,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WorldRule:
        """The inverse of ``to_json``."""
        return cls(data["protocol"], data["fromPort"], data["toPort"], data["cidr"], data.get("description"))


@dataclass(frozen=True)
class GroupState:
    """What the fixer needs to know about a security group."""

    group_id: str
    vpc_id: str | None
    tags: Mapping[str, str]
    world_rules: tuple[WorldRule, ...]
    """Every ingress rule open to 0.0.0.0/0 or ::/0; the only rules the fixer may change."""
    ingress_rule_count: int
    """All ingress rules (one per source), for the record."""

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict."""
        return {
            "groupId": self.group_id,
            "vpcId": self.vpc_id,
            "ingressRuleCount": self.ingress_rule_count,
            "worldRules": [rule.to_json() for rule in self.world_rules],
        }


def parse_params(raw: Mapping[str, Any]) -> Params:
    """Typed params: 1 to 5 distinct TCP ports."""
    ports = raw.get("ports")
    if (
        not isinstance(ports, list)
        or not 1 <= len(ports) <= 5
        or not all(isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535 for port in ports)
    ):
        raise ValueError("params.ports must be a list of 1 to 5 TCP ports between 1 and 65535")
    return Params(frozenset(ports))


def resource_id(resource_type: str, raw_id: str, _account: str) -> str | None:
    """The security group id (sg- and 8 or 17 hex digits)."""
    return raw_id if resource_type in RESOURCE_TYPES and GROUP_ID.fullmatch(raw_id) else None


def finding_resource(target: Target, _state: Any) -> tuple[str, str]:
    """Findings name the group by an ARN containing its id; the exact ASFF form is UNVERIFIED (facts §7.2)."""
    return target.resource_id, "CONTAINS"


# --- read ---------------------------------------------------------------------------------------


def read_state(target: Target) -> GroupState:
    """DescribeSecurityGroups for the group: its rules and its tags in one request."""
    group = client("ec2").describe_security_groups(GroupIds=[target.resource_id])["SecurityGroups"][0]
    return group_state(group)


def group_state(group: Mapping[str, Any]) -> GroupState:
    """Pure: the fixer's view of one DescribeSecurityGroups entry."""
    world: list[WorldRule] = []
    count = 0
    for permission in group.get("IpPermissions", []):
        count += sum(len(permission.get(key, [])) for key in ("IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs"))
        protocol = str(permission.get("IpProtocol"))
        from_port, to_port = permission.get("FromPort"), permission.get("ToPort")
        for source in permission.get("IpRanges", []):
            if source.get("CidrIp") == WORLD_IPV4:
                world.append(WorldRule(protocol, from_port, to_port, WORLD_IPV4, source.get("Description")))
        for source in permission.get("Ipv6Ranges", []):
            if source.get("CidrIpv6") == WORLD_IPV6:
                world.append(WorldRule(protocol, from_port, to_port, WORLD_IPV6, source.get("Description")))
    tags = {str(tag["Key"]): str(tag.get("Value", "")) for tag in group.get("Tags", [])}
    return GroupState(str(group["GroupId"]), group.get("VpcId"), tags, tuple(world), count)


# --- plan (pure) --------------------------------------------------------------------------------


def opens_admin_port(rule: WorldRule, admin_ports: frozenset[int]) -> bool:
    """Whether the rule lets TCP reach one of the admin ports."""
    if rule.kind == "-1":
        return True
    if rule.kind != "tcp":
        return False
    low, high = rule.ports
    return any(low <= port <= high for port in admin_ports)


def ranges_without(low: int, high: int, excluded: Iterable[int]) -> list[tuple[int, int]]:
    """The port range ``low``-``high`` minus the ``excluded`` ports, as ranges in order."""
    ranges: list[tuple[int, int]] = []
    start = low
    for port in sorted(port for port in set(excluded) if low <= port <= high):
        if start <= port - 1:
            ranges.append((start, port - 1))
        start = port + 1
    if start <= high:
        ranges.append((start, high))
    return ranges


def replacement_rules(rule: WorldRule, admin_ports: frozenset[int]) -> list[WorldRule]:
    """The rules that keep every exposure of ``rule`` except TCP to the admin ports."""
    if rule.kind == "-1":
        low, high = ALL_PORTS
        tcp = [WorldRule("tcp", a, b, rule.cidr, rule.description) for a, b in ranges_without(low, high, admin_ports)]
        icmp = "icmp" if rule.cidr == WORLD_IPV4 else "icmpv6"
        return [*tcp, WorldRule("udp", low, high, rule.cidr, rule.description), WorldRule(icmp, -1, -1, rule.cidr, rule.description)]
    low, high = rule.ports
    return [replace(rule, protocol="tcp", from_port=a, to_port=b) for a, b in ranges_without(low, high, admin_ports)]


def covers(existing: WorldRule, wanted: WorldRule) -> bool:
    """Whether ``existing`` already allows everything ``wanted`` allows."""
    if existing.cidr != wanted.cidr:
        return False
    if existing.kind == "-1":
        return True
    if existing.kind != wanted.kind:
        return False
    if existing.kind in ("tcp", "udp"):
        return existing.ports[0] <= wanted.ports[0] and wanted.ports[1] <= existing.ports[1]
    if existing.kind in ("icmp", "icmpv6"):
        return existing.from_port == -1 or (existing.from_port, existing.to_port) == (wanted.from_port, wanted.to_port)
    return True


def narrowing_of(rule: WorldRule) -> str | None:
    """What re-adding ``rule`` minus the admin ports cannot keep, in one sentence."""
    if rule.kind != "-1":
        return None
    icmp = "ICMP" if rule.cidr == WORLD_IPV4 else "ICMPv6"
    return (
        f"All traffic from {rule.cidr} was re-added as TCP (except the admin ports), UDP and {icmp}; "
        f"other IP protocols from {rule.cidr} are no longer allowed"
    )


def plan(state: GroupState, params: Params) -> PlanResult:
    """Revoke each world rule that opens an admin port; re-add it minus the admin ports."""
    revoke = [rule for rule in state.world_rules if opens_admin_port(rule, params.ports)]
    if not revoke:
        return None
    surviving = [rule for rule in state.world_rules if rule not in revoke]
    candidates = [wanted for rule in revoke for wanted in replacement_rules(rule, params.ports)]
    additions: list[WorldRule] = []
    for index, wanted in enumerate(candidates):
        # Skip what a surviving rule, a wider candidate or an earlier equal one already allows.
        wider = [other for other in candidates if other != wanted and covers(other, wanted) and not covers(wanted, other)]
        earlier = [other for other in candidates[:index] if covers(other, wanted)]
        if not any(covers(existing, wanted) for existing in surviving) and not wider and not earlier:
            additions.append(wanted)
    narrowing = tuple(note for note in (narrowing_of(rule) for rule in revoke) if note)
    return rule_change(state.group_id, revoke, additions, narrowing, sorted(params.ports))


def rule_change(
    group_id: str,
    revoke: list[WorldRule],
    additions: list[WorldRule],
    narrowing: tuple[str, ...],
    admin_ports: list[int],
    not_added: list[WorldRule] | None = None,
) -> Plan:
    """Pure: the plan (or record of what was done) for revoking and re-adding world rules."""
    calls = []
    if additions:
        calls.append(_authorize(group_id, additions))
    if revoke:
        calls.append(_revoke(group_id, revoke))
    undo = []
    if additions:
        undo.append(_revoke(group_id, additions))
    if revoke:
        undo.append(_authorize(group_id, revoke))
    ports = ", ".join(str(port) for port in admin_ports)
    return Plan(
        summary=f"Close TCP {ports} to the world in {group_id}: revoke {len(revoke)} rule(s), re-add {len(additions)} without the admin ports",
        calls=tuple(calls),
        undo=tuple(undo),
        detail={
            "adminPorts": admin_ports,
            "revoked": [rule.to_json() for rule in revoke],
            "added": [rule.to_json() for rule in additions],
            "notAdded": [rule.to_json() for rule in not_added or []],
        },
        narrowing=narrowing,
    )


def _authorize(group_id: str, rules: list[WorldRule]) -> ApiCall:
    return ApiCall("ec2", "AuthorizeSecurityGroupIngress", {"GroupId": group_id, "IpPermissions": [rule.permission() for rule in rules]})


def _revoke(group_id: str, rules: list[WorldRule]) -> ApiCall:
    # A revoke matches on protocol, ports and source; descriptions are not part of the match.
    return ApiCall("ec2", "RevokeSecurityGroupIngress", {"GroupId": group_id, "IpPermissions": [rule.permission(False) for rule in rules]})


def is_exempt(_target: Target, state: GroupState, _plan: Plan, exemption_tag: str) -> bool:
    """Whether the group carries the exemption tag (read with its rules, so no extra request)."""
    return exemption_tag in state.tags


# --- apply --------------------------------------------------------------------------------------


def apply(target: Target, change: Plan, params: Params) -> Plan:
    """Re-add what fits, revoke the old rules, then re-add the rest; adapts to quota and concurrent changes.

    Re-adding before revoking means a failure halfway never loses exposure; revoking before the
    rest frees room, so every re-add that fits the group's rule quota once the old rules are gone
    is made. AWS rejects an over-quota request as a whole, so what does not fit is re-added in
    smaller requests (per IP family, widest first) and only what cannot fit at all is recorded as
    narrowing. If a rule disappeared or appeared meanwhile, the group is read again and planned again,
    keeping the re-adds still owed for rules already revoked, including those that did not fit: a
    later round's revoke may free the room they need.
    """
    revoke = [WorldRule.from_json(rule) for rule in change.detail["revoked"]]
    pending = _widest_first([WorldRule.from_json(rule) for rule in change.detail["added"]])
    narrowing = list(change.narrowing)
    revoked: list[WorldRule] = []
    added: list[WorldRule] = []
    not_added: list[WorldRule] = []
    owed: list[WorldRule] = []
    for _ in range(MAX_ROUNDS):
        unknown: list[WorldRule] = []
        try:
            if revoke:
                pending = _authorize_what_fits(target.resource_id, pending, added)
                unknown = _revoke_reporting_unknown(target.resource_id, revoke)
                revoked += [rule for rule in revoke if rule not in unknown]
                revoke = []
            not_added = _authorize_what_fits(target.resource_id, pending, added)
            pending = []
            if not unknown:
                break
        except ClientError as error:
            if error_code(error) not in RETRY_CODES:
                raise
            pending = [rule for rule in pending if rule not in added]
            if revoke:
                # This round's revoke was not made: only the re-adds of rules revoked earlier are owed.
                pending = [rule for rule in pending if rule in owed]
        # A rule was already gone or already present: someone else changed the group meanwhile.
        current = read_state(target)
        owed = [rule for rule in [*pending, *not_added] if not any(covers(existing, rule) for existing in current.world_rules)]
        not_added = []
        fresh = plan(current, params)
        if isinstance(fresh, Plan):
            revoke = [WorldRule.from_json(rule) for rule in fresh.detail["revoked"]]
            wanted = [WorldRule.from_json(rule) for rule in fresh.detail["added"]]
            pending = _widest_first([*wanted, *(rule for rule in owed if rule not in wanted)])
            narrowing += [note for note in fresh.narrowing if note not in narrowing]
        else:
            revoke, pending = [], owed
        if not revoke and not pending:
            break
    else:
        raise NotRemediable(f"the rules of {target.resource_id} kept changing during {MAX_ROUNDS} attempts")
    if not_added:
        narrowing.append(
            f"Re-adding {len(not_added)} rule(s) without the admin ports would exceed the group's rule quota, "
            "so their exposure was revoked only; see notAdded"
        )
    return rule_change(target.resource_id, revoked, added, tuple(narrowing), sorted(params.ports), not_added)


def _widest_first(rules: list[WorldRule]) -> list[WorldRule]:
    """Rules ordered so that, when not all fit the quota, the ones allowing the most come first."""
    def width(rule: WorldRule) -> int:
        if rule.kind in ("tcp", "udp"):
            low, high = rule.ports
            return high - low + 1
        return 0

    return sorted(rules, key=lambda rule: -width(rule))


def _authorize_what_fits(group_id: str, rules: list[WorldRule], added: list[WorldRule]) -> list[WorldRule]:
    """Authorize ``rules`` in as few requests as the quota allows; appends each success to ``added``.

    Returns the rules that do not fit. The quota counts IPv4 and IPv6 rules separately, so an
    over-quota request is split by family first, then in halves.
    """
    if not rules:
        return []
    if _authorize_within_quota(group_id, rules):
        added += rules
        return []
    families = [[rule for rule in rules if rule.cidr == cidr] for cidr in (WORLD_IPV4, WORLD_IPV6)]
    parts = [family for family in families if family]
    if len(parts) == 1:
        if len(rules) == 1:
            return list(rules)
        middle = (len(rules) + 1) // 2
        parts = [rules[:middle], rules[middle:]]
    left_over: list[WorldRule] = []
    for part in parts:
        left_over += _authorize_what_fits(group_id, part, added)
    return left_over


def _authorize_within_quota(group_id: str, rules: list[WorldRule]) -> bool:
    """AuthorizeSecurityGroupIngress; False when the group's rule quota would be exceeded.

    AWS rejects the whole request then: none of its rules is added.
    """
    try:
        call(_authorize(group_id, rules))
    except ClientError as error:
        if error_code(error) == QUOTA_CODE:
            return False
        raise
    return True


def _revoke_reporting_unknown(group_id: str, rules: list[WorldRule]) -> list[WorldRule]:
    """RevokeSecurityGroupIngress; returns the rules AWS reports it did not find."""
    response = call(_revoke(group_id, rules))
    unknown = group_state({"GroupId": group_id, "IpPermissions": response.get("UnknownIpPermissions", [])})
    return [rule for rule in rules if any(_same_rule(rule, other) for other in unknown.world_rules)]


def _same_rule(first: WorldRule, second: WorldRule) -> bool:
    return (first.kind, first.from_port, first.to_port, first.cidr) == (second.kind, second.from_port, second.to_port, second.cidr)


# --- undo: computed from a record's before-state, never replayed ---------------------------------

UNDO_OPERATIONS: tuple[str, ...] = ("RevokeSecurityGroupIngress", "AuthorizeSecurityGroupIngress")
"""The only operations undo may call for this rule: the inverses of the fixer's own writes."""


def _rules_from_record(entries: Any, what: str) -> list[WorldRule]:
    from .inverse import UndoRefused, record_list, require

    try:
        rules = [WorldRule.from_json(entry) for entry in record_list(entries, what)]
    except (KeyError, TypeError) as error:
        raise UndoRefused(f"the record's {what} are not security group rules ({error})") from error
    for rule in rules:
        require(rule.cidr in (WORLD_IPV4, WORLD_IPV6), f"the record's {what} include a rule from {rule.cidr}, which this fixer never changes")
        require(
            all(port is None or (isinstance(port, int) and not isinstance(port, bool)) for port in (rule.from_port, rule.to_port)),
            f"the record's {what} include a rule whose ports are not whole numbers",
        )
    return rules


def undo_calls(target: Target, before: Mapping[str, Any], change: Mapping[str, Any], params: Params, _current: Any) -> tuple[ApiCall, ...]:
    """Re-authorize only world rules the before-state had and that open an admin port; revoke only what replaced them.

    The applied change may differ from a fresh plan (quota, concurrent edits), so its revoked and
    added rules are taken from the record, but only as far as the before-state and the fixer's own
    rules allow: every re-authorized rule was in the before-state and opens an admin port; every
    revoked rule lies within one of them and opens none. Raises UndoRefused otherwise.
    """
    from .inverse import UndoRefused, inverse_of, record_mapping, require, same_resource

    same_resource(before.get("groupId"), target.resource_id, "security group")
    world = _rules_from_record(before.get("worldRules"), "before-state world rules")
    state = GroupState(target.resource_id, before.get("vpcId"), {}, tuple(world), len(world))
    planned = inverse_of(plan(state, params))
    detail = record_mapping(change.get("detail", planned.detail), "change detail")
    try:
        admin_ports = parse_params({"ports": detail.get("adminPorts", sorted(params.ports))}).ports
    except ValueError as error:
        raise UndoRefused(f"the record's adminPorts are not TCP ports ({error})") from error
    revoked = _rules_from_record(detail.get("revoked", []), "revoked rules")
    added = _rules_from_record(detail.get("added", []), "added rules")
    for rule in revoked:
        require(rule in world and opens_admin_port(rule, admin_ports), f"the record's revoked rule {rule.to_json()} was not an admin-port rule of the before-state")
    for rule in added:
        require(
            not opens_admin_port(rule, admin_ports) and any(covers(old, rule) for old in revoked),
            f"the record's added rule {rule.to_json()} is not part of what the fixer re-adds for the revoked rules",
        )
    return rule_change(target.resource_id, revoked, added, (), sorted(admin_ports)).undo
