"""Property tests for the S3 and CloudTrail fixers: a fix never weakens an existing setting.

KMS stays KMS (with its key), a Block Public Access flag that is on stays on, a trail that logs
keeps logging and a multi-region trail stays multi-region. Each property runs on the pure plans for
many generated states, and end to end through moto for a smaller sample.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import boto3
from conftest import ACCOUNT, DEFAULT_PARAMS, REGION, FakeContext, compliance_event, rule_name
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lambda_scenarios import TRAIL_BUCKET
from remediation.fixers import (
    cloudtrail_log_validation,
    cloudtrail_multi_region,
    s3_account_public_access,
    s3_bucket_encryption,
    s3_bucket_public_access,
)
from remediation.fixers.base import ApiCall, NoAction, Plan, Target
from remediation.handler import lambda_handler

from tests.safety.figures import record, scale

FLAGS = s3_bucket_public_access.FLAGS
STRENGTH = {None: 0, "AES256": 1, "aws:kms": 2, "aws:kms:dsse": 3}
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
OTHER_ACCOUNT = "999999999999"
PURE = scale("never_weakens_plan_examples", 1000)
MOTO = scale("never_weakens_moto_examples", 25)
MOTO_SETTINGS = settings(max_examples=MOTO, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def run(key: str, resource_type: str, resource_id: str) -> dict[str, Any]:
    return lambda_handler(compliance_event(rule_name(key), resource_type, resource_id), FakeContext())


def only_writes(calls: Iterable[ApiCall], allowed: set[str]) -> None:
    operations = {call.operation for call in calls}
    assert operations <= allowed, f"unexpected writes {operations - allowed}"


# --- S3 default encryption ----------------------------------------------------------------------

encryption_rule = st.builds(
    lambda algorithm, key, bucket_key: {
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": algorithm, **({"KMSMasterKeyID": key} if key and algorithm != "AES256" else {})},
        "BucketKeyEnabled": bucket_key,
    },
    st.sampled_from(["AES256", "aws:kms", "aws:kms:dsse"]),
    st.one_of(st.none(), st.just(KMS_KEY), st.just("alias/other")),
    st.booleans(),
)
# The S3 API makes ApplyServerSideEncryptionByDefault optional in a rule: a rule may carry only
# BucketKeyEnabled. Such rules must be restored exactly by undo, never replaced by a delete.
rule_without_algorithm = st.builds(lambda bucket_key: {"BucketKeyEnabled": bucket_key}, st.booleans())
any_encryption_rule = st.one_of(encryption_rule, rule_without_algorithm)
encryption_params = st.one_of(st.just(s3_bucket_encryption.Params("AES256", None)), st.just(s3_bucket_encryption.Params("aws:kms", KMS_KEY)))


def _algorithm(rules: Iterable[dict[str, Any]]) -> str | None:
    algorithms = [rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for rule in rules]
    return max(algorithms, key=lambda algorithm: STRENGTH[algorithm], default=None)


def _kms_key(rules: Iterable[dict[str, Any]]) -> str | None:
    keys = [rule.get("ApplyServerSideEncryptionByDefault", {}).get("KMSMasterKeyID") for rule in rules]
    return next((key for key in keys if key), None)


def test_encryption_plans_never_replace_or_weaken() -> None:
    stats: Counter[str] = Counter()

    @settings(max_examples=PURE, deadline=None)
    @given(st.lists(any_encryption_rule, max_size=2), encryption_params)
    def check(rules: list[dict[str, Any]], params: s3_bucket_encryption.Params) -> None:
        stats["states"] += 1
        result = s3_bucket_encryption.plan(s3_bucket_encryption.EncryptionState("bucket", tuple(rules)), params)
        before = _algorithm(rules)
        if STRENGTH[before] >= STRENGTH["aws:kms"] or (before and params.algorithm == "AES256"):
            assert not isinstance(result, Plan), "a configured algorithm is never replaced, and one KMS key never swapped for another"
            return
        assert isinstance(result, Plan)
        stats["rules without an algorithm"] += any("ApplyServerSideEncryptionByDefault" not in rule for rule in rules)
        only_writes(result.calls, {"PutBucketEncryption"})
        after = result.calls[0].params["ServerSideEncryptionConfiguration"]["Rules"]
        assert STRENGTH[_algorithm(after)] >= max(STRENGTH[params.algorithm], STRENGTH[before])
        if params.algorithm == "aws:kms":
            assert _kms_key(after) == KMS_KEY
        (undo,) = result.undo
        if rules:
            assert undo.operation == "PutBucketEncryption", "undo restores the rules that were there, never deletes them"
            assert undo.params == {"Bucket": "bucket", "ServerSideEncryptionConfiguration": {"Rules": rules}}
        else:
            assert undo.operation == "DeleteBucketEncryption"

    check()
    assert stats["rules without an algorithm"] > 0, "the generator must produce rules without SSEAlgorithm"
    record("never_weakens", "encryption states (plan)", stats["states"])


def test_encryption_through_moto_keeps_kms_and_its_key() -> None:
    stats: Counter[str] = Counter()

    @MOTO_SETTINGS
    @given(st.lists(encryption_rule, max_size=1))
    def check(rules: list[dict[str, Any]]) -> None:
        stats["buckets"] += 1
        s3 = boto3.client("s3")
        bucket = f"never-weakens-{stats['buckets']}"
        s3.create_bucket(Bucket=bucket)
        if rules:
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules})
        # As on AWS, a bucket nobody configured has SSE-S3; the deployment moves SSE-S3 buckets to its KMS key.
        before = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        result = run("s3-bucket-encryption", "AWS::S3::Bucket", bucket)
        after = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert STRENGTH[_algorithm(after)] >= STRENGTH[_algorithm(before)] >= STRENGTH["AES256"]
        if STRENGTH[_algorithm(before)] >= STRENGTH["aws:kms"]:
            assert after == before, "KMS stays KMS, with the same key"
            assert result["decision"] in ("already_compliant", "failed"), result["reason"]
        else:
            assert result["decision"] == "remediated", result["reason"]
            assert _kms_key(after) == DEFAULT_PARAMS["s3-bucket-encryption"]["kmsKeyArn"]

    check()
    record("never_weakens", "buckets (moto)", stats["buckets"])


# --- Block Public Access, bucket and account ----------------------------------------------------

flags = st.one_of(st.none(), st.fixed_dictionaries({flag: st.booleans() for flag in FLAGS}))


def test_public_access_plans_only_turn_flags_on() -> None:
    stats: Counter[str] = Counter()

    @settings(max_examples=PURE, deadline=None)
    @given(flags, st.booleans(), st.booleans())
    def check(configuration: dict[str, bool] | None, excluded: bool, account_level: bool) -> None:
        stats["states"] += 1
        state = s3_bucket_public_access.PublicAccessState(ACCOUNT if account_level else "bucket", configuration)
        if account_level:
            result = s3_account_public_access.plan(state, s3_account_public_access.Params())
        else:
            result = s3_bucket_public_access.plan(state, s3_bucket_public_access.Params(frozenset({"bucket"} if excluded else set())))
        if state.all_on:
            assert result is None
            return
        if isinstance(result, NoAction):
            assert excluded and not account_level and result.decision == "exempt"
            return
        assert isinstance(result, Plan)
        only_writes(result.calls, {"PutPublicAccessBlock"})
        after = result.calls[0].params["PublicAccessBlockConfiguration"]
        assert after == dict.fromkeys(FLAGS, True)
        assert all(after[flag] for flag in FLAGS if (configuration or {}).get(flag)), "a flag that is on stays on"

    check()
    record("never_weakens", "public access states (plan)", stats["states"])


def test_public_access_through_moto_keeps_every_flag_that_is_on() -> None:
    stats: Counter[str] = Counter()

    @MOTO_SETTINGS
    @given(flags, st.booleans())
    def check(configuration: dict[str, bool] | None, account_level: bool) -> None:
        stats["resources"] += 1
        s3, s3control = boto3.client("s3"), boto3.client("s3control")
        if account_level:
            if configuration is None:
                s3control.delete_public_access_block(AccountId=ACCOUNT)
            else:
                s3control.put_public_access_block(AccountId=ACCOUNT, PublicAccessBlockConfiguration=configuration)
            result = run("s3-account-public-access", "AWS::::Account", ACCOUNT)
            after = s3control.get_public_access_block(AccountId=ACCOUNT)["PublicAccessBlockConfiguration"]
        else:
            bucket = f"flags-{stats['resources']}"
            s3.create_bucket(Bucket=bucket)
            if configuration is not None:
                s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=configuration)
            result = run("s3-bucket-public-access", "AWS::S3::Bucket", bucket)
            after = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(after[flag] for flag in FLAGS if (configuration or {}).get(flag)), "a flag that is on stays on"
        assert after == dict.fromkeys(FLAGS, True), result["reason"]

    check()
    record("never_weakens", "public access blocks (moto)", stats["resources"])


# --- CloudTrail ---------------------------------------------------------------------------------

TARGET = Target("AWS::::Account", ACCOUNT, ACCOUNT, REGION)


@st.composite
def trails(draw: st.DrawFn) -> tuple[cloudtrail_multi_region.TrailInfo, ...]:
    """Trails DescribeTrails can show in this region: its own, and other regions' multi-region ones."""
    found = []
    for index in range(draw(st.integers(min_value=0, max_value=4))):
        multi_region = draw(st.booleans())
        region = draw(st.sampled_from([REGION, "eu-west-1"])) if multi_region else REGION
        owner = draw(st.sampled_from([ACCOUNT, ACCOUNT, OTHER_ACCOUNT]))
        arn = f"arn:aws:cloudtrail:{region}:{owner}:trail/trail-{index}"
        found.append(cloudtrail_multi_region.TrailInfo(f"trail-{index}", arn, multi_region, draw(st.booleans()), draw(st.booleans())))
    return tuple(found)


def _apply_trail_calls(before: tuple[cloudtrail_multi_region.TrailInfo, ...], calls: Iterable[ApiCall]) -> dict[str, dict[str, Any]]:
    """The trails after the plan's calls, by name or ARN (a model of CloudTrail)."""
    state = {trail.arn: {"multi": trail.is_multi_region, "global": trail.include_global_service_events, "logging": trail.is_logging} for trail in before}
    for api_call in calls:
        name = str(api_call.params["Name"])
        if api_call.operation == "CreateTrail":
            assert not any(arn.endswith(f"/{name}") for arn in state)
            state[name] = {"multi": api_call.params["IsMultiRegionTrail"], "global": api_call.params["IncludeGlobalServiceEvents"], "logging": False}
            continue
        assert name in state, f"{api_call.operation} on an unknown trail {name}"
        assert cloudtrail_multi_region.arn_account(name) in (None, ACCOUNT), "never changes another account's trail"
        assert api_call.region == cloudtrail_multi_region.home_region_or_none(name, TARGET), "writes go to the trail's home region"
        if api_call.operation == "UpdateTrail":
            state[name].update(multi=api_call.params["IsMultiRegionTrail"], **{"global": api_call.params["IncludeGlobalServiceEvents"]})
        elif api_call.operation == "StartLogging":
            state[name]["logging"] = True
        else:
            raise AssertionError(f"unexpected write {api_call.operation}")
    return state


def test_multi_region_plans_never_stop_logging_or_narrow_a_trail() -> None:
    stats: Counter[str] = Counter()
    params = cloudtrail_multi_region.Params(TRAIL_BUCKET, "governance-multi-region")

    @settings(max_examples=PURE, deadline=None)
    @given(trails(), st.booleans())
    def check(before: tuple[cloudtrail_multi_region.TrailInfo, ...], with_bucket: bool) -> None:
        stats["accounts"] += 1
        result = cloudtrail_multi_region.plan(cloudtrail_multi_region.AccountTrailsState(before, TARGET), params if with_bucket else cloudtrail_multi_region.Params(None, "x-trail"))
        if result is None:
            assert any(trail.is_multi_region and trail.is_logging for trail in before)
            return
        if isinstance(result, NoAction):
            assert result.decision == "failed" and not with_bucket
            return
        assert isinstance(result, Plan)
        after = _apply_trail_calls(before, result.calls)
        for trail in before:
            now = after[trail.arn]
            assert now["logging"] >= trail.is_logging and now["multi"] >= trail.is_multi_region and now["global"] >= trail.include_global_service_events
        assert any(value["multi"] and value["logging"] for value in after.values()), "the account ends with a logging multi-region trail"
        if any(call.operation == "CreateTrail" for call in result.calls):
            assert not any(cloudtrail_multi_region.arn_account(trail.arn) == ACCOUNT for trail in before), "a trail is created only when there is none"
        stats["changed"] += 1

    check()
    record("never_weakens", "trail sets (plan)", stats["accounts"])


def test_log_validation_plans_only_turn_validation_on() -> None:
    stats: Counter[str] = Counter()

    @settings(max_examples=PURE, deadline=None)
    @given(st.booleans(), st.sampled_from([ACCOUNT, OTHER_ACCOUNT]), st.sampled_from([REGION, "eu-west-1"]))
    def check(enabled: bool, owner: str, region: str) -> None:
        stats["trails"] += 1
        arn = f"arn:aws:cloudtrail:{region}:{owner}:trail/main-trail"
        state = cloudtrail_log_validation.TrailState({"TrailARN": arn, "LogFileValidationEnabled": enabled}, Target("AWS::CloudTrail::Trail", arn, ACCOUNT, REGION))
        result = cloudtrail_log_validation.plan(state, cloudtrail_log_validation.Params())
        if enabled:
            assert result is None
        elif owner != ACCOUNT:
            assert isinstance(result, NoAction) and result.decision == "failed"
        else:
            assert isinstance(result, Plan)
            assert [(call.operation, call.params) for call in result.calls] == [("UpdateTrail", {"Name": arn, "EnableLogFileValidation": True})]

    check()
    record("never_weakens", "trails (plan)", stats["trails"])


moto_trail = st.fixed_dictionaries({"multi": st.booleans(), "logging": st.booleans(), "validation": st.booleans(), "global": st.booleans()})


def test_cloudtrail_through_moto_never_stops_logging_or_narrows_a_trail(deploy) -> None:
    stats: Counter[str] = Counter()

    @MOTO_SETTINGS
    @given(st.lists(moto_trail, max_size=3))
    def check(specs: list[dict[str, bool]]) -> None:
        stats["accounts"] += 1
        cloudtrail, s3 = boto3.client("cloudtrail"), boto3.client("s3")
        for existing in cloudtrail.describe_trails()["trailList"]:
            cloudtrail.delete_trail(Name=existing["TrailARN"])
        s3.create_bucket(Bucket=TRAIL_BUCKET)
        for index, spec in enumerate(specs):
            name = f"t{stats['accounts']}-{index}"
            cloudtrail.create_trail(
                Name=name, S3BucketName=TRAIL_BUCKET, IsMultiRegionTrail=spec["multi"], EnableLogFileValidation=spec["validation"],
                IncludeGlobalServiceEvents=spec["global"] or spec["multi"],
            )
            if spec["logging"]:
                cloudtrail.start_logging(Name=name)

        def snapshot() -> dict[str, tuple[bool, bool, bool, bool]]:
            return {
                trail["TrailARN"]: (
                    bool(trail["IsMultiRegionTrail"]), bool(cloudtrail.get_trail_status(Name=trail["TrailARN"])["IsLogging"]),
                    bool(trail["LogFileValidationEnabled"]), bool(trail["IncludeGlobalServiceEvents"]),
                )
                for trail in cloudtrail.describe_trails()["trailList"]
            }

        before = snapshot()
        result = run("cloudtrail-multi-region", "AWS::::Account", ACCOUNT)
        for arn in before:
            validation = run("cloudtrail-log-validation", "AWS::CloudTrail::Trail", arn)
            assert validation["decision"] in ("remediated", "already_compliant"), validation["reason"]
        after = snapshot()
        assert result["decision"] in ("remediated", "already_compliant"), result["reason"]
        assert set(before) <= set(after), "no trail is deleted"
        for arn, was in before.items():
            assert all(now >= then for now, then in zip(after[arn], was, strict=True)), (arn, was, after[arn])
        assert any(multi and logging for multi, logging, _, _ in after.values())
        assert all(validation for _, _, validation, _ in after.values())

    check()
    record("never_weakens", "trail sets (moto)", stats["accounts"])
