"""``doctor`` in organization mode: each organization check passes when the hub is ready and fails with one clear line.

moto lacks some of what these checks read, so:
- StackSets is not among the services moto accepts for a delegated administrator: the test adds it;
- moto's stack instances are always CURRENT/SUCCEEDED and never paginated: those cases use botocore's Stubber.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto.iam.models import get_account_id_from
from moto.organizations.models import FakeDelegatedAdministrator

from governance.cli.doctor import FORWARDED_CHECK, MEMBER_ROLE_CHECK
from governance.cli.main import main
from governance.cli.organization_doctor import (
    DELEGATED_ADMIN_CHECK,
    INSTANCES_CHECK,
    NESTED_CHECK,
    STACKSETS_PRINCIPAL,
    TARGETS_CHECK,
    TRUSTED_ACCESS_CHECK,
    stack_set_checks,
)
from governance.cli.organization_fleet import GovernedFleet, govern
from governance.cli.permissions import FORWARDED_DEAD_LETTER_READS
from governance.cli.sessions import AccountSessions
from governance.organization_plan import plan_organization
from governance.settings import load_settings
from tests.cli.aws_faults import Call, Faults, faults  # noqa: F401
from tests.cli.organization_fixtures import MEMBER_ROLE, Organization, member_session, organization_stack, write_stack

ORGANIZATION_CHECKS = (TARGETS_CHECK, TRUSTED_ACCESS_CHECK, DELEGATED_ADMIN_CHECK, NESTED_CHECK, INSTANCES_CHECK)
TEMPLATE = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
FORWARDING_DEAD_LETTERS = "governance-forward-events-dlq"


@pytest.fixture
def stacksets_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    # AWS registers delegated administrators of StackSets (docs/organization.md, Prerequisites); moto 5.2 does not list the principal.
    monkeypatch.setattr(FakeDelegatedAdministrator, "SUPPORTED_SERVICES", [*FakeDelegatedAdministrator.SUPPORTED_SERVICES, STACKSETS_PRINCIPAL])


def ready_hub(org: Organization, raw: dict[str, Any], *, trusted: bool = True, delegated: bool = True, deployed: bool = True) -> None:
    """Trusted access, the delegated administrator and every stack set with its instances, as pulumi up leaves them."""
    if trusted:
        org.client.enable_aws_service_access(ServicePrincipal=STACKSETS_PRINCIPAL)
    if delegated:
        org.client.register_delegated_administrator(AccountId=raw["organization"]["adminAccountId"], ServicePrincipal=STACKSETS_PRINCIPAL)
    if not deployed:
        return
    plan = plan_organization(load_settings(raw))
    cloudformation = boto3.client("cloudformation", region_name=plan.stack_set_region)
    for profile in plan.profiles:
        for name, regions in ((profile.iam_name, plan.organization.regions[:1]), (profile.rules_name, plan.organization.regions)):
            cloudformation.create_stack_set(StackSetName=name, TemplateBody=TEMPLATE, PermissionModel="SERVICE_MANAGED",
                                            AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False})
            cloudformation.create_stack_instances(StackSetName=name, Regions=list(regions),
                                                  DeploymentTargets={"OrganizationalUnitIds": list(profile.profile.targets)})


def doctor(tmp_path: Path, raw: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict[str, Any]]]:
    code = main(["doctor", "--stack-file", str(write_stack(tmp_path / "Pulumi.org.yaml", raw)), "--json"])
    return code, json.loads(capsys.readouterr().out)


def organization_lines(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [result for result in results if result["check"] in ORGANIZATION_CHECKS]


def failed(results: list[dict[str, Any]], check: str) -> list[dict[str, Any]]:
    return [result for result in results if result["check"] == check and not result["passed"]]


def test_a_ready_hub_passes_every_organization_check_and_every_member_role(
    organization: Organization, stacksets_admin: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = organization_stack(organization)
    ready_hub(organization, raw)

    code, results = doctor(tmp_path, raw, capsys)

    lines = organization_lines(results)
    assert [line["check"] for line in lines] == [TARGETS_CHECK, TRUSTED_ACCESS_CHECK, DELEGATED_ADMIN_CHECK, NESTED_CHECK] + [INSTANCES_CHECK] * 4
    assert all(line["passed"] for line in lines), lines
    assert lines[0]["detail"] == "2 targets: 10 accounts governed, 0 excluded or not ACTIVE"
    members = [result for result in results if result["check"] == MEMBER_ROLE_CHECK]
    assert len(members) == 10 and all(result["passed"] for result in members)
    assert all(result["detail"].startswith(f"arn:aws:sts::{result['account']}:assumed-role/{MEMBER_ROLE}/") for result in members)
    assert code == 1  # the members have no Config recorder: those per-account lines fail, as in direct mode


def test_trusted_access_off_and_a_hub_that_is_not_delegated_admin_fail_with_one_line_each(
    organization: Organization, stacksets_admin: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = organization_stack(organization)
    ready_hub(organization, raw, trusted=False, delegated=False)

    _, results = doctor(tmp_path, raw, capsys)

    (trusted,) = failed(results, TRUSTED_ACCESS_CHECK)
    assert trusted["detail"] == f"{STACKSETS_PRINCIPAL} is not among the organization's trusted services"
    assert "activate-organizations-access" in trusted["fix"]
    (delegated,) = failed(results, DELEGATED_ADMIN_CHECK)
    admin = raw["organization"]["adminAccountId"]
    assert delegated["detail"] == f"governance:organization.adminAccountId {admin} is not one (registered: none)"
    assert f"register-delegated-administrator --account-id {admin} --service-principal {STACKSETS_PRINCIPAL}" in delegated["fix"]
    assert not failed(results, NESTED_CHECK) and not failed(results, INSTANCES_CHECK)


@pytest.mark.parametrize("override_inner", [False, True])
def test_a_target_inside_another_fails_naming_both_and_the_stack_sets_that_claim_its_accounts(
    override_inner: bool, organization: Organization, stacksets_admin: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org = organization
    raw = organization_stack(org, targets=[org.workloads, org.prod, org.sandbox])
    if override_inner:
        raw["organization"]["overrides"] = [{"name": "prod", "targets": [org.prod], "rules": {"s3-bucket-versioning": {"mode": "off"}}}]
    ready_hub(org, raw, deployed=False)

    _, results = doctor(tmp_path, raw, capsys)

    (nested,) = failed(results, NESTED_CHECK)
    claim = "stack sets governance-member-rules-prod and governance-member-rules-base" if override_inner else "two instances of governance-member-rules-base"
    assert nested["detail"] == f"{org.prod} lies inside {org.workloads}: {claim} would both deploy to the accounts of {org.prod}"
    assert nested["fix"].startswith(f"remove {org.prod} from governance:organization.targets")


def test_a_missing_instance_and_a_missing_stack_set_fail_naming_the_account_or_the_stack_set(
    organization: Organization, stacksets_admin: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org = organization
    raw = organization_stack(org)
    ready_hub(org, raw)
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    lost = org.accounts["prod"][2]
    cloudformation.delete_stack_instances(StackSetName="governance-member-rules-base", Accounts=[lost], Regions=["eu-west-1"], RetainStacks=False)
    cloudformation.delete_stack_instances(
        StackSetName="governance-member-iam-sandbox", Accounts=org.accounts["sandbox"], Regions=["us-east-1"], RetainStacks=False
    )
    cloudformation.delete_stack_set(StackSetName="governance-member-iam-sandbox")

    _, results = doctor(tmp_path, raw, capsys)

    problems = failed(results, INSTANCES_CHECK)
    assert [(line["account"], line["detail"]) for line in problems] == [
        (lost, "governance-member-rules-base: eu-west-1: no instance"),
        ("hub", "stack set governance-member-iam-sandbox does not exist"),
    ]
    assert [line["detail"] for line in organization_lines(results) if line["check"] == INSTANCES_CHECK and line["passed"]] == [
        "governance-member-iam-base: 7 accounts x 1 regions CURRENT/SUCCEEDED",
        "governance-member-rules-sandbox: 3 accounts x 2 regions CURRENT/SUCCEEDED",
    ]


@pytest.fixture
def fleet(organization: Organization) -> GovernedFleet:
    return govern(load_settings(organization_stack(organization)), AccountSessions())


def summary(account: str, region: str, status: str = "CURRENT", detailed: str = "SUCCEEDED", reason: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"StackSetId": "set:1", "Account": account, "Region": region, "Status": status, "StackInstanceStatus": {"DetailedStatus": detailed}}
    if reason:
        entry["StatusReason"] = reason
    return entry


@pytest.fixture
def stubbed(aws_credentials: None) -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("cloudformation", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_a_failed_instance_on_a_later_page_fails_with_its_status_reason(fleet: GovernedFleet, stubbed: tuple[Any, Stubber], organization: Organization) -> None:
    client, stubber = stubbed
    assert fleet.plan is not None
    regions = ("us-east-1", "eu-west-1")
    base = [member.id for member in fleet.members if member.id not in organization.accounts["sandbox"]]
    sandbox = organization.accounts["sandbox"]
    broken = base[-1]
    reason = "Account 1234 should have 'AWSCloudFormationStackSetExecutionRole' role with trust relationship to Role 'AWSServiceRoleForCloudFormationStackSetsOrgAdmin'."
    first_page = [summary(account, "us-east-1") for account in base[:-1]]
    expected = {"StackSetName": "governance-member-iam-base", "CallAs": "DELEGATED_ADMIN", "MaxResults": 100}
    stubber.add_response("list_stack_instances", {"Summaries": first_page, "NextToken": "page-2"}, expected)
    stubber.add_response("list_stack_instances", {"Summaries": [summary(broken, "us-east-1", "OUTDATED", "FAILED", reason)]}, {**expected, "NextToken": "page-2"})
    for name, accounts, instance_regions in (
        ("governance-member-rules-base", base, regions),
        ("governance-member-iam-sandbox", sandbox, regions[:1]),
        ("governance-member-rules-sandbox", sandbox, regions),
    ):
        stubber.add_response("list_stack_instances", {"Summaries": [summary(a, r) for a in accounts for r in instance_regions]},
                             {"StackSetName": name, "CallAs": "DELEGATED_ADMIN", "MaxResults": 100})

    results = stack_set_checks(client, fleet)

    problems = [result for result in results if not result.passed]
    assert [(result.account, result.detail) for result in problems] == [
        (broken, f"governance-member-iam-base: us-east-1: OUTDATED/FAILED ({reason})"),
    ]
    assert "list-stack-set-operations --stack-set-name governance-member-iam-base --call-as DELEGATED_ADMIN" in problems[0].fix
    assert [result.passed for result in results] == [False, True, True, True]


def test_a_member_role_the_caller_cannot_assume_says_whom_it_trusts(
    organization: Organization, stacksets_admin: None, faults: Faults, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    org = organization
    raw = organization_stack(org)
    ready_hub(org, raw)
    refused = org.accounts["sandbox"][1]

    def deny(call: Call) -> bool:
        return call.operation == "AssumeRole" and call.params["RoleArn"] == f"arn:aws:iam::{refused}:role/{MEMBER_ROLE}"

    faults.fail("AccessDenied", deny)
    _, results = doctor(tmp_path, raw, capsys)

    (line,) = failed(results, MEMBER_ROLE_CHECK)
    assert line["account"] == refused
    hub_role = f"arn:aws:iam::{raw['organization']['adminAccountId']}:role/governance-remediation-lambda"
    assert line["fix"] == (
        f"the member role trusts the hub Lambda's role ({hub_role}) and governance:organization.adminRoleArn (not set); "
        "set governance:organization.adminRoleArn and run the CLI with credentials that can assume it"
    )
    assert not [result for result in results if result["account"] == refused and result["check"] != MEMBER_ROLE_CHECK]
    assert len([result for result in results if result["check"] == MEMBER_ROLE_CHECK and result["passed"]]) == 9


def test_a_target_that_cannot_be_listed_is_a_failed_doctor_line(
    organization: Organization, stacksets_admin: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org = organization
    missing = "ou-zzzz-99999999"
    raw = organization_stack(org, targets=[org.workloads, missing, org.sandbox])
    ready_hub(org, raw, deployed=False)

    code, results = doctor(tmp_path, raw, capsys)

    (line,) = failed(results, TARGETS_CHECK)
    assert line["detail"].startswith(f"governance:organization.targets: {missing} does not exist in this organization")
    assert code == 1


def test_events_the_hubs_bus_refused_fail_in_the_member_region_that_keeps_them(
    organization: Organization, stacksets_admin: None, faults: Faults, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    org = organization
    raw = organization_stack(org)
    ready_hub(org, raw)
    refused, quiet, denied, one = org.accounts["workloads"][0], org.accounts["sandbox"][0], org.accounts["prod"][0], org.accounts["prod"][1]
    for account, waiting in ((refused, 2), (quiet, 0), (denied, 0), (one, 1)):
        sqs = member_session(account, "us-east-1").client("sqs")
        url = sqs.create_queue(QueueName=FORWARDING_DEAD_LETTERS)["QueueUrl"]
        for index in range(waiting):
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"detail-type": "Config Rules Compliance Change", "id": str(index)}))
    # A member role from before this check: the iam stack set has not granted the queue's reads yet.
    faults.fail("AccessDenied", lambda call: call.operation == "GetQueueUrl" and get_account_id_from(call.access_key or "") == denied)
    faults.calls.clear()

    _, results = doctor(tmp_path, raw, capsys)

    lines = {(line["account"], line["region"]): line for line in results if line["check"] == FORWARDED_CHECK}
    assert len(lines) == 20, "each of the 10 members in both regions: every profile's SSM remediation forwards its outcomes"
    admin = raw["organization"]["adminAccountId"]
    waiting_line = lines[(refused, "us-east-1")]
    assert not waiting_line["passed"]
    assert waiting_line["detail"] == (
        f"2 events wait in {FORWARDING_DEAD_LETTERS}: the hub's bus arn:aws:events:us-east-1:{admin}:event-bus/governance-member-events refused them"
    )
    assert f"then run apply for account {refused}" in waiting_line["fix"]
    assert lines[(one, "us-east-1")]["detail"].startswith(f"1 event waits in {FORWARDING_DEAD_LETTERS}: ")
    assert lines[(one, "us-east-1")]["detail"].endswith(" refused it")
    assert lines[(quiet, "us-east-1")]["passed"] and lines[(quiet, "us-east-1")]["detail"] == f"{FORWARDING_DEAD_LETTERS} is empty"
    never_created = lines[(refused, "eu-west-1")]
    assert not never_created["passed"] and never_created["fix"].startswith("the rules stack set's instance in eu-west-1 creates it")
    denied_line = lines[(denied, "us-east-1")]
    assert not denied_line["passed"] and denied_line["detail"].startswith(f"{FORWARDING_DEAD_LETTERS}: AccessDenied")
    assert "grants the member role sqs:GetQueueUrl and sqs:GetQueueAttributes" in denied_line["fix"]
    sent = {f"sqs:{call.operation}" for call in faults.calls if call.service == "sqs"}
    assert sent == set(FORWARDED_DEAD_LETTER_READS), "the member role grants what the check sends, on that queue only"
