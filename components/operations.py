"""Alarms and notifications of one account-region that runs the remediation Lambda.

Four alarms (dead letters, function errors or throttles, failed decisions, runaway remediations)
and one EventBridge rule that turns the result events whose decision notifies into one sentence
each; all go to one SNS topic per region, the stack's own or one the program creates with the
e-mail subscriptions. Nothing here adds code to the Lambda: the alarms read the metrics it already
logs and the rule reads the result events it already publishes. What each resource holds comes
from ``governance.operations``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from governance import operations
from governance.plan import RegionPlan
from governance.settings import DeliverySettings, OperationsSettings


@dataclass(frozen=True)
class OperationsArgs:
    """Inputs of ``Operations``."""

    plan: RegionPlan
    settings: OperationsSettings
    delivery: DeliverySettings
    """Retries of the notification target, as for the Lambda's."""
    dead_letter_queue_arn: pulumi.Input[str]
    """Where notifications EventBridge cannot deliver are kept."""


class Operations:
    """The account-region's notification topic, alarms and notification rule, as children of ``parent``."""

    topic_arn: pulumi.Input[str]
    """Where alarms and notifications go in this region."""

    def __init__(self, name: str, args: OperationsArgs, parent: pulumi.Resource) -> None:
        plan, settings, region = args.plan, args.settings, args.plan.region
        account, partition, names = plan.account.id, plan.account.partition, plan.names
        child = pulumi.ResourceOptions(parent=parent)
        rule_arn = plan.notification_rule_arn
        existing = settings.topic_arns.get(region)
        if existing is not None:
            self.topic_arn = existing
        else:
            topic_arn = f"arn:{partition}:sns:{region}:{account}:{names.notification_topic}"
            topic = aws.sns.Topic(
                f"{name}-topic",
                name=names.notification_topic,
                display_name="governance",
                policy=json.dumps(operations.topic_policy(topic_arn, plan, rule_arn), sort_keys=True),
                region=region,
                opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=True),
            )
            self.topic_arn = topic.arn
            for email in settings.emails:
                aws.sns.TopicSubscription(
                    f"{name}-email-{email}",
                    topic=topic.arn,
                    protocol="email",
                    endpoint=email,
                    region=region,
                    opts=child,
                )
        for spec in operations.alarm_specs(plan, settings):
            self._alarm(name, spec, region, parent)
        pattern = operations.notification_pattern(settings, plan.function_arn)
        if pattern is not None:
            self._notifications(name, args, pattern, parent)

    def _notifications(self, name: str, args: OperationsArgs, pattern: dict[str, object], parent: pulumi.Resource) -> None:
        region = args.plan.region
        rule = aws.cloudwatch.EventRule(
            f"{name}-notifications",
            name=args.plan.names.notification_rule,
            description="Result events whose decision notifies, sent to the topic as one message each.",
            event_pattern=json.dumps(pattern, sort_keys=True),
            region=region,
            opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=True),
        )
        aws.cloudwatch.EventTarget(
            f"{name}-notify",
            rule=rule.name,
            arn=self.topic_arn,
            input_transformer=aws.cloudwatch.EventTargetInputTransformerArgs(
                input_paths=operations.NOTIFICATION_INPUT_PATHS,
                input_template=operations.notification_template(args.settings),
            ),
            retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                maximum_retry_attempts=args.delivery.event_retry_attempts,
                maximum_event_age_in_seconds=args.delivery.event_max_age_seconds,
            ),
            dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=args.dead_letter_queue_arn),
            region=region,
            opts=pulumi.ResourceOptions(parent=parent),
        )

    def _alarm(self, name: str, spec: operations.AlarmSpec, region: str, parent: pulumi.Resource) -> None:
        single = spec.metrics[0] if spec.expression is None else None
        queries = None
        if spec.expression is not None:
            queries = [
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id=metric.id,
                    return_data=False,
                    metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                        namespace=metric.namespace,
                        metric_name=metric.name,
                        dimensions=metric.dimensions,
                        stat=metric.statistic,
                        period=spec.period_seconds,
                    ),
                )
                for metric in spec.metrics
            ]
            queries.append(aws.cloudwatch.MetricAlarmMetricQueryArgs(id="total", expression=spec.expression, label=spec.name, return_data=True))
        aws.cloudwatch.MetricAlarm(
            f"{name}-alarm-{spec.kind}",
            name=spec.name,
            alarm_description=spec.description,
            comparison_operator="GreaterThanThreshold",
            threshold=spec.threshold,
            evaluation_periods=1,
            treat_missing_data="notBreaching",
            namespace=single.namespace if single else None,
            metric_name=single.name if single else None,
            dimensions=single.dimensions if single else None,
            statistic=single.statistic if single else None,
            period=spec.period_seconds if single else None,
            metric_queries=queries,
            alarm_actions=[self.topic_arn],
            ok_actions=[self.topic_arn],
            region=region,
            opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=True),
        )

