"""What to deploy, derived from ``Settings`` without Pulumi: names, event patterns, Lambda config, IAM.

The components only wire these values into resources, so everything here is plain data that tests,
the benchmark and the operator CLI can inspect. Physical names are fixed by the rule-name prefix so
that ARNs are predictable (the Lambda's config refers to the flow-log delivery role by ARN).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from governance import limits
from governance.catalog import VPC_FLOW_LOGS, SsmContext, needs_flow_logs_plumbing
from governance.lambda_code import fixer_iam_actions, handler_iam_actions
from governance.limits import Limit
from governance.settings import NAMESPACE, Account, ConfigError, RuleSettings, Settings

LAMBDA_CONFIG_VARIABLE = "GOVERNANCE_CONFIG"
RESULT_EVENT_SOURCE = "governance.remediation"
TERMINAL_AUTOMATION_STATUSES = (
    "Success", "Failed", "TimedOut", "Cancelled", "CompletedWithSuccess", "CompletedWithFailure", "Exited", "Rejected",
    "ChangeCalendarOverrideRejected",
)
"""Automation statuses after which an execution changes nothing more (SSM AutomationExecutionStatus).

``ChangeCalendarOverrideRejected`` ends an execution that a change calendar blocked and nobody let through.
"""
PREFIX_KEY = f"{NAMESPACE}:ruleNamePrefix"
ALARM_KINDS = ("dead-letters", "function-errors", "failed-remediations", "runaway-remediations")
"""The alarms of a region that runs the Lambda (``governance.operations.alarm_specs`` builds them)."""
DEAD_LETTER_RETENTION_SECONDS = 1209600
"""How long every dead-letter queue keeps an event: fourteen days, SQS's maximum, time enough to notice and replay it."""


@dataclass(frozen=True)
class RemediationParameter:
    """One parameter of a Config remediation configuration: a static value or the resource's id."""

    name: str
    static_value: Any = None
    """A string, or a Pulumi Output of one (role and log group ARNs)."""
    resource_value: str | None = None
    """``RESOURCE_ID`` for the parameter that receives the non-compliant resource."""


def remediation_parameters(rule: RuleSettings, context: SsmContext, automation_role_arn: Any) -> tuple[RemediationParameter, ...]:
    """A rule's runbook parameters, sorted by name as the provider stores them (any other order diffs forever)."""
    runbook = rule.entry.ssm
    if runbook is None:
        return ()
    parameters = [RemediationParameter("AutomationAssumeRole", static_value=automation_role_arn)]
    if runbook.resource_id_parameter:
        parameters.append(RemediationParameter(runbook.resource_id_parameter, resource_value="RESOURCE_ID"))
    parameters.extend(
        RemediationParameter(name, static_value=value) for name, value in runbook.static_parameters(rule.params, context).items()
    )
    return tuple(sorted(parameters, key=lambda parameter: parameter.name))


@dataclass(frozen=True)
class Emitted:
    """One value the program sends to AWS, with the limit it must respect and the config key behind it."""

    limit: Limit
    value: str
    subject: str
    """What the value belongs to, for people ("cloudtrail-log-validation in account 1111... us-east-1")."""
    key: str
    """The stack-config key that makes the value what it is."""
    advice: str
    """How to fix a breach."""

    def problem(self) -> str | None:
        """One sentence naming the key, or None when the value respects its limit."""
        breach = limits.violation(self.limit, self.value)
        if breach is None:
            return None
        return f"{self.key} makes {self.limit.what} of {self.subject} {breach}; {self.advice}."


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

    def alarm(self, kind: str) -> str:
        """A CloudWatch alarm of the function's account-region (``dead-letters``, ``failed-remediations``, ...)."""
        return f"{self.prefix}{kind}"

    @property
    def notification_topic(self) -> str:
        """The SNS topic alarms and notifications go to, when the stack names none for the region."""
        return f"{self.prefix}notifications"

    @property
    def notification_rule(self) -> str:
        """EventBridge rule sending the result events that notify to the topic, as one sentence each."""
        return f"{self.prefix}remediation-notify"

    @property
    def dashboard(self) -> str:
        """The account's CloudWatch dashboard (dashboards are global to an account)."""
        return f"{self.prefix}remediation"

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

    @property
    def hub_event_bus(self) -> str:
        """Organization mode: the hub's event bus that members forward their events to (one per hub region)."""
        return f"{self.prefix}member-events"

    @property
    def forwarding_role(self) -> str:
        """Organization mode: the member role EventBridge assumes to put events on the hub's bus (one per member)."""
        return f"{self.prefix}event-forwarding"

    def stack_set(self, kind: str, profile: str) -> str:
        """Organization mode: the stack set deploying a rule profile's ``iam`` or ``rules`` template."""
        return f"{self.prefix}member-{kind}-{profile}"

    @property
    def forwarding_rule(self) -> str:
        """Organization mode: the member's default-bus rule forwarding compliance and automation events to the hub."""
        return f"{self.prefix}forward-events"

    @property
    def forwarding_dead_letter_queue(self) -> str:
        """Organization mode: the member's queue for events the hub's bus does not take."""
        return f"{self.prefix}forward-events-dlq"


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
    organization: Mapping[str, Any] | None = field(default=None, hash=False)
    """Organization mode's hub: the Lambda config's ``organization`` section (member role, targets, exclusions)."""
    params_account: str | None = None
    """Organization mode's hub: the account the Lambda's params name roles in, a placeholder the function
    replaces with each event's account (``None``: the plan's own account)."""

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

    @property
    def function_arn(self) -> str:
        """The remediation function's unqualified ARN: the ``resources`` of the result events it publishes."""
        return f"arn:{self.account.partition}:lambda:{self.region}:{self.account.id}:function:{self.names.function}"

    @property
    def notification_rule_arn(self) -> str:
        """ARN of the notification rule, known before it exists (the topic and the dead-letter queue policies name it)."""
        return f"arn:{self.account.partition}:events:{self.region}:{self.account.id}:rule/{self.names.notification_rule}"

    def ssm_context(self) -> SsmContext:
        """What the runbooks' static parameters need, as the strings the deployed resources will have."""
        has_group = self.flow_logs_log_group is not None
        return SsmContext(
            account_id=self.account.id,
            region=self.region,
            partition=self.account.partition,
            flow_logs_role_arn=role_arn(self.account, self.names.flow_logs_role) if has_group else None,
            flow_logs_log_group_arn=self.flow_logs_log_group_arn(),
        )

    def config_rule_input_parameters(self, rule: RuleSettings) -> str | None:
        """The Config rule's InputParameters as sent (JSON, keys sorted), or None when it takes none."""
        # The region's own params: e.g. a regional SSE-KMS rule lists only the key of its region.
        inputs = rule.entry.config_rule.input_parameters(rule.entry.params_for_region(rule.params, self.region))
        return json.dumps(inputs, sort_keys=True) if inputs else None

    def event_pattern_json(self) -> str | None:
        """``event_pattern`` as sent to EventBridge (JSON, keys sorted)."""
        pattern = self.event_pattern
        return json.dumps(pattern, sort_keys=True) if pattern is not None else None

    def lambda_environment(self) -> dict[str, str]:
        """The function's whole environment: every variable Lambda counts against its size limit."""
        return {LAMBDA_CONFIG_VARIABLE: self.lambda_config_json()}

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
        """A rule's params as the Lambda receives them in this region, plus what the program resolved for it."""
        params = rule.entry.params_for_region(rule.params, self.region)
        if rule.key == VPC_FLOW_LOGS.key and needs_flow_logs_plumbing(rule.params):
            account = self.account if self.params_account is None else replace(self.account, id=self.params_account)
            params["deliverLogsRoleArn"] = role_arn(account, self.names.flow_logs_role)
        return params

    @cached_property
    def lambda_config(self) -> dict[str, Any]:
        """The JSON document the Lambda reads from ``GOVERNANCE_CONFIG``.

        Rules are keyed by rule key. A rule taken from Security Hub lists the prefixes of the rule
        names Security Hub gives it; any other rule is the program's own Config rule, whose name the
        Lambda derives from ``ruleNamePrefix``. So the document grows with the params, not with the
        prefix, and fits Lambda's 4 KB environment with every rule of the catalog.
        """
        rules: dict[str, Any] = {}
        for rule in self.lambda_rules:
            settings: dict[str, Any] = {"mode": rule.mode}
            params = self.lambda_params(rule)
            if params:
                settings["params"] = params
            if rule.source != "own":
                settings["securityHubPrefixes"] = sorted(rule.entry.securityhub_rule_prefixes(rule.params))
            rules[rule.key] = settings
        runbooks = {
            rule.entry.ssm.document: {
                "key": rule.key,
                "mode": rule.mode,
                "resourceParameter": rule.entry.ssm.resource_id_parameter,
            }
            for rule in self.ssm_rules
            if rule.entry.ssm
        }
        config: dict[str, Any] = {
            "version": 2,
            "exemptionTag": self.exemption_tag,
            "securityHubUpdates": self.securityhub_updates,
            "resultEventSource": RESULT_EVENT_SOURCE,
            "ruleNamePrefix": self.names.prefix,
            "rules": rules,
            "ssmRunbooks": runbooks,
            "protectedRules": sorted(self.protected_rules),
        }
        if self.organization is not None:
            config["organization"] = dict(self.organization)
        return config

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


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _texts(item)]
    return [] if value is None or isinstance(value, bool) else [str(value)]


def _param_share(rule: RuleSettings, value: str) -> tuple[int, str] | None:
    """(characters, key) of the rule's param contributing most to ``value``, or None if none appears in it."""
    shares = []
    for name, param in rule.params.items():
        contributed = sum(len(text) for text in _texts(param) if text and text in value)
        if contributed:
            shares.append((contributed, rule.param_key(name)))
    return max(shares) if shares else None


def _key_behind(rules: tuple[RuleSettings, ...], value: str, fallback: str) -> str:
    """The config key most responsible for ``value``: the largest param in it, else ``fallback``."""
    shares = [share for rule in rules if (share := _param_share(rule, value))]
    return max(shares)[1] if shares else fallback


def _prefix_advice(limit: Limit, name: str, prefix: str) -> str:
    room = limit.maximum - (len(name) - len(prefix))
    if room < 0:
        return "no prefix can make it fit"
    return f"use a prefix of at most {room} characters"


def _name(limit: Limit, name: str, subject: str, prefix: str) -> Emitted:
    return Emitted(limit, name, subject, PREFIX_KEY, _prefix_advice(limit, name, prefix))


def region_emitted(region: RegionPlan) -> Iterator[Emitted]:
    """Every value one account-region sends to AWS that a limit applies to."""
    names, prefix = region.names, region.names.prefix
    where = f"account {region.account.id} {region.region}"
    for rule in region.own_config_rules:
        rule_name = names.config_rule(rule)
        yield _name(limits.CONFIG_RULE_NAME, rule_name, rule.key, prefix)
        inputs = region.config_rule_input_parameters(rule)
        if inputs is not None:
            key = _key_behind((rule,), inputs, rule.config_key)
            yield Emitted(limits.CONFIG_RULE_INPUT_PARAMETERS, inputs, rule.key, key, "use fewer or shorter values")
        if rule.uses_ssm:
            yield _name(limits.REMEDIATION_RULE_NAME, rule_name, rule.key, prefix)
            yield from _remediation_emitted(region, rule)
    flow_logs_group = region.flow_logs_log_group
    if flow_logs_group is not None:
        rule = next(rule for rule in region.rules if rule.key == VPC_FLOW_LOGS.key)
        yield Emitted(limits.LOG_GROUP_NAME, flow_logs_group, "vpc-flow-logs", rule.param_key("logGroupName"), "choose a shorter name")
    if not region.needs_function:
        return
    yield _name(limits.LAMBDA_FUNCTION_NAME, names.function, "the remediation function", prefix)
    yield _name(limits.LOG_GROUP_NAME, names.function_log_group, "the remediation function's logs", prefix)
    yield _name(limits.SQS_QUEUE_NAME, names.dead_letter_queue, "the dead-letter queue", prefix)
    yield _name(limits.EVENT_RULE_NAME, names.event_rule, "the remediation events rule", prefix)
    yield _name(limits.EVENT_RULE_NAME, names.notification_rule, "the notification rule", prefix)
    yield _name(limits.SNS_TOPIC_NAME, names.notification_topic, "the notification topic", prefix)
    for kind in ALARM_KINDS:
        yield _name(limits.ALARM_NAME, names.alarm(kind), f"the {kind} alarm", prefix)
    pattern = region.event_pattern_json()
    if pattern is not None:
        yield Emitted(
            limits.EVENT_PATTERN, pattern, where, PREFIX_KEY,
            "use a shorter prefix or fewer rules with the lambda engine or the ssm engine",
        )
    environment = json.dumps(region.lambda_environment())
    key = _key_behind(region.lambda_rules, environment, f"{NAMESPACE}:rules")
    yield Emitted(
        limits.LAMBDA_ENVIRONMENT, environment, where, key,
        "shorten it, or use the ssm engine or source own for some rules",
    )


def _remediation_emitted(region: RegionPlan, rule: RuleSettings) -> Iterator[Emitted]:
    context = region.ssm_context()
    automation_role = role_arn(region.account, region.names.ssm_role)
    for parameter in remediation_parameters(rule, context, automation_role):
        if parameter.static_value is None:
            continue
        value = str(parameter.static_value)
        fallback = PREFIX_KEY if region.names.prefix and region.names.prefix in value else rule.config_key
        key = _key_behind((rule,), value, fallback)
        yield Emitted(
            limits.REMEDIATION_STATIC_VALUE, value, f"{rule.key} (runbook parameter {parameter.name})", key,
            "shorten it or use the lambda engine",
        )


def account_emitted(plan: AccountPlan) -> Iterator[Emitted]:
    """Every limited value one account sends to AWS: its roles, then each region's values."""
    prefix = plan.names.prefix
    if plan.needs_ssm_role:
        yield _name(limits.IAM_ROLE_NAME, plan.names.ssm_role, "the SSM automation role", prefix)
    if plan.needs_lambda_role:
        yield _name(limits.IAM_ROLE_NAME, plan.names.lambda_role, "the remediation function's role", prefix)
    if plan.needs_flow_logs_role:
        yield _name(limits.IAM_ROLE_NAME, plan.names.flow_logs_role, "the flow-log delivery role", prefix)
    if any(region.needs_function for region in plan.regions):
        yield _name(limits.DASHBOARD_NAME, plan.names.dashboard, "the account's dashboard", prefix)
    for region in plan.regions:
        yield from region_emitted(region)


def _log_group_clashes(region: RegionPlan) -> Iterator[str]:
    """Two log groups of one name would be one resource twice, and flow logs would land in the audit trail."""
    group = region.flow_logs_log_group
    if group is not None and region.needs_function and group == region.names.function_log_group:
        rule = next(rule for rule in region.rules if rule.key == VPC_FLOW_LOGS.key)
        yield (
            f"{rule.param_key('logGroupName')} names the remediation function's own log group "
            f"(/aws/lambda/<ruleNamePrefix>remediation), which holds the audit trail; choose another log group name."
        )


def limit_problems(plans: tuple[AccountPlan, ...]) -> list[str]:
    """Every AWS or provider limit the plans would breach, as one sentence each naming the key responsible."""
    # The same prefix or param breaks the same limit in every account and region: say it once, for the largest value.
    worst: dict[tuple[str, str], Emitted] = {}
    clashes: list[str] = []
    for plan in plans:
        for emitted in account_emitted(plan):
            if emitted.problem() is None:
                continue
            cause = (emitted.key, emitted.limit.what)
            current = worst.get(cause)
            if current is None or limits.size(emitted.limit, emitted.value) > limits.size(current.limit, current.value):
                worst[cause] = emitted
        for region in plan.regions:
            clashes.extend(_log_group_clashes(region))
    problems = [problem for emitted in worst.values() if (problem := emitted.problem())]
    return list(dict.fromkeys([*problems, *clashes]))


def plan_stack(settings: Settings) -> tuple[AccountPlan, ...]:
    """Derive every account's plan and check every value it emits against AWS's and the provider's limits.

    Raises ``ConfigError`` before anything is registered when a value would be refused in the middle of ``up``.
    """
    plans = tuple(plan_account(settings, account) for account in settings.accounts)
    problems = limit_problems(plans)
    if problems:
        raise ConfigError(problems)
    return plans


def account_region_key(account: Account, region: str) -> str:
    """How stack outputs name one account-region."""
    return f"{account.id}/{region}"

