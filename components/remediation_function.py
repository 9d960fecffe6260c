"""The EventBridge -> Lambda path of one account-region: one function for all lambda-engine rules."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import policies
from components.moved import moved_from_component
from governance.lambda_code import LAMBDA_RUNTIME
from governance.plan import DEAD_LETTER_RETENTION_SECONDS, LAMBDA_CONFIG_VARIABLE, RegionPlan
from governance.settings import DeliverySettings

LAMBDA_TIMEOUT_SECONDS = 120
LAMBDA_MEMORY_MB = 256
FORMER_COMPONENT = "governance:index:RemediationFunction"
"""The component these resources were children of before they moved up to the account-region."""


@dataclass(frozen=True)
class RemediationFunctionArgs:
    """Inputs of ``RemediationFunction``."""

    plan: RegionPlan
    """The account-region's plan: event pattern, Lambda config and names."""
    role_arn: pulumi.Input[str]
    """The account's Lambda execution role."""
    code: pulumi.Archive
    """The ``remediation`` package (built once per program run)."""
    handler: str
    """Module path of the entry point inside ``code``."""
    log_retention_days: int
    delivery: DeliverySettings
    event_bus_name: pulumi.Input[str] | None = None
    """The bus whose events feed the function: the account's default bus when ``None`` (organization hub: the members' bus)."""


class RemediationFunction:
    """The remediation Lambda with everything that keeps its events from being lost.

    EventBridge delivers matching events to the function with a retry policy; what it cannot
    deliver goes to the dead-letter queue. Lambda retries failed invocations, then sends them to the
    same queue as its on-failure destination. The log group exists, with retention, before the function.
    The resources are children of ``parent`` (the account-region).
    """

    function_arn: pulumi.Output[str]
    """ARN of the remediation Lambda."""
    function_name: pulumi.Output[str]
    """Name of the remediation Lambda."""
    dead_letter_queue_arn: pulumi.Output[str]
    """ARN of the queue that keeps undeliverable and failed events (and undeliverable notifications)."""
    event_rule_arn: pulumi.Output[str]
    """ARN of the EventBridge rule that feeds the Lambda."""

    def __init__(self, name: str, args: RemediationFunctionArgs, parent: pulumi.Resource) -> None:
        plan, names, region = args.plan, args.plan.names, args.plan.region
        aliases = moved_from_component(parent, name, FORMER_COMPONENT)
        child = pulumi.ResourceOptions(parent=parent, aliases=aliases)
        # A fixed physical name cannot exist twice, so a replacement deletes first (as the bridge would anyway).
        named = pulumi.ResourceOptions(parent=parent, aliases=aliases, delete_before_replace=True)
        # The log group holds the audit trail and the queue the failed events: removing a region or
        # renaming the prefix leaves them in the account instead of deleting their contents.
        keeps_data = pulumi.ResourceOptions(parent=parent, aliases=aliases, delete_before_replace=True, retain_on_delete=True)
        pattern = plan.event_pattern
        assert pattern is not None, "a region gets the function only when it has events to route"

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=names.function_log_group,
            retention_in_days=args.log_retention_days,
            region=region,
            opts=keeps_data,
        )
        event_rule = aws.cloudwatch.EventRule(
            f"{name}-events",
            name=names.event_rule,
            description="Non-compliant evaluations of lambda-engine rules and outcomes of SSM remediations.",
            event_pattern=json.dumps(pattern, sort_keys=True),
            event_bus_name=args.event_bus_name,
            region=region,
            opts=named,
        )
        queue_arn = f"arn:{plan.account.partition}:sqs:{region}:{plan.account.id}:{names.dead_letter_queue}"
        queue = aws.sqs.Queue(
            f"{name}-dlq",
            name=names.dead_letter_queue,
            message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            # The notification rule's undeliverable messages land here too: nothing is lost, and the DLQ alarm says so.
            policy=event_rule.arn.apply(
                lambda rule_arn: json.dumps(policies.dead_letter_queue_policy(queue_arn, [rule_arn, plan.notification_rule_arn]))
            ),
            region=region,
            opts=keeps_data,
        )
        function = aws.lambda_.Function(
            f"{name}-function",
            name=names.function,
            description="Fixes non-compliant resources for governance rules and audits SSM remediations.",
            role=args.role_arn,
            runtime=LAMBDA_RUNTIME,
            handler=args.handler,
            code=args.code,
            timeout=LAMBDA_TIMEOUT_SECONDS,
            memory_size=LAMBDA_MEMORY_MB,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables={LAMBDA_CONFIG_VARIABLE: plan.lambda_config_json()}),
            region=region,
            opts=pulumi.ResourceOptions(parent=parent, aliases=aliases, depends_on=[log_group], delete_before_replace=True),
        )
        aws.cloudwatch.EventTarget(
            f"{name}-target",
            rule=event_rule.name,
            event_bus_name=args.event_bus_name,
            arn=function.arn,
            retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                maximum_retry_attempts=args.delivery.event_retry_attempts,
                maximum_event_age_in_seconds=args.delivery.event_max_age_seconds,
            ),
            dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=queue.arn),
            region=region,
            opts=child,
        )
        aws.lambda_.Permission(
            f"{name}-invoke",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="events.amazonaws.com",
            source_arn=event_rule.arn,
            region=region,
            opts=child,
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-async",
            function_name=function.name,
            maximum_retry_attempts=args.delivery.lambda_retry_attempts,
            maximum_event_age_in_seconds=args.delivery.lambda_max_age_seconds,
            destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(destination=queue.arn),
            ),
            region=region,
            opts=child,
        )

        self.function_arn = function.arn
        self.function_name = function.name
        self.dead_letter_queue_arn = queue.arn
        self.event_rule_arn = event_rule.arn
