"""Audit trail: result events on the bus, Security Hub updates, and the SSM engine's outcomes."""

from __future__ import annotations

import json

import pytest
from botocore.stub import ANY, Stubber
from conftest import (
    ACCOUNT,
    REGION,
    SECURITY_HUB_ENCRYPTION,
    FakeContext,
    automation_event,
    compliance_event,
    rule_name,
    security_hub_entry,
)
from lambda_scenarios import SCENARIOS
from remediation import clients
from remediation.audit import RESULT_DETAIL_TYPE
from remediation.handler import HANDLER_IAM_ACTIONS, lambda_handler

ENCRYPTION = next(scenario for scenario in SCENARIOS if scenario.key == "s3-bucket-encryption")
LOG_VALIDATION_RUNBOOK = "AWSConfigRemediation-EnableCloudTrailLogFileValidation"
EXECUTION_ID = "4105a4fc-f944-11e6-9d32-0a1b2c3d495e"


def test_the_result_event_carries_the_record(monkeypatch) -> None:
    entries = []
    events_client = clients.client("events")
    events_client.meta.events.register("before-parameter-build.eventbridge.PutEvents", lambda params, **_: entries.extend(params["Entries"]))
    bucket = ENCRYPTION.make_non_compliant()
    record = lambda_handler(compliance_event(rule_name(ENCRYPTION.key), ENCRYPTION.resource_type, bucket), FakeContext())
    assert len(entries) == 1
    entry = entries[0]
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == ("governance.remediation", RESULT_DETAIL_TYPE, "default")
    assert json.loads(entry["Detail"]) == record


def test_a_publishing_failure_is_logged_and_not_raised(capsys) -> None:
    from faults import inject_error

    inject_error("events", "PutEvents", "AccessDeniedException", 400)
    bucket = ENCRYPTION.make_non_compliant()
    record = lambda_handler(compliance_event(rule_name(ENCRYPTION.key), ENCRYPTION.resource_type, bucket), FakeContext())
    assert record["decision"] == "remediated"
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[-1]["message"] == "could not publish the result event"


def _finding(finding_id: str) -> dict:
    return {"Id": finding_id, "ProductArn": f"arn:aws:securityhub:{REGION}::product/aws/config"}


def _full_finding(finding_id: str, bucket: str) -> dict:
    return {
        **_finding(finding_id),
        "SchemaVersion": "2018-10-08",
        "GeneratorId": f"arn:aws:config:{REGION}:{ACCOUNT}:config-rule/config-rule-eguym2",
        "AwsAccountId": ACCOUNT,
        "CreatedAt": "2024-01-01T00:00:00Z",
        "UpdatedAt": "2024-01-01T00:00:00Z",
        "Title": rule_name("s3-bucket-encryption"),
        "Description": "config finding",
        "Resources": [{"Type": "AwsS3Bucket", "Id": f"arn:aws:s3:::{bucket}"}],
    }


@pytest.mark.parametrize(("break_it", "workflow"), [(False, "RESOLVED"), (True, "NOTIFIED")])
def test_security_hub_finding_is_noted_and_its_workflow_set(deploy, break_it: bool, workflow: str) -> None:
    deploy(securityHubUpdates=True)
    bucket = ENCRYPTION.make_non_compliant()
    if break_it:
        from faults import inject_error

        inject_error("s3", "PutBucketEncryption", "AccessDenied", 403)
    stubber = Stubber(clients.client("securityhub"))
    expected_filters = {
        "AwsAccountId": [{"Value": ACCOUNT, "Comparison": "EQUALS"}],
        "Region": [{"Value": REGION, "Comparison": "EQUALS"}],
        "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}],
        "ProductFields": [{"Key": "aws/config/ConfigRuleName", "Value": rule_name(ENCRYPTION.key), "Comparison": "EQUALS"}],
        "ResourceId": [{"Value": f"arn:aws:s3:::{bucket}", "Comparison": "EQUALS"}],
    }
    stubber.add_response("get_findings", {"Findings": [_full_finding("f-1", bucket)]}, {"Filters": expected_filters, "MaxResults": 100})
    stubber.add_response(
        "batch_update_findings",
        {"ProcessedFindings": [{"Id": "f-1", "ProductArn": _finding("f-1")["ProductArn"]}], "UnprocessedFindings": []},
        {"FindingIdentifiers": [_finding("f-1")], "Note": {"Text": ANY, "UpdatedBy": "governance-remediation"}, "Workflow": {"Status": workflow}},
    )
    with stubber:
        record = lambda_handler(compliance_event(rule_name(ENCRYPTION.key), ENCRYPTION.resource_type, bucket), FakeContext())
    stubber.assert_no_pending_responses()
    assert record["securityHub"] == {"updated": 1, "workflowStatus": workflow, "unprocessed": []}


def test_security_hub_rules_are_matched_by_their_own_product_field(deploy) -> None:
    deploy(securityHubUpdates=True, rules={SECURITY_HUB_ENCRYPTION[0]: security_hub_entry(*SECURITY_HUB_ENCRYPTION)})
    bucket = ENCRYPTION.make_non_compliant()
    stubber = Stubber(clients.client("securityhub"))
    stubber.add_response("get_findings", {"Findings": []}, {"Filters": ANY, "MaxResults": 100})
    with stubber:
        record = lambda_handler(compliance_event("securityhub-s3-default-encryption-kms-fe95bf3f", ENCRYPTION.resource_type, bucket), FakeContext())
    assert record["securityHub"]["updated"] == 0


def test_security_hub_is_left_alone_when_disabled_or_nothing_happened(deploy, requests) -> None:
    deploy(securityHubUpdates=True)
    bucket = ENCRYPTION.make_compliant()
    record = lambda_handler(compliance_event(rule_name(ENCRYPTION.key), ENCRYPTION.resource_type, bucket), FakeContext())
    assert record["securityHub"] is None
    assert not any(service == "securityhub" for service, _ in requests.sent)


def _execution(status: str, parameters: dict, failure: str | None = None) -> dict:
    execution = {"AutomationExecutionId": EXECUTION_ID, "DocumentName": LOG_VALIDATION_RUNBOOK, "AutomationExecutionStatus": status, "Parameters": parameters}
    if failure:
        execution["FailureMessage"] = failure
    return {"AutomationExecution": execution}


@pytest.mark.parametrize(
    ("status", "decision", "published_level"),
    [("Success", "remediated", "info"), ("CompletedWithSuccess", "remediated", "info"), ("Failed", "failed", "error"), ("TimedOut", "failed", "error"), ("Cancelled", "failed", "error")],
)
def test_ssm_outcomes_are_recorded_in_the_same_format(status: str, decision: str, published_level: str, requests) -> None:
    stubber = Stubber(clients.client("ssm"))
    parameters = {"TrailName": ["main-trail"], "AutomationAssumeRole": [f"arn:aws:iam::{ACCOUNT}:role/automation"]}
    stubber.add_response("get_automation_execution", _execution(status, parameters, "Step failed" if decision == "failed" else None), {"AutomationExecutionId": EXECUTION_ID})
    with stubber:
        record = lambda_handler(automation_event(LOG_VALIDATION_RUNBOOK, status), FakeContext())
    assert (record["engine"], record["decision"], record["level"], record["final"]) == ("ssm", decision, published_level, True)
    assert (record["ruleKey"], record["resourceType"], record["resourceId"]) == ("cloudtrail-log-validation", "AWS::CloudTrail::Trail", "main-trail")
    assert record["change"]["executionId"] == EXECUTION_ID
    assert "AutomationAssumeRole" not in record["change"]["parameters"]
    assert requests.sent[-1] == ("events", "PutEvents"), "every outcome, failures included, notifies"
    if decision == "failed":
        assert "Step failed" in record["reason"]


def test_an_ssm_execution_that_cannot_be_read_is_still_recorded() -> None:
    stubber = Stubber(clients.client("ssm"))
    stubber.add_client_error("get_automation_execution", "AccessDeniedException", http_status_code=400)
    with stubber:
        record = lambda_handler(automation_event(LOG_VALIDATION_RUNBOOK, "Failed"), FakeContext())
    assert record["decision"] == "failed"
    assert "could not be read" in record["reason"]


def test_an_account_level_runbook_names_the_account() -> None:
    stubber = Stubber(clients.client("ssm"))
    stubber.add_response("get_automation_execution", _execution("Success", {"TrailName": ["governance"]}), {"AutomationExecutionId": EXECUTION_ID})
    with stubber:
        record = lambda_handler(automation_event("AWSConfigRemediation-CreateCloudTrailMultiRegionTrail", "Success"), FakeContext())
    assert (record["resourceType"], record["resourceId"]) == ("AWS::::Account", ACCOUNT)


def _observe_calls(monkeypatch) -> list[tuple[str, str]]:
    """Every API call any of the function's clients makes, as (service, operation), stubbed ones included."""
    observed: list[tuple[str, str]] = []
    attach = clients.attach_recorder

    def attach_and_observe(client) -> None:
        attach(client)
        service = client.meta.service_model.service_name
        client.meta.events.register_first("before-parameter-build", lambda model, **_: observed.append((service, model.name)))

    monkeypatch.setattr(clients, "attach_recorder", attach_and_observe)
    clients.forget_clients()
    return observed


def test_handler_iam_actions_are_exactly_what_the_handler_calls(deploy, monkeypatch) -> None:
    """With Security Hub updates on, a retried compliance event and an SSM outcome: every call the
    handler makes besides its fixer's is declared, and every declaration is called."""
    from datetime import UTC, datetime, timedelta

    import boto3
    from lambda_scenarios import SCENARIOS as ALL
    from remediation import attempts
    from remediation.fixers import iam_actions

    deploy(securityHubUpdates=True)
    observed = _observe_calls(monkeypatch)
    boto3.client("logs").create_log_group(logGroupName="/aws/lambda/governance-remediation")
    monkeypatch.setenv(attempts.LOG_GROUP_VARIABLE, "/aws/lambda/governance-remediation")
    monkeypatch.setattr(attempts, "clock", lambda: datetime.now(UTC) + timedelta(days=1))
    ports = next(scenario for scenario in ALL if scenario.key == "restricted-admin-ports")
    group = ports.make_non_compliant()
    hub = Stubber(clients.client("securityhub"))
    hub.add_response("get_findings", {"Findings": [_full_finding("f-1", group)]}, {"Filters": ANY, "MaxResults": 100})
    hub.add_response("batch_update_findings", {"ProcessedFindings": [_finding("f-1")], "UnprocessedFindings": []}, {"FindingIdentifiers": ANY, "Note": ANY, "Workflow": ANY})
    with hub:
        record = lambda_handler(compliance_event(rule_name(ports.key), ports.resource_type, group), FakeContext())
    assert record["decision"] == "remediated" and record["securityHub"]["updated"] == 1
    ssm = Stubber(clients.client("ssm"))
    ssm.add_response("get_automation_execution", _execution("Success", {"TrailName": ["main-trail"]}), {"AutomationExecutionId": EXECUTION_ID})
    with ssm:
        assert lambda_handler(automation_event(LOG_VALIDATION_RUNBOOK, "Success"), FakeContext())["decision"] == "remediated"
    called = {f"{service}:{operation}" for service, operation in observed}
    assert called - set(iam_actions(ports.key)) == set(HANDLER_IAM_ACTIONS)


def _aws_entry_size(entry: dict) -> int:
    """EventBridge's entry size ("Calculating PutEvents event entry size"), written out independently."""
    size = 14 if "Time" in entry else 0
    size += sum(len(entry[name].encode("utf-8")) for name in ("Source", "DetailType", "Detail") if name in entry)
    return size + sum(len(resource.encode("utf-8")) for resource in entry.get("Resources", []))


AWS_ENTRY_LIMIT = 262_144
"""256 KB; the entry must be smaller."""


def _published(monkeypatch) -> list[dict]:
    """Entries sent to PutEvents; an entry AWS would reject as too large fails the call as AWS does."""
    entries: list[dict] = []

    def check(params, **_):
        for entry in params["Entries"]:
            entries.append(entry)
            if _aws_entry_size(entry) >= AWS_ENTRY_LIMIT:
                raise AssertionError(f"PutEvents would reject an entry of {_aws_entry_size(entry)} bytes")

    clients.client("events").meta.events.register("before-parameter-build.eventbridge.PutEvents", check)
    return entries


def test_an_oversized_record_is_published_cut_to_fit_keeping_what_it_decided(monkeypatch, capsys) -> None:
    from remediation.audit import AuditRecord, publish_result

    big = "é" * 60_000  # 120,000 UTF-8 bytes
    record = AuditRecord(
        "remediated",
        f"AWS said {big}",
        rule="governance-restricted-admin-ports",
        rule_key="restricted-admin-ports",
        resource_type="AWS::EC2::SecurityGroup",
        resource_id="sg-0123456789abcdef0",
        event_id="c0bb891c-77fe-8518-14fc-be78b966f95b",
        api_calls=({"service": "ec2", "operation": "RevokeSecurityGroupIngress", "params": {"Description": big}, "outcome": "ok"},),
        before={"description": big},
        after={"description": big},
        change={"detail": [big, big]},
        undo=({"service": "ec2", "operation": "AuthorizeSecurityGroupIngress", "params": {"Description": big}},),
    )
    entries = _published(monkeypatch)
    publish_result(record, "governance.remediation")
    assert "could not publish" not in capsys.readouterr().out
    (entry,) = entries
    assert _aws_entry_size(entry) < AWS_ENTRY_LIMIT
    detail = json.loads(entry["Detail"])
    kept = ("decision", "rule", "ruleKey", "resourceType", "resourceId", "recordId", "eventId")
    assert {name: detail[name] for name in kept} == {name: record.to_json()[name] for name in kept}
    assert detail["truncated"]["originalBytes"] > AWS_ENTRY_LIMIT
    assert detail["reason"].startswith("AWS said é")


def test_a_forged_event_with_huge_fields_still_publishes_its_warning(monkeypatch, capsys) -> None:
    event = compliance_event("x" * 300_000, "AWS::EC2::SecurityGroup", "sg-0123456789abcdef0")
    event["detail"]["resourceType"] = "y" * 100_000
    entries = _published(monkeypatch)
    record = lambda_handler(event, FakeContext())
    assert (record["decision"], record["level"]) == ("ignored", "warning")
    assert "could not publish" not in capsys.readouterr().out
    (entry,) = entries
    assert _aws_entry_size(entry) < AWS_ENTRY_LIMIT
    detail = json.loads(entry["Detail"])
    assert (detail["decision"], detail["recordId"]) == ("ignored", record["recordId"])
    assert detail["rule"].startswith("xxxx")
