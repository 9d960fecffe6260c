"""restricted-admin-ports against AWS behaviour moto does not have: the per-family rule quota with
all-or-nothing AuthorizeSecurityGroupIngress, concurrent changes between read and write, and
RevokeSecurityGroupIngress reporting rules it did not find."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from conftest import FakeContext, compliance_event, rule_name
from lambda_scenarios import new_group
from remediation.fixers import restricted_admin_ports as fixer
from remediation.fixers.base import ApiCall, Plan
from remediation.fixers.restricted_admin_ports import GroupState, Params, WorldRule
from remediation.handler import lambda_handler
from security_group_quota import model_rule_quota

from tests.safety.reach import apply_calls, check_only_world_admin_access_removed, entries_of, reach

V4, V6 = "0.0.0.0/0", "::/0"


def _world(protocol: str, low: int | None, high: int | None, cidr: str = V4) -> dict[str, Any]:
    permission: dict[str, Any] = {"IpProtocol": protocol}
    if low is not None:
        permission.update(FromPort=low, ToPort=high)
    permission["IpRanges" if cidr == V4 else "Ipv6Ranges"] = [{"CidrIp": cidr} if cidr == V4 else {"CidrIpv6": cidr}]
    return permission


def _group_with(*permissions: dict[str, Any], ipv4_fillers: int = 0) -> str:
    """A group with these rules and ``ipv4_fillers`` other IPv4 rules (TCP 80 from private /24s)."""
    group = new_group()
    ec2 = boto3.client("ec2")
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=list(permissions))
    if ipv4_fillers:
        sources = [{"CidrIp": f"10.0.{index}.0/24"} for index in range(ipv4_fillers)]
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": sources}])
    return group


def _permissions(group: str) -> list[dict[str, Any]]:
    return boto3.client("ec2").describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]


def _world_tcp_ports(group: str, cidr: str) -> tuple[tuple[int, int], ...]:
    found = reach(entries_of(_permissions(group)))
    return found[cidr].tcp if cidr in found else ()


def _run(group: str) -> dict[str, Any]:
    return lambda_handler(compliance_event(rule_name("restricted-admin-ports"), "AWS::EC2::SecurityGroup", group), FakeContext())


def _reaches(intervals: tuple[tuple[int, int], ...], port: int) -> bool:
    return any(low <= port <= high for low, high in intervals)


# --- the rule quota -----------------------------------------------------------------------------


def test_the_quota_model_rejects_an_over_quota_batch_as_a_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    model_rule_quota(monkeypatch)
    group = _group_with(_world("tcp", 443, 443), ipv4_fillers=58)
    batch = [_world("tcp", 8080, 8080), _world("tcp", 8443, 8443)]
    with pytest.raises(boto3.client("ec2").exceptions.ClientError, match="RulesPerSecurityGroupLimitExceeded"):
        boto3.client("ec2").authorize_security_group_ingress(GroupId=group, IpPermissions=batch)
    assert len(entries_of(_permissions(group))) == 59, "nothing of the rejected batch was added"
    boto3.client("ec2").authorize_security_group_ingress(GroupId=group, IpPermissions=[_world("tcp", 53, 53, V6)])


def test_re_adding_over_the_quota_keeps_what_fits_widest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    model_rule_quota(monkeypatch)
    # 59 IPv4 rules: room for 1 before the revoke and 2 after it; the fix needs 3 (0-21, 23-3388, 3390-65535).
    group = _group_with(_world("tcp", 0, 65535), ipv4_fillers=58)
    record = _run(group)
    assert record["decision"] == "remediated", record["reason"]
    detail = record["change"]["detail"]
    assert [(rule["fromPort"], rule["toPort"]) for rule in detail["notAdded"]] == [(0, 21)]
    ports = _world_tcp_ports(group, V4)
    assert _reaches(ports, 443) and _reaches(ports, 8080), "one rule that did not fit does not cost the others their exposure"
    assert not _reaches(ports, 22) and not _reaches(ports, 3389)
    assert record["narrowing"] == [
        "Re-adding 1 rule(s) without the admin ports would exceed the group's rule quota, so their exposure was revoked only; see notAdded",
    ]
    assert record["change"]["summary"] == f"Close TCP 22, 3389 to the world in {group}: revoke 1 rule(s), re-add 2 without the admin ports"


def test_one_family_at_its_quota_does_not_stop_the_other_family_re_adding(monkeypatch: pytest.MonkeyPatch) -> None:
    model_rule_quota(monkeypatch)
    group = _group_with(_world("tcp", 20, 25), _world("tcp", 20, 25, V6), ipv4_fillers=59)
    record = _run(group)
    assert record["decision"] == "remediated", record["reason"]
    assert _world_tcp_ports(group, V6) == ((20, 21), (23, 25))
    assert not _reaches(_world_tcp_ports(group, V4), 22)


def test_a_narrowing_re_add_that_fits_after_revoking_never_fails_for_lack_of_room(monkeypatch: pytest.MonkeyPatch) -> None:
    model_rule_quota(monkeypatch)
    # At the quota: the two rules re-added fit once the two old ones are revoked.
    group = _group_with(_world("tcp", 22, 25), _world("tcp", 3389, 3390), ipv4_fillers=58)
    record = _run(group)
    assert record["decision"] == "remediated", record["reason"]
    assert record["narrowing"] == [] and record["change"]["detail"]["notAdded"] == []
    assert _world_tcp_ports(group, V4) == ((23, 25), (3390, 3390))


# --- concurrent changes -------------------------------------------------------------------------


def test_a_rule_added_concurrently_before_the_re_add_is_re_read_and_the_fix_completes(monkeypatch: pytest.MonkeyPatch) -> None:
    model_rule_quota(monkeypatch)
    ec2 = boto3.client("ec2")
    group = _group_with(_world("tcp", 20, 25))
    original_read = fixer.read_state
    reads: list[GroupState] = []

    def read_then_someone_authorizes(target: Any) -> GroupState:
        result = original_read(target)
        if not reads:
            # Lands between the fixer's read and its re-add of TCP 23-25: AWS answers the re-add with
            # InvalidPermission.Duplicate and adds nothing of it.
            ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[_world("tcp", 23, 25)])
        reads.append(result)
        return result

    monkeypatch.setattr(fixer, "read_state", read_then_someone_authorizes)
    record = _run(group)
    assert record["decision"] == "remediated", record["reason"]
    outcomes = [(call["operation"], call["outcome"]) for call in record["apiCalls"]]
    assert ("AuthorizeSecurityGroupIngress", "InvalidPermission.Duplicate") in outcomes
    assert _world_tcp_ports(group, V4) == ((20, 21), (23, 25))
    assert {(rule["fromPort"], rule["toPort"]) for rule in record["change"]["detail"]["added"]} == {(20, 21)}


def test_rules_aws_reports_unknown_on_revoke_are_not_recorded_as_revoked_and_are_re_read(monkeypatch: pytest.MonkeyPatch) -> None:
    ec2 = boto3.client("ec2")
    group = _group_with(_world("tcp", 22, 22), _world("tcp", 3389, 3389))
    original_call = fixer.call
    revokes: list[ApiCall] = []

    def revoke_as_aws_after_a_concurrent_change(api_call: ApiCall) -> dict[str, Any]:
        if api_call.operation != "RevokeSecurityGroupIngress" or revokes:
            return original_call(api_call)
        revokes.append(api_call)
        # Meanwhile someone replaced "TCP 22" with "TCP 22-23". AWS revokes what it finds and lists
        # the rest in UnknownIpPermissions; moto raises InvalidPermission.NotFound instead.
        ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[_world("tcp", 22, 22)])
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[_world("tcp", 22, 23)])
        present = entries_of(_permissions(group))
        requested = api_call.params["IpPermissions"]
        known = [p for p in requested if any(entry[:4] == (p["IpProtocol"], p["FromPort"], p["ToPort"], V4) for entry in present)]
        unknown = [p for p in requested if p not in known]
        if known:
            original_call(ApiCall(api_call.service, api_call.operation, {**api_call.params, "IpPermissions": known}, api_call.region))
        return {"Return": True, "UnknownIpPermissions": unknown}

    monkeypatch.setattr(fixer, "call", revoke_as_aws_after_a_concurrent_change)
    record = _run(group)
    assert record["decision"] == "remediated", record["reason"]
    revoked = {(rule["fromPort"], rule["toPort"]) for rule in record["change"]["detail"]["revoked"]}
    assert revoked == {(3389, 3389), (22, 23)}, "TCP 22 was not revoked by this fix: AWS reported it unknown"
    assert _world_tcp_ports(group, V4) == ((23, 23),)


# --- ICMP ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("icmp", "cidr"), [("icmp", V4), ("icmpv6", V6)])
def test_one_icmp_type_left_open_does_not_stand_in_for_all_icmp_of_a_revoked_all_traffic_rule(icmp: str, cidr: str) -> None:
    before = {("-1", None, None, cidr, None), (icmp, 8, -1, cidr, "ping")}
    ping = _world(icmp, 8, -1, cidr)
    ping["IpRanges" if cidr == V4 else "Ipv6Ranges"][0]["Description"] = "ping"
    group = {"GroupId": "sg-12345678", "VpcId": "vpc-12345678", "IpPermissions": [_world("-1", None, None, cidr), ping], "Tags": []}
    params = Params(frozenset({22}))
    change = fixer.plan(fixer.group_state(group), params)
    assert isinstance(change, Plan)
    after = apply_calls(before, [call.to_json() for call in change.calls])
    check_only_world_admin_access_removed(before, after, params.ports)
    assert reach(after)[cidr].icmp_types == frozenset({(-1, -1)}), "every ICMP type stays open, not only type 8"
    assert WorldRule(icmp, -1, -1, cidr) in [WorldRule.from_json({**rule, "description": None}) for rule in change.detail["added"]]


# --- a group that keeps changing under the fix -------------------------------------------------


class ScriptedGroup:
    """A group whose every revoke AWS answers with "unknown" for the first ``unknown_revokes`` calls
    (someone else changed the rule meanwhile), and whose re-read shows ``reread`` world rules."""

    def __init__(self, reread: tuple[WorldRule, ...], unknown_revokes: int) -> None:
        self.reread, self.unknown_revokes = reread, unknown_revokes
        self.calls: list[str] = []

    def call(self, api_call: ApiCall) -> dict[str, Any]:
        self.calls.append(api_call.operation)
        if api_call.operation == "RevokeSecurityGroupIngress" and self.unknown_revokes:
            self.unknown_revokes -= 1
            return {"Return": True, "UnknownIpPermissions": api_call.params["IpPermissions"]}
        return {"Return": True}

    def read_state(self, target: Any) -> GroupState:
        return GroupState(target.resource_id, None, {}, self.reread, len(self.reread))


def _apply_to(group: ScriptedGroup, monkeypatch: pytest.MonkeyPatch) -> Plan:
    from remediation.fixers.base import Target

    monkeypatch.setattr(fixer, "call", group.call)
    monkeypatch.setattr(fixer, "read_state", group.read_state)
    state = GroupState("sg-0123456789abcdef0", None, {}, (WorldRule("tcp", 22, 22, V4),), 1)
    params = Params(frozenset({22}))
    change = fixer.plan(state, params)
    assert isinstance(change, Plan)
    return fixer.apply(Target("AWS::EC2::SecurityGroup", "sg-0123456789abcdef0", "123456789012", "us-east-1"), change, params)


def test_a_rule_someone_else_revoked_first_is_not_recorded_as_revoked_by_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    group = ScriptedGroup(reread=(), unknown_revokes=1)
    applied = _apply_to(group, monkeypatch)
    assert group.calls == ["RevokeSecurityGroupIngress"], "read again, nothing left to revoke or re-add"
    assert (applied.calls, applied.detail["revoked"], applied.detail["added"]) == ((), [], [])
    assert applied.summary == "Close TCP 22 to the world in sg-0123456789abcdef0: revoke 0 rule(s), re-add 0 without the admin ports"


def test_a_group_that_keeps_changing_is_given_up_after_the_last_round(monkeypatch: pytest.MonkeyPatch) -> None:
    group = ScriptedGroup(reread=(WorldRule("tcp", 22, 22, V4),), unknown_revokes=fixer.MAX_ROUNDS)
    with pytest.raises(fixer.NotRemediable) as given_up:
        _apply_to(group, monkeypatch)
    assert str(given_up.value) == f"the rules of sg-0123456789abcdef0 kept changing during {fixer.MAX_ROUNDS} attempts"
    assert group.calls == ["RevokeSecurityGroupIngress"] * fixer.MAX_ROUNDS


def test_a_group_that_settles_in_the_last_round_is_fixed(monkeypatch: pytest.MonkeyPatch) -> None:
    group = ScriptedGroup(reread=(WorldRule("tcp", 22, 22, V4),), unknown_revokes=fixer.MAX_ROUNDS - 1)
    applied = _apply_to(group, monkeypatch)
    assert group.calls == ["RevokeSecurityGroupIngress"] * fixer.MAX_ROUNDS
    assert [WorldRule.from_json(rule) for rule in applied.detail["revoked"]] == [WorldRule("tcp", 22, 22, V4)]


def test_a_re_add_refused_before_the_revoke_is_not_owed_after_a_concurrent_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone replaced world TCP 20-25 by world TCP 20-21 while the fix ran: its first re-add is refused
    as a duplicate, nothing was revoked by the fix, so nothing is owed, and 23-25 stays closed."""
    from botocore.exceptions import ClientError
    from remediation.fixers.base import Target

    sent: list[str] = []

    def call(api_call: ApiCall) -> dict[str, Any]:
        sent.append(api_call.operation)
        if len(sent) == 1:
            raise ClientError({"Error": {"Code": "InvalidPermission.Duplicate", "Message": "the rule exists"}}, api_call.operation)
        return {"Return": True}

    monkeypatch.setattr(fixer, "call", call)
    monkeypatch.setattr(fixer, "read_state", lambda target: GroupState("sg-1", None, {}, (WorldRule("tcp", 20, 21, V4),), 1))
    params = Params(frozenset({22}))
    change = fixer.plan(GroupState("sg-1", None, {}, (WorldRule("tcp", 20, 25, V4),), 1), params)
    assert isinstance(change, Plan)
    applied = fixer.apply(Target("AWS::EC2::SecurityGroup", "sg-1", "123456789012", "us-east-1"), change, params)
    assert sent == ["AuthorizeSecurityGroupIngress"], "no re-add of a range the concurrent change closed"
    assert (applied.detail["added"], applied.detail["revoked"]) == ([], [])
