"""The security-group fixer's rule arithmetic on its own: what covers what, which re-adds go first,
and how a request over the group's rule quota is split.

These are the pieces ``apply`` builds on when a quota or a concurrent change gets in the way; each
is checked against values worked out by hand.
"""

from __future__ import annotations

import pytest
from remediation.fixers import restricted_admin_ports as fixer
from remediation.fixers.restricted_admin_ports import WorldRule, covers

V4, V6 = "0.0.0.0/0", "::/0"


def tcp(low: int, high: int, cidr: str = V4) -> WorldRule:
    return WorldRule("tcp", low, high, cidr)


@pytest.mark.parametrize(
    ("existing", "wanted", "covered"),
    [
        (WorldRule("-1", None, None, V4), tcp(22, 22), True),
        (WorldRule("-1", None, None, V4), WorldRule("udp", 0, 65535, V4), True),
        (WorldRule("-1", None, None, V4), tcp(22, 22, V6), False),
        (tcp(0, 100), tcp(20, 30), True),
        (tcp(0, 100), tcp(0, 100), True),
        (tcp(20, 30), tcp(0, 100), False),
        (tcp(20, 30), tcp(25, 31), False),
        (tcp(20, 30), tcp(19, 25), False),
        (WorldRule("udp", 0, 65535, V4), tcp(22, 22), False),
        (WorldRule("icmp", -1, -1, V4), WorldRule("icmp", 8, 0, V4), True),
        (WorldRule("icmp", 8, 0, V4), WorldRule("icmp", 8, 0, V4), True),
        (WorldRule("icmp", 8, 0, V4), WorldRule("icmp", 3, 4, V4), False),
        (WorldRule("icmpv6", 128, 0, V6), WorldRule("icmpv6", 128, 1, V6), False),
        (WorldRule("47", None, None, V4), WorldRule("47", None, None, V4), True),
        (WorldRule("47", None, None, V4), WorldRule("50", None, None, V4), False),
    ],
)
def test_what_a_rule_already_allows(existing: WorldRule, wanted: WorldRule, covered: bool) -> None:
    assert covers(existing, wanted) is covered


def test_re_adds_are_ordered_widest_first_and_otherwise_kept_in_order() -> None:
    icmp, ssh_less, web, high = WorldRule("icmp", -1, -1, V4), tcp(23, 23), tcp(0, 100), tcp(1000, 1001)
    udp = WorldRule("udp", 0, 65535, V6)
    assert fixer._widest_first([icmp, ssh_less, high, web, udp]) == [udp, web, high, ssh_less, icmp]
    assert fixer._widest_first([WorldRule("icmp", 8, 0, V4), icmp]) == [WorldRule("icmp", 8, 0, V4), icmp]


def test_a_request_over_the_quota_is_split_by_family_then_in_halves(monkeypatch: pytest.MonkeyPatch) -> None:
    """Room for two more IPv4 rules and one IPv6 rule; AWS rejects a request that does not fit as a whole."""
    room = {V4: 2, V6: 1}
    requests: list[list[WorldRule]] = []

    def authorize_within_quota(group_id: str, rules: list[WorldRule]) -> bool:
        assert group_id == "sg-1"
        requests.append(list(rules))
        wanted = {cidr: sum(rule.cidr == cidr for rule in rules) for cidr in room}
        if any(wanted[cidr] > room[cidr] for cidr in room):
            return False
        for cidr in room:
            room[cidr] -= wanted[cidr]
        return True

    monkeypatch.setattr(fixer, "_authorize_within_quota", authorize_within_quota)
    a, b, c, d = tcp(1, 1), tcp(2, 2), tcp(3, 3), tcp(4, 4, V6)
    added: list[WorldRule] = []
    assert fixer._authorize_what_fits("sg-1", [a, b, c, d], added) == [c]
    assert added == [a, b, d]
    assert requests == [[a, b, c, d], [a, b, c], [a, b], [c], [d]]


def test_nothing_to_authorize_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fixer, "_authorize_within_quota", lambda *_: pytest.fail("no request may be sent"))
    assert fixer._authorize_what_fits("sg-1", [], []) == []


def test_a_described_group_without_ingress_rules_has_no_world_rules() -> None:
    state = fixer.group_state({"GroupId": "sg-1"})
    assert (state.world_rules, state.ingress_rule_count, state.tags) == ((), 0, {})


def test_a_rule_named_by_protocol_number_is_re_added_as_tcp() -> None:
    numbered = WorldRule("6", 20, 25, V4, "legacy")
    assert fixer.replacement_rules(numbered, frozenset({22})) == [WorldRule("tcp", 20, 21, V4, "legacy"), WorldRule("tcp", 23, 25, V4, "legacy")]
