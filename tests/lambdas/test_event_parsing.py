"""What a valid event parses into, field by field: the values every later step trusts.

The handler tests show what the function does with an event; these pin the parsed values
themselves, so that a field dropped or swapped while parsing cannot pass unnoticed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import (
    ACCOUNT,
    FUNCTION_ARN,
    REGION,
    FakeContext,
    automation_event,
    base_config,
    compliance_event,
    rule_name,
)
from remediation.config import parse_config
from remediation.events import AutomationEvent, ComplianceEvent, Ignored, Invocation, parse_event
from remediation.fixers.base import Target

RUNBOOK = "AWSConfigRemediation-EnableCloudTrailLogFileValidation"
EXECUTION = "4105a4fc-f944-11e6-9d32-0a1b2c3d495e"
GROUP = "sg-0123456789abcdef0"
CONFIG = parse_config(json.dumps(base_config()))
INVOCATION = Invocation(ACCOUNT, REGION, "aws", "request-1")


def parse(event: Any) -> Any:
    return parse_event(event, CONFIG, INVOCATION)


def test_the_invocation_is_read_from_the_function_arn_and_request_id() -> None:
    name = "governance-remediation"
    assert Invocation.from_context(FakeContext()) == Invocation(ACCOUNT, REGION, "aws", FakeContext.aws_request_id, name)
    china = FakeContext(invoked_function_arn="arn:aws-cn:lambda:cn-north-1:210987654321:function:prod-remediation:live")
    assert Invocation.from_context(china) == Invocation("210987654321", "cn-north-1", "aws-cn", FakeContext.aws_request_id, "prod-remediation")
    assert Invocation.from_context(FakeContext(aws_request_id="")) == Invocation(ACCOUNT, REGION, "aws", None, name)
    assert FUNCTION_ARN.endswith(":function:governance-remediation")


@pytest.mark.parametrize("status", ["Success", "Failed"])
def test_a_final_automation_status_parses_into_every_field(status: str) -> None:
    parsed = parse(automation_event(RUNBOOK, status))
    assert parsed == AutomationEvent(
        event_id="d290ece9-1d8a-48e3-a27e-4bea9f1a8bb0",
        execution_id=EXECUTION,
        document=RUNBOOK,
        status=status,
        runbook=CONFIG.ssm_runbooks[RUNBOOK],
        account=ACCOUNT,
        region=REGION,
    )
    assert parsed.succeeded is (status == "Success")


def _parse_definition(definition: str) -> Any:
    """A successful automation event whose detail.Definition is ``definition``, parsed."""
    event = automation_event(RUNBOOK, "Success")
    event["detail"]["Definition"] = definition
    return parse(event)


@pytest.mark.parametrize(
    "definition",
    [
        RUNBOOK,
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:document/{RUNBOOK}",
        f"arn:aws:ssm:{REGION}::document/{RUNBOOK}",
        f"arn:aws-us-gov:ssm:us-gov-west-1:{ACCOUNT}:document/{RUNBOOK}",
    ],
)
def test_a_runbook_is_recognised_by_its_name_or_its_document_arn(definition: str) -> None:
    parsed = _parse_definition(definition)
    assert isinstance(parsed, AutomationEvent) and parsed.document == RUNBOOK


@pytest.mark.parametrize(
    "definition",
    [
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:document/document/{RUNBOOK}",
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:automation-definition/{RUNBOOK}",
        f"prefix/document/{RUNBOOK}",
        f"arn:aws:ssm:{REGION}:12345:document/{RUNBOOK}",
    ],
)
def test_anything_else_that_ends_in_a_runbook_name_is_not_that_runbook(definition: str) -> None:
    parsed = _parse_definition(definition)
    assert isinstance(parsed, Ignored) and parsed.reason == f"runbook {definition} is not used by this deployment"


def test_a_compliance_event_parses_into_every_field() -> None:
    event = compliance_event(rule_name("restricted-admin-ports"), "AWS::EC2::SecurityGroup", GROUP)
    parsed = parse(event)
    assert parsed == ComplianceEvent(
        event_id="c0bb891c-77fe-8518-14fc-be78b966f95b",
        rule_name=rule_name("restricted-admin-ports"),
        rule=CONFIG.rules[rule_name("restricted-admin-ports")],
        from_security_hub=False,
        target=Target(
            "AWS::EC2::SecurityGroup", GROUP, ACCOUNT, REGION, "aws",
            f"{rule_name('restricted-admin-ports')}|AWS::EC2::SecurityGroup|{GROUP}|2021-04-19T19:03:50.251Z",
        ),
        raw_resource_id=GROUP,
        event_time="2021-04-19T19:04:05Z",
        evaluation_time="2021-04-19T19:04:04.741Z",
    )


def test_an_evaluation_without_its_recorded_time_still_parses() -> None:
    event = compliance_event(rule_name("restricted-admin-ports"), "AWS::EC2::SecurityGroup", GROUP)
    event["detail"]["newEvaluationResult"]["resultRecordedTime"] = ""
    parsed = parse(event)
    assert isinstance(parsed, ComplianceEvent) and parsed.evaluation_time is None


def _evaluation_key(event: dict[str, Any]) -> str | None:
    parsed = parse(event)
    assert isinstance(parsed, ComplianceEvent), parsed
    return parsed.target.idempotency_key


def _group_event(ordering: str | None = "2021-04-19T19:03:50.251Z", event_id: str | None = "event-1", resource: str = GROUP) -> dict[str, Any]:
    event = compliance_event(rule_name("restricted-admin-ports"), "AWS::EC2::SecurityGroup", resource)
    identifier = event["detail"]["newEvaluationResult"]["evaluationResultIdentifier"]
    if ordering is None:
        identifier.pop("orderingTimestamp")
    else:
        identifier["orderingTimestamp"] = ordering
    if event_id is None:
        event.pop("id")
    else:
        event["id"] = event_id
    return event


def test_every_delivery_of_one_evaluation_has_the_same_key_and_a_later_one_another() -> None:
    first = _evaluation_key(_group_event(event_id="event-1"))
    assert _evaluation_key(_group_event(event_id="event-2")) == first
    assert _evaluation_key(_group_event(ordering="2021-04-19T20:00:00.000Z")) != first
    assert _evaluation_key(_group_event(resource="sg-0fedcba9876543210")) != first


def test_without_an_ordering_timestamp_the_event_id_names_the_evaluation() -> None:
    assert _evaluation_key(_group_event(ordering=None, event_id="event-1")) == "event|event-1"
    assert _evaluation_key(_group_event(ordering=None, event_id=None)) is None
    identifier_not_an_object = _group_event()
    identifier_not_an_object["detail"]["newEvaluationResult"]["evaluationResultIdentifier"] = ["x"]
    assert _evaluation_key(identifier_not_an_object) == "event|event-1"


def test_an_event_that_is_not_an_object_is_a_warning() -> None:
    assert parse(["not", "an", "object"]) == Ignored("the event is not a JSON object", "warning")


def test_an_unrecognised_event_names_its_source_and_detail_type_and_keeps_its_id() -> None:
    event = {"id": "event-9", "source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}}
    assert parse(event) == Ignored("unrecognised event: source 'aws.ec2', detail-type 'EC2 Instance State-change Notification'", "warning", "event-9")


@pytest.mark.parametrize("kind", ["compliance", "automation"])
def test_an_event_without_a_detail_object_keeps_its_id(kind: str) -> None:
    event = compliance_event(rule_name("restricted-admin-ports"), "AWS::EC2::SecurityGroup", GROUP) if kind == "compliance" else automation_event(RUNBOOK, "Success")
    event["detail"] = "not an object"
    assert parse(event) == Ignored("the event has no detail object", "warning", event["id"])


@pytest.mark.parametrize("field", ["configRuleName", "resourceType", "resourceId"])
def test_a_compliance_event_missing_any_one_of_rule_type_or_id_is_a_warning(field: str) -> None:
    event = compliance_event(rule_name("restricted-admin-ports"), "AWS::EC2::SecurityGroup", GROUP)
    event["detail"].pop(field)
    parsed = parse(event)
    assert isinstance(parsed, Ignored) and (parsed.reason, parsed.level) == ("detail.configRuleName, detail.resourceType or detail.resourceId is missing", "warning")


@pytest.mark.parametrize("value", [12345, ["event-1"], {"id": "event-1"}, True])
def test_fields_that_are_not_text_count_as_missing(value: Any) -> None:
    compliance = compliance_event(rule_name("restricted-admin-ports"), "AWS::EC2::SecurityGroup", GROUP)
    compliance["id"] = value
    parsed = parse(compliance)
    assert isinstance(parsed, ComplianceEvent) and parsed.event_id is None
    automation = automation_event(RUNBOOK, "Success")
    automation["detail"]["Status"] = value
    assert parse(automation) == Ignored("detail.Definition, detail.ExecutionId or detail.Status is missing", "warning", automation["id"])


@pytest.mark.parametrize("kept", ["configRuleName", "resourceType", "resourceId"])
def test_a_qualifier_is_checked_on_the_fields_it_has(kept: str) -> None:
    event = compliance_event(rule_name("restricted-admin-ports"), "AWS::EC2::SecurityGroup", GROUP)
    qualifier = event["detail"]["newEvaluationResult"]["evaluationResultIdentifier"]["evaluationResultQualifier"]
    for field in [name for name in list(qualifier) if name != kept]:
        qualifier.pop(field)
    assert isinstance(parse(event), ComplianceEvent)
    qualifier[kept] = "something-else"
    parsed = parse(event)
    assert isinstance(parsed, Ignored) and parsed.reason == "the evaluation result names another rule or resource than the event detail"


def test_a_resource_type_the_rule_does_not_evaluate_names_the_types_it_does() -> None:
    event = compliance_event(rule_name("cloudtrail-multi-region"), "AWS::S3::Bucket", "governance-trail-bucket")
    parsed = parse(event)
    assert isinstance(parsed, Ignored)
    assert parsed.reason == (
        f"rule {rule_name('cloudtrail-multi-region')} (cloudtrail-multi-region) evaluates AWS::::Account, AWS::CloudTrail::Trail, not AWS::S3::Bucket"
    )


def test_a_context_whose_function_arn_is_not_text_is_not_trusted() -> None:
    assert Invocation.from_context(FakeContext(invoked_function_arn=None)) is None
    assert Invocation.from_context(object()) is None


def test_a_context_without_a_request_id_still_names_the_function() -> None:
    class ArnOnly:
        invoked_function_arn = FUNCTION_ARN

    assert Invocation.from_context(ArnOnly()) == Invocation(ACCOUNT, REGION, "aws", None, "governance-remediation")
