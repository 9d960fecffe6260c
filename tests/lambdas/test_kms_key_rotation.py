"""kms-key-rotation: rotation turned on for customer managed symmetric keys only, never for any other key.

moto 5.2.5 gaps, each modelled here: EnableKeyRotation succeeds on any key (asymmetric, HMAC, imported
material, disabled, pending deletion), where AWS answers UnsupportedOperationException or
KMSInvalidStateException; moto cannot create AWS managed keys or keys in a custom key store. The
fixer never sends EnableKeyRotation to those keys (pure properties below); an AWS managed key is read
through botocore's Stubber, and a key scheduled for deletion between the read and the write gets the
KMSInvalidStateException real AWS would send.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from conftest import ACCOUNT, EXEMPTION_TAG, REGION, FakeContext, compliance_event, rule_name
from faults import inject_error
from hypothesis import given, settings
from hypothesis import strategies as st
from remediation import clients
from remediation.fixers import base, kms_key_rotation
from remediation.fixers.base import NoAction, Plan, Target
from remediation.fixers.inverse import UndoRefused
from remediation.handler import lambda_handler

from governance.compliance import config_verdict

KEY = "kms-key-rotation"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"


def run(key_id: str) -> dict[str, Any]:
    return lambda_handler(compliance_event(rule_name(KEY), "AWS::KMS::Key", key_id), FakeContext())


def new_key(**options: Any) -> str:
    return str(boto3.client("kms").create_key(**options)["KeyMetadata"]["KeyId"])


def rotation_on(key_id: str) -> bool:
    return bool(boto3.client("kms").get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"])


def state(**overrides: Any) -> kms_key_rotation.KeyState:
    fields: dict[str, Any] = {
        "key_id": KEY_ID, "arn": KEY_ARN, "key_manager": "CUSTOMER", "key_spec": "SYMMETRIC_DEFAULT", "origin": "AWS_KMS",
        "key_state": "Enabled", "multi_region_type": None, "rotation_enabled": False,
    }
    return kms_key_rotation.KeyState(**{**fields, **overrides})


# --- tags, races, keys that cannot rotate (through moto) --------------------------------------------


def test_unreadable_tags_mean_failed_and_no_write(requests) -> None:
    key_id = new_key()
    inject_error("kms", "ListResourceTags", "AccessDeniedException", 400)
    record = run(key_id)
    assert record["decision"] == "failed" and "exemptions fail closed" in record["reason"]
    assert requests.writes() == [] and not rotation_on(key_id)


def test_the_exemption_tag_is_read_from_the_key(requests) -> None:
    key_id = new_key(Tags=[{"TagKey": EXEMPTION_TAG, "TagValue": ""}])
    record = run(key_id)
    assert record["decision"] == "exempt"
    assert requests.operations() == ["DescribeKey", "GetKeyRotationStatus", "ListResourceTags"]


def test_a_key_scheduled_for_deletion_between_read_and_write_is_failed(monkeypatch) -> None:
    key_id = new_key()
    original = kms_key_rotation.apply

    def schedule_then_apply(target: Target, change: Plan, params: Any) -> Plan:
        boto3.client("kms").schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
        # moto enables rotation on a key pending deletion; AWS refuses (KMS key states table).
        inject_error("kms", "EnableKeyRotation", "KMSInvalidStateException", 400)
        return original(target, change, params)

    monkeypatch.setattr(kms_key_rotation, "apply", schedule_then_apply)
    record = run(key_id)
    assert record["decision"] == "failed" and "KMSInvalidStateException" in record["reason"]


def test_a_key_pending_deletion_is_not_evaluated_and_not_touched(requests) -> None:
    key_id = new_key()
    boto3.client("kms").schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    record = run(key_id)
    assert record["decision"] == "already_compliant"
    assert requests.operations() == ["DescribeKey"]


@pytest.mark.parametrize(
    "options",
    [
        {"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"},
        {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"},
        {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"},
        {"Origin": "EXTERNAL"},
    ],
    ids=["rsa", "ecc", "hmac", "imported"],
)
def test_keys_kms_cannot_rotate_are_never_written(requests, options: dict[str, str]) -> None:
    key_id = new_key(**options)
    record = run(key_id)
    assert record["decision"] == "already_compliant"
    assert requests.operations() == ["DescribeKey"], "not even the rotation status is read"
    assert requests.writes() == []


def test_a_disabled_key_is_a_failure_that_says_why(requests) -> None:
    key_id = new_key()
    boto3.client("kms").disable_key(KeyId=key_id)
    record = run(key_id)
    assert record["decision"] == "failed" and "Disabled" in record["reason"]
    assert requests.writes() == []


def test_an_aws_managed_key_is_never_written() -> None:
    # moto cannot create an AWS managed key: botocore's Stubber answers DescribeKey as AWS does.
    kms = clients.client("kms")
    metadata = {
        "KeyId": KEY_ID, "Arn": KEY_ARN, "KeyManager": "AWS", "KeySpec": "SYMMETRIC_DEFAULT", "Origin": "AWS_KMS",
        "KeyState": "Enabled", "KeyUsage": "ENCRYPT_DECRYPT", "MultiRegion": False,
    }
    with Stubber(kms) as stubber:
        stubber.add_response("describe_key", {"KeyMetadata": metadata}, {"KeyId": KEY_ID})
        record = run(KEY_ID)
        stubber.assert_no_pending_responses()
    assert record["decision"] == "already_compliant"
    assert [call["operation"] for call in record["apiCalls"]] == ["DescribeKey"]


def test_moto_enables_rotation_on_any_key() -> None:
    # The gap the pure properties cover: moto accepts what AWS refuses, so only the plan keeps these keys safe.
    kms = boto3.client("kms")
    asymmetric = new_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
    kms.enable_key_rotation(KeyId=asymmetric)
    assert rotation_on(asymmetric)


def test_key_ids_and_arns() -> None:
    assert kms_key_rotation.resource_id("AWS::KMS::Key", KEY_ID, ACCOUNT) == KEY_ID
    assert kms_key_rotation.resource_id("AWS::KMS::Key", KEY_ARN, ACCOUNT) == KEY_ID
    assert kms_key_rotation.resource_id("AWS::KMS::Key", KEY_ARN.replace(ACCOUNT, "999999999999"), ACCOUNT) is None
    assert kms_key_rotation.resource_id("AWS::KMS::Key", "alias/aws/ebs", ACCOUNT) is None
    assert kms_key_rotation.resource_id("AWS::KMS::Key", "mrk-" + "a" * 32, ACCOUNT) == "mrk-" + "a" * 32
    assert kms_key_rotation.resource_id("AWS::KMS::Alias", KEY_ID, ACCOUNT) is None


# --- never, and scan agrees (pure, every key kind) ------------------------------------------------

key_states = st.builds(
    state,
    key_manager=st.sampled_from(["CUSTOMER", "AWS"]),
    key_spec=st.sampled_from(["SYMMETRIC_DEFAULT", "RSA_2048", "ECC_NIST_P256", "HMAC_256", "SM2"]),
    origin=st.sampled_from(["AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"]),
    key_state=st.sampled_from(["Enabled", "Disabled", "PendingDeletion", "PendingReplicaDeletion", "PendingImport", "Unavailable", "Creating", "Updating"]),
    multi_region_type=st.sampled_from([None, "PRIMARY", "REPLICA"]),
    rotation_enabled=st.sampled_from([None, True, False]),
)


@settings(max_examples=1000, deadline=None)
@given(key=key_states)
def test_rotation_is_only_ever_turned_on_for_a_key_kms_can_rotate(key: kms_key_rotation.KeyState) -> None:
    planned = kms_key_rotation.plan(key, kms_key_rotation.Params())
    if not isinstance(planned, Plan):
        return
    assert [call.to_json() for call in planned.calls] == [{"service": "kms", "operation": "EnableKeyRotation", "params": {"KeyId": KEY_ID}}]
    assert (key.key_manager, key.key_spec, key.origin, key.key_state) == ("CUSTOMER", "SYMMETRIC_DEFAULT", "AWS_KMS", "Enabled")
    assert key.multi_region_type != "REPLICA" and key.rotation_enabled is False


@settings(max_examples=1000, deadline=None)
@given(key=key_states)
def test_scan_agrees_with_the_fixer(key: kms_key_rotation.KeyState) -> None:
    verdict = config_verdict(KEY, key.to_json(), {})
    planned = kms_key_rotation.plan(key, kms_key_rotation.Params())
    assert (planned is not None) == (verdict == "NON_COMPLIANT"), (verdict, planned)


def test_a_replica_is_left_to_its_primary() -> None:
    planned = kms_key_rotation.plan(state(key_id="mrk-" + "a" * 32, multi_region_type="REPLICA"), kms_key_rotation.Params())
    assert isinstance(planned, NoAction) and planned.decision == "failed" and "primary" in planned.reason


# --- undo: computed from the before-state ---------------------------------------------------------


def test_undo_restores_the_before_state_exactly() -> None:
    key_id = new_key()
    record = run(key_id)
    assert record["decision"] == "remediated", record["reason"]
    target = Target("AWS::KMS::Key", key_id, ACCOUNT, REGION)
    calls = kms_key_rotation.undo_calls(target, record["before"], record["change"], kms_key_rotation.Params(), None)
    assert [call.to_json() for call in calls] == record["undo"]
    for call in calls:
        base.call(call)
    assert kms_key_rotation.read_state(target).to_json() == record["before"]


BEFORE = state().to_json()


@pytest.mark.parametrize(
    ("resource", "before", "refusal"),
    [
        (KEY_ID, {**BEFORE, "keyRotationEnabled": True}, "would not have changed"),
        (KEY_ID, {**BEFORE, "keySpec": "RSA_2048"}, "would not have changed"),
        (KEY_ID, {**BEFORE, "keyManager": "AWS"}, "would not have changed"),
        ("99999999-12ab-34cd-56ef-1234567890ab", BEFORE, "names key"),
        (KEY_ID, {**BEFORE, "arn": KEY_ARN.replace(ACCOUNT, "999999999999")}, "key ARN of the record's account"),
        (KEY_ID, {**BEFORE, "keyRotationEnabled": "false"}, "rotation status"),
        (KEY_ID, {**BEFORE, "keyState": None}, "manager, spec, origin or state"),
    ],
)
def test_undo_refuses_a_forged_record(resource: str, before: dict[str, Any], refusal: str) -> None:
    target = Target("AWS::KMS::Key", resource, ACCOUNT, REGION)
    with pytest.raises(UndoRefused, match=refusal):
        kms_key_rotation.undo_calls(target, before, {}, kms_key_rotation.Params(), None)


# --- scan: discovery ------------------------------------------------------------------------------


def test_scan_finds_every_key_of_the_region_by_id_with_its_arn() -> None:
    from governance.cli.inventory import TAGGING_TYPES, discover
    from governance.settings import Account

    account = Account(ACCOUNT, "home", None, None, "aws", (REGION, "eu-west-1"), ())
    key_id = new_key()
    boto3.client("kms", region_name="eu-west-1").create_key()
    found = discover(KEY, boto3.Session(region_name=REGION), account, REGION)
    assert key_id in {item.target.resource_id for item in found}
    for item in found:
        assert item.state is None, "the fixer reads each key's metadata and rotation itself"
        assert (item.target.resource_type, item.target.region) == ("AWS::KMS::Key", REGION)
        assert item.arn == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{item.target.resource_id}"
    assert TAGGING_TYPES[KEY] == "kms:key", "exemption tags of keys are read in the one Tagging API query"
