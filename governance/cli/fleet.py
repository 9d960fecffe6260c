"""``scan`` and ``apply`` across every account, region and rule of a stack, with the Lambda's own fixers.

Both read in batches (``inventory``), plan with the fixers' pure ``plan``, and check exemptions the
way the Lambda does (one tag query per account-region; a tag read that fails means nothing there
is changed). An account-region that cannot be entered or read is reported and skipped; the rest of
the fleet goes on.

``apply`` runs after the operator confirmed what ``scan`` showed, and by then anything may have
changed: it reads the tags and the state again, per account-region and per resource, and plans each
write from that fresh read. ``apply --yes`` has nothing to confirm, so it reads once: per
account-region the tags and the batch discovery, then per resource the fixer's read right before
its write (``apply_unconfirmed``); compliant resources get no record. Each decision's audit record
is written as soon as its write returns, before anything else can fail; the resource is then read
again (right after the write, or in one batch read per account-region and rule once that rule's
fixes there are done) and an amending line with the same record id says what the read found
(readers take the last line of each record id).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from governance.cli.inventory import ExemptionsUnreadable, Found, discover, discovery_gives_state, exempt_arns
from governance.cli.sessions import CLIENT_CONFIG, AccountSessions
from governance.compliance import config_verdict
from governance.lambda_code import lambda_module
from governance.plan import RegionPlan, plan_stack
from governance.settings import RuleSettings, Settings

UNREADABLE = "unreadable"
ASK_FIXER = "ask-fixer"
Exemption = bool | str
"""True/False from the batch tag query, ``UNREADABLE`` when it failed, ``ASK_FIXER`` when the fixer checks."""

NOT_YET_READ = "not-yet-read"
"""The plan of an item ``apply --yes`` reads and plans only right before its write (nothing was confirmed)."""

AWS_ERRORS = (ClientError, BotoCoreError)

STEPS = ("read", "confirm", "write", "record", "verify")
"""The steps of ``apply`` in order; ``checkpoint`` is called after each."""


def _no_checkpoint(_step: str, _subject: Any) -> None:
    return None


checkpoint: Callable[[str, Any], None] = _no_checkpoint
"""Called after each step of ``apply`` and ``undo`` with the step's name and the item or record it was about
(None for fleet-wide steps). Nothing in the product uses it; tests change AWS here to race the CLI."""


@dataclass(frozen=True)
class Item:
    """One resource of one rule, as read and planned."""

    region_plan: RegionPlan
    rule: RuleSettings
    session: boto3.Session
    found: Found
    state: Any
    params: Any
    plan: Any
    """The fixer's plan, ``NoAction``, None when compliant, or ``NOT_YET_READ`` (``apply --yes``)."""
    exempt: Exemption
    """From the tag query; ``UNREADABLE`` fails closed; ``ASK_FIXER`` when the fixer reads the tags itself."""

    @property
    def unit(self) -> tuple[str, str]:
        """The item's account and region."""
        return self.region_plan.account.id, self.region_plan.region

    @property
    def config_verdict(self) -> str:
        """What AWS Config's managed rule will report for this resource."""
        if isinstance(self.state, Unreadable):
            return "UNKNOWN"
        return config_verdict(self.rule.key, self.state.to_json(), self.region_plan.lambda_params(self.rule), self.found.target.resource_id)

    @property
    def non_compliant(self) -> bool:
        """Whether the fixer found something to change or a reason it cannot, or Config will flag it."""
        return self.plan is not None or self.config_verdict == "NON_COMPLIANT"

    def finding(self) -> dict[str, Any]:
        """What ``scan`` reports for this resource."""
        base = lambda_module("fixers.base")
        if self.plan is None:
            status, change, summary = "no_fix", None, "Config will flag it, but the fixer finds nothing it may change"
        elif isinstance(self.plan, base.Plan):
            status = "exempt" if self.exempt in (True, UNREADABLE) else "non_compliant"
            change = self.plan.to_json()
            summary = self.plan.summary
        else:
            status, change, summary = self.plan.decision, None, self.plan.reason
        if self.exempt == UNREADABLE:
            summary = f"{summary} (exemption tags unreadable: nothing will be changed)"
        return {
            "account": self.region_plan.account.id,
            "region": self.region_plan.region,
            "rule": self.rule.key,
            "mode": self.rule.mode,
            "resourceType": self.found.target.resource_type,
            "resourceId": self.found.target.resource_id,
            "config": self.config_verdict,
            "status": status,
            "summary": summary,
            "change": change,
        }


@dataclass(frozen=True)
class UnitFailure:
    """An account-region that could not be entered or read: reported, and nothing in it is changed."""

    account: str
    region: str
    reason: str

    def finding(self) -> dict[str, Any]:
        """What ``scan`` reports for the account-region."""
        return {
            "account": self.account, "region": self.region, "rule": None, "mode": None, "resourceType": None,
            "resourceId": None, "config": "UNKNOWN", "status": "failed", "summary": self.reason, "change": None,
        }

    def record(self) -> dict[str, Any]:
        """The audit record ``apply`` writes for the account-region."""
        audit = lambda_module("audit")
        return dict(audit.AuditRecord("failed", self.reason, "error", engine="cli", account=self.account, region=self.region).to_json())


@dataclass(frozen=True)
class FleetRead:
    """Every resource read and planned, and every account-region that could not be read."""

    items: list[Item]
    failures: list[UnitFailure]


@dataclass
class Progress:
    """A progress line on a terminal; silent otherwise."""

    total: int
    label: str
    done: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def expect(self, more: int) -> None:
        """Count ``more`` items still to do (when they are found as the work goes on)."""
        with self._lock:
            self.total += more

    def step(self) -> None:
        """Count one finished item and redraw."""
        with self._lock:
            self.done += 1
            if sys.stderr.isatty():
                width = 30
                filled = width * self.done // max(self.total, 1)
                sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}")
                sys.stderr.flush()

    def finish(self) -> None:
        """End the line once the work is done (the total may have grown until then)."""
        with self._lock:
            if self.done and sys.stderr.isatty():
                sys.stderr.write("\n")
                sys.stderr.flush()


@contextmanager
def _in_account(session: boto3.Session) -> Iterator[None]:
    with lambda_module("clients").using_session(session, CLIENT_CONFIG):
        yield


def _describe(error: BaseException) -> str:
    text: str = lambda_module("errors").describe_error(error)
    return text


def _selected_rules(region_plan: RegionPlan, only: set[str] | None, remediating: bool) -> list[RuleSettings]:
    rules = [rule for rule in region_plan.rules if rule.source == "own" or rule.uses_lambda]
    if remediating:
        rules = [rule for rule in rules if rule.remediates]
    if only:
        rules = [rule for rule in rules if rule.key in only]
    return rules


Row = tuple[RegionPlan, boto3.Session, RuleSettings, Found, Exemption]


def _exemptions(session: boto3.Session, tag_key: str, rule_keys: set[str]) -> set[str] | None:
    """ARNs carrying the exemption tag, or None when the tags could not be read (everything fails closed)."""
    try:
        return exempt_arns(session, tag_key, rule_keys)
    except ExemptionsUnreadable:
        return None


def _flag(exempt: set[str] | None, found: Found) -> Exemption:
    # Resources without a taggable ARN here (the account-level rules) let the fixer read the tags
    # of whatever it would change, e.g. the trail the multi-region rule updates.
    if exempt is None:
        return UNREADABLE
    return found.arn in exempt if found.arn else ASK_FIXER


Unit = tuple[RegionPlan, list[RuleSettings]]
"""One account-region and the selected rules it runs."""


def _units(settings: Settings, only: set[str] | None, remediating: bool) -> list[Unit]:
    units: list[Unit] = []
    for account_plan in plan_stack(settings):
        for region_plan in account_plan.regions:
            rules = _selected_rules(region_plan, only, remediating)
            if rules:
                units.append((region_plan, rules))
    return units


def _discover_unit(unit: Unit, sessions: AccountSessions, settings: Settings) -> list[Row] | UnitFailure:
    """Enter the account-region, query its exemption tags once and discover every rule's resources."""
    region_plan, rules = unit
    account, region = region_plan.account, region_plan.region
    try:
        session = sessions.regional(account, region)
        exempt = _exemptions(session, settings.exemption_tag, {rule.key for rule in rules})
        return [
            (region_plan, session, rule, found, _flag(exempt, found))
            for rule in rules
            for found in discover(rule.key, session, account, region)
        ]
    except AWS_ERRORS as error:
        return UnitFailure(account.id, region, f"account {account.id} in {region} could not be read ({_describe(error)}); nothing there was scanned or changed")


def read_fleet(
    settings: Settings,
    sessions: AccountSessions,
    concurrency: int,
    only: set[str] | None = None,
    remediating: bool = False,
) -> FleetRead:
    """Read and plan every resource of the selected rules in every account and region.

    An account whose role cannot be assumed, or a region whose reads are refused, becomes one
    ``UnitFailure`` per account-region; the others are read as usual.
    """
    units = _units(settings, only, remediating)
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(lambda unit: _discover_unit(unit, sessions, settings), units))
        rows = [row for result in results if not isinstance(result, UnitFailure) for row in result]
        failures = [result for result in results if isinstance(result, UnitFailure)]
        return FleetRead(list(pool.map(_plan_row, rows)), failures)


def _plan_row(row: Row) -> Item:
    region_plan, session, rule, found, exempt = row
    fixer = lambda_module("fixers").load_fixer(rule.key)
    params = fixer.parse_params(region_plan.lambda_params(rule))
    try:
        with _in_account(session):
            state = found.state if found.state is not None else fixer.read_state(found.target)
    except AWS_ERRORS as error:
        # One unreadable resource is reported, not fatal to the whole fleet.
        reason = f"the resource could not be read ({_describe(error)})"
        return Item(region_plan, rule, session, found, Unreadable(found.target.resource_id), params, lambda_module("fixers.base").NoAction("failed", reason), exempt)
    return Item(region_plan, rule, session, found, state, params, fixer.plan(state, params), exempt)


@dataclass(frozen=True)
class Unreadable:
    """Stands in for the state of a resource that could not be read."""

    resource_id: str

    def to_json(self) -> dict[str, Any]:
        """No state to show: only the resource id."""
        return {"resourceId": self.resource_id, "unreadable": True}


# --- apply ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fresh:
    """An item as read again after the confirmation: its tags, and its batch-read state when there is one."""

    item: Item
    found: Found | None
    """None when the resource no longer exists."""
    exempt: Exemption
    problem: str | None = None
    """Why it could not be read again; nothing is changed then."""


def _reread_unit(items: list[Item], settings: Settings) -> list[Fresh]:
    """One tag query for the account-region and one batch read per rule, taken after the confirmation."""
    first = items[0]
    account, region = first.region_plan.account, first.region_plan.region
    exempt = _exemptions(first.session, settings.exemption_tag, {item.rule.key for item in items})
    found_by_rule: dict[str, dict[str, Found] | str] = {}
    for key in {item.rule.key for item in items}:
        try:
            found_by_rule[key] = {found.target.resource_id: found for found in discover(key, first.session, account, region)}
        except AWS_ERRORS as error:
            found_by_rule[key] = _describe(error)
    fresh = []
    for item in items:
        batch = found_by_rule[item.rule.key]
        if isinstance(batch, str):
            fresh.append(Fresh(item, None, UNREADABLE, f"the resources could not be read again after the confirmation ({batch}); nothing was changed"))
            continue
        found = batch.get(item.found.target.resource_id)
        # What the operator saw as exempt or unreadable was not confirmed for a fix: it stays unchanged.
        flag = item.exempt if item.exempt in (True, UNREADABLE) else _flag(exempt, found) if found is not None else False
        fresh.append(Fresh(item, found, flag))
    return fresh


def _decide_and_fix(fresh: Fresh, settings: Settings) -> tuple[Any, list[dict[str, Any]], Any]:
    """Read the resource now, plan from that read, and write; returns (outcome, API calls, state read).

    The outcome is None when an item of ``apply --yes`` reads as compliant: there is nothing to record.
    """
    engine, calls_module, base = lambda_module("engine"), lambda_module("calls"), lambda_module("fixers.base")
    item = fresh.item
    fixer = lambda_module("fixers").load_fixer(item.rule.key)
    state = None
    with _in_account(item.session), calls_module.recording() as calls:
        try:
            if fresh.problem is not None:
                outcome = engine.Outcome("failed", fresh.problem, "error")
            elif fresh.found is None:
                outcome = engine.Outcome("ignored", "the resource no longer exists; nothing was changed", "warning")
            else:
                # Read immediately before the write (batch reads were taken after the confirmation).
                state = fresh.found.state if fresh.found.state is not None else fixer.read_state(fresh.found.target)
                planned = fixer.plan(state, item.params)
                confirmed = item.plan is not NOT_YET_READ
                if planned is None and not confirmed:
                    outcome = None
                elif confirmed and isinstance(planned, base.Plan) and not isinstance(item.plan, base.Plan):
                    reason = "the resource changed after the confirmation and now needs a change nobody confirmed; nothing was changed (run apply again)"
                    outcome = engine.Outcome("failed", reason, "warning", before=state.to_json(), change=planned.to_json())
                elif fresh.exempt == UNREADABLE and isinstance(planned, base.Plan):
                    outcome = engine.Outcome("failed", "the exemption tags could not be read; exemptions fail closed, so nothing was changed", "error", before=state.to_json())
                else:
                    outcome = engine.remediate_target(
                        item.rule.key, "auto", fresh.found.target, item.params, settings.exemption_tag,
                        state=state, exempt=fresh.exempt if isinstance(fresh.exempt, bool) else None, verify_after=False,
                    )
        except AWS_ERRORS as error:
            before = state.to_json() if state is not None else None
            outcome = engine.Outcome("failed", f"AWS refused a call ({_describe(error)}); see apiCalls", "error", before=before)
        except base.NotRemediable as error:
            outcome = engine.Outcome("failed", str(error), "error", before=state.to_json() if state is not None else None)
        except Exception as error:  # a write that may have been made must still get its record
            outcome = engine.Outcome("failed", f"unexpected error ({type(error).__name__}: {error}); see apiCalls", "error")
    return outcome, list(calls), state


def _record(item: Item, outcome: Any, calls: list[dict[str, Any]], final: bool, record_id: str | None = None) -> dict[str, Any]:
    audit = lambda_module("audit")
    extra = {} if record_id is None else {"record_id": record_id}
    record: dict[str, Any] = audit.AuditRecord(
        outcome.decision, outcome.reason, outcome.level, final=final, engine="cli",
        account=item.region_plan.account.id, region=item.region_plan.region,
        rule=item.region_plan.names.config_rule(item.rule), rule_key=item.rule.key, mode="auto",
        resource_type=item.found.target.resource_type, resource_id=item.found.target.resource_id,
        api_calls=tuple(calls), before=outcome.before, after=outcome.after, change=outcome.change,
        undo=outcome.undo, narrowing=outcome.narrowing, **extra,
    ).to_json()
    return record


def apply_fleet(
    read: FleetRead,
    settings: Settings,
    concurrency: int,
    on_record: Callable[[dict[str, Any]], None],
) -> list[dict[str, Any]]:
    """Fix every non-compliant, non-exempt item, re-reading each after the confirmation; returns the final records.

    ``on_record`` receives every audit line as soon as it is known (it must be thread-safe): one per
    decision, written right after the write returns, and for every write one amending line with the
    same record id once verification has read the resource again.
    """
    todo = [item for item in read.items if item.plan is not None]
    units: dict[tuple[str, str], list[Item]] = {}
    for item in todo:
        units.setdefault(item.unit, []).append(item)
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        run = _Fixes(settings, on_record, Progress(0, "apply"), pool)
        for failure in read.failures:
            run.record_failure(failure)
        fresh = [fresh for batch in pool.map(lambda unit: _reread_unit(unit, settings), units.values()) for fresh in batch]
        run.expect(entry.item for entry in fresh)
        list(pool.map(run.fix, fresh))
        return run.verify()


def apply_unconfirmed(
    settings: Settings,
    sessions: AccountSessions,
    concurrency: int,
    on_record: Callable[[dict[str, Any]], None],
    only: set[str] | None = None,
) -> tuple[list[dict[str, Any]], list[UnitFailure]]:
    """``apply --yes``: read, plan and fix every resource in one pass; returns the records and the unreadable account-regions.

    Nobody confirmed anything, so there is no earlier read to check again: per account-region one
    exemption-tag query and one batch discovery per rule, then for each resource the fixer reads it
    right before its write and plans from that read. An account-region's fixes start as soon as its
    own discovery returns. Compliant resources get no record; an account-region that cannot be
    entered or read gets one ``failed`` record, as in ``apply_fleet``.
    """
    fixers = lambda_module("fixers")
    failures: list[UnitFailure] = []
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        run = _Fixes(settings, on_record, Progress(0, "apply"), pool)
        discoveries = [pool.submit(_discover_unit, unit, sessions, settings) for unit in _units(settings, only, remediating=True)]
        fixes = []
        for discovery in as_completed(discoveries):
            result = discovery.result()
            if isinstance(result, UnitFailure):
                failures.append(result)
                run.record_failure(result)
                continue
            items = []
            for region_plan, session, rule, found, exempt in result:
                params = fixers.load_fixer(rule.key).parse_params(region_plan.lambda_params(rule))
                items.append(Item(region_plan, rule, session, found, found.state, params, NOT_YET_READ, exempt))
            run.expect(items)
            fixes += [pool.submit(run.fix, Fresh(item, item.found, item.exempt)) for item in items]
        for fix in fixes:
            fix.result()
        return run.verify(), failures


GroupKey = tuple[str, str, str]
"""An account, a region and a rule: the resources one batch read verifies."""


def _group(item: Item) -> GroupKey:
    return (*item.unit, item.rule.key)


@dataclass
class _Fixes:
    """The decisions of one ``apply``: each item's record as soon as it is known, then its verification.

    A write is verified as soon as it can be: by the fixer's own read right after the write, or, for
    a rule whose batch discovery reads the state (security groups), by one batch read once every
    fix of that rule in that account-region is done. Each amending record is written by the worker
    that verified it, so the audit file's group commit serves them too.
    """

    settings: Settings
    on_record: Callable[[dict[str, Any]], None]
    progress: Progress
    pool: ThreadPoolExecutor
    final: dict[str, dict[str, Any]] = field(default_factory=dict)
    _open: dict[GroupKey, int] = field(default_factory=dict)
    """Per batch-verified group, the fixes not yet done."""
    _written: dict[GroupKey, list[tuple[Item, Any, dict[str, Any]]]] = field(default_factory=dict)
    _verifications: list[Future[None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def expect(self, items: Iterable[Item]) -> None:
        """Count the fixes to come, before any of them is submitted."""
        counted = 0
        with self._lock:
            for item in items:
                counted += 1
                if discovery_gives_state(item.rule.key):
                    self._open[_group(item)] = self._open.get(_group(item), 0) + 1
        self.progress.expect(counted)

    def record_failure(self, failure: UnitFailure) -> None:
        """Record an account-region that could not be entered or read."""
        self._keep(failure.record())

    def fix(self, fresh: Fresh) -> None:
        """Decide and fix one item; its record is written as soon as the write returns, then it is verified."""
        item = fresh.item
        try:
            self._fix(fresh)
        finally:
            self.progress.step()
            if discovery_gives_state(item.rule.key):
                self._done_in_group(_group(item))

    def _fix(self, fresh: Fresh) -> None:
        outcome, calls, _state = _decide_and_fix(fresh, self.settings)
        if outcome is None:
            return
        item = fresh.item
        wrote = outcome.decision == "remediated"
        if wrote:
            checkpoint("write", item)
            outcome = _pending(outcome)
        record = _record(item, outcome, calls, final=not wrote)
        if wrote:
            record["verification"] = {"status": "pending"}
        self._keep(record)
        checkpoint("record", item)
        if not wrote:
            return
        if discovery_gives_state(item.rule.key):
            with self._lock:
                self._written.setdefault(_group(item), []).append((item, outcome, record))
        else:
            self._keep(_verified(item, outcome, record))

    def _done_in_group(self, key: GroupKey) -> None:
        with self._lock:
            self._open[key] -= 1
            written = self._written.pop(key, []) if self._open[key] == 0 else []
            if written:
                # Submitted before this fix's own future completes: ``verify`` sees every verification.
                self._verifications.append(self.pool.submit(self._verify_batch, written))

    def _verify_batch(self, written: list[tuple[Item, Any, dict[str, Any]]]) -> None:
        first = written[0][0]
        try:
            fresh = {found.target.resource_id: found.state for found in discover(first.rule.key, first.session, first.region_plan.account, first.region_plan.region)}
        except AWS_ERRORS:
            fresh = {}  # each resource is then read on its own
        for item, outcome, record in written:
            self._keep(_verified(item, outcome, record, fresh.get(item.found.target.resource_id)))

    def _keep(self, record: dict[str, Any]) -> None:
        self.on_record(record)
        with self._lock:
            self.final[record["recordId"]] = record

    def verify(self) -> list[dict[str, Any]]:
        """Wait for the verifications still running (call once every fix is done); returns the final records."""
        self.progress.finish()
        with self._lock:
            pending = list(self._verifications)
        for verification in pending:
            verification.result()
        return list(self.final.values())


PENDING = " (written; verification pending)"


def _pending(outcome: Any) -> Any:
    return replace(outcome, reason=f"{outcome.reason}{PENDING}")


def _verified(item: Item, outcome: Any, record: dict[str, Any], first_read: Any = None) -> dict[str, Any]:
    """The amending record of one write: the resource read again as the Lambda's engine does.

    ``first_read`` is the state from a batch read made after the writes, when there is one. A read
    that still finds the resource non-compliant is repeated after the engine's waits, which allow
    for AWS's eventual consistency. A read that fails makes this record say so; it never stops the others.
    """
    engine = lambda_module("engine")
    fixer = lambda_module("fixers").load_fixer(item.rule.key)
    try:
        with _in_account(item.session):
            after, compliant, left = engine.verify(fixer, item.found.target, item.params, outcome.change, first_read=first_read)
    except AWS_ERRORS as error:
        verification = {"status": "unreadable", "error": _describe(error)}
        result = replace(outcome, decision="failed", level="error", reason=f"the change was made, but it could not be verified ({_describe(error)}); see apiCalls and undo")
    else:
        verification = {"status": "compliant" if compliant else "non_compliant"}
        result = replace(outcome, after=after, reason=outcome.reason.removesuffix(PENDING))
        if left is not None:
            result = replace(result, level="warning", reason=f"{result.reason}; {left}")
        elif not compliant:
            result = replace(result, decision="failed", level="error", reason="the change was made, but the resource still reads as non-compliant")
    checkpoint("verify", item)
    amendment = _record(item, result, record["apiCalls"], final=True, record_id=record["recordId"])
    amendment["verification"] = verification
    return amendment
