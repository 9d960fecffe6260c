"""Fixer: none of the account's EBS snapshots in the region is public (restorable by ``all``).

EBS_SNAPSHOT_PUBLIC_RESTORABLE_CHECK is periodic and evaluates the account (``AWS::::Account``),
so the event names no snapshot: the fixer lists the account's own snapshots that are public in
the region and removes the ``all`` group from each one's createVolumePermission. Only ``all`` is
removed: snapshots shared with specific accounts keep those shares, and no snapshot is deleted,
copied or re-encrypted. Snapshots of other owners are never touched. The exemption tag is read
from each snapshot: an exempt snapshot stays public and is named in the record (``exempt``);
only when every public snapshot is exempt is the decision exempt. Undo adds ``all`` back to
exactly the snapshots the record says were made private.

The write uses ``OperationType="remove", GroupNames=["all"]`` (valid on AWS) rather than the
structured ``CreateVolumePermission={"Remove": [...]}`` form, which moto 5.2.5 ignores without an
error; verification reads the permission again either way.

Requests per event with one public snapshot: compliant 2 (DescribeSnapshots, then
DescribeSnapshotAttribute for the snapshot it lists); fixed 6 (+ DescribeTags,
ModifySnapshotAttribute, DescribeSnapshots and DescribeSnapshotAttribute to verify). +1
DescribeSnapshotAttribute per further snapshot listed and +1 ModifySnapshotAttribute per further
public snapshot. On AWS, DescribeSnapshots with ``RestorableByUserIds=["all"]`` lists only public
snapshots, so a compliant account costs 1 request and verification 1; moto ignores that filter
(and ``OwnerIds``) and lists every snapshot, so the tests measure the numbers above.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..clients import client
from ..errors import error_code
from .base import ApiCall, Plan, PlanResult, Target, account_resource_id, execute, read_tags
from .public_shares import PUBLIC, account_shares, public_entries

IAM_ACTIONS: tuple[str, ...] = ("ec2:DescribeSnapshots", "ec2:DescribeSnapshotAttribute", "ec2:DescribeTags", "ec2:ModifySnapshotAttribute")
# The rule is periodic and evaluates AWS::::Account with the account id (Security Hub EC2.1 "Resource
# type: AWS::::Account"; that the evaluation's resourceId is the account id is inferred, as for the
# other account-level rules).
RESOURCE_TYPES: tuple[str, ...] = ("AWS::::Account",)
SNAPSHOT_ID = re.compile(r"snap-[0-9a-f]{8,17}")
ATTRIBUTE = "createVolumePermission"
GONE_CODES = ("InvalidSnapshot.NotFound",)
"""A snapshot deleted between the listing and the attribute read is no longer public."""


@dataclass(frozen=True)
class Params:
    """No params: the fix is always the same."""


@dataclass(frozen=True)
class SnapshotShares:
    """Who may create volumes from one snapshot: groups (``all`` when public) and account ids."""

    snapshot_id: str
    groups: tuple[str, ...]
    user_ids: tuple[str, ...]

    @property
    def public(self) -> bool:
        """Whether the ``all`` group may create volumes from it."""
        return bool(public_entries(self.groups))

    def to_json(self) -> dict[str, Any]:
        """The snapshot's shares as a JSON-ready dict."""
        return {"snapshotId": self.snapshot_id, "groups": list(self.groups), "userIds": list(self.user_ids)}


@dataclass(frozen=True)
class AccountSnapshotsState:
    """The account's own public snapshots in the region, with their shares."""

    account: str
    snapshots: tuple[SnapshotShares, ...]

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict."""
        return {"account": self.account, "publicSnapshots": [snapshot.to_json() for snapshot in self.snapshots]}


def parse_params(_raw: Mapping[str, Any]) -> Params:
    """No params to check."""
    return Params()


resource_id = account_resource_id
"""The account id, which must be the function's own account."""


def read_state(target: Target) -> AccountSnapshotsState:
    """DescribeSnapshots (own, restorable by all), then DescribeSnapshotAttribute per snapshot listed.

    The owner is checked again on every snapshot listed (moto ignores ``OwnerIds``), and only the
    snapshots whose permission really lists ``all`` are kept.
    UNVERIFIED: that ``RestorableByUserIds=["all"]`` lists exactly the public snapshots on AWS (the
    attribute read decides either way; it only saves reads).
    """
    ec2 = client("ec2")
    public: list[SnapshotShares] = []
    for page in ec2.get_paginator("describe_snapshots").paginate(OwnerIds=["self"], RestorableByUserIds=[PUBLIC]):
        for snapshot in page.get("Snapshots", []):
            if snapshot.get("OwnerId") != target.account:
                continue
            shares = _shares(str(snapshot["SnapshotId"]))
            if shares is not None and shares.public:
                public.append(shares)
    return AccountSnapshotsState(target.account, tuple(sorted(public, key=lambda shares: shares.snapshot_id)))


def _shares(snapshot_id: str) -> SnapshotShares | None:
    try:
        response = client("ec2").describe_snapshot_attribute(SnapshotId=snapshot_id, Attribute=ATTRIBUTE)
    except ClientError as error:
        if error_code(error) in GONE_CODES:
            return None
        raise
    permissions = response.get("CreateVolumePermissions", [])
    return SnapshotShares(
        snapshot_id,
        tuple(str(entry["Group"]) for entry in permissions if "Group" in entry),
        tuple(str(entry["UserId"]) for entry in permissions if "UserId" in entry),
    )


def _permission_call(snapshot_id: str, operation_type: str) -> ApiCall:
    # OperationType + GroupNames, never the CreateVolumePermission structure (moto ignores it).
    params = {"SnapshotId": snapshot_id, "Attribute": ATTRIBUTE, "OperationType": operation_type, "GroupNames": [PUBLIC]}
    return ApiCall("ec2", "ModifySnapshotAttribute", params)


def plan(state: AccountSnapshotsState, _params: Params) -> PlanResult:
    """Remove the ``all`` group from every public snapshot; account shares are left as they are."""
    public = [snapshot for snapshot in state.snapshots if snapshot.public]
    if not public:
        return None
    return _plan_for(public)


def _plan_for(snapshots: list[SnapshotShares]) -> Plan:
    ids = [snapshot.snapshot_id for snapshot in snapshots]
    return Plan(
        summary=f"Make {len(ids)} public EBS snapshot(s) private (remove the all group from createVolumePermission): {', '.join(ids)}",
        calls=tuple(_permission_call(snapshot_id, "remove") for snapshot_id in ids),
        undo=tuple(_permission_call(snapshot_id, "add") for snapshot_id in ids),
        detail={
            "snapshots": ids,
            "removedGroup": PUBLIC,
            "keptAccountShares": {snapshot.snapshot_id: list(account_shares(snapshot.user_ids)) for snapshot in snapshots},
        },
    )


def _snapshot_ids(change: Plan) -> list[str]:
    return [str(call.params["SnapshotId"]) for call in change.calls]


def is_exempt(_target: Target, _state: AccountSnapshotsState, change: Plan, exemption_tag: str) -> bool:
    """Whether every snapshot the plan writes to carries the exemption tag (DescribeTags; fails closed).

    When only some do, they are noted in the plan's detail (``exempt``) and ``apply`` leaves them
    public. A plan that adds ``all`` back (undo's) is exempt as soon as one of its snapshots is.
    """
    ids = _snapshot_ids(change)
    if not ids:
        return False
    exempt = _exempt_snapshots(ids, exemption_tag)
    if any(call.params.get("OperationType") == "add" for call in change.calls):
        return bool(exempt)
    if len(exempt) == len(set(ids)):
        return True
    if exempt and isinstance(change.detail, dict):
        change.detail["exempt"] = sorted(exempt)  # read by apply: the plan is this module's own record
    return False


def _exempt_snapshots(ids: list[str], exemption_tag: str) -> set[str]:
    listed: list[Mapping[str, Any]] = []

    def read() -> list[Mapping[str, Any]]:
        paginator = client("ec2").get_paginator("describe_tags")
        for page in paginator.paginate(Filters=[{"Name": "resource-id", "Values": ids}]):
            listed.extend(page.get("Tags", []))
        return listed

    read_tags(read, ())
    return {str(tag.get("ResourceId")) for tag in listed if tag.get("Key") == exemption_tag and tag.get("ResourceId") in ids}


def apply(_target: Target, change: Plan, _params: Params) -> Plan:
    """ModifySnapshotAttribute (remove ``all``) on every public snapshot that is not exempt."""
    return execute(_without_exempt(change))


def _without_exempt(change: Plan) -> Plan:
    exempt = set(change.detail.get("exempt", ()))
    if not exempt:
        return change
    kept = [snapshot_id for snapshot_id in change.detail["snapshots"] if snapshot_id not in exempt]
    shares = change.detail["keptAccountShares"]
    narrowed = _plan_for([SnapshotShares(snapshot_id, (PUBLIC,), tuple(shares[snapshot_id])) for snapshot_id in kept])
    return Plan(narrowed.summary, narrowed.calls, narrowed.undo, {**narrowed.detail, "exempt": sorted(exempt)})


def left_alone(remaining: Plan, change: Mapping[str, Any]) -> str | None:
    """After the writes: when every snapshot still public is one ``change`` left alone as exempt, one sentence saying so."""
    detail = change.get("detail") or {}
    exempt = set(detail.get("exempt", ()))
    still_public = set(_snapshot_ids(remaining))
    if not exempt or not still_public <= exempt:
        return None
    return f"exempt snapshot(s) {', '.join(sorted(still_public))} stay public, so the account stays non-compliant"


def finding_resource(target: Target, _state: Any) -> tuple[str, str]:
    """Account-level findings name the account (``AWS::::Account:<id>`` in Security Hub, facts §7.2)."""
    return target.account, "CONTAINS"


# --- undo: computed from a record's before-state, never replayed ---------------------------------

UNDO_OPERATIONS: tuple[str, ...] = ("ModifySnapshotAttribute",)
"""The only operation undo may call for this rule: adding the ``all`` group back."""


def _snapshot_from_record(entry: Mapping[str, Any]) -> SnapshotShares:
    from .inverse import require

    snapshot_id = entry.get("snapshotId")
    require(isinstance(snapshot_id, str) and bool(SNAPSHOT_ID.fullmatch(snapshot_id)), "a snapshot of the record's before-state has no snapshot id")
    groups, user_ids = entry.get("groups"), entry.get("userIds")
    require(_strings(groups), f"snapshot {snapshot_id}'s groups in the record are not a list of names")
    require(_strings(user_ids), f"snapshot {snapshot_id}'s account shares in the record are not a list of ids")
    return SnapshotShares(str(snapshot_id), tuple(groups or ()), tuple(user_ids or ()))


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def undo_calls(target: Target, before: Mapping[str, Any], change: Mapping[str, Any], params: Params, _current: Any) -> tuple[ApiCall, ...]:
    """Add ``all`` back to the snapshots the record made private, as planned from its ``before``; raises UndoRefused.

    The calls come from ``plan`` on the recorded before-state, restricted to the snapshots the
    record's change names; a snapshot the fixer would not have made private from that state is refused.
    """
    from .inverse import inverse_of, record_list, record_mapping, require, same_resource

    same_resource(target.resource_id, target.account, "account")
    same_resource(before.get("account"), target.account, "account")
    state = AccountSnapshotsState(target.account, tuple(_snapshot_from_record(entry) for entry in record_list(before.get("publicSnapshots"), "before-state publicSnapshots")))
    planned = inverse_of(plan(state, params))
    changed: list[str] = record_mapping(change.get("detail"), "change detail").get("snapshots") or []
    require(_strings(changed) and bool(changed), "the record's change names no snapshots")
    by_id = {str(call.params["SnapshotId"]): call for call in planned.undo}
    unknown = [snapshot_id for snapshot_id in changed if snapshot_id not in by_id]
    require(not unknown, f"the record's change names snapshot(s) {', '.join(map(str, unknown))} that the fixer would not have made private from the before-state")
    return tuple(by_id[snapshot_id] for snapshot_id in dict.fromkeys(changed))
