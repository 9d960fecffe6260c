"""CreateFlowLogs' ClientToken is one per evaluation: stable across deliveries of one event, never
reused by a later event (EC2 would answer a reused token with the old result and create nothing)."""

from __future__ import annotations

from typing import Any

import boto3
from conftest import FakeContext, compliance_event, rule_name
from lambda_scenarios import SCENARIOS
from remediation.fixers import vpc_flow_logs
from remediation.handler import lambda_handler

from tests.ec2_idempotency import emulate_flow_log_client_tokens

FLOW_LOGS = next(scenario for scenario in SCENARIOS if scenario.key == "vpc-flow-logs")


def event(vpc: str, ordering: str, event_id: str) -> dict[str, Any]:
    built = compliance_event(rule_name(FLOW_LOGS.key), FLOW_LOGS.resource_type, vpc)
    built["id"] = event_id
    built["detail"]["newEvaluationResult"]["evaluationResultIdentifier"]["orderingTimestamp"] = ordering
    return built


def flow_logs(vpc: str) -> list[dict[str, Any]]:
    return list(boto3.client("ec2").describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc]}])["FlowLogs"])


def test_a_later_event_after_the_flow_log_was_deleted_creates_a_new_one(monkeypatch) -> None:
    emulate_flow_log_client_tokens(monkeypatch)
    vpc = FLOW_LOGS.make_non_compliant()
    first = lambda_handler(event(vpc, "2026-12-01T10:00:00.000Z", "11111111-0000-4000-8000-000000000001"), FakeContext())
    assert first["decision"] == "remediated"
    boto3.client("ec2").delete_flow_logs(FlowLogIds=[log["FlowLogId"] for log in flow_logs(vpc)])
    later = lambda_handler(event(vpc, "2026-12-02T10:00:00.000Z", "11111111-0000-4000-8000-000000000002"), FakeContext())
    assert later["decision"] == "remediated", later["reason"]
    assert len(flow_logs(vpc)) == 1
    tokens = [call["params"]["ClientToken"] for record in (first, later) for call in record["apiCalls"] if call["operation"] == "CreateFlowLogs"]
    assert len(set(tokens)) == 2


def test_a_duplicate_delivery_of_the_same_event_creates_no_second_flow_log(monkeypatch) -> None:
    emulate_flow_log_client_tokens(monkeypatch)
    vpc = FLOW_LOGS.make_non_compliant()
    duplicate = event(vpc, "2026-12-01T10:00:00.000Z", "11111111-0000-4000-8000-000000000001")
    real_read = vpc_flow_logs.read_state
    stale = real_read(vpc_target(vpc))
    assert lambda_handler(duplicate, FakeContext())["decision"] == "remediated"
    # The duplicate read the VPC before the first delivery's flow log existed.
    reads = iter([stale])
    monkeypatch.setattr(vpc_flow_logs, "read_state", lambda target: next(reads, None) or real_read(target))
    lambda_handler(duplicate, FakeContext(aws_request_id="duplicate"))
    assert len(flow_logs(vpc)) == 1


def test_the_token_is_a_valid_client_token_and_fresh_without_an_event() -> None:
    target = vpc_target("vpc-0123456789abcdef0")
    request = {"ResourceIds": ["vpc-0123456789abcdef0"], "TrafficType": "ALL"}
    token = vpc_flow_logs.client_token(target, request)
    assert len(token) <= 64 and token.isascii()
    assert vpc_flow_logs.client_token(target, request) != token, "no key: a fresh token per request"


def vpc_target(vpc: str) -> Any:
    from conftest import ACCOUNT, REGION
    from remediation.fixers.base import Target

    return Target(FLOW_LOGS.resource_type, vpc, ACCOUNT, REGION)
