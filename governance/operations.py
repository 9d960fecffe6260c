"""What operating a deployment needs, as plain data: alarms, the notification rule and the dashboard.

The components turn these into resources; tests and the docs read them directly. Everything hangs
off the plan and the catalog: a rule added to the catalog appears on the dashboard without an edit
here. The metric names are the ones the Lambda writes in Embedded Metric Format
(``lambdas/remediation/metrics.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from governance.catalog import CATALOG
from governance.plan import RESULT_EVENT_SOURCE, AccountPlan, RegionPlan
from governance.settings import OperationsSettings

METRICS_NAMESPACE = "Governance"
DECISIONS_METRIC = "Decisions"
TIME_TO_REMEDIATE_METRIC = "TimeToRemediate"
FUNCTION_DIMENSION, DECISION_DIMENSION, RULE_DIMENSION = "function", "decision", "ruleKey"
RESULT_DETAIL_TYPE = "Governance Remediation Result"
DASHBOARD_DECISIONS = ("remediated", "failed", "exempt", "dry_run", "already_compliant")
"""Decisions drawn per rule on the dashboard (info-level ignores are not counted by the Lambda)."""
ALARM_PERIOD_SECONDS = 300
"""Five minutes: the DLQ, error and failure alarms look at each five-minute window."""
LATEST_FAILURES = 20


@dataclass(frozen=True)
class MetricQuery:
    """One metric an alarm reads: namespace, name, dimensions and statistic."""

    id: str
    namespace: str
    name: str
    dimensions: dict[str, str]
    statistic: str


@dataclass(frozen=True)
class AlarmSpec:
    """One CloudWatch alarm: a metric (or the sum of several) above a threshold in one period."""

    kind: str
    """What it watches: ``dead-letters``, ``function-errors``, ``failed-remediations``, ``runaway-remediations``."""
    name: str
    description: str
    metrics: tuple[MetricQuery, ...]
    threshold: float
    period_seconds: int

    @property
    def expression(self) -> str | None:
        """Metric math summing the metrics (missing points count as 0), when there is more than one."""
        if len(self.metrics) == 1:
            return None
        return " + ".join(f"FILL({metric.id}, 0)" for metric in self.metrics)


def alarm_specs(plan: RegionPlan, operations: OperationsSettings) -> tuple[AlarmSpec, ...]:
    """The four alarms of an account-region that runs the Lambda, all to its notification topic.

    Each fires on a value above its threshold in one period and treats missing data as fine: a quiet
    deployment sends no data at all.
    """
    names, function = plan.names, plan.names.function

    def decisions(decision: str, statistic: str = "Sum") -> MetricQuery:
        dimensions = {FUNCTION_DIMENSION: function, DECISION_DIMENSION: decision}
        return MetricQuery("decisions", METRICS_NAMESPACE, DECISIONS_METRIC, dimensions, statistic)

    runaway_seconds = operations.runaway_period_minutes * 60
    return (
        AlarmSpec(
            "dead-letters",
            names.alarm("dead-letters"),
            f"Events wait in {names.dead_letter_queue}: EventBridge or Lambda gave up on them. Inspect and replay them.",
            (MetricQuery("visible", "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": names.dead_letter_queue}, "Maximum"),),
            0,
            ALARM_PERIOD_SECONDS,
        ),
        AlarmSpec(
            "function-errors",
            names.alarm("function-errors"),
            f"{function} raised errors or was throttled; events are being retried and may reach the dead-letter queue.",
            (
                MetricQuery("errors", "AWS/Lambda", "Errors", {"FunctionName": function}, "Sum"),
                MetricQuery("throttles", "AWS/Lambda", "Throttles", {"FunctionName": function}, "Sum"),
            ),
            0,
            ALARM_PERIOD_SECONDS,
        ),
        AlarmSpec(
            "failed-remediations",
            names.alarm("failed-remediations"),
            f"{function} decided 'failed' for at least one resource: it is still non-compliant. See the audit records.",
            (decisions("failed"),),
            0,
            ALARM_PERIOD_SECONDS,
        ),
        AlarmSpec(
            "runaway-remediations",
            names.alarm("runaway-remediations"),
            f"{function} remediated more than {operations.runaway_remediations} resources in "
            f"{operations.runaway_period_minutes} minutes: check that a fix is not fighting another tool.",
            (decisions("remediated"),),
            operations.runaway_remediations,
            runaway_seconds,
        ),
    )


NOTIFICATION_INPUT_PATHS = {
    "decision": "$.detail.decision",
    "rule": "$.detail.ruleKey",
    "resource": "$.detail.resourceId",
    "account": "$.detail.account",
    "region": "$.detail.region",
    "reason": "$.detail.reason",
    "record": "$.detail.recordId",
}
"""Input transformer variables read from a result event (its ``detail`` is the audit record)."""
NOTIFICATION_TEMPLATE = '"Governance <decision>: <rule> on <resource> in account <account>, <region>. <reason> (record <record>)"'
"""One readable sentence (format ``sentence``). A quoted template makes the target receive a JSON string;
EventBridge escapes the variables' values inside it (its docs say only the predefined whole-event
variables are left unescaped)."""
CHAT_NOTIFICATION_TEMPLATE = (
    '{"version": "1.0", "source": "custom", "id": "<record>", "content": {"textType": "client-markdown", '
    '"title": "Governance <decision>: <rule>", "description": "<resource> in account <account>, <region>. <reason> (record <record>)"}}'
)
"""The same facts as an Amazon Q Developer in chat applications (formerly AWS Chatbot) custom notification
(format ``chat``): that service posts only messages in its own schema (version, source, content) to
Slack, Microsoft Teams or Chime, and drops plain text."""


def notification_template(operations: OperationsSettings) -> str:
    """The input template for the stack's notification format."""
    return CHAT_NOTIFICATION_TEMPLATE if operations.format == "chat" else NOTIFICATION_TEMPLATE


def notification_pattern(operations: OperationsSettings, function_arn: str) -> dict[str, Any] | None:
    """EventBridge pattern for the result events of ``function_arn`` whose decision notifies; None when none does.

    ``remediated`` notifies only for rules in ``auto`` mode: in ``manual`` mode a person started the
    fix and already knows. The function's ARN (the events' ``resources``) keeps another deployment in
    the same account and region from notifying here.
    """
    base: dict[str, Any] = {"source": [RESULT_EVENT_SOURCE], "detail-type": [RESULT_DETAIL_TYPE], "resources": [function_arn]}
    others = [decision for decision in operations.decisions if decision != "remediated"]
    branches = [{**base, "detail": {"decision": others}}] if others else []
    if "remediated" in operations.decisions:
        branches.append({**base, "detail": {"decision": ["remediated"], "mode": ["auto"]}})
    if not branches:
        return None
    return branches[0] if len(branches) == 1 else {"$or": branches}


def topic_policy(topic_arn: str, plan: RegionPlan, notification_rule_arn: str) -> dict[str, Any]:
    """The program's topic policy: this account's alarms and notification rule may publish, nobody else."""
    account, partition, region = plan.account.id, plan.account.partition, plan.region
    alarms = f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{plan.names.prefix}*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"ArnLike": {"aws:SourceArn": alarms}, "StringEquals": {"aws:SourceAccount": account}},
            },
            {
                "Sid": "NotificationRulePublishes",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": notification_rule_arn}},
            },
        ],
    }


def dashboard_rules(plan: AccountPlan) -> tuple[str, ...]:
    """Rule keys drawn on an account's dashboard: every catalog rule the account remediates, in catalog order."""
    remediated = {rule.key for rule in plan.account.rules if rule.remediates}
    return tuple(key for key in CATALOG if key in remediated)


def dashboard_body(plan: AccountPlan) -> dict[str, Any]:
    """The account's dashboard: decisions per rule, failures, dead letters, time to remediate, latest failures.

    One row of graphs for the account, each line labelled with its region; a Logs Insights table of
    the latest failed records per region. Regions without the Lambda have nothing to draw.
    """
    regions = [region for region in plan.regions if region.needs_function]
    home = plan.account.home_region
    widgets: list[dict[str, Any]] = []

    def graph(title: str, metrics: list[list[Any]], stat: str = "Sum", width: int = 12) -> None:
        widgets.append({
            "type": "metric",
            "width": width,
            "height": 6,
            "properties": {"title": title, "region": home, "view": "timeSeries", "stat": stat, "period": 300, "metrics": metrics},
        })

    def decision_line(region: RegionPlan, decision: str, rule: str | None) -> list[Any]:
        dimensions: list[str] = [FUNCTION_DIMENSION, region.names.function]
        if rule is not None:
            dimensions += [RULE_DIMENSION, rule]
        label = f"{decision} ({region.region})"
        return [METRICS_NAMESPACE, DECISIONS_METRIC, *dimensions, DECISION_DIMENSION, decision, {"region": region.region, "label": label}]

    graph("Failed decisions and function errors", [
        line
        for region in regions
        for line in (
            decision_line(region, "failed", None),
            ["AWS/Lambda", "Errors", "FunctionName", region.names.function, {"region": region.region, "label": f"errors ({region.region})"}],
        )
    ])
    graph("Dead-letter queue depth", [
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", region.names.dead_letter_queue,
         {"region": region.region, "label": region.region}]
        for region in regions
    ], stat="Maximum")
    graph("Time to remediate (p90, ms)", [
        [METRICS_NAMESPACE, TIME_TO_REMEDIATE_METRIC, FUNCTION_DIMENSION, region.names.function, DECISION_DIMENSION, "remediated",
         {"region": region.region, "label": region.region}]
        for region in regions
    ], stat="p90")
    for rule in dashboard_rules(plan):
        lines = [
            decision_line(region, decision, rule)
            for region in regions
            if any(setting.key == rule and setting.remediates for setting in region.rules)
            for decision in DASHBOARD_DECISIONS
        ]
        if lines:
            graph(f"{rule}: decisions", lines, width=8)
    for region in regions:
        widgets.append({
            "type": "log",
            "width": 24,
            "height": 6,
            "properties": {
                "title": f"Latest failed records ({region.region})",
                "region": region.region,
                "view": "table",
                "query": failed_records_query(region.names.function_log_group),
            },
        })
    return {"widgets": widgets}


def failed_records_query(log_group: str) -> str:
    """Logs Insights query of a log widget: the latest failed final records of one function."""
    # UNVERIFIED: Logs Insights indexes JSON booleans as 1 and 0, so final records match final = 1 (a
    # maintainers' reply in aws-powertools/powertools-lambda-dotnet#667, not an AWS page).
    return (
        f"SOURCE '{log_group}' | filter final = 1 and decision = \"failed\""
        " | fields @timestamp, ruleKey, resourceId, reason, recordId"
        f" | sort @timestamp desc | limit {LATEST_FAILURES}"
    )
