"""The hub function's sessions in member accounts: the member role assumed once per account while its
credentials are fresh, refreshed before they expire, refused for bad, excluded or mismatched accounts."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from deployment_params import ACCOUNT
from remediation import calls, clients
from remediation.errors import is_transient
from remediation.member_sessions import (
    IAM_ACTIONS,
    MAX_DURATION_SECONDS,
    CredentialsForAnotherAccount,
    ExcludedAccount,
    InvalidAccountId,
    MemberAccessRefused,
    MemberRoleUnavailable,
    MemberSessions,
    session_name_for,
)

MEMBER = "111111111111"
OTHER = "222222222222"
ROLE = "governance-member"
REGION = "us-east-1"
T0 = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


class Clock:
    """A settable clock for the credentials' expiry checks."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def one_sentence(message: str) -> bool:
    return message.endswith(".") and ". " not in message and "\n" not in message


def role_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:role/{ROLE}"


def assumed(account: str, expires: datetime, key: str = "ASIAMEMBER0000000001", arn_account: str | None = None) -> dict[str, Any]:
    return {
        "Credentials": {"AccessKeyId": key, "SecretAccessKey": "secret", "SessionToken": "token", "Expiration": expires},
        "AssumedRoleUser": {
            "AssumedRoleId": "AROAEXAMPLE:governance-remediation",
            "Arn": f"arn:aws:sts::{arn_account or account}:assumed-role/{ROLE}/governance-remediation",
        },
    }


def expected_request(account: str) -> dict[str, Any]:
    return {"RoleArn": role_arn(account), "RoleSessionName": "governance-remediation", "DurationSeconds": MAX_DURATION_SECONDS}


@pytest.fixture
def stubbed() -> tuple[Any, Stubber]:
    sts = boto3.client("sts", region_name=REGION)
    return sts, Stubber(sts)


def sessions_with(sts: Any, clock: Callable[[], datetime] | None = None, **options: Any) -> MemberSessions:
    return MemberSessions(ROLE, "aws", ACCOUNT, sts_client=sts, clock=clock or Clock(T0), session_name="governance-remediation", **options)


# On moto: AssumeRole answers with credentials of the account named in the role ARN.


def test_the_member_session_acts_in_the_member_account_through_using_session() -> None:
    sessions = MemberSessions(ROLE, "aws", ACCOUNT)
    with calls.recording() as recorded:
        session = sessions.session_for(MEMBER)
        again = sessions.session_for(MEMBER)

    assert again is session and sessions.assume_role_calls(MEMBER) == 1
    assert [(entry["operation"], entry["params"]) for entry in recorded] == [
        ("AssumeRole", {"RoleArn": role_arn(MEMBER), "RoleSessionName": session_name_for(None), "DurationSeconds": 3600})
    ]
    with clients.using_session(session):
        assert clients.client("sts").get_caller_identity()["Account"] == MEMBER
        clients.client("s3").create_bucket(Bucket="member-bucket")
    assert "member-bucket" not in [bucket["Name"] for bucket in boto3.client("s3").list_buckets()["Buckets"]]
    with clients.using_session(session):
        assert [bucket["Name"] for bucket in clients.client("s3").list_buckets()["Buckets"]] == ["member-bucket"]


def test_each_account_gets_its_own_session_and_one_assume_role() -> None:
    sessions = MemberSessions(ROLE, "aws", ACCOUNT)

    first, second = sessions.session_for(MEMBER), sessions.session_for(OTHER)
    sessions.session_for(MEMBER)
    sessions.session_for(OTHER)

    assert first is not second
    assert (sessions.assume_role_calls(MEMBER), sessions.assume_role_calls(OTHER), sessions.assume_role_calls()) == (1, 1, 2)
    with clients.using_session(second):
        assert clients.client("sts").get_caller_identity()["Account"] == OTHER


def test_the_hub_account_is_reached_through_its_member_role_like_any_other() -> None:
    sessions = MemberSessions(ROLE, "aws", ACCOUNT)

    session = sessions.session_for(ACCOUNT)

    assert sessions.assume_role_calls(ACCOUNT) == 1 and sessions.session_for(ACCOUNT) is session
    assert session.client("sts").get_caller_identity()["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/")


def test_clients_made_before_a_refresh_sign_with_the_refreshed_credentials() -> None:
    clock = Clock(datetime.now(UTC))
    sessions = MemberSessions(ROLE, "aws", ACCOUNT, clock=clock)
    session = sessions.session_for(MEMBER)
    keys: list[str] = []
    with clients.using_session(session):
        sts = clients.client("sts")

    def signed_with(request: Any, **_: Any) -> None:
        keys.extend(re.findall(r"Credential=(\w+)/", request.headers["Authorization"].decode()))

    sts.meta.events.register_first("before-send", signed_with)
    sts.get_caller_identity()

    started = clock.now
    clock.now += timedelta(minutes=56)  # 4 minutes left
    assert sessions.session_for(MEMBER) is session
    # moto dates the new credentials from the real time: back to it, they have their full hour.
    clock.now = started
    sts.get_caller_identity()

    assert sessions.assume_role_calls(MEMBER) == 2
    assert len(keys) == 2 and keys[0] != keys[1] and keys[1].startswith("ASIA")


# Stubbed STS: what moto does not do.


def test_credentials_of_another_account_are_refused_and_not_cached(stubbed: tuple[Any, Stubber]) -> None:
    sts, stubber = stubbed
    stubber.add_response("assume_role", assumed(MEMBER, T0 + timedelta(hours=1), arn_account=OTHER), expected_request(MEMBER))
    stubber.add_response("assume_role", assumed(MEMBER, T0 + timedelta(hours=1)), expected_request(MEMBER))
    sessions = sessions_with(sts)

    with stubber, pytest.raises(CredentialsForAnotherAccount) as refused:
        sessions.session_for(MEMBER)
    assert OTHER in str(refused.value) and one_sentence(str(refused.value))

    with stubber:
        session = sessions.session_for(MEMBER)  # a second AssumeRole: nothing was kept from the first
    assert sessions.assume_role_calls(MEMBER) == 2
    assert session.get_credentials().get_frozen_credentials().access_key == "ASIAMEMBER0000000001"
    stubber.assert_no_pending_responses()


def test_a_malformed_assumed_role_arn_is_refused(stubbed: tuple[Any, Stubber]) -> None:
    sts, stubber = stubbed
    response = assumed(MEMBER, T0 + timedelta(hours=1))
    response["AssumedRoleUser"]["Arn"] = f"arn:aws:iam::{MEMBER}:user/someone"
    stubber.add_response("assume_role", response, expected_request(MEMBER))

    with stubber, pytest.raises(CredentialsForAnotherAccount):
        sessions_with(sts).session_for(MEMBER)


def test_credentials_are_refreshed_when_less_than_five_minutes_are_left(stubbed: tuple[Any, Stubber]) -> None:
    sts, stubber = stubbed
    expiry = T0 + timedelta(hours=1)
    stubber.add_response("assume_role", assumed(MEMBER, expiry, key="ASIAFIRST00000000001"), expected_request(MEMBER))
    stubber.add_response("assume_role", assumed(MEMBER, expiry + timedelta(hours=1), key="ASIASECOND0000000001"), expected_request(MEMBER))
    clock = Clock(T0)
    sessions = sessions_with(sts, clock)

    with stubber:
        session = sessions.session_for(MEMBER)
        clock.now = expiry - timedelta(minutes=5, seconds=1)
        assert sessions.session_for(MEMBER) is session and sessions.assume_role_calls(MEMBER) == 1
        clock.now = expiry - timedelta(minutes=4, seconds=59)
        assert sessions.session_for(MEMBER) is session
        assert sessions.assume_role_calls(MEMBER) == 2
        clock.now = expiry + timedelta(minutes=30)
        sessions.session_for(MEMBER)
    assert sessions.assume_role_calls(MEMBER) == 2
    assert session.get_credentials().get_frozen_credentials().access_key == "ASIASECOND0000000001"
    stubber.assert_no_pending_responses()


def test_a_refresh_that_returns_another_accounts_credentials_is_refused(stubbed: tuple[Any, Stubber]) -> None:
    sts, stubber = stubbed
    expiry = T0 + timedelta(hours=1)
    stubber.add_response("assume_role", assumed(MEMBER, expiry, key="ASIAFIRST00000000001"), expected_request(MEMBER))
    stubber.add_response("assume_role", assumed(MEMBER, expiry + timedelta(hours=1), key="ASIAOTHER00000000001", arn_account=OTHER))
    clock = Clock(T0)
    sessions = sessions_with(sts, clock)

    with stubber:
        session = sessions.session_for(MEMBER)
        clock.now = expiry - timedelta(minutes=1)
        with pytest.raises(CredentialsForAnotherAccount):
            sessions.session_for(MEMBER)
    assert session.get_credentials()._access_key == "ASIAFIRST00000000001"  # the refused keys were not taken


def test_an_excluded_account_is_refused_without_a_request(stubbed: tuple[Any, Stubber]) -> None:
    sts, stubber = stubbed
    sessions = sessions_with(sts, excluded={MEMBER, ACCOUNT})

    with stubber:
        for account in (MEMBER, ACCOUNT):
            with pytest.raises(ExcludedAccount) as refused:
                sessions.session_for(account)
            assert one_sentence(str(refused.value)) and account in str(refused.value)
    assert sessions.assume_role_calls() == 0
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize("account_id", ["11111111111", "1111111111111", "11111111111a", "", " 111111111111", "１１１１１１１１１１１１"])
def test_an_account_id_that_is_not_12_digits_is_refused_without_a_request(stubbed: tuple[Any, Stubber], account_id: str) -> None:
    sts, stubber = stubbed
    sessions = sessions_with(sts)

    with stubber, pytest.raises(InvalidAccountId) as refused:
        sessions.session_for(account_id)
    assert one_sentence(str(refused.value)) and sessions.assume_role_calls() == 0


@pytest.mark.parametrize("code", ["AccessDenied", "ExpiredToken", "RegionDisabledException"])
def test_a_denied_or_expired_assume_role_is_a_permanent_refusal(stubbed: tuple[Any, Stubber], code: str) -> None:
    sts, stubber = stubbed
    stubber.add_client_error("assume_role", code, "User is not authorized to perform: sts:AssumeRole.", 403, expected_params=expected_request(MEMBER))

    with stubber, pytest.raises(MemberRoleUnavailable) as refused:
        sessions_with(sts).session_for(MEMBER)

    error = refused.value
    assert error.code == code and isinstance(error.__cause__, ClientError) and not is_transient(error)
    assert one_sentence(str(error)) and role_arn(MEMBER) in str(error) and code in str(error)


def test_a_throttled_assume_role_is_raised_as_transient_and_nothing_is_cached(stubbed: tuple[Any, Stubber]) -> None:
    sts, stubber = stubbed
    stubber.add_client_error("assume_role", "Throttling", "Rate exceeded", 400, expected_params=expected_request(MEMBER))
    stubber.add_response("assume_role", assumed(MEMBER, T0 + timedelta(hours=1)), expected_request(MEMBER))
    sessions = sessions_with(sts)

    with stubber:
        with pytest.raises(ClientError) as raised:
            sessions.session_for(MEMBER)
        assert is_transient(raised.value) and not isinstance(raised.value, MemberAccessRefused)
        sessions.session_for(MEMBER)
    assert sessions.assume_role_calls(MEMBER) == 2


class SlowSts:
    """An STS client whose AssumeRole takes a while, so that concurrent callers overlap."""

    def __init__(self, expires: datetime) -> None:
        self.expires = expires
        self.calls = 0
        self._lock = threading.Lock()

    def assume_role(self, RoleArn: str, **_: Any) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
            number = self.calls
        time.sleep(0.05)
        return assumed(RoleArn.split(":")[4], self.expires, key=f"ASIASLOW{number:012d}")


def run_together(count: int, action: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        results[index] = action()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_eight_threads_asking_for_one_account_cause_one_assume_role_and_one_refresh() -> None:
    clock = Clock(T0)
    sts = SlowSts(T0 + timedelta(hours=1))
    sessions = sessions_with(sts, clock)

    first = run_together(8, lambda: sessions.session_for(MEMBER))
    assert sts.calls == 1 and sessions.assume_role_calls(MEMBER) == 1
    assert all(session is first[0] for session in first)

    sts.expires = T0 + timedelta(hours=2)
    clock.now = T0 + timedelta(minutes=57)
    again = run_together(8, lambda: sessions.session_for(MEMBER))
    assert sts.calls == 2 and all(session is first[0] for session in again)


def test_the_session_name_is_valid_and_names_the_function(monkeypatch: pytest.MonkeyPatch) -> None:
    assert session_name_for("governance-remediation") == "governance-remediation"
    assert session_name_for("my function/ä") == "my-function--"
    assert session_name_for("x" * 80) == "x" * 64
    assert session_name_for("") == session_name_for(None) == "governance-remediation"
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "hub-remediation")
    assert MemberSessions(ROLE, "aws", ACCOUNT).session_name == "hub-remediation"


@pytest.mark.parametrize(
    "arguments",
    [
        {"role_name": "governance/member"},
        {"role_name": "gouvernance-é"},
        {"partition": "AWS"},
        {"own_account": "12345"},
        {"excluded": {"12345"}},
        {"duration_seconds": MAX_DURATION_SECONDS + 1},
        {"duration_seconds": 899},
    ],
)
def test_bad_settings_are_refused_at_construction(arguments: dict[str, Any]) -> None:
    settings: dict[str, Any] = {"role_name": ROLE, "partition": "aws", "own_account": ACCOUNT, **arguments}
    with pytest.raises(ValueError, match=r"\.$"):
        MemberSessions(**settings)


def test_the_module_declares_the_iam_action_it_calls() -> None:
    assert IAM_ACTIONS == ("sts:AssumeRole",)


def test_member_sessions_share_one_data_loader_whose_search_paths_do_not_grow() -> None:
    sessions = MemberSessions(ROLE, "aws", ACCOUNT)
    accounts = [f"3000000000{index:02d}" for index in range(5)]

    loaders = [sessions.session_for(account)._session.get_component("data_loader") for account in accounts]

    assert all(loader is loaders[0] for loader in loaders)
    assert len(loaders[0].search_paths) == len(set(loaders[0].search_paths))
    with clients.using_session(sessions.session_for(accounts[-1])):
        assert clients.client("sts").get_caller_identity()["Account"] == accounts[-1]
