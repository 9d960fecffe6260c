"""Fixer: a GuardDuty detector in the region (GUARDDUTY_ENABLED_CENTRALIZED).

Creates a detector (CreateDetector Enable=true) only when the region has none. It never changes an
existing detector: a suspended one (Status DISABLED) is a ``failed`` record, because a suspension is
usually deliberate (cost, or an organization's GuardDuty administrator manages this member) and
resuming it is a decision for a person (UpdateDetector Enable=true). With ``centralMonitoringAccount``,
an enabled detector whose GuardDuty administrator is not one of those accounts is a ``failed`` record
too: memberships are changed by the administrator, not here.

GuardDuty allows one detector per account and region. The create request carries a client token
derived from the evaluation being remediated (``Target.idempotency_key``), so every delivery of one
event (duplicates, retries) creates at most one detector; a delivery that races another one and is
refused because a detector now exists re-reads the region and changes nothing.

Cost: GuardDuty is billed per analysed event and GB, and a detector created without ``Features``
turns on every optional protection plan except runtime monitoring (botocore CreateDetector
documentation), so the rule's default mode is manual.

Requests per event: compliant 3 (ListDetectors, GetDetector, GetAdministratorAccount); fixed 5
(ListDetectors, CreateDetector, then ListDetectors, GetDetector, GetAdministratorAccount to verify).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..clients import client
from ..errors import error_code
from .base import ACCOUNT_ID, ApiCall, NoAction, Plan, PlanResult, Target, account_resource_id, call

# iam:CreateServiceLinkedRole is not declared: AWS's own AWSConfigRemediation-CreateGuardDutyDetector lists
# only guardduty:CreateDetector and guardduty:GetDetector (research R10). UNVERIFIED: whether CreateDetector
# needs it from the caller when the account has never had GuardDuty (then the record is an AccessDenied failure).
IAM_ACTIONS: tuple[str, ...] = (
    "guardduty:ListDetectors",
    "guardduty:GetDetector",
    "guardduty:GetAdministratorAccount",
    "guardduty:CreateDetector",
)
# GUARDDUTY_ENABLED_CENTRALIZED evaluates AWS::::Account with the account id (Security Hub GuardDuty.1; research R10).
RESOURCE_TYPES: tuple[str, ...] = ("AWS::::Account",)
DETECTOR_ID = re.compile(r"[0-9a-z]{32}")
CREATED_DETECTOR = "<DetectorId returned by CreateDetector>"


@dataclass(frozen=True)
class Params:
    """The accounts allowed to administer this account's GuardDuty (the rule's CentralMonitoringAccount)."""

    central_monitoring_accounts: tuple[str, ...]


@dataclass(frozen=True)
class DetectorState:
    """The region's detectors (AWS allows one) and, for an enabled one, its GuardDuty administrator."""

    account: str
    detectors: tuple[Mapping[str, str], ...]
    """``{"detectorId", "status"}`` per detector."""
    administrator: str | None = None
    """Administrator account id of the enabled detector; None when it has none (or there is no enabled detector)."""

    @property
    def enabled(self) -> Mapping[str, str] | None:
        """The first enabled detector, if any."""
        return next((detector for detector in self.detectors if detector.get("status") == "ENABLED"), None)

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict."""
        return {"account": self.account, "detectors": [dict(detector) for detector in self.detectors], "administratorAccount": self.administrator}


def parse_params(raw: Mapping[str, Any]) -> Params:
    """Typed params: centralMonitoringAccount is a list of 12-digit account ids (may be empty)."""
    accounts = raw.get("centralMonitoringAccount") or []
    if not isinstance(accounts, list) or not all(isinstance(account, str) and ACCOUNT_ID.fullmatch(account) for account in accounts):
        raise ValueError("params.centralMonitoringAccount must be a list of 12-digit account id strings")
    return Params(tuple(accounts))


resource_id = account_resource_id
"""The account id, which must be the function's own account."""


def read_state(target: Target) -> DetectorState:
    """ListDetectors, GetDetector per detector (one on AWS), GetAdministratorAccount for an enabled one."""
    guardduty = client("guardduty")
    detectors = []
    request: dict[str, Any] = {}
    while True:
        response = guardduty.list_detectors(**request)
        for detector_id in response.get("DetectorIds", []):
            status = guardduty.get_detector(DetectorId=detector_id).get("Status")
            detectors.append({"detectorId": str(detector_id), "status": str(status)})
        if not response.get("NextToken"):
            break
        request["NextToken"] = response["NextToken"]
    state = DetectorState(target.account, tuple(detectors))
    if state.enabled is None:
        return state
    administrator = guardduty.get_administrator_account(DetectorId=state.enabled["detectorId"]).get("Administrator") or {}
    return DetectorState(target.account, tuple(detectors), administrator.get("AccountId"))


def plan(state: DetectorState, params: Params) -> PlanResult:
    """Create a detector when the region has none; an existing one is never changed."""
    if state.enabled is not None:
        central = params.central_monitoring_accounts
        if not central or state.account in central or state.administrator in central:
            return None
        return NoAction(
            "failed",
            f"GuardDuty is enabled here but administered by {state.administrator or 'no account'}, not by one of "
            f"centralMonitoringAccount ({', '.join(central)}); the administrator account must invite or enrol this account, "
            "which this function never does",
        )
    if state.detectors:
        ids = ", ".join(detector["detectorId"] for detector in state.detectors)
        return NoAction(
            "failed",
            f"GuardDuty detector {ids} exists but is suspended; this function never changes an existing detector: "
            "resume it (UpdateDetector Enable=true) if the suspension was not deliberate",
        )
    return Plan(
        summary=f"Create a GuardDuty detector in account {state.account} (billed; new detectors turn on GuardDuty's default protection plans)",
        calls=(ApiCall("guardduty", "CreateDetector", {"Enable": True}),),
        undo=(ApiCall("guardduty", "DeleteDetector", {"DetectorId": CREATED_DETECTOR}),),
        detail={"created": {"Enable": True}},
    )


def is_exempt(_target: Target, _state: DetectorState, _plan: Plan, _exemption_tag: str) -> bool:
    """Never: an account carries no tags this function can read (there is no detector yet to carry one)."""
    return False


def client_token(target: Target) -> str:
    """CreateDetector's ClientToken (at most 64 characters): one per evaluation, fresh without one (the CLI).

    UNVERIFIED (not in aws-facts): that GuardDuty answers a repeated token with the first detector, as
    botocore's idempotencyToken marking of the member implies.
    """
    seed = os.urandom(16).hex() if target.idempotency_key is None else f"{target.idempotency_key}|CreateDetector"
    return "governance-" + hashlib.sha256(seed.encode()).hexdigest()[:48]


def apply(target: Target, change: Plan, params: Params) -> Plan:
    """CreateDetector with the evaluation's client token; refused because a detector now exists, re-read instead."""
    planned = change.calls[0]
    create = ApiCall(planned.service, planned.operation, {**planned.params, "ClientToken": client_token(target)}, planned.region)
    try:
        response = call(create)
    except ClientError as error:
        # One detector per account and region: a concurrent delivery created it first (BadRequestException).
        if error_code(error) != "BadRequestException" or plan(read_state(target), params) is not None:
            raise
        return Plan(summary="another delivery had already created the detector", calls=(), undo=(), detail={"created": None})
    detector_id = str(response["DetectorId"])
    return Plan(
        summary=change.summary,
        calls=(create,),
        undo=(ApiCall("guardduty", "DeleteDetector", {"DetectorId": detector_id}),),
        detail={**change.detail, "detectorId": detector_id},
    )


def finding_resource(target: Target, _state: Any) -> tuple[str, str]:
    """Account-level findings name the account (``AWS::::Account:<id>`` in Security Hub, facts §7.2)."""
    return target.account, "CONTAINS"


# --- undo: computed from a record's before-state, never replayed ---------------------------------

UNDO_OPERATIONS: tuple[str, ...] = ("DeleteDetector",)
"""The only operation undo may call for this rule: deleting the detector the fix created (its findings go with it)."""


def undo_calls(target: Target, before: Mapping[str, Any], change: Mapping[str, Any], params: Params, current: Any) -> tuple[ApiCall, ...]:
    """Delete exactly the detector the fix created: the region had none before, and it is the region's detector now.

    Raises UndoRefused otherwise. Deleting a detector deletes its findings too.
    """
    from .inverse import inverse_of, record_list, record_mapping, require, same_resource

    same_resource(before.get("account"), target.account, "account")
    existing = record_list(before.get("detectors"), "before-state detectors")
    inverse_of(plan(DetectorState(target.account, tuple({k: str(v) for k, v in d.items()} for d in existing)), params))
    created = record_mapping(change.get("detail"), "change detail").get("detectorId")
    require(isinstance(created, str) and bool(DETECTOR_ID.fullmatch(created)), "the record does not name the detector id the fix created")
    now = {detector.get("detectorId") for detector in getattr(current, "detectors", ())}
    require(created in now, f"detector {created} is not this region's detector now")
    return (ApiCall("guardduty", "DeleteDetector", {"DetectorId": str(created)}),)
