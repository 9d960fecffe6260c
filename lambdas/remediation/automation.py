"""The SSM engine's outcomes: read the automation execution to learn the resource, then record it.

The status-change event carries no resource id, so ``ssm:GetAutomationExecution`` reads the
execution's parameters. If that read fails permanently, the outcome is still recorded, without
the resource.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .clients import client
from .engine import Outcome
from .errors import describe_error, is_transient
from .events import AutomationEvent

HIDDEN_PARAMETERS = frozenset({"AutomationAssumeRole"})
"""Runbook parameters left out of the record (the role is the same for every execution)."""


def automation_outcome(event: AutomationEvent) -> tuple[Outcome, str | None]:
    """The outcome of one finished execution, and the resource id it acted on (when known)."""
    execution: dict[str, Any] = {}
    read_error = None
    try:
        execution = client("ssm").get_automation_execution(AutomationExecutionId=event.execution_id)["AutomationExecution"]
    except (ClientError, BotoCoreError) as error:
        if is_transient(error):
            raise
        read_error = describe_error(error)
    parameters = execution.get("Parameters", {})
    resource_id = None
    if event.runbook.resource_parameter is None:
        resource_id = event.account
    elif parameters.get(event.runbook.resource_parameter):
        resource_id = str(parameters[event.runbook.resource_parameter][0])
    change = {
        "executionId": event.execution_id,
        "document": event.document,
        "status": event.status,
        "parameters": {name: values for name, values in parameters.items() if name not in HIDDEN_PARAMETERS},
        "failureMessage": execution.get("FailureMessage"),
        "executedBy": execution.get("ExecutedBy"),
    }
    if event.succeeded:
        reason = f"SSM runbook {event.document} finished with status {event.status}"
        outcome = Outcome("remediated", reason, change=change)
    else:
        failure = execution.get("FailureMessage") or "no failure message"
        reason = f"SSM runbook {event.document} finished with status {event.status}: {failure}"
        outcome = Outcome("failed", reason, "error", change=change)
    if read_error:
        outcome = Outcome(outcome.decision, f"{outcome.reason} (the execution could not be read: {read_error})", "error" if outcome.decision == "failed" else "warning", change=change)
    return outcome, resource_id
