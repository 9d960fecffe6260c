"""Fixer: a flow log for every VPC, to the configured S3 bucket or CloudWatch Logs group.

Never deletes or replaces a flow log: a VPC that already has an active flow log with the
configured traffic type is compliant; otherwise one more flow log is created. The create request
carries a client token derived from the evaluation being remediated (``Target.idempotency_key``:
rule, resource and Config's orderingTimestamp) and the request itself. EC2 answers a repeated token
with the first result and creates nothing, so every delivery of one event (duplicates, retries)
creates at most one flow log, and a later event, e.g. after that flow log was deleted, gets a new
token and a new flow log. Without a key (the operator CLI) every request gets a fresh token.

Requests per event: compliant 1 (DescribeFlowLogs); fixed 4 (+ DescribeVpcs for the tags,
CreateFlowLogs, DescribeFlowLogs to verify).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..clients import client
from .base import (
    ApiCall,
    NotRemediable,
    Plan,
    PlanResult,
    Target,
    call,
    param_choice,
    param_optional_string,
    read_tags,
)

IAM_ACTIONS: tuple[str, ...] = (
    "ec2:DescribeFlowLogs",
    "ec2:DescribeVpcs",
    "ec2:CreateFlowLogs",
    # CreateFlowLogs passes the delivery role to the service (cloud-watch-logs destination).
    "iam:PassRole",
    # CreateFlowLogs to S3 needs both on the caller (VPC User Guide, "Publish flow logs to Amazon S3").
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
)
RESOURCE_TYPES: tuple[str, ...] = ("AWS::EC2::VPC",)
VPC_ID = re.compile(r"vpc-[0-9a-f]{8}(?:[0-9a-f]{9})?")
CREATED_FLOW_LOG = "<FlowLogId returned by CreateFlowLogs>"


@dataclass(frozen=True)
class Params:
    """Where flow logs go and what they capture."""

    traffic_type: str
    destination_type: str
    s3_bucket_arn: str | None
    log_group_name: str | None
    deliver_logs_role_arn: str | None


@dataclass(frozen=True)
class FlowLogState:
    """The flow logs attached to a VPC."""

    vpc_id: str
    flow_logs: tuple[Mapping[str, Any], ...]

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict."""
        keys = ("FlowLogId", "FlowLogStatus", "TrafficType", "LogDestinationType", "LogDestination", "LogGroupName")
        return {"vpcId": self.vpc_id, "flowLogs": [{key: log.get(key) for key in keys if key in log} for log in self.flow_logs]}


def parse_params(raw: Mapping[str, Any]) -> Params:
    """Typed params; each destination type needs its own settings."""
    params = Params(
        traffic_type=param_choice(raw, "trafficType", ("ALL", "ACCEPT", "REJECT")),
        destination_type=param_choice(raw, "destinationType", ("cloud-watch-logs", "s3")),
        s3_bucket_arn=param_optional_string(raw, "s3BucketArn"),
        log_group_name=param_optional_string(raw, "logGroupName"),
        deliver_logs_role_arn=param_optional_string(raw, "deliverLogsRoleArn"),
    )
    if params.destination_type == "s3" and not params.s3_bucket_arn:
        raise ValueError("params.s3BucketArn is required when params.destinationType is s3")
    if params.destination_type == "cloud-watch-logs" and not (params.log_group_name and params.deliver_logs_role_arn):
        raise ValueError("params.logGroupName and params.deliverLogsRoleArn are required when params.destinationType is cloud-watch-logs")
    return params


def resource_id(resource_type: str, raw_id: str, _account: str) -> str | None:
    """The VPC id (vpc- and 8 or 17 hex digits)."""
    return raw_id if resource_type in RESOURCE_TYPES and VPC_ID.fullmatch(raw_id) else None


def finding_resource(target: Target, _state: Any) -> tuple[str, str]:
    """Findings name the VPC by an ARN containing its id; the exact ASFF form is UNVERIFIED (facts §7.2)."""
    return target.resource_id, "CONTAINS"


def read_state(target: Target) -> FlowLogState:
    """DescribeFlowLogs for the VPC."""
    response = client("ec2").describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [target.resource_id]}])
    return FlowLogState(target.resource_id, tuple(response.get("FlowLogs", [])))


def plan(state: FlowLogState, params: Params) -> PlanResult:
    """Create a flow log unless an active one already captures the configured traffic type."""
    for flow_log in state.flow_logs:
        if flow_log.get("TrafficType") == params.traffic_type and flow_log.get("FlowLogStatus", "ACTIVE") == "ACTIVE":
            return None
    request: dict[str, Any] = {
        "ResourceIds": [state.vpc_id],
        "ResourceType": "VPC",
        "TrafficType": params.traffic_type,
        "LogDestinationType": params.destination_type,
    }
    if params.destination_type == "s3":
        request["LogDestination"] = params.s3_bucket_arn
        destination = f"S3 bucket {params.s3_bucket_arn}"
    else:
        request["LogGroupName"] = params.log_group_name
        request["DeliverLogsPermissionArn"] = params.deliver_logs_role_arn
        destination = f"log group {params.log_group_name}"
    return Plan(
        summary=f"Create a flow log ({params.traffic_type}) for {state.vpc_id} to {destination}",
        calls=(ApiCall("ec2", "CreateFlowLogs", request),),
        undo=(ApiCall("ec2", "DeleteFlowLogs", {"FlowLogIds": [CREATED_FLOW_LOG]}),),
        detail={"created": dict(request)},
    )


def client_token(target: Target, request: Mapping[str, Any]) -> str:
    """CreateFlowLogs' ClientToken (at most 64 ASCII characters): one per evaluation and request.

    The request is part of it because EC2 refuses a repeated token with other parameters.
    UNVERIFIED (not in aws-facts): EC2's idempotency rules as the EC2 API reference states them, a
    repeated token answered with the first result, IdempotentParameterMismatch for other parameters.
    """
    if target.idempotency_key is None:
        seed = os.urandom(16).hex()
    else:
        seed = f"{target.idempotency_key}|{sorted((key, str(value)) for key, value in request.items() if key != 'ClientToken')}"
    return "governance-" + hashlib.sha256(seed.encode()).hexdigest()[:48]


def is_exempt(target: Target, _state: FlowLogState, _plan: Plan, exemption_tag: str) -> bool:
    """Whether the VPC carries the exemption tag (DescribeVpcs; fails closed)."""
    tags = read_tags(lambda: client("ec2").describe_vpcs(VpcIds=[target.resource_id])["Vpcs"][0].get("Tags", []), ())
    return exemption_tag in tags


def apply(target: Target, change: Plan, _params: Params) -> Plan:
    """CreateFlowLogs with the evaluation's client token; a per-resource failure in the response is permanent."""
    planned = change.calls[0]
    create = ApiCall(planned.service, planned.operation, {**planned.params, "ClientToken": client_token(target, planned.params)}, planned.region)
    response = call(create)
    unsuccessful = response.get("Unsuccessful") or []
    if unsuccessful:
        error = unsuccessful[0].get("Error", {})
        raise NotRemediable(f"CreateFlowLogs failed: {error.get('Code')}: {error.get('Message')}")
    flow_log_ids = list(response.get("FlowLogIds", []))
    return Plan(
        summary=change.summary,
        calls=(create,),
        undo=(ApiCall("ec2", "DeleteFlowLogs", {"FlowLogIds": flow_log_ids}),),
        detail={**change.detail, "flowLogIds": flow_log_ids},
    )


# --- undo: computed from a record's before-state, never replayed ---------------------------------

UNDO_OPERATIONS: tuple[str, ...] = ("DeleteFlowLogs",)
"""The only operation undo may call for this rule: deleting the flow log the fixer created."""
FLOW_LOG_ID = re.compile(r"fl-[0-9a-f]{8,17}")


def undo_calls(target: Target, before: Mapping[str, Any], change: Mapping[str, Any], params: Params, current: Any) -> tuple[ApiCall, ...]:
    """Delete exactly the flow logs the fix created: absent from the before-state, attached to this VPC now.

    The before-state must be one the fixer would have acted on. Raises UndoRefused otherwise.
    """
    from .inverse import inverse_of, record_list, record_mapping, require, same_resource

    same_resource(before.get("vpcId"), target.resource_id, "VPC")
    existing = record_list(before.get("flowLogs"), "before-state flow logs")
    inverse_of(plan(FlowLogState(target.resource_id, tuple(existing)), params))
    recorded = record_mapping(change.get("detail"), "change detail").get("flowLogIds")
    require(
        isinstance(recorded, list) and bool(recorded) and all(isinstance(item, str) and FLOW_LOG_ID.fullmatch(item) for item in recorded),
        "the record does not name the flow log ids the fix created",
    )
    created: list[str] = list(recorded or [])
    before_ids = {log.get("FlowLogId") for log in existing}
    attached = {log.get("FlowLogId") for log in getattr(current, "flow_logs", ())}
    for flow_log_id in created:
        require(flow_log_id not in before_ids, f"flow log {flow_log_id} existed before the fix, so the fix did not create it")
        require(flow_log_id in attached, f"flow log {flow_log_id} is not attached to {target.resource_id} now")
    return (ApiCall("ec2", "DeleteFlowLogs", {"FlowLogIds": created}),)
