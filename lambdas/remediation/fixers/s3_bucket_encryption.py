"""Fixer: S3 bucket default encryption, as S3 behaves since 2023-01-05.

Every bucket now has default encryption: S3 applies SSE-S3 (AES256) to any bucket nobody
configured, and DeleteBucketEncryption resets a bucket to SSE-S3. So:

- ``algorithm: AES256`` (Config rule S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED) sets SSE-S3 only
  on a bucket whose rules name no algorithm; on real AWS that practically never happens.
- ``algorithm: aws:kms`` (S3_DEFAULT_ENCRYPTION_KMS with kmsKeyArns = [kmsKeyArn]) upgrades a
  bucket on SSE-S3 to SSE-KMS with the configured key and bucket key on. Existing objects keep
  their encryption; readers of new objects need kms:Decrypt on the key.

It never downgrades and never swaps one KMS key for another: a bucket on another KMS key (the AWS
managed aws/s3 key included) or on DSSE-KMS with another key is left alone with a ``failed``
decision that says why, because moving it would cut off readers who hold the old key only.

Requests per event: compliant 1 (GetBucketEncryption); fixed 4 (+ GetBucketTagging,
PutBucketEncryption, GetBucketEncryption to verify), 5 with aws:kms (+ kms:DescribeKey before the
write, because S3 does not validate the key in PutBucketEncryption).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..clients import client
from ..errors import describe_error, error_code
from .base import (
    ApiCall,
    NoAction,
    NotRemediable,
    Plan,
    PlanResult,
    Target,
    execute,
    param_choice,
    param_optional_string,
)
from .s3_common import BUCKET_RESOURCE_TYPES, bucket_finding_resource, bucket_is_exempt, bucket_name

IAM_ACTIONS: tuple[str, ...] = (
    "kms:DescribeKey",
    "s3:GetEncryptionConfiguration",
    "s3:GetBucketTagging",
    "s3:PutEncryptionConfiguration",
)
RESOURCE_TYPES: tuple[str, ...] = BUCKET_RESOURCE_TYPES
NO_ENCRYPTION_CODE = "ServerSideEncryptionConfigurationNotFoundError"
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
READER_IMPACT = (
    "Existing objects keep their current encryption; new objects are encrypted with {key}, so every reader of "
    "new objects needs kms:Decrypt on that key (and writers kms:GenerateDataKey)"
)
# "Up to 99 percent" fewer KMS requests: aws-samples/s3-bucketkey-poc. UNVERIFIED here against the S3 User
# Guide: that the KMS encryption context (and so CloudTrail) names the bucket ARN once bucket key is on.
BUCKET_KEY_REASON = (
    "bucket key on: S3 asks KMS for a bucket-level key instead of one request per object, which cuts KMS "
    "request costs and the risk of KMS throttling; KMS encryption context and CloudTrail entries then name "
    "the bucket, not each object"
)


@dataclass(frozen=True)
class Params:
    """Which default encryption to set."""

    algorithm: str
    """AES256 or aws:kms."""
    kms_key_arn: str | None
    """KMS key ARN, required for aws:kms."""


@dataclass(frozen=True)
class EncryptionState:
    """A bucket's default encryption rules, exactly as GetBucketEncryption returns them."""

    bucket: str
    rules: tuple[Mapping[str, Any], ...]
    """Empty only when S3 reports no configuration (never on AWS since 2023-01-05)."""

    @property
    def algorithms(self) -> tuple[str, ...]:
        """The SSE algorithms the rules set (a rule may set none, e.g. only BucketKeyEnabled)."""
        return tuple(str(_default_of(rule)["SSEAlgorithm"]) for rule in self.rules if _default_of(rule).get("SSEAlgorithm"))

    @property
    def kms_keys(self) -> tuple[tuple[str, str | None], ...]:
        """(algorithm, KMSMasterKeyID or None) of every rule that uses KMS."""
        return tuple(
            (str(_default_of(rule)["SSEAlgorithm"]), _optional_str(_default_of(rule).get("KMSMasterKeyID")))
            for rule in self.rules
            if _default_of(rule).get("SSEAlgorithm") in KMS_ALGORITHMS
        )

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict."""
        return {"bucket": self.bucket, "rules": [dict(rule) for rule in self.rules]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EncryptionState:
        """The state ``to_json`` wrote; raises ValueError when ``data`` is not one."""
        bucket, rules = data.get("bucket"), data.get("rules")
        if not isinstance(bucket, str) or not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
            raise ValueError("an encryption state needs a bucket name and a list of rules")
        return cls(bucket, tuple(rules))


def _default_of(rule: Mapping[str, Any]) -> Mapping[str, Any]:
    default = rule.get("ApplyServerSideEncryptionByDefault")
    return default if isinstance(default, Mapping) else {}


def _optional_str(value: Any) -> str | None:
    return str(value) if value else None


def parse_params(raw: Mapping[str, Any]) -> Params:
    """Typed params; aws:kms needs kmsKeyArn."""
    algorithm = param_choice(raw, "algorithm", ("AES256", "aws:kms"))
    kms_key_arn = param_optional_string(raw, "kmsKeyArn")
    if algorithm == "aws:kms" and kms_key_arn is None:
        raise ValueError("params.kmsKeyArn is required when params.algorithm is aws:kms")
    return Params(algorithm, kms_key_arn)


resource_id = bucket_name
finding_resource = bucket_finding_resource


def read_state(target: Target) -> EncryptionState:
    """GetBucketEncryption; a bucket S3 reports without a configuration has no rules."""
    try:
        response = client("s3").get_bucket_encryption(Bucket=target.resource_id)
    except ClientError as error:
        if error_code(error) == NO_ENCRYPTION_CODE:
            return EncryptionState(target.resource_id, ())
        raise
    rules = response.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    return EncryptionState(target.resource_id, tuple(rules))


def is_configured_key(key_id: str | None, key_arn: str) -> bool:
    """Whether a bucket's KMSMasterKeyID names the configured key.

    UNVERIFIED: how S3_DEFAULT_ENCRYPTION_KMS compares a bucket that names the key by its bare id;
    the same key under its id is taken as the configured key (an alias is not: it can be repointed).
    """
    return key_id is not None and (key_id == key_arn or key_id == key_arn.rsplit("/", 1)[-1])


def plan(state: EncryptionState, params: Params) -> PlanResult:
    """SSE-S3 where no algorithm is set; with aws:kms, SSE-KMS where the bucket is on SSE-S3."""
    if params.algorithm == "AES256":
        if state.algorithms:
            return None
        return _set_default(state, {"SSEAlgorithm": "AES256"}, "Set default encryption to SSE-S3 (AES256)", bucket_key=False, narrowing=())
    key_arn = str(params.kms_key_arn)
    kms_keys = state.kms_keys
    if any(is_configured_key(key, key_arn) for _, key in kms_keys):
        return None
    if kms_keys:
        algorithm, key = kms_keys[0]
        current = f"{algorithm} with {'key ' + key if key else 'the AWS managed key aws/s3'}"
        return NoAction(
            "failed",
            f"the bucket already uses {current}; it is not switched to {key_arn}, because readers that hold only "
            "the current key would lose access to new objects (change it by hand, or exempt the bucket)",
        )
    impact = READER_IMPACT.format(key=key_arn)
    return _set_default(
        state,
        {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
        f"Move default encryption from {' and '.join(state.algorithms) or 'none'} to SSE-KMS with key {key_arn} and bucket key on. {impact}",
        bucket_key=True,
        narrowing=(f"{impact}.",),
    )


def _set_default(state: EncryptionState, default: dict[str, Any], summary: str, bucket_key: bool, narrowing: tuple[str, ...]) -> Plan:
    rule: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": default}
    detail: dict[str, Any] = {}
    if bucket_key:
        rule["BucketKeyEnabled"] = True
        detail["bucketKey"] = BUCKET_KEY_REASON
    configuration = {"Rules": [rule]}
    if narrowing:
        detail["readerImpact"] = narrowing[0]
    return Plan(
        summary=summary,
        calls=(ApiCall("s3", "PutBucketEncryption", {"Bucket": state.bucket, "ServerSideEncryptionConfiguration": configuration}),),
        undo=restore_calls(state),
        detail={"set": configuration, **detail},
        narrowing=narrowing,
    )


def restore_calls(state: EncryptionState) -> tuple[ApiCall, ...]:
    """The calls that put the bucket's default encryption back exactly as ``state`` read it.

    Every rule is restored as read, including rules that set no algorithm (only BucketKeyEnabled).
    Only a bucket S3 reported without any configuration is restored by DeleteBucketEncryption,
    which on AWS today resets it to SSE-S3.
    """
    if state.rules:
        rules = [dict(rule) for rule in state.rules]
        return (ApiCall("s3", "PutBucketEncryption", {"Bucket": state.bucket, "ServerSideEncryptionConfiguration": {"Rules": rules}}),)
    return (ApiCall("s3", "DeleteBucketEncryption", {"Bucket": state.bucket}),)


def is_exempt(target: Target, _state: EncryptionState, _plan: Plan, exemption_tag: str) -> bool:
    """Whether the bucket carries the exemption tag."""
    return bucket_is_exempt(target.resource_id, exemption_tag)


def check_key_usable(key_arn: str, bucket_region: str) -> None:
    """Raise NotRemediable unless the key can encrypt the bucket's new objects.

    S3 does not validate the key in PutBucketEncryption (S3 API reference), and a key that is
    disabled, pending deletion, asymmetric or in another region would make every upload that relies
    on default encryption fail. S3 supports symmetric encryption KMS keys only.
    """
    key_region = key_arn.split(":")[3]
    if key_region != bucket_region:
        raise NotRemediable(f"params.kmsKeyArn is in {key_region}, but the bucket is in {bucket_region}; S3 needs a key in the bucket's region")
    try:
        metadata = client("kms").describe_key(KeyId=key_arn)["KeyMetadata"]
    except ClientError as error:
        if error_code(error) in ("NotFoundException", "AccessDeniedException", "InvalidArnException"):
            raise NotRemediable(f"params.kmsKeyArn cannot be used ({describe_error(error)})") from error
        raise
    problems = []
    if metadata.get("KeyState") != "Enabled":
        problems.append(f"its state is {metadata.get('KeyState')}")
    # SYMMETRIC_DEFAULT is the one key spec that encrypts and decrypts symmetrically (HMAC keys have HMAC_* specs).
    if metadata.get("KeySpec", metadata.get("CustomerMasterKeySpec")) != "SYMMETRIC_DEFAULT":
        problems.append("it is not a symmetric encryption key")
    if problems:
        raise NotRemediable(f"params.kmsKeyArn cannot encrypt S3 objects: {' and '.join(problems)}")


def apply(target: Target, change: Plan, params: Params) -> Plan:
    """PutBucketEncryption, after checking that a KMS key can really be used."""
    if params.algorithm == "aws:kms":
        check_key_usable(str(params.kms_key_arn), target.region)
    return execute(change)


# --- undo: computed from a record's before-state, never replayed ---------------------------------

UNDO_OPERATIONS: tuple[str, ...] = ("PutBucketEncryption", "DeleteBucketEncryption")
"""The only operations undo may call for this rule: the inverses of the fixer's own write."""


def undo_calls(target: Target, before: Mapping[str, Any], _change: Mapping[str, Any], params: Params, _current: Any) -> tuple[ApiCall, ...]:
    """The calls that put the bucket back to a record's ``before``, derived by ``plan``; raises UndoRefused."""
    from .inverse import inverse_of, record_list, same_resource

    same_resource(before.get("bucket"), target.resource_id, "bucket")
    state = EncryptionState(target.resource_id, tuple(dict(rule) for rule in record_list(before.get("rules"), "before-state rules")))
    return inverse_of(plan(state, params)).undo
