"""Fixer: an RDS DB instance is not publicly accessible (PubliclyAccessible false).

Config names a DB instance by its resource id (DbiResourceId, ``db-`` and upper-case letters and
digits), so the instance is found with DescribeDBInstances filtered on ``dbi-resource-id``. The only
write is ModifyDBInstance with DBInstanceIdentifier, PubliclyAccessible=False and ApplyImmediately=True;
nothing else of the instance changes. An instance of a Multi-AZ DB cluster (not Aurora) takes the
setting from its cluster, which this fixer does not change (``failed``). An instance that no longer
exists has nothing left to fix.

Requests per event: compliant 1 (DescribeDBInstances); fixed 4 (+ ListTagsForResource,
ModifyDBInstance, DescribeDBInstances to verify).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..clients import client
from .base import ApiCall, NoAction, Plan, PlanResult, TagsUnreadable, Target, execute, read_tags

IAM_ACTIONS: tuple[str, ...] = ("rds:DescribeDBInstances", "rds:ListTagsForResource", "rds:ModifyDBInstance")
RESOURCE_TYPES: tuple[str, ...] = ("AWS::RDS::DBInstance",)

DBI_RESOURCE_ID = re.compile(r"db-[A-Z0-9]{1,255}")
"""Config's resourceId of a DB instance: its DbiResourceId [P: AWS's runbook for this rule takes it as
RESOURCE_ID]; that Config sends no other form is UNVERIFIED."""
GONE_STATUSES = frozenset({"deleting"})
"""Statuses with nothing left to fix: the instance is on its way out."""


@dataclass(frozen=True)
class Params:
    """No params: the fix is always the same."""


@dataclass(frozen=True)
class DbInstanceState:
    """What the fixer needs to know about a DB instance."""

    resource_id: str
    """DbiResourceId (Config's resourceId)."""
    exists: bool
    identifier: str | None = None
    """DBInstanceIdentifier, the name every write uses."""
    arn: str | None = None
    publicly_accessible: bool = False
    status: str | None = None
    engine: str | None = None
    cluster: str | None = None
    """DBClusterIdentifier, for an instance of an Aurora or Multi-AZ DB cluster."""

    @property
    def in_multi_az_db_cluster(self) -> bool:
        """Whether the instance belongs to a Multi-AZ DB cluster (a cluster whose engine is not Aurora)."""
        return bool(self.cluster) and not str(self.engine or "").startswith("aurora")

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict."""
        return {
            "dbiResourceId": self.resource_id,
            "exists": self.exists,
            "dbInstanceIdentifier": self.identifier,
            "dbInstanceArn": self.arn,
            "publiclyAccessible": self.publicly_accessible,
            "status": self.status,
            "engine": self.engine,
            "dbClusterIdentifier": self.cluster,
        }


def parse_params(_raw: Mapping[str, Any]) -> Params:
    """No params to check."""
    return Params()


def resource_id(resource_type: str, raw_id: str, _account: str) -> str | None:
    """The DbiResourceId (db- and upper-case letters and digits)."""
    return raw_id if resource_type in RESOURCE_TYPES and DBI_RESOURCE_ID.fullmatch(raw_id) else None


def finding_resource(target: Target, state: DbInstanceState | None) -> tuple[str, str]:
    """Findings name the instance by its ARN (UNVERIFIED for RDS.2, as for the others: facts §7.2); before a read, by resource id."""
    if state is not None and state.arn:
        return state.arn, "EQUALS"
    return target.resource_id, "CONTAINS"


# --- read ---------------------------------------------------------------------------------------


def read_state(target: Target) -> DbInstanceState:
    """DescribeDBInstances filtered on dbi-resource-id (Config's resourceId is not the identifier)."""
    filters = [{"Name": "dbi-resource-id", "Values": [target.resource_id]}]
    instances = client("rds").describe_db_instances(Filters=filters).get("DBInstances", [])
    if not instances:
        return DbInstanceState(target.resource_id, False)
    return instance_state(instances[0])


def instance_state(instance: Mapping[str, Any]) -> DbInstanceState:
    """Pure: the fixer's view of one DescribeDBInstances entry."""
    status = instance.get("DBInstanceStatus")
    return DbInstanceState(
        str(instance["DbiResourceId"]),
        status not in GONE_STATUSES,
        str(instance["DBInstanceIdentifier"]),
        instance.get("DBInstanceArn"),
        instance.get("PubliclyAccessible") is True,
        status,
        instance.get("Engine"),
        instance.get("DBClusterIdentifier") or None,
    )


# --- plan (pure) --------------------------------------------------------------------------------


def plan(state: DbInstanceState, _params: Params) -> PlanResult:
    """Turn PubliclyAccessible off, on the instance itself; a Multi-AZ DB cluster's instance is left to its cluster."""
    if not state.exists or not state.publicly_accessible:
        return None
    if state.in_multi_az_db_cluster:
        # ASR's RDS.2 notes: "ModifyDBInstance isn't supported for a DB instance in a Multi-AZ DB Cluster"
        # (the setting is the cluster's). UNVERIFIED which error AWS returns; the fixer does not try.
        return NoAction(
            "failed",
            f"DB instance {state.identifier} belongs to Multi-AZ DB cluster {state.cluster}, whose PubliclyAccessible "
            "is set on the cluster (ModifyDBCluster), which this fixer does not change; fix the cluster",
        )
    identifier = str(state.identifier)  # an existing instance always has one
    return Plan(
        summary=f"Make DB instance {identifier} ({state.resource_id}) not publicly accessible",
        calls=(_accessible(identifier, False),),
        undo=(_accessible(identifier, True),),
        detail={"dbInstanceIdentifier": identifier, "dbiResourceId": state.resource_id, "publiclyAccessible": False, "status": state.status},
        changed_resource=state.arn,
    )


def _accessible(identifier: str, value: bool) -> ApiCall:
    # ApplyImmediately so the change is never left for the maintenance window. The API reference says changes to
    # PubliclyAccessible apply immediately whatever ApplyImmediately says [V, botocore rds ModifyDBInstance].
    # UNVERIFIED: whether the change restarts the instance or drops open connections (no reboot is documented
    # for it; the endpoint's DNS name resolves to the private address afterwards), and how long
    # DescribeDBInstances keeps reporting true while the instance is modifying (verification may read the old
    # value within its 3 s and then record failed although the change is under way).
    return ApiCall("rds", "ModifyDBInstance", {"DBInstanceIdentifier": identifier, "PubliclyAccessible": value, "ApplyImmediately": True})


def is_exempt(_target: Target, state: DbInstanceState, _plan: Plan, exemption_tag: str) -> bool:
    """Whether the DB instance carries the exemption tag (ListTagsForResource on its ARN; fails closed)."""
    if not state.arn:
        raise TagsUnreadable("DescribeDBInstances returned no DBInstanceArn to read the tags of")
    tags = read_tags(lambda: client("rds").list_tags_for_resource(ResourceName=state.arn)["TagList"], ())
    return exemption_tag in tags


def apply(_target: Target, change: Plan, _params: Params) -> Plan:
    """ModifyDBInstance."""
    return execute(change)


# --- undo: computed from a record's before-state, never replayed ---------------------------------

UNDO_OPERATIONS: tuple[str, ...] = ("ModifyDBInstance",)
"""The only operation undo may call for this rule: PubliclyAccessible back on for the same instance."""


def undo_calls(target: Target, before: Mapping[str, Any], _change: Mapping[str, Any], params: Params, current: Any) -> tuple[ApiCall, ...]:
    """The ModifyDBInstance that makes the record's own instance publicly accessible again; raises UndoRefused.

    The identifier the call names comes from the record, so it must be the identifier the instance
    with the record's resource id has now (when the current state is given).
    """
    from .inverse import inverse_of, require, same_resource

    same_resource(before.get("dbiResourceId"), target.resource_id, "DB instance resource id")
    identifier = before.get("dbInstanceIdentifier")
    require(isinstance(identifier, str) and bool(identifier), "the record's before-state names no DB instance identifier")
    require(before.get("publiclyAccessible") in (True, False), "the record's before-state publiclyAccessible is not true or false")
    if isinstance(current, DbInstanceState):
        require(current.exists and current.identifier == identifier, f"the instance with resource id {target.resource_id} is not named {identifier!r} now")
    state = DbInstanceState(
        target.resource_id, True, str(identifier), before.get("dbInstanceArn"), before.get("publiclyAccessible") is True,
        before.get("status"), before.get("engine"), before.get("dbClusterIdentifier"),
    )
    return inverse_of(plan(state, params)).undo
