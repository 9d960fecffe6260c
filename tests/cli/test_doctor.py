"""``doctor`` against the emulator: each check passes when the account is ready and fails with the fix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from moto import mock_aws

from governance.cli.doctor import run_doctor
from governance.cli.main import main
from governance.cli.sessions import AccountSessions
from governance.settings import load_settings
from tests.cli.aws_faults import Faults, faults  # noqa: F401

ACCOUNT = "111111111111"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/governance-deploy"


def settings_for(**rules: Any) -> Any:
    return load_settings({
        "regions": ["us-east-1"],
        "accounts": [{"id": ACCOUNT, "roleArn": ROLE}],
        "rules": rules,
    })


@pytest.fixture
def emulator(aws_credentials: None) -> Iterator[AccountSessions]:
    with mock_aws():
        yield AccountSessions()


def ready_account(sessions: AccountSessions, resource_types: list[str] | None = None) -> None:
    account = settings_for().accounts[0]
    session = sessions.session(account)
    config = session.client("config", region_name="us-east-1")
    group = {"allSupported": True} if resource_types is None else {"allSupported": False, "resourceTypes": resource_types}
    config.put_configuration_recorder(ConfigurationRecorder={"name": "default", "roleARN": f"arn:aws:iam::{ACCOUNT}:role/config", "recordingGroup": group})
    session.client("s3", region_name="us-east-1").create_bucket(Bucket="config-bucket-111111111111")
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "config-bucket-111111111111"})
    config.start_configuration_recorder(ConfigurationRecorderName="default")


def by_check(results: list[Any]) -> dict[str, Any]:
    return {result.check: result for result in results}


def test_a_ready_account_passes_every_check(emulator: AccountSessions) -> None:
    ready_account(emulator)
    results = run_doctor(settings_for(**{"s3-bucket-encryption": {"mode": "auto"}}), emulator)
    assert [result.check for result in results] == [
        "deploy role can be assumed", "Config recorder records the rules' resource types", "Config delivery channel exists",
    ]
    assert all(result.passed for result in results), results


def test_a_missing_recorder_fails_with_the_fix(emulator: AccountSessions) -> None:
    results = by_check(run_doctor(settings_for(**{"s3-bucket-encryption": {"mode": "auto"}}), emulator))
    recorder = results["Config recorder records the rules' resource types"]
    assert not recorder.passed
    assert recorder.detail == "no configuration recorder"
    assert "turn on AWS Config in us-east-1 recording AWS::S3::Bucket" in recorder.fix
    assert not results["Config delivery channel exists"].passed


def test_a_recorder_missing_a_rule_type_fails(emulator: AccountSessions) -> None:
    ready_account(emulator, resource_types=["AWS::S3::Bucket"])
    results = by_check(run_doctor(settings_for(**{"restricted-admin-ports": {"mode": "auto"}, "s3-bucket-encryption": {"mode": "detect"}}), emulator))
    recorder = results["Config recorder records the rules' resource types"]
    assert not recorder.passed and recorder.detail == "not recorded: AWS::EC2::SecurityGroup"


def test_security_hub_and_destinations_are_checked_when_used(emulator: AccountSessions) -> None:
    ready_account(emulator)
    settings = load_settings({
        "regions": ["us-east-1"],
        "accounts": [{"id": ACCOUNT, "roleArn": ROLE}],
        "securityHubUpdates": True,
        "rules": {
            "vpc-flow-logs": {"mode": "auto", "params": {"destinationType": "s3", "s3BucketArn": "arn:aws:s3:::flow-logs-bucket/vpc"}},
            "cloudtrail-multi-region": {"mode": "auto", "params": {"s3BucketName": "trail-bucket-111"}},
        },
    })
    results = by_check(run_doctor(settings, emulator))
    assert not results["Security Hub is enabled"].passed
    assert not results["flow-log bucket exists"].passed
    assert results["flow-log bucket exists"].detail.startswith("s3://flow-logs-bucket:")
    assert not results["trail bucket exists"].passed
    account = settings.accounts[0]
    emulator.client(account, "securityhub", "us-east-1").enable_security_hub()
    emulator.client(account, "s3", "us-east-1").create_bucket(Bucket="flow-logs-bucket")
    emulator.client(account, "s3", "us-east-1").create_bucket(Bucket="trail-bucket-111")
    assert all(result.passed for result in run_doctor(settings, emulator))


def test_a_bucket_that_refuses_the_role_is_not_told_to_be_created(emulator: AccountSessions, faults: Faults) -> None:  # noqa: F811
    ready_account(emulator)
    settings = load_settings({
        "regions": ["us-east-1"],
        "accounts": [{"id": ACCOUNT, "roleArn": ROLE}],
        "rules": {"cloudtrail-multi-region": {"mode": "auto", "params": {"s3BucketName": "org-trail-archive"}}},
    })
    # S3 answers a HeadBucket it refuses with a bare 403, as for a bucket of another account.
    faults.fail("403", lambda call: call.operation == "HeadBucket")

    trail = by_check(run_doctor(settings, emulator))["trail bucket exists"]

    assert not trail.passed and trail.detail.startswith("s3://org-trail-archive: 403")
    assert trail.fix.startswith("this role may not list it, so this check cannot tell whether s3://org-trail-archive exists")


def test_cli_exit_codes_and_json(emulator: AccountSessions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    stack = {"config": {"governance:regions": ["us-east-1"], "governance:accounts": [{"id": ACCOUNT, "roleArn": ROLE}],
                        "governance:rules": {"s3-bucket-encryption": {"mode": "auto"}}}}
    (tmp_path / "Pulumi.test.yaml").write_text(yaml.safe_dump(stack))
    monkeypatch.setattr("governance.stack_file.PROJECT_DIR", tmp_path)
    assert main(["doctor", "--stack", "test", "--json"]) == 1
    checks = json.loads(capsys.readouterr().out)
    assert {check["check"]: check["passed"] for check in checks}["deploy role can be assumed"] is True
    ready_account(emulator)
    assert main(["doctor", "--stack", "test"]) == 0
    assert main(["doctor", "--stack", "nope"]) == 2
    assert "--stack nope has no Pulumi.nope.yaml; stacks here: test." in capsys.readouterr().err


def test_bad_config_is_reported_before_any_aws_call(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump({"config": {"governance:accounts": [{"id": 12}]}}))
    monkeypatch.setattr("governance.stack_file.PROJECT_DIR", tmp_path)
    monkeypatch.setattr("governance.cli.main.AccountSessions", lambda: pytest.fail("no AWS session may be created"))
    assert main(["doctor", "--stack", "bad"]) == 2
    assert "governance:accounts[0].id must be a 12-digit account id string" in capsys.readouterr().err


@pytest.mark.parametrize(("rule", "resource_type"), [("vpc-flow-logs", "AWS::EC2::VPC"), ("cloudtrail-log-validation", "AWS::CloudTrail::Trail")])
def test_a_periodic_rules_evaluated_type_must_be_recorded(emulator: AccountSessions, rule: str, resource_type: str) -> None:
    # Periodic-only rules take no scope, yet their evaluations and compliance events are of a recorded type.
    ready_account(emulator, ["AWS::S3::Bucket"])
    recorder = by_check(run_doctor(settings_for(**{rule: {"mode": "auto", "engine": "lambda"}}), emulator))["Config recorder records the rules' resource types"]
    assert not recorder.passed
    assert resource_type in recorder.detail + recorder.fix
