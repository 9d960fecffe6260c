"""The s3-bucket-encryption fixer with aws:kms: SSE-S3 buckets move to the configured key with bucket key on,
other KMS keys are never swapped, readers are warned, and an unusable key is never written."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from conftest import ACCOUNT, REGION, FakeContext, compliance_event, rule_entry, rule_name
from remediation.fixers import s3_bucket_encryption
from remediation.fixers.base import NoAction, Plan
from remediation.fixers.s3_bucket_encryption import EncryptionState, Params
from remediation.handler import lambda_handler

KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
OTHER_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/99999999-2222-3333-4444-555555555555"
KMS = Params("aws:kms", KEY_ARN)
SSE_S3_RULE = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}
BUCKET = "kms-upgrade-bucket"


def kms_rule(algorithm: str, key: str | None) -> dict[str, Any]:
    default: dict[str, Any] = {"SSEAlgorithm": algorithm}
    if key:
        default["KMSMasterKeyID"] = key
    return {"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": False}


# --- the pure plan -------------------------------------------------------------------------------


def test_an_sse_s3_bucket_is_upgraded_to_the_key_with_bucket_key_on() -> None:
    result = s3_bucket_encryption.plan(EncryptionState(BUCKET, (SSE_S3_RULE,)), KMS)
    assert isinstance(result, Plan)
    (call,) = result.calls
    assert call.operation == "PutBucketEncryption"
    assert call.params["ServerSideEncryptionConfiguration"] == {
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ARN}, "BucketKeyEnabled": True}]
    }
    (undo,) = result.undo
    assert undo.operation == "PutBucketEncryption"
    assert undo.params["ServerSideEncryptionConfiguration"] == {"Rules": [SSE_S3_RULE]}


def test_the_plan_warns_readers_in_summary_narrowing_and_detail() -> None:
    result = s3_bucket_encryption.plan(EncryptionState(BUCKET, (SSE_S3_RULE,)), KMS)
    assert isinstance(result, Plan)
    for text in (result.summary, result.narrowing[0], result.detail["readerImpact"]):
        assert "Existing objects keep their current encryption" in text
        assert "kms:Decrypt on that key" in text and KEY_ARN in text
    assert "bucket key" in result.detail["bucketKey"] and "KMS request costs" in result.detail["bucketKey"]


@pytest.mark.parametrize(
    "rule",
    [
        kms_rule("aws:kms", KEY_ARN),
        kms_rule("aws:kms", KEY_ARN.rsplit("/", 1)[1]),
        kms_rule("aws:kms:dsse", KEY_ARN),
    ],
    ids=["the key", "the key by id", "DSSE-KMS with the key"],
)
def test_a_bucket_on_the_configured_key_is_compliant(rule: dict[str, Any]) -> None:
    assert s3_bucket_encryption.plan(EncryptionState(BUCKET, (rule,)), KMS) is None


@pytest.mark.parametrize(
    ("rule", "named"),
    [
        (kms_rule("aws:kms", OTHER_KEY_ARN), OTHER_KEY_ARN),
        (kms_rule("aws:kms", None), "aws/s3"),
        (kms_rule("aws:kms:dsse", OTHER_KEY_ARN), "aws:kms:dsse"),
        (kms_rule("aws:kms", "alias/data"), "alias/data"),
    ],
    ids=["another key", "the AWS managed key", "DSSE-KMS with another key", "an alias"],
)
def test_one_kms_key_is_never_swapped_for_another(rule: dict[str, Any], named: str) -> None:
    result = s3_bucket_encryption.plan(EncryptionState(BUCKET, (rule,)), KMS)
    assert isinstance(result, NoAction)
    assert result.decision == "failed"
    assert named in result.reason and "not switched" in result.reason


def test_sse_s3_params_never_touch_an_encrypted_bucket() -> None:
    for rule in (SSE_S3_RULE, kms_rule("aws:kms", OTHER_KEY_ARN)):
        assert s3_bucket_encryption.plan(EncryptionState(BUCKET, (rule,)), Params("AES256", None)) is None


# --- through the handler, against moto -----------------------------------------------------------


def run() -> dict[str, Any]:
    return lambda_handler(compliance_event(rule_name("s3-bucket-encryption"), "AWS::S3::Bucket", BUCKET), FakeContext())


def sse_s3_bucket() -> Any:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    # On AWS every bucket starts like this; written explicitly so the test does not depend on the emulator.
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    return s3


def rules_of(s3: Any) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    return rules


def deploy_kms(deploy: Any, key_arn: str, mode: str = "auto") -> None:
    deploy(rules={"s3-bucket-encryption": rule_entry({"algorithm": "aws:kms", "kmsKeyArn": key_arn}, mode)})


def test_auto_mode_moves_the_bucket_to_the_key_and_records_the_reader_impact(deploy, requests) -> None:
    key_arn = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    deploy_kms(deploy, key_arn)
    s3 = sse_s3_bucket()
    requests.clear()
    record = run()
    assert record["decision"] == "remediated", record["reason"]
    assert record["level"] == "warning"
    assert any("kms:Decrypt" in line for line in record["narrowing"])
    (rule,) = rules_of(s3)
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
    assert rule["BucketKeyEnabled"] is True
    assert requests.operations() == ["GetBucketEncryption", "GetBucketTagging", "DescribeKey", "PutBucketEncryption", "GetBucketEncryption"]


def test_manual_mode_records_the_upgrade_and_changes_nothing(deploy) -> None:
    key_arn = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    deploy_kms(deploy, key_arn, mode="manual")
    s3 = sse_s3_bucket()
    record = run()
    assert record["decision"] == "dry_run"
    assert "kms:Decrypt" in record["reason"]
    assert rules_of(s3)[0]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}


def test_a_bucket_on_another_key_is_left_alone_with_the_reason(deploy, requests) -> None:
    key_arn = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    deploy_kms(deploy, key_arn)
    s3 = sse_s3_bucket()
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={"Rules": [kms_rule("aws:kms", OTHER_KEY_ARN)]})
    record = run()
    assert record["decision"] == "failed"
    assert OTHER_KEY_ARN in record["reason"]
    assert requests.writes() == []
    assert rules_of(s3)[0]["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == OTHER_KEY_ARN


def _disabled_key() -> str:
    kms = boto3.client("kms")
    metadata = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=metadata["KeyId"])
    return str(metadata["Arn"])


def _asymmetric_key() -> str:
    arn: str = boto3.client("kms").create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"]
    return arn


def _missing_key() -> str:
    return KEY_ARN


def _key_in_another_region() -> str:
    arn: str = boto3.client("kms", region_name="eu-west-1").create_key()["KeyMetadata"]["Arn"]
    return arn


@pytest.mark.parametrize(
    ("make_key", "said"),
    [
        (_disabled_key, "its state is Disabled"),
        (_asymmetric_key, "not a symmetric encryption key"),
        (_missing_key, "cannot be used"),
        (_key_in_another_region, "is in eu-west-1, but the bucket is in us-east-1"),
    ],
    ids=["disabled", "asymmetric", "missing", "other region"],
)
def test_a_key_s3_could_not_use_is_never_written(make_key: Any, said: str, deploy, requests) -> None:
    deploy_kms(deploy, make_key())
    s3 = sse_s3_bucket()
    requests.clear()
    record = run()
    assert record["decision"] == "failed"
    assert said in record["reason"]
    assert "PutBucketEncryption" not in requests.operations()
    assert rules_of(s3)[0]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}


def test_the_deployed_config_names_the_key_kms_key_arn(deploy) -> None:
    deploy(rules={"s3-bucket-encryption": rule_entry({"algorithm": "aws:kms", "kmsKeyId": KEY_ARN})})
    sse_s3_bucket()
    record = run()
    assert record["decision"] == "ignored"
