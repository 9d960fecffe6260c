"""The emulated S3 behaves like AWS since 2023-01-05: every bucket has SSE-S3 default encryption, and deleting
it resets it to SSE-S3; in-process moto and the embedded emulator alike."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from governance import moto_fidelity
from governance.cli.emulator import embedded_emulator

SSE_S3 = [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}]
KMS_RULE = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"}, "BucketKeyEnabled": True}


@pytest.fixture
def in_process(aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("s3", region_name="us-east-1")


@pytest.fixture
def through_server(aws_credentials: None) -> Iterator[Any]:
    with embedded_emulator() as emulator:
        yield boto3.client("s3", region_name="us-east-1", endpoint_url=emulator.endpoint_url)


def rules(s3: Any, bucket: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    return found


@pytest.fixture(params=["in_process", "through_server"])
def s3(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(request.param)


def test_the_fidelity_is_installed_for_every_test() -> None:
    assert moto_fidelity.installed()


def test_a_new_bucket_has_sse_s3_default_encryption(s3: Any) -> None:
    s3.create_bucket(Bucket="new-bucket")
    assert rules(s3, "new-bucket") == SSE_S3


def test_a_bucket_in_another_region_has_it_too(s3: Any) -> None:
    s3.create_bucket(Bucket="eu-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert rules(s3, "eu-bucket") == SSE_S3


def test_deleting_default_encryption_resets_it_to_sse_s3(s3: Any) -> None:
    s3.create_bucket(Bucket="kms-bucket")
    s3.put_bucket_encryption(Bucket="kms-bucket", ServerSideEncryptionConfiguration={"Rules": [KMS_RULE]})
    assert rules(s3, "kms-bucket") == [KMS_RULE]
    s3.delete_bucket_encryption(Bucket="kms-bucket")
    assert rules(s3, "kms-bucket") == SSE_S3


def test_deleting_it_from_a_new_bucket_leaves_sse_s3(s3: Any) -> None:
    s3.create_bucket(Bucket="plain-bucket")
    s3.delete_bucket_encryption(Bucket="plain-bucket")
    assert rules(s3, "plain-bucket") == SSE_S3


def test_new_objects_are_encrypted_with_sse_s3(s3: Any) -> None:
    s3.create_bucket(Bucket="object-bucket")
    s3.put_object(Bucket="object-bucket", Key="k", Body=b"x")
    assert s3.head_object(Bucket="object-bucket", Key="k")["ServerSideEncryption"] == "AES256"


def test_buckets_never_share_one_configuration(in_process: Any) -> None:
    for name in ("first-bucket", "second-bucket"):
        in_process.create_bucket(Bucket=name)
    in_process.put_bucket_encryption(Bucket="first-bucket", ServerSideEncryptionConfiguration={"Rules": [KMS_RULE]})
    assert rules(in_process, "second-bucket") == SSE_S3


def test_uninstall_gives_moto_its_own_behaviour_back(in_process: Any) -> None:
    moto_fidelity.uninstall()
    try:
        in_process.create_bucket(Bucket="raw-moto-bucket")
        with pytest.raises(in_process.exceptions.ClientError, match="ServerSideEncryptionConfigurationNotFoundError"):
            in_process.get_bucket_encryption(Bucket="raw-moto-bucket")
    finally:
        moto_fidelity.install()
    in_process.create_bucket(Bucket="again-bucket")
    assert rules(in_process, "again-bucket") == SSE_S3


def test_an_embedded_emulator_starts_empty_whatever_an_earlier_one_left(aws_credentials: None) -> None:
    with embedded_emulator() as first:
        boto3.client("s3", region_name="us-east-1", endpoint_url=first.endpoint_url).create_bucket(Bucket="left-behind")
    with embedded_emulator() as second:
        assert boto3.client("s3", region_name="us-east-1", endpoint_url=second.endpoint_url).list_buckets()["Buckets"] == []
