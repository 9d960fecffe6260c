"""``smoke`` on the emulator, with the remediation driven as in ``demo``: event -> handler -> log group."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from contextlib import redirect_stdout
from typing import Any

import boto3
import pytest
from moto import mock_aws

from governance.cli.demo import FunctionContext, compliance_event
from governance.cli.smoke import SMOKE_TAG, TestResource, choose, run_smoke
from governance.lambda_code import lambda_module
from governance.plan import plan_account
from governance.settings import load_settings

ACCOUNT = "123456789012"
LOG_GROUP = "/aws/lambda/governance-remediation"


def settings_with(mode: str) -> Any:
    return load_settings({
        "regions": ["us-east-1"],
        "accounts": [{"id": ACCOUNT}],
        "rules": {key: {"mode": mode, "engine": "lambda"} for key in ("restricted-admin-ports", "s3-bucket-public-access", "vpc-flow-logs")},
    })


@pytest.fixture
def aws(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    with mock_aws():
        logs = boto3.client("logs", region_name="us-east-1")
        logs.create_log_group(logGroupName=LOG_GROUP)
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName="smoke")
        lambda_module("clients").forget_clients()
        yield boto3.Session(region_name="us-east-1")
        lambda_module("clients").forget_clients()


def deployed_remediation(settings: Any, session: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> Any:
    """What Config + EventBridge + the Lambda do after the resource appears, delivered in-process."""
    region = plan_account(settings, settings.accounts[0]).regions[0]
    monkeypatch.setenv("GOVERNANCE_CONFIG", region.lambda_config_json())

    def remediate(resource: TestResource) -> None:
        event = compliance_event(ACCOUNT, "us-east-1", f"governance-{resource.rule_key}", resource.resource_type, resource.resource_id, "NON_COMPLIANT")
        logged = io.StringIO()
        with lambda_module("clients").using_session(session), redirect_stdout(logged):
            lambda_module("handler").lambda_handler(event, FunctionContext(ACCOUNT, "us-east-1", "governance-remediation"))
        session.client("logs").put_log_events(
            logGroupName=LOG_GROUP, logStreamName="smoke",
            logEvents=[{"timestamp": int(time.time() * 1000) + index, "message": line} for index, line in enumerate(logged.getvalue().splitlines())],
        )

    return remediate


@pytest.mark.parametrize("rule", ["restricted-admin-ports", "s3-bucket-public-access", "vpc-flow-logs"])
def test_smoke_reports_the_fix_and_its_record_and_cleans_up(rule: str, aws: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_with("auto")
    account, region = choose(settings, rule, None, None)
    driver = deployed_remediation(settings, aws, monkeypatch)
    result = run_smoke(settings, aws, account, region, rule, timeout=5, poll=0.1, after_create=driver)
    assert result.remediated and result.seconds is not None, result.problems
    assert result.record is not None and result.record["decision"] == "remediated"
    assert result.record["resourceId"] == result.resource_id
    assert result.cleaned_up and result.problems == []
    ec2, s3 = aws.client("ec2"), aws.client("s3")
    assert not ec2.describe_security_groups(Filters=[{"Name": f"tag:{SMOKE_TAG}", "Values": ["*"]}])["SecurityGroups"]
    assert not ec2.describe_vpcs(Filters=[{"Name": f"tag:{SMOKE_TAG}", "Values": ["*"]}])["Vpcs"]
    assert not [b for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("governance-smoke-")]
    reported = json.loads(json.dumps(result.to_json()))
    assert reported["rule"] == rule and reported["resourceId"] == result.resource_id
    assert reported["remediated"] is True and reported["cleanedUp"] is True and reported["problems"] == []
    assert reported["record"]["recordId"] == result.record["recordId"] and reported["record"]["decision"] == "remediated"
    assert isinstance(reported["secondsToRemediate"], float) and reported["secondsToRemediate"] >= 0


def test_smoke_times_out_cleanly_and_still_cleans_up(aws: boto3.Session) -> None:
    settings = settings_with("auto")
    account, region = choose(settings, "restricted-admin-ports", None, None)
    result = run_smoke(settings, aws, account, region, "restricted-admin-ports", timeout=0.3, poll=0.1)
    assert not result.remediated
    assert "not remediated within 0 s" in result.problems[0]
    assert result.cleaned_up
    assert not aws.client("ec2").describe_security_groups(Filters=[{"Name": f"tag:{SMOKE_TAG}", "Values": ["*"]}])["SecurityGroups"]


def test_smoke_refuses_rules_it_cannot_test_and_rules_not_in_auto() -> None:
    with pytest.raises(ValueError, match="--rule must be one of"):
        choose(settings_with("auto"), "s3-account-public-access", None, None)
    with pytest.raises(ValueError, match="is manual in account 123456789012: smoke needs it in auto mode"):
        choose(settings_with("manual"), "restricted-admin-ports", None, None)
    with pytest.raises(ValueError, match="--region eu-west-1 is not a region"):
        choose(settings_with("auto"), "restricted-admin-ports", None, "eu-west-1")
