"""Account-level IAM roles: created once per account, because IAM is global."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import policies
from components.log_buckets import RoleGrants, split_grants
from governance.lambda_code import fixer_iam_actions
from governance.plan import AccountPlan


@dataclass(frozen=True)
class AccountRolesArgs:
    """Inputs of ``AccountRoles``."""

    plan: AccountPlan
    """The account's plan: which engines its rules use decides which roles exist."""


def ssm_grants(plan: AccountPlan) -> RoleGrants:
    """The automation role's rights: every SSM remediation's runbook actions, log buckets apart."""
    rules = [(rule, rule.entry.ssm.iam_actions) for region in plan.regions for rule in region.ssm_rules if rule.entry.ssm]
    return split_grants(rules)


def lambda_grants(plan: AccountPlan) -> RoleGrants:
    """The Lambda role's rights: what its fixers declare, log buckets apart, plus the handler's own actions."""
    rules = [(rule, fixer_iam_actions(rule.key)) for region in plan.regions for rule in region.lambda_rules]
    return split_grants(rules, extra=plan.handler_actions)


class AccountRoles(pulumi.ComponentResource):
    """The SSM automation role, the Lambda execution role and the flow-log delivery role of one account.

    A role exists only when an enabled rule of the account needs it, and its inline policy holds
    exactly the actions those rules need. A rule in ``detect`` or ``off`` mode grants nothing.
    """

    ssm_role_arn: pulumi.Output[str] | None
    """ARN of the AutomationAssumeRole, when any rule uses the ssm engine."""
    lambda_role_arn: pulumi.Output[str] | None
    """ARN of the remediation Lambda's execution role, when any region runs the Lambda."""
    flow_logs_role_arn: pulumi.Output[str] | None
    """ARN of the role VPC Flow Logs uses to write to CloudWatch Logs, when needed."""

    def __init__(self, name: str, args: AccountRolesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("governance:index:AccountRoles", name, None, opts)
        plan = args.plan
        account, names = plan.account, plan.names
        self.ssm_role_arn = None
        self.lambda_role_arn = None
        self.flow_logs_role_arn = None

        if plan.needs_ssm_role:
            self.ssm_role_arn = self._role(
                f"{name}-ssm-automation",
                names.ssm_role,
                "Assumed by SSM Automation to run Config remediations.",
                policies.ssm_trust_policy(account),
                policies.ssm_role_policy(account, names, ssm_grants(plan)),
            )
        if plan.needs_lambda_role:
            self.lambda_role_arn = self._role(
                f"{name}-remediation-lambda",
                names.lambda_role,
                "Execution role of the remediation Lambda.",
                policies.lambda_trust_policy(account),
                policies.lambda_role_policy(account, names, lambda_grants(plan)),
            )
        if plan.needs_flow_logs_role:
            log_groups = tuple(sorted({group for region in plan.regions if (group := region.flow_logs_log_group)}))
            self.flow_logs_role_arn = self._role(
                f"{name}-flow-logs-delivery",
                names.flow_logs_role,
                "Lets VPC Flow Logs write to the program's flow-log groups.",
                policies.flow_logs_trust_policy(account),
                policies.flow_logs_role_policy(account, log_groups),
            )

        self.register_outputs({
            "ssmRoleArn": self.ssm_role_arn,
            "lambdaRoleArn": self.lambda_role_arn,
            "flowLogsRoleArn": self.flow_logs_role_arn,
        })

    def _role(
        self,
        logical_name: str,
        role_name: str,
        description: str,
        trust: policies.Document,
        policy: policies.Document,
    ) -> pulumi.Output[str]:
        role = aws.iam.Role(
            logical_name,
            name=role_name,
            description=description,
            assume_role_policy=json.dumps(trust),
            # A role name exists once per account: a replacement must delete the old role first.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        attached = aws.iam.RolePolicy(
            f"{logical_name}-policy",
            role=role.id,
            policy=json.dumps(policy),
            opts=pulumi.ResourceOptions(parent=role),
        )
        # Hand out the ARN only once the policy is attached, so nothing uses a role without its rights.
        return pulumi.Output.all(role.arn, attached.id).apply(lambda values: str(values[0]))
