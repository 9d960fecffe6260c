"""scan says what s3-bucket-encryption means on real AWS: SSE-S3 everywhere already, SSE-KMS changes what readers need."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from governance.cli.main import main

ACCOUNT = "123456789012"  # moto's default account: the stack's own credentials


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[None]:
    with mock_aws():
        yield


def stack_file(tmp_path: Path, rule: dict[str, Any]) -> Path:
    path = tmp_path / "Pulumi.scan.yaml"
    config = {"governance:regions": ["us-east-1"], "governance:accounts": [{"id": ACCOUNT}], "governance:rules": {"s3-bucket-encryption": rule}}
    path.write_text(yaml.safe_dump({"config": config}))
    return path


def test_scan_with_sse_s3_says_every_bucket_already_has_it(aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--stack-file", str(stack_file(tmp_path, {"mode": "auto", "engine": "lambda"})), "--json"]) in (0, 1)
    captured = capsys.readouterr()
    assert "note: s3-bucket-encryption: on real AWS every bucket already has SSE-S3" in captured.err
    json.loads(captured.out or "[]")  # the note never mixes into the JSON output


def test_scan_with_sse_kms_shows_the_upgrade_and_the_reader_impact(aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key_arn = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="sse-s3-bucket")
    s3.put_bucket_encryption(Bucket="sse-s3-bucket", ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    path = stack_file(tmp_path, {"params": {"algorithm": "aws:kms", "kmsKeyArn": key_arn}})
    assert main(["scan", "--stack-file", str(path), "--json"]) == 1
    captured = capsys.readouterr()
    (finding,) = [f for f in json.loads(captured.out) if f["resourceId"] == "sse-s3-bucket"]
    assert finding["mode"] == "manual" and finding["config"] == "NON_COMPLIANT"
    assert "kms:Decrypt" in finding["summary"]
    assert "note: s3-bucket-encryption: moving a bucket to SSE-KMS changes new objects only" in captured.err
