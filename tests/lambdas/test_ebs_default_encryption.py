"""ebs-default-encryption: encryption by default on, a customer managed default key never replaced.

moto 5.2.5 has no GetEbsDefaultKmsKeyId and no ResetEbsDefaultKmsKeyId. The fixer reads the default
key only when ``params.kmsKeyArn`` is set, so the generic tests run without a key on moto alone; the
key path here answers exactly GetEbsDefaultKmsKeyId from botocore's Stubber (ebs_default_key_stub.py),
every other call still reaching moto. Undo's ResetEbsDefaultKmsKeyId is checked as computed calls.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from conftest import ACCOUNT, EXEMPTION_TAG, REGION, FakeContext, compliance_event, rule_entry, rule_name
from ebs_default_key_stub import stub_default_key
from hypothesis import given, settings
from hypothesis import strategies as st
from remediation.fixers import base, ebs_default_encryption
from remediation.fixers.base import NoAction, Plan, Target
from remediation.fixers.inverse import UndoRefused
from remediation.handler import lambda_handler

from governance.catalog import CATALOG
from governance.compliance import config_verdict
from governance.settings import load_settings

KEY = "ebs-default-encryption"
TARGET = Target("AWS::::Account", ACCOUNT, ACCOUNT, REGION)
OTHER_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/99999999-8888-7777-6666-555555555555"
AWS_MANAGED_ALIAS_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/ebs"


def run() -> dict[str, Any]:
    return lambda_handler(compliance_event(rule_name(KEY), "AWS::::Account", ACCOUNT), FakeContext())


def new_key() -> str:
    return str(boto3.client("kms").create_key(Description="ebs default key")["KeyMetadata"]["Arn"])


def with_key(deploy, key_arn: str, mode: str = "auto") -> None:
    deploy(rules={KEY: rule_entry({"kmsKeyArn": key_arn}, mode=mode)})


def encryption_on() -> bool:
    return bool(boto3.client("ec2").get_ebs_encryption_by_default()["EbsEncryptionByDefault"])


def params(key: str | None = None) -> ebs_default_encryption.Params:
    return ebs_default_encryption.parse_params({"kmsKeyArn": key})


# --- no tags, nothing to delete -------------------------------------------------------------------


def test_the_exemption_tag_does_not_apply_and_no_tag_is_read(requests) -> None:
    # The account in a region carries no tags the function can read: is_exempt is always False,
    # so "tags unreadable" cannot happen; the fix reads no tags at all.
    record = run()
    assert record["decision"] == "remediated", record["reason"]
    assert not [operation for operation in requests.operations() if "Tag" in operation]
    assert EXEMPTION_TAG not in record["reason"]
    state = ebs_default_encryption.EbsDefaultState(ACCOUNT, REGION, False)
    change = ebs_default_encryption.plan(state, params())
    assert isinstance(change, Plan) and ebs_default_encryption.is_exempt(TARGET, state, change, EXEMPTION_TAG) is False


def test_an_event_for_another_account_is_not_a_resource_of_this_fixer() -> None:
    assert ebs_default_encryption.resource_id("AWS::::Account", "999999999999", ACCOUNT) is None
    assert ebs_default_encryption.resource_id("AWS::::Account", ACCOUNT, ACCOUNT) == ACCOUNT
    assert ebs_default_encryption.resource_id("AWS::EC2::Volume", ACCOUNT, ACCOUNT) is None


def test_turned_on_by_someone_else_between_read_and_write_is_written_once_and_verified(requests, monkeypatch) -> None:
    # Nothing can be deleted; the nearest race is a concurrent enable, which the idempotent write absorbs.
    original = ebs_default_encryption.read_state

    def read_then_enable(target: Target) -> Any:
        state = original(target)
        boto3.client("ec2").enable_ebs_encryption_by_default()
        return state

    monkeypatch.setattr(ebs_default_encryption, "read_state", read_then_enable)
    record = run()
    assert record["decision"] == "remediated" and encryption_on()
    assert requests.writes() == ["EnableEbsEncryptionByDefault"]


# --- the key path (botocore's Stubber answers GetEbsDefaultKmsKeyId only) --------------------------


def test_a_configured_key_replaces_the_aws_managed_default(deploy, requests) -> None:
    key_arn = new_key()
    with_key(deploy, key_arn)
    stubber = stub_default_key("alias/aws/ebs")
    record = run()
    assert record["decision"] == "remediated", record["reason"]
    stubber.assert_no_pending_responses()
    assert [call["operation"] for call in record["apiCalls"]] == [
        "GetEbsEncryptionByDefault", "GetEbsDefaultKmsKeyId", "EnableEbsEncryptionByDefault", "ModifyEbsDefaultKmsKeyId", "GetEbsEncryptionByDefault",
    ]
    assert record["apiCalls"][3]["params"] == {"KmsKeyId": key_arn}
    assert record["change"]["detail"] == {"encryptionByDefault": True, "kmsKeyArn": key_arn, "previousDefaultKey": "alias/aws/ebs", "defaultKeyChanged": True}
    assert [call["operation"] for call in record["undo"]] == ["ResetEbsDefaultKmsKeyId", "DisableEbsEncryptionByDefault"]
    assert encryption_on()
    # Requests per event with a key: the stubbed read never reaches the HTTP layer, so the request log shows 4 of the 5 calls.
    assert requests.operations() == ["GetEbsEncryptionByDefault", "EnableEbsEncryptionByDefault", "ModifyEbsDefaultKmsKeyId", "GetEbsEncryptionByDefault"]


@pytest.mark.parametrize("current", [OTHER_KEY, "arn:aws:kms:us-east-1:123456789012:key/mrk-1234", "alias/team-key"])
def test_a_customer_managed_default_key_is_never_replaced(deploy, requests, current: str) -> None:
    with_key(deploy, new_key())
    stub_default_key(current)
    record = run()
    assert record["decision"] == "remediated", record["reason"]
    assert requests.writes() == ["EnableEbsEncryptionByDefault"]
    assert record["change"]["detail"]["defaultKeyChanged"] is False and record["change"]["detail"]["previousDefaultKey"] == current
    assert current in record["reason"]
    assert record["undo"] == [{"service": "ec2", "operation": "DisableEbsEncryptionByDefault", "params": {}}]


def test_with_a_key_already_on_reads_no_key_and_changes_nothing(deploy, requests) -> None:
    # The Config rule does not check the default key, so an enabled region is compliant whatever its key.
    with_key(deploy, new_key())
    boto3.client("ec2").enable_ebs_encryption_by_default()
    record = run()
    assert record["decision"] == "already_compliant"
    assert requests.operations() == ["GetEbsEncryptionByDefault"]


def test_manual_with_a_key_plans_both_writes_and_reads_no_key(deploy, requests) -> None:
    key_arn = new_key()
    with_key(deploy, key_arn, mode="manual")
    record = run()
    assert record["decision"] == "dry_run"
    assert [call["operation"] for call in record["change"]["calls"]] == ["EnableEbsEncryptionByDefault", "ModifyEbsDefaultKmsKeyId"]
    assert "if the default is still the AWS managed key" in record["reason"]
    assert requests.operations() == ["GetEbsEncryptionByDefault"]


def test_unreadable_default_key_means_no_write(deploy, requests) -> None:
    from faults import inject_error

    with_key(deploy, new_key())
    inject_error("ec2", "GetEbsDefaultKmsKeyId", "UnauthorizedOperation", 403)
    record = run()
    assert record["decision"] == "failed"
    assert requests.writes() == [] and not encryption_on()


def test_a_key_of_another_region_is_refused_by_the_plan() -> None:
    west = "arn:aws:kms:us-west-2:123456789012:key/11111111-2222-3333-4444-555555555555"
    result = ebs_default_encryption.plan(ebs_default_encryption.EbsDefaultState(ACCOUNT, REGION, False), params(west))
    assert isinstance(result, NoAction) and result.decision == "failed" and "us-west-2" in result.reason


def test_moto_still_lacks_the_default_key_calls() -> None:
    # The gap the Stubber covers: when moto implements these, the stub can go.
    ec2 = boto3.client("ec2")
    with pytest.raises(NotImplementedError):
        ec2.get_ebs_default_kms_key_id()
    with pytest.raises(NotImplementedError):
        ec2.reset_ebs_default_kms_key_id()


# --- never: pure properties over every default key and state ---------------------------------------

key_ids = st.one_of(
    st.just("alias/aws/ebs"),
    st.just(AWS_MANAGED_ALIAS_ARN),
    st.just(OTHER_KEY),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-/:", max_size=80),
)
configured = st.one_of(st.none(), st.just(OTHER_KEY), st.just(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"))


@settings(max_examples=500, deadline=None)
@given(enabled=st.booleans(), key=configured, current=key_ids)
def test_never_turns_encryption_off_nor_replaces_a_customer_managed_key(enabled: bool, key: str | None, current: str) -> None:
    state = ebs_default_encryption.EbsDefaultState(ACCOUNT, REGION, enabled)
    planned = ebs_default_encryption.plan(state, params(key))
    if enabled:
        assert planned is None
        return
    assert isinstance(planned, Plan)
    applied = ebs_default_encryption.with_default_key(planned, current) if len(planned.calls) > 1 else planned
    operations = [call.operation for call in applied.calls]
    assert operations[0] == "EnableEbsEncryptionByDefault"
    assert "DisableEbsEncryptionByDefault" not in operations and "ResetEbsDefaultKmsKeyId" not in operations
    modifies = "ModifyEbsDefaultKmsKeyId" in operations
    assert modifies == (key is not None and current in ("alias/aws/ebs", AWS_MANAGED_ALIAS_ARN))
    # Undo resets the key exactly when the fix changed it.
    assert ("ResetEbsDefaultKmsKeyId" in [call.operation for call in applied.undo]) == modifies


@settings(max_examples=200, deadline=None)
@given(enabled=st.booleans(), key=configured)
def test_scan_agrees_with_the_fixer(enabled: bool, key: str | None) -> None:
    state = ebs_default_encryption.EbsDefaultState(ACCOUNT, REGION, enabled)
    verdict = config_verdict(KEY, state.to_json(), {"kmsKeyArn": key})
    assert (ebs_default_encryption.plan(state, params(key)) is not None) == (verdict == "NON_COMPLIANT")


# --- undo: computed from the before-state ---------------------------------------------------------


def test_undo_restores_the_before_state_exactly(requests) -> None:
    record = run()
    calls = ebs_default_encryption.undo_calls(TARGET, record["before"], record["change"], params(), None)
    assert [call.to_json() for call in calls] == record["undo"]
    for call in calls:
        base.call(call)
    assert ebs_default_encryption.read_state(TARGET).to_json() == record["before"]


def test_undo_of_a_key_change_resets_the_key_and_of_a_kept_key_does_not() -> None:
    before = {"account": ACCOUNT, "region": REGION, "ebsEncryptionByDefault": False}
    changed = {"detail": {"encryptionByDefault": True, "kmsKeyArn": OTHER_KEY, "defaultKeyChanged": True}}
    kept = {"detail": {"encryptionByDefault": True, "kmsKeyArn": OTHER_KEY, "defaultKeyChanged": False, "previousDefaultKey": OTHER_KEY}}
    operations = lambda change: [call.operation for call in ebs_default_encryption.undo_calls(TARGET, before, change, params(), None)]  # noqa: E731
    assert operations(changed) == ["ResetEbsDefaultKmsKeyId", "DisableEbsEncryptionByDefault"]
    assert operations(kept) == ["DisableEbsEncryptionByDefault"]
    assert operations({}) == ["DisableEbsEncryptionByDefault"]


@pytest.mark.parametrize(
    ("before", "change", "refusal"),
    [
        ({"account": ACCOUNT, "region": REGION, "ebsEncryptionByDefault": True}, {}, "would not have changed"),
        ({"account": "999999999999", "region": REGION, "ebsEncryptionByDefault": False}, {}, "names account"),
        ({"account": ACCOUNT, "region": "eu-west-1", "ebsEncryptionByDefault": False}, {}, "names region"),
        ({"account": ACCOUNT, "region": REGION, "ebsEncryptionByDefault": "false"}, {}, "whether encryption by default was on"),
        ({"account": ACCOUNT, "region": REGION, "ebsEncryptionByDefault": False}, {"detail": {"defaultKeyChanged": True, "kmsKeyArn": "alias/x"}}, "no valid KMS key ARN"),
        ({"account": ACCOUNT, "region": REGION, "ebsEncryptionByDefault": False}, {"detail": "x"}, "change detail"),
    ],
)
def test_undo_refuses_a_forged_record(before: dict[str, Any], change: dict[str, Any], refusal: str) -> None:
    with pytest.raises(UndoRefused, match=refusal):
        ebs_default_encryption.undo_calls(TARGET, before, change, params(), None)


# --- catalog: engines, default mode, regions ------------------------------------------------------


def stack(rule: dict[str, Any], regions: list[str] | None = None) -> dict[str, Any]:
    return {"regions": regions or [REGION], "accounts": [{"id": ACCOUNT}], "rules": {KEY: rule}}


def test_a_key_defaults_to_manual_on_lambda_and_no_key_to_the_runbook() -> None:
    entry = CATALOG[KEY]
    assert entry.setting_defaults({"kmsKeyArn": OTHER_KEY}) == {"mode": "manual", "engine": "lambda"}
    assert entry.setting_defaults({}) == {}
    assert entry.default_engine == "ssm" and entry.ssm is not None and entry.ssm.resource_id_parameter is None
    assert entry.config_rule.scope_resource_types == () and entry.scope == "region"


def test_the_runbook_cannot_set_a_key() -> None:
    assert CATALOG[KEY].cross_check({"kmsKeyArn": OTHER_KEY}, "ssm") is not None
    assert CATALOG[KEY].cross_check({"kmsKeyArn": OTHER_KEY}, "lambda") is None
    with pytest.raises(Exception, match="kmsKeyArn"):
        load_settings(stack({"mode": "auto", "engine": "ssm", "params": {"kmsKeyArn": OTHER_KEY}}))


def test_each_region_needs_its_own_key_and_the_fixer_gets_only_it() -> None:
    west = "arn:aws:kms:us-west-2:123456789012:key/11111111-2222-3333-4444-555555555555"
    entry = CATALOG[KEY]
    assert entry.regions_check({"kmsKeyArn": OTHER_KEY}, (REGION, "us-west-2")) is not None
    assert entry.regions_check({"kmsKeyArn": [OTHER_KEY, west]}, (REGION, "us-west-2")) is None
    assert entry.params_for_region({"kmsKeyArn": [OTHER_KEY, west]}, "us-west-2") == {"kmsKeyArn": west}
    assert entry.params_for_region({"kmsKeyArn": None}, "us-west-2") == {"kmsKeyArn": None}


def test_bad_key_param_is_one_sentence_naming_the_key() -> None:
    with pytest.raises(ValueError, match=r"^params\.kmsKeyArn must be a KMS key ARN"):
        ebs_default_encryption.parse_params({"kmsKeyArn": "alias/aws/ebs"})
