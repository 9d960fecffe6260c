"""restricted-admin-ports when the group changes between the fixer's requests, round after round.

``SimulatedGroup`` answers the fixer's three EC2 requests as EC2 does: AuthorizeSecurityGroupIngress
is all-or-nothing, refused as a whole when a rule already exists (InvalidPermission.Duplicate) or
when the family's rule quota would be exceeded; RevokeSecurityGroupIngress revokes what it finds
and lists the rest in UnknownIpPermissions. Between two requests, a scripted change made by someone
else lands, at the request number the test names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from botocore.exceptions import ClientError
from remediation.fixers import restricted_admin_ports as fixer
from remediation.fixers.base import ApiCall, Plan, Target
from remediation.fixers.restricted_admin_ports import GroupState, Params, WorldRule

V4, V6 = "0.0.0.0/0", "::/0"
GROUP = "sg-0123456789abcdef0"


def tcp(low: int, high: int, cidr: str = V4) -> WorldRule:
    """A TCP rule open to the world."""
    return WorldRule("tcp", low, high, cidr)


def _same(first: WorldRule, second: WorldRule) -> bool:
    return (first.kind, first.from_port, first.to_port, first.cidr) == (second.kind, second.from_port, second.to_port, second.cidr)


class SimulatedGroup:
    """One security group's world rules, plus ``others`` IPv4 rules from other sources, under a per-family quota."""

    def __init__(self, rules: list[WorldRule], others: int, quota: int, changes: Mapping[int, Callable[[SimulatedGroup], None]]) -> None:
        self.rules, self.others, self.quota, self.changes = list(rules), others, quota, changes
        self.requests: list[tuple[str, list[WorldRule]]] = []

    def count(self, cidr: str) -> int:
        """Rules of one family, as the quota counts them."""
        return sum(rule.cidr == cidr for rule in self.rules) + (self.others if cidr == V4 else 0)

    def call(self, api_call: ApiCall) -> dict[str, Any]:
        """Answer one request as EC2 would, after the change scripted for its number (if any)."""
        self.changes.get(len(self.requests) + 1, lambda group: None)(self)
        rules = list(fixer.group_state({"GroupId": GROUP, "IpPermissions": api_call.params["IpPermissions"]}).world_rules)
        self.requests.append((api_call.operation, rules))
        if api_call.operation == "AuthorizeSecurityGroupIngress":
            if any(_same(rule, present) for rule in rules for present in self.rules):
                raise ClientError({"Error": {"Code": "InvalidPermission.Duplicate", "Message": "the rule already exists"}}, api_call.operation)
            if any(self.count(cidr) + sum(rule.cidr == cidr for rule in rules) > self.quota for cidr in (V4, V6)):
                raise ClientError({"Error": {"Code": fixer.QUOTA_CODE, "Message": "the maximum number of rules per security group has been reached"}}, api_call.operation)
            self.rules += rules
            return {"Return": True}
        assert api_call.operation == "RevokeSecurityGroupIngress"
        unknown = [rule for rule in rules if not any(_same(rule, present) for present in self.rules)]
        self.rules = [present for present in self.rules if not any(_same(rule, present) for rule in rules)]
        return {"Return": True, "UnknownIpPermissions": [rule.permission(False) for rule in unknown]}

    def read_state(self, _target: Target) -> GroupState:
        """DescribeSecurityGroups, as the fixer reads it."""
        return GroupState(GROUP, None, {}, tuple(self.rules), len(self.rules) + self.others)


def someone_else(*, adds: tuple[WorldRule, ...] = (), revokes: tuple[WorldRule, ...] = (), frees: int = 0) -> Callable[[SimulatedGroup], None]:
    """A concurrent change: rules added and revoked, and ``frees`` other IPv4 rules removed."""

    def change(group: SimulatedGroup) -> None:
        group.rules = [rule for rule in group.rules if rule not in revokes] + list(adds)
        group.others -= frees

    return change


def fix(group: SimulatedGroup, monkeypatch: pytest.MonkeyPatch, ports: frozenset[int] = frozenset({22})) -> Plan:
    """Plan from the group as it is, then apply with the group answering every request."""
    monkeypatch.setattr(fixer, "call", group.call)
    monkeypatch.setattr(fixer, "read_state", group.read_state)
    params = Params(ports)
    change = fixer.plan(group.read_state(Target("AWS::EC2::SecurityGroup", GROUP, "123456789012", "us-east-1")), params)
    assert isinstance(change, Plan)
    return fixer.apply(Target("AWS::EC2::SecurityGroup", GROUP, "123456789012", "us-east-1"), change, params)


def ranges(rules: list[dict[str, Any]] | list[WorldRule]) -> list[tuple[str, int | None, int | None, str]]:
    """Rules of a record or a group as (protocol, from, to, cidr), sorted."""
    parsed = [rule if isinstance(rule, WorldRule) else WorldRule.from_json(rule) for rule in rules]
    return sorted((rule.kind, rule.from_port, rule.to_port, rule.cidr) for rule in parsed)


def test_a_re_add_refused_after_the_revoke_is_still_owed_for_what_nobody_else_re_added(monkeypatch: pytest.MonkeyPatch) -> None:
    """Full group: neither re-add of world TCP 20-25 fits before the revoke. After it, someone else
    frees a rule and adds TCP 23-25, so the fixer's re-add is refused as a duplicate; TCP 20-21,
    which only the fix can give back, is re-added in the next round."""
    group = SimulatedGroup([tcp(20, 25)], others=2, quota=3, changes={5: someone_else(adds=(tcp(23, 25),), frees=1)})
    applied = fix(group, monkeypatch)
    assert [operation for operation, _ in group.requests] == [
        "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupIngress",  # nothing fits yet
        "RevokeSecurityGroupIngress",
        "AuthorizeSecurityGroupIngress",  # refused: TCP 23-25 exists now
        "AuthorizeSecurityGroupIngress",  # only what is still owed
    ]
    assert ranges(group.requests[-1][1]) == [("tcp", 20, 21, V4)]
    assert ranges(group.rules) == [("tcp", 20, 21, V4), ("tcp", 23, 25, V4)]
    assert ranges(applied.detail["revoked"]) == [("tcp", 20, 25, V4)]
    assert ranges(applied.detail["added"]) == [("tcp", 20, 21, V4)], "TCP 23-25 was added by someone else, not by the fix"
    assert (applied.detail["notAdded"], applied.narrowing) == ([], ())


def test_an_owed_re_add_survives_a_new_plan_that_revokes_a_rule_added_meanwhile(monkeypatch: pytest.MonkeyPatch) -> None:
    """As above, but the concurrent change also opens TCP 22 again: the next round revokes that and
    still re-adds TCP 20-21, which the new plan alone would not ask for."""
    group = SimulatedGroup([tcp(20, 25)], others=3, quota=4, changes={5: someone_else(adds=(tcp(23, 25), tcp(22, 22)), frees=2)})
    applied = fix(group, monkeypatch)
    assert ranges(group.rules) == [("tcp", 20, 21, V4), ("tcp", 23, 25, V4)]
    assert ranges(applied.detail["revoked"]) == [("tcp", 20, 25, V4), ("tcp", 22, 22, V4)]
    assert ranges(applied.detail["added"]) == [("tcp", 20, 21, V4)]
    assert applied.detail["notAdded"] == []


def test_a_re_add_that_did_not_fit_is_retried_when_a_later_round_frees_room(monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone replaces world TCP 22-23 with TCP 22 just before the revoke, which AWS then reports
    partly unknown. Only one re-add fits after it; the next round revokes TCP 22, and the freed
    room takes the re-add that did not fit, so nothing is left unadded."""
    group = SimulatedGroup([tcp(20, 25), tcp(22, 23)], others=1, quota=3, changes={4: someone_else(adds=(tcp(22, 22),), revokes=(tcp(22, 23),))})
    applied = fix(group, monkeypatch)
    assert ranges(group.rules) == [("tcp", 20, 21, V4), ("tcp", 23, 25, V4)]
    assert ranges(applied.detail["revoked"]) == [("tcp", 20, 25, V4), ("tcp", 22, 22, V4)], "TCP 22-23 was revoked by someone else"
    assert ranges(applied.detail["added"]) == [("tcp", 20, 21, V4), ("tcp", 23, 25, V4)]
    assert (applied.detail["notAdded"], applied.narrowing) == ([], ())


def test_a_re_add_that_never_fits_is_recorded_once_after_every_round(monkeypatch: pytest.MonkeyPatch) -> None:
    """As above, but someone else also takes the freed room: TCP 20-21 never fits, and the record
    says so once, with the narrowing that explains it."""
    changes = {4: someone_else(adds=(tcp(22, 22),), revokes=(tcp(22, 23),)), 10: someone_else(adds=(WorldRule("udp", 53, 53, V4),))}
    group = SimulatedGroup([tcp(20, 25), tcp(22, 23)], others=1, quota=3, changes=changes)
    applied = fix(group, monkeypatch)
    assert ranges(group.rules) == [("tcp", 23, 25, V4), ("udp", 53, 53, V4)]
    assert ranges(applied.detail["notAdded"]) == [("tcp", 20, 21, V4)]
    assert applied.narrowing == (
        "Re-adding 1 rule(s) without the admin ports would exceed the group's rule quota, so their exposure was revoked only; see notAdded",
    )


def test_a_new_plan_adds_its_narrowing_to_the_first_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """All traffic from 0.0.0.0/0 is being narrowed when someone adds world TCP 0-21 (the fixer's
    first re-add is refused) and all traffic from ::/0: the next round narrows both, and the record
    explains each narrowing once."""
    group = SimulatedGroup([WorldRule("-1", None, None, V4)], others=0, quota=60, changes={1: someone_else(adds=(tcp(0, 21), WorldRule("-1", None, None, V6)))})
    applied = fix(group, monkeypatch)
    assert applied.narrowing == (fixer.narrowing_of(WorldRule("-1", None, None, V4)), fixer.narrowing_of(WorldRule("-1", None, None, V6)))
    assert ranges(applied.detail["revoked"]) == [("-1", None, None, V4), ("-1", None, None, V6)]
    assert not any(fixer.opens_admin_port(rule, frozenset({22})) for rule in group.rules)


def test_a_group_changed_again_in_the_second_round_is_fixed_in_the_last(monkeypatch: pytest.MonkeyPatch) -> None:
    """As above, and someone adds world UDP from ::/0 before the second round's re-add, which is refused
    too: the third and last round plans from the group as it is then and completes the fix."""
    changes = {
        1: someone_else(adds=(tcp(0, 21), WorldRule("-1", None, None, V6))),
        2: someone_else(adds=(WorldRule("udp", 0, 65535, V6),)),
    }
    group = SimulatedGroup([WorldRule("-1", None, None, V4)], others=0, quota=60, changes=changes)
    applied = fix(group, monkeypatch)
    assert [operation for operation, _ in group.requests] == [
        "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress",
    ]
    assert ranges(applied.detail["revoked"]) == [("-1", None, None, V4), ("-1", None, None, V6)]
    assert ranges(applied.detail["added"]) == [
        ("icmp", -1, -1, V4), ("icmpv6", -1, -1, V6), ("tcp", 0, 21, V6), ("tcp", 23, 65535, V4), ("tcp", 23, 65535, V6), ("udp", 0, 65535, V4),
    ], "what someone else added meanwhile is neither re-added nor recorded as added by the fix"
    assert not any(fixer.opens_admin_port(rule, frozenset({22})) for rule in group.rules)
