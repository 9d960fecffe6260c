"""Security Hub: note the outcome on the resource's finding, RESOLVED on verified success, NOTIFIED on failure.

RESOLVED is set only when a read after the fix found the resource compliant: Security Hub resets
RESOLVED to NEW only when the control goes from PASSED back to FAILED, so a fix that did not take
would leave a wrong RESOLVED mark on a finding that stays FAILED (facts §9).

The finding is looked up by the Config rule name and the resource (facts §7.2): Security Hub's
own rules carry the name in ProductFields ``RelatedAWSResources:0/name``, the Config integration in
``aws/config/ConfigRuleName``. Errors are recorded, never raised: the fix itself is already done.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .clients import client
from .errors import describe_error

WORKFLOW_BY_DECISION = {"remediated": "RESOLVED", "failed": "NOTIFIED"}
"""Workflow status to set for each decision that updates the finding."""


def workflow_status(decision: str, verified: bool) -> str | None:
    """The workflow status to set, or None to leave the finding alone.

    A ``remediated`` decision that verification did not confirm is noted as NOTIFIED, never RESOLVED.
    """
    status = WORKFLOW_BY_DECISION.get(decision)
    if status == "RESOLVED" and not verified:
        return "NOTIFIED"
    return status
NOTE_AUTHOR = "governance-remediation"
MAX_NOTE_CHARACTERS = 512


def finding_filters(rule_name: str, from_security_hub: bool, resource_filter: tuple[str, str], account: str, region: str) -> dict[str, Any]:
    """GetFindings filters for the active finding of one rule and one resource."""
    name_field = "RelatedAWSResources:0/name" if from_security_hub else "aws/config/ConfigRuleName"
    value, comparison = resource_filter
    return {
        "AwsAccountId": [{"Value": account, "Comparison": "EQUALS"}],
        "Region": [{"Value": region, "Comparison": "EQUALS"}],
        "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}],
        "ProductFields": [{"Key": name_field, "Value": rule_name, "Comparison": "EQUALS"}],
        "ResourceId": [{"Value": value, "Comparison": comparison}],
    }


def update_findings(filters: dict[str, Any], status: str, note: str) -> dict[str, Any]:
    """Find the matching findings, set ``status`` and the note; returns what happened, for the audit record."""
    try:
        findings = client("securityhub").get_findings(Filters=filters, MaxResults=100).get("Findings", [])
        if not findings:
            return {"updated": 0, "workflowStatus": status, "reason": "no active finding matched"}
        response = client("securityhub").batch_update_findings(
            FindingIdentifiers=[{"Id": finding["Id"], "ProductArn": finding["ProductArn"]} for finding in findings],
            Note={"Text": note[:MAX_NOTE_CHARACTERS], "UpdatedBy": NOTE_AUTHOR},
            Workflow={"Status": status},
        )
    except (ClientError, BotoCoreError) as error:
        return {"updated": 0, "workflowStatus": status, "error": describe_error(error)}
    unprocessed = response.get("UnprocessedFindings", [])
    return {
        "updated": len(response.get("ProcessedFindings", [])),
        "workflowStatus": status,
        "unprocessed": [f"{item.get('ErrorCode')}: {item.get('ErrorMessage')}" for item in unprocessed],
    }
