"""An independent model of what a security group's ingress rules let in, for the property tests.

A group's rules become, per source (CIDR, prefix list or group), the set of what they allow:
TCP and UDP ports as merged intervals, ICMP types of the source's own family (ICMP for IPv4,
ICMPv6 for IPv6), and the other IP protocols by number. Protocol -1 allows all of them. The model
knows nothing of the fixer, so comparing the sets before and after a fix checks the fixer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

WORLD = ("0.0.0.0/0", "::/0")
ALL_PORTS = (0, 65535)
PROTOCOL_NUMBERS = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58}
ALL_TYPES = (-1, -1)

Entry = tuple[str, int | None, int | None, str, str | None]
"""One ingress rule: (IpProtocol, FromPort, ToPort, source, description)."""


def entries_of(permissions: Iterable[Mapping[str, Any]]) -> set[Entry]:
    """Every (protocol, from, to, source, description) of DescribeSecurityGroups' IpPermissions."""
    found: set[Entry] = set()
    for permission in permissions:
        key = (str(permission["IpProtocol"]), permission.get("FromPort"), permission.get("ToPort"))
        for source in permission.get("IpRanges", []):
            found.add((*key, source["CidrIp"], source.get("Description")))
        for source in permission.get("Ipv6Ranges", []):
            found.add((*key, source["CidrIpv6"], source.get("Description")))
        for source in permission.get("PrefixListIds", []):
            found.add((*key, source["PrefixListId"], source.get("Description")))
        for source in permission.get("UserIdGroupPairs", []):
            found.add((*key, source["GroupId"], source.get("Description")))
    return found


def permissions_of(entries: Iterable[Entry]) -> list[dict[str, Any]]:
    """The inverse of ``entries_of``: IpPermissions grouped by protocol and ports."""
    grouped: dict[tuple[str, int | None, int | None], dict[str, Any]] = {}
    for protocol, low, high, source, description in sorted(entries, key=repr):
        permission = grouped.setdefault((protocol, low, high), _permission(protocol, low, high))
        kind, key = _source_keys(source)
        item: dict[str, Any] = {key: source}
        if description is not None:
            item["Description"] = description
        permission.setdefault(kind, []).append(item)
    return list(grouped.values())


def _permission(protocol: str, low: int | None, high: int | None) -> dict[str, Any]:
    permission: dict[str, Any] = {"IpProtocol": protocol}
    if low is not None:
        permission["FromPort"], permission["ToPort"] = low, high
    return permission


def _source_keys(source: str) -> tuple[str, str]:
    if source.startswith("pl-"):
        return "PrefixListIds", "PrefixListId"
    if source.startswith("sg-"):
        return "UserIdGroupPairs", "GroupId"
    if ":" in source:
        return "Ipv6Ranges", "CidrIpv6"
    return "IpRanges", "CidrIp"


def merge(intervals: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Sorted, non-overlapping, non-adjacent intervals covering the same ports."""
    merged: list[tuple[int, int]] = []
    for low, high in sorted(intervals):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return tuple(merged)


def without_ports(intervals: Sequence[tuple[int, int]], ports: Iterable[int]) -> tuple[tuple[int, int], ...]:
    """``intervals`` minus single ``ports``."""
    result = list(intervals)
    for port in ports:
        split: list[tuple[int, int]] = []
        for low, high in result:
            if low <= port <= high:
                split += [part for part in ((low, port - 1), (port + 1, high)) if part[0] <= part[1]]
            else:
                split.append((low, high))
        result = split
    return merge(result)


def native_icmp(source: str) -> int:
    """The ICMP protocol of the source's family: 1 for IPv4 and 58 for IPv6 (prefix lists and groups: IPv4)."""
    return 58 if ":" in source else 1


@dataclass(frozen=True)
class SourceReach:
    """What one source may reach."""

    tcp: tuple[tuple[int, int], ...] = ()
    udp: tuple[tuple[int, int], ...] = ()
    icmp_types: frozenset[tuple[int, int]] = frozenset()
    """(type, code) of the family's own ICMP; (-1, -1) is every type."""
    other_protocols: frozenset[int] = frozenset()
    """IP protocol numbers other than TCP, UDP and the family's own ICMP."""
    from_all_protocols: bool = False
    """Whether a protocol -1 rule grants some of it (the fixer may narrow those other protocols)."""


@dataclass
class _Builder:
    tcp: list[tuple[int, int]] = field(default_factory=list)
    udp: list[tuple[int, int]] = field(default_factory=list)
    icmp: set[tuple[int, int]] = field(default_factory=set)
    other: set[int] = field(default_factory=set)
    all_protocols: bool = False


def reach(entries: Iterable[Entry]) -> dict[str, SourceReach]:
    """Per source, everything the rules allow."""
    builders: dict[str, _Builder] = {}
    for protocol, low, high, source, _description in entries:
        builder = builders.setdefault(source, _Builder())
        own_icmp = native_icmp(source)
        name = protocol.lower()
        number = PROTOCOL_NUMBERS.get(name, -1 if name == "-1" else int(name) if name.isdigit() else None)
        if number is None:
            raise ValueError(f"unknown protocol {protocol}")
        ports = ALL_PORTS if low is None or high is None or low < 0 else (low, high)
        if number == -1:
            builder.all_protocols = True
            builder.tcp.append(ALL_PORTS)
            builder.udp.append(ALL_PORTS)
            builder.icmp.add(ALL_TYPES)
            builder.other.update(n for n in range(256) if n not in (6, 17, own_icmp))
        elif number == 6:
            builder.tcp.append(ports)
        elif number == 17:
            builder.udp.append(ports)
        elif number == own_icmp:
            builder.icmp.add(ALL_TYPES if low is None or low == -1 else (low, -1 if high is None else high))
        else:
            builder.other.add(number)
    result = {}
    for source, builder in builders.items():
        icmp = frozenset({ALL_TYPES}) if ALL_TYPES in builder.icmp else frozenset(builder.icmp)
        result[source] = SourceReach(merge(builder.tcp), merge(builder.udp), icmp, frozenset(builder.other), builder.all_protocols)
    return result


def apply_calls(entries: set[Entry], calls: Iterable[Mapping[str, Any]]) -> set[Entry]:
    """The rules after Authorize/RevokeSecurityGroupIngress calls, with AWS's checks.

    Authorizing a rule that exists (description aside) is AWS's InvalidPermission.Duplicate, and
    revoking one that does not is InvalidPermission.NotFound; both are assertion errors here, since
    a plan made from a fresh read must not need them.
    """
    result = set(entries)
    for api_call in calls:
        operation = api_call["operation"]
        for entry in entries_of(api_call["params"]["IpPermissions"]):
            same = {existing for existing in result if existing[:4] == entry[:4]}
            if operation == "AuthorizeSecurityGroupIngress":
                assert not same, f"Authorize would be a duplicate: {entry}"
                result.add(entry)
            elif operation == "RevokeSecurityGroupIngress":
                assert same, f"Revoke of a rule that does not exist: {entry}"
                result -= same
            else:
                raise AssertionError(f"unexpected write {operation}")
    return result


def check_only_world_admin_access_removed(before: set[Entry], after: set[Entry], admin_ports: frozenset[int]) -> set[tuple[str, int]]:
    """Assert that ``after`` allows exactly ``before`` minus world TCP access to ``admin_ports``.

    Other IP protocols granted to the world by a protocol -1 rule may be dropped (narrowed), never
    added. Rules of every other source must be exactly as they were. Returns the dropped
    (source, protocol number) pairs.
    """
    reach_before, reach_after = reach(before), reach(after)
    narrowed: set[tuple[str, int]] = set()
    for source in set(reach_before) | set(reach_after):
        was, now = reach_before.get(source, SourceReach()), reach_after.get(source, SourceReach())
        if source not in WORLD:
            assert {entry for entry in after if entry[3] == source} == {entry for entry in before if entry[3] == source}, source
            continue
        assert now.tcp == without_ports(was.tcp, admin_ports), (source, was.tcp, now.tcp)
        assert not any(low <= port <= high for low, high in now.tcp for port in admin_ports), source
        assert now.udp == was.udp, (source, was.udp, now.udp)
        assert now.icmp_types == was.icmp_types, (source, was.icmp_types, now.icmp_types)
        assert now.other_protocols <= was.other_protocols, (source, "widened", now.other_protocols - was.other_protocols)
        explicit = {int(entry[0]) for entry in before if entry[3] == source and entry[0].isdigit()}
        explicit |= {number for entry in before if entry[3] == source for name, number in PROTOCOL_NUMBERS.items() if entry[0] == name and number != native_icmp(source) and number not in (6, 17)}
        assert explicit <= now.other_protocols, (source, "an explicit rule for another protocol was removed")
        if not was.from_all_protocols:
            assert now.other_protocols == was.other_protocols, source
        narrowed |= {(source, number) for number in was.other_protocols - now.other_protocols}
    return narrowed
