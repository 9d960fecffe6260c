"""iam-password-policy: the account password policy raised to the configured minimums, never lowered.

UpdateAccountPasswordPolicy replaces the whole policy (omitted fields reset to their defaults); moto
5.2.5 models that faithfully, so the end-to-end tests run on moto alone. The "never weaker" property
runs on the pure merge for every existing policy and every configuration, and on moto for a sample.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from conftest import ACCOUNT, EXEMPTION_TAG, REGION, FakeContext, compliance_event, rule_entry, rule_name
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from remediation.fixers import base, iam_password_policy
from remediation.fixers.base import Plan, Target
from remediation.fixers.inverse import UndoRefused
from remediation.handler import lambda_handler

from governance.catalog import CATALOG
from governance.compliance import config_verdict

KEY = "iam-password-policy"
TARGET = Target("AWS::::Account", ACCOUNT, ACCOUNT, REGION)
DEFAULTS = {
    "RequireUppercaseCharacters": True, "RequireLowercaseCharacters": True, "RequireSymbols": True, "RequireNumbers": True,
    "MinimumPasswordLength": 14, "PasswordReusePrevention": 24, "MaxPasswordAge": 90,
}
WEAK = {"MinimumPasswordLength": 8, "RequireSymbols": False, "AllowUsersToChangePassword": True, "HardExpiry": True}


def run() -> dict[str, Any]:
    return lambda_handler(compliance_event(rule_name(KEY), "AWS::::Account", ACCOUNT), FakeContext())


def current_policy() -> dict[str, Any]:
    return dict(boto3.client("iam").get_account_password_policy()["PasswordPolicy"])


def params(**overrides: Any) -> iam_password_policy.Params:
    return iam_password_policy.parse_params({**DEFAULTS, **overrides})


# --- no tags; stricter settings kept; the two carried-over flags ---------------------------------------


def test_the_exemption_tag_does_not_apply_and_no_tag_is_read(requests) -> None:
    record = run()
    assert record["decision"] == "remediated", record["reason"]
    assert not [operation for operation in requests.operations() if "Tag" in operation]
    assert EXEMPTION_TAG not in record["reason"]
    state = iam_password_policy.PasswordPolicyState(ACCOUNT, None)
    change = iam_password_policy.plan(state, params())
    assert isinstance(change, Plan) and iam_password_policy.is_exempt(TARGET, state, change, EXEMPTION_TAG) is False


def test_an_account_without_a_policy_gets_the_minimums_and_undo_deletes_it(requests) -> None:
    record = run()
    policy = current_policy()
    assert {name: policy[name] for name in DEFAULTS} == DEFAULTS
    assert (policy["AllowUsersToChangePassword"], policy.get("HardExpiry", False)) == (False, False), "the API's defaults"
    assert record["undo"] == [{"service": "iam", "operation": "DeleteAccountPasswordPolicy", "params": {}}]


def test_stricter_settings_and_both_carried_flags_are_kept(requests) -> None:
    iam = boto3.client("iam")
    iam.update_account_password_policy(MinimumPasswordLength=32, MaxPasswordAge=30, PasswordReusePrevention=5, AllowUsersToChangePassword=True, HardExpiry=True)
    record = run()
    assert record["decision"] == "remediated", record["reason"]
    policy = current_policy()
    assert (policy["MinimumPasswordLength"], policy["MaxPasswordAge"], policy["PasswordReusePrevention"]) == (32, 30, 24)
    assert (policy["AllowUsersToChangePassword"], policy["HardExpiry"]) == (True, True)
    assert all(policy[name] for name in iam_password_policy.REQUIRED_CLASSES)
    assert sorted(record["change"]["detail"]["raised"]) == ["PasswordReusePrevention", *sorted(iam_password_policy.REQUIRED_CLASSES)]


def test_a_policy_meeting_the_minimums_is_left_alone(requests) -> None:
    boto3.client("iam").update_account_password_policy(**{**DEFAULTS, "MinimumPasswordLength": 20, "MaxPasswordAge": 60})
    record = run()
    assert record["decision"] == "already_compliant"
    assert requests.operations() == ["GetAccountPasswordPolicy"]


def test_a_change_between_read_and_write_is_overwritten_by_the_planned_policy(monkeypatch) -> None:
    # The account cannot disappear; the nearest race is someone else's update between read and write.
    # UpdateAccountPasswordPolicy has no condition, so the fixer writes the policy it planned from its
    # read: a stricter value set in those milliseconds is replaced. The record shows what was read and written.
    original = iam_password_policy.read_state
    iam = boto3.client("iam")

    def read_then_change(target: Target) -> Any:
        state = original(target)
        iam.update_account_password_policy(MinimumPasswordLength=40)
        monkeypatch.setattr(iam_password_policy, "read_state", original)
        return state

    monkeypatch.setattr(iam_password_policy, "read_state", read_then_change)
    record = run()
    assert record["decision"] == "remediated"
    assert record["before"]["passwordPolicy"] is None and record["change"]["calls"][0]["params"]["MinimumPasswordLength"] == 14
    assert current_policy()["MinimumPasswordLength"] == 14


def test_unreadable_policy_means_no_write(requests) -> None:
    from faults import inject_error

    inject_error("iam", "GetAccountPasswordPolicy", "AccessDenied", 403)
    record = run()
    assert record["decision"] == "failed"
    assert requests.writes() == []


# --- never weaker: pure, every existing policy and every configuration ---------------------------------

existing_policies = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {
            **{name: st.booleans() for name in iam_password_policy.REQUIRED_CLASSES},
            "MinimumPasswordLength": st.integers(6, 128),
            "AllowUsersToChangePassword": st.booleans(),
            "ExpirePasswords": st.booleans(),
        },
        optional={"PasswordReusePrevention": st.integers(1, 24), "MaxPasswordAge": st.integers(1, 1095), "HardExpiry": st.booleans()},
    ),
)
configurations = st.builds(
    iam_password_policy.Params,
    st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.integers(6, 128), st.integers(1, 24), st.integers(1, 1095),
)


def strength(policy: dict[str, Any] | None) -> dict[str, Any]:
    """Each field on a scale where larger is stricter (never-expiring passwords are the weakest age)."""
    policy = policy or {}
    age = policy.get("MaxPasswordAge") or 0
    return {
        **{name: bool(policy.get(name)) for name in iam_password_policy.REQUIRED_CLASSES},
        "MinimumPasswordLength": policy.get("MinimumPasswordLength", 0),
        "PasswordReusePrevention": policy.get("PasswordReusePrevention", 0),
        "MaxPasswordAge": -age if age else -10_000,
    }


@settings(max_examples=2000, deadline=None)
@given(existing=existing_policies, config=configurations)
def test_no_field_of_the_result_is_weaker_than_the_existing_policy_or_the_configuration(existing: dict[str, Any] | None, config: iam_password_policy.Params) -> None:
    state = iam_password_policy.PasswordPolicyState(ACCOUNT, existing)
    planned = iam_password_policy.plan(state, config)
    assert planned is None or isinstance(planned, Plan)
    result = existing if planned is None else planned.calls[0].params
    assert planned is None or [call.operation for call in planned.calls] == ["UpdateAccountPasswordPolicy"]
    before, after = strength(existing), strength(dict(result or {}))
    assert all(after[name] >= before[name] for name in before), (existing, result)
    wanted = strength({**config.required, "MinimumPasswordLength": config.minimum_length, "PasswordReusePrevention": config.reuse_prevention, "MaxPasswordAge": config.max_age})
    if planned is not None or existing is not None:
        assert all(after[name] >= wanted[name] for name in wanted), (config, result)
    if planned is not None:
        sent = planned.calls[0].params
        # UpdateAccountPasswordPolicy resets omitted fields: every field is sent, the two flags as they were.
        assert set(sent) == set(iam_password_policy.POLICY_FIELDS)
        assert sent["AllowUsersToChangePassword"] == bool((existing or {}).get("AllowUsersToChangePassword"))
        assert sent["HardExpiry"] == bool((existing or {}).get("HardExpiry"))


@settings(max_examples=1000, deadline=None)
@given(existing=existing_policies, config=configurations)
def test_scan_agrees_with_the_fixer(existing: dict[str, Any] | None, config: iam_password_policy.Params) -> None:
    state = iam_password_policy.PasswordPolicyState(ACCOUNT, existing)
    raw = {**config.required, "MinimumPasswordLength": config.minimum_length, "PasswordReusePrevention": config.reuse_prevention, "MaxPasswordAge": config.max_age}
    verdict = config_verdict(KEY, state.to_json(), raw)
    assert (iam_password_policy.plan(state, config) is not None) == (verdict == "NON_COMPLIANT")


MOTO_SETTINGS = settings(max_examples=20, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@MOTO_SETTINGS
@given(existing=existing_policies.filter(lambda policy: policy is not None), config=configurations)
def test_never_weaker_through_moto(deploy, existing: dict[str, Any], config: iam_password_policy.Params) -> None:
    iam = boto3.client("iam")
    iam.update_account_password_policy(**{name: value for name, value in existing.items() if name != "ExpirePasswords"})
    before = current_policy()
    raw = {**config.required, "MinimumPasswordLength": config.minimum_length, "PasswordReusePrevention": config.reuse_prevention, "MaxPasswordAge": config.max_age}
    deploy(rules={KEY: rule_entry(raw)})
    record = run()
    assert record["decision"] in ("remediated", "already_compliant"), record["reason"]
    after = current_policy()
    assert all(strength(after)[name] >= strength(before)[name] for name in strength(before))
    assert (after["AllowUsersToChangePassword"], after.get("HardExpiry", False)) == (before["AllowUsersToChangePassword"], before.get("HardExpiry", False))
    iam.delete_account_password_policy()


# --- undo: computed from the before-state ---------------------------------------------------------


def test_undo_restores_the_before_state_exactly() -> None:
    boto3.client("iam").update_account_password_policy(**WEAK)
    record = run()
    calls = iam_password_policy.undo_calls(TARGET, record["before"], record["change"], params(), None)
    assert [call.to_json() for call in calls] == record["undo"]
    for call in calls:
        base.call(call)
    assert iam_password_policy.read_state(TARGET).to_json() == record["before"]


def test_undo_of_a_created_policy_deletes_it() -> None:
    record = run()
    for call in iam_password_policy.undo_calls(TARGET, record["before"], record["change"], params(), None):
        base.call(call)
    assert iam_password_policy.read_state(TARGET).policy is None


@pytest.mark.parametrize(
    ("before", "refusal"),
    [
        ({"account": ACCOUNT, "passwordPolicy": {**DEFAULTS, "AllowUsersToChangePassword": False}}, "would not have changed"),
        ({"account": "999999999999", "passwordPolicy": None}, "names account"),
        ({"account": ACCOUNT}, "no password policy entry"),
        ({"account": ACCOUNT, "passwordPolicy": {"MinimumPasswordLength": 2}}, "outside 6-128"),
        ({"account": ACCOUNT, "passwordPolicy": {"RequireSymbols": "no"}}, "non-boolean field"),
        ({"account": ACCOUNT, "passwordPolicy": {"PolicyArn": True}}, "unknown"),
        ({"account": ACCOUNT, "passwordPolicy": "weak"}, "not a JSON object"),
    ],
)
def test_undo_refuses_a_forged_record(before: dict[str, Any], refusal: str) -> None:
    with pytest.raises(UndoRefused, match=refusal):
        iam_password_policy.undo_calls(TARGET, before, {}, params(), None)


# --- params and the Config rule's InputParameters ---------------------------------------------------


def test_input_parameters_are_strings_with_lowercase_booleans() -> None:
    entry = CATALOG[KEY]
    inputs = entry.config_rule.input_parameters({**DEFAULTS, "RequireSymbols": False})
    assert inputs == {
        "RequireUppercaseCharacters": "true", "RequireLowercaseCharacters": "true", "RequireSymbols": "false", "RequireNumbers": "true",
        "MinimumPasswordLength": "14", "PasswordReusePrevention": "24", "MaxPasswordAge": "90",
    }
    assert entry.scope == "account" and entry.engines == ("lambda",) and entry.config_rule.scope_resource_types == ()
    assert {spec.name: spec.default for spec in entry.params} == DEFAULTS


@pytest.mark.parametrize(
    ("name", "value"),
    [("MinimumPasswordLength", 5), ("MinimumPasswordLength", 129), ("PasswordReusePrevention", 0), ("PasswordReusePrevention", 25),
     ("MaxPasswordAge", 0), ("MaxPasswordAge", 1096), ("MaxPasswordAge", True), ("RequireSymbols", "true")],
)
def test_bad_params_are_one_sentence_naming_the_key(name: str, value: Any) -> None:
    with pytest.raises(ValueError, match=rf"^params\.{name} must be"):
        iam_password_policy.parse_params({**DEFAULTS, name: value})
    spec = next(spec for spec in CATALOG[KEY].params if spec.name == name)
    assert spec.check(value) is not None
