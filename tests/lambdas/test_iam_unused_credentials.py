"""iam-unused-credentials: deactivates unused access keys, never deletes a key or a console password, undo reactivates exactly them.

moto 5.2.5 gaps, modelled: users get random lower-case ids (AWS: ``AIDA…``) and moto cannot be told
when a key or password was last used, so the scenarios (tests/lambdas/lambda_scenarios.py) set the
user id, the key's creation and last use, and the user's creation (moto dates the login profile
with it) on moto's backend objects; what the fixer reads goes through the API. ListUsers never pages
in moto, and real AWS answers GetAccessKeyLastUsed for a never-used key with ``N/A`` and no date:
both are stubbed below with botocore's Stubber in AWS's shapes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from conftest import ACCOUNT, REGION, FakeContext, compliance_event, rule_name
from faults import inject_error
from hypothesis import given, settings
from hypothesis import strategies as st
from lambda_scenarios import LONG_AGO, iam_user, user_name
from remediation import clients
from remediation.fixers import iam_unused_credentials
from remediation.fixers.base import NoAction, Plan, Target, call
from remediation.fixers.iam_unused_credentials import AccessKey, CredentialsState, Params
from remediation.fixers.inverse import UndoRefused
from remediation.handler import lambda_handler

from governance.catalog import CATALOG
from governance.compliance import config_verdict
from governance.settings import ConfigError, load_settings

KEY = "iam-unused-credentials"
TYPE = "AWS::IAM::User"
DEFAULT = Params(90)
NOW = datetime(2026, 12, 1, tzinfo=UTC)
USER_ID = "AIDA0123456789ABCDEF0"
TARGET = Target(TYPE, USER_ID, ACCOUNT, REGION)


def run(user_id: str) -> dict[str, Any]:
    return lambda_handler(compliance_event(rule_name(KEY), TYPE, user_id), FakeContext())


def statuses(user_id: str) -> dict[str, str]:
    keys = boto3.client("iam").list_access_keys(UserName=user_name(user_id))["AccessKeyMetadata"]
    return {key["AccessKeyId"]: key["Status"] for key in keys}


def has_password(user_id: str) -> bool:
    try:
        boto3.client("iam").get_login_profile(UserName=user_name(user_id))
    except boto3.client("iam").exceptions.NoSuchEntityException:
        return False
    return True


def add_key(user_id: str, age: timedelta, last_used: timedelta | None) -> str:
    from moto.iam.models import AccessKeyLastUsed, iam_backends

    name = user_name(user_id)
    key_id = boto3.client("iam").create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
    key = next(k for k in iam_backends[ACCOUNT]["global"].users[name].access_keys if k.access_key_id == key_id)
    now = datetime.now(UTC)
    key.create_date = (now - age).replace(tzinfo=None)
    if last_used is not None:
        key.last_used = AccessKeyLastUsed(now - last_used, "s3", REGION)
    return str(key_id)


# --- through the handler, on moto ----------------------------------------------------------------


def test_only_the_stale_active_keys_are_deactivated(requests) -> None:
    user = iam_user("mixed", key_age=LONG_AGO, key_last_used=LONG_AGO)
    (stale,) = statuses(user)
    fresh = add_key(user, LONG_AGO, timedelta(days=2))
    record = run(user)
    assert record["decision"] == "remediated", record["reason"]
    assert statuses(user) == {stale: "Inactive", fresh: "Active"}
    assert [c["operation"] for c in record["apiCalls"] if c["operation"].startswith(("Update", "Delete", "Create"))] == ["UpdateAccessKey"]


def test_a_never_used_key_counts_from_its_creation(requests) -> None:
    old = iam_user("old-unused", key_age=timedelta(days=120))
    young = iam_user("young-unused", key_age=timedelta(days=10))
    assert run(young)["decision"] == "already_compliant"
    assert run(old)["decision"] == "remediated"
    assert set(statuses(old).values()) == {"Inactive"} and set(statuses(young).values()) == {"Active"}


def test_an_unused_password_alone_is_a_failure_saying_an_operator_must_remove_it(requests) -> None:
    user = iam_user("console-only", password_age=LONG_AGO)
    record = run(user)
    assert (record["decision"], record["level"]) == ("failed", "error")
    assert "an operator must remove it (DeleteLoginProfile)" in record["reason"]
    assert "cannot be undone" in record["reason"]
    assert requests.writes() == [], "nothing is written: not ListUserTags, not DeleteLoginProfile"
    assert has_password(user)


def test_stale_keys_next_to_an_unused_password_are_deactivated_and_the_record_stays_failed(requests) -> None:
    user = iam_user("both-stale", key_age=LONG_AGO, key_last_used=LONG_AGO, password_age=LONG_AGO)
    record = run(user)
    # Config keeps the user NON_COMPLIANT while the password exists: the record must not say remediated.
    assert record["decision"] == "failed"
    assert "still reads as non-compliant" in record["reason"]
    assert "an operator must remove it (DeleteLoginProfile)" in record["change"]["summary"]
    assert "an operator must remove it" in record["change"]["detail"]["consolePassword"]
    assert set(statuses(user).values()) == {"Inactive"}
    assert has_password(user), "the console password is never deleted"
    assert "DeleteLoginProfile" not in requests.writes()


def test_unreadable_tags_are_a_failure_without_a_write(requests) -> None:
    user = iam_user("tags-unreadable", key_age=LONG_AGO, key_last_used=LONG_AGO)
    inject_error("iam", "ListUserTags", "AccessDenied", 403)
    record = run(user)
    assert record["decision"] == "failed" and "exemptions fail closed" in record["reason"]
    assert requests.writes() == []
    assert set(statuses(user).values()) == {"Active"}


def test_a_user_deleted_before_the_event_is_handled_is_a_failure_without_a_write(requests) -> None:
    record = run("AIDAGONEGONEGONEGONE0")
    assert record["decision"] == "failed" and "no IAM user has the id" in record["reason"]
    assert requests.operations() == ["ListUsers"]


def test_a_key_deleted_between_the_read_and_the_write_is_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    user = iam_user("racing", key_age=LONG_AGO, key_last_used=LONG_AGO)
    original = iam_unused_credentials.apply

    def delete_then_apply(target: Target, change: Plan, params: Params) -> Plan:
        iam = boto3.client("iam")
        for key_id in statuses(user):
            iam.delete_access_key(UserName="racing", AccessKeyId=key_id)
        return original(target, change, params)

    monkeypatch.setattr(iam_unused_credentials, "apply", delete_then_apply)
    record = run(user)
    assert (record["decision"], record["level"]) == ("failed", "error")
    assert statuses(user) == {}, "nothing was re-created"


# --- undo ----------------------------------------------------------------------------------------


def test_undo_reactivates_exactly_the_keys_it_deactivated() -> None:
    user = iam_user("undo-me", key_age=LONG_AGO, key_last_used=LONG_AGO)
    fresh = add_key(user, LONG_AGO, timedelta(days=2))
    before = statuses(user)
    record = run(user)
    assert record["decision"] == "remediated"
    target = Target(TYPE, user, ACCOUNT, REGION)
    boto3.client("iam").update_access_key(UserName="undo-me", AccessKeyId=fresh, Status="Inactive")  # someone else's later change
    calls = iam_unused_credentials.undo_calls(target, record["before"], record["change"], DEFAULT, iam_unused_credentials.read_state(target))
    assert [(c.operation, c.params["AccessKeyId"], c.params["Status"]) for c in calls] == [("UpdateAccessKey", k, "Active") for k in before if k != fresh]
    for undo in calls:
        call(undo)
    assert statuses(user) == {**before, fresh: "Inactive"}, "only the fix's own keys are reactivated"


def _before(**changes: Any) -> dict[str, Any]:
    base = CredentialsState(USER_ID, "alice", "arn:aws:iam::123456789012:user/alice", NOW, None, None, (AccessKey("AKIA0000000000000001", "Active", NOW - LONG_AGO, NOW - LONG_AGO),)).to_json()
    return {**base, **changes}


CURRENT = CredentialsState(USER_ID, "alice", "arn:aws:iam::123456789012:user/alice", NOW, None, None, (AccessKey("AKIA0000000000000001", "Inactive", NOW - LONG_AGO),))


def test_an_honest_record_gets_its_key_back() -> None:
    (undo,) = iam_unused_credentials.undo_calls(TARGET, _before(), {}, DEFAULT, CURRENT)
    assert dict(undo.params) == {"UserName": "alice", "AccessKeyId": "AKIA0000000000000001", "Status": "Active"}


FORGED: dict[str, tuple[dict[str, Any], Any, str]] = {
    "another user's id": (_before(userId="AIDA9999999999999999"), CURRENT, "names IAM user id"),
    "another user's name": (_before(userName="bob"), CURRENT, "now named 'alice', not 'bob'"),
    "a key the user does not have now": (
        _before(accessKeys=[{"AccessKeyId": "AKIA0000000000000002", "Status": "Active", "CreateDate": (NOW - LONG_AGO).isoformat(), "LastUsedDate": None}]),
        CURRENT, "not a key of IAM user alice now",
    ),
    "a key id that is not one": (_before(accessKeys=[{"AccessKeyId": "../x", "Status": "Active", "CreateDate": NOW.isoformat()}]), CURRENT, "not one"),
    "a status IAM does not have": (_before(accessKeys=[{"AccessKeyId": "AKIA0000000000000001", "Status": "Deleted", "CreateDate": NOW.isoformat()}]), CURRENT, "status"),
    "a date that is not one": (_before(readAt="yesterday"), CURRENT, "read time is not a time"),
    "keys the fix would not change": (_before(readAt=(NOW - LONG_AGO).isoformat()), CURRENT, "nothing it could undo"),
    "a user that cannot be read now": (_before(), None, "could not be read by its id"),
}


@pytest.mark.parametrize(("before", "current", "refusal"), FORGED.values(), ids=list(FORGED))
def test_undo_refuses_a_forged_record(before: dict[str, Any], current: Any, refusal: str) -> None:
    with pytest.raises(UndoRefused, match=refusal):
        iam_unused_credentials.undo_calls(TARGET, before, {}, DEFAULT, current)


# --- the "never" column, and scan agreeing with the fixer, over many states ----------------------

days = st.integers(min_value=0, max_value=1000)
keys = st.lists(st.tuples(st.sampled_from(["Active", "Inactive"]), st.one_of(st.none(), days), days), max_size=3)
passwords = st.one_of(st.none(), st.tuples(st.one_of(st.none(), days), days))


def credentials(key_specs: list[tuple[str, int | None, int]], password: tuple[int | None, int] | None) -> CredentialsState:
    access_keys = tuple(
        AccessKey(f"AKIA{index:016d}", status, NOW - timedelta(days=age), NOW - timedelta(days=used) if used is not None else None)
        for index, (status, used, age) in enumerate(key_specs)
    )
    created = NOW - timedelta(days=password[1]) if password else None
    last = NOW - timedelta(days=password[0]) if password and password[0] is not None else None
    return CredentialsState(USER_ID, "alice", "arn:aws:iam::123456789012:user/alice", NOW, created, last, access_keys)


@settings(max_examples=500, deadline=None)
@given(keys, passwords, st.integers(min_value=1, max_value=400))
def test_a_plan_only_deactivates_active_keys_unused_for_longer_than_the_age(key_specs: Any, password: Any, age: int) -> None:
    state = credentials(key_specs, password)
    result = iam_unused_credentials.plan(state, Params(age))
    if not isinstance(result, Plan):
        return
    by_id = {key.key_id: key for key in state.keys}
    assert {c.operation for c in result.calls} == {"UpdateAccessKey"}, "never a delete, never a login-profile call"
    for write in result.calls:
        key = by_id[write.params["AccessKeyId"]]
        assert write.params["Status"] == "Inactive" and key.status == "Active"
        assert NOW - (key.last_used or key.created) > timedelta(days=age)
    assert [u.params["AccessKeyId"] for u in result.undo] == [c.params["AccessKeyId"] for c in result.calls]
    assert all(u.params["Status"] == "Active" for u in result.undo)


@settings(max_examples=500, deadline=None)
@given(keys, passwords, st.integers(min_value=1, max_value=400))
def test_scan_verdict_and_fixer_agree(key_specs: Any, password: Any, age: int) -> None:
    state = credentials(key_specs, password)
    verdict = config_verdict(KEY, state.to_json(), {"maxCredentialUsageAge": age})
    result = iam_unused_credentials.plan(state, Params(age))
    assert (result is not None) == (verdict == "NON_COMPLIANT"), (verdict, result)
    if isinstance(result, NoAction):
        assert "an operator must remove it" in result.reason


# --- moto gaps, modelled with AWS's shapes -------------------------------------------------------


def test_a_never_used_key_as_aws_reports_it_and_a_second_page_of_users() -> None:
    iam = clients.client("iam")
    stubber = Stubber(iam)
    created = datetime.now(UTC) - timedelta(days=100)
    stubber.add_response("list_users", {"Users": [], "IsTruncated": True, "Marker": "m1"}, {"MaxItems": 1000})
    user = {"Path": "/", "UserName": "ci", "UserId": USER_ID, "Arn": "arn:aws:iam::123456789012:user/ci", "CreateDate": created}
    stubber.add_response("list_users", {"Users": [user], "IsTruncated": False}, {"MaxItems": 1000, "Marker": "m1"})
    stubber.add_client_error("get_login_profile", "NoSuchEntity", "Login Profile for User ci cannot be found.", 404, expected_params={"UserName": "ci"})
    metadata = {"UserName": "ci", "AccessKeyId": "AKIA0000000000000001", "Status": "Active", "CreateDate": created}
    stubber.add_response("list_access_keys", {"AccessKeyMetadata": [metadata], "IsTruncated": False}, {"UserName": "ci"})
    # AWS: "If the access key has not been used … LastUsedDate … is null; ServiceName and Region are N/A".
    stubber.add_response("get_access_key_last_used", {"UserName": "ci", "AccessKeyLastUsed": {"ServiceName": "N/A", "Region": "N/A"}}, {"AccessKeyId": "AKIA0000000000000001"})
    with stubber:
        state = iam_unused_credentials.read_state(TARGET)
    stubber.assert_no_pending_responses()
    assert state.user_name == "ci" and state.keys[0].last_used is None and not state.has_password
    result = iam_unused_credentials.plan(state, DEFAULT)
    assert isinstance(result, Plan) and [c.params["AccessKeyId"] for c in result.calls] == ["AKIA0000000000000001"]


# --- ids, params, settings -----------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [(USER_ID, USER_ID), ("alice", None), ("aida0123456789abcdef0", None), ("AROA0123456789ABCDEF0", None)])
def test_resource_ids_are_user_ids(raw: str, expected: str | None) -> None:
    assert iam_unused_credentials.resource_id(TYPE, raw, ACCOUNT) == expected


@pytest.mark.parametrize("raw", [0, 3651, "90", True, 1.5])
def test_a_bad_age_is_refused_naming_the_param(raw: Any) -> None:
    with pytest.raises(ValueError, match=r"params\.maxCredentialUsageAge must be a whole number of days"):
        iam_unused_credentials.parse_params({"maxCredentialUsageAge": raw})


def _rules(rules: dict[str, Any]) -> dict[str, Any]:
    raw = {"regions": ["us-east-1", "eu-west-1"], "accounts": [{"id": ACCOUNT}], "rules": rules}
    return {rule.key: rule for rule in load_settings(raw).accounts[0].rules}


def test_listed_without_a_mode_it_is_manual_and_unlisted_it_is_off() -> None:
    assert KEY not in _rules({})
    assert _rules({KEY: {}})[KEY].mode == "manual"
    assert _rules({KEY: {"mode": "auto"}})[KEY].mode == "auto"


def test_there_is_no_ssm_engine_because_the_aws_runbook_deletes_console_passwords() -> None:
    assert CATALOG[KEY].ssm is None and CATALOG[KEY].scope == "account"
    with pytest.raises(ConfigError, match="engine must be one of lambda"):
        _rules({KEY: {"mode": "auto", "engine": "ssm"}})


def test_scan_discovers_every_user_by_id_and_the_fixer_reads_each(requests) -> None:
    from governance.cli.inventory import discover
    from governance.settings import Account

    stale = iam_user("scan-stale", key_age=LONG_AGO, key_last_used=LONG_AGO)
    busy = iam_user("scan-busy", key_age=LONG_AGO, key_last_used=timedelta(days=1))
    account = Account(ACCOUNT, "home", None, None, "aws", (REGION,), ())
    found = discover(KEY, boto3.Session(region_name=REGION), account, REGION)
    assert sorted(item.target.resource_id for item in found) == sorted([stale, busy])
    assert all(item.state is None and item.arn is None for item in found), "the fixer reads each user and its tags itself"
    verdicts = {item.target.resource_id: config_verdict(KEY, iam_unused_credentials.read_state(item.target).to_json(), {"maxCredentialUsageAge": 90}) for item in found}
    assert verdicts == {stale: "NON_COMPLIANT", busy: "COMPLIANT"}
