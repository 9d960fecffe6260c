"""Organization mode: the CLI governs the ACTIVE accounts under the targets, each with its profile's rules and the member role."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from governance.cli.main import main
from governance.cli.organization_fleet import govern
from governance.cli.sessions import AccountSessions
from governance.settings import load_settings
from tests.cli.aws_faults import Call, Faults, faults  # noqa: F401
from tests.cli.organization_fixtures import MEMBER_ROLE, Organization, organization_stack, write_stack

BASE_KEYS = {"restricted-admin-ports", "s3-bucket-versioning"}
SANDBOX_KEYS = {"restricted-admin-ports"}


def test_the_targeted_active_accounts_are_governed_with_their_profiles_rules_and_a_new_one_on_the_next_run(organization: Organization) -> None:
    org = organization
    excluded = org.accounts["prod"][1]
    suspended = org.accounts["sandbox"][2]
    org.client.close_account(AccountId=suspended)
    settings = load_settings(organization_stack(org, exclude=[excluded]))

    first = govern(settings, AccountSessions())

    expected = {*org.accounts["workloads"], *org.accounts["prod"], *org.accounts["sandbox"]} - {excluded, suspended}
    assert {member.id for member in first.members} == expected and len(expected) == 8
    assert first.settings.accounts == first.members and first.complete
    for member in first.members:
        assert member.role_arn == f"arn:aws:iam::{member.id}:role/{MEMBER_ROLE}"
        assert member.regions == ("us-east-1", "eu-west-1")
        keys = {rule.key for rule in member.rules}
        assert keys == (SANDBOX_KEYS if member.id in org.accounts["sandbox"] else BASE_KEYS), member.id

    newcomer = org.add_account("late", org.prod)
    second = govern(settings, AccountSessions())

    assert newcomer not in {member.id for member in first.members}
    assert {member.id for member in second.members} == expected | {newcomer}
    assert {rule.key for rule in next(m for m in second.members if m.id == newcomer).rules} == BASE_KEYS


def test_accounts_of_governance_accounts_stay_and_the_management_account_is_never_a_member(organization: Organization) -> None:
    org = organization
    raw = organization_stack(org, targets=[org.root], overrides=[])
    raw["accounts"] = [{"id": org.management}]
    settings = load_settings(raw)

    fleet = govern(settings, AccountSessions())

    ids = [account.id for account in fleet.settings.accounts]
    assert ids[0] == org.management and ids.count(org.management) == 1
    assert fleet.settings.accounts[0].role_arn is None  # direct mode: the caller's own credentials
    everyone = {account for accounts in org.accounts.values() for account in accounts}
    assert {member.id for member in fleet.members} == everyone and len(everyone) == 12
    assert fleet.management_account == org.management


def test_a_target_that_cannot_be_listed_is_one_line_and_the_others_are_scanned(
    organization: Organization, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org = organization
    missing = "ou-zzzz-99999999"
    raw = organization_stack(org, targets=[missing, org.sandbox], overrides=[])
    stack = write_stack(tmp_path / "Pulumi.org.yaml", raw)

    code = main(["scan", "--stack-file", str(stack), "--format", "json"])

    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert lines == [
        f"error: governance:organization.targets: {missing} does not exist in this organization, or an OU under it was deleted "
        "during the listing; its accounts are left out of this run."
    ]
    assert code == 1  # nothing non-compliant in the sandbox accounts, but a target was not scanned


def test_a_hub_role_that_cannot_be_assumed_is_one_line_and_the_direct_accounts_go_on(
    organization: Organization, faults: Faults, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    org = organization
    admin_role = f"arn:aws:iam::{org.accounts['root'][0]}:role/governance-deploy"
    raw = organization_stack(org, adminRoleArn=admin_role)
    raw["accounts"] = [{"id": org.management}]
    attempts: list[Call] = []

    def hub_role(call: Call) -> bool:
        if call.operation == "AssumeRole" and call.params["RoleArn"] == admin_role:
            attempts.append(call)
            return True
        return False

    faults.fail("AccessDenied", hub_role)
    stack = write_stack(tmp_path / "Pulumi.org.yaml", raw)

    code = main(["scan", "--stack-file", str(stack), "--format", "json"])

    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        f"error: governance:organization.adminRoleArn {admin_role} could not be assumed (AccessDenied: AccessDenied (injected)); "
        "no organization account was listed: run with credentials that may assume it."
    ]
    assert len(attempts) == 1  # the hub role was tried once, not once per target or region
    assert not [call for call in faults.calls if call.operation == "AssumeRole"]  # and no member role at all
    assert any(call.operation == "DescribeSecurityGroups" for call in faults.calls)  # the management account was scanned
    assert code == 1


def test_with_admin_role_arn_the_listing_and_every_member_role_go_through_the_assumed_hub_role(
    organization: Organization, faults: Faults, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    org = organization
    # moto reads the organization from the management account only: the hub role is one of that account here.
    admin_role = f"arn:aws:iam::{org.management}:role/governance-deploy"
    raw = organization_stack(org, adminAccountId=org.management, adminRoleArn=admin_role, targets=[org.sandbox], overrides=[])
    stack = write_stack(tmp_path / "Pulumi.org.yaml", raw)

    assert main(["scan", "--stack-file", str(stack), "--format", "json"]) == 0

    assumed = [call for call in faults.calls if call.operation == "AssumeRole"]
    hub = [call for call in assumed if call.params["RoleArn"] == admin_role]
    members = [call for call in assumed if call.params["RoleArn"] != admin_role]
    assert len(hub) == 1 and hub[0].access_key == boto3.Session().get_credentials().access_key
    assert sorted(call.params["RoleArn"].split(":")[4] for call in members) == sorted(org.accounts["sandbox"])
    listing = {call.access_key for call in faults.calls if call.operation == "ListAccountsForParent"}
    assert listing == {call.access_key for call in members} and len(listing) == 1  # the hub role's credentials
    assert listing != {hub[0].access_key}
    assert f"note: organization: 3 accounts under 1 targets, entered through role {MEMBER_ROLE}" in capsys.readouterr().err


def test_report_queries_the_hubs_lambda_log_groups_in_organization_mode() -> None:
    from governance.cli.insights import log_units

    raw = {
        "regions": ["us-east-1", "eu-west-1"],
        "rules": {"restricted-admin-ports": {"mode": "auto"}},
        "organization": {"adminAccountId": "999999999999", "targets": ["ou-ab12-11111111"]},
        "accounts": [{"id": "111111111111"}],
    }
    units = [(unit.account.id, unit.region, unit.log_group) for unit in log_units(load_settings(raw))]
    group = "/aws/lambda/governance-remediation"
    assert units == [("111111111111", "us-east-1", group), ("111111111111", "eu-west-1", group),
                     ("999999999999", "us-east-1", group), ("999999999999", "eu-west-1", group)]
