"""Alarms, notifications and the dashboard: the stack config that chooses them and what the program deploys."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest

from governance import operations
from governance.catalog import CATALOG
from governance.lambda_code import lambda_module
from governance.mock_program import ProgramRun, run_program
from governance.settings import ConfigError, load_settings

ACCOUNT = "111111111111"
OTHER = "222222222222"
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
QUEUE = "aws:sqs/queue:Queue"
EXISTING = "arn:aws:sns:us-east-1:999999999999:security-alerts"


def stack(regions: tuple[str, ...] = ("us-east-1",), **overrides: Any) -> dict[str, Any]:
    """Program config: one account, restricted-admin-ports on auto, keys replaced."""
    config: dict[str, Any] = {
        "governance:accounts": [{"id": ACCOUNT, "roleArn": f"arn:aws:iam::{ACCOUNT}:role/deploy"}],
        "governance:regions": list(regions),
        "governance:rules": {"restricted-admin-ports": {"mode": "auto"}},
    }
    config.update({f"governance:{key}": value for key, value in overrides.items()})
    return config


def settings_of(**overrides: Any) -> Any:
    return load_settings({key.removeprefix("governance:"): value for key, value in stack(**overrides).items()})


def problems_of(**overrides: Any) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        settings_of(**overrides)
    return raised.value.problems


# --- stack config -----------------------------------------------------------------------------------


def test_defaults_notify_failures_and_remediations_and_create_the_topics() -> None:
    operations_settings = settings_of().operations
    assert operations_settings.decisions == ("failed", "remediated")
    assert dict(operations_settings.topic_arns) == {} and operations_settings.emails == ()
    assert (operations_settings.runaway_remediations, operations_settings.runaway_period_minutes) == (50, 60)


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"notifications": "ops@example.com"}, "governance:notifications must be an object with topicArn, emails, decisions and format, got 'ops@example.com'."),
        ({"notifications": {"email": ["a@example.com"]}}, "governance:notifications.email is not a notification setting; allowed: topicArn, emails, decisions, format."),
        ({"notifications": {"decisions": ["failed", "fixed"]}},
         "governance:notifications.decisions must be a list of distinct decisions from: remediated, failed, exempt, dry_run, already_compliant, ignored, got ['failed', 'fixed']."),
        ({"notifications": {"decisions": ["failed", "failed"]}},
         "governance:notifications.decisions must be a list of distinct decisions from: remediated, failed, exempt, dry_run, already_compliant, ignored, got ['failed', 'failed']."),
        ({"notifications": {"emails": ["not-an-address"]}},
         "governance:notifications.emails must be a list of e-mail addresses such as security@example.com, got ['not-an-address']."),
        ({"notifications": {"emails": ["a@example.com", "A@example.com"]}},
         "governance:notifications.emails repeats an address; list each address once, got ['a@example.com', 'A@example.com']."),
        ({"notifications": {"topicArn": "arn:aws:sns:us-east-1:999999999999:alerts.fifo"}},
         "governance:notifications.topicArn must be a standard SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:security-alerts, "
         "got 'arn:aws:sns:us-east-1:999999999999:alerts.fifo'."),
        ({"notifications": {"topicArn": "arn:aws:sns:eu-west-1:999999999999:alerts"}},
         "governance:notifications.topicArn must name a topic in every region that runs the remediation Lambda (us-east-1); "
         "missing us-east-1: give a topic in that region, or leave topicArn out so the program creates one per region"),
        ({"notifications": {"topicArn": {"eu-west-1": EXISTING}}},
         f"governance:notifications.topicArn.eu-west-1 must be a topic in eu-west-1, the region it is listed under, got '{EXISTING}'."),
        ({"notifications": {"topicArn": EXISTING, "emails": ["a@example.com"]}},
         "governance:notifications.emails can be set only without topicArn: subscribe addresses to your own topic yourself."),
        ({"notifications": {"format": "slack"}}, "governance:notifications.format must be one of sentence, chat, got 'slack'."),
        ({"alarms": {"runawayRemediations": 0}}, "governance:alarms.runawayRemediations must be a whole number from 1 to 100000, got 0."),
        ({"alarms": {"runawayPeriodMinutes": 1441}}, "governance:alarms.runawayPeriodMinutes must be a whole number from 1 to 1440, got 1441."),
        ({"alarms": {"rate": 5}}, "governance:alarms.rate is not a known setting; allowed: runawayRemediations, runawayPeriodMinutes."),
    ],
    ids=lambda value: "" if isinstance(value, dict) else None,
)
def test_bad_operations_settings_get_one_sentence_naming_the_key(overrides: dict[str, Any], problem: str) -> None:
    assert problems_of(**overrides) == [problem if problem.endswith(".") else problem + "."]


def test_one_topic_per_region_when_the_stack_runs_the_lambda_in_several() -> None:
    problems = problems_of(regions=("us-east-1", "eu-west-1"), notifications={"topicArn": EXISTING})
    assert problems == [
        "governance:notifications.topicArn must name a topic in every region that runs the remediation Lambda (eu-west-1, us-east-1); "
        "missing eu-west-1: give a map of region to topic ARN, or leave topicArn out so the program creates one per region."
    ]
    mapped = {"us-east-1": EXISTING, "eu-west-1": "arn:aws:sns:eu-west-1:999999999999:security-alerts"}
    settings = settings_of(regions=("us-east-1", "eu-west-1"), notifications={"topicArn": mapped})
    assert dict(settings.operations.topic_arns) == mapped


def test_a_detect_only_stack_needs_no_topic() -> None:
    settings = settings_of(rules={"restricted-admin-ports": {"mode": "detect"}}, notifications={"topicArn": EXISTING.replace("us-east-1", "eu-west-1")})
    assert dict(settings.operations.topic_arns) == {"eu-west-1": EXISTING.replace("us-east-1", "eu-west-1")}


# --- what the program deploys -------------------------------------------------------------------------


def named(run: ProgramRun, type_token: str, suffix: str) -> Any:
    (resource,) = [resource for resource in run.of_type(type_token) if resource.name.endswith(suffix)]
    return resource


@pytest.fixture(scope="module")
def two_regions() -> ProgramRun:
    return run_program(stack(
        regions=("us-east-1", "eu-west-1"),
        notifications={"emails": ["sec@example.com", "ops@example.com"], "decisions": ["failed"]},
        alarms={"runawayRemediations": 25, "runawayPeriodMinutes": 30},
    ))


def test_each_lambda_region_gets_a_topic_with_the_emails_four_alarms_and_a_notification_rule(two_regions: ProgramRun) -> None:
    for region in ("us-east-1", "eu-west-1"):
        bundle = f"gov-{ACCOUNT}-{region}-"
        counts = Counter(resource.type for resource in two_regions.with_prefix(bundle))
        assert (counts[TOPIC], counts[SUBSCRIPTION], counts[ALARM]) == (1, 2, 4)
        topic = named(two_regions, TOPIC, f"{region}-operations-topic")
        assert topic.inputs["name"] == "governance-notifications" and topic.inputs["region"] == region
        emails = {sub.inputs["endpoint"] for sub in two_regions.with_prefix(bundle) if sub.type == SUBSCRIPTION}
        assert emails == {"sec@example.com", "ops@example.com"}
        for resource in two_regions.with_prefix(bundle):
            if resource.type in (ALARM, SUBSCRIPTION):
                assert resource.inputs["region"] == region
        for alarm in (r for r in two_regions.with_prefix(bundle) if r.type == ALARM):
            assert alarm.inputs["alarmActions"] == [topic.state["arn"]] == alarm.inputs["okActions"]
            assert (alarm.inputs["treatMissingData"], alarm.inputs["evaluationPeriods"]) == ("notBreaching", 1)
            assert alarm.inputs["comparisonOperator"] == "GreaterThanThreshold"


def test_the_alarms_watch_the_right_metrics_with_the_right_thresholds(two_regions: ProgramRun) -> None:
    def alarm(kind: str) -> Any:
        return named(two_regions, ALARM, f"us-east-1-operations-alarm-{kind}").inputs

    dead = alarm("dead-letters")
    assert (dead["namespace"], dead["metricName"], dead["statistic"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum")
    assert dead["dimensions"] == {"QueueName": "governance-remediation-dlq"} and dead["threshold"] == 0
    errors = alarm("function-errors")
    queries = {query["id"]: query for query in errors["metricQueries"]}
    assert queries["total"]["expression"] == "FILL(errors, 0) + FILL(throttles, 0)" and queries["total"]["returnData"] is True
    assert [(queries[i]["metric"]["namespace"], queries[i]["metric"]["metricName"], queries[i]["metric"]["dimensions"]) for i in ("errors", "throttles")] == [
        ("AWS/Lambda", "Errors", {"FunctionName": "governance-remediation"}),
        ("AWS/Lambda", "Throttles", {"FunctionName": "governance-remediation"}),
    ]
    assert "namespace" not in errors and errors["threshold"] == 0
    failed = alarm("failed-remediations")
    assert (failed["namespace"], failed["metricName"], failed["statistic"], failed["period"], failed["threshold"]) == ("Governance", "Decisions", "Sum", 300, 0)
    assert failed["dimensions"] == {"function": "governance-remediation", "decision": "failed"}
    runaway = alarm("runaway-remediations")
    assert (runaway["threshold"], runaway["period"]) == (25, 1800)
    assert runaway["dimensions"] == {"function": "governance-remediation", "decision": "remediated"}


def test_the_notification_rule_sends_the_chosen_decisions_as_one_sentence_and_keeps_what_it_cannot_deliver(two_regions: ProgramRun) -> None:
    rule = named(two_regions, EVENT_RULE, "us-east-1-operations-notifications")
    assert rule.inputs["name"] == "governance-remediation-notify"
    assert json.loads(rule.inputs["eventPattern"]) == {
        "detail": {"decision": ["failed"]}, "detail-type": ["Governance Remediation Result"], "source": ["governance.remediation"],
        "resources": [f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:governance-remediation"],
    }
    target = named(two_regions, EVENT_TARGET, "us-east-1-operations-notify")
    topic = named(two_regions, TOPIC, "us-east-1-operations-topic")
    queue = named(two_regions, QUEUE, "us-east-1-remediation-dlq")
    assert target.inputs["arn"] == topic.state["arn"] and target.inputs["rule"] == rule.state["name"]
    assert target.inputs["inputTransformer"] == {"inputPaths": operations.NOTIFICATION_INPUT_PATHS, "inputTemplate": operations.NOTIFICATION_TEMPLATE}
    assert target.inputs["deadLetterConfig"] == {"arn": queue.state["arn"]}
    notify_arn = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/governance-remediation-notify"
    assert notify_arn in json.loads(queue.inputs["policy"])["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"]


def test_only_this_accounts_alarms_and_notification_rule_may_publish_to_the_topic(two_regions: ProgramRun) -> None:
    topic = named(two_regions, TOPIC, "eu-west-1-operations-topic")
    alarms, rule = json.loads(topic.inputs["policy"])["Statement"]
    topic_arn = f"arn:aws:sns:eu-west-1:{ACCOUNT}:governance-notifications"
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and alarms["Resource"] == topic_arn
    assert alarms["Condition"] == {
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:governance-*"},
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
    }
    assert rule["Principal"] == {"Service": "events.amazonaws.com"} and rule["Resource"] == topic_arn
    assert rule["Condition"] == {"ArnEquals": {"aws:SourceArn": f"arn:aws:events:eu-west-1:{ACCOUNT}:rule/governance-remediation-notify"}}


def test_by_default_failures_notify_and_remediations_only_in_auto_mode() -> None:
    run = run_program(stack())
    base = {
        "detail-type": ["Governance Remediation Result"], "source": ["governance.remediation"],
        "resources": [f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:governance-remediation"],
    }
    assert json.loads(named(run, EVENT_RULE, "operations-notifications").inputs["eventPattern"]) == {"$or": [
        {**base, "detail": {"decision": ["failed"]}},
        {**base, "detail": {"decision": ["remediated"], "mode": ["auto"]}},
    ]}


def test_no_decisions_means_no_notification_rule_but_the_alarms_stay() -> None:
    run = run_program(stack(notifications={"decisions": []}))
    assert [rule.name for rule in run.of_type(EVENT_RULE)] == [f"gov-{ACCOUNT}-us-east-1-remediation-events"]
    assert len(run.of_type(ALARM)) == 4 and len(run.of_type(TOPIC)) == 1


def test_an_existing_topic_is_used_as_it_is() -> None:
    run = run_program(stack(notifications={"topicArn": EXISTING}))
    assert run.of_type(TOPIC) == [] and run.of_type(SUBSCRIPTION) == []
    assert {tuple(alarm.inputs["alarmActions"]) for alarm in run.of_type(ALARM)} == {(EXISTING,)}
    assert named(run, EVENT_TARGET, "operations-notify").inputs["arn"] == EXISTING


def test_a_region_without_the_lambda_gets_no_alarms_topic_or_dashboard() -> None:
    run = run_program(stack(rules={"restricted-admin-ports": {"mode": "detect"}}))
    assert [resource.type for resource in run.resources if resource.type in (TOPIC, ALARM, DASHBOARD, EVENT_RULE)] == []


# --- the dashboard -------------------------------------------------------------------------------------


def every_rule_remediating() -> dict[str, Any]:
    rules: dict[str, Any] = {key: {"mode": "auto"} for key in CATALOG}
    rules["cloudtrail-multi-region"]["params"] = {"s3BucketName": "org-cloudtrail-logs"}
    return rules


def test_every_catalog_rule_appears_on_the_dashboard() -> None:
    run = run_program(stack(regions=("us-east-1", "eu-west-1"), rules=every_rule_remediating()))
    (dashboard,) = run.of_type(DASHBOARD)
    assert dashboard.inputs["dashboardName"] == "governance-remediation" and dashboard.inputs["region"] == "us-east-1"
    body = json.loads(dashboard.inputs["dashboardBody"])
    titles = [widget["properties"]["title"] for widget in body["widgets"]]
    assert [title.removesuffix(": decisions") for title in titles if title.endswith(": decisions")] == list(CATALOG)
    for key in CATALOG:
        (widget,) = [w for w in body["widgets"] if w["properties"]["title"] == f"{key}: decisions"]
        lines = widget["properties"]["metrics"]
        regions = {line[-1]["region"] for line in lines}
        # Account-level rules run in the first region only.
        assert regions == ({"us-east-1"} if CATALOG[key].scope == "account" else {"us-east-1", "eu-west-1"}), key
        assert {line[line.index("decision") + 1] for line in lines} == set(operations.DASHBOARD_DECISIONS)
        assert all(line[:2] == ["Governance", "Decisions"] and line[line.index("ruleKey") + 1] == key for line in lines)
    logs = [widget for widget in body["widgets"] if widget["type"] == "log"]
    assert [widget["properties"]["region"] for widget in logs] == ["us-east-1", "eu-west-1"]
    assert logs[0]["properties"]["query"].startswith("SOURCE '/aws/lambda/governance-remediation' | filter final = 1 and decision = \"failed\"")
    assert {"Failed decisions and function errors", "Dead-letter queue depth", "Time to remediate (p90, ms)"} <= set(titles)


def test_the_dashboard_follows_the_rules_an_account_remediates() -> None:
    run = run_program(stack(rules={"restricted-admin-ports": {"mode": "auto"}, "vpc-flow-logs": {"mode": "detect"}}))
    body = json.loads(run.of_type(DASHBOARD)[0].inputs["dashboardBody"])
    assert [w["properties"]["title"] for w in body["widgets"] if w["properties"]["title"].endswith(": decisions")] == ["restricted-admin-ports: decisions"]


def test_one_dashboard_per_account_with_only_its_own_regions() -> None:
    config = stack(regions=("us-east-1", "eu-west-1"))
    config["governance:accounts"].append({"id": OTHER, "roleArn": f"arn:aws:iam::{OTHER}:role/deploy", "regions": ["ap-southeast-2"]})
    run = run_program(config)
    dashboards = {resource.name: resource for resource in run.of_type(DASHBOARD)}
    assert set(dashboards) == {f"gov-{ACCOUNT}-dashboard", f"gov-{OTHER}-dashboard"}
    assert f"::aws-{OTHER}::" in dashboards[f"gov-{OTHER}-dashboard"].provider
    other = json.loads(dashboards[f"gov-{OTHER}-dashboard"].inputs["dashboardBody"])
    assert {w["properties"]["region"] for w in other["widgets"] if w["type"] == "log"} == {"ap-southeast-2"}


# --- names the Lambda and the program must agree on ------------------------------------------------------


def test_the_alarms_and_dashboard_read_the_metrics_the_lambda_writes() -> None:
    metrics = lambda_module("metrics")
    audit = lambda_module("audit")
    assert (operations.METRICS_NAMESPACE, operations.DECISIONS_METRIC, operations.TIME_TO_REMEDIATE_METRIC) == (
        metrics.NAMESPACE, metrics.DECISIONS_METRIC, metrics.TIME_TO_REMEDIATE_METRIC,
    )
    assert (operations.FUNCTION_DIMENSION, operations.DECISION_DIMENSION, operations.RULE_DIMENSION) == (
        metrics.FUNCTION_DIMENSION, metrics.DECISION_DIMENSION, metrics.RULE_DIMENSION,
    )
    assert operations.RESULT_DETAIL_TYPE == audit.RESULT_DETAIL_TYPE


@pytest.mark.parametrize("template", [operations.NOTIFICATION_TEMPLATE, operations.CHAT_NOTIFICATION_TEMPLATE], ids=["sentence", "chat"])
def test_the_notification_variables_name_fields_of_the_audit_record(template: str) -> None:
    record = lambda_module("audit").AuditRecord("failed", "why").to_json()
    for path in operations.NOTIFICATION_INPUT_PATHS.values():
        assert path.startswith("$.detail.") and path.removeprefix("$.detail.") in record, path
    assert set(operations.NOTIFICATION_INPUT_PATHS) == set(re.findall(r"<([a-z]+)>", template))


def test_the_chat_format_is_deployed_when_asked_for() -> None:
    run = run_program(stack(notifications={"format": "chat"}))
    transformer = named(run, EVENT_TARGET, "operations-notify").inputs["inputTransformer"]
    assert transformer["inputTemplate"] == operations.CHAT_NOTIFICATION_TEMPLATE


# --- resource budget ---------------------------------------------------------------------------------------

FIXED_BUDGET = 16
"""Resources an account-region holds whatever its rules: the AccountRegion component, the flow-log group,
the Lambda path (7) and operations (7), e-mail subscriptions apart."""


def rule_cost(rule: dict[str, Any], key: str) -> int:
    """Resources one enabled rule adds to an account-region: its Config rule, and its remediation on ssm."""
    engine = rule.get("engine") or CATALOG[key].default_engine
    return 1 + (engine == "ssm")


def most_loaded_bundle(rules: dict[str, Any], **overrides: Any) -> int:
    run = run_program(stack(regions=("us-east-1", "eu-west-1"), rules=rules, **overrides))
    return max(len(run.with_prefix(f"gov-{ACCOUNT}-{region}")) for region in ("us-east-1", "eu-west-1"))


@pytest.mark.parametrize("engine", ["default", "ssm", "lambda"])
def test_the_most_loaded_account_region_stays_within_the_budget(engine: str) -> None:
    rules = every_rule_remediating()
    for key, rule in rules.items():
        if engine == "lambda" or (engine == "ssm" and CATALOG[key].ssm is not None):
            rule["engine"] = engine
    rules["vpc-flow-logs"]["params"] = {"destinationType": "cloud-watch-logs"}
    # The first region holds the account-level rules too, so it is the most loaded one.
    assert most_loaded_bundle(rules) <= FIXED_BUDGET + sum(rule_cost(rule, key) for key, rule in rules.items())
    # Each address is one subscription per region, on top of the budget.
    assert most_loaded_bundle(rules, notifications={"emails": ["a@example.com", "b@example.com"]}) == most_loaded_bundle(rules) + 2


def test_an_ssm_remediation_costs_one_resource_more_than_detection() -> None:
    rules = every_rule_remediating()
    detected = {**rules, "restricted-admin-ports": {"mode": "detect"}}
    assert most_loaded_bundle(rules) - most_loaded_bundle(detected) == 0, "a lambda-engine rule adds nothing but its Config rule"
    rules["s3-bucket-public-access"] = {"mode": "auto", "engine": "ssm"}
    detected = {**rules, "s3-bucket-public-access": {"mode": "detect"}}
    assert most_loaded_bundle(rules) - most_loaded_bundle(detected) == 1, "an ssm remediation is one resource more than detection"


def test_the_limits_check_every_alarm_the_program_creates() -> None:
    from governance.plan import ALARM_KINDS, plan_stack

    (plan,) = plan_stack(settings_of())
    assert tuple(spec.kind for spec in operations.alarm_specs(plan.regions[0], settings_of().operations)) == ALARM_KINDS
