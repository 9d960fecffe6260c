"""The deployed event pattern against real-shaped events, evaluated by the emulator's EventBridge."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from governance.mock_program import stack_config
from governance.plan import plan_stack
from governance.settings import load_settings

ACCOUNT = "222222222222"

COMPLIANCE_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "c0bb891c-77fe-8518-14fc-be78b966f95b",
    "detail-type": "Config Rules Compliance Change",
    "source": "aws.config",
    "account": ACCOUNT,
    "time": "2026-11-27T10:04:05Z",
    "region": "eu-west-1",
    "resources": [],
    "detail": {
        "resourceId": "sg-0123456789abcdef0",
        "awsRegion": "eu-west-1",
        "awsAccountId": ACCOUNT,
        "configRuleName": "governance-s3-bucket-public-access",
        "recordVersion": "1.0",
        "configRuleARN": f"arn:aws:config:eu-west-1:{ACCOUNT}:config-rule/config-rule-eguym2",
        "messageType": "ComplianceChangeNotification",
        "newEvaluationResult": {
            "evaluationResultIdentifier": {
                "evaluationResultQualifier": {
                    "configRuleName": "governance-s3-bucket-public-access",
                    "resourceType": "AWS::S3::Bucket",
                    "resourceId": "example-bucket",
                },
                "orderingTimestamp": "2026-11-27T10:03:50.251Z",
            },
            "complianceType": "NON_COMPLIANT",
            "resultRecordedTime": "2026-11-27T10:04:04.741Z",
            "configRuleInvokedTime": "2026-11-27T10:04:04.332Z",
        },
        "notificationCreationTime": "2026-11-27T10:04:05.751Z",
        "resourceType": "AWS::S3::Bucket",
    },
}

AUTOMATION_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "d290ece9-1088-4383-9df6-cd5b4ac42b99",
    "detail-type": "EC2 Automation Execution Status-change Notification",
    "source": "aws.ssm",
    "account": ACCOUNT,
    "time": "2026-11-27T10:43:35Z",
    "region": "eu-west-1",
    "resources": [f"arn:aws:ssm:eu-west-1:{ACCOUNT}:automation-execution/333ba70b-2333-48db-b17e-a5e69c6f4d1c"],
    "detail": {
        "ExecutionId": "333ba70b-2333-48db-b17e-a5e69c6f4d1c",
        "Definition": "AWS-EnableS3BucketEncryption",
        "DefinitionVersion": 1.0,
        "Status": "Success",
        "StartTime": "Nov 27, 2026 10:43:20 AM",
        "EndTime": "Nov 27, 2026 10:43:26 AM",
        "Time": 5753.0,
        "ExecutedBy": f"arn:aws:iam::{ACCOUNT}:role/governance-ssm-automation",
    },
}


@pytest.fixture(scope="module")
def pattern() -> str:
    raw = {key.removeprefix("governance:"): value for key, value in stack_config("dev").items()}
    plans = plan_stack(load_settings(raw))
    (account_b,) = [plan for plan in plans if plan.account.id == ACCOUNT]
    region = next(region for region in account_b.regions if region.region == "eu-west-1")
    assert region.event_pattern is not None
    return json.dumps(region.event_pattern)


@pytest.fixture(scope="module")
def events(aws_credentials: None, pattern: str) -> Iterator[Any]:
    """The emulator's EventBridge with the deployed rule, targeting a queue that stands in for the Lambda."""
    with mock_aws():
        client = boto3.client("events", region_name="eu-west-1")
        sqs = boto3.client("sqs", region_name="eu-west-1")
        queue_url = sqs.create_queue(QueueName="delivered")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        client.put_rule(Name="governance-remediation-events", EventPattern=pattern)
        client.put_targets(Rule="governance-remediation-events", Targets=[{"Id": "remediation", "Arn": queue_arn}])
        client.delivered_queue_url = queue_url
        client.sqs = sqs
        yield client


def matches(events: Any, pattern: str, event: dict[str, Any]) -> bool:
    """Put the event on the bus and see whether the rule delivered it."""
    events.put_events(Entries=[{
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"]),
        "Resources": event["resources"],
    }])
    received = events.sqs.receive_message(QueueUrl=events.delivered_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    messages = received.get("Messages", [])
    for message in messages:
        events.sqs.delete_message(QueueUrl=events.delivered_queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert len(messages) <= 1
    return bool(messages)


def with_detail(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(base)
    event["detail"].update(changes)
    return event


def test_the_pattern_is_accepted_by_eventbridge(events: Any, pattern: str) -> None:
    assert json.loads(events.describe_rule(Name="governance-remediation-events")["EventPattern"]) == json.loads(pattern)


def test_non_compliant_event_of_a_managed_rule_matches(events: Any, pattern: str) -> None:
    assert matches(events, pattern, COMPLIANCE_EVENT)


def test_compliant_and_other_results_do_not_match(events: Any, pattern: str) -> None:
    for compliance in ("COMPLIANT", "NOT_APPLICABLE", "INSUFFICIENT_DATA"):
        event = copy.deepcopy(COMPLIANCE_EVENT)
        event["detail"]["newEvaluationResult"]["complianceType"] = compliance
        assert not matches(events, pattern, event), compliance


def test_rules_on_the_ssm_engine_or_unmanaged_do_not_reach_the_lambda(events: Any, pattern: str) -> None:
    for name in ("governance-s3-bucket-encryption", "some-other-rule", "governance-restricted-admin-ports"):
        assert not matches(events, pattern, with_detail(COMPLIANCE_EVENT, configRuleName=name)), name


def test_security_hub_rules_match_by_prefix(events: Any, pattern: str) -> None:
    assert matches(events, pattern, with_detail(COMPLIANCE_EVENT, configRuleName="securityhub-restricted-ssh-1a2b3c4d"))
    assert matches(events, pattern, with_detail(COMPLIANCE_EVENT, configRuleName="securityhub-restricted-rdp-9f8e7d6c"))
    assert not matches(events, pattern, with_detail(COMPLIANCE_EVENT, configRuleName="securityhub-restricted-sshd-1a2b"))


def test_terminal_automation_outcomes_of_used_runbooks_match(events: Any, pattern: str) -> None:
    assert matches(events, pattern, AUTOMATION_EVENT)
    assert matches(events, pattern, with_detail(AUTOMATION_EVENT, Status="Failed"))
    assert not matches(events, pattern, with_detail(AUTOMATION_EVENT, Status="InProgress"))
    assert not matches(events, pattern, with_detail(AUTOMATION_EVENT, Definition="AWS-RestartEC2Instance"))
