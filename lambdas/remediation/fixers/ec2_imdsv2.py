"""Fixer: an EC2 instance requires IMDSv2 session tokens (HttpTokens required).

The only write is ModifyInstanceMetadataOptions with InstanceId and HttpTokens=required: every other
metadata option (endpoint, hop limit, IPv6, tags in metadata) is omitted, and AWS keeps omitted
values. The instance is never stopped, started or rebooted. For an instance that does not require
tokens, the CloudWatch metric ``MetadataNoToken`` (IMDSv1 calls) is read as daily sums over the last
455 days; the plan records the sum over the last params.metadataNoTokenDays days, so a dry run shows
whether software on the instance still uses IMDSv1, and in ``auto`` mode an instance with IMDSv1
calls in that window is not changed (``failed``, nothing written). With metadataNoTokenDays 0 the
metric gates nothing. A terminated or unknown instance has nothing left to fix.

Requests per event: compliant 1 (DescribeInstances, which also returns the tags); fixed 4
(+ GetMetricStatistics, ModifyInstanceMetadataOptions, DescribeInstances to verify).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from ..clients import client
from ..errors import error_code
from .base import ApiCall, NotRemediable, Plan, PlanResult, Target, execute

IAM_ACTIONS: tuple[str, ...] = ("ec2:DescribeInstances", "cloudwatch:GetMetricStatistics", "ec2:ModifyInstanceMetadataOptions")
RESOURCE_TYPES: tuple[str, ...] = ("AWS::EC2::Instance",)

INSTANCE_ID = re.compile(r"i-[0-9a-f]{8}(?:[0-9a-f]{9})?")
GONE_CODE = "InvalidInstanceID.NotFound"
GONE_STATES = frozenset({"shutting-down", "terminated"})
"""Instance states with nothing left to fix (Config deletes the configuration item of a terminated instance)."""
READ_DAYS = 455
"""Days of MetadataNoToken read: CloudWatch keeps hourly data for 455 days (one daily sum per day, one request)."""
DEFAULT_DAYS = 14
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Params:
    """How far back IMDSv1 calls stop an automatic fix (0: they never do)."""

    metadata_no_token_days: int


@dataclass(frozen=True)
class Evidence:
    """Daily sums of MetadataNoToken (IMDSv1 calls) read from CloudWatch; only days with calls are kept."""

    read_at: str
    """When the metric was read (ISO 8601, UTC)."""
    datapoints: int
    """Daily data points CloudWatch returned (days without any data have none)."""
    calls: tuple[tuple[str, float], ...]
    """(start of the day, IMDSv1 calls) for each day with calls, oldest first."""

    def total(self, days: int) -> float:
        """IMDSv1 calls in the ``days`` days before the read (whole days, as CloudWatch aggregates them)."""
        since = datetime.fromisoformat(self.read_at) - days * DAY
        return sum(count for day, count in self.calls if datetime.fromisoformat(day) >= since)

    def to_json(self) -> dict[str, Any]:
        """The evidence as a JSON-ready dict."""
        return {"readAt": self.read_at, "datapoints": self.datapoints, "calls": [[day, count] for day, count in self.calls]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Evidence:
        """The inverse of ``to_json``."""
        return cls(str(data["readAt"]), int(data["datapoints"]), tuple((str(day), float(count)) for day, count in data["calls"]))


@dataclass(frozen=True)
class InstanceState:
    """An instance's metadata options, as DescribeInstances returns them."""

    instance_id: str
    exists: bool
    state: str | None
    """running, stopped, ... (None when the instance is unknown)."""
    metadata_options: Mapping[str, Any]
    tags: Mapping[str, str]
    evidence: Evidence | None = None
    """IMDSv1 calls; read only for an instance that does not require tokens."""

    @property
    def http_tokens(self) -> str:
        """HttpTokens: optional or required (optional when AWS reports nothing, its default)."""
        return str(self.metadata_options.get("HttpTokens") or "optional")

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict."""
        return {
            "instanceId": self.instance_id,
            "exists": self.exists,
            "state": self.state,
            "metadataOptions": dict(self.metadata_options),
            "metadataNoToken": self.evidence.to_json() if self.evidence else None,
        }


def parse_params(raw: Mapping[str, Any]) -> Params:
    """Typed params: metadataNoTokenDays is a whole number of days from 0 to 455 (default 14)."""
    days = raw.get("metadataNoTokenDays", DEFAULT_DAYS)
    if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= READ_DAYS:
        raise ValueError(f"params.metadataNoTokenDays must be a whole number of days from 0 to {READ_DAYS}")
    return Params(days)


def resource_id(resource_type: str, raw_id: str, _account: str) -> str | None:
    """The instance id (i- and 8 or 17 hex digits)."""
    return raw_id if resource_type in RESOURCE_TYPES and INSTANCE_ID.fullmatch(raw_id) else None


def finding_resource(target: Target, _state: Any) -> tuple[str, str]:
    """Findings name the instance by an ARN ending in its id; the exact ASFF form is UNVERIFIED (facts §7.2)."""
    return f":instance/{target.resource_id}", "CONTAINS"


# --- read ---------------------------------------------------------------------------------------


def read_state(target: Target) -> InstanceState:
    """DescribeInstances (options and tags); for an instance not requiring tokens, GetMetricStatistics too."""
    try:
        reservations = client("ec2").describe_instances(InstanceIds=[target.resource_id])["Reservations"]
    except ClientError as error:
        if error_code(error) == GONE_CODE:
            return InstanceState(target.resource_id, False, None, {}, {})
        raise
    instances = [instance for reservation in reservations for instance in reservation.get("Instances", [])]
    if not instances:
        return InstanceState(target.resource_id, False, None, {}, {})
    state = instance_state(instances[0])
    if not state.exists or state.http_tokens == "required":
        return state
    return with_evidence(state, read_evidence(target.resource_id, datetime.now(UTC)))


def instance_state(instance: Mapping[str, Any]) -> InstanceState:
    """Pure: the fixer's view of one DescribeInstances entry (without the metric)."""
    name = (instance.get("State") or {}).get("Name")
    tags = {str(tag["Key"]): str(tag.get("Value", "")) for tag in instance.get("Tags", [])}
    return InstanceState(str(instance["InstanceId"]), name not in GONE_STATES, name, dict(instance.get("MetadataOptions") or {}), tags)


def read_evidence(instance_id: str, now: datetime) -> Evidence:
    """GetMetricStatistics: daily sums of AWS/EC2 MetadataNoToken for the instance over READ_DAYS days."""
    response = client("cloudwatch").get_metric_statistics(
        Namespace="AWS/EC2",
        MetricName="MetadataNoToken",
        Dimensions=[{"Name": "InstanceId", "Value": instance_id}],
        # ISO strings, not datetimes: the audit record lists the call's params as JSON.
        StartTime=(now - READ_DAYS * DAY).astimezone(UTC).isoformat(),
        EndTime=now.astimezone(UTC).isoformat(),
        Period=int(DAY.total_seconds()),
        Statistics=["Sum"],
    )
    return evidence_from(response.get("Datapoints", []), now)


def evidence_from(datapoints: list[Mapping[str, Any]], now: datetime) -> Evidence:
    """Pure: the evidence in GetMetricStatistics' data points, read at ``now``.

    A day without a data point counts as a day without IMDSv1 calls. UNVERIFIED: whether EC2 publishes
    MetadataNoToken zeros for an instance that makes no IMDSv1 calls, or no data point at all.
    """
    calls = sorted(
        (point["Timestamp"].astimezone(UTC).isoformat(), float(point["Sum"])) for point in datapoints if float(point.get("Sum", 0)) > 0
    )
    return Evidence(now.astimezone(UTC).isoformat(), len(datapoints), tuple(calls))


def with_evidence(state: InstanceState, evidence: Evidence) -> InstanceState:
    """Pure: ``state`` with its MetadataNoToken evidence."""
    return InstanceState(state.instance_id, state.exists, state.state, state.metadata_options, state.tags, evidence)


# --- plan (pure) --------------------------------------------------------------------------------


def evidence_detail(evidence: Evidence | None, days: int) -> dict[str, Any] | None:
    """What a plan records of the evidence: the window, the calls in it, and the data points read."""
    if evidence is None:
        return None
    return {"days": days, "calls": evidence.total(days) if days else None, "datapoints": evidence.datapoints, "readAt": evidence.read_at}


def plan(state: InstanceState, params: Params) -> PlanResult:
    """Require IMDSv2 tokens on an instance that does not; nothing else of its metadata options changes."""
    if not state.exists or state.http_tokens == "required":
        # UNVERIFIED: while a change is pending (MetadataOptions.State pending), AWS already reports the new HttpTokens.
        return None
    evidence = evidence_detail(state.evidence, params.metadata_no_token_days)
    seen = f"; {evidence['calls']:g} IMDSv1 call(s) in the last {params.metadata_no_token_days} day(s)" if evidence and evidence["calls"] is not None else ""
    return Plan(
        summary=f"Require IMDSv2 tokens on instance {state.instance_id} (HttpTokens {state.http_tokens} -> required){seen}",
        calls=(_tokens(state.instance_id, "required"),),
        undo=(_tokens(state.instance_id, state.http_tokens),),
        detail={
            "instanceId": state.instance_id,
            "httpTokens": {"before": state.http_tokens, "after": "required"},
            "httpEndpoint": state.metadata_options.get("HttpEndpoint"),
            "metadataNoToken": evidence,
        },
    )


def _tokens(instance_id: str, value: str) -> ApiCall:
    # HttpTokens only: AWS keeps every omitted option (moto resets them; see the tests).
    return ApiCall("ec2", "ModifyInstanceMetadataOptions", {"InstanceId": instance_id, "HttpTokens": value})


def is_exempt(_target: Target, state: InstanceState, _plan: Plan, exemption_tag: str) -> bool:
    """Whether the instance carries the exemption tag (read with the instance, so no extra request)."""
    return exemption_tag in state.tags


# --- apply --------------------------------------------------------------------------------------


def apply(target: Target, change: Plan, params: Params) -> Plan:
    """ModifyInstanceMetadataOptions; refuses an instance with IMDSv1 calls in the window (metadataNoTokenDays > 0)."""
    evidence = change.detail.get("metadataNoToken") or {}
    if params.metadata_no_token_days and evidence.get("calls"):
        raise NotRemediable(
            f"instance {target.resource_id} made {evidence['calls']:g} IMDSv1 call(s) in the last {params.metadata_no_token_days} day(s) "
            "(CloudWatch MetadataNoToken); requiring tokens would break that software, so nothing was changed: update it to IMDSv2, "
            "or set params.metadataNoTokenDays to 0 to enforce anyway"
        )
    return execute(change)


# --- undo: computed from a record's before-state, never replayed ---------------------------------

UNDO_OPERATIONS: tuple[str, ...] = ("ModifyInstanceMetadataOptions",)
"""The only operation undo may call for this rule: HttpTokens back to optional on the same instance."""


def undo_calls(target: Target, before: Mapping[str, Any], _change: Mapping[str, Any], params: Params, _current: Any) -> tuple[ApiCall, ...]:
    """The ModifyInstanceMetadataOptions that puts HttpTokens back as the record's ``before`` had it; raises UndoRefused."""
    from .inverse import inverse_of, record_mapping, require, same_resource

    same_resource(before.get("instanceId"), target.resource_id, "instance")
    options = record_mapping(before.get("metadataOptions"), "before-state metadataOptions")
    require(options.get("HttpTokens", "optional") in ("optional", "required"), "the record's before-state HttpTokens is neither optional nor required")
    require(before.get("exists", True) is True, "the record's before-state says the instance did not exist")
    state = InstanceState(target.resource_id, True, before.get("state"), dict(options), {})
    return inverse_of(plan(state, params)).undo
