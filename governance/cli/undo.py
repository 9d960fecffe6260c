"""``undo``: put a remediated resource back exactly as an audit record says it was.

Undo is the one deliberate exception to "never weaken": it restores the recorded before-state, with
the operator's credentials, after a confirmation. It refuses, saying why, when the resource has
changed since the record was made (unless ``--force``), and when a record has nothing to undo.
Records come from JSONL files written by ``apply``, or, by record id, from those files and from the
remediation Lambda's log group in the record's account and region.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from governance.cli.audit_file import read_audit_file
from governance.cli.output import EXIT_FOUND, EXIT_OK, EXIT_USAGE
from governance.cli.sessions import CLIENT_CONFIG, AccountSessions
from governance.lambda_code import lambda_module
from governance.plan import Names
from governance.settings import Settings


@dataclass(frozen=True)
class UndoResult:
    """What happened to one record."""

    record_id: str
    undone: bool
    reason: str
    calls: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The result as one JSON object."""
        return {"undoOf": self.record_id, "undone": self.undone, "reason": self.reason, "apiCalls": list(self.calls)}


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


def _from_lambda_logs(settings: Settings, record_id: str, sessions: AccountSessions) -> list[dict[str, Any]]:
    group = Names(settings.rule_name_prefix).function_log_group
    for account in settings.accounts:
        for region in account.regions:
            logs = sessions.client(account, "logs", region)
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


def undo_record(record: dict[str, Any], settings: Settings, sessions: AccountSessions, force: bool) -> UndoResult:
    """Check one record and run its undo calls in its account and region."""
    record_id = str(record.get("recordId"))
    if record.get("decision") != "remediated" or not record.get("undo"):
        return UndoResult(record_id, False, f"nothing to undo: the record's decision is {record.get('decision')}")
    account = next((a for a in settings.accounts if a.id == record.get("account")), None)
    if account is None:
        return UndoResult(record_id, False, f"account {record.get('account')} is not in this stack")
    region = str(record.get("region"))
    session = sessions.regional(account, region)
    clients, base = lambda_module("clients"), lambda_module("fixers.base")
    fixer = lambda_module("fixers").load_fixer(str(record.get("ruleKey")))
    target = base.Target(str(record.get("resourceType")), str(record.get("resourceId")), account.id, region, account.partition)
    with clients.using_session(session, CLIENT_CONFIG):
        try:
            current = fixer.read_state(target).to_json()
        except (ClientError, BotoCoreError) as error:
            return UndoResult(record_id, False, f"the resource could not be read: {error}")
        if _canonical(current) != _canonical(record.get("after")) and not force:
            return UndoResult(record_id, False, "the resource changed since the record was made; pass --force to restore the recorded state anyway")
        calls = [base.ApiCall(call["service"], call["operation"], call["params"], call.get("region")) for call in record["undo"]]
        made: list[dict[str, Any]] = []
        for api_call in calls:
            try:
                base.call(api_call)
            except (ClientError, BotoCoreError) as error:
                return UndoResult(record_id, False, f"{api_call.operation} failed: {error}", tuple(made))
            made.append(api_call.to_json())
    return UndoResult(record_id, True, "restored the recorded before-state", tuple(made))


def undo_command(settings: Settings, selector: str, audit_files: list[Path], force: bool, assume_yes: bool) -> int:
    """Find the records, confirm, undo each; prints one JSON line per record."""
    sessions = AccountSessions()
    records = find_records(settings, selector, audit_files, sessions)
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
    failed = False
    for record in records:
        result = undo_record(record, settings, sessions, force)
        print(json.dumps(result.to_json(), default=str))
        failed = failed or not result.undone
    return EXIT_FOUND if failed else EXIT_OK

