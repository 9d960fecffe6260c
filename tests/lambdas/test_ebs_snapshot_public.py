"""ebs-snapshot-public: the account's public snapshots lose the ``all`` group and nothing else.

Covers the per-snapshot exemption (exempt snapshots stay public and are named in the record),
snapshots of other owners, snapshots that disappear mid-event, unreadable tags, undo from the
record's before-state (and refusal of forged records), agreement between ``scan``'s Config verdict
and the fixer, and two moto 5.2.5 gaps, each modelled: moto ignores the structured
``CreateVolumePermission`` form of ModifySnapshotAttribute, and it ignores the ``OwnerIds`` and
``RestorableByUserIds`` filters of DescribeSnapshots (the Stubber tests give the answers AWS gives).
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from conftest import ACCOUNT, EXEMPTION_TAG, REGION, FakeContext, compliance_event, rule_name
from faults import inject_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lambda_scenarios import SHARED_WITH, own_snapshots, snapshot, snapshot_permissions
from remediation import engine
from remediation.fixers import ebs_snapshot_public as fixer
from remediation.fixers.base import Plan, Target
from remediation.fixers.inverse import UndoRefused
from remediation.fixers.public_shares import account_shares, after_removal, public_entries
from remediation.handler import lambda_handler
from remediation.securityhub import workflow_status

from governance.compliance import config_verdict

KEY = "ebs-snapshot-public"
TARGET = Target("AWS::::Account", ACCOUNT, ACCOUNT, REGION)
OTHER_ACCOUNT = "444455556666"


def run() -> dict[str, Any]:
    return lambda_handler(compliance_event(rule_name(KEY), "AWS::::Account", ACCOUNT), FakeContext())


def tag(snapshot_id: str) -> None:
    boto3.client("ec2").create_tags(Resources=[snapshot_id], Tags=[{"Key": EXEMPTION_TAG, "Value": "deliberately public"}])


def public(snapshot_id: str) -> bool:
    return {"Group": "all"} in snapshot_permissions(snapshot_id)


# --- the fix on moto --------------------------------------------------------------------------------


def test_every_public_snapshot_is_made_private_and_account_shares_stay(requests) -> None:
    first, second = snapshot(), snapshot(shared_with=(SHARED_WITH, OTHER_ACCOUNT))
    private = snapshot(public=False)
    record = run()
    assert record["decision"] == "remediated", record["reason"]
    assert snapshot_permissions(first) == [{"UserId": SHARED_WITH}]
    assert sorted(entry["UserId"] for entry in snapshot_permissions(second)) == sorted([SHARED_WITH, OTHER_ACCOUNT])
    assert snapshot_permissions(private) == [{"UserId": SHARED_WITH}], "a private snapshot is not written to"
    writes = [call for call in record["apiCalls"] if call["operation"] == "ModifySnapshotAttribute"]
    assert sorted(call["params"]["SnapshotId"] for call in writes) == sorted([first, second])
    assert all(call["params"] == {"SnapshotId": call["params"]["SnapshotId"], "Attribute": "createVolumePermission", "OperationType": "remove", "GroupNames": ["all"]} for call in writes)
    assert record["change"]["detail"]["snapshots"] == sorted([first, second])
    assert [call["params"]["OperationType"] for call in record["undo"]] == ["add", "add"]
    assert record["after"] == {"account": ACCOUNT, "publicSnapshots": []}


def test_an_exempt_snapshot_stays_public_and_is_named_while_the_others_are_fixed() -> None:
    exempt, other = snapshot(), snapshot()
    tag(exempt)
    record = run()
    assert (record["decision"], record["level"]) == ("remediated", "warning"), record["reason"]
    assert public(exempt) and not public(other)
    assert record["change"]["detail"]["exempt"] == [exempt]
    assert record["change"]["detail"]["snapshots"] == [other]
    assert [call["params"]["SnapshotId"] for call in record["undo"]] == [other]
    assert f"exempt snapshot(s) {exempt} stay public" in record["reason"]
    assert [entry["snapshotId"] for entry in record["after"]["publicSnapshots"]] == [exempt]


def test_a_partial_fix_is_not_verified_so_security_hub_is_never_told_resolved() -> None:
    exempt, _other = snapshot(), snapshot()
    tag(exempt)
    outcome = engine.remediate_target(KEY, "auto", TARGET, fixer.Params(), EXEMPTION_TAG)
    assert outcome.decision == "remediated" and not outcome.verified
    assert workflow_status(outcome.decision, outcome.verified) == "NOTIFIED"
    # The next evaluation finds only the exempt snapshot: exempt, nothing written.
    again = engine.remediate_target(KEY, "auto", TARGET, fixer.Params(), EXEMPTION_TAG)
    assert again.decision == "exempt"


def test_when_every_public_snapshot_is_exempt_nothing_is_written(requests) -> None:
    for snapshot_id in (snapshot(), snapshot()):
        tag(snapshot_id)
    record = run()
    assert record["decision"] == "exempt"
    assert requests.writes() == []
    assert all(public(snapshot_id) for snapshot_id in own_snapshots())


def test_unreadable_tags_fail_closed_and_nothing_is_written(requests) -> None:
    snapshot_id = snapshot()
    inject_error("ec2", "DescribeTags", "UnauthorizedOperation", 403)
    record = run()
    assert record["decision"] == "failed" and "exemptions fail closed" in record["reason"]
    assert requests.writes() == []
    assert public(snapshot_id)


def test_a_snapshot_deleted_between_the_read_and_the_write_fails_the_event(monkeypatch) -> None:
    snapshot_id = snapshot()
    original = fixer.apply

    def delete_then_apply(target: Target, change: Plan, params: fixer.Params) -> Plan:
        boto3.client("ec2").delete_snapshot(SnapshotId=snapshot_id)
        return original(target, change, params)

    monkeypatch.setattr(fixer, "apply", delete_then_apply)
    record = run()
    assert (record["decision"], record["level"]) == ("failed", "error")
    assert "InvalidSnapshot.NotFound" in record["reason"]
    assert own_snapshots() == [], "nothing was re-created"


def test_a_snapshot_deleted_between_the_listing_and_its_attribute_read_is_skipped(monkeypatch) -> None:
    gone, kept = snapshot(), snapshot()
    original = fixer._shares

    def shares(snapshot_id: str) -> Any:
        if snapshot_id == gone:
            boto3.client("ec2").delete_snapshot(SnapshotId=gone)
        return original(snapshot_id)

    monkeypatch.setattr(fixer, "_shares", shares)
    state = fixer.read_state(TARGET)
    assert [entry.snapshot_id for entry in state.snapshots] == [kept]


# --- moto gaps, modelled ----------------------------------------------------------------------------


def test_moto_ignores_the_structured_permission_form_which_is_why_the_fixer_does_not_use_it() -> None:
    snapshot_id = snapshot()
    ec2 = boto3.client("ec2")
    ec2.modify_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission", CreateVolumePermission={"Remove": [{"Group": "all"}]})
    assert public(snapshot_id), "moto 5.2.5 accepts the structured form and changes nothing"
    (call,) = fixer.plan(fixer.read_state(TARGET), fixer.Params()).calls  # type: ignore[union-attr]
    assert "CreateVolumePermission" not in call.params
    assert (call.params["OperationType"], call.params["GroupNames"]) == ("remove", ["all"])


def _stubbed_ec2(monkeypatch: pytest.MonkeyPatch) -> Stubber:
    ec2 = boto3.client("ec2", region_name=REGION)
    monkeypatch.setattr(fixer, "client", lambda _service, _region=None: ec2)
    return Stubber(ec2)


LISTING = {"OwnerIds": ["self"], "RestorableByUserIds": ["all"]}


def test_on_aws_a_compliant_account_costs_one_listing(monkeypatch) -> None:
    # AWS applies RestorableByUserIds: a compliant account lists nothing, so nothing more is read.
    stubber = _stubbed_ec2(monkeypatch)
    stubber.add_response("describe_snapshots", {"Snapshots": []}, LISTING)
    with stubber:
        state = fixer.read_state(TARGET)
    stubber.assert_no_pending_responses()
    assert state.snapshots == () and fixer.plan(state, fixer.Params()) is None


def test_snapshots_of_other_owners_are_never_read_or_changed(monkeypatch) -> None:
    # A listing that returns another owner's public snapshot (as moto does, ignoring OwnerIds): only the own one is read.
    stubber = _stubbed_ec2(monkeypatch)
    listed = [
        {"SnapshotId": "snap-0aaaaaaaaaaaaaaaa", "OwnerId": OTHER_ACCOUNT},
        {"SnapshotId": "snap-0bbbbbbbbbbbbbbbb", "OwnerId": ACCOUNT},
    ]
    stubber.add_response("describe_snapshots", {"Snapshots": listed}, LISTING)
    permissions = {"SnapshotId": "snap-0bbbbbbbbbbbbbbbb", "CreateVolumePermissions": [{"Group": "all"}, {"UserId": SHARED_WITH}]}
    stubber.add_response("describe_snapshot_attribute", permissions, {"SnapshotId": "snap-0bbbbbbbbbbbbbbbb", "Attribute": "createVolumePermission"})
    with stubber:
        state = fixer.read_state(TARGET)
    stubber.assert_no_pending_responses()
    planned = fixer.plan(state, fixer.Params())
    assert isinstance(planned, Plan)
    assert [call.params["SnapshotId"] for call in planned.calls] == ["snap-0bbbbbbbbbbbbbbbb"]


# --- undo -------------------------------------------------------------------------------------------


def test_undo_adds_all_back_to_exactly_the_snapshots_made_private() -> None:
    exempt, first, second = snapshot(), snapshot(), snapshot(shared_with=())
    tag(exempt)
    before = {snapshot_id: snapshot_permissions(snapshot_id) for snapshot_id in (exempt, first, second)}
    record = run()
    assert record["decision"] == "remediated"
    calls = fixer.undo_calls(TARGET, record["before"], record["change"], fixer.Params(), None)
    assert [call.to_json() for call in calls] == record["undo"]
    assert sorted(call.params["SnapshotId"] for call in calls) == sorted([first, second])
    for call in calls:
        boto3.client("ec2").modify_snapshot_attribute(**call.params)
    after = {snapshot_id: snapshot_permissions(snapshot_id) for snapshot_id in before}
    assert {key: sorted(map(str, value)) for key, value in after.items()} == {key: sorted(map(str, value)) for key, value in before.items()}


def test_undo_is_refused_for_a_snapshot_that_is_exempt_now() -> None:
    snapshot_id = snapshot()
    record = run()
    calls = fixer.undo_calls(TARGET, record["before"], record["change"], fixer.Params(), None)
    tag(snapshot_id)
    assert fixer.is_exempt(TARGET, fixer.read_state(TARGET), Plan("undo", calls, ()), EXEMPTION_TAG)


BEFORE = {"account": ACCOUNT, "publicSnapshots": [{"snapshotId": "snap-0123456789abcdef0", "groups": ["all"], "userIds": [SHARED_WITH]}]}
CHANGE = {"detail": {"snapshots": ["snap-0123456789abcdef0"]}}
FORGED: dict[str, tuple[dict[str, Any], dict[str, Any], Target]] = {
    "a snapshot the before-state does not list": (BEFORE, {"detail": {"snapshots": ["snap-0fffffffffffffff0"]}}, TARGET),
    "a snapshot that was private before": ({**BEFORE, "publicSnapshots": [{**BEFORE["publicSnapshots"][0], "groups": []}]}, CHANGE, TARGET),
    "another account's before-state": ({**BEFORE, "account": OTHER_ACCOUNT}, CHANGE, TARGET),
    "a record of another account": (BEFORE, CHANGE, Target("AWS::::Account", OTHER_ACCOUNT, ACCOUNT, REGION)),
    "a malformed snapshot id": ({**BEFORE, "publicSnapshots": [{**BEFORE["publicSnapshots"][0], "snapshotId": "vol-1"}]}, CHANGE, TARGET),
    "groups that are not a list": ({**BEFORE, "publicSnapshots": [{**BEFORE["publicSnapshots"][0], "groups": "all"}]}, CHANGE, TARGET),
    "no snapshots in the change": (BEFORE, {"detail": {"snapshots": []}}, TARGET),
}


@pytest.mark.parametrize("case", FORGED.values(), ids=list(FORGED))
def test_undo_refuses_a_forged_record(case: tuple[dict[str, Any], dict[str, Any], Target]) -> None:
    before, change, target = case
    with pytest.raises(UndoRefused):
        fixer.undo_calls(target, before, change, fixer.Params(), None)


def test_undo_of_the_recorded_example_is_exactly_one_add() -> None:
    (call,) = fixer.undo_calls(TARGET, BEFORE, CHANGE, fixer.Params(), None)
    assert (call.operation, call.params) == ("ModifySnapshotAttribute", {"SnapshotId": "snap-0123456789abcdef0", "Attribute": "createVolumePermission", "OperationType": "add", "GroupNames": ["all"]})


# --- properties (pure) --------------------------------------------------------------------------------

ACCOUNT_IDS = st.from_regex(r"\d{12}", fullmatch=True)
MARKERS = st.sampled_from(["all", "All", "ALL"])
SHARES = st.lists(st.one_of(ACCOUNT_IDS, MARKERS), max_size=8)
SNAPSHOT_IDS = st.from_regex(r"snap-[0-9a-f]{17}", fullmatch=True)


@given(SHARES)
def test_removing_the_public_entries_keeps_every_account_share(shares: list[str]) -> None:
    removed = public_entries(shares)
    assert all(value.lower() == "all" for value in removed)
    assert after_removal(shares, removed) == account_shares(shares) == tuple(value for value in shares if value.isdigit())


def _state(snapshots: list[tuple[str, bool, list[str]]]) -> fixer.AccountSnapshotsState:
    unique = {snapshot_id: (is_public, users) for snapshot_id, is_public, users in snapshots}
    entries = tuple(fixer.SnapshotShares(snapshot_id, ("all",) if is_public else (), tuple(users)) for snapshot_id, (is_public, users) in sorted(unique.items()))
    return fixer.AccountSnapshotsState(ACCOUNT, entries)


def _applied(state: fixer.AccountSnapshotsState, calls: tuple[Any, ...]) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """What AWS would hold after ``calls``: each call removes or adds exactly its GroupNames."""
    held = {entry.snapshot_id: (entry.groups, entry.user_ids) for entry in state.snapshots}
    for call in calls:
        groups, users = held[call.params["SnapshotId"]]
        named = call.params["GroupNames"]
        groups = after_removal(groups, named) if call.params["OperationType"] == "remove" else (*groups, *named)
        held[call.params["SnapshotId"]] = (groups, users)
    return held


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(SNAPSHOT_IDS, st.booleans(), st.lists(ACCOUNT_IDS, max_size=4)), max_size=6))
def test_only_the_public_group_is_removed_and_every_account_share_survives(snapshots: list[tuple[str, bool, list[str]]]) -> None:
    state = _state(snapshots)
    planned = fixer.plan(state, fixer.Params())
    verdict = config_verdict(KEY, state.to_json(), {})
    # scan and the fixer agree: a change is planned exactly when Config flags the account.
    assert (planned is not None) == (verdict == "NON_COMPLIANT")
    if planned is None:
        assert not any(entry.public for entry in state.snapshots)
        return
    assert isinstance(planned, Plan)
    assert {call.params["SnapshotId"] for call in planned.calls} == {entry.snapshot_id for entry in state.snapshots if entry.public}
    assert all(call.params["GroupNames"] == ["all"] and "UserIds" not in call.params for call in planned.calls)
    after = _applied(state, planned.calls)
    for entry in state.snapshots:
        groups, users = after[entry.snapshot_id]
        assert users == entry.user_ids, "every account-specific share survives"
        assert groups == ()
    # The undo puts back exactly the before-state.
    restored = _applied(fixer.AccountSnapshotsState(ACCOUNT, tuple(fixer.SnapshotShares(k, g, u) for k, (g, u) in after.items())), planned.undo)
    assert restored == {entry.snapshot_id: (entry.groups, entry.user_ids) for entry in state.snapshots}


@given(st.lists(SNAPSHOT_IDS, min_size=1, max_size=5, unique=True), st.data())
def test_apply_never_writes_to_an_exempt_snapshot(ids: list[str], data: st.DataObject) -> None:
    state = _state([(snapshot_id, True, []) for snapshot_id in ids])
    planned = fixer.plan(state, fixer.Params())
    assert isinstance(planned, Plan)
    exempt = data.draw(st.lists(st.sampled_from(sorted(ids)), max_size=len(ids) - 1, unique=True))
    if exempt:
        planned.detail["exempt"] = sorted(exempt)  # type: ignore[index]
    chosen = fixer._without_exempt(planned)
    assert {call.params["SnapshotId"] for call in chosen.calls} == set(ids) - set(exempt)
    assert {call.params["SnapshotId"] for call in chosen.undo} == set(ids) - set(exempt)


def test_only_a_fixer_with_left_alone_can_leave_part_of_its_plan_undone() -> None:
    remaining = fixer.plan(_state([("snap-0123456789abcdef0", True, [])]), fixer.Params())
    change = {"detail": {"exempt": ["snap-0123456789abcdef0"]}}
    assert engine.left_alone(fixer, remaining, change) is not None
    assert engine.left_alone(fixer, remaining, {"detail": {"exempt": ["snap-0fffffffffffffff0"]}}) is None
    assert engine.left_alone(fixer, remaining, {"detail": {}}) is None
    from remediation.fixers import cloudtrail_log_validation

    assert engine.left_alone(cloudtrail_log_validation, remaining, change) is None
