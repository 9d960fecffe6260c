"""The S3 fixers' plans written out by hand and checked exactly: requests, undo, detail and sentences.

The never-weaker properties say what a plan may not do; these pin what it does, so that a flag
left out of a request, an undo that restores less than was read, or a refusal that names the
wrong key cannot pass unnoticed.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber
from remediation import clients
from remediation.fixers import s3_account_public_access, s3_bucket_encryption, s3_bucket_public_access
from remediation.fixers.base import ApiCall, NoAction, NotRemediable, Plan
from remediation.fixers.s3_bucket_encryption import BUCKET_KEY_REASON, READER_IMPACT, EncryptionState
from remediation.fixers.s3_bucket_public_access import PublicAccessState

BUCKET = "example-bucket"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY = "arn:aws:kms:us-east-1:123456789012:key/0000abcd-12ab-34cd-56ef-1234567890ab"
SSE_S3 = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}
AES256 = s3_bucket_encryption.Params("AES256", None)
KMS = s3_bucket_encryption.Params("aws:kms", KEY)
FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def kms_rule(key: str | None, algorithm: str = "aws:kms") -> dict[str, Any]:
    default: dict[str, Any] = {"SSEAlgorithm": algorithm} | ({"KMSMasterKeyID": key} if key else {})
    return {"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": True}


def put_encryption(rules: list[dict[str, Any]]) -> ApiCall:
    return ApiCall("s3", "PutBucketEncryption", {"Bucket": BUCKET, "ServerSideEncryptionConfiguration": {"Rules": rules}})


def test_sse_s3_is_set_where_no_algorithm_is_and_undone_by_deleting_the_configuration() -> None:
    change = s3_bucket_encryption.plan(EncryptionState(BUCKET, ()), AES256)
    configuration = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    assert change == Plan(
        "Set default encryption to SSE-S3 (AES256)",
        (ApiCall("s3", "PutBucketEncryption", {"Bucket": BUCKET, "ServerSideEncryptionConfiguration": configuration}),),
        (ApiCall("s3", "DeleteBucketEncryption", {"Bucket": BUCKET}),),
        {"set": configuration},
    )


def test_a_rule_without_an_algorithm_is_restored_exactly_as_read() -> None:
    only_bucket_key = {"BucketKeyEnabled": True}
    change = s3_bucket_encryption.plan(EncryptionState(BUCKET, (only_bucket_key,)), AES256)
    assert isinstance(change, Plan)
    assert change.undo == (put_encryption([only_bucket_key]),)


@pytest.mark.parametrize("rules", [(SSE_S3,), (kms_rule(OTHER_KEY),), (kms_rule(None, "aws:kms:dsse"),)])
def test_any_algorithm_satisfies_sse_s3(rules: tuple[dict[str, Any], ...]) -> None:
    assert s3_bucket_encryption.plan(EncryptionState(BUCKET, rules), AES256) is None


@pytest.mark.parametrize(("rules", "was"), [((SSE_S3,), "AES256"), ((), "none"), ((SSE_S3, SSE_S3), "AES256 and AES256")])
def test_sse_s3_or_nothing_moves_to_the_configured_key_with_bucket_key_on(rules: tuple[dict[str, Any], ...], was: str) -> None:
    impact = READER_IMPACT.format(key=KEY)
    configuration = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY}, "BucketKeyEnabled": True}]}
    assert s3_bucket_encryption.plan(EncryptionState(BUCKET, rules), KMS) == Plan(
        f"Move default encryption from {was} to SSE-KMS with key {KEY} and bucket key on. {impact}",
        (ApiCall("s3", "PutBucketEncryption", {"Bucket": BUCKET, "ServerSideEncryptionConfiguration": configuration}),),
        (put_encryption(list(rules)),) if rules else (ApiCall("s3", "DeleteBucketEncryption", {"Bucket": BUCKET}),),
        {"set": configuration, "bucketKey": BUCKET_KEY_REASON, "readerImpact": f"{impact}."},
        (f"{impact}.",),
    )


@pytest.mark.parametrize(
    "rules",
    [
        (kms_rule(KEY),),
        (kms_rule("1234abcd-12ab-34cd-56ef-1234567890ab"),),
        (kms_rule(KEY, "aws:kms:dsse"),),
        (SSE_S3, kms_rule(KEY)),
    ],
)
def test_the_configured_key_by_arn_or_id_is_compliant(rules: tuple[dict[str, Any], ...]) -> None:
    assert s3_bucket_encryption.plan(EncryptionState(BUCKET, rules), KMS) is None


@pytest.mark.parametrize(
    ("rule", "current"),
    [
        (kms_rule(OTHER_KEY), f"aws:kms with key {OTHER_KEY}"),
        (kms_rule(None), "aws:kms with the AWS managed key aws/s3"),
        (kms_rule("alias/my-key", "aws:kms:dsse"), "aws:kms:dsse with key alias/my-key"),
    ],
)
def test_another_kms_key_is_never_replaced(rule: dict[str, Any], current: str) -> None:
    assert s3_bucket_encryption.plan(EncryptionState(BUCKET, (SSE_S3, rule)), KMS) == NoAction(
        "failed",
        f"the bucket already uses {current}; it is not switched to {KEY}, because readers that hold only "
        "the current key would lose access to new objects (change it by hand, or exempt the bucket)",
    )


def test_the_algorithms_and_kms_keys_of_a_configuration_are_read_rule_by_rule() -> None:
    state = EncryptionState(BUCKET, (SSE_S3, {"BucketKeyEnabled": True}, kms_rule(KEY), kms_rule(None, "aws:kms:dsse"), {"ApplyServerSideEncryptionByDefault": "x"}))
    assert state.algorithms == ("AES256", "aws:kms", "aws:kms:dsse")
    assert state.kms_keys == (("aws:kms", KEY), ("aws:kms:dsse", None))


@pytest.mark.parametrize(
    ("configuration", "turned_on", "undo"),
    [
        (None, list(FLAGS), ApiCall("s3", "DeletePublicAccessBlock", {"Bucket": BUCKET})),
        (
            {"BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": True, "RestrictPublicBuckets": False},
            ["IgnorePublicAcls", "RestrictPublicBuckets"],
            ApiCall("s3", "PutPublicAccessBlock", {"Bucket": BUCKET, "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": True, "RestrictPublicBuckets": False,
            }}),
        ),
    ],
)
def test_bucket_public_access_turns_every_flag_on_and_restores_what_it_read(configuration: Any, turned_on: list[str], undo: ApiCall) -> None:
    change = s3_bucket_public_access.plan(PublicAccessState(BUCKET, configuration), s3_bucket_public_access.Params(frozenset()))
    assert change == Plan(
        f"Turn on bucket-level Block Public Access flags {', '.join(turned_on)}",
        (ApiCall("s3", "PutPublicAccessBlock", {"Bucket": BUCKET, "PublicAccessBlockConfiguration": dict.fromkeys(FLAGS, True)}),),
        (undo,),
        {"turnedOn": turned_on},
    )


def test_a_bucket_public_on_purpose_is_left_alone_and_a_fully_blocked_one_is_compliant() -> None:
    params = s3_bucket_public_access.Params(frozenset({BUCKET}))
    assert s3_bucket_public_access.plan(PublicAccessState(BUCKET, None), params) == NoAction("exempt", "the bucket is listed in params.excludedPublicBuckets")
    assert s3_bucket_public_access.plan(PublicAccessState(BUCKET, dict.fromkeys(FLAGS, True)), s3_bucket_public_access.Params(frozenset())) is None
    assert PublicAccessState(BUCKET, dict.fromkeys(FLAGS, True)).all_on
    assert not PublicAccessState(BUCKET, {**dict.fromkeys(FLAGS, True), "RestrictPublicBuckets": False}).all_on
    assert not PublicAccessState(BUCKET, dict.fromkeys(FLAGS[:3], True)).all_on
    assert not PublicAccessState(BUCKET, None).all_on


def test_account_public_access_addresses_the_account_through_s3control() -> None:
    change = s3_account_public_access.plan(PublicAccessState("123456789012", {"BlockPublicAcls": True}), s3_account_public_access.Params())
    assert change == Plan(
        "Turn on account-level Block Public Access flags IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets",
        (ApiCall("s3control", "PutPublicAccessBlock", {"AccountId": "123456789012", "PublicAccessBlockConfiguration": dict.fromkeys(FLAGS, True)}),),
        (ApiCall("s3control", "PutPublicAccessBlock", {"AccountId": "123456789012", "PublicAccessBlockConfiguration": {"BlockPublicAcls": True}}),),
        {"turnedOn": ["IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"]},
    )
    assert s3_account_public_access.plan(PublicAccessState("123456789012", dict.fromkeys(FLAGS, True)), s3_account_public_access.Params()) is None


def test_states_are_recorded_in_the_shape_undo_reads_back() -> None:
    assert EncryptionState(BUCKET, (SSE_S3,)).to_json() == {"bucket": BUCKET, "rules": [SSE_S3]}
    assert EncryptionState.from_json(EncryptionState(BUCKET, (SSE_S3,)).to_json()) == EncryptionState(BUCKET, (SSE_S3,))
    assert PublicAccessState(BUCKET, {"BlockPublicAcls": True}).to_json() == {"owner": BUCKET, "publicAccessBlock": {"BlockPublicAcls": True}}
    assert PublicAccessState("123456789012", None).to_json() == {"owner": "123456789012", "publicAccessBlock": None}


def _describe_key(response: dict[str, Any] | None = None, error: str | None = None) -> Stubber:
    stubber = Stubber(clients.client("kms"))
    if error:
        stubber.add_client_error("describe_key", error, "the key says no", 400, expected_params={"KeyId": KEY})
    else:
        stubber.add_response("describe_key", {"KeyMetadata": {"KeyId": KEY.rsplit("/", 1)[-1], **(response or {})}}, {"KeyId": KEY})
    return stubber


@pytest.mark.parametrize("code", ["NotFoundException", "AccessDeniedException", "InvalidArnException"])
def test_a_key_that_cannot_be_described_is_not_used(code: str) -> None:
    with _describe_key(error=code), pytest.raises(NotRemediable) as refused:
        s3_bucket_encryption.check_key_usable(KEY, "us-east-1")
    assert str(refused.value) == f"params.kmsKeyArn cannot be used ({code}: the key says no)"


@pytest.mark.parametrize(
    ("metadata", "problem"),
    [
        ({"KeyState": "Enabled", "KeySpec": "SYMMETRIC_DEFAULT"}, None),
        ({"KeyState": "Enabled", "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT"}, None),
        ({"KeyState": "Enabled", "KeySpec": "RSA_2048", "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT"}, "it is not a symmetric encryption key"),
        ({"KeyState": "Enabled", "CustomerMasterKeySpec": "HMAC_256"}, "it is not a symmetric encryption key"),
        ({"KeyState": "PendingDeletion", "KeySpec": "SYMMETRIC_DEFAULT"}, "its state is PendingDeletion"),
        ({"KeyState": "Disabled", "KeySpec": "ECC_NIST_P256"}, "its state is Disabled and it is not a symmetric encryption key"),
    ],
)
def test_only_an_enabled_symmetric_key_encrypts_s3_objects(metadata: dict[str, Any], problem: str | None) -> None:
    with _describe_key(metadata):
        if problem is None:
            s3_bucket_encryption.check_key_usable(KEY, "us-east-1")
            return
        with pytest.raises(NotRemediable) as refused:
            s3_bucket_encryption.check_key_usable(KEY, "us-east-1")
    assert str(refused.value) == f"params.kmsKeyArn cannot encrypt S3 objects: {problem}"


@pytest.mark.parametrize(
    "data",
    [
        {"bucket": 7, "rules": []},
        {"rules": []},
        {"bucket": BUCKET, "rules": {"Rules": []}},
        {"bucket": BUCKET},
        {"bucket": BUCKET, "rules": [SSE_S3, "AES256"]},
    ],
)
def test_a_recorded_encryption_state_that_is_not_one_is_refused(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as refused:
        EncryptionState.from_json(data)
    assert str(refused.value) == "an encryption state needs a bucket name and a list of rules"
