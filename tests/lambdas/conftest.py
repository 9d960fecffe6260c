"""Fixtures for the remediation Lambda: moto in-process, fake credentials, a deployment config,
real-shaped events, and a count of every HTTP request each client sends."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from cloudtrail_model import model_cloudtrail
from deployment_params import ACCOUNT, DEFAULT_PARAMS
from lambda_model import model_lambda
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber
from remediation import clients, config, engine
from remediation.calls import attach_recorder

REGION = "us-east-1"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:governance-remediation"
EXEMPTION_TAG = "governance:exempt"
FAULT_HEADER = "x-governance-test-fault"


@dataclass
class FakeContext:
    invoked_function_arn: str = FUNCTION_ARN
    aws_request_id: str = "11111111-2222-3333-4444-555555555555"


@dataclass
class RequestLog:
    """Every HTTP request sent by the function's clients: (service, operation) in order."""

    sent: list[tuple[str, str]] = field(default_factory=list)

    def operations(self, exclude: tuple[str, ...] = ("PutEvents",)) -> list[str]:
        return [operation for _, operation in self.sent if operation not in exclude]

    def writes(self) -> list[str]:
        read_prefixes = ("Get", "Describe", "List")
        return [op for op in self.operations() if not op.startswith(read_prefixes)]

    def clear(self) -> None:
        self.sent.clear()


@pytest.fixture(autouse=True)
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[RequestLog]:
    """Fake credentials, a fresh moto account, fresh clients, instant verification waits."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        # The fixers never touch AMIs; loading moto's default ones makes every EC2 test slow.
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("GOVERNANCE_CONFIG", json.dumps(base_config()))
    log = RequestLog()

    def attach_and_count(client: Any) -> None:
        attach_recorder(client)

        def count(request: Any, **kwargs: Any) -> None:
            log.sent.append((client.meta.service_model.service_name, kwargs["event_name"].rsplit(".", 1)[-1]))

        client.meta.events.register_first("before-send", count)

    monkeypatch.setattr(clients, "attach_recorder", attach_and_count)
    original_stubber_call = BotocoreStubber.__call__

    def moto_unless_faulted(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        # A request answered by faults.inject_error must not also reach moto's backend.
        if request.headers.get(FAULT_HEADER):
            return None
        return original_stubber_call(self, event_name, request, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", moto_unless_faulted)
    monkeypatch.setattr(engine, "sleep", lambda _seconds: None)
    model_cloudtrail(monkeypatch)
    model_lambda(monkeypatch)
    clients.forget_clients()
    config._LOADED.clear()
    with mock_aws():
        # Every bucket has SSE-S3 already (as on AWS), so s3-bucket-encryption's real job is the move to
        # SSE-KMS: each test gets a fresh key, and the deployment config names it.
        key_arn = boto3.client("kms").create_key(Description="governance test key")["KeyMetadata"]["Arn"]
        monkeypatch.setitem(DEFAULT_PARAMS, "s3-bucket-encryption", {"algorithm": "aws:kms", "kmsKeyArn": key_arn})
        monkeypatch.setenv("GOVERNANCE_CONFIG", json.dumps(base_config()))
        yield log
    clients.forget_clients()


@pytest.fixture
def requests(aws: RequestLog) -> RequestLog:
    return aws


def rule_entry(params: dict[str, Any] | None = None, mode: str = "auto") -> dict[str, Any]:
    return {"mode": mode, "params": params or {}}


def security_hub_entry(key: str, *prefixes: str, mode: str = "auto") -> dict[str, Any]:
    """A rule taken from Security Hub, matched by the prefixes of the rule names Security Hub gives it."""
    return {**rule_entry(DEFAULT_PARAMS[key], mode), "securityHubPrefixes": list(prefixes)}


SECURITY_HUB_PORTS = ("restricted-admin-ports", "securityhub-restricted-ssh-", "securityhub-restricted-common-ports-")
SECURITY_HUB_ENCRYPTION = ("s3-bucket-encryption", "securityhub-s3-default-encryption-kms-")


def rule_name(key: str) -> str:
    return f"governance-{key}"


def base_config(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": 2,
        "exemptionTag": EXEMPTION_TAG,
        "securityHubUpdates": False,
        "resultEventSource": "governance.remediation",
        "ruleNamePrefix": "governance-",
        "rules": {key: rule_entry(params) for key, params in DEFAULT_PARAMS.items()},
        "ssmRunbooks": {
            "AWSConfigRemediation-EnableCloudTrailLogFileValidation": {"key": "cloudtrail-log-validation", "mode": "auto", "resourceParameter": "TrailName"},
            "AWSConfigRemediation-CreateCloudTrailMultiRegionTrail": {"key": "cloudtrail-multi-region", "mode": "auto", "resourceParameter": None},
        },
    }
    data.update(overrides)
    return data


@pytest.fixture
def deploy(monkeypatch: pytest.MonkeyPatch) -> Callable[..., dict[str, Any]]:
    """Set GOVERNANCE_CONFIG; keyword arguments replace top-level fields, ``rules`` entries are merged."""

    def apply(rules: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
        data = base_config(**overrides)
        if rules:
            data["rules"] = {**data["rules"], **rules}
        monkeypatch.setenv("GOVERNANCE_CONFIG", json.dumps(data))
        return data

    return apply


def compliance_event(
    rule: str,
    resource_type: str,
    resource_id: str,
    compliance: str = "NON_COMPLIANT",
    account: str = ACCOUNT,
    region: str = REGION,
    with_old_result: bool = False,
) -> dict[str, Any]:
    """A real-shaped EventBridge "Config Rules Compliance Change" event (facts §4)."""
    qualifier = {"configRuleName": rule, "resourceType": resource_type, "resourceId": resource_id}
    detail: dict[str, Any] = {
        "resourceId": resource_id,
        "awsRegion": region,
        "awsAccountId": account,
        "configRuleName": rule,
        "recordVersion": "1.0",
        "configRuleARN": f"arn:aws:config:{region}:{account}:config-rule/config-rule-eguym2",
        "messageType": "ComplianceChangeNotification",
        "newEvaluationResult": {
            "evaluationResultIdentifier": {"evaluationResultQualifier": qualifier, "orderingTimestamp": "2021-04-19T19:03:50.251Z"},
            "complianceType": compliance,
            "resultRecordedTime": "2021-04-19T19:04:04.741Z",
            "configRuleInvokedTime": "2021-04-19T19:04:04.332Z",
        },
        "notificationCreationTime": "2021-04-19T19:04:05.751Z",
        "resourceType": resource_type,
    }
    if with_old_result:
        detail["oldEvaluationResult"] = {**detail["newEvaluationResult"], "complianceType": "COMPLIANT"}
    return {
        "version": "0",
        "id": "c0bb891c-77fe-8518-14fc-be78b966f95b",
        "detail-type": "Config Rules Compliance Change",
        "source": "aws.config",
        "account": account,
        "time": "2021-04-19T19:04:05Z",
        "region": region,
        "resources": [],
        "detail": detail,
    }


def automation_event(document: str, status: str, execution_id: str = "4105a4fc-f944-11e6-9d32-0a1b2c3d495e") -> dict[str, Any]:
    """An "EC2 Automation Execution Status-change Notification" event (AWS docs example shape)."""
    return {
        "version": "0",
        "id": "d290ece9-1d8a-48e3-a27e-4bea9f1a8bb0",
        "detail-type": "EC2 Automation Execution Status-change Notification",
        "source": "aws.ssm",
        "account": ACCOUNT,
        "time": "2016-11-29T19:43:35Z",
        "region": REGION,
        "resources": [f"arn:aws:ssm:{REGION}:{ACCOUNT}:automation-execution/{execution_id}"],
        "detail": {
            "ExecutionId": execution_id,
            "Definition": document,
            "DefinitionVersion": 1.0,
            "Status": status,
            "StartTime": "Nov 29, 2016 7:43:25 PM",
            "EndTime": "Nov 29, 2016 7:43:34 PM",
            "Time": 2630.0,
            "ExecutedBy": f"arn:aws:iam::{ACCOUNT}:user/userName",
        },
    }
