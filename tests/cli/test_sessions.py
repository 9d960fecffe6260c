"""Account sessions: a role is assumed once per account per run, again only near expiry, and a refusal stays with its account."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from governance.cli.sessions import CLIENT_CONFIG, MAX_WORKERS, AccountSessions, session_with
from governance.settings import Account
from tests.cli.aws_faults import Faults, faults  # noqa: F401

REGIONS = ("us-east-1", "eu-west-1", "eu-central-1")
HUB = Account("999999999999", "hub", "arn:aws:iam::999999999999:role/governance-deploy", None, "aws", REGIONS[:1], ())


def member(account_id: str) -> Account:
    return Account(account_id, account_id, f"arn:aws:iam::{account_id}:role/governance-member", None, "aws", REGIONS, ())


def assume_calls(faults: Faults, role: str | None = None) -> int:  # noqa: F811
    return sum(1 for call in faults.calls if call.operation == "AssumeRole" and role in (None, call.params["RoleArn"]))


class Clock:
    """A clock the test moves; moto's STS reads it too, so expiry times follow it."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def naive(self) -> datetime:
        return self.now.replace(tzinfo=None)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    monkeypatch.setattr("moto.sts.models.utcnow", moved.naive)
    return moved


def caller_identity(sessions: AccountSessions, account: Account, region: str) -> str:
    arn: str = sessions.regional(account, region).client("sts").get_caller_identity()["Arn"]
    return arn


def test_credentials_are_refreshed_only_when_they_near_expiry_and_every_region_shares_them(aws: None, faults: Faults, clock: Clock) -> None:  # noqa: F811
    sessions = AccountSessions(clock=clock)
    account = member("111111111111")
    sessions.enter_through_hub(HUB, [account.id])
    clients = [sessions.regional(account, region).client("s3") for region in REGIONS]  # clients made before any refresh
    for client in clients:
        client.list_buckets()
    assert assume_calls(faults, account.role_arn) == 1 and assume_calls(faults, HUB.role_arn) == 1

    clock.now += timedelta(minutes=40)  # 20 minutes left: nothing to do yet
    for client in clients:
        client.list_buckets()
    assert assume_calls(faults, account.role_arn) == 1

    before = clients[0]._request_signer._credentials.get_frozen_credentials().access_key
    clock.now += timedelta(minutes=10)  # 10 minutes left: inside botocore's refresh window
    for client in clients:
        client.list_buckets()
    assert assume_calls(faults, account.role_arn) == 2  # one refresh for every region's client
    after = {client._request_signer._credentials.get_frozen_credentials().access_key for client in clients}
    assert len(after) == 1 and before not in after

    clock.now += timedelta(minutes=30)  # the new credentials have 30 minutes left
    for client in clients:
        client.list_buckets()
    assert assume_calls(faults, account.role_arn) == 2


def test_a_run_longer_than_the_role_session_goes_on(aws: None, faults: Faults, clock: Clock) -> None:  # noqa: F811
    sessions = AccountSessions(clock=clock)
    account = member("111111111111")
    sessions.enter_through_hub(HUB, [account.id])
    client = sessions.client(account, "s3", "us-east-1")
    for _ in range(4):  # three hours
        client.list_buckets()
        clock.now += timedelta(minutes=55)
    assert assume_calls(faults, account.role_arn) == 4
    assert assume_calls(faults, HUB.role_arn) == 4  # the hub's credentials, which assume the member role again, expire too


def test_a_role_is_assumed_once_per_account_across_regions_and_threads(aws: None, faults: Faults) -> None:  # noqa: F811
    sessions = AccountSessions()
    accounts = [member(f"11111111111{index}") for index in range(4)]
    sessions.enter_through_hub(HUB, [account.id for account in accounts])
    work = [(account, region) for account in accounts for region in REGIONS] * 3
    with ThreadPoolExecutor(max_workers=8) as pool:
        arns = list(pool.map(lambda unit: caller_identity(sessions, *unit), work))
    assert {arn.split(":")[4] for arn in arns} == {account.id for account in accounts}
    assert all(assume_calls(faults, account.role_arn) == 1 for account in accounts)
    assert assume_calls(faults, HUB.role_arn) == 1  # every member role is assumed from the hub's session
    hub_caller = [call for call in faults.calls if call.operation == "AssumeRole" and call.params["RoleArn"] != HUB.role_arn]
    assert {call.access_key for call in hub_caller} == {sessions.hub_credentials().get_frozen_credentials().access_key}  # type: ignore[union-attr]


def test_an_account_whose_role_cannot_be_assumed_fails_alone_and_is_asked_once(aws: None, faults: Faults) -> None:  # noqa: F811
    sessions = AccountSessions()
    refused, fine = member("111111111111"), member("222222222222")
    sessions.enter_through_hub(HUB, [refused.id, fine.id])
    attempts: list[str] = []

    def deny(call: object) -> bool:
        if getattr(call, "operation", "") == "AssumeRole" and getattr(call, "params", {}).get("RoleArn") == refused.role_arn:
            attempts.append(refused.id)
            return True
        return False

    faults.fail("AccessDenied", deny)
    for region in REGIONS:
        with pytest.raises(ClientError, match="AccessDenied"):
            sessions.regional(refused, region)
        assert caller_identity(sessions, fine, region).split(":")[4] == fine.id
    assert attempts == [refused.id]


def test_every_session_shares_one_model_loader_and_each_client_keeps_a_connection_per_worker() -> None:
    first, second = session_with(None, "us-east-1"), session_with(None, "eu-west-1")
    loader = first._session.get_component("data_loader")
    assert loader is second._session.get_component("data_loader"), "each session would parse every service model again"
    assert first.client("ec2", config=CLIENT_CONFIG).meta.config.max_pool_connections == MAX_WORKERS
