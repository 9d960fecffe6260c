"""The engine's decision table, outcome by outcome, with a scripted fixer.

Each path through ``remediate_target`` (already compliant, refused, tags unreadable, exempt,
manual, auto with and without verification) is checked for every field of its Outcome, and for
which fixer functions it called: a write in manual mode, or a tag read skipped, shows up here
as a call the table does not allow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from remediation import engine
from remediation.config import RuleSetting
from remediation.engine import Outcome, Progress, remediate, remediate_target
from remediation.events import ComplianceEvent
from remediation.fixers import load_fixer
from remediation.fixers.base import ApiCall, NoAction, Plan, TagsUnreadable, Target

TARGET = Target("AWS::S3::Bucket", "bucket-1", "123456789012", "us-east-1")
TAG = "governance:exempt"
AES256 = {"algorithm": "AES256"}
PARAMS = load_fixer("s3-bucket-encryption").parse_params(AES256)
WRITE = ApiCall("s3", "PutThing", {"Bucket": "bucket-1"})
UNDO = ApiCall("s3", "PutThing", {"Bucket": "bucket-1", "Back": True})
PLAN = Plan("Turn the thing on", (WRITE,), (UNDO,), {"what": "thing"}, ("less access",))
EXACT_PLAN = Plan("Turn the thing on", (WRITE,), (UNDO,), {"what": "thing"})
FINDING = ("AWS::S3::Bucket", "arn:aws:s3:::bucket-1")


@dataclass
class State:
    """A resource state as the fixer reads it; ``n`` counts the reads."""

    n: int

    def to_json(self) -> dict[str, Any]:
        return {"read": self.n}


@dataclass
class ScriptedFixer:
    """A fixer whose plans, exemption and apply are given; it records what the engine called."""

    plans: list[Any]
    """What ``plan`` returns, call after call (the last one repeats)."""
    exempt: bool | Exception = False
    applied: Plan | None = None
    calls: list[str] = field(default_factory=list)
    reads: int = 0
    on_apply: Callable[[], None] = lambda: None

    def read_state(self, target: Target) -> State:
        assert target == TARGET
        self.calls.append("read_state")
        self.reads += 1
        return State(self.reads)

    def finding_resource(self, target: Target, state: State) -> tuple[str, str]:
        # Findings may be named from what was read (a trail's ARN when the event named it by name).
        assert isinstance(state, State), "the finding is named from the state the engine read"
        return FINDING

    def plan(self, state: State, params: Any) -> Any:
        assert params == PARAMS, "the rule's params, parsed"
        self.calls.append("plan")
        return self.plans.pop(0) if len(self.plans) > 1 else self.plans[0]

    def is_exempt(self, target: Target, state: State, plan: Plan, exemption_tag: str) -> bool:
        assert (target, exemption_tag) == (TARGET, TAG)
        self.calls.append("is_exempt")
        if isinstance(self.exempt, Exception):
            raise self.exempt
        return self.exempt

    def apply(self, target: Target, change: Plan, params: Any) -> Plan:
        self.calls.append("apply")
        self.on_apply()
        return self.applied or change


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(engine, "sleep", slept.append)
    return slept


def run(fixer: ScriptedFixer, monkeypatch: pytest.MonkeyPatch, mode: str = "auto", **options: Any) -> Outcome:
    monkeypatch.setattr(engine, "load_fixer", lambda key: fixer if key == "s3-bucket-encryption" else None)
    return remediate_target("s3-bucket-encryption", mode, TARGET, PARAMS, TAG, **options)


def test_a_compliant_resource_is_already_compliant_and_verified(monkeypatch: pytest.MonkeyPatch) -> None:
    fixer = ScriptedFixer([None])
    outcome = run(fixer, monkeypatch)
    assert outcome == Outcome("already_compliant", "the resource is already compliant; nothing was changed", before={"read": 1}, finding_resource=FINDING, verified=True)
    assert fixer.calls == ["read_state", "plan"]


@pytest.mark.parametrize(("decision", "level"), [("failed", "error"), ("exempt", "info")])
def test_a_refusal_is_recorded_with_its_reason_at_its_level(decision: Any, level: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    fixer = ScriptedFixer([NoAction(decision, "the fixer will not")])
    outcome = run(fixer, monkeypatch)
    assert outcome == Outcome(decision, "the fixer will not", level, before={"read": 1}, finding_resource=FINDING)
    assert fixer.calls == ["read_state", "plan"]


def test_unreadable_tags_fail_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    fixer = ScriptedFixer([PLAN], exempt=TagsUnreadable("AccessDenied"))
    outcome = run(fixer, monkeypatch)
    reason = "the tags could not be read (AccessDenied); exemptions fail closed, so nothing was changed"
    assert outcome == Outcome("failed", reason, "error", before={"read": 1}, change=PLAN.to_json(), finding_resource=FINDING)
    assert "apply" not in fixer.calls


def test_an_exempt_resource_is_planned_but_not_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    fixer = ScriptedFixer([PLAN], exempt=True)
    outcome = run(fixer, monkeypatch)
    assert outcome == Outcome("exempt", f"the resource is tagged {TAG}; nothing was changed", before={"read": 1}, change=PLAN.to_json(), finding_resource=FINDING)
    assert fixer.calls == ["read_state", "plan", "is_exempt"]


def test_an_exemption_the_caller_read_is_trusted_without_a_tag_read(monkeypatch: pytest.MonkeyPatch) -> None:
    fixer = ScriptedFixer([PLAN], exempt=RuntimeError("the tags must not be read again"))
    assert run(fixer, monkeypatch, exempt=True).decision == "exempt"
    assert run(fixer, monkeypatch, exempt=False, verify_after=False).decision == "remediated"
    assert "is_exempt" not in fixer.calls


def test_a_state_the_caller_read_is_not_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    fixer = ScriptedFixer([PLAN])
    outcome = run(fixer, monkeypatch, state=State(41), mode="manual")
    assert outcome.before == {"read": 41} and fixer.calls == ["plan", "is_exempt"]


def test_manual_mode_plans_and_never_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    fixer = ScriptedFixer([PLAN])
    progress = Progress()
    outcome = run(fixer, monkeypatch, mode="manual", progress=progress)
    assert outcome == Outcome(
        "dry_run", "mode is manual; planned, not applied: Turn the thing on", before={"read": 1}, change=PLAN.to_json(),
        undo=(UNDO.to_json(),), narrowing=("less access",), finding_resource=FINDING,
    )
    assert fixer.calls == ["read_state", "plan", "is_exempt"]
    assert progress == Progress(before={"read": 1}), "nothing was about to be written"


@pytest.mark.parametrize("mode", ["auto ", "AUTO", "", "manual"])
def test_only_the_exact_mode_auto_writes(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fixer = ScriptedFixer([PLAN])
    assert run(fixer, monkeypatch, mode=mode).decision == "dry_run"
    assert "apply" not in fixer.calls


def test_progress_holds_the_change_and_its_undo_before_the_first_write(monkeypatch: pytest.MonkeyPatch) -> None:
    progress = Progress()
    seen: list[Progress] = []
    fixer = ScriptedFixer([PLAN, None], on_apply=lambda: seen.append(Progress(progress.before, progress.change, progress.undo)))
    run(fixer, monkeypatch, progress=progress)
    assert seen == [Progress({"read": 1}, PLAN.to_json(), (UNDO.to_json(),))]


def test_an_apply_that_wrote_nothing_is_already_compliant(monkeypatch: pytest.MonkeyPatch) -> None:
    nothing = Plan("Nothing left to do", (), (), {"what": "none"})
    fixer = ScriptedFixer([PLAN], applied=nothing)
    outcome = run(fixer, monkeypatch)
    reason = "a concurrent change had already made the resource compliant; nothing was changed (Nothing left to do)"
    assert outcome == Outcome("already_compliant", reason, before={"read": 1}, change=nothing.to_json(), finding_resource=FINDING)
    assert fixer.calls == ["read_state", "plan", "is_exempt", "apply"]


@pytest.mark.parametrize(("plan", "level"), [(PLAN, "warning"), (EXACT_PLAN, "info")])
def test_without_verification_a_write_is_remediated_unverified(plan: Plan, level: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    fixer = ScriptedFixer([plan])
    outcome = run(fixer, monkeypatch, verify_after=False)
    assert outcome == Outcome(
        "remediated", "Turn the thing on", level, {"read": 1}, None, plan.to_json(), (UNDO.to_json(),), plan.narrowing, FINDING,
    )
    assert fixer.calls == ["read_state", "plan", "is_exempt", "apply"]


@pytest.mark.parametrize(("plan", "level"), [(PLAN, "warning"), (EXACT_PLAN, "info")])
def test_a_write_verified_compliant_is_remediated(plan: Plan, level: Any, monkeypatch: pytest.MonkeyPatch, waits: list[float]) -> None:
    fixer = ScriptedFixer([plan, plan, None])
    outcome = run(fixer, monkeypatch)
    assert outcome == Outcome(
        "remediated", "Turn the thing on", level, {"read": 1}, {"read": 3}, plan.to_json(), (UNDO.to_json(),), plan.narrowing, FINDING, verified=True,
    )
    assert waits == [1.0], "the first verification read is immediate, the second after a wait"


def test_a_write_still_non_compliant_after_every_read_fails(monkeypatch: pytest.MonkeyPatch, waits: list[float]) -> None:
    fixer = ScriptedFixer([PLAN])
    outcome = run(fixer, monkeypatch)
    reason = "the change was made, but the resource still reads as non-compliant"
    assert outcome == Outcome("failed", reason, "error", {"read": 1}, {"read": 4}, PLAN.to_json(), (UNDO.to_json(),), PLAN.narrowing, FINDING)
    assert fixer.reads == 1 + len(engine.VERIFY_DELAYS_SECONDS)
    assert waits == [delay for delay in engine.VERIFY_DELAYS_SECONDS if delay]


def test_a_verification_read_the_fixer_refuses_is_not_compliance(monkeypatch: pytest.MonkeyPatch, waits: list[float]) -> None:
    fixer = ScriptedFixer([PLAN, NoAction("failed", "cannot tell")])
    assert run(fixer, monkeypatch).decision == "failed"


def _event(rule: RuleSetting) -> ComplianceEvent:
    return ComplianceEvent("event-1", "governance-s3-bucket-encryption", rule, False, TARGET, "bucket-1")


def test_a_protected_rule_asked_for_auto_is_a_dry_run_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    fixer = ScriptedFixer([PLAN])
    monkeypatch.setattr(engine, "load_fixer", lambda key: fixer)
    outcome = remediate(_event(RuleSetting("s3-bucket-encryption", "manual", AES256, auto_refused=True)), TAG)
    assert outcome.decision == "dry_run" and outcome.level == "warning"
    assert outcome.reason == (
        "rule key s3-bucket-encryption is protected in this stack, so it is never remediated automatically although its mode is auto; "
        "mode is manual; planned, not applied: Turn the thing on"
    )
    plain = remediate(_event(RuleSetting("s3-bucket-encryption", "manual", AES256)), TAG)
    assert (plain.level, plain.reason) == ("info", "mode is manual; planned, not applied: Turn the thing on")


def test_a_protected_rule_that_needs_nothing_keeps_its_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    fixer = ScriptedFixer([None])
    monkeypatch.setattr(engine, "load_fixer", lambda key: fixer)
    outcome = remediate(_event(RuleSetting("s3-bucket-encryption", "manual", AES256, auto_refused=True)), TAG)
    assert (outcome.decision, outcome.level) == ("already_compliant", "info")


def test_remediate_passes_the_events_progress_through(monkeypatch: pytest.MonkeyPatch) -> None:
    fixer = ScriptedFixer([PLAN])
    monkeypatch.setattr(engine, "load_fixer", lambda key: fixer)
    progress = Progress()
    remediate(_event(RuleSetting("s3-bucket-encryption", "manual", AES256)), TAG, progress)
    assert progress.before == {"read": 1}
