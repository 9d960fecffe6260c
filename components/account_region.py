"""Everything the program deploys in one account and region."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.account_roles import AccountRoles
from components.config_rules import ConfigRules, ConfigRulesArgs
from components.operations import Operations, OperationsArgs
from components.remediation_function import RemediationFunction, RemediationFunctionArgs
from governance.plan import RegionPlan
from governance.settings import Settings


@dataclass(frozen=True)
class AccountRegionArgs:
    """Inputs of ``AccountRegion``."""

    plan: RegionPlan
    """What this account-region deploys."""
    settings: Settings
    """Stack-wide settings (remediation controls, delivery retries, log retention, alarms and notifications)."""
    roles: AccountRoles
    """The account's roles, created once per account."""
    code: pulumi.Archive
    """The remediation Lambda's package."""
    handler: str
    """Entry point inside ``code``."""


class AccountRegion(pulumi.ComponentResource):
    """The bundle for one account-region.

    It holds the Config rules with their SSM remediations, the flow-log group when flow logs go to
    CloudWatch Logs, and, when any rule remediates, the remediation Lambda with its alarms and
    notifications. Every resource is a direct child (no nested components: each would count against
    the account-region's resources), takes ``region=`` and inherits the account's provider.
    """

    rule_names: pulumi.Output[list[str]]
    """Names of the Config rules deployed here."""
    function_arn: pulumi.Output[str] | None
    """The remediation Lambda's ARN, when this account-region runs it."""

    def __init__(self, name: str, args: AccountRegionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("governance:index:AccountRegion", name, None, opts)
        plan, settings, roles = args.plan, args.settings, args.roles

        flow_logs_group_arn: pulumi.Output[str] | None = None
        if plan.flow_logs_log_group:
            flow_logs_group = aws.cloudwatch.LogGroup(
                f"{name}-flow-logs",
                name=plan.flow_logs_log_group,
                retention_in_days=settings.log_retention_days,
                region=plan.region,
                # Flow logs already delivered stay when the region or the rule goes away.
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True, retain_on_delete=True),
            )
            flow_logs_group_arn = flow_logs_group.arn

        rules = ConfigRules(
            f"{name}-rules",
            ConfigRulesArgs(
                plan=plan,
                controls=settings.remediation,
                ssm_role_arn=roles.ssm_role_arn,
                flow_logs_role_arn=roles.flow_logs_role_arn,
                flow_logs_log_group_arn=flow_logs_group_arn,
            ),
            parent=self,
        )
        self.rule_names = rules.rule_names

        self.function_arn = None
        if plan.needs_function:
            assert roles.lambda_role_arn is not None, "the account plan creates the Lambda role whenever a region needs it"
            function = RemediationFunction(
                f"{name}-remediation",
                RemediationFunctionArgs(
                    plan=plan,
                    role_arn=roles.lambda_role_arn,
                    code=args.code,
                    handler=args.handler,
                    log_retention_days=settings.log_retention_days,
                    delivery=settings.delivery,
                ),
                parent=self,
            )
            self.function_arn = function.function_arn
            Operations(
                f"{name}-operations",
                OperationsArgs(
                    plan=plan, settings=settings.operations, delivery=settings.delivery, dead_letter_queue_arn=function.dead_letter_queue_arn
                ),
                parent=self,
            )

        self.register_outputs({"ruleNames": self.rule_names, "functionArn": self.function_arn})
