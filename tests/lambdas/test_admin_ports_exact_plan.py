"""One security group's fix written out by hand, request by request, and checked exactly.

The property tests compare what the world can reach before and after; this pins the requests
themselves (their order, every IpPermissions entry, descriptions kept on re-adds and left out of
revokes), the undo, the recorded detail and the sentences people read.
"""

from __future__ import annotations

from remediation.fixers.base import ApiCall, Plan
from remediation.fixers.restricted_admin_ports import Params, WorldRule, group_state, plan

GROUP = "sg-0123456789abcdef0"
DESCRIBED = {
    "GroupId": GROUP,
    "VpcId": "vpc-0123456789abcdef0",
    "Tags": [{"Key": "team", "Value": "web"}, {"Key": "governance:exempt"}],
    "IpPermissions": [
        {
            "IpProtocol": "tcp", "FromPort": 20, "ToPort": 25,
            "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "ftp and ssh"}, {"CidrIp": "10.0.0.0/8"}],
            "Ipv6Ranges": [], "PrefixListIds": [{"PrefixListId": "pl-12345678"}], "UserIdGroupPairs": [],
        },
        {"IpProtocol": "-1", "IpRanges": [], "Ipv6Ranges": [{"CidrIpv6": "::/0"}], "PrefixListIds": [], "UserIdGroupPairs": [{"GroupId": "sg-0fedcba9876543210"}]},
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}]},
    ],
}
"""A DescribeSecurityGroups entry: SSH inside a world TCP range, all traffic from ::/0, HTTPS to the world."""

FTP_SSH = WorldRule("tcp", 20, 25, "0.0.0.0/0", "ftp and ssh")
ALL_V6 = WorldRule("-1", None, None, "::/0")
HTTPS = WorldRule("tcp", 443, 443, "0.0.0.0/0")


def v4(protocol: str, low: int, high: int, description: str | None = None) -> dict:
    source = {"CidrIp": "0.0.0.0/0"} | ({"Description": description} if description else {})
    return {"IpProtocol": protocol, "FromPort": low, "ToPort": high, "IpRanges": [source]}


def v6(protocol: str, low: int, high: int) -> dict:
    return {"IpProtocol": protocol, "FromPort": low, "ToPort": high, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}


def test_a_described_group_is_read_into_its_world_rules_tags_and_rule_count() -> None:
    state = group_state(DESCRIBED)
    assert (state.group_id, state.vpc_id) == (GROUP, "vpc-0123456789abcdef0")
    assert state.tags == {"team": "web", "governance:exempt": ""}
    assert state.world_rules == (FTP_SSH, ALL_V6, HTTPS)
    assert state.ingress_rule_count == 7, "one per source: 2 + 1 (prefix list), 1 + 1 (group), 1 + 1"


def test_the_fix_is_exactly_these_requests_in_this_order() -> None:
    change = plan(group_state(DESCRIBED), Params(frozenset({22, 3389})))
    assert isinstance(change, Plan)
    added = [
        v4("tcp", 20, 21, "ftp and ssh"), v4("tcp", 23, 25, "ftp and ssh"),
        v6("tcp", 0, 21), v6("tcp", 23, 3388), v6("tcp", 3390, 65535), v6("udp", 0, 65535), v6("icmpv6", -1, -1),
    ]
    revoked_for_revoke = [v4("tcp", 20, 25), {"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]
    revoked_for_undo = [v4("tcp", 20, 25, "ftp and ssh"), {"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]
    assert change.calls == (
        ApiCall("ec2", "AuthorizeSecurityGroupIngress", {"GroupId": GROUP, "IpPermissions": added}),
        ApiCall("ec2", "RevokeSecurityGroupIngress", {"GroupId": GROUP, "IpPermissions": revoked_for_revoke}),
    )
    assert change.undo == (
        ApiCall("ec2", "RevokeSecurityGroupIngress", {"GroupId": GROUP, "IpPermissions": [
            v4("tcp", 20, 21), v4("tcp", 23, 25), *added[2:],
        ]}),
        ApiCall("ec2", "AuthorizeSecurityGroupIngress", {"GroupId": GROUP, "IpPermissions": revoked_for_undo}),
    )
    assert change.summary == f"Close TCP 22, 3389 to the world in {GROUP}: revoke 2 rule(s), re-add 7 without the admin ports"
    assert change.narrowing == (
        "All traffic from ::/0 was re-added as TCP (except the admin ports), UDP and ICMPv6; other IP protocols from ::/0 are no longer allowed",
    )
    assert change.detail == {
        "adminPorts": [22, 3389],
        "revoked": [FTP_SSH.to_json(), ALL_V6.to_json()],
        "added": [
            WorldRule("tcp", 20, 21, "0.0.0.0/0", "ftp and ssh").to_json(), WorldRule("tcp", 23, 25, "0.0.0.0/0", "ftp and ssh").to_json(),
            *(WorldRule(p, low, high, "::/0").to_json() for p, low, high in
              [("tcp", 0, 21), ("tcp", 23, 3388), ("tcp", 3390, 65535), ("udp", 0, 65535), ("icmpv6", -1, -1)]),
        ],
        "notAdded": [],
    }


def test_all_traffic_from_ipv4_is_re_added_with_icmp_and_its_narrowing_says_so() -> None:
    state = group_state({"GroupId": GROUP, "IpPermissions": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]})
    change = plan(state, Params(frozenset({22})))
    assert isinstance(change, Plan)
    assert change.calls[0].params["IpPermissions"] == [v4("tcp", 0, 21), v4("tcp", 23, 65535), v4("udp", 0, 65535), v4("icmp", -1, -1)]
    assert change.narrowing == (
        "All traffic from 0.0.0.0/0 was re-added as TCP (except the admin ports), UDP and ICMP; other IP protocols from 0.0.0.0/0 are no longer allowed",
    )


def test_a_rule_exactly_on_the_admin_port_is_revoked_without_a_re_add() -> None:
    state = group_state({"GroupId": GROUP, "IpPermissions": [{"IpProtocol": "6", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]})
    change = plan(state, Params(frozenset({22})))
    assert isinstance(change, Plan)
    assert change.calls == (ApiCall("ec2", "RevokeSecurityGroupIngress", {"GroupId": GROUP, "IpPermissions": [
        {"IpProtocol": "6", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
    ]}),)
    assert change.undo == (ApiCall("ec2", "AuthorizeSecurityGroupIngress", {"GroupId": GROUP, "IpPermissions": [
        {"IpProtocol": "6", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
    ]}),)
    assert change.summary == f"Close TCP 22 to the world in {GROUP}: revoke 1 rule(s), re-add 0 without the admin ports"
    assert change.narrowing == ()
