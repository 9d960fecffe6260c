"""Undo of a default-encryption change restores the bucket's rules exactly, including rules that set no algorithm."""

from __future__ import annotations

from typing import Any

import pytest
from remediation.fixers import s3_bucket_encryption
from remediation.fixers.base import Plan
from remediation.fixers.s3_bucket_encryption import EncryptionState, Params

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
BUCKET = "undo-bucket"

STATES: dict[str, tuple[dict[str, Any], ...]] = {
    "only a bucket key flag": ({"BucketKeyEnabled": True},),
    "bucket key off and nothing else": ({"BucketKeyEnabled": False},),
    "SSE-S3 as AWS reports it": ({"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False},),
    "SSE-S3 with bucket key on": ({"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True},),
    "an algorithm-less rule and SSE-S3": ({"BucketKeyEnabled": True}, {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}),
}


def plans_for(rules: tuple[dict[str, Any], ...]) -> list[Plan]:
    state = EncryptionState(BUCKET, rules)
    results = [s3_bucket_encryption.plan(state, params) for params in (Params("AES256", None), Params("aws:kms", KEY_ARN))]
    return [result for result in results if isinstance(result, Plan)]


@pytest.mark.parametrize("rules", STATES.values(), ids=list(STATES))
def test_undo_puts_back_exactly_the_rules_that_were_read(rules: tuple[dict[str, Any], ...]) -> None:
    plans = plans_for(rules)
    assert plans, "every state here is changed by at least one algorithm"
    for plan in plans:
        (undo,) = plan.undo
        assert undo.operation == "PutBucketEncryption"
        assert undo.params == {"Bucket": BUCKET, "ServerSideEncryptionConfiguration": {"Rules": list(rules)}}


def test_a_rule_with_only_a_bucket_key_flag_is_treated_as_no_algorithm() -> None:
    state = EncryptionState(BUCKET, ({"BucketKeyEnabled": True},))
    assert state.algorithms == ()
    result = s3_bucket_encryption.plan(state, Params("AES256", None))
    assert isinstance(result, Plan)
    assert result.calls[0].params["ServerSideEncryptionConfiguration"] == {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


def test_only_a_bucket_reported_without_configuration_is_undone_by_delete() -> None:
    (undo,) = s3_bucket_encryption.restore_calls(EncryptionState(BUCKET, ()))
    assert (undo.operation, undo.params) == ("DeleteBucketEncryption", {"Bucket": BUCKET})


@pytest.mark.parametrize("rules", STATES.values(), ids=list(STATES))
def test_a_recorded_before_state_gives_back_the_same_restore(rules: tuple[dict[str, Any], ...]) -> None:
    state = EncryptionState(BUCKET, rules)
    parsed = EncryptionState.from_json(state.to_json())
    assert parsed == state
    assert s3_bucket_encryption.restore_calls(parsed) == s3_bucket_encryption.restore_calls(state)


@pytest.mark.parametrize("data", [{}, {"bucket": BUCKET}, {"bucket": BUCKET, "rules": "AES256"}, {"bucket": 7, "rules": []}, {"bucket": BUCKET, "rules": ["x"]}])
def test_a_before_state_that_is_not_an_encryption_state_is_refused(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="needs a bucket name and a list of rules"):
        EncryptionState.from_json(data)
