"""Property tests for restricted-admin-ports: on random groups, the fix removes exactly the world's
access to the admin ports, and nothing else (other protocols of a -1 rule may only be narrowed)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3
import pytest
from conftest import FakeContext, compliance_event, rule_entry, rule_name
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from remediation.fixers import restricted_admin_ports as fixer
from remediation.fixers.base import Plan
from remediation.handler import lambda_handler

from tests.safety.figures import record, scale
from tests.safety.reach import (
    WORLD,
    Entry,
    apply_calls,
    check_only_world_admin_access_removed,
    entries_of,
    permissions_of,
    reach,
)

PREFIX_LIST = "pl-0123456789abcdef0"
PEER_GROUP = "sg-0123456789abcdef0"
OTHER_SOURCES = ("10.0.0.0/8", "203.0.113.7/32", "0.0.0.0/1", "2001:db8::/32", "::/1", PREFIX_LIST, PEER_GROUP)
INTERESTING_PORTS = (0, 1, 20, 21, 22, 23, 80, 443, 3306, 3388, 3389, 3390, 5432, 65534, 65535)

port = st.one_of(st.sampled_from(INTERESTING_PORTS), st.integers(min_value=0, max_value=65535))
port_range = st.one_of(
    port.map(lambda single: (single, single)),
    st.tuples(port, port).map(lambda pair: (min(pair), max(pair))),
    st.just((0, 65535)),
)
icmp_type = st.one_of(st.just((-1, -1)), st.tuples(st.integers(min_value=0, max_value=255), st.integers(min_value=-1, max_value=15)))
protocol_and_ports = st.one_of(
    st.tuples(st.sampled_from(["tcp", "udp"]), port_range),
    st.tuples(st.sampled_from(["icmp", "icmpv6"]), icmp_type),
    st.tuples(st.sampled_from(["-1", "50", "47", "132"]), st.just((None, None))),
)
source = st.one_of(st.sampled_from(WORLD), st.sampled_from(OTHER_SOURCES))
description = st.one_of(st.none(), st.sampled_from(["web", "ssh from anywhere", "legacy (do not touch)"]))
entry = st.builds(lambda proto_ports, src, text: (proto_ports[0], *proto_ports[1], src, text), protocol_and_ports, source, description)
group_entries = st.lists(entry, max_size=10, unique_by=lambda item: item[:4])
admin_ports = st.sets(st.one_of(st.sampled_from([22, 3389, 3306, 5432, 1, 65535, 443]), st.integers(min_value=1, max_value=65535)), min_size=1, max_size=5)


def _named_sources(narrowing: tuple[str, ...]) -> set[str]:
    return {source for source in WORLD for note in narrowing if f"from {source}" in note}


def check_plan(entries: set[Entry], ports: frozenset[int], stats: Counter[str]) -> None:
    """Plan the fix for a group with these rules, apply its calls to the model, and check the result."""
    group = {"GroupId": "sg-12345678", "VpcId": "vpc-12345678", "IpPermissions": permissions_of(entries), "Tags": []}
    params = fixer.Params(ports)
    result = fixer.plan(fixer.group_state(group), params)
    stats["groups"] += 1
    stats["rules"] += len(entries)
    world_reaches_admin_ports = any(
        low <= port <= high for source, allowed in reach(entries).items() if source in WORLD for low, high in allowed.tcp for port in ports
    )
    stats["groups needing a change"] += world_reaches_admin_ports
    assert (result is not None) == world_reaches_admin_ports, "a group changes exactly when the world reaches an admin port"
    if result is None:
        after = set(entries)
        narrowing: tuple[str, ...] = ()
    else:
        assert isinstance(result, Plan)
        after = apply_calls(entries, [call.to_json() for call in result.calls])
        narrowing = result.narrowing
        stats["groups changed"] += 1
        stats["rules revoked"] += len(result.detail["revoked"])
        stats["rules re-added"] += len(result.detail["added"])
        assert apply_calls(after, [call.to_json() for call in result.undo]) == entries, "undo restores the group exactly"
    narrowed = check_only_world_admin_access_removed(entries, after, ports)
    assert _named_sources(narrowing) == {source for source, _ in narrowed}, "narrowing is recorded exactly when it happens"
    stats["groups narrowed"] += bool(narrowed)
    assert fixer.plan(fixer.group_state({**group, "IpPermissions": permissions_of(after)}), params) is None, "the fix is idempotent"


def test_the_plan_removes_exactly_world_access_to_admin_ports() -> None:
    stats: Counter[str] = Counter()

    # Derandomized: the same groups on every run, so the figures in docs/testing.md are reproducible.
    @settings(
        max_examples=scale("sg_plan_examples", 3000),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        derandomize=True,
        database=None,
    )
    @given(group_entries, admin_ports)
    def check(entries: list[Entry], ports: set[int]) -> None:
        check_plan(set(entries), frozenset(ports), stats)

    check()
    # The generator reaches the interesting cases: groups the fix must change, and some it must narrow.
    assert stats["groups needing a change"] > 0 and stats["groups narrowed"] > 0
    assert stats["groups changed"] == stats["groups needing a change"]
    record("sg_plan", "groups", stats["groups"])
    record("sg_plan", "rules", stats["rules"])
    record("sg_plan", "groups changed", stats["groups changed"])
    record("sg_plan", "groups narrowed", stats["groups narrowed"])


def test_the_model_sees_a_known_case() -> None:
    # A self-check of the oracle: world tcp 20-25 minus 22 is 20-21 and 23-25; other sources untouched.
    before: set[Entry] = {("tcp", 20, 25, "0.0.0.0/0", None), ("tcp", 22, 22, "10.0.0.0/8", None), ("-1", None, None, "::/0", None)}
    after: set[Entry] = {
        ("tcp", 20, 21, "0.0.0.0/0", None), ("tcp", 23, 25, "0.0.0.0/0", None), ("tcp", 22, 22, "10.0.0.0/8", None),
        ("tcp", 0, 21, "::/0", None), ("tcp", 23, 65535, "::/0", None), ("udp", 0, 65535, "::/0", None), ("icmpv6", -1, -1, "::/0", None),
    }
    narrowed = check_only_world_admin_access_removed(before, after, frozenset({22}))
    assert {source for source, _ in narrowed} == {"::/0"} and len(narrowed) == 253
    assert reach(after)["0.0.0.0/0"].tcp == ((20, 21), (23, 25))
    with pytest.raises(AssertionError):
        check_only_world_admin_access_removed(before, after | {("udp", 53, 53, "0.0.0.0/0", None)}, frozenset({22}))
    with pytest.raises(AssertionError):
        check_only_world_admin_access_removed(before, after - {("tcp", 22, 22, "10.0.0.0/8", None)}, frozenset({22}))
    with pytest.raises(AssertionError):
        check_only_world_admin_access_removed(before, after | {("tcp", 22, 22, "0.0.0.0/0", None)}, frozenset({22}))


# --- end to end, through moto -------------------------------------------------------------------


def _make_group(entries: list[Entry]) -> tuple[str, dict[str, str]]:
    """A real group with these rules; the placeholder prefix list and peer group become real ones."""
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="generated", Description="generated", VpcId=vpc)["GroupId"]
    peer = ec2.create_security_group(GroupName="peer", Description="peer", VpcId=vpc)["GroupId"]
    prefix_list = ec2.create_managed_prefix_list(PrefixListName="office", MaxEntries=5, AddressFamily="IPv4")["PrefixList"]["PrefixListId"]
    real = {PREFIX_LIST: prefix_list, PEER_GROUP: peer}
    # moto cannot store a numbered protocol without ports (AWS ignores them for such protocols).
    mapped = [
        (protocol, -1 if protocol.isdigit() else low, -1 if protocol.isdigit() else high, real.get(src, src), text)
        for protocol, low, high, src, text in entries
    ]
    if mapped:
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=permissions_of(mapped))
    return group, real


def _rules(group: str) -> set[Entry]:
    permissions: list[dict[str, Any]] = boto3.client("ec2").describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
    return entries_of(permissions)


def test_the_fix_through_moto_removes_exactly_world_access_to_admin_ports(deploy) -> None:
    stats: Counter[str] = Counter()

    @settings(
        max_examples=scale("sg_moto_examples", 80),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        derandomize=True,
        database=None,
    )
    @given(group_entries.filter(lambda items: any(item[3] in WORLD for item in items)), admin_ports)
    def check(entries: list[Entry], ports: set[int]) -> None:
        deploy(rules={"restricted-admin-ports": rule_entry({"ports": sorted(ports)})})
        group, _ = _make_group(entries)
        before = _rules(group)
        event = compliance_event(rule_name("restricted-admin-ports"), "AWS::EC2::SecurityGroup", group)
        result = lambda_handler(event, FakeContext())
        after = _rules(group)
        stats["groups"] += 1
        stats[result["decision"]] += 1
        assert result["decision"] in ("remediated", "already_compliant"), result["reason"]
        narrowed = check_only_world_admin_access_removed(before, after, frozenset(ports))
        assert _named_sources(tuple(result["narrowing"])) == {source for source, _ in narrowed}
        writes = [call for call in result["apiCalls"] if call["operation"] != "DescribeSecurityGroups"]
        stats["writes"] += len(writes)
        assert all(call["outcome"] == "ok" for call in writes), writes
        again = lambda_handler(event, FakeContext())
        assert again["decision"] == "already_compliant", "a second delivery changes nothing"

    check()
    record("sg_moto", "groups", stats["groups"])
    record("sg_moto", "remediated", stats["remediated"])
    record("sg_moto", "writes", stats["writes"])
