"""Which decision an event ends in: a write that changed nothing is not a remediation, and a
Security Hub finding is resolved only when verification read the resource as compliant."""

from __future__ import annotations

from botocore.stub import ANY, Stubber
from conftest import ACCOUNT, REGION, FakeContext, compliance_event, rule_name
from lambda_scenarios import SCENARIOS
from remediation import clients
from remediation.fixers import restricted_admin_ports
from remediation.fixers.base import NoAction
from remediation.handler import lambda_handler

PORTS = next(scenario for scenario in SCENARIOS if scenario.key == "restricted-admin-ports")


def _event(group: str) -> dict:
    return compliance_event(rule_name(PORTS.key), PORTS.resource_type, group)


def test_a_duplicate_delivery_that_changed_nothing_is_already_compliant(monkeypatch, requests) -> None:
    group = PORTS.make_non_compliant()
    target_state = restricted_admin_ports.read_state
    stale = target_state(_target(group))
    assert lambda_handler(_event(group), FakeContext())["decision"] == "remediated"
    assert PORTS.is_fixed(group)
    # The duplicate read the group before the first delivery fixed it: its plan is stale.
    reads = iter([stale])
    monkeypatch.setattr(restricted_admin_ports, "read_state", lambda target: next(reads, None) or target_state(target))
    requests.clear()
    record = lambda_handler(_event(group), FakeContext())
    assert (record["decision"], record["level"]) == ("already_compliant", "info"), record["reason"]
    assert record["undo"] == [], "nothing was changed, so there is nothing to undo"
    assert PORTS.is_fixed(group)


def _target(group: str):
    from remediation.fixers.base import Target

    return Target(PORTS.resource_type, group, ACCOUNT, REGION)


def _finding_stubber(workflow: str | None) -> Stubber:
    stubber = Stubber(clients.client("securityhub"))
    finding = {"Id": "f-1", "ProductArn": f"arn:aws:securityhub:{REGION}::product/aws/config"}
    stubber.add_response("get_findings", {"Findings": [{**finding, "SchemaVersion": "2018-10-08", "GeneratorId": "g", "AwsAccountId": ACCOUNT,
                                                         "CreatedAt": "2024-01-01T00:00:00Z", "UpdatedAt": "2024-01-01T00:00:00Z", "Title": "t",
                                                         "Description": "d", "Resources": [{"Type": "AwsEc2SecurityGroup", "Id": "x"}]}]},
                         {"Filters": ANY, "MaxResults": 100})
    if workflow:
        stubber.add_response("batch_update_findings", {"ProcessedFindings": [finding], "UnprocessedFindings": []},
                             {"FindingIdentifiers": [finding], "Note": ANY, "Workflow": {"Status": workflow}})
    return stubber


def test_a_finding_is_not_resolved_when_verification_reads_a_state_the_fixer_cannot_act_on(deploy, monkeypatch) -> None:
    """After the write, the fixer plans nothing but refuses (NoAction): that is not compliance."""
    deploy(securityHubUpdates=True)
    group = PORTS.make_non_compliant()
    original_plan = restricted_admin_ports.plan
    calls = {"count": 0}

    def plan_then_refuse(state, params):
        calls["count"] += 1
        if calls["count"] == 1:
            return original_plan(state, params)
        return NoAction("failed", "the group cannot be judged")

    monkeypatch.setattr(restricted_admin_ports, "plan", plan_then_refuse)
    stubber = _finding_stubber("NOTIFIED")
    with stubber:
        record = lambda_handler(_event(group), FakeContext())
    assert record["decision"] == "failed"
    assert record["securityHub"]["workflowStatus"] == "NOTIFIED"
    stubber.assert_no_pending_responses()


def test_a_finding_is_resolved_after_verification_read_the_resource_as_compliant(deploy) -> None:
    deploy(securityHubUpdates=True)
    group = PORTS.make_non_compliant()
    stubber = _finding_stubber("RESOLVED")
    with stubber:
        record = lambda_handler(_event(group), FakeContext())
    assert record["decision"] == "remediated"
    assert record["securityHub"]["workflowStatus"] == "RESOLVED"
    assert record["after"] is not None and PORTS.is_fixed(group)


def test_an_unverified_remediation_never_resolves_a_finding() -> None:
    """E.g. a retry that completes an earlier attempt's fix without reading the resource afterwards."""
    from remediation.securityhub import workflow_status

    assert workflow_status("remediated", verified=True) == "RESOLVED"
    assert workflow_status("remediated", verified=False) == "NOTIFIED"
    assert workflow_status("failed", verified=False) == "NOTIFIED"
    assert workflow_status("already_compliant", verified=True) is None
