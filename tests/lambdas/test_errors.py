"""Transient errors raise after botocore's retries; permanent ones become failure records."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError
from botocore.retries.bucket import TokenBucket
from conftest import FakeContext, compliance_event, rule_name
from error_codes import ACCESS_DENIED, THROTTLING
from faults import inject_error
from lambda_scenarios import SCENARIOS, Scenario
from remediation.clients import CLIENT_CONFIG, RETRY_ATTEMPTS
from remediation.handler import lambda_handler

SCENARIO = {scenario.key: scenario for scenario in SCENARIOS}

# The write each fixer makes first, and the error protocol of its service.
FIRST_WRITE = {
    "s3-bucket-encryption": ("s3", "PutBucketEncryption"),
    "s3-bucket-public-access": ("s3", "PutPublicAccessBlock"),
    "s3-account-public-access": ("s3control", "PutPublicAccessBlock"),
    "restricted-admin-ports": ("ec2", "RevokeSecurityGroupIngress"),
    "vpc-flow-logs": ("ec2", "CreateFlowLogs"),
    "cloudtrail-multi-region": ("cloudtrail", "UpdateTrail"),
    "cloudtrail-log-validation": ("cloudtrail", "UpdateTrail"),
    "s3-bucket-versioning": ("s3", "PutBucketVersioning"),
    "s3-ssl-only": ("s3", "PutBucketPolicy"),
    "sqs-queue-public": ("sqs", "SetQueueAttributes"),
    "sns-topic-public": ("sns", "SetTopicAttributes"),
    "ebs-snapshot-public": ("ec2", "ModifySnapshotAttribute"),
    "ebs-default-encryption": ("ec2", "EnableEbsEncryptionByDefault"),
    "kms-key-rotation": ("kms", "EnableKeyRotation"),
    "default-security-group-closed": ("ec2", "RevokeSecurityGroupIngress"),
    "ec2-imdsv2": ("ec2", "ModifyInstanceMetadataOptions"),
    "log-group-retention": ("logs", "PutRetentionPolicy"),
    "rds-public-access": ("rds", "ModifyDBInstance"),
    "ecr-scan-on-push": ("ecr", "PutImageScanningConfiguration"),
    "lambda-public-access": ("lambda", "RemovePermission"),
    "rds-snapshot-public": ("rds", "ModifyDBSnapshotAttribute"),
    "ssm-document-public": ("ssm", "ModifyDocumentPermission"),
    "iam-password-policy": ("iam", "UpdateAccountPasswordPolicy"),
    "iam-unused-credentials": ("iam", "UpdateAccessKey"),
    "guardduty-enabled": ("guardduty", "CreateDetector"),
}


def run(scenario: Scenario, resource_id: str) -> dict:
    return lambda_handler(compliance_event(rule_name(scenario.key), scenario.resource_type, resource_id), FakeContext())


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Botocore's retry backoff and adaptive rate limiter wait; the tests only need to see that it retried."""
    monkeypatch.setattr(time, "sleep", lambda _seconds: None)
    monkeypatch.setattr(TokenBucket, "acquire", lambda self, amount=1, block=True: True)


def test_clients_use_adaptive_retries() -> None:
    assert CLIENT_CONFIG.retries is not None
    assert CLIENT_CONFIG.retries["mode"] == "adaptive"
    assert CLIENT_CONFIG.retries.get("total_max_attempts", CLIENT_CONFIG.retries.get("max_attempts", 0) + 1) == 1 + RETRY_ATTEMPTS


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_throttling_raises_after_retries_and_logs_an_attempt(scenario: Scenario, no_backoff, capsys) -> None:
    resource_id = scenario.make_non_compliant()
    service, operation = FIRST_WRITE[scenario.key]
    code, status = THROTTLING[service]
    hits = inject_error(service, operation, code, status)
    with pytest.raises(ClientError) as raised:
        run(scenario, resource_id)
    assert raised.value.response["Error"]["Code"] == code
    assert len(hits) == 1 + RETRY_ATTEMPTS, "botocore retried before raising"
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 1
    assert (lines[0]["final"], lines[0]["level"], lines[0]["decision"]) == (False, "warning", "failed")
    assert code in lines[0]["reason"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_access_denied_is_a_failure_record_without_raising(scenario: Scenario) -> None:
    resource_id = scenario.make_non_compliant()
    service, operation = FIRST_WRITE[scenario.key]
    inject_error(service, operation, ACCESS_DENIED[service], 403)
    record = run(scenario, resource_id)
    assert (record["decision"], record["level"], record["final"]) == ("failed", "error", True)
    assert ACCESS_DENIED[service] in record["reason"]
    assert record["apiCalls"][-1]["outcome"] == ACCESS_DENIED[service]
    assert not scenario.is_fixed(resource_id)


def test_a_retry_after_a_transient_error_produces_the_final_record(no_backoff) -> None:
    scenario = SCENARIO["s3-bucket-encryption"]
    bucket = scenario.make_non_compliant()
    inject_error("s3", "PutBucketEncryption", "SlowDown", 503, times=1 + RETRY_ATTEMPTS)
    with pytest.raises(ClientError):
        run(scenario, bucket)
    record = run(scenario, bucket)
    assert (record["decision"], record["final"]) == ("remediated", True)


TAG_READS = {
    "s3-bucket-encryption": ("s3", "GetBucketTagging", "AccessDenied"),
    "s3-bucket-public-access": ("s3", "GetBucketTagging", "AccessDenied"),
    "vpc-flow-logs": ("ec2", "DescribeVpcs", "UnauthorizedOperation"),
    "cloudtrail-multi-region": ("cloudtrail", "ListTags", "AccessDeniedException"),
    "cloudtrail-log-validation": ("cloudtrail", "ListTags", "AccessDeniedException"),
    "s3-bucket-versioning": ("s3", "GetBucketTagging", "AccessDenied"),
    "s3-ssl-only": ("s3", "GetBucketTagging", "AccessDenied"),
    "sqs-queue-public": ("sqs", "ListQueueTags", "AccessDenied"),
    "sns-topic-public": ("sns", "ListTagsForResource", "AuthorizationError"),
    "ebs-snapshot-public": ("ec2", "DescribeTags", "UnauthorizedOperation"),
    "kms-key-rotation": ("kms", "ListResourceTags", "AccessDeniedException"),
    "log-group-retention": ("logs", "ListTagsForResource", "AccessDeniedException"),
    "rds-public-access": ("rds", "ListTagsForResource", "AccessDenied"),
    "ecr-scan-on-push": ("ecr", "ListTagsForResource", "AccessDeniedException"),
    "lambda-public-access": ("lambda", "ListTags", "AccessDeniedException"),
    "rds-snapshot-public": ("rds", "ListTagsForResource", "AccessDenied"),
    "ssm-document-public": ("ssm", "ListTagsForResource", "AccessDeniedException"),
    "iam-unused-credentials": ("iam", "ListUserTags", "AccessDenied"),
}


@pytest.mark.parametrize("key", list(TAG_READS))
def test_unreadable_tags_fail_closed(key: str, requests) -> None:
    scenario = SCENARIO[key]
    resource_id = scenario.make_non_compliant()
    service, operation, code = TAG_READS[key]
    inject_error(service, operation, code, 403)
    record = run(scenario, resource_id)
    assert record["decision"] == "failed"
    assert "exemptions fail closed" in record["reason"]
    assert requests.writes() == []
    assert not scenario.is_fixed(resource_id)


def test_a_verification_that_never_confirms_is_a_failure(monkeypatch) -> None:
    from remediation.fixers import s3_bucket_encryption

    scenario = SCENARIO["s3-bucket-encryption"]
    bucket = scenario.make_non_compliant()
    monkeypatch.setattr(s3_bucket_encryption, "apply", lambda _target, change, _params: change)
    record = run(scenario, bucket)
    assert record["decision"] == "failed"
    assert "still reads as non-compliant" in record["reason"]
    assert [call["operation"] for call in record["apiCalls"]].count("GetBucketEncryption") == 4


def test_an_internal_defect_is_a_failure_record_not_a_crash(monkeypatch) -> None:
    from remediation.fixers import s3_bucket_encryption

    def broken(_state, _params):
        raise KeyError("surprise")

    monkeypatch.setattr(s3_bucket_encryption, "plan", broken)
    scenario = SCENARIO["s3-bucket-encryption"]
    record = run(scenario, scenario.make_non_compliant())
    assert record["decision"] == "failed"
    assert "internal error" in record["reason"]
