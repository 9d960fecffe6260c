"""``undo_record`` step by step, on one account-level record, without AWS: every outcome and its exact words.

The fixer's reads and the calls undo makes are replaced by scripted ones, so each branch (nothing
to undo, unreadable resource, no verified after-state, changed resource, edited record, exempt
resource, a call AWS refuses halfway) is checked on its own and quickly. The end-to-end tests in
test_undo_safety.py and test_scan_apply_undo.py run the same code against the emulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from governance.cli import fleet, undo
from governance.cli.sessions import CLIENT_CONFIG, AccountSessions
from governance.lambda_code import lambda_module
from governance.settings import load_settings

ACCOUNT = "123456789012"
FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
SOME_ON = {"BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": True, "RestrictPublicBuckets": False}
ALL_ON = dict.fromkeys(FLAGS, True)
RESTORE = {"service": "s3control", "operation": "PutPublicAccessBlock", "params": {"AccountId": ACCOUNT, "PublicAccessBlockConfiguration": SOME_ON}}
SETTINGS = {"regions": ["us-east-1"], "accounts": [{"id": ACCOUNT}], "rules": {"s3-account-public-access": {"mode": "auto"}}}

fixer = lambda_module("fixers.s3_account_public_access")
base = lambda_module("fixers.base")
clients = lambda_module("clients")


def record(**changes: Any) -> dict[str, Any]:
    """A remediated record of the account's Block Public Access, as apply writes it."""
    made = {
        "recordId": "rec-1", "decision": "remediated", "account": ACCOUNT, "region": "us-east-1", "ruleKey": "s3-account-public-access",
        "resourceType": "AWS::::Account", "resourceId": ACCOUNT,
        "before": {"owner": ACCOUNT, "publicAccessBlock": SOME_ON}, "after": {"owner": ACCOUNT, "publicAccessBlock": ALL_ON},
        "change": {"summary": "Turn on account-level Block Public Access flags", "calls": [], "detail": {}}, "undo": [RESTORE],
    }
    made.update(changes)
    return made


def refused(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} for {operation}"}}, operation)


class Account:
    """The account as undo sees it: its flags now, and every call undo makes (or an error for one of them)."""

    def __init__(self, flags: dict[str, bool] | None = ALL_ON, failing: int | None = None) -> None:
        self.flags, self.failing = flags, failing
        self.calls: list[dict[str, Any]] = []
        self.sessions: list[Any] = []
        self.checkpoints: list[tuple[str, Any]] = []

    def read_state(self, target: Any) -> Any:
        self.sessions.append(clients._SESSION.get())
        if self.flags is None:
            raise refused("AccessDenied", "GetPublicAccessBlock")
        return fixer.PublicAccessState(target.account, dict(self.flags))

    def call(self, api_call: Any) -> dict[str, Any]:
        if len(self.calls) == self.failing:
            raise refused("SlowDown", api_call.operation)
        self.calls.append(api_call.to_json())
        return {}


@pytest.fixture
def account(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    scripted = Account()
    monkeypatch.setattr(fixer, "read_state", scripted.read_state)
    monkeypatch.setattr(base, "call", scripted.call)
    monkeypatch.setattr(fleet, "checkpoint", lambda step, subject: scripted.checkpoints.append((step, subject)))
    yield scripted


def run(made: dict[str, Any], force: bool = False) -> undo.UndoResult:
    return undo.undo_record(made, load_settings(SETTINGS), AccountSessions(), force)


def test_an_honest_record_is_undone_in_the_records_account_session(account: Account) -> None:
    made = record()
    result = run(made)
    assert result == undo.UndoResult("rec-1", True, "restored the recorded before-state", (RESTORE,))
    assert account.calls == [RESTORE] and account.checkpoints == [("write", made)]
    ((session, config),) = account.sessions
    assert (session.region_name, config) == ("us-east-1", CLIENT_CONFIG)


@pytest.mark.parametrize("decision", ["exempt", "dry_run", "already_compliant"])
def test_a_record_that_wrote_nothing_is_skipped(account: Account, decision: str) -> None:
    assert run(record(decision=decision)) == undo.UndoResult("rec-1", False, f"nothing to undo: the record's decision is {decision}", skipped=True)
    assert account.sessions == [] and account.calls == []


def test_a_resource_that_cannot_be_read_is_not_undone(account: Account) -> None:
    account.flags = None
    result = run(record())
    assert result == undo.UndoResult("rec-1", False, "the resource could not be read: AccessDenied: AccessDenied for GetPublicAccessBlock")
    assert account.calls == []


def test_a_record_without_a_verified_after_state_needs_force(account: Account) -> None:
    assert run(record(after=None)) == undo.UndoResult(
        "rec-1", False,
        "the record has no verified after-state, so a later change cannot be ruled out; pass --force to restore the recorded state anyway",
    )
    assert account.calls == []
    assert run(record(after=None), force=True).undone is True
    assert account.calls == [RESTORE]


def test_a_resource_changed_since_the_record_needs_force(account: Account) -> None:
    account.flags = {**ALL_ON, "IgnorePublicAcls": False}
    assert run(record()) == undo.UndoResult("rec-1", False, "the resource changed since the record was made; pass --force to restore the recorded state anyway")
    assert account.calls == []
    assert run(record(), force=True).undone is True


def test_an_after_state_equal_but_for_key_order_is_not_a_change(account: Account) -> None:
    reordered = {"publicAccessBlock": dict(reversed(list(ALL_ON.items()))), "owner": ACCOUNT}
    assert run(record(after=reordered)).undone is True


def test_listed_undo_calls_that_differ_from_the_computed_ones_are_refused(account: Account) -> None:
    edited = {**RESTORE, "params": {"AccountId": ACCOUNT, "PublicAccessBlockConfiguration": dict.fromkeys(FLAGS, False)}}
    result = run(record(undo=[edited]))
    assert result == undo.UndoResult(
        "rec-1", False, "refused: the record's undo calls differ from the inverse the fixer computes from its before-state, so the record was edited",
    )
    assert account.calls == []


@pytest.mark.parametrize("listed", [None, []])
def test_a_record_that_lists_no_undo_calls_is_undone_by_the_computed_ones(account: Account, listed: Any) -> None:
    assert run(record(undo=listed)).calls == (RESTORE,)


def test_a_record_whose_change_is_missing_is_undone_from_its_before_state(account: Account) -> None:
    assert run(record(change=None)).calls == (RESTORE,)


def test_a_before_state_that_is_not_an_object_is_refused(account: Account) -> None:
    assert run(record(before=[SOME_ON])) == undo.UndoResult("rec-1", False, "refused: the record's before-state is not a JSON object")


def test_a_change_that_is_not_an_object_is_refused(account: Account) -> None:
    assert run(record(change="PutPublicAccessBlock")) == undo.UndoResult("rec-1", False, "refused: the record's change is not a JSON object")


def test_a_resource_exempt_now_is_not_undone(account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fixer, "is_exempt", lambda target, state, change, tag: True)
    assert run(record()) == undo.UndoResult("rec-1", False, "refused: the resource is tagged governance:exempt now; remove the tag to undo the change")
    assert account.calls == []


def test_an_aws_error_outside_the_read_and_the_writes_is_reported(account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    def throttled(target: Any, state: Any, change: Any, tag: str) -> bool:
        raise refused("Throttling", "ListTags")

    monkeypatch.setattr(fixer, "is_exempt", throttled)
    assert run(record()) == undo.UndoResult("rec-1", False, "AWS refused a call: Throttling: Throttling for ListTags")


def test_a_call_refused_halfway_reports_the_calls_already_made(account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    twice = (base.ApiCall("s3control", "PutPublicAccessBlock", RESTORE["params"]), base.ApiCall("s3control", "PutPublicAccessBlock", RESTORE["params"]))
    monkeypatch.setattr(fixer, "undo_calls", lambda *args: twice)
    account.failing = 1
    made = record(undo=None)
    result = run(made)
    assert result == undo.UndoResult("rec-1", False, "PutPublicAccessBlock failed: SlowDown: SlowDown for PutPublicAccessBlock", (RESTORE,))
    assert account.checkpoints == [("write", made)]


def test_a_record_of_an_account_outside_the_stack_is_refused_before_any_read(account: Account) -> None:
    assert run(record(account="999999999999")) == undo.UndoResult("rec-1", False, "refused: account '999999999999' is not in this stack")
    assert account.sessions == []


def test_the_fixer_computes_the_undo_from_the_record_the_stacks_params_and_the_state_read_now(account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    computed: list[tuple[Any, ...]] = []
    asked: list[tuple[Any, ...]] = []
    real_undo_calls = fixer.undo_calls

    def undo_calls(target: Any, before: Any, change: Any, params: Any, current: Any) -> Any:
        computed.append((target.resource_id, before, change, params, current))
        return real_undo_calls(target, before, change, params, current)

    def is_exempt(target: Any, state: Any, change: Any, tag: str) -> bool:
        asked.append((target.resource_id, state, [call.to_json() for call in change.calls], tag))
        return False

    monkeypatch.setattr(fixer, "undo_calls", undo_calls)
    monkeypatch.setattr(fixer, "is_exempt", is_exempt)
    made = record()
    assert run(made).undone is True
    current = fixer.PublicAccessState(ACCOUNT, ALL_ON)
    assert computed == [(ACCOUNT, made["before"], made["change"], fixer.Params(), current)]
    assert asked == [(ACCOUNT, current, [RESTORE], "governance:exempt")]
