"""The program's AWS Config rules in one account-region, each with its SSM remediation when it has one."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.moved import moved_from_component
from governance.catalog import SsmContext
from governance.plan import RegionPlan, remediation_parameters
from governance.settings import RemediationControls, RuleSettings

FORMER_COMPONENT = "governance:index:ConfigRules"
"""The component these resources were children of before they moved up to the account-region."""


@dataclass(frozen=True)
class ConfigRulesArgs:
    """Inputs of ``ConfigRules``."""

    plan: RegionPlan
    """The account-region's plan: which rules to deploy and with which engine."""
    controls: RemediationControls
    """Retry and rate controls for SSM remediations."""
    ssm_role_arn: pulumi.Input[str] | None
    """AutomationAssumeRole passed to every runbook (required when any rule uses the ssm engine)."""
    flow_logs_role_arn: pulumi.Input[str] | None = None
    """Delivery role for flow logs to CloudWatch Logs, when the flow-log runbook needs it."""
    flow_logs_log_group_arn: pulumi.Input[str] | None = None
    """Destination log group for flow logs, when the flow-log runbook needs it."""


def rule_tags(rule: RuleSettings, protected_rules: frozenset[str]) -> dict[str, str]:
    """Tags that let reviewers and the policy pack see a rule's key, mode, engine and protection."""
    return {
        "governance:rule": rule.key,
        "governance:mode": rule.mode,
        "governance:engine": rule.engine,
        "governance:protected": "true" if rule.key in protected_rules else "false",
    }


class ConfigRules:
    """One Config rule per enabled rule whose source is ``own``, and a ``RemediationConfiguration`` per ssm-engine rule.

    ``manual`` deploys the remediation with ``Automatic=false`` (a person starts it from the console's
    Remediate button or ``aws configservice start-remediation-execution``); ``auto`` runs it automatically.
    Rules whose source is ``securityhub`` deploy nothing here: the Lambda acts on Security Hub's rule.
    The resources are children of ``parent`` (the account-region); no component of their own keeps
    the account-region's resource count down.
    """

    rule_names: pulumi.Output[list[str]]
    """Names of the Config rules deployed here."""

    def __init__(self, name: str, args: ConfigRulesArgs, parent: pulumi.Resource) -> None:
        self._parent = parent
        self._aliases = moved_from_component(parent, name, FORMER_COMPONENT)
        plan = args.plan
        names: list[pulumi.Output[str]] = []
        for rule in plan.own_config_rules:
            config_rule = self._config_rule(name, plan, rule)
            names.append(config_rule.name)
            if rule.uses_ssm:
                self._remediation(name, args, rule, config_rule)
        self.rule_names = pulumi.Output.all(*names).apply(list)

    def _config_rule(self, name: str, plan: RegionPlan, rule: RuleSettings) -> aws.cfg.Rule:
        spec = rule.entry.config_rule
        return aws.cfg.Rule(
            f"{name}-{rule.key}",
            name=plan.names.config_rule(rule),
            description=f"{rule.entry.title} ({rule.mode}, {rule.engine if rule.remediates else 'no'} remediation).",
            source=aws.cfg.RuleSourceArgs(owner="AWS", source_identifier=spec.identifier),
            scope=aws.cfg.RuleScopeArgs(compliance_resource_types=list(spec.scope_resource_types)) if spec.scope_resource_types else None,
            # The plan's own value, the one it checked against the limits.
            input_parameters=plan.config_rule_input_parameters(rule),
            tags=rule_tags(rule, plan.protected_rules),
            region=plan.region,
            # A rule name exists once per region: a replacement must delete the old rule first.
            opts=pulumi.ResourceOptions(parent=self._parent, aliases=self._aliases, delete_before_replace=True),
        )

    def _remediation(self, name: str, args: ConfigRulesArgs, rule: RuleSettings, config_rule: aws.cfg.Rule) -> None:
        runbook = rule.entry.ssm
        assert runbook is not None and args.ssm_role_arn is not None, "settings only allow ssm for rules with a runbook"
        plan, controls = args.plan, args.controls
        context = SsmContext(
            account_id=plan.account.id,
            region=plan.region,
            partition=plan.account.partition,
            flow_logs_role_arn=args.flow_logs_role_arn,
            flow_logs_log_group_arn=args.flow_logs_log_group_arn,
        )
        # The plan sorts them by name, as the provider stores them; another order shows a diff on every preview.
        parameters = [
            aws.cfg.RemediationConfigurationParameterArgs(
                name=parameter.name, static_value=parameter.static_value, resource_value=parameter.resource_value
            )
            for parameter in remediation_parameters(rule, context, args.ssm_role_arn)
        ]
        evaluated = rule.entry.config_rule.evaluated_resource_types
        aws.cfg.RemediationConfiguration(
            f"{name}-{rule.key}-remediation",
            config_rule_name=config_rule.name,
            target_type="SSM_DOCUMENT",
            target_id=runbook.document,
            parameters=parameters,
            resource_type=evaluated[0] if rule.entry.scope == "region" else None,
            automatic=rule.mode == "auto",
            maximum_automatic_attempts=controls.maximum_automatic_attempts,
            retry_attempt_seconds=controls.retry_attempt_seconds,
            execution_controls=aws.cfg.RemediationConfigurationExecutionControlsArgs(
                ssm_controls=aws.cfg.RemediationConfigurationExecutionControlsSsmControlsArgs(
                    concurrent_execution_rate_percentage=controls.concurrent_execution_rate_percentage,
                    error_percentage=controls.error_percentage,
                )
            ),
            region=plan.region,
            opts=pulumi.ResourceOptions(parent=self._parent, aliases=self._aliases),
        )
