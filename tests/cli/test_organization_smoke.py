"""``smoke`` in organization mode: the test resource goes to a targeted account, the record is read from the hub's log group."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from governance.cli import smoke
from governance.cli.main import main
from tests.cli.organization_fixtures import Organization, member_session, organization_stack, write_stack

LOG_GROUP = "/aws/lambda/governance-remediation"
REGION = "us-east-1"


@pytest.fixture
def hub_lambda(organization: Organization, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Stands in for the hub Lambda: closes the test group in the member account and logs its record in the hub's log group.

    The hub's credentials are the caller's here (no adminRoleArn), so its log group is the default account's.
    """
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName=LOG_GROUP)
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName="hub")
    fixed_in: list[str] = []
    original = smoke.run_smoke

    def remediate(resource: smoke.TestResource, account: str) -> None:
        ec2 = member_session(account, REGION).client("ec2")
        permissions = ec2.describe_security_groups(GroupIds=[resource.resource_id])["SecurityGroups"][0]["IpPermissions"]
        ec2.revoke_security_group_ingress(GroupId=resource.resource_id, IpPermissions=permissions)
        record = {"recordId": "hub-1", "account": account, "resourceId": resource.resource_id, "decision": "remediated", "final": True}
        logs.put_log_events(logGroupName=LOG_GROUP, logStreamName="hub", logEvents=[{"timestamp": int(time.time() * 1000), "message": json.dumps(record)}])
        fixed_in.append(account)

    def run_smoke(settings: Any, session: Any, account: Any, region: str, rule_key: str, timeout: float, **options: Any) -> smoke.SmokeResult:
        return original(settings, session, account, region, rule_key, 5, poll=0.05, after_create=lambda resource: remediate(resource, account.id), **options)

    monkeypatch.setattr(smoke, "run_smoke", run_smoke)
    return fixed_in


def test_smoke_defaults_to_the_first_targeted_account_and_reads_the_hubs_record(
    organization: Organization, hub_lambda: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org = organization
    stack = write_stack(tmp_path / "Pulumi.org.yaml", organization_stack(org))
    first = min({*org.accounts["workloads"], *org.accounts["prod"], *org.accounts["sandbox"]})

    code = main(["smoke", "--stack-file", str(stack), "--rule", "restricted-admin-ports"])

    result = json.loads(capsys.readouterr().out)
    assert (result["account"], result["remediated"], result["cleanedUp"], result["problems"]) == (first, True, True, [])
    assert result["record"]["recordId"] == "hub-1" and hub_lambda == [first]
    assert code == 0


def test_smoke_takes_any_targeted_account_and_refuses_one_outside_the_targets(
    organization: Organization, hub_lambda: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org = organization
    stack = write_stack(tmp_path / "Pulumi.org.yaml", organization_stack(org))
    chosen = org.accounts["sandbox"][1]

    assert main(["smoke", "--stack-file", str(stack), "--rule", "restricted-admin-ports", "--account", chosen]) == 0
    assert json.loads(capsys.readouterr().out)["account"] == chosen

    outside = org.accounts["root"][1]
    assert main(["smoke", "--stack-file", str(stack), "--rule", "restricted-admin-ports", "--account", outside]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"--account {outside} is not in this stack (neither in governance:accounts nor an ACTIVE, not excluded account "
        "under governance:organization.targets)."
    )
