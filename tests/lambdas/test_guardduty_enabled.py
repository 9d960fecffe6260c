"""guardduty-enabled: creates a detector only where the region has none; never changes an existing one.

moto 5.2.5 gaps, modelled: moto lets CreateDetector make a second detector in a region and ignores
the client token, and answers GetAdministratorAccount in a shape botocore does not parse (so no
administrator ever reaches the fixer: stubbed with botocore's Stubber below); AWS allows one detector per account and region ("You can have only one detector
per account per Region", botocore CreateDetector) and refuses another with BadRequestException. The
``one_detector_per_region`` fixture makes moto's backend refuse the same way, so the race and
duplicate-delivery tests see AWS's behaviour. GuardDuty resources have no tag API in moto and an
account has no tags, so there is no exemption tag to read (``is_exempt`` is always False).
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from conftest import ACCOUNT, REGION, FakeContext, compliance_event, rule_name
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.guardduty.exceptions import GuardDutyException
from moto.guardduty.models import GuardDutyBackend
from remediation import clients
from remediation.fixers import guardduty_enabled
from remediation.fixers.base import NoAction, Plan, Target, call
from remediation.fixers.guardduty_enabled import DetectorState, Params
from remediation.fixers.inverse import UndoRefused
from remediation.handler import lambda_handler

from governance.catalog import CATALOG
from governance.compliance import config_verdict
from governance.settings import load_settings

KEY = "guardduty-enabled"
TYPE = "AWS::::Account"
TARGET = Target(TYPE, ACCOUNT, ACCOUNT, REGION, idempotency_key="evaluation-1")
DEFAULT = Params(())


class DetectorAlreadyExists(GuardDutyException):
    """AWS's refusal of a second detector (the message text is UNVERIFIED; the fixer reads only the code)."""

    code = 400

    def __init__(self) -> None:
        super().__init__("BadRequestException", "The request is rejected because a detector already exists for the current account.")

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return [("X-Amzn-ErrorType", "BadRequestException")]


@pytest.fixture
def one_detector_per_region(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """moto refuses a second detector in a region, as AWS does; returns a counter of refusals."""
    original = GuardDutyBackend.create_detector
    refused: list[int] = []

    def create_detector(self: GuardDutyBackend, *args: Any, **kwargs: Any) -> str:
        if self.detectors:
            refused.append(1)
            raise DetectorAlreadyExists()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(GuardDutyBackend, "create_detector", create_detector)
    return refused


def run(event: dict[str, Any] | None = None) -> dict[str, Any]:
    return lambda_handler(event or compliance_event(rule_name(KEY), TYPE, ACCOUNT), FakeContext())


def detectors() -> dict[str, str]:
    guardduty = boto3.client("guardduty")
    return {detector: guardduty.get_detector(DetectorId=detector)["Status"] for detector in guardduty.list_detectors()["DetectorIds"]}


# --- through the handler, on moto ----------------------------------------------------------------


def test_a_region_without_a_detector_gets_exactly_one(requests, one_detector_per_region) -> None:
    record = run()
    assert record["decision"] == "remediated", record["reason"]
    (created,) = detectors().items()
    assert created[1] == "ENABLED"
    assert record["change"]["detail"]["detectorId"] == created[0]
    assert record["undo"] == [{"service": "guardduty", "operation": "DeleteDetector", "params": {"DetectorId": created[0]}}]
    (create,) = [c for c in record["apiCalls"] if c["operation"] == "CreateDetector"]
    assert create["params"]["Enable"] is True and create["params"]["ClientToken"].startswith("governance-")


def test_a_suspended_detector_is_a_failure_and_is_never_resumed(requests) -> None:
    guardduty = boto3.client("guardduty")
    detector = guardduty.create_detector(Enable=True)["DetectorId"]
    guardduty.update_detector(DetectorId=detector, Enable=False)
    requests.clear()
    record = run()
    assert (record["decision"], record["level"]) == ("failed", "error")
    assert "suspended" in record["reason"] and "UpdateDetector" in record["reason"]
    assert requests.writes() == []
    assert detectors() == {detector: "DISABLED"}


def test_duplicate_deliveries_of_one_event_create_one_detector(requests, one_detector_per_region) -> None:
    event = compliance_event(rule_name(KEY), TYPE, ACCOUNT)
    first, second = run(event), run(event)
    assert (first["decision"], second["decision"]) == ("remediated", "already_compliant")
    assert len(detectors()) == 1 and one_detector_per_region == []


def test_a_delivery_racing_another_is_refused_by_aws_and_changes_nothing(requests, one_detector_per_region, monkeypatch: pytest.MonkeyPatch) -> None:
    # Both deliveries read the region before either created the detector: the second's read is stale.
    event = compliance_event(rule_name(KEY), TYPE, ACCOUNT)
    stale = guardduty_enabled.read_state(TARGET)
    assert run(event)["decision"] == "remediated"
    original = guardduty_enabled.read_state
    reads: list[int] = []

    def stale_first(target: Target) -> DetectorState:
        reads.append(1)
        return stale if len(reads) == 1 else original(target)

    monkeypatch.setattr(guardduty_enabled, "read_state", stale_first)
    record = run(event)
    assert record["decision"] == "already_compliant", record["reason"]
    assert one_detector_per_region == [1], "AWS refused the second CreateDetector"
    assert [c["outcome"] for c in record["apiCalls"] if c["operation"] == "CreateDetector"] == ["BadRequestException"]
    assert len(detectors()) == 1


def test_the_client_token_is_one_per_evaluation() -> None:
    later = Target(TYPE, ACCOUNT, ACCOUNT, REGION, idempotency_key="evaluation-2")
    assert guardduty_enabled.client_token(TARGET) == guardduty_enabled.client_token(TARGET)
    assert guardduty_enabled.client_token(TARGET) != guardduty_enabled.client_token(later)
    cli = Target(TYPE, ACCOUNT, ACCOUNT, REGION)
    assert guardduty_enabled.client_token(cli) != guardduty_enabled.client_token(cli), "without an evaluation every request is new"
    assert len(guardduty_enabled.client_token(TARGET)) <= 64


def test_with_central_accounts_a_detector_administered_elsewhere_is_reported_not_changed(requests, deploy) -> None:
    from conftest import rule_entry

    deploy(rules={KEY: rule_entry({"centralMonitoringAccount": ["111111111111"]})})
    boto3.client("guardduty").create_detector(Enable=True)
    record = run()
    assert record["decision"] == "failed" and "not by one of centralMonitoringAccount (111111111111)" in record["reason"]
    assert requests.writes() == []
    # moto 5.2.5 answers GetAdministratorAccount in PascalCase ("Administrator"), which botocore does not parse:
    # an administrator never reaches the fixer through moto, so AWS's answer is stubbed.
    guardduty = clients.client("guardduty")
    stubber = Stubber(guardduty)
    stubber.add_response("list_detectors", {"DetectorIds": [DETECTOR]}, {})
    stubber.add_response("get_detector", {"ServiceRole": "r", "Status": "ENABLED"}, {"DetectorId": DETECTOR})
    administrator = {"AccountId": "111111111111", "InvitationId": "i", "RelationshipStatus": "Enabled", "InvitedAt": "2026-01-01"}
    stubber.add_response("get_administrator_account", {"Administrator": administrator}, {"DetectorId": DETECTOR})
    with stubber:
        record = run()
    stubber.assert_no_pending_responses()
    assert record["decision"] == "already_compliant", record["reason"]
    assert record["before"]["administratorAccount"] == "111111111111"


def test_an_account_has_no_exemption_tag_to_read(requests) -> None:
    assert guardduty_enabled.is_exempt(TARGET, DetectorState(ACCOUNT, ()), Plan("create", (), ()), "governance:exempt") is False
    assert requests.operations() == []


# --- undo ----------------------------------------------------------------------------------------


def test_undo_deletes_exactly_the_detector_the_fix_created() -> None:
    record = run()
    (created,) = detectors()
    current = guardduty_enabled.read_state(TARGET)
    calls = guardduty_enabled.undo_calls(TARGET, record["before"], record["change"], DEFAULT, current)
    assert [(c.operation, dict(c.params)) for c in calls] == [("DeleteDetector", {"DetectorId": created})]
    for undo in calls:
        call(undo)
    assert guardduty_enabled.read_state(TARGET).to_json() == record["before"]


DETECTOR = "0123456789abcdef0123456789abcdef"
NOW = DetectorState(ACCOUNT, ({"detectorId": DETECTOR, "status": "ENABLED"},))
FORGED: dict[str, tuple[dict[str, Any], dict[str, Any], Any, str]] = {
    "another account": ({"account": "999999999999", "detectors": []}, {"detail": {"detectorId": DETECTOR}}, NOW, "names account"),
    "a region that had a detector": (
        {"account": ACCOUNT, "detectors": [{"detectorId": DETECTOR, "status": "ENABLED"}]}, {"detail": {"detectorId": DETECTOR}}, NOW, "nothing it could undo",
    ),
    "a suspended detector before": (
        {"account": ACCOUNT, "detectors": [{"detectorId": DETECTOR, "status": "DISABLED"}]}, {"detail": {"detectorId": DETECTOR}}, NOW, "nothing it could undo",
    ),
    "no detector id": ({"account": ACCOUNT, "detectors": []}, {"detail": {}}, NOW, "does not name the detector id"),
    "a detector id that is not one": ({"account": ACCOUNT, "detectors": []}, {"detail": {"detectorId": "../../x"}}, NOW, "does not name the detector id"),
    "a detector that is not the region's now": (
        {"account": ACCOUNT, "detectors": []}, {"detail": {"detectorId": "f" * 32}}, NOW, "is not this region's detector now",
    ),
}


@pytest.mark.parametrize(("before", "change", "current", "refusal"), FORGED.values(), ids=list(FORGED))
def test_undo_refuses_a_forged_record(before: dict[str, Any], change: dict[str, Any], current: Any, refusal: str) -> None:
    with pytest.raises(UndoRefused, match=refusal):
        guardduty_enabled.undo_calls(TARGET, before, change, DEFAULT, current)


# --- the "never" column, and scan agreeing with the fixer, over many states ----------------------

accounts = st.sampled_from([ACCOUNT, "111111111111", "222222222222"])
statuses = st.lists(st.sampled_from(["ENABLED", "DISABLED"]), max_size=2)


def state(found: list[str], administrator: str | None) -> DetectorState:
    listed = tuple({"detectorId": f"{index:032x}", "status": status} for index, status in enumerate(found))
    return DetectorState(ACCOUNT, listed, administrator if "ENABLED" in found else None)


@settings(max_examples=300, deadline=None)
@given(statuses, st.one_of(st.none(), accounts), st.lists(accounts, max_size=2, unique=True))
def test_scan_verdict_and_fixer_agree_and_a_plan_only_creates(found: list[str], administrator: str | None, central: list[str]) -> None:
    read = state(found, administrator)
    verdict = config_verdict(KEY, read.to_json(), {"centralMonitoringAccount": central})
    result = guardduty_enabled.plan(read, Params(tuple(central)))
    assert (result is not None) == (verdict == "NON_COMPLIANT"), (verdict, result)
    if isinstance(result, Plan):
        assert found == [], "a detector is created only where there is none"
        assert [(c.operation, dict(c.params)) for c in result.calls] == [("CreateDetector", {"Enable": True})]
    if found and result is not None:
        assert isinstance(result, NoAction) and result.decision == "failed", "an existing detector is never changed"


# --- params, settings, engines ---------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["111111111111", ["1111"], [111111111111]])
def test_central_accounts_must_be_account_id_strings(raw: Any) -> None:
    with pytest.raises(ValueError, match=r"params\.centralMonitoringAccount must be a list of 12-digit account id strings"):
        guardduty_enabled.parse_params({"centralMonitoringAccount": raw})


def test_listed_without_a_mode_it_is_manual_and_both_engines_are_offered() -> None:
    raw = {"regions": ["us-east-1", "eu-west-1"], "accounts": [{"id": ACCOUNT}], "rules": {KEY: {}}}
    (rule,) = load_settings(raw).accounts[0].rules
    assert (rule.key, rule.mode, rule.engine) == (KEY, "manual", "lambda")
    entry = CATALOG[KEY]
    assert entry.scope == "region" and entry.ssm is not None
    assert (entry.ssm.document, entry.ssm.resource_id_parameter) == ("AWSConfigRemediation-CreateGuardDutyDetector", None)
    assert entry.config_rule.input_parameters({"centralMonitoringAccount": ["111111111111", "222222222222"]}) == {"CentralMonitoringAccount": "111111111111,222222222222"}
    assert entry.config_rule.input_parameters({"centralMonitoringAccount": []}) == {}
