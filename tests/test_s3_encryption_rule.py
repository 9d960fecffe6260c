"""The s3-bucket-encryption rule as deployed: SSE-S3 or SSE-KMS, which Config rule each selects, its defaults,
and the Config verdict that scan shows for each."""

from __future__ import annotations

import json
from typing import Any

import pytest

from governance.catalog import CATALOG
from governance.compliance import config_verdict
from governance.mock_program import run_program
from governance.plan import plan_stack
from governance.settings import ConfigError, load_settings
from tests.test_program import ACCOUNT_A, RULE, config_with

KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT_A}:key/11111111-2222-3333-4444-555555555555"
OTHER_KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT_A}:key/99999999-2222-3333-4444-555555555555"
KMS = {"algorithm": "aws:kms", "kmsKeyArn": KEY_ARN}


def settings_with(rules: dict[str, Any]) -> Any:
    return load_settings({key.removeprefix("governance:"): value for key, value in config_with(rules=rules).items()})


def encryption_rule(**rule: Any) -> Any:
    settings = settings_with({"s3-bucket-encryption": rule})
    (account,) = settings.accounts
    return next(r for r in account.rules if r.key == "s3-bucket-encryption")


def problems_of(**rule: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        settings_with({"s3-bucket-encryption": rule})
    return caught.value.problems


# --- which Config rule, which defaults ---------------------------------------------------------


def test_aws_kms_deploys_s3_default_encryption_kms_with_the_key_as_kms_key_arns() -> None:
    rule = encryption_rule(mode="detect", params=KMS)
    spec = rule.entry.config_rule
    assert spec.identifier == "S3_DEFAULT_ENCRYPTION_KMS"
    assert spec.input_parameters(rule.params) == {"kmsKeyArns": KEY_ARN}
    assert spec.scope_resource_types == ("AWS::S3::Bucket",)


def test_aes256_keeps_s3_bucket_server_side_encryption_enabled() -> None:
    rule = encryption_rule(mode="detect")
    assert rule.entry.config_rule.identifier == "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED"
    assert rule.entry.config_rule.input_parameters(rule.params) == {}
    assert rule.engine == "ssm"


def test_aws_kms_defaults_to_manual_mode_on_the_lambda_engine() -> None:
    rule = encryption_rule(params=KMS)
    assert (rule.mode, rule.engine) == ("manual", "lambda")


def test_the_stack_can_still_make_aws_kms_automatic() -> None:
    assert encryption_rule(mode="auto", params=KMS).mode == "auto"


def test_an_unlisted_rule_stays_off() -> None:
    settings = settings_with({})
    assert all(rule.key != "s3-bucket-encryption" for rule in settings.accounts[0].rules)


def test_aws_kms_with_the_ssm_engine_is_one_config_error_naming_the_rule() -> None:
    (problem,) = problems_of(mode="auto", engine="ssm", params=KMS)
    assert problem.startswith("governance:rules.s3-bucket-encryption supports params.algorithm aws:kms only with engine lambda")
    assert "no KMS key parameter" in problem


def test_aws_kms_without_a_key_names_kms_key_arn() -> None:
    (problem,) = problems_of(mode="auto", params={"algorithm": "aws:kms"})
    assert problem.startswith("governance:rules.s3-bucket-encryption needs params.kmsKeyArn")


@pytest.mark.parametrize(
    "value",
    [
        f"arn:aws:kms:us-east-1:{ACCOUNT_A}:alias/data",
        "11111111-2222-3333-4444-555555555555",
        f"arn:aws:kms:us-east-1:{ACCOUNT_A}:key/not-a-key-id",
        f"arn:aws:kms:us-east-1:{ACCOUNT_A[:-1]}:key/11111111-2222-3333-4444-555555555555",
        f"arn:aws:s3:us-east-1:{ACCOUNT_A}:key/11111111-2222-3333-4444-555555555555",
    ],
)
def test_kms_key_arn_must_be_a_key_arn(value: str) -> None:
    (problem,) = problems_of(mode="auto", params={"algorithm": "aws:kms", "kmsKeyArn": value})
    assert problem.startswith("governance:rules.s3-bucket-encryption.params.kmsKeyArn must be a KMS key ARN")
    assert "one key per region" in problem


EU_KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT_A}:key/22222222-2222-3333-4444-555555555555"
TWO_REGIONS = {"regions": ["us-east-1", "eu-west-1"], "accounts": [{"id": ACCOUNT_A}]}


def test_a_key_in_one_region_cannot_serve_an_account_in_several() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**TWO_REGIONS, "rules": {"s3-bucket-encryption": {"params": KMS}}})
    (problem,) = caught.value.problems
    assert problem.startswith("governance:rules.s3-bucket-encryption.params.kmsKeyArn has no key in eu-west-1, where the rule is also deployed")
    assert f"(account {ACCOUNT_A})" in problem


def test_an_account_limited_to_the_keys_region_may_use_it() -> None:
    settings = load_settings({**TWO_REGIONS, "accounts": [{"id": ACCOUNT_A, "regions": ["us-east-1"]}], "rules": {"s3-bucket-encryption": {"params": KMS}}})
    assert [rule.key for rule in settings.accounts[0].rules] == ["s3-bucket-encryption"]


def test_one_key_per_region_serves_a_multi_region_account() -> None:
    keys = [KEY_ARN, EU_KEY_ARN]
    settings = load_settings({**TWO_REGIONS, "rules": {"s3-bucket-encryption": {"params": {"algorithm": "aws:kms", "kmsKeyArn": keys}}}})
    (plan,) = plan_stack(settings)
    by_region = {region.region: region for region in plan.regions}
    (rule,) = settings.accounts[0].rules
    assert rule.entry.config_rule.input_parameters(rule.params) == {"kmsKeyArns": f"{KEY_ARN},{EU_KEY_ARN}"}
    assert by_region["us-east-1"].lambda_params(rule)["kmsKeyArn"] == KEY_ARN
    assert by_region["eu-west-1"].lambda_params(rule)["kmsKeyArn"] == EU_KEY_ARN


def test_two_keys_in_one_region_are_refused() -> None:
    (problem,) = problems_of(params={"algorithm": "aws:kms", "kmsKeyArn": [KEY_ARN, OTHER_KEY_ARN]})
    assert problem.startswith("governance:rules.s3-bucket-encryption.params.kmsKeyArn must list at most one key per region")


def test_the_verdict_uses_the_regions_key() -> None:
    on_eu_key = state({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": EU_KEY_ARN})
    assert config_verdict("s3-bucket-encryption", on_eu_key, {"algorithm": "aws:kms", "kmsKeyArn": [KEY_ARN, EU_KEY_ARN]}, "b") == "COMPLIANT"
    assert config_verdict("s3-bucket-encryption", on_eu_key, KMS, "b") == "NON_COMPLIANT"


def test_a_multi_region_key_arn_is_accepted() -> None:
    mrk = f"arn:aws:kms:us-east-1:{ACCOUNT_A}:key/mrk-{'a1' * 16}"
    assert encryption_rule(params={"algorithm": "aws:kms", "kmsKeyArn": mrk}).params["kmsKeyArn"] == mrk


def test_the_lambda_acts_on_security_hubs_s3_17_rule_for_aws_kms() -> None:
    rule = encryption_rule(source="securityhub", params=KMS)
    assert rule.entry.securityhub_rule_prefixes(rule.params) == ("securityhub-s3-default-encryption-kms-",)
    (plan,) = plan_stack(settings_with({"s3-bucket-encryption": {"source": "securityhub", "params": KMS}}))
    config = plan.regions[0].lambda_config
    assert config["rules"]["s3-bucket-encryption"] == {
        "mode": "manual", "params": {"algorithm": "aws:kms", "kmsKeyArn": KEY_ARN}, "securityHubPrefixes": ["securityhub-s3-default-encryption-kms-"],
    }


def test_the_program_deploys_the_kms_rule() -> None:
    run = run_program(config_with(rules={"s3-bucket-encryption": {"mode": "auto", "params": KMS}}))
    (rule,) = run.of_type(RULE)
    assert rule.inputs["source"] == {"owner": "AWS", "sourceIdentifier": "S3_DEFAULT_ENCRYPTION_KMS"}
    assert json.loads(rule.inputs["inputParameters"]) == {"kmsKeyArns": KEY_ARN}


def test_the_catalog_says_what_each_algorithm_means_on_real_aws() -> None:
    entry = CATALOG["s3-bucket-encryption"]
    sse_s3 = entry.note({"algorithm": "AES256", "kmsKeyArn": None})
    sse_kms = entry.note(KMS)
    assert sse_s3 is not None and "every bucket already has SSE-S3" in sse_s3
    assert sse_kms is not None and "kms:Decrypt" in sse_kms and "new objects only" in sse_kms


# --- the Config verdict scan shows ---------------------------------------------------------------


def state(*defaults: dict[str, Any]) -> dict[str, Any]:
    return {"bucket": "b", "rules": [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": False} for default in defaults]}


AES256 = {"algorithm": "AES256", "kmsKeyArn": None}
VERDICTS = [
    ("SSE-S3 under the SSE-S3 rule", state({"SSEAlgorithm": "AES256"}), AES256, "COMPLIANT"),
    ("SSE-KMS under the SSE-S3 rule", state({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": OTHER_KEY_ARN}), AES256, "COMPLIANT"),
    ("a rule with no algorithm under the SSE-S3 rule", {"bucket": "b", "rules": [{"BucketKeyEnabled": True}]}, AES256, "NON_COMPLIANT"),
    ("SSE-S3 under the KMS rule", state({"SSEAlgorithm": "AES256"}), KMS, "NON_COMPLIANT"),
    ("the listed key", state({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ARN}), KMS, "COMPLIANT"),
    ("the listed key by its id", state({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ARN.rsplit("/", 1)[1]}), KMS, "COMPLIANT"),
    ("DSSE-KMS with the listed key", state({"SSEAlgorithm": "aws:kms:dsse", "KMSMasterKeyID": KEY_ARN}), KMS, "COMPLIANT"),
    ("another key", state({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": OTHER_KEY_ARN}), KMS, "NON_COMPLIANT"),
    ("the AWS managed key", state({"SSEAlgorithm": "aws:kms"}), KMS, "NON_COMPLIANT"),
    ("no configuration", {"bucket": "b", "rules": []}, KMS, "NON_COMPLIANT"),
]


@pytest.mark.parametrize(("name", "bucket_state", "params", "expected"), VERDICTS, ids=[case[0] for case in VERDICTS])
def test_config_verdict_follows_the_selected_managed_rule(name: str, bucket_state: dict[str, Any], params: dict[str, Any], expected: str) -> None:
    assert config_verdict("s3-bucket-encryption", bucket_state, params, "b") == expected
