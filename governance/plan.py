"""What to deploy, derived from ``Settings`` without Pulumi: names, event patterns, Lambda config, IAM.

The components only wire these values into resources, so everything here is plain data that tests,
the benchmark and the operator CLI can inspect. Physical names are fixed by the rule-name prefix so
that ARNs are predictable (the Lambda's config refers to the flow-log delivery role by ARN).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from governance.catalog import VPC_FLOW_LOGS, needs_flow_logs_plumbing
from governance.lambda_code import fixer_iam_actions, handler_iam_actions
from governance.settings import Account, ConfigError, RuleSettings, Settings

LAMBDA_CONFIG_VARIABLE = "GOVERNANCE_CONFIG"
RESULT_EVENT_SOURCE = "governance.remediation"
EVENT_PATTERN_MAX_CHARS = 4096
"""EventBridge's limit on an event pattern (botocore: EventPattern max 4096)."""
LAMBDA_ENVIRONMENT_MAX_BYTES = 4096
"""Lambda's limit on all environment variables of a function together."""
TERMINAL_AUTOMATION_STATUSES = (
    "Success", "Failed", "TimedOut", "Cancelled", "CompletedWithSuccess", "CompletedWithFailure", "Exited", "Rejected",
)
"""Automation statuses after which an execution changes nothing more (SSM AutomationExecutionStatus)."""


@dataclass(frozen=True)
class Names:
    """Physical names, all derived from the stack's rule-name prefix."""

    prefix: str

    def config_rule(self, rule: RuleSettings) -> str:
        """Name of the program's own Config rule for ``rule``."""
        return f"{self.prefix}{rule.key}"

    @property
    def function(self) -> str:
        """The remediation Lambda (one per account and region)."""
        return f"{self.prefix}remediation"

    @property
    def function_log_group(self) -> str:
        """The Lambda's log group, created with retention before the function."""
        return f"/aws/lambda/{self.function}"

    @property
    def dead_letter_queue(self) -> str:
        """Queue keeping events that EventBridge or Lambda could not deliver or process."""
        return f"{self.prefix}remediation-dlq"

    @property
    def event_rule(self) -> str:
        """EventBridge rule routing compliance and automation events to the Lambda."""
        return f"{self.prefix}remediation-events"

    @property
    def ssm_role(self) -> str:
        """The SSM AutomationAssumeRole (one per account)."""
        return f"{self.prefix}ssm-automation"

    @property
    def lambda_role(self) -> str:
        """The Lambda execution role (one per account)."""
        return f"{self.prefix}remediation-lambda"

    @property
    def flow_logs_role(self) -> str:
        """The role VPC Flow Logs assumes to write to CloudWatch Logs (one per account)."""
        return f"{self.prefix}flow-logs-delivery"


def role_arn(account: Account, role_name: str) -> str:
    """ARN of a role the program creates in ``account``."""
    return f"arn:{account.partition}:iam::{account.id}:role/{role_name}"


@dataclass(frozen=True)
class RegionPlan:
    """What one account-region bundle deploys."""

    account: Account
    region: str
    names: Names
    rules: tuple[RuleSettings, ...]
    exemption_tag: str
    securityhub_updates: bool
    protected_rules: frozenset[str] = frozenset()

    @property
    def own_config_rules(self) -> tuple[RuleSettings, ...]:
        """Rules for which the program deploys its own Config rule here."""
        return tuple(rule for rule in self.rules if rule.deploys_config_rule)

    @property
    def ssm_rules(self) -> tuple[RuleSettings, ...]:
        """Rules remediated by Config + SSM Automation here."""
        return tuple(rule for rule in self.rules if rule.uses_ssm)

    @property
    def lambda_rules(self) -> tuple[RuleSettings, ...]:
        """Rules remediated by the Lambda here."""
        return tuple(rule for rule in self.rules if rule.uses_lambda)

    @property
    def needs_function(self) -> bool:
        """The Lambda fixes lambda-engine rules and audits SSM executions, so either needs it."""
        return bool(self.lambda_rules or self.ssm_rules)

    @property
    def flow_logs_log_group(self) -> str | None:
        """Log group for VPC flow logs, when a flow-log remediation here writes to CloudWatch Logs."""
        for rule in self.rules:
            if rule.key == VPC_FLOW_LOGS.key and rule.remediates and needs_flow_logs_plumbing(rule.params):
                return str(rule.params["logGroupName"])
        return None

    def flow_logs_log_group_arn(self) -> str | None:
        """ARN of ``flow_logs_log_group`` (what flow logs and the runbook take as destination)."""
        name = self.flow_logs_log_group
        if name is None:
            return None
        return f"arn:{self.account.partition}:logs:{self.region}:{self.account.id}:log-group:{name}"

    @cached_property
    def event_pattern(self) -> dict[str, Any] | None:
        """EventBridge pattern for the Lambda: NON_COMPLIANT changes of its rules, SSM outcomes of the others."""
        patterns: list[dict[str, Any]] = []
        names: list[Any] = sorted(self.names.config_rule(rule) for rule in self.lambda_rules if rule.source == "own")
        prefixes = sorted(
            prefix
            for rule in self.lambda_rules
            if rule.source == "securityhub"
            for prefix in rule.entry.securityhub_rule_prefixes(rule.params)
        )
        names.extend({"prefix": prefix} for prefix in prefixes)
        if names:
            patterns.append({
                "source": ["aws.config"],
                "detail-type": ["Config Rules Compliance Change"],
                "detail": {
                    "messageType": ["ComplianceChangeNotification"],
                    "configRuleName": names,
                    "newEvaluationResult": {"complianceType": ["NON_COMPLIANT"]},
                },
            })
        documents = sorted({rule.entry.ssm.document for rule in self.ssm_rules if rule.entry.ssm})
        if documents:
            patterns.append({
                "source": ["aws.ssm"],
                "detail-type": ["EC2 Automation Execution Status-change Notification"],
                "detail": {"Definition": documents, "Status": list(TERMINAL_AUTOMATION_STATUSES)},
            })
        if not patterns:
            return None
        # One rule for both kinds keeps the bundle small; EventBridge expands "$or" into sub-patterns.
        return patterns[0] if len(patterns) == 1 else {"$or": patterns}

    def lambda_params(self, rule: RuleSettings) -> dict[str, Any]:
        """A rule's params as the Lambda receives them, plus what the program resolved for it."""
        params = dict(rule.params)
        if rule.key == VPC_FLOW_LOGS.key and needs_flow_logs_plumbing(rule.params):
            params["deliverLogsRoleArn"] = role_arn(self.account, self.names.flow_logs_role)
        return params

    @cached_property
    def lambda_config(self) -> dict[str, Any]:
        """The JSON document the Lambda reads from ``GOVERNANCE_CONFIG``."""
        rules: dict[str, Any] = {}
        prefixes: dict[str, Any] = {}
        for rule in self.lambda_rules:
            settings = {"key": rule.key, "mode": rule.mode, "params": self.lambda_params(rule)}
            if rule.source == "own":
                rules[self.names.config_rule(rule)] = settings
            else:
                for prefix in rule.entry.securityhub_rule_prefixes(rule.params):
                    prefixes[prefix] = settings
        runbooks = {
            rule.entry.ssm.document: {
                "key": rule.key,
                "mode": rule.mode,
                "resourceParameter": rule.entry.ssm.resource_id_parameter,
            }
            for rule in self.ssm_rules
            if rule.entry.ssm
        }
        return {
            "version": 1,
            "exemptionTag": self.exemption_tag,
            "securityHubUpdates": self.securityhub_updates,
            "resultEventSource": RESULT_EVENT_SOURCE,
            "rules": rules,
            "rulePrefixes": prefixes,
            "ssmRunbooks": runbooks,
            "protectedRules": sorted(self.protected_rules),
        }

    def lambda_config_json(self) -> str:
        """``lambda_config`` serialised compactly and deterministically."""
        return json.dumps(self.lambda_config, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class AccountPlan:
    """What one account deploys: global roles plus one bundle per region."""

    account: Account
    names: Names
    regions: tuple[RegionPlan, ...]
    securityhub_updates: bool

    @property
    def ssm_actions(self) -> tuple[str, ...]:
        """Actions the SSM automation role needs: the union over the account's SSM remediations."""
        return tuple(sorted({action for region in self.regions for rule in region.ssm_rules if rule.entry.ssm for action in rule.entry.ssm.iam_actions}))

    @property
    def fixer_actions(self) -> tuple[str, ...]:
        """Actions the Lambda's fixers call: the union over the account's lambda-engine rules."""
        return tuple(sorted({action for region in self.regions for rule in region.lambda_rules for action in fixer_iam_actions(rule.key)}))

    @property
    def handler_actions(self) -> tuple[str, ...]:
        """Actions the handler itself needs besides logging, the queue and the event bus."""
        return handler_iam_actions(
            audits_ssm=any(region.ssm_rules for region in self.regions),
            updates_securityhub=self.securityhub_updates,
        )

    @property
    def needs_ssm_role(self) -> bool:
        """Whether any rule of the account uses the SSM engine."""
        return any(region.ssm_rules for region in self.regions)

    @property
    def needs_lambda_role(self) -> bool:
        """Whether any region of the account runs the remediation Lambda."""
        return any(region.needs_function for region in self.regions)

    @property
    def needs_flow_logs_role(self) -> bool:
        """Whether flow logs are remediated to CloudWatch Logs somewhere in the account."""
        return any(region.flow_logs_log_group for region in self.regions)


def plan_account(settings: Settings, account: Account) -> AccountPlan:
    """Derive one account's plan."""
    names = Names(settings.rule_name_prefix)
    regions = tuple(
        RegionPlan(
            account=account,
            region=region,
            names=names,
            rules=account.rules_in(region),
            exemption_tag=settings.exemption_tag,
            securityhub_updates=settings.securityhub_updates,
            protected_rules=settings.protected_rules,
        )
        for region in account.regions
    )
    return AccountPlan(account=account, names=names, regions=regions, securityhub_updates=settings.securityhub_updates)


def plan_stack(settings: Settings) -> tuple[AccountPlan, ...]:
    """Derive every account's plan and check the limits that only the derived values can break."""
    plans = tuple(plan_account(settings, account) for account in settings.accounts)
    problems: list[str] = []
    for plan in plans:
        # The home region carries the account-level rules too, so it has the largest pattern and config.
        region = plan.regions[0]
        pattern = region.event_pattern
        if pattern is not None and len(json.dumps(pattern)) > EVENT_PATTERN_MAX_CHARS:
            problems.append(
                f"governance:rules for account {plan.account.id} give an event pattern over EventBridge's "
                f"{EVENT_PATTERN_MAX_CHARS} characters; use a shorter governance:ruleNamePrefix or fewer lambda-engine rules."
            )
        size = len(LAMBDA_CONFIG_VARIABLE) + len(region.lambda_config_json().encode())
        if size > LAMBDA_ENVIRONMENT_MAX_BYTES:
            problems.append(
                f"governance:rules params for account {plan.account.id} need {size} bytes of Lambda environment, over "
                f"Lambda's {LAMBDA_ENVIRONMENT_MAX_BYTES}; shorten params such as excludedPublicBuckets."
            )
    if problems:
        raise ConfigError(problems)
    return plans


def account_region_key(account: Account, region: str) -> str:
    """How stack outputs name one account-region."""
    return f"{account.id}/{region}"

