"""``scan`` and ``apply`` across every account, region and rule of a stack, with the Lambda's own fixers.

Both read in batches (``inventory``), plan with the fixers' pure ``plan``, and check exemptions the
way the Lambda does (one tag query per account-region; a tag read that fails means nothing there
is changed). ``apply`` then fixes in parallel with bounded concurrency, re-reads everything it
changed in one verification pass, and writes one audit record per decision in the Lambda's format.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from governance.cli.inventory import ExemptionsUnreadable, Found, discover, exempt_arns
from governance.cli.sessions import CLIENT_CONFIG, AccountSessions
from governance.compliance import config_verdict
from governance.lambda_code import lambda_module
from governance.plan import RegionPlan, plan_stack
from governance.settings import RuleSettings, Settings

UNREADABLE = "unreadable"
ASK_FIXER = "ask-fixer"
Exemption = bool | str
"""True/False from the batch tag query, ``UNREADABLE`` when it failed, ``ASK_FIXER`` when the fixer checks."""


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
    """The fixer's plan, ``NoAction``, or None when compliant."""
    exempt: Exemption
    """From the tag query; ``UNREADABLE`` fails closed; ``ASK_FIXER`` when the fixer reads the tags itself."""

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


@dataclass
class Progress:
    """A progress line on a terminal; silent otherwise."""

    total: int
    label: str
    done: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def step(self) -> None:
        """Count one finished item and redraw."""
        with self._lock:
            self.done += 1
            if sys.stderr.isatty():
                width = 30
                filled = width * self.done // max(self.total, 1)
                sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}")
                if self.done == self.total:
                    sys.stderr.write("\n")
                sys.stderr.flush()


@contextmanager
def _in_account(session: boto3.Session) -> Iterator[None]:
    with lambda_module("clients").using_session(session, CLIENT_CONFIG):
        yield


def _selected_rules(region_plan: RegionPlan, only: set[str] | None, remediating: bool) -> list[RuleSettings]:
    rules = [rule for rule in region_plan.rules if rule.source == "own" or rule.uses_lambda]
    if remediating:
        rules = [rule for rule in rules if rule.remediates]
    if only:
        rules = [rule for rule in rules if rule.key in only]
    return rules


def read_fleet(
    settings: Settings,
    sessions: AccountSessions,
    concurrency: int,
    only: set[str] | None = None,
    remediating: bool = False,
) -> list[Item]:
    """Read and plan every resource of the selected rules in every account and region."""
    units: list[tuple[RegionPlan, boto3.Session, list[RuleSettings]]] = []
    for account_plan in plan_stack(settings):
        for region_plan in account_plan.regions:
            rules = _selected_rules(region_plan, only, remediating)
            if rules:
                units.append((region_plan, sessions.regional(account_plan.account, region_plan.region), rules))

    def read_unit(unit: tuple[RegionPlan, boto3.Session, list[RuleSettings]]) -> list[tuple[RegionPlan, boto3.Session, RuleSettings, Found, Exemption]]:
        region_plan, session, rules = unit
        try:
            exempt: set[str] | None = exempt_arns(session, settings.exemption_tag, {rule.key for rule in rules})
        except ExemptionsUnreadable:
            exempt = None  # the tag query failed: everything here fails closed
        rows = []
        for rule in rules:
            for found in discover(rule.key, session, region_plan.account, region_plan.region):
                # Resources without a taggable ARN here (the account-level rules) let the fixer read the
                # tags of whatever it would change, e.g. the trail the multi-region rule updates.
                flag: Exemption = UNREADABLE if exempt is None else (found.arn in exempt if found.arn else ASK_FIXER)
                rows.append((region_plan, session, rule, found, flag))
        return rows

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        rows = [row for unit_rows in pool.map(read_unit, units) for row in unit_rows]
        return list(pool.map(_plan_row, rows))


def _plan_row(row: tuple[RegionPlan, boto3.Session, RuleSettings, Found, Exemption]) -> Item:
    region_plan, session, rule, found, exempt = row
    fixer = lambda_module("fixers").load_fixer(rule.key)
    params = fixer.parse_params(region_plan.lambda_params(rule))
    try:
        with _in_account(session):
            state = found.state if found.state is not None else fixer.read_state(found.target)
    except (ClientError, BotoCoreError) as error:
        # One unreadable resource is reported, not fatal to the whole fleet.
        reason = f"the resource could not be read ({lambda_module('errors').describe_error(error)})"
        return Item(region_plan, rule, session, found, Unreadable(found.target.resource_id), params, lambda_module("fixers.base").NoAction("failed", reason), exempt)
    return Item(region_plan, rule, session, found, state, params, fixer.plan(state, params), exempt)


@dataclass(frozen=True)
class Unreadable:
    """Stands in for the state of a resource that could not be read."""

    resource_id: str

    def to_json(self) -> dict[str, Any]:
        """No state to show: only the resource id."""
        return {"resourceId": self.resource_id, "unreadable": True}


def apply_fleet(
    items: list[Item],
    settings: Settings,
    concurrency: int,
    on_record: Callable[[dict[str, Any]], None],
) -> list[dict[str, Any]]:
    """Fix every non-compliant, non-exempt item; one audit record per non-compliant item."""
    engine, audit, calls_module = lambda_module("engine"), lambda_module("audit"), lambda_module("calls")
    errors = lambda_module("errors")
    todo = [item for item in items if item.plan is not None]
    progress = Progress(len(todo), "apply")

    def fix(item: Item) -> tuple[Item, Any, list[dict[str, Any]]]:
        with _in_account(item.session), calls_module.recording() as calls:
            if isinstance(item.state, Unreadable):
                outcome = engine.Outcome("failed", item.plan.reason, "error")
            elif item.exempt == UNREADABLE:
                outcome = engine.Outcome("failed", "the exemption tags could not be read; exemptions fail closed, so nothing was changed", "error", before=item.state.to_json())
            else:
                try:
                    outcome = engine.remediate_target(
                        item.rule.key, "auto", item.found.target, item.params, settings.exemption_tag,
                        state=item.state, exempt=item.exempt if isinstance(item.exempt, bool) else None, verify_after=False,
                    )
                except (ClientError, BotoCoreError) as error:
                    outcome = engine.Outcome("failed", f"AWS refused a call ({errors.describe_error(error)}); see apiCalls", "error", before=item.state.to_json())
                except lambda_module("fixers.base").NotRemediable as error:
                    outcome = engine.Outcome("failed", str(error), "error", before=item.state.to_json())
        progress.step()
        return item, outcome, list(calls)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(fix, todo))
    verified = _verification_pass([item for item, outcome, _ in results if outcome.decision == "remediated"], concurrency)
    records = []
    for item, outcome, calls in results:
        if outcome.decision == "remediated":
            after, compliant = verified[id(item)]
            outcome = replace(outcome, after=after)
            if not compliant:
                outcome = replace(outcome, decision="failed", level="error", reason="the change was made, but the resource still reads as non-compliant")
        record = audit.AuditRecord(
            outcome.decision, outcome.reason, outcome.level, engine="cli",
            account=item.region_plan.account.id, region=item.region_plan.region,
            rule=item.region_plan.names.config_rule(item.rule), rule_key=item.rule.key, mode="auto",
            resource_type=item.found.target.resource_type, resource_id=item.found.target.resource_id,
            api_calls=tuple(calls), before=outcome.before, after=outcome.after, change=outcome.change,
            undo=outcome.undo, narrowing=outcome.narrowing,
        ).to_json()
        on_record(record)
        records.append(record)
    return records


def _verification_pass(items: list[Item], concurrency: int) -> dict[int, tuple[dict[str, Any], bool]]:
    """Re-read every changed resource, batching by account-region and rule; returns (after, compliant)."""
    groups: dict[tuple[int, str, str], list[Item]] = {}
    for item in items:
        groups.setdefault((id(item.session), item.region_plan.region, item.rule.key), []).append(item)

    def verify_group(group: list[Item]) -> list[tuple[int, tuple[dict[str, Any], bool]]]:
        first = group[0]
        fixer = lambda_module("fixers").load_fixer(first.rule.key)
        fresh = {found.target.resource_id: found.state for found in discover(first.rule.key, first.session, first.region_plan.account, first.region_plan.region)}
        results = []
        for item in group:
            state = fresh.get(item.found.target.resource_id)
            if state is None:
                with _in_account(item.session):
                    state = fixer.read_state(item.found.target)
            results.append((id(item), (state.to_json(), fixer.plan(state, item.params) is None)))
        return results

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return dict(pair for pairs in pool.map(verify_group, groups.values()) for pair in pairs)
