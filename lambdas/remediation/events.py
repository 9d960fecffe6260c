"""Parse and validate an incoming event, once, into a small typed value or a reason to ignore it.

Two kinds of events are handled: AWS Config "Config Rules Compliance Change" events for the
rules this deployment manages, and SSM "EC2 Automation Execution Status-change Notification"
events for the runbooks of the SSM engine. Anything else is ignored with a reason. An ignore is
``info`` when the event is well formed but needs no action, and ``warning`` when it should never
have arrived (unknown shape, foreign account, unmanaged rule, unexpected resource), so that
operators can alarm on it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .config import DeploymentConfig, RuleSetting, RunbookSetting
from .fixers import load_fixer
from .fixers.base import Target

CONFIG_SOURCE = "aws.config"
COMPLIANCE_DETAIL_TYPE = "Config Rules Compliance Change"
SSM_SOURCE = "aws.ssm"
AUTOMATION_DETAIL_TYPE = "EC2 Automation Execution Status-change Notification"

SUCCEEDED_STATUSES = frozenset({"Success", "CompletedWithSuccess"})
"""Terminal automation statuses that mean the runbook fixed the resource."""
FAILED_STATUSES = frozenset(
    {"Failed", "TimedOut", "Cancelled", "CompletedWithFailure", "Rejected", "ChangeCalendarOverrideRejected", "Exited"}
)
"""Terminal automation statuses that mean it did not."""

FUNCTION_ARN = re.compile(r"arn:(aws[a-z-]*):lambda:([a-z0-9-]+):(\d{12}):function:([A-Za-z0-9_-]+)(?::[A-Za-z0-9$_-]+)?")
ACCOUNT_ID = re.compile(r"[0-9]{12}")
EXECUTION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
DOCUMENT_ARN = re.compile(r"arn:aws[a-z-]*:ssm:[a-z0-9-]*:(?:\d{12})?:document/(?P<name>[A-Za-z0-9_.-]+)")
"""A shared or AWS-owned document named by ARN; AWS-owned ones have no account in their ARN."""

Level = Literal["info", "warning"]


@dataclass(frozen=True)
class Invocation:
    """Where the function runs, from the Lambda context."""

    account: str
    region: str
    partition: str
    request_id: str | None
    function_name: str = ""
    """The function's name, without version or alias (the metrics' ``function`` dimension)."""

    @classmethod
    def from_context(cls, context: Any) -> Invocation | None:
        """Read the account, region and partition from ``context.invoked_function_arn``."""
        arn = getattr(context, "invoked_function_arn", None)
        match = FUNCTION_ARN.fullmatch(arn) if isinstance(arn, str) else None
        if match is None:
            return None
        request_id = getattr(context, "aws_request_id", None)
        return cls(match.group(3), match.group(2), match.group(1), str(request_id) if request_id else None, match.group(4))


@dataclass(frozen=True)
class ComplianceEvent:
    """A NON_COMPLIANT evaluation of a managed rule, for a resource of this region, in this account or (hub) a member's."""

    event_id: str | None
    rule_name: str
    rule: RuleSetting
    from_security_hub: bool
    """Whether the rule is one of Security Hub's own (matched by prefix)."""
    target: Target
    raw_resource_id: str
    event_time: str | None = None
    """The envelope's ``time``: when EventBridge received the event."""
    evaluation_time: str | None = None
    """``newEvaluationResult.resultRecordedTime``: when Config recorded the NON_COMPLIANT evaluation."""


@dataclass(frozen=True)
class AutomationEvent:
    """A terminal status of an SSM Automation execution of a runbook the SSM engine uses."""

    event_id: str | None
    execution_id: str
    document: str
    status: str
    runbook: RunbookSetting
    account: str
    region: str

    @property
    def succeeded(self) -> bool:
        """Whether the status means the runbook succeeded."""
        return self.status in SUCCEEDED_STATUSES


@dataclass(frozen=True)
class Ignored:
    """An event this function does not act on, and why."""

    reason: str
    level: Level
    event_id: str | None = None
    rule_name: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None


ParsedEvent = ComplianceEvent | AutomationEvent | Ignored


def parse_event(event: Any, config: DeploymentConfig, invocation: Invocation) -> ParsedEvent:
    """Validate ``event`` into a ComplianceEvent or AutomationEvent, or say why it is ignored."""
    if not isinstance(event, dict):
        return Ignored("the event is not a JSON object", "warning")
    kind = (event.get("source"), event.get("detail-type"))
    if kind == (CONFIG_SOURCE, COMPLIANCE_DETAIL_TYPE):
        return _compliance_event(event, config, invocation)
    if kind == (SSM_SOURCE, AUTOMATION_DETAIL_TYPE):
        return _automation_event(event, config, invocation)
    return Ignored(f"unrecognised event: source {kind[0]!r}, detail-type {kind[1]!r}", "warning", _text(event.get("id")))


def _compliance_event(event: Mapping[str, Any], config: DeploymentConfig, invocation: Invocation) -> ParsedEvent:
    event_id = _text(event.get("id"))
    detail = event.get("detail")
    if not isinstance(detail, dict):
        return Ignored("the event has no detail object", "warning", event_id)
    rule_name = _text(detail.get("configRuleName"))
    resource_type = _text(detail.get("resourceType"))
    raw_id = _text(detail.get("resourceId"))

    def ignore(reason: str, level: Level = "warning") -> Ignored:
        return Ignored(reason, level, event_id, rule_name, resource_type, raw_id)

    if detail.get("messageType") != "ComplianceChangeNotification":
        return ignore(f"detail.messageType is {detail.get('messageType')!r}, not ComplianceChangeNotification")
    new_result = detail.get("newEvaluationResult")
    if not isinstance(new_result, dict):
        return ignore("detail.newEvaluationResult is missing")
    compliance = new_result.get("complianceType")
    if compliance != "NON_COMPLIANT":
        return ignore(f"the resource is {compliance}, not NON_COMPLIANT", "info" if isinstance(compliance, str) else "warning")
    if rule_name is None or resource_type is None or raw_id is None:
        return ignore("detail.configRuleName, detail.resourceType or detail.resourceId is missing")
    managed = config.rule_for(rule_name)
    if managed is None:
        return ignore(f"rule {rule_name} is not managed by this deployment")
    identifier = new_result.get("evaluationResultIdentifier")
    qualifier = identifier.get("evaluationResultQualifier") if isinstance(identifier, dict) else None
    if isinstance(qualifier, dict) and (
        qualifier.get("configRuleName", rule_name),
        qualifier.get("resourceType", resource_type),
        qualifier.get("resourceId", raw_id),
    ) != (rule_name, resource_type, raw_id):
        return ignore("the evaluation result names another rule or resource than the event detail")
    # Config compliance events always carry both (facts §4): without them the envelope alone
    # would vouch for the resource's account and region, so the event is not trusted.
    for field in ("awsAccountId", "awsRegion"):
        if _text(detail.get(field)) is None:
            return ignore(f"detail.{field} is missing; Config compliance events always carry it")
    account = _event_account(event, detail, config, invocation)
    if account is None:
        accounts = {event.get("account"), detail.get("awsAccountId")}
        return ignore(f"the event's account {sorted(map(str, accounts))} is not this function's account {invocation.account}")
    regions = {event.get("region"), detail.get("awsRegion")}
    if regions != {invocation.region}:
        return ignore(f"the event's region {sorted(map(str, regions))} is not this function's region {invocation.region}")
    setting, from_security_hub = managed
    fixer = load_fixer(setting.key)
    if resource_type not in fixer.RESOURCE_TYPES:
        return ignore(f"rule {rule_name} ({setting.key}) evaluates {', '.join(fixer.RESOURCE_TYPES)}, not {resource_type}")
    canonical = fixer.resource_id(resource_type, raw_id, account)
    if canonical is None:
        return ignore(f"{raw_id!r} is not a well-formed {resource_type} id of this account for {setting.key}")
    key = _evaluation_key(event_id, (rule_name, resource_type, raw_id), identifier)
    target = Target(resource_type, canonical, account, invocation.region, invocation.partition, key)
    evaluation_time = _text(new_result.get("resultRecordedTime"))
    return ComplianceEvent(event_id, rule_name, setting, from_security_hub, target, raw_id, _text(event.get("time")), evaluation_time)


def _event_account(event: Mapping[str, Any], detail: Mapping[str, Any], config: DeploymentConfig, invocation: Invocation) -> str | None:
    """The account the event's resource is in, or None when the function does not take events of it.

    Both the envelope's ``account`` and ``detail.awsAccountId`` must name it. Without an
    ``organization`` section that is the function's own account only; an organization hub also
    takes a member account's events (EventBridge keeps the member's ``account`` when it forwards
    them, research §3.1), and the handler checks that the account is governed before any request.
    """
    account = event.get("account")
    if account != detail.get("awsAccountId") or not isinstance(account, str):
        return None
    if account == invocation.account:
        return account
    if config.organization is not None and ACCOUNT_ID.fullmatch(account):
        return account
    return None


def _automation_event(event: Mapping[str, Any], config: DeploymentConfig, invocation: Invocation) -> ParsedEvent:
    event_id = _text(event.get("id"))
    detail = event.get("detail")
    if not isinstance(detail, dict):
        return Ignored("the event has no detail object", "warning", event_id)
    document = _document_name(_text(detail.get("Definition")))
    execution_id = _text(detail.get("ExecutionId"))
    status = _text(detail.get("Status"))
    if document is None or execution_id is None or status is None:
        return Ignored("detail.Definition, detail.ExecutionId or detail.Status is missing", "warning", event_id)
    runbook = config.ssm_runbooks.get(document)
    if runbook is None:
        return Ignored(f"runbook {document} is not used by this deployment", "warning", event_id, document)
    if not EXECUTION_ID.fullmatch(execution_id):
        return Ignored(f"{execution_id!r} is not a well-formed automation execution id", "warning", event_id, document)
    account = event.get("account")
    member = config.organization is not None and isinstance(account, str) and ACCOUNT_ID.fullmatch(account) is not None
    if account != invocation.account and not member:
        return Ignored(f"the event's account {_quoted(account)} is not this function's account {invocation.account}", "warning", event_id, document)
    if event.get("region") != invocation.region:
        return Ignored(f"the event's region {_quoted(event.get('region'))} is not this function's region {invocation.region}", "warning", event_id, document)
    if status not in SUCCEEDED_STATUSES | FAILED_STATUSES:
        return Ignored(f"automation status {status} is not final", "info", event_id, document)
    # An organization hub also takes a member's execution events; the handler checks the account is governed
    # before reading the execution through the member role.
    return AutomationEvent(event_id, execution_id, document, status, runbook, str(account), invocation.region)


def _document_name(definition: str | None) -> str | None:
    """The document's name: ``definition`` itself, or the name at the end of a document ARN."""
    if definition is None:
        return None
    named_by_arn = DOCUMENT_ARN.fullmatch(definition)
    return named_by_arn["name"] if named_by_arn else definition


def _evaluation_key(event_id: str | None, evaluated: tuple[str, str, str], identifier: Any) -> str | None:
    """What identifies the evaluation being remediated: rule, resource and Config's orderingTimestamp.

    Every delivery of one evaluation's event (duplicates, Lambda's retries) carries the same
    orderingTimestamp, and a later evaluation of the resource a later one (facts §4), so tokens
    derived from it repeat exactly for the same event. Without it the event id stands in.
    """
    # UNVERIFIED: that a later evaluation of the same rule and resource always carries a later
    # orderingTimestamp (facts §4 shows the field, not this property).
    ordering = _text(identifier.get("orderingTimestamp")) if isinstance(identifier, dict) else None
    if ordering is not None:
        return "|".join((*evaluated, ordering))
    return f"event|{event_id}" if event_id else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


MAX_QUOTED_CHARACTERS = 200
"""Event values quoted in a reason are cut to this length: a forged event may carry huge strings."""


def _quoted(value: Any) -> str:
    """``repr(value)``, cut to MAX_QUOTED_CHARACTERS with a note of the full length."""
    text = repr(value)
    if len(text) <= MAX_QUOTED_CHARACTERS:
        return text
    return f"{text[:MAX_QUOTED_CHARACTERS]}... ({len(text)} characters)"
