"""Lambda entry point: a thin adapter from the EventBridge event to the engine and the audit trail.

Every event ends in exactly one final audit record, logged as one JSON line and, unless it is an
info-level ignore, published on the default event bus. The handler raises only on transient AWS
errors (after botocore's adaptive retries), so that Lambda retries the event and, in the end, its
on-failure destination keeps it.
"""

from __future__ import annotations

import os
import traceback
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from typing import Any

# boto3 first, so that botocore loads through its session as boto3 loads it. Importing
# botocore.exceptions first loads the same modules in another order and costs about 20 ms more of
# cold start (benchmarks/lambda_cold_import.py --against <revision>); clients.py needs boto3 anyway.
import boto3
from botocore.exceptions import BotoCoreError, ClientError

from .attempts import earlier_records, include_earlier
from .audit import AuditRecord, publish_result, should_publish, write_log_line
from .automation import automation_outcome
from .calls import recording
from .clients import using_session
from .config import ENVIRONMENT_VARIABLE, ConfigError, DeploymentConfig, load_config
from .engine import Outcome, Progress, remediate
from .errors import describe_error, is_transient
from .events import AutomationEvent, ComplianceEvent, Ignored, Invocation, parse_event
from .fixers import load_fixer
from .fixers.base import NotRemediable
from .metrics import log_lines
from .securityhub import finding_filters, update_findings, workflow_status

HANDLER_IAM_ACTIONS: tuple[str, ...] = (
    "events:PutEvents",
    "logs:FilterLogEvents",
    "securityhub:GetFindings",
    "securityhub:BatchUpdateFindings",
    "ssm:GetAutomationExecution",
)
"""IAM actions the handler itself calls, besides the fixers' own. The Security Hub pair is needed
only when securityHubUpdates is on, ssm:GetAutomationExecution only when ssmRunbooks is not empty,
and logs:FilterLogEvents (on the function's own log group) to read a retried event's earlier attempts."""

HUB_IAM_ACTIONS: tuple[str, ...] = ("organizations:ListParents", "sts:AssumeRole")
"""IAM actions only an organization hub calls (config ``organization``): it checks that a member account
is governed, then assumes the member role in it. Equal to ``hub.HUB_IAM_ACTIONS``, which a hub loads."""


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Handle one EventBridge event; returns the final audit record."""
    invocation = Invocation.from_context(context)
    config = load_config(os.environ.get(ENVIRONMENT_VARIABLE))
    if isinstance(config, ConfigError):
        record = AuditRecord("ignored", f"the deployment config is invalid: {config}; nothing was changed", "warning")
        return _finish(_with_invocation(record, invocation), None, invocation)
    if invocation is None:
        reason = "context.invoked_function_arn is not a Lambda function ARN, so the account cannot be checked; nothing was changed"
        return _finish(AuditRecord("ignored", reason, "warning"), config, None)
    try:
        parsed = parse_event(event, config, invocation)
    except Exception as error:  # a malformed event must never crash the function
        parsed = Ignored(f"the event could not be parsed ({type(error).__name__}: {error})", "warning")
    if isinstance(parsed, Ignored):
        record = AuditRecord(
            "ignored",
            parsed.reason,
            parsed.level,
            rule=parsed.rule_name,
            resource_type=parsed.resource_type,
            resource_id=parsed.resource_id,
            event_id=parsed.event_id,
        )
        return _finish(_with_invocation(record, invocation), config, invocation)
    if isinstance(parsed, ComplianceEvent):
        problem = parsed.rule.params_problem()
        if problem is not None:
            reason = f"the deployment config is invalid: {problem}; nothing was changed"
            record = AuditRecord(
                "ignored",
                reason,
                "warning",
                rule=parsed.rule_name,
                rule_key=parsed.rule.key,
                mode=parsed.rule.mode,
                resource_type=parsed.target.resource_type,
                resource_id=parsed.raw_resource_id,
                event_id=parsed.event_id,
            )
            return _finish(_with_invocation(record, invocation), config, invocation)
        if config.organization is not None or parsed.target.account != invocation.account:
            # A hub acts in every account through the member role, its own included (its role holds no fixer action).
            return _finish(_handle_member_event(parsed, config, invocation), config, invocation)
        return _finish(_handle_compliance(parsed, config, invocation), config, invocation)
    return _finish(_handle_automation(parsed, config, invocation), config, invocation)


def _handle_automation(event: AutomationEvent, config: DeploymentConfig, invocation: Invocation) -> AuditRecord:
    """Record the outcome of a finished SSM remediation; a hub reads it through the member role of the event's account.

    A hub's config holds one entry per runbook for every rule profile, and profiles may run a runbook in
    different modes, so the record of a member's execution names no mode.
    """
    context: dict[str, Any] = {"engine": "ssm", "rule_key": event.runbook.key, "event_id": event.event_id}
    member: boto3.Session | None = None
    access_calls: tuple[dict[str, Any], ...] = ()
    if config.organization is None and event.account == invocation.account:
        context["mode"] = event.runbook.mode
    else:
        context["account"] = event.account
        reached = _member_session(event.account, config, invocation, context)
        if isinstance(reached, AuditRecord):
            return reached
        member, access_calls, _ = reached
    with recording() as calls:
        calls.extend(access_calls)
        try:
            with _in_account(member):
                outcome, resource_id = automation_outcome(event)
        except (ClientError, BotoCoreError) as error:
            _write_attempt(error, AuditRecord("failed", "", api_calls=tuple(calls), **context), invocation)
            raise
    fixer = load_fixer(event.runbook.key)
    record = _record(outcome, calls, invocation, **context)
    return replace(record, resource_type=fixer.RESOURCE_TYPES[0] if resource_id else None, resource_id=resource_id)


def _event_context(event: ComplianceEvent) -> dict[str, Any]:
    """The audit record's fields that describe the event."""
    return {
        "account": event.target.account,
        "rule": event.rule_name,
        "rule_key": event.rule.key,
        "mode": event.rule.mode,
        "resource_type": event.target.resource_type,
        "resource_id": event.raw_resource_id,
        "event_id": event.event_id,
        "evaluation_time": event.evaluation_time,
    }


def _handle_member_event(event: ComplianceEvent, config: DeploymentConfig, invocation: Invocation) -> AuditRecord:
    """An organization hub's event of a member account: checked as governed, then fixed through the member role.

    Nothing is requested in the member account unless Organizations places it under a target and
    STS returns credentials of that very account; otherwise the record says why, and nothing changed.
    """
    context = _event_context(event)
    reached = _member_session(event.target.account, config, invocation, context)
    if isinstance(reached, AuditRecord):
        return reached
    session, calls, target = reached
    profiled = _profile_event(event, config, target)
    if isinstance(profiled, str):
        record = AuditRecord("ignored", profiled, "info", api_calls=calls, **context)
        return _with_invocation(record, invocation)
    profiled = replace(profiled, rule=profiled.rule.for_account(event.target.account))
    problem = profiled.rule.params_problem()
    if problem is not None:
        reason = f"the deployment config is invalid: {problem}; nothing was changed"
        return _with_invocation(AuditRecord("ignored", reason, "warning", api_calls=calls, **context), invocation)
    return _handle_compliance(profiled, config, invocation, session, calls)


def _profile_event(event: ComplianceEvent, config: DeploymentConfig, target: str | None) -> ComplianceEvent | str:
    """``event`` with the setting of the profile of the account's target, or why that profile does not fix it."""
    assert config.organization is not None
    profile = config.organization.profile_for(target) if target else None
    if profile is None or event.rule.key not in profile.rules:
        return event
    rule = profile.rules[event.rule.key]
    if rule.setting is None:
        return f"the Lambda does not fix {event.rule.key} in accounts under {target}, whose rule profile leaves it out; nothing was changed"
    from_security_hub = rule.security_hub_prefixes is not None
    matches = event.rule_name.startswith(rule.security_hub_prefixes) if rule.security_hub_prefixes else not event.from_security_hub
    if event.from_security_hub != from_security_hub or not matches:
        source = "Security Hub's rule" if from_security_hub else "the program's own Config rule"
        return (
            f"accounts under {target} take {event.rule.key} from {source}, not from {event.rule_name}, "
            "so this event is not theirs to fix; nothing was changed"
        )
    return replace(event, rule=rule.setting)


def _member_session(
    account: str, config: DeploymentConfig, invocation: Invocation, context: dict[str, Any]
) -> tuple[boto3.Session, tuple[dict[str, Any], ...], str | None] | AuditRecord:
    """The member role's session in ``account``, the calls that reached it and its target; or why not, as a record.

    Raises on a transient error (after logging the attempt), so that Lambda retries the event.
    """
    if config.organization is None:  # parse_event accepts other accounts only for a hub; kept as a guard
        reason = f"the event's account {account} is not this function's account {invocation.account}; nothing was changed"
        return _with_invocation(AuditRecord("ignored", reason, "warning", **context), invocation)
    from . import hub  # only a hub loads the member-account machinery

    access = hub.hub_for(config.organization, invocation.account, invocation.partition)
    with recording() as calls:
        try:
            verdict = access.membership.is_governed(account)
            if not verdict:
                reason = f"{verdict.reason.rstrip('.')}; this hub does not act in account {account}, nothing was changed"
                return _with_invocation(AuditRecord("ignored", reason, "warning", api_calls=tuple(calls), **context), invocation)
            session = access.sessions.session_for(account)
            target = verdict.target
        except hub.member_sessions.MemberAccessRefused as refused:
            reason = f"{str(refused).rstrip('.')}; nothing was changed"
            return _with_invocation(AuditRecord("failed", reason, "error", api_calls=tuple(calls), **context), invocation)
        except (ClientError, BotoCoreError) as error:
            if is_transient(error):
                _write_attempt(error, AuditRecord("failed", "", api_calls=tuple(calls), **context), invocation)
                raise
            reason = f"AWS refused a call needed to reach account {account} ({describe_error(error)}); nothing was changed"
            return _with_invocation(AuditRecord("failed", reason, "error", api_calls=tuple(calls), **context), invocation)
    return session, tuple(calls), target


def _handle_compliance(
    event: ComplianceEvent,
    config: DeploymentConfig,
    invocation: Invocation,
    member: boto3.Session | None = None,
    access_calls: tuple[dict[str, Any], ...] = (),
) -> AuditRecord:
    """Fix the event's resource; in a member account (``member``'s credentials) after the ``access_calls`` that reached it."""
    context = _event_context(event)
    progress = Progress()
    with recording() as calls:
        calls.extend(access_calls)
        try:
            with _in_account(member):
                outcome = remediate(event, config.exemption_tag, progress)
        except NotRemediable as error:
            outcome = Outcome("failed", str(error), "error", before=progress.before, change=progress.change, undo=progress.undo)
        except (ClientError, BotoCoreError) as error:
            if is_transient(error):
                attempt = AuditRecord(
                    "failed", "", api_calls=tuple(calls), before=progress.before, change=progress.change, undo=progress.undo, **context
                )
                _write_attempt(error, attempt, invocation)
                raise
            outcome = Outcome("failed", f"AWS refused a call ({describe_error(error)}); see apiCalls", "error")
        except Exception as error:  # a defect must end in a failure record, not a crash loop
            write_log_line({"level": "error", "message": "internal error", "traceback": traceback.format_exc()})
            outcome = Outcome("failed", f"internal error ({type(error).__name__}: {error})", "error")
    record = _record(outcome, calls, invocation, **context)
    record = include_earlier(record, *earlier_records(record, event.event_time))
    status = workflow_status(record.decision, outcome.verified) if config.security_hub_updates else None
    if status is not None:
        resource_filter = outcome.finding_resource or load_fixer(event.rule.key).finding_resource(event.target, None)
        filters = finding_filters(event.rule_name, event.from_security_hub, resource_filter, event.target.account, invocation.region)
        note = f"governance {record.decision}: {record.reason} (record {record.record_id})"
        with _in_account(member):
            record = replace(record, security_hub=update_findings(filters, status, note))
    return record


def _in_account(member: boto3.Session | None) -> AbstractContextManager[None]:
    """Clients with ``member``'s credentials inside the block; the function's own when None."""
    return nullcontext() if member is None else using_session(member)


def _record(outcome: Outcome, calls: list[dict[str, Any]], invocation: Invocation, **context: Any) -> AuditRecord:
    record = AuditRecord(
        outcome.decision,
        outcome.reason,
        outcome.level,
        api_calls=tuple(calls),
        before=outcome.before,
        after=outcome.after,
        change=outcome.change,
        undo=outcome.undo,
        narrowing=outcome.narrowing,
        **context,
    )
    return _with_invocation(record, invocation)


def _with_invocation(record: AuditRecord, invocation: Invocation | None) -> AuditRecord:
    if invocation is None:
        return record
    return replace(
        record,
        account=record.account or invocation.account,
        hub_account=invocation.account,
        region=invocation.region,
        request_id=invocation.request_id,
    )


def _write_attempt(error: BaseException, record: AuditRecord, invocation: Invocation) -> None:
    """Log a non-final record for an attempt that raises on a transient error; the retry decides."""
    reason = f"transient error ({describe_error(error)}); raised so that Lambda retries the event"
    write_log_line(_with_invocation(replace(record, reason=reason, level="warning", final=False), invocation).to_json())


def _function_arns(invocation: Invocation | None) -> tuple[str, ...]:
    """The function's unqualified ARN, as the result event's ``resources`` (the notification rule matches it)."""
    if invocation is None or not invocation.function_name:
        return ()
    return (f"arn:{invocation.partition}:lambda:{invocation.region}:{invocation.account}:function:{invocation.function_name}",)


def _finish(record: AuditRecord, config: DeploymentConfig | None, invocation: Invocation | None) -> dict[str, Any]:
    """Log the final record (with its metrics when it counts), then publish it."""
    data = record.to_json()
    lines = [data]
    if invocation is not None and should_publish(record):
        lines = log_lines(data, invocation.function_name)
    for line in lines:
        write_log_line(line)
    if config is not None and should_publish(record):
        publish_result(record, config.result_event_source, _function_arns(invocation))
    return record.to_json()
