"""The Pulumi program under mocks: what it registers for Pulumi.dev.yaml and for other configs."""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pulumi
import pytest

from governance.catalog import CATALOG
from governance.lambda_code import PLUMBING_ACTIONS, fixer_iam_actions, handler_iam_actions
from governance.mock_program import ProgramRun, Registered, run_program, stack_config

ACCOUNT_A, ACCOUNT_B = "111111111111", "222222222222"
RULE = "aws:cfg/rule:Rule"
REMEDIATION = "aws:cfg/remediationConfiguration:RemediationConfiguration"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
FUNCTION = "aws:lambda/function:Function"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
QUEUE = "aws:sqs/queue:Queue"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
PERMISSION = "aws:lambda/permission:Permission"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
PROVIDER = "pulumi:providers:aws"


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_program(stack_config("dev"))


def config_with(**overrides: Any) -> dict[str, Any]:
    """A small valid stack config (one account, one region) with keys replaced."""
    config: dict[str, Any] = {
        "governance:accounts": [{"id": ACCOUNT_A, "roleArn": f"arn:aws:iam::{ACCOUNT_A}:role/deploy"}],
        "governance:regions": ["us-east-1"],
        "governance:rules": {},
    }
    config.update({f"governance:{key}": value for key, value in overrides.items()})
    return config


def in_bundle(run: ProgramRun, account: str, region: str, type_token: str) -> list[Registered]:
    return [resource for resource in run.of_type(type_token) if resource.name.startswith(f"gov-{account}-{region}-")]


def policy_of(run: ProgramRun, role_logical_name: str) -> dict[str, Any]:
    return json.loads(run.named(f"{role_logical_name}-policy").inputs["policy"])


def statement_actions(policy: dict[str, Any]) -> set[str]:
    actions: set[str] = set()
    for statement in policy["Statement"]:
        action = statement["Action"]
        actions.update([action] if isinstance(action, str) else action)
    return actions


# --- counts and placement -------------------------------------------------------------------------


ACCOUNT_RULES = ("s3-account-public-access", "cloudtrail-multi-region", "iam-password-policy", "iam-unused-credentials")
"""The dev stack's account-level rules: in each account's first region only."""
DEV_SSM_RULES = ("s3-bucket-encryption", "s3-account-public-access", "cloudtrail-log-validation", "ebs-default-encryption")
"""The dev stack's rules that remediate through SSM (s3-account-public-access in the first region only)."""
DEV_LAMBDA_RULES = (
    "s3-bucket-public-access", "restricted-admin-ports", "vpc-flow-logs", "sqs-queue-public", "sns-topic-public", "ebs-snapshot-public",
    "kms-key-rotation", "ec2-imdsv2", "log-group-retention", "rds-public-access", "lambda-public-access", "rds-snapshot-public",
    "ssm-document-public", "iam-password-policy", "iam-unused-credentials", "guardduty-enabled",
)
"""The dev stack's rules that remediate (manual or auto) through the Lambda; the others detect only."""


def test_dev_stack_counts_per_account_region(dev: ProgramRun) -> None:
    assert set(DEV_SSM_RULES) | set(DEV_LAMBDA_RULES) | {"cloudtrail-multi-region", "s3-bucket-versioning", "s3-ssl-only",
                                                         "default-security-group-closed", "ecr-scan-on-push"} == set(CATALOG)
    everything, regional = len(CATALOG), len(CATALOG) - len(ACCOUNT_RULES)
    expected = {
        # account A: every rule in the home region, the regional ones in eu-west-1
        (ACCOUNT_A, "us-east-1"): {RULE: everything, REMEDIATION: 4, FUNCTION: 1, EVENT_RULE: 2, ALARM: 4, TOPIC: 1, QUEUE: 1, LOG_GROUP: 2},
        (ACCOUNT_A, "eu-west-1"): {RULE: regional, REMEDIATION: 3, FUNCTION: 1, EVENT_RULE: 2, ALARM: 4, TOPIC: 1, QUEUE: 1, LOG_GROUP: 2},
        # account B: restricted-admin-ports acts on Security Hub's rule, vpc-flow-logs is off
        (ACCOUNT_B, "us-east-1"): {RULE: everything - 2, REMEDIATION: 4, FUNCTION: 1, EVENT_RULE: 2, ALARM: 4, TOPIC: 1, QUEUE: 1, LOG_GROUP: 1},
        (ACCOUNT_B, "eu-west-1"): {RULE: regional - 2, REMEDIATION: 3, FUNCTION: 1, EVENT_RULE: 2, ALARM: 4, TOPIC: 1, QUEUE: 1, LOG_GROUP: 1},
    }
    for (account, region), counts in expected.items():
        actual = {type_token: len(in_bundle(dev, account, region, type_token)) for type_token in counts}
        assert actual == counts, (account, region)
    assert len(dev.of_type(PROVIDER)) == 2
    assert Counter(role.name.split("-", 2)[1] for role in dev.of_type(ROLE)) == {ACCOUNT_A: 3, ACCOUNT_B: 2}


def test_account_level_rules_deploy_once_in_the_home_region(dev: ProgramRun) -> None:
    for key in ("s3-account-public-access", "cloudtrail-multi-region"):
        names = [rule.name for rule in dev.of_type(RULE) if rule.inputs["name"] == f"governance-{key}"]
        assert sorted(names) == [f"gov-{ACCOUNT_A}-us-east-1-rules-{key}", f"gov-{ACCOUNT_B}-us-east-1-rules-{key}"]


def test_logical_names_are_unique(dev: ProgramRun) -> None:
    pairs = Counter((resource.type, resource.name) for resource in dev.resources)
    assert [pair for pair, count in pairs.items() if count > 1] == []


def test_every_resource_uses_its_accounts_explicit_provider(dev: ProgramRun) -> None:
    custom = [resource for resource in dev.resources if resource.custom and resource.type != PROVIDER]
    assert custom
    for resource in custom:
        account = resource.name.split("-")[1]
        assert f"::aws-{account}::" in resource.provider, (resource.type, resource.name, resource.provider)


def test_providers_assume_the_account_role_and_pin_the_account(dev: ProgramRun) -> None:
    for account in (ACCOUNT_A, ACCOUNT_B):
        provider = dev.named(f"aws-{account}")
        assert json.loads(provider.inputs["allowedAccountIds"]) == [account]
        roles = json.loads(provider.inputs["assumeRoles"])
        assert [role["roleArn"] for role in roles] == [f"arn:aws:iam::{account}:role/governance-deploy"]
        assert provider.inputs["region"] == "us-east-1"


def test_regional_resources_name_their_region(dev: ProgramRun) -> None:
    for resource in dev.resources:
        if resource.custom and resource.type not in (PROVIDER, ROLE, ROLE_POLICY):
            # The dashboard is global to the account; its requests go to the account's first region.
            region = "us-east-1" if "-us-east-1-" in resource.name or resource.type == DASHBOARD else "eu-west-1"
            assert resource.inputs.get("region") == region, (resource.type, resource.name)


# --- Config rules and SSM remediation -------------------------------------------------------------


def remediation_for(run: ProgramRun, account: str, region: str, key: str) -> Registered:
    return run.named(f"gov-{account}-{region}-rules-{key}-remediation")


def parameters(remediation: Registered) -> dict[str, dict[str, Any]]:
    return {parameter["name"]: parameter for parameter in remediation.inputs["parameters"]}


def test_modes_set_the_automatic_flag(dev: ProgramRun) -> None:
    assert remediation_for(dev, ACCOUNT_A, "us-east-1", "s3-bucket-encryption").inputs["automatic"] is True
    assert remediation_for(dev, ACCOUNT_A, "us-east-1", "s3-account-public-access").inputs["automatic"] is False
    assert remediation_for(dev, ACCOUNT_A, "eu-west-1", "cloudtrail-log-validation").inputs["automatic"] is True
    detect_only = [r for r in dev.of_type(REMEDIATION) if "cloudtrail-multi-region" in r.name]
    assert detect_only == []


def test_remediation_parameter_mappings(dev: ProgramRun) -> None:
    encryption = remediation_for(dev, ACCOUNT_A, "us-east-1", "s3-bucket-encryption")
    assert encryption.inputs["targetId"] == "AWS-EnableS3BucketEncryption"
    assert encryption.inputs["targetType"] == "SSM_DOCUMENT"
    params = parameters(encryption)
    assert params["BucketName"]["resourceValue"] == "RESOURCE_ID"
    assert params["SSEAlgorithm"]["staticValue"] == "AES256"
    assert params["AutomationAssumeRole"]["staticValue"] == dev.named(f"gov-{ACCOUNT_A}-ssm-automation").state["arn"]
    account_block = parameters(remediation_for(dev, ACCOUNT_A, "us-east-1", "s3-account-public-access"))
    assert account_block["AccountId"]["resourceValue"] == "RESOURCE_ID"
    validation = remediation_for(dev, ACCOUNT_B, "eu-west-1", "cloudtrail-log-validation")
    assert validation.inputs["targetId"] == "AWSConfigRemediation-EnableCloudTrailLogFileValidation"
    assert parameters(validation)["TrailName"]["resourceValue"] == "RESOURCE_ID"


def test_remediation_controls_come_from_stack_config(dev: ProgramRun) -> None:
    remediation = remediation_for(dev, ACCOUNT_A, "us-east-1", "s3-bucket-encryption")
    assert remediation.inputs["maximumAutomaticAttempts"] == 3
    assert remediation.inputs["retryAttemptSeconds"] == 60
    controls = remediation.inputs["executionControls"]["ssmControls"]
    assert controls == {"concurrentExecutionRatePercentage": 10, "errorPercentage": 50}


def test_config_rules_use_the_catalog_identifiers_and_parameters(dev: ProgramRun) -> None:
    by_name = {rule.name: rule for rule in dev.of_type(RULE)}
    ports = by_name[f"gov-{ACCOUNT_A}-us-east-1-rules-restricted-admin-ports"]
    assert ports.inputs["source"] == {"owner": "AWS", "sourceIdentifier": "RESTRICTED_INCOMING_TRAFFIC"}
    assert json.loads(ports.inputs["inputParameters"]) == {
        "blockedPort1": "22", "blockedPort2": "3389", "blockedPort3": "22", "blockedPort4": "3389", "blockedPort5": "22",
    }
    assert ports.inputs["scope"] == {"complianceResourceTypes": ["AWS::EC2::SecurityGroup"]}
    public = by_name[f"gov-{ACCOUNT_A}-us-east-1-rules-s3-bucket-public-access"]
    assert json.loads(public.inputs["inputParameters"]) == {"excludedPublicBuckets": "public-website-assets"}
    for rule in dev.of_type(RULE):
        key = rule.inputs["name"].removeprefix("governance-")
        assert rule.inputs["source"]["sourceIdentifier"] == CATALOG[key].config_rule.identifier


def test_choosing_a_limited_runbook_warns_in_the_preview(monkeypatch: pytest.MonkeyPatch) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warnings.append(message))
    run_program(config_with(rules={"restricted-admin-ports": {"mode": "auto", "engine": "ssm"}}))
    (warning,) = [message for message in warnings if "without bytecode" not in message]
    assert "governance:rules.restricted-admin-ports" in warning
    assert "InvalidPermission.NotFound" in warning


# --- roles ----------------------------------------------------------------------------------------


def test_roles_trust_only_their_service_in_their_account(dev: ProgramRun) -> None:
    ssm = json.loads(dev.named(f"gov-{ACCOUNT_A}-ssm-automation").inputs["assumeRolePolicy"])["Statement"][0]
    assert ssm["Principal"] == {"Service": "ssm.amazonaws.com"}
    assert ssm["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT_A},
        "ArnLike": {"aws:SourceArn": f"arn:aws:ssm:*:{ACCOUNT_A}:automation-execution/*"},
    }
    function = json.loads(dev.named(f"gov-{ACCOUNT_B}-remediation-lambda").inputs["assumeRolePolicy"])["Statement"][0]
    assert function["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert function["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT_B}
    flow = json.loads(dev.named(f"gov-{ACCOUNT_A}-flow-logs-delivery").inputs["assumeRolePolicy"])["Statement"][0]
    assert flow["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert flow["Condition"]["ArnLike"] == {"aws:SourceArn": f"arn:aws:ec2:*:{ACCOUNT_A}:vpc-flow-log/*"}


def test_ssm_role_actions_are_the_union_of_enabled_ssm_runbooks(dev: ProgramRun) -> None:
    expected = {action for key in DEV_SSM_RULES for action in CATALOG[key].ssm.iam_actions}  # type: ignore[union-attr]
    assert statement_actions(policy_of(dev, f"gov-{ACCOUNT_A}-ssm-automation")) == expected


def test_lambda_role_actions_are_the_union_of_enabled_fixers(dev: ProgramRun) -> None:
    plumbing = {"logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage", *PLUMBING_ACTIONS}
    plumbing |= set(handler_iam_actions(audits_ssm=True, updates_securityhub=False))
    account_a = {action for key in DEV_LAMBDA_RULES for action in fixer_iam_actions(key)}
    assert statement_actions(policy_of(dev, f"gov-{ACCOUNT_A}-remediation-lambda")) == account_a | plumbing
    # Account B turns vpc-flow-logs off: its fixer's rights (and iam:PassRole) are not granted there.
    account_b = {action for key in DEV_LAMBDA_RULES if key != "vpc-flow-logs" for action in fixer_iam_actions(key)}
    assert "iam:PassRole" in account_a and "iam:PassRole" not in account_b
    assert statement_actions(policy_of(dev, f"gov-{ACCOUNT_B}-remediation-lambda")) == account_b | plumbing


def test_no_policy_has_a_wildcard_action(dev: ProgramRun) -> None:
    for policy in dev.of_type(ROLE_POLICY):
        for action in statement_actions(json.loads(policy.inputs["policy"])):
            assert "*" not in action, (policy.name, action)


def test_pass_role_is_limited_to_the_flow_log_role_and_service(dev: ProgramRun) -> None:
    statements = policy_of(dev, f"gov-{ACCOUNT_A}-remediation-lambda")["Statement"]
    passing = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert passing == [{
        "Sid": "PassFlowLogsDeliveryRole",
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": f"arn:aws:iam::{ACCOUNT_A}:role/governance-flow-logs-delivery",
        "Condition": {"StringEquals": {"iam:PassedToService": "vpc-flow-logs.amazonaws.com"}},
    }]


def test_detect_and_off_rules_grant_nothing() -> None:
    run = run_program(config_with(rules={key: {"mode": "detect"} for key in CATALOG}))
    assert len(run.of_type(RULE)) == len(CATALOG)
    assert run.of_type(ROLE) == []
    assert run.of_type(REMEDIATION) == []
    assert run.of_type(FUNCTION) == []


# --- the EventBridge -> Lambda path ---------------------------------------------------------------


def remediation_rule(resources: list[Registered]) -> Registered:
    """The EventBridge rule feeding the Lambda (the other one sends notifications)."""
    (rule,) = [resource for resource in resources if resource.type == EVENT_RULE and resource.name.endswith("-remediation-events")]
    return rule


def event_pattern(run: ProgramRun, account: str, region: str) -> dict[str, Any]:
    return json.loads(remediation_rule(in_bundle(run, account, region, EVENT_RULE)).inputs["eventPattern"])


def test_event_pattern_lists_exactly_the_lambda_rules(dev: ProgramRun) -> None:
    pattern = event_pattern(dev, ACCOUNT_A, "us-east-1")
    config_branch, ssm_branch = pattern["$or"]
    assert config_branch["source"] == ["aws.config"]
    assert config_branch["detail"]["newEvaluationResult"] == {"complianceType": ["NON_COMPLIANT"]}
    assert config_branch["detail"]["configRuleName"] == sorted(f"governance-{key}" for key in DEV_LAMBDA_RULES)
    assert ssm_branch["source"] == ["aws.ssm"]
    assert ssm_branch["detail"]["Definition"] == [
        "AWS-EnableS3BucketEncryption",
        "AWSConfigRemediation-ConfigureS3PublicAccessBlock",
        "AWSConfigRemediation-EnableCloudTrailLogFileValidation",
        "AWSConfigRemediation-EnableEbsEncryptionByDefault",
    ]


def test_event_pattern_matches_security_hub_rules_by_prefix(dev: ProgramRun) -> None:
    config_branch = event_pattern(dev, ACCOUNT_B, "eu-west-1")["$or"][0]
    # The account-level rules live in the first region; vpc-flow-logs is off in this account.
    regional = [key for key in DEV_LAMBDA_RULES if key not in ACCOUNT_RULES and key not in ("vpc-flow-logs", "restricted-admin-ports")]
    assert config_branch["detail"]["configRuleName"] == [
        *sorted(f"governance-{key}" for key in regional),
        {"prefix": "securityhub-restricted-rdp-"},
        {"prefix": "securityhub-restricted-ssh-"},
    ]
    # No Config rule of our own for a check taken from Security Hub.
    names = {rule.inputs["name"] for rule in in_bundle(dev, ACCOUNT_B, "eu-west-1", RULE)}
    assert "governance-restricted-admin-ports" not in names
    # The Lambda matches that rule by the same prefixes only.
    (function,) = in_bundle(dev, ACCOUNT_B, "eu-west-1", FUNCTION)
    config = json.loads(function.inputs["environment"]["variables"]["GOVERNANCE_CONFIG"])
    assert config["rules"]["restricted-admin-ports"]["securityHubPrefixes"] == ["securityhub-restricted-rdp-", "securityhub-restricted-ssh-"]
    assert all("securityHubPrefixes" not in config["rules"][key] for key in config["rules"] if key != "restricted-admin-ports")


def test_lambda_config_maps_rule_names_to_fixers_modes_and_params(dev: ProgramRun) -> None:
    (function,) = in_bundle(dev, ACCOUNT_A, "us-east-1", FUNCTION)
    config = json.loads(function.inputs["environment"]["variables"]["GOVERNANCE_CONFIG"])
    assert config["ruleNamePrefix"] == "governance-"
    assert config["rules"]["restricted-admin-ports"] == {"mode": "auto", "params": {"ports": [22, 3389]}}
    flow = config["rules"]["vpc-flow-logs"]
    assert flow["mode"] == "manual"
    assert flow["params"]["deliverLogsRoleArn"] == f"arn:aws:iam::{ACCOUNT_A}:role/governance-flow-logs-delivery"
    assert config["ssmRunbooks"]["AWSConfigRemediation-EnableCloudTrailLogFileValidation"] == {
        "key": "cloudtrail-log-validation", "mode": "auto", "resourceParameter": "TrailName",
    }
    assert config["exemptionTag"] == "governance:exempt"
    assert function.inputs["handler"] == "remediation.handler.lambda_handler"
    assert function.inputs["runtime"] == "python3.13"


def test_events_are_never_lost(dev: ProgramRun) -> None:
    for account, region in ((ACCOUNT_A, "us-east-1"), (ACCOUNT_B, "eu-west-1")):
        (queue,) = in_bundle(dev, account, region, QUEUE)
        (target,) = [target for target in in_bundle(dev, account, region, EVENT_TARGET) if target.name.endswith("-remediation-target")]
        (invoke,) = in_bundle(dev, account, region, INVOKE_CONFIG)
        (permission,) = in_bundle(dev, account, region, PERMISSION)
        event_rule = remediation_rule(in_bundle(dev, account, region, EVENT_RULE))
        (function,) = in_bundle(dev, account, region, FUNCTION)
        assert target.inputs["deadLetterConfig"] == {"arn": queue.state["arn"]}
        assert target.inputs["retryPolicy"] == {"maximumRetryAttempts": 185, "maximumEventAgeInSeconds": 86400}
        assert target.inputs["arn"] == function.state["arn"]
        assert invoke.inputs["destinationConfig"] == {"onFailure": {"destination": queue.state["arn"]}}
        assert permission.inputs["sourceArn"] == event_rule.state["arn"]
        assert permission.inputs["principal"] == "events.amazonaws.com"
        queue_policy = json.loads(queue.inputs["policy"])["Statement"][0]
        notifications = f"arn:aws:events:{region}:{account}:rule/governance-remediation-notify"
        assert queue_policy["Condition"] == {"ArnEquals": {"aws:SourceArn": [event_rule.state["arn"], notifications]}}


def test_log_groups_have_the_configured_retention() -> None:
    run = run_program(config_with(
        logRetentionDays=90,
        rules={"vpc-flow-logs": {"mode": "auto"}, "restricted-admin-ports": {"mode": "auto"}},
    ))
    groups = {group.inputs["name"]: group.inputs["retentionInDays"] for group in run.of_type(LOG_GROUP)}
    assert groups == {"/aws/lambda/governance-remediation": 90, "/governance/vpc-flow-logs": 90}


def test_lambda_zip_holds_only_the_handler_package(dev: ProgramRun) -> None:
    (function,) = in_bundle(dev, ACCOUNT_A, "us-east-1", FUNCTION)
    archive = function.inputs["code"]
    paths = sorted(archive.assets) if hasattr(archive, "assets") else []
    assert paths, "the code is an AssetArchive of explicit files"
    assert all(path.startswith("remediation/") for path in paths)
    sources = [path for path in paths if path.endswith(".py")]
    assert "remediation/handler.py" in sources
    # Bytecode only of the runtime's version, and only of these sources.
    bytecode = sorted(set(paths) - set(sources))
    assert bytecode == ([f"{Path(path).parent}/__pycache__/{Path(path).stem}.cpython-313.pyc" for path in sources] if bytecode else [])


@pytest.mark.parametrize("on_runtime_version", [True, False])
def test_the_zip_carries_bytecode_only_on_the_runtime_python(monkeypatch: pytest.MonkeyPatch, on_runtime_version: bool) -> None:
    from governance import lambda_code

    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warnings.append(message))
    monkeypatch.setattr(lambda_code, "ships_bytecode", lambda: on_runtime_version)
    run = run_program(config_with(rules={"restricted-admin-ports": {"mode": "auto"}}))
    (function,) = run.of_type(FUNCTION)
    paths = set(function.inputs["code"].assets)
    handler_bytecode = f"remediation/__pycache__/handler.{sys.implementation.cache_tag}.pyc"
    assert (handler_bytecode in paths) is on_runtime_version
    bytecode_warnings = [message for message in warnings if "ships without bytecode" in message]
    assert len(bytecode_warnings) == (0 if on_runtime_version else 1)


def test_a_lambda_only_region_needs_no_ssm_role() -> None:
    run = run_program(config_with(rules={"restricted-admin-ports": {"mode": "auto"}}))
    assert [role.inputs["name"] for role in run.of_type(ROLE)] == ["governance-remediation-lambda"]
    pattern = json.loads(remediation_rule(run.resources).inputs["eventPattern"])
    assert pattern["source"] == ["aws.config"]


def test_an_ssm_only_region_still_audits_its_executions() -> None:
    run = run_program(config_with(rules={"s3-bucket-encryption": {"mode": "auto"}}))
    pattern = json.loads(remediation_rule(run.resources).inputs["eventPattern"])
    assert pattern["source"] == ["aws.ssm"]
    assert pattern["detail"]["Definition"] == ["AWS-EnableS3BucketEncryption"]


def test_protected_rules_are_marked_for_the_policy_pack() -> None:
    run = run_program(config_with(
        protectedRules=["restricted-admin-ports"],
        rules={"restricted-admin-ports": {"mode": "auto"}, "s3-bucket-encryption": {"mode": "auto"}},
    ))
    tags = {rule.inputs["name"]: rule.inputs["tags"] for rule in run.of_type(RULE)}
    assert tags["governance-restricted-admin-ports"]["governance:protected"] == "true"
    assert tags["governance-s3-bucket-encryption"] == {
        "governance:rule": "s3-bucket-encryption", "governance:mode": "auto", "governance:engine": "ssm", "governance:protected": "false",
    }
    config = json.loads(run.of_type(FUNCTION)[0].inputs["environment"]["variables"]["GOVERNANCE_CONFIG"])
    assert config["protectedRules"] == ["restricted-admin-ports"]


# --- resource options: what survives deletes and replacements, what stays secret -------------------

DATA_HOLDERS = (QUEUE, LOG_GROUP)
NAMED_TYPES = (RULE, ROLE, FUNCTION, EVENT_RULE, QUEUE, LOG_GROUP)


def test_queues_and_log_groups_outlive_their_stack_entry(dev: ProgramRun) -> None:
    # Removing a region or changing the prefix must not delete audit records or queued failures.
    holders = [resource for resource in dev.resources if resource.type in DATA_HOLDERS]
    assert len(holders) == 10
    for resource in holders:
        assert resource.options.retain_on_delete, (resource.type, resource.name)
    for resource in dev.of_type(RULE) + dev.of_type(FUNCTION) + dev.of_type(ROLE):
        assert not resource.options.retain_on_delete, (resource.type, resource.name)


def test_named_resources_are_deleted_before_they_are_replaced(dev: ProgramRun) -> None:
    named = [resource for resource in dev.resources if resource.type in NAMED_TYPES]
    assert named
    for resource in named:
        assert "name" in resource.inputs, (resource.type, resource.name)
        assert resource.options.delete_before_replace, (resource.type, resource.name)


def test_external_id_reaches_the_provider_only_as_a_secret() -> None:
    run = run_program(config_with(accounts=[
        {"id": ACCOUNT_A, "roleArn": f"arn:aws:iam::{ACCOUNT_A}:role/deploy", "externalId": "s3cr3t-external-id"},
    ], rules={"restricted-admin-ports": {"mode": "auto"}}))
    provider = run.named(f"aws-{ACCOUNT_A}")
    assert "assumeRoles" in provider.options.secret_inputs
    for resource in run.resources:
        if resource is not provider:
            assert "s3cr3t-external-id" not in json.dumps(resource.inputs, default=str), resource.name
    assert "s3cr3t-external-id" not in json.dumps(run.outputs, default=str)


def test_without_an_external_id_nothing_is_secret(dev: ProgramRun) -> None:
    provider = dev.named(f"aws-{ACCOUNT_A}")
    assert provider.options.secret_inputs == frozenset()


def test_the_docs_set_account_ids_as_plain_strings() -> None:
    # `--path` with a quoted JSON string stores the quotes; without `--type string` an id becomes a number.
    root = Path(__file__).resolve().parents[1]
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    lines = [line.strip() for page in pages for line in page.read_text().splitlines()]
    commands = [line for line in lines if line.startswith("pulumi config set --path")]
    assert commands
    for command in commands:
        assert "'\"" not in command, command
        if command.split()[-2].endswith(".id'"):
            assert " --type string " in command, command
    assert any(".id'" in command for command in commands)


LOGICAL_NAMES = {
    (PROVIDER, "aws-{account}"),
    ("governance:index:AccountRoles", "gov-{account}"),
    (ROLE, "gov-{account}-ssm-automation"),
    (ROLE, "gov-{account}-remediation-lambda"),
    (ROLE, "gov-{account}-flow-logs-delivery"),
    (ROLE_POLICY, "gov-{account}-ssm-automation-policy"),
    (ROLE_POLICY, "gov-{account}-remediation-lambda-policy"),
    (ROLE_POLICY, "gov-{account}-flow-logs-delivery-policy"),
    ("governance:index:AccountRegion", "gov-{account}-{region}"),
    (LOG_GROUP, "gov-{account}-{region}-flow-logs"),
    (RULE, "gov-{account}-{region}-rules-{rule}"),
    (REMEDIATION, "gov-{account}-{region}-rules-{rule}-remediation"),
    (LOG_GROUP, "gov-{account}-{region}-remediation-logs"),
    (EVENT_RULE, "gov-{account}-{region}-remediation-events"),
    (QUEUE, "gov-{account}-{region}-remediation-dlq"),
    (FUNCTION, "gov-{account}-{region}-remediation-function"),
    (EVENT_TARGET, "gov-{account}-{region}-remediation-target"),
    (PERMISSION, "gov-{account}-{region}-remediation-invoke"),
    (INVOKE_CONFIG, "gov-{account}-{region}-remediation-async"),
    (TOPIC, "gov-{account}-{region}-operations-topic"),
    (ALARM, "gov-{account}-{region}-operations-alarm-dead-letters"),
    (ALARM, "gov-{account}-{region}-operations-alarm-function-errors"),
    (ALARM, "gov-{account}-{region}-operations-alarm-failed-remediations"),
    (ALARM, "gov-{account}-{region}-operations-alarm-runaway-remediations"),
    (EVENT_RULE, "gov-{account}-{region}-operations-notifications"),
    (EVENT_TARGET, "gov-{account}-{region}-operations-notify"),
    (DASHBOARD, "gov-{account}-dashboard"),
    ("aws:sns/topicSubscription:TopicSubscription", "gov-{account}-{region}-operations-email-{email}"),
}
"""Every logical name the program uses. Renaming one replaces the resource (and deletes what a log group or
queue holds) unless the resource declares the old name in ``aliases``: change this set only together with those."""


def test_logical_names_stay_what_deployed_stacks_know(dev: ProgramRun) -> None:
    def template(resource: Registered) -> tuple[str, str]:
        name = resource.name
        for account in (ACCOUNT_A, ACCOUNT_B):
            name = name.replace(account, "{account}")
        for region in ("us-east-1", "eu-west-1"):
            name = name.replace(region, "{region}")
        for key in sorted(CATALOG, key=len, reverse=True):
            name = name.replace(f"-rules-{key}", "-rules-{rule}")
        name = re.sub(r"-email-.+@.+$", "-email-{email}", name)
        return resource.type, name

    assert {template(resource) for resource in dev.resources} == LOGICAL_NAMES


FORMER_PARENTS = {
    "-rules-": "governance:index:AccountRegion$governance:index:ConfigRules::gov-{account}-{region}-rules",
    "-remediation-": "governance:index:AccountRegion$governance:index:RemediationFunction::gov-{account}-{region}-remediation",
}
"""The components the Config rules and the Lambda path used to sit in, by logical-name infix."""


def test_resources_that_left_their_components_keep_their_deployed_urns(dev: ProgramRun) -> None:
    """Each moved resource names its former parent's URN as an alias, so an update moves it instead of replacing it."""
    moved = 0
    for resource in dev.resources:
        match = re.match(r"gov-(\d{12})-([a-z]+-[a-z]+-\d)(-rules-|-remediation-)", resource.name)
        if match is None:
            assert not resource.options.aliases, resource.name
            continue
        parent = FORMER_PARENTS[match.group(3)].format(account=match.group(1), region=match.group(2))
        # The mock monitor writes the root stack's type into the chain of its children's URNs; the engine does not.
        aliases = tuple(alias.replace("pulumi:pulumi:Stack$", "") for alias in resource.options.aliases)
        assert aliases == (f"parent=urn:pulumi:dev::governance::{parent}",), resource.name
        moved += 1
    assert moved > 20
