"""Protected rules (the stack's governance:protectedRules) are never remediated automatically by the
Lambda either, even when a deployment bypassed the policy pack and configured them in auto mode."""

from __future__ import annotations

import json

import pytest
from conftest import (
    SECURITY_HUB_PORTS,
    FakeContext,
    base_config,
    compliance_event,
    rule_entry,
    rule_name,
    security_hub_entry,
)
from lambda_scenarios import SCENARIOS
from remediation.handler import lambda_handler

PORTS = next(scenario for scenario in SCENARIOS if scenario.key == "restricted-admin-ports")


@pytest.mark.parametrize("rule", [rule_name(PORTS.key), "securityhub-restricted-ssh-1a2b3c4d"], ids=["own rule", "security hub prefix"])
def test_a_protected_rule_in_auto_mode_is_only_planned_with_a_warning(rule: str, deploy, requests) -> None:
    from_security_hub = rule.startswith("securityhub-")
    deploy(protectedRules=[PORTS.key], rules={PORTS.key: security_hub_entry(*SECURITY_HUB_PORTS)} if from_security_hub else None)
    group = PORTS.make_non_compliant()
    requests.clear()
    record = lambda_handler(compliance_event(rule, PORTS.resource_type, group), FakeContext())
    assert (record["decision"], record["level"]) == ("dry_run", "warning"), record["reason"]
    assert "protected" in record["reason"]
    assert record["mode"] == "manual"
    assert requests.writes() == []
    assert not PORTS.is_fixed(group)


def test_other_rules_are_still_remediated(deploy) -> None:
    deploy(protectedRules=[PORTS.key])
    flow_logs = next(scenario for scenario in SCENARIOS if scenario.key == "vpc-flow-logs")
    vpc = flow_logs.make_non_compliant()
    record = lambda_handler(compliance_event(rule_name(flow_logs.key), flow_logs.resource_type, vpc), FakeContext())
    assert record["decision"] == "remediated"


def test_a_protected_rule_in_manual_mode_is_a_plain_dry_run(deploy) -> None:
    deploy(protectedRules=[PORTS.key], rules={PORTS.key: rule_entry({"ports": [22, 3389]}, mode="manual")})
    record = lambda_handler(compliance_event(rule_name(PORTS.key), PORTS.resource_type, PORTS.make_non_compliant()), FakeContext())
    assert (record["decision"], record["level"]) == ("dry_run", "info")


@pytest.mark.parametrize("value", ["restricted-admin-ports", ["no-such-rule"], [22]])
def test_a_malformed_protected_rules_list_invalidates_the_config_naming_the_field(value, monkeypatch) -> None:
    monkeypatch.setenv("GOVERNANCE_CONFIG", json.dumps(base_config(protectedRules=value)))
    record = lambda_handler(compliance_event(rule_name(PORTS.key), PORTS.resource_type, "sg-0123456789abcdef0"), FakeContext())
    assert (record["decision"], record["level"]) == ("ignored", "warning")
    assert "protectedRules must be a list of rule keys" in record["reason"]
