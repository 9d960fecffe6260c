"""A result event, published by the handler, turned into one sentence by the notification rule the program deploys.

The rule's pattern, input paths and template come from ``governance.operations`` exactly as the
program deploys them; moto's EventBridge matches the handler's real PutEvents entry against the
pattern, applies the input transformer and delivers to an SQS queue standing in for the SNS topic.
Moto inserts values into the template without escaping them (EventBridge escapes them), so the
decisions used here have reasons without double quotes; the escaping itself is EventBridge's.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from conftest import FUNCTION_ARN, REGION, FakeContext, compliance_event, rule_entry, rule_name
from deployment_params import DEFAULT_PARAMS
from lambda_scenarios import SCENARIOS
from remediation.handler import lambda_handler

from governance import operations
from governance.settings import OperationsSettings

PORTS = next(scenario for scenario in SCENARIOS if scenario.key == "restricted-admin-ports")


def test_the_default_pattern_matches_failures_and_auto_mode_remediations_only() -> None:
    """The emulator's event matcher (the one that routes PutEvents; moto has no TestEventPattern) on the default pattern."""
    from moto.events.models import EventPattern

    pattern = EventPattern.load(json.dumps(operations.notification_pattern(OperationsSettings(), FUNCTION_ARN)))

    def matches(decision: str, mode: str, function: str = FUNCTION_ARN) -> bool:
        event = {
            "id": "1", "account": "123456789012", "source": "governance.remediation", "time": "2026-12-03T00:00:00Z",
            "region": REGION, "resources": [function], "detail-type": "Governance Remediation Result", "detail": {"decision": decision, "mode": mode},
        }
        return bool(pattern.matches_event(event))  # type: ignore[arg-type]  # a plain dict of the same keys

    assert matches("failed", "auto") and matches("failed", "manual")
    assert matches("remediated", "auto") and not matches("remediated", "manual")
    assert not matches("exempt", "auto") and not matches("dry_run", "manual") and not matches("already_compliant", "auto")
    assert not matches("failed", "auto", FUNCTION_ARN.replace("governance-remediation", "other-remediation")), "another deployment's result"


def notification_queue(decisions: tuple[str, ...]) -> str:
    """Deploy the notification rule in the emulator with an SQS target; return the queue URL."""
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="notifications")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = boto3.client("events", region_name=REGION)
    pattern = operations.notification_pattern(OperationsSettings(decisions=decisions), FUNCTION_ARN)
    events.put_rule(Name="governance-remediation-notify", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="governance-remediation-notify", Targets=[{
        "Id": "notify",
        "Arn": arn,
        "InputTransformer": {"InputPathsMap": operations.NOTIFICATION_INPUT_PATHS, "InputTemplate": operations.NOTIFICATION_TEMPLATE},
    }])
    return url


def handle_open_group() -> tuple[str, dict[str, Any]]:
    """A security group open to the world, and the handler's record for its NON_COMPLIANT event."""
    group = PORTS.make_non_compliant()
    return group, lambda_handler(compliance_event(rule_name(PORTS.key), PORTS.resource_type, group), FakeContext())


def messages(url: str) -> list[Any]:
    sqs = boto3.client("sqs", region_name=REGION)
    return [json.loads(message["Body"]) for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]


def test_a_remediation_arrives_as_one_readable_sentence() -> None:
    url = notification_queue(("failed", "remediated"))
    group, record = handle_open_group()
    assert record["decision"] == "remediated"
    assert messages(url) == [
        f"Governance remediated: restricted-admin-ports on {group} in account {record['account']}, {REGION}. "
        f"{record['reason']} (record {record['recordId']})"
    ]


def test_decisions_that_do_not_notify_send_nothing(deploy) -> None:
    deploy(rules={PORTS.key: rule_entry(DEFAULT_PARAMS[PORTS.key], mode="manual")})
    url = notification_queue(("failed", "remediated"))
    _, record = handle_open_group()
    assert record["decision"] == "dry_run"
    assert messages(url) == []


def test_a_stack_that_asks_for_dry_runs_gets_them(deploy) -> None:
    deploy(rules={PORTS.key: rule_entry(DEFAULT_PARAMS[PORTS.key], mode="manual")})
    url = notification_queue(("dry_run",))
    group, record = handle_open_group()
    (sentence,) = messages(url)
    assert sentence.startswith(f"Governance dry_run: restricted-admin-ports on {group} in account {record['account']}, {REGION}. ")
    assert sentence.endswith(f"(record {record['recordId']})")


def test_a_failure_arrives_with_its_reason(monkeypatch) -> None:
    from remediation.fixers import restricted_admin_ports
    from remediation.fixers.base import NotRemediable

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise NotRemediable("the group is referenced by a launch template that pins its rules")

    monkeypatch.setattr(restricted_admin_ports, "plan", refuse)
    url = notification_queue(("failed", "remediated"))
    group, record = handle_open_group()
    assert record["decision"] == "failed"
    assert messages(url) == [
        f"Governance failed: restricted-admin-ports on {group} in account {record['account']}, {REGION}. "
        f"the group is referenced by a launch template that pins its rules (record {record['recordId']})"
    ]


def test_the_chat_format_is_an_amazon_q_developer_custom_notification() -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = notification_queue(("failed", "remediated"))
    events = boto3.client("events", region_name=REGION)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    chat = OperationsSettings(format="chat")
    events.put_targets(Rule="governance-remediation-notify", Targets=[{
        "Id": "notify",
        "Arn": arn,
        "InputTransformer": {"InputPathsMap": operations.NOTIFICATION_INPUT_PATHS, "InputTemplate": operations.notification_template(chat)},
    }])
    group, record = handle_open_group()
    (message,) = messages(url)
    assert message == {
        "version": "1.0",
        "source": "custom",
        "id": record["recordId"],
        "content": {
            "textType": "client-markdown",
            "title": "Governance remediated: restricted-admin-ports",
            "description": f"{group} in account {record['account']}, {REGION}. {record['reason']} (record {record['recordId']})",
        },
    }


def test_another_deployments_results_do_not_notify_here() -> None:
    """Two stacks with different prefixes in one account-region: each rule takes its own function's results."""
    from remediation.audit import AuditRecord, publish_result

    url = notification_queue(("failed", "remediated"))
    other = FUNCTION_ARN.replace("governance-remediation", "prod-remediation")
    publish_result(AuditRecord("failed", "the other stack failed", mode="auto", rule_key=PORTS.key), "governance.remediation", (other,))
    assert messages(url) == []
    publish_result(AuditRecord("failed", "this stack failed", mode="auto", rule_key=PORTS.key), "governance.remediation", (FUNCTION_ARN,))
    (sentence,) = messages(url)
    assert "this stack failed" in sentence
