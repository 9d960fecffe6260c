"""Every ignored event says why, at the level operators alarm on, and carries what the event named.

An ignore is ``warning`` when the event should never have arrived and ``info`` when it is well formed
but needs nothing; its record keeps the event id and the rule, resource type and id the event named,
so that an operator can find the event. Each case names the field that made the event unusable.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from conftest import ACCOUNT, REGION, FakeContext, automation_event, compliance_event, rule_name
from faults import inject_error
from remediation.handler import lambda_handler

RUNBOOK = "AWSConfigRemediation-EnableCloudTrailLogFileValidation"
GROUP = "sg-0123456789abcdef0"
GROUP_RULE = rule_name("restricted-admin-ports")


def automation(change: Callable[[dict[str, Any]], Any], status: str = "Success") -> dict[str, Any]:
    event = automation_event(RUNBOOK, status)
    event["id"] = "automation-event-1"
    change(event)
    return event


def compliance(change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    event = compliance_event(GROUP_RULE, "AWS::EC2::SecurityGroup", GROUP)
    event["id"] = "compliance-event-1"
    change(event)
    return event


AUTOMATION_IGNORES: dict[str, tuple[dict[str, Any], str, str | None, str]] = {
    "no detail": (automation(lambda e: e.pop("detail")), "warning", None, "the event has no detail object"),
    "detail not an object": (automation(lambda e: e.update(detail=["x"])), "warning", None, "the event has no detail object"),
    "no Definition": (automation(lambda e: e["detail"].pop("Definition")), "warning", None, "detail.Definition, detail.ExecutionId or detail.Status is missing"),
    "no ExecutionId": (automation(lambda e: e["detail"].pop("ExecutionId")), "warning", None, "detail.Definition, detail.ExecutionId or detail.Status is missing"),
    "no Status": (automation(lambda e: e["detail"].pop("Status")), "warning", None, "detail.Definition, detail.ExecutionId or detail.Status is missing"),
    "unknown runbook by ARN": (
        automation(lambda e: e["detail"].update(Definition=f"arn:aws:ssm:{REGION}:{ACCOUNT}:document/AWS-Unknown")),
        "warning", "AWS-Unknown", "runbook AWS-Unknown is not used by this deployment",
    ),
    "bad execution id": (automation(lambda e: e["detail"].update(ExecutionId="not-an-id")), "warning", RUNBOOK, "'not-an-id' is not a well-formed automation execution id"),
    "other account": (automation(lambda e: e.update(account="999999999999")), "warning", RUNBOOK, "the event's account '999999999999' is not this function's account 123456789012"),
    "other region": (automation(lambda e: e.update(region="eu-west-1")), "warning", RUNBOOK, "the event's region 'eu-west-1' is not this function's region us-east-1"),
    "still running": (automation(lambda _e: None, status="InProgress"), "info", RUNBOOK, "automation status InProgress is not final"),
}


@pytest.mark.parametrize(("event", "level", "rule", "reason"), list(AUTOMATION_IGNORES.values()), ids=list(AUTOMATION_IGNORES))
def test_an_ignored_automation_event_says_why_and_keeps_its_id(event: dict[str, Any], level: str, rule: str | None, reason: str, requests) -> None:
    record = lambda_handler(copy.deepcopy(event), FakeContext())
    assert (record["decision"], record["level"], record["engine"]) == ("ignored", level, "lambda"), record["reason"]
    assert record["reason"] == reason
    assert record["eventId"] == "automation-event-1"
    assert record["rule"] == rule
    assert record["apiCalls"] == [] and requests.writes() == []


def test_a_runbook_named_by_its_document_arn_is_recognised(requests) -> None:
    # Shared or versioned documents are named by ARN; the name is what follows "document/".
    # moto has no SSM Automation; the execution read answers "not found", a permanent error.
    inject_error("ssm", "GetAutomationExecution", "AutomationExecutionNotFoundException", 400)
    event = automation(lambda e: e["detail"].update(Definition=f"arn:aws:ssm:{REGION}:{ACCOUNT}:document/{RUNBOOK}"))
    record = lambda_handler(event, FakeContext())
    assert record["engine"] == "ssm" and record["decision"] != "ignored", record["reason"]
    assert record["ruleKey"] == "cloudtrail-log-validation"


def _set_resource_id(event: dict[str, Any], resource_id: str) -> None:
    event["detail"]["resourceId"] = resource_id
    event["detail"]["newEvaluationResult"]["evaluationResultIdentifier"]["evaluationResultQualifier"]["resourceId"] = resource_id


COMPLIANCE_IGNORES: dict[str, tuple[dict[str, Any], str, str]] = {
    "other messageType": (compliance(lambda e: e["detail"].update(messageType="OversizedConfigurationItemChangeNotification")), "warning", "detail.messageType is 'OversizedConfigurationItemChangeNotification', not ComplianceChangeNotification"),
    "no newEvaluationResult": (compliance(lambda e: e["detail"].pop("newEvaluationResult")), "warning", "detail.newEvaluationResult is missing"),
    "compliant": (compliance(lambda e: e["detail"]["newEvaluationResult"].update(complianceType="COMPLIANT")), "info", "the resource is COMPLIANT, not NON_COMPLIANT"),
    "compliance type not a string": (compliance(lambda e: e["detail"]["newEvaluationResult"].update(complianceType=["NON_COMPLIANT"])), "warning", "the resource is ['NON_COMPLIANT'], not NON_COMPLIANT"),
    "unmanaged rule": (compliance(lambda e: e["detail"].update(configRuleName="other-rule")), "warning", "rule other-rule is not managed by this deployment"),
    "no awsAccountId": (compliance(lambda e: e["detail"].pop("awsAccountId")), "warning", "detail.awsAccountId is missing; Config compliance events always carry it"),
    "no awsRegion": (compliance(lambda e: e["detail"].pop("awsRegion")), "warning", "detail.awsRegion is missing; Config compliance events always carry it"),
    "other account": (compliance(lambda e: e.update(account="999999999999")), "warning", "the event's account ['123456789012', '999999999999'] is not this function's account 123456789012"),
    "other region": (compliance(lambda e: e["detail"].update(awsRegion="eu-west-1")), "warning", "the event's region ['eu-west-1', 'us-east-1'] is not this function's region us-east-1"),
    "qualifier mismatch": (
        compliance(lambda e: e["detail"]["newEvaluationResult"]["evaluationResultIdentifier"]["evaluationResultQualifier"].update(resourceId="sg-0fedcba9876543210")),
        "warning", "the evaluation result names another rule or resource than the event detail",
    ),
    "malformed id": (compliance(lambda e: _set_resource_id(e, "sg-XYZ")), "warning", "'sg-XYZ' is not a well-formed AWS::EC2::SecurityGroup id of this account for restricted-admin-ports"),
}


@pytest.mark.parametrize(("event", "level", "reason"), list(COMPLIANCE_IGNORES.values()), ids=list(COMPLIANCE_IGNORES))
def test_an_ignored_compliance_event_says_why_and_keeps_what_it_named(event: dict[str, Any], level: str, reason: str, requests) -> None:
    record = lambda_handler(copy.deepcopy(event), FakeContext())
    assert (record["decision"], record["level"]) == ("ignored", level), record["reason"]
    assert record["reason"] == reason
    assert record["eventId"] == "compliance-event-1"
    detail = event["detail"]
    assert (record["rule"], record["resourceType"], record["resourceId"]) == (detail["configRuleName"], detail["resourceType"], detail["resourceId"])
    assert record["apiCalls"] == [] and requests.writes() == []


@pytest.mark.parametrize(("length", "shown_whole"), [(198, True), (199, False)])
def test_a_quoted_value_is_cut_only_beyond_two_hundred_characters(length: int, shown_whole: bool, requests) -> None:
    # The quoted account is its repr: the string plus two quotes, so 198 characters quote as exactly 200.
    account = "9" * length
    record = lambda_handler(automation(lambda e: e.update(account=account)), FakeContext())
    assert record["decision"] == "ignored"
    if shown_whole:
        assert f"account {account!r} is not" in record["reason"]
    else:
        assert f"account {account!r}"[:208] + f"... ({length + 2} characters) is not" in record["reason"]
