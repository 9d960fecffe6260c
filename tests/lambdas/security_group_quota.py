"""EC2's security-group rule quota and atomic AuthorizeSecurityGroupIngress, which moto lacks.

AWS rejects an AuthorizeSecurityGroupIngress request as a whole when its rules would exceed the
group's inbound-rule quota (RulesPerSecurityGroupLimitExceeded; default 60 per group, counted
separately for IPv4 and IPv6 rules) or when one of them already exists
(InvalidPermission.Duplicate): nothing of the request is added. moto adds the request's rules
one permission at a time and counts both families together, so a test that needs AWS's behaviour
installs this model.
"""

from __future__ import annotations

from typing import Any

import pytest
from moto.ec2.exceptions import InvalidPermissionDuplicateError, RulesPerSecurityGroupLimitExceededError
from moto.ec2.models.security_groups import SecurityGroupBackend
from moto.ec2.responses.security_groups import SecurityGroups

DEFAULT_INBOUND_RULES_PER_FAMILY = 60


def _families(ip_range: dict[str, Any] | None, other_source: bool) -> tuple[int, int]:
    """(IPv4, IPv6) rules one source takes.

    UNVERIFIED: a rule whose source is a security group or prefix list is counted once in each
    family here (the VPC quotas page counts such references against both).
    """
    if other_source:
        return 1, 1
    if ip_range and "CidrIpv6" in ip_range:
        return 0, 1
    return 1, 0


def rule_counts(rules: list[Any]) -> tuple[int, int]:
    """(IPv4, IPv6) inbound rules of a moto group's ``ingress_rules``."""
    ipv4 = ipv6 = 0
    for rule in rules:
        four, six = _families(rule.ip_range, bool(rule.source_group or rule.prefix_list_id))
        ipv4, ipv6 = ipv4 + four, ipv6 + six
    return ipv4, ipv6


def model_rule_quota(monkeypatch: pytest.MonkeyPatch, limit: int = DEFAULT_INBOUND_RULES_PER_FAMILY) -> None:
    """Make moto's AuthorizeSecurityGroupIngress all-or-nothing with a per-family inbound quota."""
    original = SecurityGroups.authorize_security_group_ingress

    def authorize_all_or_nothing(self: SecurityGroups) -> Any:
        requested = list(self._process_rules_from_querystring())
        group = self.ec2_backend.get_security_group_by_name_or_id(requested[0]["group_name_or_id"], None) if requested else None
        if group is None:
            return original(self)
        ipv4, ipv6 = rule_counts(group.ingress_rules)
        for permission in requested:
            for ip_range in permission["ip_ranges"] or []:
                four, six = _families(ip_range, False)
                ipv4, ipv6 = ipv4 + four, ipv6 + six
            others = len(permission["source_groups"] or []) + len(permission["prefix_list_ids"] or [])
            ipv4, ipv6 = ipv4 + others, ipv6 + others
        if ipv4 > limit or ipv6 > limit:
            raise RulesPerSecurityGroupLimitExceededError()
        before = list(group.ingress_rules)
        try:
            return original(self)
        except InvalidPermissionDuplicateError:
            group.ingress_rules[:] = before  # AWS adds nothing of a request with a duplicate
            raise

    monkeypatch.setattr(SecurityGroups, "authorize_security_group_ingress", authorize_all_or_nothing)
    # moto's own check counts both families together; the model above replaces it.
    monkeypatch.setattr(SecurityGroupBackend, "_verify_group_will_respect_rule_count_limit", lambda *_args, **_kwargs: None)
