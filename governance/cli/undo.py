"""``undo``: put a remediated resource back exactly as an audit record says it was.

Undo is the one deliberate exception to "never weaken": it restores the recorded before-state, with
the operator's credentials, after a confirmation. Undo is computed, not replayed: the fixer derives
the inverse from its own code and the record's before-state, restricted to its declared
``UNDO_OPERATIONS`` on the record's own resource, account and region (all in the stack); a record
whose listed calls differ from that inverse was edited and is refused. It also refuses, saying why,
when the resource has changed since the record was made (unless ``--force``). Records with nothing
to undo (exempt, already compliant, dry runs) are skipped and are not failures.
Records come from JSONL files written by ``apply``, or, by record id, from those files and from the
remediation Lambda's log group in the record's account and region.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from governance.cli import fleet
from governance.cli.audit_file import read_audit_file
from governance.cli.output import EXIT_FOUND, EXIT_OK, EXIT_USAGE
from governance.cli.sessions import CLIENT_CONFIG, AccountSessions
from governance.lambda_code import lambda_module
from governance.plan import Names, plan_stack
from governance.settings import Settings


@dataclass(frozen=True)
class UndoResult:
    """What happened to one record."""

    record_id: str
    undone: bool
    reason: str
    calls: tuple[dict[str, Any], ...] = ()
    skipped: bool = False
    """The record has nothing to undo (an exempt or already compliant resource, a dry run...): not a failure."""

    def to_json(self) -> dict[str, Any]:
        """The result as one JSON object."""
        return {"undoOf": self.record_id, "undone": self.undone, "skipped": self.skipped, "reason": self.reason, "apiCalls": list(self.calls)}


def find_records(settings: Settings, selector: str, audit_files: Iterable[Path], sessions: AccountSessions) -> list[dict[str, Any]]:
    """The records ``selector`` names: every record of a JSONL file, or the one with that record id.

    A record id may have several lines (written ahead, then amended by verification): the last wins.
    """
    path = Path(selector)
    if path.is_file():
        return read_audit_file(path)
    for audit_file in audit_files:
        for record in read_audit_file(audit_file):
            if record["recordId"] == selector:
                return [record]
    return _from_lambda_logs(settings, selector, sessions)


def _log_clients(settings: Settings, sessions: AccountSessions) -> Iterator[Any]:
    """Logs clients where the remediation Lambdas run: each account of ``governance:accounts``, and the hub.

    Organization members run no Lambda: the hub's fixes them, and its records carry the member's account id.
    """
    for account in settings.accounts:
        if sessions.is_member(account):
            continue
        for region in account.regions:
            yield sessions.client(account, "logs", region)
    if settings.organization is not None and sessions.hub is not None:
        for region in settings.organization.regions:
            yield sessions.hub_client("logs", region)


def _from_lambda_logs(settings: Settings, record_id: str, sessions: AccountSessions) -> list[dict[str, Any]]:
    group = Names(settings.rule_name_prefix).function_log_group
    for logs in _log_clients(settings, sessions):
        try:
            pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group, filterPattern=f'"{record_id}"')
            for page in pages:
                for event in page.get("events", []):
                    try:
                        record = json.loads(event["message"])
                    except json.JSONDecodeError:
                        continue
                    if isinstance(record, dict) and record.get("recordId") == record_id:
                        return [record]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
    return []


def _canonical(state: Any) -> str:
    return json.dumps(state, sort_keys=True, default=str)


def _wrote(record: dict[str, Any]) -> bool:
    """Whether the record's change reached AWS: remediated, or failed only after its write (verification)."""
    if record.get("decision") == "remediated":
        return True
    calls = record.get("apiCalls")
    return record.get("decision") == "failed" and bool(record.get("undo")) and isinstance(calls, list) and any(
        isinstance(call, dict) and call.get("outcome") == "ok" and not str(call.get("operation", "")).startswith(("Get", "Describe", "List"))
        for call in calls
    )


@dataclass(frozen=True)
class _Checked:
    """A record that names a resource of this stack with a rule the stack runs there."""

    target: Any
    fixer: Any
    params: Any
    session: Any
    stack_regions: tuple[str, ...]


def _check_record(record: dict[str, Any], settings: Settings, sessions: AccountSessions) -> _Checked:
    """The record's account, region, rule and resource, each checked against the stack; raises UndoRefused."""
    refused = lambda_module("fixers.inverse").UndoRefused
    account = next((a for a in settings.accounts if a.id == record.get("account")), None)
    if account is None:
        raise refused(f"account {record.get('account')!r} is not in this stack")
    region = record.get("region")
    if region not in account.regions:
        raise refused(f"region {region!r} is not a region of account {account.id} in this stack")
    rule_key = record.get("ruleKey")
    region_plan = next((r for p in plan_stack(settings) if p.account.id == account.id for r in p.regions if r.region == region), None)
    rule = next((r for r in region_plan.rules if r.key == rule_key), None) if region_plan is not None else None
    if region_plan is None or rule is None or not isinstance(rule_key, str) or rule_key not in lambda_module("fixers").MODULE_NAMES:
        raise refused(f"rule {rule_key!r} is not a rule with a fixer that this stack runs in {account.id}/{region}")
    fixer = lambda_module("fixers").load_fixer(str(rule_key))
    resource_type, resource_id = record.get("resourceType"), record.get("resourceId")
    if resource_type not in fixer.RESOURCE_TYPES or not isinstance(resource_id, str) or fixer.resource_id(resource_type, resource_id, account.id) != resource_id:
        raise refused(f"resource {resource_type} {resource_id!r} is not one the {rule_key} fixer changes")
    target = lambda_module("fixers.base").Target(str(resource_type), resource_id, account.id, str(region), account.partition)
    params = fixer.parse_params(region_plan.lambda_params(rule))
    return _Checked(target, fixer, params, sessions.regional(account, str(region)), tuple(account.regions))


def _confined(calls: tuple[Any, ...], checked: _Checked) -> None:
    """Every call is a declared inverse operation of the fixer, on the record's own resource, account and regions."""
    refused = lambda_module("fixers.inverse").UndoRefused
    target = checked.target
    allowed = tuple(getattr(checked.fixer, "UNDO_OPERATIONS", ()))
    for api_call in calls:
        if api_call.operation not in allowed:
            raise refused(f"{api_call.operation} is not an operation the fixer undoes with ({', '.join(allowed) or 'none declared'})")
        if api_call.region is not None and api_call.region not in checked.stack_regions:
            raise refused(f"{api_call.operation} would call region {api_call.region}, which is not a region of account {target.account} in this stack")
        params = api_call.params
        for key in ("Bucket", "GroupId"):
            if key in params and params[key] != target.resource_id:
                raise refused(f"{api_call.operation} names {key} {params[key]!r}, not the record's resource {target.resource_id}")
        if "AccountId" in params and params["AccountId"] != target.account:
            raise refused(f"{api_call.operation} names account {params['AccountId']!r}, not the record's account {target.account}")
        name = params.get("Name", params.get("TrailName"))
        if isinstance(name, str) and name.startswith("arn:") and name.split(":")[4] != target.account:
            raise refused(f"{api_call.operation} names trail {name}, which is not in the record's account {target.account}")


def _refuse_if_exempt(checked: _Checked, current: Any, calls: tuple[Any, ...], change: Any, exemption_tag: str) -> None:
    """Undo leaves a resource that carries the exemption tag now alone, as apply does; unreadable tags count as the tag."""
    base, refused = lambda_module("fixers.base"), lambda_module("fixers.inverse").UndoRefused
    detail = change.get("detail") if isinstance(change.get("detail"), dict) else {}
    changed = detail.get("trail") if isinstance(detail.get("trail"), str) else None
    try:
        exempt = checked.fixer.is_exempt(checked.target, current, base.Plan("undo", calls, (), {}, (), changed), exemption_tag)
    except base.TagsUnreadable as error:
        raise refused(f"the resource's tags could not be read ({error}); exemptions fail closed, so nothing was changed") from error
    if exempt:
        raise refused(f"the resource is tagged {exemption_tag} now; remove the tag to undo the change")


def undo_record(record: dict[str, Any], settings: Settings, sessions: AccountSessions, force: bool) -> UndoResult:
    """Recompute the inverse of one record's change from the fixer's code and its before-state, then run it.

    The calls a record lists are never run: they are only compared with the computed inverse, and
    a record whose listed calls differ has been edited and is refused. Records with nothing to undo
    are skipped.
    """
    record_id = str(record.get("recordId"))
    if not _wrote(record):
        return UndoResult(record_id, False, f"nothing to undo: the record's decision is {record.get('decision')}", skipped=True)
    inverse = lambda_module("fixers.inverse")
    clients, base = lambda_module("clients"), lambda_module("fixers.base")
    try:
        checked = _check_record(record, settings, sessions)
        before, change = inverse.record_mapping(record.get("before"), "before-state"), inverse.record_mapping(record.get("change") or {}, "change")
        with clients.using_session(checked.session, CLIENT_CONFIG):
            try:
                current = checked.fixer.read_state(checked.target)
            except (ClientError, BotoCoreError) as error:
                return UndoResult(record_id, False, f"the resource could not be read: {lambda_module('errors').describe_error(error)}")
            if record.get("after") is None and not force:
                return UndoResult(record_id, False, "the record has no verified after-state, so a later change cannot be ruled out; pass --force to restore the recorded state anyway")
            if _canonical(current.to_json()) != _canonical(record.get("after")) and not force:
                return UndoResult(record_id, False, "the resource changed since the record was made; pass --force to restore the recorded state anyway")
            calls = tuple(checked.fixer.undo_calls(checked.target, before, change, checked.params, current))
            _confined(calls, checked)
            listed = record.get("undo")
            if listed and _canonical([call.to_json() for call in calls]) != _canonical(listed):
                raise inverse.UndoRefused("the record's undo calls differ from the inverse the fixer computes from its before-state, so the record was edited")
            _refuse_if_exempt(checked, current, calls, change, settings.exemption_tag)
            made: list[dict[str, Any]] = []
            for api_call in calls:
                try:
                    base.call(api_call)
                except (ClientError, BotoCoreError) as error:
                    return UndoResult(record_id, False, f"{api_call.operation} failed: {lambda_module('errors').describe_error(error)}", tuple(made))
                made.append(api_call.to_json())
                fleet.checkpoint("write", record)
    except inverse.UndoRefused as refusal:
        return UndoResult(record_id, False, f"refused: {refusal}")
    except (ClientError, BotoCoreError) as error:
        return UndoResult(record_id, False, f"AWS refused a call: {lambda_module('errors').describe_error(error)}")
    return UndoResult(record_id, True, "restored the recorded before-state", tuple(made))


def undo_command(
    settings: Settings, selector: str, audit_files: list[Path], force: bool, assume_yes: bool, sessions: AccountSessions | None = None,
) -> int:
    """Find the records, confirm, undo each; prints one JSON line per record.

    A record of an organization member is undone through that account's member role.
    """
    sessions = sessions or AccountSessions()
    records = find_records(settings, selector, audit_files, sessions)
    fleet.checkpoint("read", None)
    if not records:
        sys.stderr.write(f"undo: no audit record {selector!r} in the given files or the stack's Lambda log groups.\n")
        return EXIT_USAGE
    if not assume_yes:
        for record in records:
            print(f"{record['recordId']}: {record.get('ruleKey')} {record.get('resourceId')} in {record.get('account')}/{record.get('region')}: undo {record.get('reason')}")
        if not sys.stdin.isatty():
            sys.stderr.write("undo restores the recorded before-state: confirm on a terminal or pass --yes.\n")
            return EXIT_USAGE
        if input(f"Undo {len(records)} change(s)? [y/N] ").strip().lower() not in ("y", "yes"):
            print("Nothing changed.")
            return EXIT_OK
    fleet.checkpoint("confirm", None)
    failed = False
    for record in records:
        result = undo_record(record, settings, sessions, force)
        print(json.dumps(result.to_json(), default=str))
        failed = failed or not (result.undone or result.skipped)
    return EXIT_FOUND if failed else EXIT_OK

