"""Malformed, forged and unmanaged events are ignored with a reason, never raise, never write."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from conftest import (
    ACCOUNT,
    SECURITY_HUB_PORTS,
    FakeContext,
    automation_event,
    base_config,
    compliance_event,
    rule_name,
    security_hub_entry,
)
from lambda_scenarios import SCENARIOS
from remediation.handler import lambda_handler

GROUP = "sg-0123456789abcdef0"


def open_group_event() -> dict[str, Any]:
    return compliance_event(rule_name("restricted-admin-ports"), "AWS::EC2::SecurityGroup", GROUP)


def mutate(change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    event = open_group_event()
    change(event)
    return event


def set_detail(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda event: event["detail"].update(fields)


WARNING_VARIANTS: dict[str, Any] = {
    "not an object": ["a", "list"],
    "null": None,
    "other source": mutate(lambda e: e.update(source="aws.ec2")),
    "other detail-type": mutate(lambda e: e.update({"detail-type": "Config Configuration Item Change"})),
    "no detail": mutate(lambda e: e.pop("detail")),
    "detail not an object": mutate(lambda e: e.update(detail="oops")),
    "other messageType": mutate(set_detail(messageType="ScheduledNotification")),
    "no newEvaluationResult": mutate(lambda e: e["detail"].pop("newEvaluationResult")),
    "complianceType missing": mutate(lambda e: e["detail"]["newEvaluationResult"].pop("complianceType")),
    "unmanaged rule": mutate(set_detail(configRuleName="someone-elses-rule")),
    "prefix without suffix": mutate(set_detail(configRuleName="securityhub-restricted-ssh-")),
    "rule name not a string": mutate(set_detail(configRuleName=42)),
    "foreign account in envelope": mutate(lambda e: e.update(account="999999999999")),
    "foreign account in detail": mutate(set_detail(awsAccountId="999999999999")),
    "other region": mutate(lambda e: e.update(region="eu-west-1")),
    "other region in detail": mutate(set_detail(awsRegion="eu-west-1")),
    "wrong resource type": mutate(set_detail(resourceType="AWS::EC2::VPC")),
    "malformed group id": mutate(set_detail(resourceId="sg-XYZ; rm -rf /")),
    "vpc id for a group rule": mutate(set_detail(resourceId="vpc-0123456789abcdef0")),
    "no resource id": mutate(lambda e: e["detail"].pop("resourceId")),
    "qualifier names another resource": mutate(
        lambda e: e["detail"]["newEvaluationResult"]["evaluationResultIdentifier"]["evaluationResultQualifier"].update(resourceId="sg-0fedcba9876543210")
    ),
    "bucket name too short": compliance_event(rule_name("s3-bucket-encryption"), "AWS::S3::Bucket", "ab"),
    "bucket name with uppercase": compliance_event(rule_name("s3-bucket-encryption"), "AWS::S3::Bucket", "My_Bucket"),
    "foreign account id as the account resource": compliance_event(rule_name("s3-account-public-access"), "AWS::::Account", "999999999999"),
    "trail ARN with a bad name": compliance_event(
        rule_name("cloudtrail-log-validation"), "AWS::CloudTrail::Trail", f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/x"
    ),
    "ssm event for an unknown runbook": automation_event("AWS-Unknown", "Success"),
    "ssm event with a bad execution id": automation_event("AWSConfigRemediation-EnableCloudTrailLogFileValidation", "Failed", "not-an-id"),
    "ssm event without status": mutate(lambda e: e.update(automation_event("AWSConfigRemediation-EnableCloudTrailLogFileValidation", "Failed")) or e["detail"].pop("Status")),
}

INFO_VARIANTS: dict[str, Any] = {
    "compliant": mutate(lambda e: e["detail"]["newEvaluationResult"].update(complianceType="COMPLIANT")),
    "not applicable": mutate(lambda e: e["detail"]["newEvaluationResult"].update(complianceType="NOT_APPLICABLE")),
    "ssm still running": automation_event("AWSConfigRemediation-EnableCloudTrailLogFileValidation", "InProgress"),
}


@pytest.mark.parametrize(("name", "event"), [*WARNING_VARIANTS.items()], ids=list(WARNING_VARIANTS))
def test_unrecognised_or_forged_events_are_warnings_without_writes(name: str, event: Any, requests) -> None:
    record = lambda_handler(copy.deepcopy(event), FakeContext())
    assert record["decision"] == "ignored", name
    assert record["level"] == "warning"
    assert record["reason"]
    assert requests.operations() == [], "nothing but the result event is sent"
    assert requests.sent == [("events", "PutEvents")], "warnings are published so operators can alarm"


@pytest.mark.parametrize(("name", "event"), [*INFO_VARIANTS.items()], ids=list(INFO_VARIANTS))
def test_well_formed_events_that_need_nothing_are_info_and_not_published(name: str, event: Any, requests) -> None:
    record = lambda_handler(event, FakeContext())
    assert (record["decision"], record["level"]) == ("ignored", "info")
    assert requests.sent == []


def test_an_event_without_old_result_and_with_empty_resources_is_accepted() -> None:
    event = open_group_event()
    assert "oldEvaluationResult" not in event["detail"] and event["resources"] == []
    record = lambda_handler(event, FakeContext())
    assert record["decision"] == "failed"  # reached the fixer: the group does not exist in moto
    assert "InvalidGroup.NotFound" in record["reason"]


def test_an_event_with_old_result_is_accepted_too() -> None:
    event = compliance_event(rule_name("restricted-admin-ports"), "AWS::EC2::SecurityGroup", GROUP, with_old_result=True)
    assert lambda_handler(event, FakeContext())["decision"] == "failed"


def test_an_empty_rule_name_prefix_names_each_rule_by_its_key(deploy, requests) -> None:
    """governance:ruleNamePrefix may be empty; the program's Config rules are then named by their keys alone."""
    deploy(ruleNamePrefix="")
    record = lambda_handler(compliance_event("restricted-admin-ports", "AWS::EC2::SecurityGroup", GROUP), FakeContext())
    assert record["ruleKey"] == "restricted-admin-ports", record["reason"]
    assert requests.operations() == ["DescribeSecurityGroups"]
    unmanaged = lambda_handler(open_group_event(), FakeContext())
    assert (unmanaged["decision"], unmanaged["level"]) == ("ignored", "warning")


def test_security_hub_rule_names_are_matched_by_prefix(deploy, requests) -> None:
    deploy(rules={SECURITY_HUB_PORTS[0]: security_hub_entry(*SECURITY_HUB_PORTS)})
    own = lambda_handler(open_group_event(), FakeContext())
    assert (own["decision"], own["level"]) == ("ignored", "warning"), "a rule taken from Security Hub has no rule of its own"
    requests.clear()
    event = compliance_event("securityhub-restricted-ssh-1a2b3c4d", "AWS::EC2::SecurityGroup", GROUP)
    record = lambda_handler(event, FakeContext())
    assert record["ruleKey"] == "restricted-admin-ports"
    assert requests.operations() == ["DescribeSecurityGroups"]


@pytest.mark.parametrize(
    "context",
    [None, object(), FakeContext(invoked_function_arn="not-an-arn"), FakeContext(invoked_function_arn="arn:aws:lambda:us-east-1:12345:function:f")],
    ids=["none", "no arn", "garbage arn", "short account"],
)
def test_an_unreadable_context_fails_closed(context: Any, requests) -> None:
    record = lambda_handler(open_group_event(), context)
    assert (record["decision"], record["level"]) == ("ignored", "warning")
    assert requests.operations() == []


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("unset", None),
        ("not json", "{"),
        ("not an object", "[]"),
        ("wrong version", json.dumps(base_config(version=1))),
        ("bad mode", json.dumps(base_config(rules={"vpc-flow-logs": {"mode": "yolo", "params": {}}}))),
        ("unknown key", json.dumps(base_config(rules={"nope": {"mode": "auto", "params": {}}}))),
        ("named by rule name", json.dumps(base_config(rules={"governance-vpc-flow-logs": {"mode": "auto"}}))),
        ("no rule-name prefix", json.dumps(base_config(ruleNamePrefix=None))),
        ("security hub prefixes not a list", json.dumps(base_config(rules={"vpc-flow-logs": {"mode": "auto", "securityHubPrefixes": "securityhub-x-"}}))),
        ("security hub prefix without its dash", json.dumps(base_config(rules={"vpc-flow-logs": {"mode": "auto", "securityHubPrefixes": ["securityhub-x"]}}))),
        ("aws source", json.dumps(base_config(resultEventSource="aws.config"))),
        ("empty tag", json.dumps(base_config(exemptionTag=""))),
        ("runbook without key", json.dumps(base_config(ssmRunbooks={"AWS-X": {"mode": "auto", "resourceParameter": None}}))),
    ],
)
def test_an_invalid_deployment_config_ignores_every_event_with_a_warning(name: str, raw: str | None, monkeypatch, requests) -> None:
    if raw is None:
        monkeypatch.delenv("GOVERNANCE_CONFIG")
    else:
        monkeypatch.setenv("GOVERNANCE_CONFIG", raw)
    for _ in range(2):
        record = lambda_handler(open_group_event(), FakeContext())
        assert (record["decision"], record["level"]) == ("ignored", "warning")
        assert "deployment config is invalid" in record["reason"]
    assert requests.sent == []


INVALID_PARAMS: dict[str, tuple[dict[str, Any], str]] = {
    "restricted-admin-ports": ({"ports": ["22"]}, "params.ports"),
    "s3-bucket-encryption": ({"algorithm": "aws:kms", "kmsKeyArn": None}, "params.kmsKeyArn"),
    "vpc-flow-logs": ({"trafficType": "ALL", "destinationType": "cloud-watch-logs", "logGroupName": "/x"}, "params.logGroupName and params.deliverLogsRoleArn"),
}
"""Params the program would refuse; a hand-edited environment can still carry them."""

EVENT_OF_RULE: dict[str, dict[str, Any]] = {
    "restricted-admin-ports": open_group_event(),
    "s3-bucket-encryption": compliance_event(rule_name("s3-bucket-encryption"), "AWS::S3::Bucket", "some-bucket"),
    "vpc-flow-logs": compliance_event(rule_name("vpc-flow-logs"), "AWS::EC2::VPC", "vpc-0123456789abcdef0"),
}


@pytest.mark.parametrize("key", INVALID_PARAMS)
def test_invalid_params_ignore_that_rules_events_naming_the_field_and_the_other_rules_work_on(key: str, monkeypatch, requests) -> None:
    """Params are parsed on a rule's first event, so only that rule's events are refused."""
    params, field = INVALID_PARAMS[key]
    config = base_config()
    config["rules"][key]["params"] = params
    monkeypatch.setenv("GOVERNANCE_CONFIG", json.dumps(config))
    for _ in range(2):
        record = lambda_handler(EVENT_OF_RULE[key], FakeContext())
        assert (record["decision"], record["level"], record["ruleKey"]) == ("ignored", "warning", key)
        assert f"the deployment config is invalid: rules.{key}.{field}" in record["reason"]
    assert requests.operations(exclude=()) == ["PutEvents", "PutEvents"]  # the two warnings, and nothing else
    other = next(other for other in EVENT_OF_RULE if other != key)
    record = lambda_handler(EVENT_OF_RULE[other], FakeContext())
    assert "deployment config is invalid" not in record["reason"]
    assert requests.operations() != []


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_each_fixer_rejects_a_resource_type_it_does_not_evaluate(scenario, requests) -> None:
    foreign = "AWS::IAM::User" if scenario.resource_type != "AWS::IAM::User" else "AWS::IAM::Role"
    event = compliance_event(rule_name(scenario.key), foreign, "AIDAW6MN5QPJPMC7R4QBE")
    record = lambda_handler(event, FakeContext())
    assert (record["decision"], record["level"]) == ("ignored", "warning")
    assert requests.operations() == []


@pytest.mark.parametrize("field", ["awsAccountId", "awsRegion"])
def test_a_compliance_event_without_the_detail_account_or_region_is_ignored_naming_the_field(field: str, requests) -> None:
    """Config compliance events always carry both; the envelope's account and region alone are not enough."""
    event = open_group_event()
    event["detail"].pop(field)
    record = lambda_handler(event, FakeContext())
    assert (record["decision"], record["level"]) == ("ignored", "warning")
    assert f"detail.{field} is missing" in record["reason"]
    assert requests.operations() == []


@pytest.mark.parametrize(("field", "value"), [("account", "999999999999"), ("region", "eu-west-1")])
def test_an_ssm_status_event_of_another_account_or_region_is_ignored(field: str, value: str, requests) -> None:
    event = automation_event("AWSConfigRemediation-EnableCloudTrailLogFileValidation", "Success")
    event[field] = value
    record = lambda_handler(event, FakeContext())
    assert (record["decision"], record["level"]) == ("ignored", "warning")
    assert value in record["reason"]
    assert requests.operations() == [], "the execution is not even read"
