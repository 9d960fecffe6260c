"""rds-snapshot-public: ``all`` leaves a DB or DB cluster snapshot's restore attribute, account shares stay.

Covers both resource types, both resourceId forms (identifier and ARN, since which one Config sends is
unverified), unreadable tags, a snapshot that disappears mid-event, undo from the record's
before-state (and refusal of forged records), and, as hypothesis properties, that only the public
entry is ever removed and that ``scan``'s Config verdict agrees with the fixer.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from conftest import ACCOUNT, EXEMPTION_TAG, REGION, FakeContext, compliance_event, rule_name
from faults import inject_error
from hypothesis import given
from hypothesis import strategies as st
from lambda_scenarios import SHARED_WITH, cluster_snapshot, db_snapshot, db_snapshot_restore
from remediation.fixers import rds_snapshot_public as fixer
from remediation.fixers.base import Plan, Target
from remediation.fixers.inverse import UndoRefused
from remediation.fixers.public_shares import account_shares, after_removal
from remediation.handler import lambda_handler

from governance.compliance import config_verdict

KEY = "rds-snapshot-public"
DB, CLUSTER = fixer.DB_SNAPSHOT, fixer.CLUSTER_SNAPSHOT
OTHER_ACCOUNT = "444455556666"


def run(resource_type: str, resource_id: str) -> dict[str, Any]:
    return lambda_handler(compliance_event(rule_name(KEY), resource_type, resource_id), FakeContext())


def cluster_restore(name: str) -> list[str]:
    result = boto3.client("rds").describe_db_cluster_snapshot_attributes(DBClusterSnapshotIdentifier=name)["DBClusterSnapshotAttributesResult"]
    return [value for attribute in result["DBClusterSnapshotAttributes"] if attribute["AttributeName"] == "restore" for value in attribute["AttributeValues"]]


# --- resource ids -------------------------------------------------------------------------------------

IDS = [
    (DB, "my-snapshot", "my-snapshot"),
    (DB, f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:my-snapshot", "my-snapshot"),
    (CLUSTER, f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster-snapshot:my-cluster-snapshot", "my-cluster-snapshot"),
    (DB, "rds:db-2024-01-01-00-00", "rds:db-2024-01-01-00-00"),
    (DB, f"arn:aws:rds:{REGION}:{OTHER_ACCOUNT}:snapshot:theirs", None),
    (DB, f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster-snapshot:wrong-type", None),
    (CLUSTER, f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:wrong-type", None),
    (DB, "1starts-with-a-digit", None),
    (DB, "ends-with-", None),
    (DB, "double--hyphen", None),
    (DB, "", None),
    ("AWS::S3::Bucket", "my-snapshot", None),
]


@pytest.mark.parametrize(("resource_type", "raw", "expected"), IDS)
def test_an_identifier_or_an_arn_of_this_account_is_accepted(resource_type: str, raw: str, expected: str | None) -> None:
    assert fixer.resource_id(resource_type, raw, ACCOUNT) == expected


# --- the fix on moto ------------------------------------------------------------------------------------


def test_a_db_snapshot_named_by_its_arn_is_made_private_and_keeps_its_account_shares() -> None:
    name = db_snapshot(restore=("all", SHARED_WITH, OTHER_ACCOUNT))
    record = run(DB, f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:{name}")
    assert record["decision"] == "remediated", record["reason"]
    assert sorted(db_snapshot_restore(name)) == sorted([SHARED_WITH, OTHER_ACCOUNT])
    assert record["change"]["calls"][0]["params"] == {"DBSnapshotIdentifier": name, "AttributeName": "restore", "ValuesToRemove": ["all"]}


def test_a_cluster_snapshot_is_made_private_with_the_cluster_api() -> None:
    name = cluster_snapshot()
    record = run(CLUSTER, name)
    assert record["decision"] == "remediated", record["reason"]
    assert cluster_restore(name) == [SHARED_WITH]
    assert [call["operation"] for call in record["apiCalls"]] == [
        "DescribeDBClusterSnapshotAttributes", "ListTagsForResource", "ModifyDBClusterSnapshotAttribute", "DescribeDBClusterSnapshotAttributes",
    ]
    assert record["undo"] == [{"service": "rds", "operation": "ModifyDBClusterSnapshotAttribute", "params": {"DBClusterSnapshotIdentifier": name, "AttributeName": "restore", "ValuesToAdd": ["all"]}}]


def test_an_exempt_cluster_snapshot_is_left_public(requests) -> None:
    name = cluster_snapshot()
    arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster-snapshot:{name}"
    boto3.client("rds").add_tags_to_resource(ResourceName=arn, Tags=[{"Key": EXEMPTION_TAG, "Value": ""}])
    record = run(CLUSTER, name)
    assert record["decision"] == "exempt"
    assert requests.writes() == []
    assert "all" in cluster_restore(name)


def test_unreadable_tags_fail_closed_and_nothing_is_written(requests) -> None:
    name = cluster_snapshot()
    inject_error("rds", "ListTagsForResource", "AccessDenied", 403)
    record = run(CLUSTER, name)
    assert record["decision"] == "failed" and "exemptions fail closed" in record["reason"]
    assert requests.writes() == []
    assert "all" in cluster_restore(name)


def test_a_snapshot_gone_before_the_event_is_read_fails_without_a_write(requests) -> None:
    record = run(DB, "no-such-snapshot")
    assert (record["decision"], record["level"]) == ("failed", "error")
    assert "DBSnapshotNotFound" in record["reason"]
    assert requests.writes() == []


def test_a_snapshot_deleted_between_the_read_and_the_write_fails_the_event(monkeypatch) -> None:
    name = cluster_snapshot()
    original = fixer.apply

    def delete_then_apply(target: Target, change: Plan, params: fixer.Params) -> Plan:
        boto3.client("rds").delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=name)
        return original(target, change, params)

    monkeypatch.setattr(fixer, "apply", delete_then_apply)
    record = run(CLUSTER, name)
    assert (record["decision"], record["level"]) == ("failed", "error")
    assert "DBClusterSnapshotNotFound" in record["reason"]


# --- undo -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("resource_type", [DB, CLUSTER])
def test_undo_restores_the_before_state_exactly(resource_type: str) -> None:
    name = db_snapshot() if resource_type == DB else cluster_snapshot()
    read = db_snapshot_restore if resource_type == DB else cluster_restore
    before = sorted(read(name))
    record = run(resource_type, name)
    target = Target(resource_type, name, ACCOUNT, REGION)
    calls = fixer.undo_calls(target, record["before"], record["change"], fixer.Params(), None)
    assert [call.to_json() for call in calls] == record["undo"]
    client = boto3.client("rds")
    for call in calls:
        getattr(client, "modify_db_snapshot_attribute" if resource_type == DB else "modify_db_cluster_snapshot_attribute")(**call.params)
    assert sorted(read(name)) == before


TARGET = Target(DB, "my-snapshot", ACCOUNT, REGION)
BEFORE = {"resourceType": DB, "identifier": "my-snapshot", "restore": ["all", SHARED_WITH]}
FORGED = {
    "another snapshot": {**BEFORE, "identifier": "other-snapshot"},
    "another snapshot type": {**BEFORE, "resourceType": CLUSTER},
    "a snapshot that was private": {**BEFORE, "restore": [SHARED_WITH]},
    "restore that is not a list": {**BEFORE, "restore": "all"},
    "restore with a number": {**BEFORE, "restore": ["all", 7]},
}


@pytest.mark.parametrize("before", FORGED.values(), ids=list(FORGED))
def test_undo_refuses_a_forged_record(before: dict[str, Any]) -> None:
    with pytest.raises(UndoRefused):
        fixer.undo_calls(TARGET, before, {}, fixer.Params(), None)


def test_undo_adds_back_only_the_public_entry() -> None:
    (call,) = fixer.undo_calls(TARGET, BEFORE, {}, fixer.Params(), None)
    assert (call.operation, call.params) == ("ModifyDBSnapshotAttribute", {"DBSnapshotIdentifier": "my-snapshot", "AttributeName": "restore", "ValuesToAdd": ["all"]})


# --- properties (pure) ---------------------------------------------------------------------------------------

RESTORE = st.lists(st.one_of(st.from_regex(r"\d{12}", fullmatch=True), st.sampled_from(["all", "All"])), max_size=8, unique=True)


@given(st.sampled_from([DB, CLUSTER]), RESTORE)
def test_only_the_public_entry_is_removed_and_scan_agrees(resource_type: str, restore: list[str]) -> None:
    state = fixer.SnapshotState(resource_type, "my-snapshot", tuple(restore))
    planned = fixer.plan(state, fixer.Params())
    assert (planned is not None) == (config_verdict(KEY, state.to_json(), {}) == "NON_COMPLIANT")
    if planned is None:
        assert account_shares(restore) == tuple(restore)
        return
    assert isinstance(planned, Plan)
    (call,) = planned.calls
    removed = call.params["ValuesToRemove"]
    assert removed and all(value.lower() == "all" for value in removed)
    assert "ValuesToAdd" not in call.params
    assert after_removal(restore, removed) == account_shares(restore), "every account-specific share survives"
    (undo,) = planned.undo
    assert undo.params["ValuesToAdd"] == removed


def test_scan_finds_the_manual_db_and_cluster_snapshots() -> None:
    from governance.cli.inventory import discover
    from governance.settings import Account

    db, cluster = db_snapshot(), cluster_snapshot()
    account = Account(ACCOUNT, "home", None, None, "aws", (REGION,), ())
    found = discover(KEY, boto3.Session(region_name=REGION), account, REGION)
    assert sorted((item.target.resource_type, item.target.resource_id, item.arn) for item in found) == [
        (CLUSTER, cluster, f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster-snapshot:{cluster}"),
        (DB, db, f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:{db}"),
    ]
    assert all(item.state is None for item in found), "the restore attribute is read per snapshot by the fixer"
