"""ssm-document-public: ``All`` leaves a document's Share permission, account shares stay.

Covers the resourceId forms (name, and a document ARN, since which one Config sends is unverified),
unreadable tags, a document that disappears mid-event, undo from the record's before-state with the
shared version it read (and refusal of forged records), and, as hypothesis properties, that only the
public entry is ever removed and that ``scan``'s Config verdict agrees with the fixer.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from conftest import ACCOUNT, REGION, FakeContext, compliance_event, rule_name
from faults import inject_error
from hypothesis import given
from hypothesis import strategies as st
from lambda_scenarios import SHARED_WITH, delete_document, document, document_shares
from remediation.fixers import ssm_document_public as fixer
from remediation.fixers.base import Plan, Target
from remediation.fixers.inverse import UndoRefused
from remediation.fixers.public_shares import account_shares, after_removal
from remediation.handler import lambda_handler

from governance.compliance import config_verdict

KEY = "ssm-document-public"
TYPE = "AWS::SSM::Document"
OTHER_ACCOUNT = "444455556666"


def run(resource_id: str) -> dict[str, Any]:
    return lambda_handler(compliance_event(rule_name(KEY), TYPE, resource_id), FakeContext())


IDS = [
    ("my-runbook", "my-runbook"),
    (f"arn:aws:ssm:{REGION}:{ACCOUNT}:document/my-runbook", "my-runbook"),
    (f"arn:aws:ssm:{REGION}:{OTHER_ACCOUNT}:document/their-runbook", None),
    ("ab", None),
    ("has space", None),
    ("x" * 129, None),
]


@pytest.mark.parametrize(("raw", "expected"), IDS)
def test_a_name_or_a_document_arn_of_this_account_is_accepted(raw: str, expected: str | None) -> None:
    assert fixer.resource_id(TYPE, raw, ACCOUNT) == expected
    assert fixer.resource_id("AWS::S3::Bucket", raw, ACCOUNT) is None


def test_a_document_named_by_its_arn_stops_being_public_and_keeps_its_account_shares() -> None:
    name = document(shared_with=("All", SHARED_WITH, OTHER_ACCOUNT))
    record = run(f"arn:aws:ssm:{REGION}:{ACCOUNT}:document/{name}")
    assert record["decision"] == "remediated", record["reason"]
    assert sorted(document_shares(name)) == sorted([SHARED_WITH, OTHER_ACCOUNT])
    assert record["change"]["calls"][0]["params"] == {"Name": name, "PermissionType": "Share", "AccountIdsToRemove": ["All"]}


def test_unreadable_tags_fail_closed_and_nothing_is_written(requests) -> None:
    name = document()
    inject_error("ssm", "ListTagsForResource", "AccessDeniedException", 400)
    record = run(name)
    assert record["decision"] == "failed" and "exemptions fail closed" in record["reason"]
    assert requests.writes() == []
    assert "All" in document_shares(name)


def test_a_document_gone_before_the_event_is_read_fails_without_a_write(requests) -> None:
    record = run("no-such-document")
    assert (record["decision"], record["level"]) == ("failed", "error")
    assert "InvalidDocument" in record["reason"]
    assert requests.writes() == []


def test_a_document_deleted_between_the_read_and_the_write_fails_the_event(monkeypatch) -> None:
    name = document()
    original = fixer.apply

    def delete_then_apply(target: Target, change: Plan, params: fixer.Params) -> Plan:
        delete_document(name)  # unshared first: SSM refuses to delete a shared document
        return original(target, change, params)

    monkeypatch.setattr(fixer, "apply", delete_then_apply)
    record = run(name)
    assert (record["decision"], record["level"]) == ("failed", "error")
    assert "InvalidDocument" in record["reason"]
    assert [call["operation"] for call in record["apiCalls"]][-1] == "ModifyDocumentPermission"


def test_undo_restores_the_before_state_exactly() -> None:
    name = document(shared_with=("All",))
    before = document_shares(name)
    record = run(name)
    assert document_shares(name) == []
    target = Target(TYPE, name, ACCOUNT, REGION)
    calls = fixer.undo_calls(target, record["before"], record["change"], fixer.Params(), None)
    assert [call.to_json() for call in calls] == record["undo"]
    (call,) = calls
    assert call.params == {"Name": name, "PermissionType": "Share", "AccountIdsToAdd": ["All"], "SharedDocumentVersion": "$DEFAULT"}
    boto3.client("ssm").modify_document_permission(**call.params)
    assert document_shares(name) == before


TARGET = Target(TYPE, "my-runbook", ACCOUNT, REGION)
BEFORE = {"name": "my-runbook", "accountIds": ["All", SHARED_WITH], "sharedVersions": {"All": "$DEFAULT", SHARED_WITH: "$DEFAULT"}}
FORGED = {
    "another document": {**BEFORE, "name": "other-runbook"},
    "a document that was not public": {**BEFORE, "accountIds": [SHARED_WITH]},
    "account ids that are not a list": {**BEFORE, "accountIds": "All"},
    "versions that are not a mapping": {**BEFORE, "sharedVersions": ["$DEFAULT"]},
    "a version that is not a string": {**BEFORE, "sharedVersions": {"All": 3}},
}


@pytest.mark.parametrize("before", FORGED.values(), ids=list(FORGED))
def test_undo_refuses_a_forged_record(before: dict[str, Any]) -> None:
    with pytest.raises(UndoRefused):
        fixer.undo_calls(TARGET, before, {}, fixer.Params(), None)


def test_a_numbered_shared_version_is_not_passed_back_because_the_api_refuses_it() -> None:
    (call,) = fixer.undo_calls(TARGET, {**BEFORE, "sharedVersions": {"All": "3"}}, {}, fixer.Params(), None)
    assert "SharedDocumentVersion" not in call.params


ACCOUNTS = st.lists(st.one_of(st.from_regex(r"\d{12}", fullmatch=True), st.sampled_from(["All", "all"])), max_size=8, unique=True)


@given(ACCOUNTS)
def test_only_the_public_entry_is_removed_and_scan_agrees(accounts: list[str]) -> None:
    state = fixer.DocumentShares("my-runbook", tuple(accounts), {})
    planned = fixer.plan(state, fixer.Params())
    assert (planned is not None) == (config_verdict(KEY, state.to_json(), {}) == "NON_COMPLIANT")
    if planned is None:
        assert account_shares(accounts) == tuple(accounts)
        return
    assert isinstance(planned, Plan)
    (call,) = planned.calls
    assert call.params["AccountIdsToRemove"] == ["All"] and "AccountIdsToAdd" not in call.params
    assert after_removal(accounts, call.params["AccountIdsToRemove"]) == account_shares(accounts), "every account-specific share survives"
    (undo,) = planned.undo
    assert undo.params["AccountIdsToAdd"] == ["All"] and "AccountIdsToRemove" not in undo.params


def test_scan_finds_the_documents_the_account_owns() -> None:
    from governance.cli.inventory import discover
    from governance.settings import Account

    name = document()
    account = Account(ACCOUNT, "home", None, None, "aws", (REGION,), ())
    found = discover(KEY, boto3.Session(region_name=REGION), account, REGION)
    assert [(item.target.resource_id, item.arn) for item in found] == [(name, f"arn:aws:ssm:{REGION}:{ACCOUNT}:document/{name}")]
