"""Fixer: a Systems Manager document owned by the account is not shared publicly (``All``).

Removes only ``All`` from the document's Share permission (ModifyDocumentPermission with
``AccountIdsToRemove=["All"]``): accounts the document is shared with keep their share, and the
document itself is never changed or deleted. The account-wide block-public-sharing setting (SSM.7)
is a separate, account-wide decision and is not changed. Undo adds ``All`` back, with the shared
version the record read when it is one ModifyDocumentPermission accepts.

Requests per event: compliant 1 (DescribeDocumentPermission); fixed 4 (+ ListTagsForResource,
ModifyDocumentPermission, DescribeDocumentPermission to verify).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..clients import client
from .base import ApiCall, Plan, PlanResult, Target, execute, name_from_arn_or_name, read_tags, regional_arn
from .public_shares import account_shares, public_entries

IAM_ACTIONS: tuple[str, ...] = ("ssm:DescribeDocumentPermission", "ssm:ListTagsForResource", "ssm:ModifyDocumentPermission")
RESOURCE_TYPES: tuple[str, ...] = ("AWS::SSM::Document",)
NAME = re.compile(r"[a-zA-Z0-9_\-.]{3,128}")
"""A document name (ModifyDocumentPermission's Name pattern)."""
ARN = re.compile(r"arn:[a-z-]+:ssm:[a-z0-9-]+:(?P<account>\d{12}):document/(?P<name>.+)")
PUBLIC = "All"
"""How ModifyDocumentPermission spells public sharing ("you must specify All as the account ID")."""
SHAREABLE_VERSIONS = ("$DEFAULT", "$LATEST", "$ALL")
"""SharedDocumentVersion values the API accepts (its pattern); a numbered version cannot be passed back."""


@dataclass(frozen=True)
class Params:
    """No params: the fix is always the same."""


@dataclass(frozen=True)
class DocumentShares:
    """Who the document is shared with: account ids, ``All`` when public, and the version each one sees."""

    name: str
    account_ids: tuple[str, ...]
    versions: Mapping[str, str]
    """SharedDocumentVersion by account id, as DescribeDocumentPermission reports it."""

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict."""
        return {"name": self.name, "accountIds": list(self.account_ids), "sharedVersions": dict(self.versions)}


def parse_params(_raw: Mapping[str, Any]) -> Params:
    """No params to check."""
    return Params()


def resource_id(resource_type: str, raw_id: str, account: str) -> str | None:
    """The document name, from a name or a document ARN of the function's own account.

    UNVERIFIED: that Config's resourceId of AWS::SSM::Document is the document name (an ARN is
    accepted too).
    """
    return name_from_arn_or_name(raw_id, account, ARN, NAME) if resource_type in RESOURCE_TYPES else None


def read_state(target: Target) -> DocumentShares:
    """DescribeDocumentPermission (Share)."""
    response = client("ssm").describe_document_permission(Name=target.resource_id, PermissionType="Share")
    versions = {str(info["AccountId"]): str(info["SharedDocumentVersion"]) for info in response.get("AccountSharingInfoList", []) if "SharedDocumentVersion" in info}
    return DocumentShares(target.resource_id, tuple(str(account) for account in response.get("AccountIds", [])), versions)


def plan(state: DocumentShares, _params: Params) -> PlanResult:
    """Stop sharing the document with ``All``; the account shares stay."""
    public = public_entries(state.account_ids)
    if not public:
        return None
    add_back: dict[str, Any] = {"Name": state.name, "PermissionType": "Share", "AccountIdsToAdd": [PUBLIC]}
    version = next((state.versions[entry] for entry in public if entry in state.versions), None)
    if version in SHAREABLE_VERSIONS:
        add_back["SharedDocumentVersion"] = version
    return Plan(
        summary=f"Stop sharing SSM document {state.name} publicly (remove All from its Share permission)",
        calls=(ApiCall("ssm", "ModifyDocumentPermission", {"Name": state.name, "PermissionType": "Share", "AccountIdsToRemove": [PUBLIC]}),),
        undo=(ApiCall("ssm", "ModifyDocumentPermission", add_back),),
        detail={"document": state.name, "removed": PUBLIC, "keptAccountShares": list(account_shares(state.account_ids))},
    )


def is_exempt(target: Target, _state: DocumentShares, _plan: Plan, exemption_tag: str) -> bool:
    """Whether the document carries the exemption tag (ListTagsForResource; fails closed)."""
    tags = read_tags(lambda: client("ssm").list_tags_for_resource(ResourceType="Document", ResourceId=target.resource_id).get("TagList", []), ())
    return exemption_tag in tags


def apply(_target: Target, change: Plan, _params: Params) -> Plan:
    """ModifyDocumentPermission with AccountIdsToRemove ["All"]."""
    return execute(change)


def finding_resource(target: Target, _state: Any) -> tuple[str, str]:
    """Findings name the document by its ARN (UNVERIFIED for documents; the Security Hub ARN form of other resources)."""
    return regional_arn(target, "ssm", f"document/{target.resource_id}"), "EQUALS"


# --- undo: computed from a record's before-state, never replayed ---------------------------------

UNDO_OPERATIONS: tuple[str, ...] = ("ModifyDocumentPermission",)
"""The only operation undo may call for this rule: sharing the same document with ``All`` again."""


def undo_calls(target: Target, before: Mapping[str, Any], _change: Mapping[str, Any], params: Params, _current: Any) -> tuple[ApiCall, ...]:
    """The call that shares the record's own document with ``All`` again, planned from its ``before``; raises UndoRefused."""
    from .inverse import inverse_of, record_mapping, require, same_resource

    same_resource(before.get("name"), target.resource_id, "document")
    accounts = before.get("accountIds")
    require(isinstance(accounts, list) and all(isinstance(value, str) for value in accounts), "the record's before-state accountIds is not a list of strings")
    versions = record_mapping(before.get("sharedVersions") or {}, "before-state sharedVersions")
    require(all(isinstance(value, str) for value in versions.values()), "the record's before-state sharedVersions holds something other than versions")
    return inverse_of(plan(DocumentShares(target.resource_id, tuple(accounts or ()), dict(versions)), params)).undo
