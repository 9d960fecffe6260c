"""Every fixer: non-compliant → fixed and verified; compliant, exempt, manual, replayed → no write."""

from __future__ import annotations

import json

import pytest
from conftest import (
    ACCOUNT,
    DEFAULT_PARAMS,
    EXEMPTION_TAG,
    REGION,
    FakeContext,
    compliance_event,
    rule_entry,
    rule_name,
)
from lambda_scenarios import SCENARIOS, Scenario
from remediation.fixers import FIXER_MODULES
from remediation.handler import lambda_handler


def run(scenario: Scenario, resource_id: str) -> dict:
    return lambda_handler(compliance_event(rule_name(scenario.key), scenario.resource_type, resource_id), FakeContext())


def test_every_fixer_has_a_scenario() -> None:
    assert [scenario.key for scenario in SCENARIOS] == list(FIXER_MODULES)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_non_compliant_resource_is_fixed_and_verified(scenario: Scenario, requests) -> None:
    resource_id = scenario.make_non_compliant()
    record = run(scenario, resource_id)
    assert record["decision"] == "remediated", record["reason"]
    assert record["final"] is True
    assert scenario.is_fixed(resource_id)
    assert record["after"] is not None and record["before"] != record["after"]
    assert record["undo"], "a remediated record says how to undo it"
    assert (record["account"], record["region"], record["rule"], record["resourceId"]) == (ACCOUNT, REGION, rule_name(scenario.key), resource_id)
    # The record lists exactly the calls that were sent (PutEvents is sent after the record is final).
    assert [call["operation"] for call in record["apiCalls"]] == requests.operations()
    assert all(call["outcome"] == "ok" for call in record["apiCalls"] if call["operation"] in requests.writes())


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_compliant_resource_gets_no_write(scenario: Scenario, requests) -> None:
    resource_id = scenario.make_compliant()
    record = run(scenario, resource_id)
    assert record["decision"] == "already_compliant"
    assert requests.writes() == []


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s.tag_exempt], ids=str)
def test_exempt_resource_gets_no_write(scenario: Scenario, requests) -> None:
    resource_id = scenario.make_non_compliant()
    assert scenario.tag_exempt is not None
    scenario.tag_exempt(resource_id)
    record = run(scenario, resource_id)
    assert record["decision"] == "exempt"
    assert EXEMPTION_TAG in record["reason"]
    assert requests.writes() == []
    assert not scenario.is_fixed(resource_id)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_manual_mode_records_the_plan_and_writes_nothing(scenario: Scenario, requests, deploy) -> None:
    deploy(rules={scenario.key: rule_entry(DEFAULT_PARAMS[scenario.key], mode="manual")})
    resource_id = scenario.make_non_compliant()
    record = run(scenario, resource_id)
    assert record["decision"] == "dry_run"
    assert record["change"]["calls"], "the planned calls are recorded"
    assert requests.writes() == []
    assert not scenario.is_fixed(resource_id)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_replayed_event_writes_once(scenario: Scenario, requests) -> None:
    resource_id = scenario.make_non_compliant()
    first = run(scenario, resource_id)
    writes = requests.writes()
    second = run(scenario, resource_id)
    assert (first["decision"], second["decision"]) == ("remediated", "already_compliant")
    assert requests.writes() == writes


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_record_is_one_json_line_and_a_result_event(scenario: Scenario, requests, capsys) -> None:
    resource_id = scenario.make_non_compliant()
    record = run(scenario, resource_id)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 1
    metrics = {key: lines[0].pop(key) for key in ("_aws", "function", "Decisions", "TimeToRemediate") if key in lines[0]}
    assert lines == [record]
    assert metrics["Decisions"] == 1 and metrics["function"] == "governance-remediation"
    assert requests.sent[-1] == ("events", "PutEvents")
