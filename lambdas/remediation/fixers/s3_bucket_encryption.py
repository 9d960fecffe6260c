"""Fixer: S3 bucket default encryption (SSE-S3, or SSE-KMS with a configured key and bucket key on).

Never replaces an existing default encryption: a bucket that has any (AES256, aws:kms or
aws:kms:dsse) is compliant, so a KMS configuration is never downgraded to AES256 and a KMS key is
never swapped for another.

Requests per event: compliant 1 (GetBucketEncryption); fixed 4 (+ GetBucketTagging,
PutBucketEncryption, GetBucketEncryption to verify).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..clients import client
from ..errors import error_code
from .base import ApiCall, Plan, PlanResult, Target, execute, param_choice, param_optional_string
from .s3_common import BUCKET_RESOURCE_TYPES, bucket_finding_resource, bucket_is_exempt, bucket_name

IAM_ACTIONS: tuple[str, ...] = ("s3:GetEncryptionConfiguration", "s3:GetBucketTagging", "s3:PutEncryptionConfiguration")
RESOURCE_TYPES: tuple[str, ...] = BUCKET_RESOURCE_TYPES
NO_ENCRYPTION_CODE = "ServerSideEncryptionConfigurationNotFoundError"


@dataclass(frozen=True)
class Params:
    """Which default encryption to set."""

    algorithm: str
    """AES256 or aws:kms."""
    kms_key_id: str | None
    """KMS key ARN, required for aws:kms."""


@dataclass(frozen=True)
class EncryptionState:
    """A bucket's default encryption rules, as GetBucketEncryption returns them."""

    bucket: str
    rules: tuple[Mapping[str, Any], ...]
    """Empty when the bucket has no default encryption."""

    @property
    def algorithms(self) -> tuple[str, ...]:
        """The SSE algorithms the rules set."""
        return tuple(
            str(rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm"))
            for rule in self.rules
            if rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
        )

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict."""
        return {"bucket": self.bucket, "rules": [dict(rule) for rule in self.rules]}


def parse_params(raw: Mapping[str, Any]) -> Params:
    """Typed params; aws:kms needs kmsKeyId."""
    algorithm = param_choice(raw, "algorithm", ("AES256", "aws:kms"))
    kms_key_id = param_optional_string(raw, "kmsKeyId")
    if algorithm == "aws:kms" and kms_key_id is None:
        raise ValueError("params.kmsKeyId is required when params.algorithm is aws:kms")
    return Params(algorithm, kms_key_id)


resource_id = bucket_name
finding_resource = bucket_finding_resource


def read_state(target: Target) -> EncryptionState:
    """GetBucketEncryption; a bucket without default encryption has no rules."""
    try:
        response = client("s3").get_bucket_encryption(Bucket=target.resource_id)
    except ClientError as error:
        if error_code(error) == NO_ENCRYPTION_CODE:
            return EncryptionState(target.resource_id, ())
        raise
    rules = response.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    return EncryptionState(target.resource_id, tuple(rules))


def plan(state: EncryptionState, params: Params) -> PlanResult:
    """Set the configured default encryption, only when the bucket has none."""
    if state.algorithms:
        return None
    default: dict[str, Any] = {"SSEAlgorithm": params.algorithm}
    rule: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": default}
    if params.algorithm == "aws:kms":
        default["KMSMasterKeyID"] = params.kms_key_id
        rule["BucketKeyEnabled"] = True
        summary = f"Set default encryption to SSE-KMS with key {params.kms_key_id} and bucket key on"
    else:
        summary = "Set default encryption to SSE-S3 (AES256)"
    configuration = {"Rules": [rule]}
    if state.rules:
        undo_call = ApiCall("s3", "PutBucketEncryption", {"Bucket": state.bucket, "ServerSideEncryptionConfiguration": {"Rules": [dict(r) for r in state.rules]}})
    else:
        undo_call = ApiCall("s3", "DeleteBucketEncryption", {"Bucket": state.bucket})
    return Plan(
        summary=summary,
        calls=(ApiCall("s3", "PutBucketEncryption", {"Bucket": state.bucket, "ServerSideEncryptionConfiguration": configuration}),),
        undo=(undo_call,),
        detail={"set": configuration},
    )


def is_exempt(target: Target, _state: EncryptionState, _plan: Plan, exemption_tag: str) -> bool:
    """Whether the bucket carries the exemption tag."""
    return bucket_is_exempt(target.resource_id, exemption_tag)


def apply(_target: Target, change: Plan, _params: Params) -> Plan:
    """PutBucketEncryption."""
    return execute(change)
