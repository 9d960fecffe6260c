"""restricted-admin-ports: exact revocation and re-adding, on mixed rules, with quota and concurrency."""

from __future__ import annotations

import boto3
import pytest
from conftest import FakeContext, compliance_event, rule_name
from hypothesis import given, settings
from hypothesis import strategies as st
from lambda_scenarios import new_group, new_vpc
from remediation import clients
from remediation.fixers import restricted_admin_ports as fixer
from remediation.fixers.base import Plan
from remediation.fixers.restricted_admin_ports import GroupState, Params, WorldRule
from remediation.handler import lambda_handler
from security_group_quota import model_rule_quota

from tests.safety.reach import Entry, entries_of, reach

ADMIN = Params(frozenset({22, 3389}))
V4, V6 = "0.0.0.0/0", "::/0"


def state(*rules: WorldRule) -> GroupState:
    return GroupState("sg-12345678", "vpc-12345678", {}, rules, len(rules))


def plan_of(*rules: WorldRule, params: Params = ADMIN) -> Plan:
    result = fixer.plan(state(*rules), params)
    assert isinstance(result, Plan)
    return result


def rules(data: list[dict]) -> list[WorldRule]:
    return [WorldRule.from_json(rule) for rule in data]


# --- pure planning ------------------------------------------------------------------------------


def test_a_range_is_split_around_the_admin_port() -> None:
    change = plan_of(WorldRule("tcp", 20, 25, V4, "ftp and ssh"))
    assert rules(change.detail["revoked"]) == [WorldRule("tcp", 20, 25, V4, "ftp and ssh")]
    assert rules(change.detail["added"]) == [WorldRule("tcp", 20, 21, V4, "ftp and ssh"), WorldRule("tcp", 23, 25, V4, "ftp and ssh")]
    assert change.narrowing == ()


def test_a_single_admin_port_is_revoked_with_nothing_to_re_add() -> None:
    change = plan_of(WorldRule("tcp", 22, 22, V6, None))
    assert rules(change.detail["added"]) == []
    assert [call.operation for call in change.calls] == ["RevokeSecurityGroupIngress"]


def test_all_traffic_becomes_tcp_minus_admin_ports_udp_and_icmp_per_family() -> None:
    change = plan_of(WorldRule("-1", None, None, V4), WorldRule("-1", None, None, V6))
    added = rules(change.detail["added"])
    assert [(r.protocol, r.from_port, r.to_port) for r in added if r.cidr == V4] == [
        ("tcp", 0, 21), ("tcp", 23, 3388), ("tcp", 3390, 65535), ("udp", 0, 65535), ("icmp", -1, -1)
    ]
    assert [(r.protocol, r.from_port, r.to_port) for r in added if r.cidr == V6] == [
        ("tcp", 0, 21), ("tcp", 23, 3388), ("tcp", 3390, 65535), ("udp", 0, 65535), ("icmpv6", -1, -1)
    ]
    assert len(change.narrowing) == 2 and all("other IP protocols" in note for note in change.narrowing)


def test_tcp_all_ports_and_numeric_protocol_are_handled() -> None:
    change = plan_of(WorldRule("6", 0, 65535, V4))
    assert [(r.from_port, r.to_port) for r in rules(change.detail["added"])] == [(0, 21), (23, 3388), (3390, 65535)]


def test_rules_that_do_not_reach_admin_ports_are_not_touched() -> None:
    untouched = [
        WorldRule("tcp", 443, 443, V4),
        WorldRule("udp", 0, 65535, V4),
        WorldRule("icmp", -1, -1, V6),
        WorldRule("50", None, None, V6),
        WorldRule("tcp", 23, 3388, V4),
    ]
    assert fixer.plan(state(*untouched), ADMIN) is None
    change = plan_of(*untouched, WorldRule("tcp", 22, 22, V4))
    assert rules(change.detail["revoked"]) == [WorldRule("tcp", 22, 22, V4)]


def test_re_adding_skips_what_a_surviving_rule_already_allows() -> None:
    change = plan_of(WorldRule("-1", None, None, V4), WorldRule("udp", 0, 65535, V4), WorldRule("icmp", -1, -1, V4))
    assert [(r.protocol, r.from_port) for r in rules(change.detail["added"])] == [("tcp", 0), ("tcp", 23), ("tcp", 3390)]


def test_configured_ports_replace_the_defaults() -> None:
    change = plan_of(WorldRule("tcp", 5432, 5432, V4), WorldRule("tcp", 22, 22, V4), params=Params(frozenset({5432})))
    assert rules(change.detail["revoked"]) == [WorldRule("tcp", 5432, 5432, V4)]


def test_undo_reverses_the_change() -> None:
    change = plan_of(WorldRule("tcp", 20, 25, V4, "d"))
    assert [call.operation for call in change.undo] == ["RevokeSecurityGroupIngress", "AuthorizeSecurityGroupIngress"]
    assert change.undo[1].params["IpPermissions"] == [{"IpProtocol": "tcp", "FromPort": 20, "ToPort": 25, "IpRanges": [{"CidrIp": V4, "Description": "d"}]}]


def _tcp_ports(rules_: list[WorldRule], cidr: str) -> set[int]:
    ports: set[int] = set()
    for rule in rules_:
        if rule.cidr == cidr and rule.kind in ("tcp", "-1"):
            low, high = rule.ports
            ports.update(range(low, high + 1))
    return ports


port = st.integers(min_value=0, max_value=65535)
world_rule = st.one_of(
    st.builds(lambda a, b, cidr: WorldRule("tcp", min(a, b), max(a, b), cidr), port, port, st.sampled_from([V4, V6])),
    st.builds(lambda cidr: WorldRule("-1", None, None, cidr), st.sampled_from([V4, V6])),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(world_rule, max_size=4, unique=True), st.sets(st.integers(min_value=1, max_value=65535), min_size=1, max_size=5))
def test_every_other_tcp_port_keeps_exactly_its_exposure(world_rules: list[WorldRule], admin_ports: set[int]) -> None:
    params = Params(frozenset(admin_ports))
    result = fixer.plan(state(*world_rules), params)
    if result is None:
        # Independent oracle: the reachability model, not the fixer's own opens_admin_port.
        world_reach = reach((rule.protocol, rule.from_port, rule.to_port, rule.cidr, rule.description) for rule in world_rules)
        assert not any(low <= port <= high for source in world_reach.values() for low, high in source.tcp for port in admin_ports)
        return
    assert isinstance(result, Plan)
    revoked = rules(result.detail["revoked"])
    after = [rule for rule in world_rules if rule not in revoked] + rules(result.detail["added"])
    for cidr in (V4, V6):
        assert _tcp_ports(after, cidr) == _tcp_ports(world_rules, cidr) - admin_ports
    assert fixer.plan(state(*after), params) is None


# --- against moto -------------------------------------------------------------------------------


def _permissions(group: str) -> list[dict]:
    return boto3.client("ec2").describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]


def _sources(group: str) -> set[Entry]:
    """Every ingress rule as (protocol, from, to, source, description)."""
    return entries_of(_permissions(group))


def _run(group: str) -> dict:
    return lambda_handler(compliance_event(rule_name("restricted-admin-ports"), "AWS::EC2::SecurityGroup", group), FakeContext())


def test_mixed_group_loses_only_world_access_to_admin_ports() -> None:
    ec2 = boto3.client("ec2")
    vpc = new_vpc()
    group = new_group(vpc)
    peer = ec2.create_security_group(GroupName="peer", Description="peer", VpcId=vpc)["GroupId"]
    prefix_list = ec2.create_managed_prefix_list(PrefixListName="office", MaxEntries=5, AddressFamily="IPv4")["PrefixList"]["PrefixListId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp", "FromPort": 20, "ToPort": 25,
                "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "ftp+ssh"}, {"CidrIp": "10.0.0.0/8", "Description": "internal"}],
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
                "PrefixListIds": [{"PrefixListId": prefix_list, "Description": "office"}],
                "UserIdGroupPairs": [{"GroupId": peer, "Description": "peer"}],
            },
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "https"}]},
            {"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0", "Description": "everything v6"}]},
        ],
    )
    before = _sources(group)
    record = _run(group)
    assert record["decision"] == "remediated"
    assert record["level"] == "warning", "the -1 narrowing is flagged"
    after = _sources(group)
    removed, added = before - after, after - before
    assert removed == {
        ("tcp", 20, 25, "0.0.0.0/0", "ftp+ssh"),
        ("tcp", 20, 25, "::/0", None),
        ("-1", None, None, "::/0", "everything v6"),
    }
    assert added == {
        ("tcp", 20, 21, "0.0.0.0/0", "ftp+ssh"),
        ("tcp", 23, 25, "0.0.0.0/0", "ftp+ssh"),
        ("tcp", 0, 21, "::/0", "everything v6"),
        ("tcp", 23, 3388, "::/0", "everything v6"),
        ("tcp", 3390, 65535, "::/0", "everything v6"),
        ("udp", 0, 65535, "::/0", "everything v6"),
        ("icmpv6", -1, -1, "::/0", "everything v6"),
    }
    # tcp 20-21/23-25 from ::/0 are covered by the re-added ::/0 tcp 0-21 and 23-3388 rules.
    assert {tuple(rule.values()) for rule in record["change"]["detail"]["revoked"]} == {
        (protocol, low, high, cidr, description) for protocol, low, high, cidr, description in removed
    }
    assert len(record["change"]["detail"]["added"]) == len(added)
    assert [call["operation"] for call in record["apiCalls"]] == [
        "DescribeSecurityGroups", "AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress", "DescribeSecurityGroups"
    ]


def _fill(group: str, world_rule: dict, fillers: int) -> None:
    ec2 = boto3.client("ec2")
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[world_rule])
    filler = [{"CidrIp": f"10.0.{index}.0/24"} for index in range(fillers)]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": filler}])


def test_over_quota_group_is_revoked_and_the_narrowing_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    model_rule_quota(monkeypatch)
    group = new_group()
    # 60 IPv4 rules (the default quota): neither re-added rule fits before the revoke, one fits after it.
    _fill(group, {"IpProtocol": "tcp", "FromPort": 20, "ToPort": 25, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}, 59)
    record = _run(group)
    assert record["decision"] == "remediated"
    assert record["level"] == "warning"
    assert any("quota" in note for note in record["narrowing"])
    detail = record["change"]["detail"]
    assert detail["notAdded"], "what could not be re-added is listed"
    present = _sources(group)
    for rule in detail["added"]:
        assert (rule["protocol"], rule["fromPort"], rule["toPort"], rule["cidr"], rule["description"]) in present
    for rule in detail["notAdded"]:
        assert (rule["protocol"], rule["fromPort"], rule["toPort"], rule["cidr"], rule["description"]) not in present
    assert ("tcp", 20, 25, "0.0.0.0/0", None) not in present


def test_quota_reached_only_before_revoking_re_adds_after_revoking(monkeypatch: pytest.MonkeyPatch) -> None:
    model_rule_quota(monkeypatch)
    group = new_group()
    _fill(group, {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 25, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}, 59)
    record = _run(group)
    assert record["decision"] == "remediated"
    assert record["narrowing"] == []
    assert record["change"]["detail"]["added"] == [{"protocol": "tcp", "fromPort": 23, "toPort": 25, "cidr": "0.0.0.0/0", "description": None}]
    operations = [(call["operation"], call["outcome"]) for call in record["apiCalls"]]
    assert operations == [
        ("DescribeSecurityGroups", "ok"),
        ("AuthorizeSecurityGroupIngress", "RulesPerSecurityGroupLimitExceeded"),
        ("RevokeSecurityGroupIngress", "ok"),
        ("AuthorizeSecurityGroupIngress", "ok"),
        ("DescribeSecurityGroups", "ok"),
    ]
    assert ("tcp", 23, 25, "0.0.0.0/0", None) in _sources(group)


def test_a_rule_removed_concurrently_is_re_read_and_the_fix_continues(monkeypatch: pytest.MonkeyPatch) -> None:
    ec2 = boto3.client("ec2")
    group = new_group()
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        ],
    )
    original_read = fixer.read_state
    reads: list[object] = []

    def read_then_someone_revokes(target):
        result = original_read(target)
        if not reads:
            ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        reads.append(result)
        return result

    monkeypatch.setattr(fixer, "read_state", read_then_someone_revokes)
    record = _run(group)
    assert record["decision"] == "remediated"
    outcomes = [(call["operation"], call["outcome"]) for call in record["apiCalls"]]
    assert ("RevokeSecurityGroupIngress", "InvalidPermission.NotFound") in outcomes
    assert outcomes[-2] == ("RevokeSecurityGroupIngress", "ok")
    assert [rule["fromPort"] for rule in record["change"]["detail"]["revoked"]] == [3389]
    assert _permissions(group) == []


def test_group_tagged_exempt_is_not_read_twice() -> None:
    group = new_group()
    ec2 = boto3.client("ec2")
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    ec2.create_tags(Resources=[group], Tags=[{"Key": "governance:exempt", "Value": ""}])
    record = _run(group)
    assert record["decision"] == "exempt"
    assert [call["operation"] for call in record["apiCalls"]] == ["DescribeSecurityGroups"]


def test_a_deleted_group_is_a_failure_record_not_a_crash() -> None:
    record = _run("sg-0123456789abcdef0")
    assert record["decision"] == "failed"
    assert "InvalidGroup.NotFound" in record["reason"]
    clients.forget_clients()
