"""Fixer: an RDS DB snapshot or DB cluster snapshot is not public (``all`` not in its ``restore`` attribute).

Removes only ``all`` from the snapshot's ``restore`` attribute (ModifyDBSnapshotAttribute or
ModifyDBClusterSnapshotAttribute with ``ValuesToRemove``): accounts the snapshot is shared with
keep their share, and no snapshot is deleted, copied or re-encrypted. Snapshots of other accounts
(named by an ARN of another account) are not this function's to change. Undo adds ``all`` back.

Requests per event: compliant 1 (DescribeDBSnapshotAttributes or DescribeDBClusterSnapshotAttributes);
fixed 4 (+ ListTagsForResource, ModifyDBSnapshotAttribute or ModifyDBClusterSnapshotAttribute, and the
attribute read again to verify).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore import xform_name

from ..clients import client
from .base import ApiCall, Plan, PlanResult, Target, execute, read_tags, regional_arn
from .public_shares import account_shares, public_entries

IAM_ACTIONS: tuple[str, ...] = (
    "rds:DescribeDBSnapshotAttributes",
    "rds:DescribeDBClusterSnapshotAttributes",
    "rds:ListTagsForResource",
    "rds:ModifyDBSnapshotAttribute",
    "rds:ModifyDBClusterSnapshotAttribute",
)
DB_SNAPSHOT = "AWS::RDS::DBSnapshot"
CLUSTER_SNAPSHOT = "AWS::RDS::DBClusterSnapshot"
RESOURCE_TYPES: tuple[str, ...] = (DB_SNAPSHOT, CLUSTER_SNAPSHOT)
ATTRIBUTE = "restore"
IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9:-]{0,254}")
"""A snapshot identifier: a letter, then letters, digits and hyphens (automated snapshots add ``rds:``)."""
ARN = re.compile(r"arn:(?P<partition>[a-z-]+):rds:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<kind>snapshot|cluster-snapshot):(?P<id>.+)")
ARN_KIND = {DB_SNAPSHOT: "snapshot", CLUSTER_SNAPSHOT: "cluster-snapshot"}


@dataclass(frozen=True)
class Params:
    """No params: the fix is always the same."""


@dataclass(frozen=True)
class Api:
    """The request and response names of one snapshot type."""

    describe: str
    modify: str
    id_param: str
    result_key: str
    attributes_key: str


APIS = {
    DB_SNAPSHOT: Api("DescribeDBSnapshotAttributes", "ModifyDBSnapshotAttribute", "DBSnapshotIdentifier", "DBSnapshotAttributesResult", "DBSnapshotAttributes"),
    CLUSTER_SNAPSHOT: Api(
        "DescribeDBClusterSnapshotAttributes",
        "ModifyDBClusterSnapshotAttribute",
        "DBClusterSnapshotIdentifier",
        "DBClusterSnapshotAttributesResult",
        "DBClusterSnapshotAttributes",
    ),
}


@dataclass(frozen=True)
class SnapshotState:
    """Who may restore one snapshot: its ``restore`` attribute values (account ids, ``all`` when public)."""

    resource_type: str
    identifier: str
    restore: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict."""
        return {"resourceType": self.resource_type, "identifier": self.identifier, "restore": list(self.restore)}


def parse_params(_raw: Mapping[str, Any]) -> Params:
    """No params to check."""
    return Params()


def resource_id(resource_type: str, raw_id: str, account: str) -> str | None:
    """The snapshot identifier, from an identifier or an ARN of the function's own account.

    UNVERIFIED: which form Config's resourceId takes for these types (AWS's snapshot runbooks take
    the identifier); both are accepted, and an ARN must name this account and the event's type.
    """
    if resource_type not in RESOURCE_TYPES:
        return None
    match = ARN.fullmatch(raw_id)
    if match is not None:
        if match["account"] != account or match["kind"] != ARN_KIND[resource_type]:
            return None
        raw_id = match["id"]
    return raw_id if IDENTIFIER.fullmatch(raw_id) and not raw_id.endswith("-") and "--" not in raw_id else None


def snapshot_arn(target: Target, identifier: str) -> str:
    """The snapshot's ARN in the function's account and region."""
    return regional_arn(target, "rds", f"{ARN_KIND[target.resource_type]}:{identifier}")


def read_state(target: Target) -> SnapshotState:
    """DescribeDBSnapshotAttributes or DescribeDBClusterSnapshotAttributes."""
    api = APIS[target.resource_type]
    method = getattr(client("rds"), xform_name(api.describe))
    result = method(**{api.id_param: target.resource_id})[api.result_key]
    restore: tuple[str, ...] = ()
    for attribute in result.get(api.attributes_key, []):
        if attribute.get("AttributeName") == ATTRIBUTE:
            restore = tuple(str(value) for value in attribute.get("AttributeValues", []))
    return SnapshotState(target.resource_type, target.resource_id, restore)


def _modify(state: SnapshotState, key: str, values: tuple[str, ...]) -> ApiCall:
    api = APIS[state.resource_type]
    return ApiCall("rds", api.modify, {api.id_param: state.identifier, "AttributeName": ATTRIBUTE, key: list(values)})


def plan(state: SnapshotState, _params: Params) -> PlanResult:
    """Remove the public entry from ``restore``; the account ids stay."""
    public = public_entries(state.restore)
    if not public:
        return None
    kind = "DB cluster snapshot" if state.resource_type == CLUSTER_SNAPSHOT else "DB snapshot"
    return Plan(
        summary=f"Make {kind} {state.identifier} private (remove all from its restore attribute)",
        calls=(_modify(state, "ValuesToRemove", public),),
        undo=(_modify(state, "ValuesToAdd", public),),
        detail={"snapshot": state.identifier, "removed": list(public), "keptAccountShares": list(account_shares(state.restore))},
    )


def is_exempt(target: Target, _state: SnapshotState, _plan: Plan, exemption_tag: str) -> bool:
    """Whether the snapshot carries the exemption tag (ListTagsForResource on its ARN; fails closed)."""
    arn = snapshot_arn(target, target.resource_id)
    return exemption_tag in read_tags(lambda: client("rds").list_tags_for_resource(ResourceName=arn).get("TagList", []), ())


def apply(_target: Target, change: Plan, _params: Params) -> Plan:
    """ModifyDBSnapshotAttribute or ModifyDBClusterSnapshotAttribute with ValuesToRemove."""
    return execute(change)


def finding_resource(target: Target, _state: Any) -> tuple[str, str]:
    """Findings name the snapshot by its ARN (UNVERIFIED for RDS snapshots; the Security Hub ARN form of other resources)."""
    return snapshot_arn(target, target.resource_id), "EQUALS"


# --- undo: computed from a record's before-state, never replayed ---------------------------------

UNDO_OPERATIONS: tuple[str, ...] = ("ModifyDBSnapshotAttribute", "ModifyDBClusterSnapshotAttribute")
"""The only operations undo may call for this rule: adding ``all`` back to the same snapshot."""


def undo_calls(target: Target, before: Mapping[str, Any], _change: Mapping[str, Any], params: Params, _current: Any) -> tuple[ApiCall, ...]:
    """The call that adds ``all`` back to the record's own snapshot, planned from its ``before``; raises UndoRefused."""
    from .inverse import inverse_of, require, same_resource

    same_resource(before.get("identifier"), target.resource_id, "snapshot")
    same_resource(before.get("resourceType"), target.resource_type, "snapshot type")
    restore = before.get("restore")
    require(isinstance(restore, list) and all(isinstance(value, str) for value in restore), "the record's before-state restore attribute is not a list of strings")
    return inverse_of(plan(SnapshotState(target.resource_type, target.resource_id, tuple(restore or ())), params)).undo
