"""Parse and validate a stack's configuration into a typed, frozen ``Settings``.

This is the one place where stack config is checked. Every problem becomes one sentence that names
the key (``governance:accounts[1].id``) and says what is allowed; all problems are collected and
raised together as a ``ConfigError`` before anything is deployed. Inner code trusts ``Settings``.

The loader takes plain Python values, so the Pulumi program (``pulumi.Config``) and the operator
CLI (reading ``Pulumi.<stack>.yaml``) share it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Any, Literal, cast

from governance.catalog import CATALOG, Engine, RuleEntry

NAMESPACE = "governance"
Mode = Literal["off", "detect", "manual", "auto"]
Source = Literal["own", "securityhub"]
MODES: tuple[Mode, ...] = ("off", "detect", "manual", "auto")
SOURCES: tuple[Source, ...] = ("own", "securityhub")

LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)
"""Values CloudWatch Logs accepts for a log group's retention."""

ACCOUNT_KEYS = ("id", "name", "roleArn", "externalId", "regions", "rules")
RULE_KEYS = ("mode", "engine", "source", "params")
# Every pattern is ASCII-only: without re.ASCII, \d and \w also match other scripts' digits and letters
# (fullwidth "１２３"), which AWS refuses. Patterns are always used with fullmatch.
ROLE_ARN = re.compile(
    # role/<path>/<name>: IAM paths are printable ASCII (up to 512 with their slashes), names 1-64 of [\w+=,.@-].
    r"arn:(aws|aws-cn|aws-us-gov):iam::([0-9]{12}):role/(?:[\x21-\x7e]{1,510}/)?[\w+=,.@-]{1,64}",
    re.ASCII,
)
ACCOUNT_ID = re.compile(r"[0-9]{12}", re.ASCII)
ACCOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}", re.ASCII)
EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,1224}", re.ASCII)
RULE_NAME_PREFIX = re.compile(r"[A-Za-z0-9_-]{0,40}", re.ASCII)
TAG_KEY = re.compile(r"[\w .:/=+@-]{1,128}", re.ASCII)
ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
# CloudFormation's DeploymentTargets.OrganizationalUnitIds patterns (an OU id, or the organization's root id).
OU_ID = re.compile(r"ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}", re.ASCII)
ROOT_ID = re.compile(r"r-[a-z0-9]{4,32}", re.ASCII)
MAX_ORGANIZATION_TARGETS = 50
"""At most this many OUs per CreateStackInstances call."""
ORGANIZATION_KEYS = ("adminAccountId", "adminRoleArn", "targets", "excludeAccounts", "memberRoleName", "overrides")
ORGANIZATION_OVERRIDE_KEYS = ("name", "targets", "rules")
PROFILE_NAME = re.compile(r"[a-z][a-z0-9-]{0,67}", re.ASCII)
"""A rule profile's name, which its stack sets' names carry: as long as an OU id, whose shape it admits."""
BASE_PROFILE = "base"
DEFAULT_MEMBER_ROLE_NAME = "governance-member"


class ConfigError(ValueError):
    """The stack config is invalid; ``problems`` holds one sentence per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("Invalid stack config:\n" + "\n".join(f"- {problem}" for problem in problems))


@dataclass(frozen=True)
class RuleSettings:
    """A rule's effective settings in one account (stack defaults merged with the account's override)."""

    key: str
    mode: Mode
    engine: Engine
    source: Source
    params: Mapping[str, Any]
    config_key: str = ""
    """Stack-config key of the rule's settings (``governance:rules.<key>`` or an account's override)."""
    param_keys: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Stack-config key each param was set under; params left at their default are absent."""

    def param_key(self, name: str) -> str:
        """The stack-config key that sets param ``name`` (where to set it when it is a default)."""
        return self.param_keys.get(name) or f"{NAMESPACE}:rules.{self.key}.params.{name}"

    @property
    def entry(self) -> RuleEntry:
        """The rule's catalog entry, with the Config rule its params select."""
        return CATALOG[self.key].for_params(self.params)

    @property
    def remediates(self) -> bool:
        """Whether a remediation is deployed (``manual`` or ``auto``)."""
        return self.mode in ("manual", "auto")

    @property
    def deploys_config_rule(self) -> bool:
        """Whether the program deploys its own Config rule for this check."""
        return self.mode != "off" and self.source == "own"

    @property
    def uses_lambda(self) -> bool:
        """Whether the remediation Lambda acts on this rule."""
        return self.remediates and self.engine == "lambda"

    @property
    def uses_ssm(self) -> bool:
        """Whether a Config remediation configuration (SSM Automation) is deployed for this rule."""
        return self.remediates and self.engine == "ssm"


@dataclass(frozen=True)
class Account:
    """One target account and the rules enabled in it."""

    id: str
    name: str
    role_arn: str | None
    external_id: str | None
    partition: str
    regions: tuple[str, ...]
    rules: tuple[RuleSettings, ...]
    """Enabled rules only (mode other than ``off``), in catalog order."""

    @property
    def home_region(self) -> str:
        """Where account-level rules (S3 account public access, multi-region trail) are deployed."""
        return self.regions[0]

    def rules_in(self, region: str) -> tuple[RuleSettings, ...]:
        """Enabled rules deployed in ``region``: regional rules everywhere, account rules in the home region."""
        return tuple(rule for rule in self.rules if rule.entry.scope == "region" or region == self.home_region)


@dataclass(frozen=True)
class RemediationControls:
    """Retry and rate controls of Config remediation (SSM engine)."""

    maximum_automatic_attempts: int
    retry_attempt_seconds: int
    concurrent_execution_rate_percentage: int
    error_percentage: int


@dataclass(frozen=True)
class DeliverySettings:
    """Retries between EventBridge, the remediation Lambda and its dead-letter queue."""

    event_retry_attempts: int
    event_max_age_seconds: int
    lambda_retry_attempts: int
    lambda_max_age_seconds: int


@dataclass(frozen=True)
class OperationsSettings:
    """Where alarms and notifications go, which decisions notify, and what counts as a runaway fix."""

    topic_arns: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """An existing topic per region; a region without one gets a topic the program creates."""
    emails: tuple[str, ...] = ()
    """Addresses subscribed to the program's topics (SNS asks each to confirm)."""
    decisions: tuple[str, ...] = ("failed", "remediated")
    """Decisions whose result events are sent to the topic."""
    format: Literal["sentence", "chat"] = "sentence"
    """``sentence`` for e-mail and other readers; ``chat`` for Amazon Q Developer in chat applications."""
    runaway_remediations: int = 50
    runaway_period_minutes: int = 60


@dataclass(frozen=True)
class RuleProfile:
    """The rules of a group of organization targets: the stack's rules, or an override merged over them."""

    name: str
    """``base`` (targets no override names), or an override's ``name`` (default: its first target's id).

    The profile's stack sets carry it, so it stays the same when overrides are reordered or given more targets.
    """
    targets: tuple[str, ...]
    """OU ids or a root id, as listed in ``governance:organization.targets``."""
    rules: tuple[RuleSettings, ...]
    """Enabled rules only (mode other than ``off``), in catalog order."""
    rules_key: str = "governance:rules"
    """The stack-config key of the profile's rule settings (``governance:organization.overrides[<i>].rules`` for an override)."""


@dataclass(frozen=True)
class OrganizationOverride:
    """One entry of ``governance:organization.overrides``, as written: whole targets and their rule settings."""

    name: str
    """The override's profile name: ``name`` as written, or its first target's id."""
    targets: tuple[str, ...]
    rules: Mapping[str, Mapping[str, Any]]
    """Rule key to the settings the override sets (``mode``, ``engine``, ``source``, ``params``), before merging."""


@dataclass(frozen=True)
class OrganizationSettings:
    """Organization mode: the stack deploys from a delegated-administrator account to every account of some OUs."""

    admin_account_id: str
    """The delegated-administrator (hub) account the stack deploys from."""
    admin_role_arn: str | None
    """A role in the admin account for the provider to assume; ``None`` uses the stack's own credentials."""
    targets: tuple[str, ...]
    """OU ids, or one root id: their accounts and child OUs, now and later."""
    exclude_accounts: tuple[str, ...]
    """Accounts of the targets that are not governed."""
    member_role_name: str
    """The role the hub Lambda and the CLI assume in member accounts."""
    overrides: tuple[OrganizationOverride, ...]
    """Rule settings for some targets, as written; each target is named by at most one override."""
    profiles: tuple[RuleProfile, ...]
    """Every target in exactly one profile: ``base`` first (omitted when every target is overridden), then one per override."""
    partition: str = "aws"
    """The admin role's partition (``aws`` without a role); member accounts are in the same partition."""
    regions: tuple[str, ...] = ()
    """``governance:regions``: where the rules are deployed in every member account; the first hosts account-level rules."""


@dataclass(frozen=True)
class Settings:
    """A whole stack's validated configuration."""

    accounts: tuple[Account, ...]
    remediation: RemediationControls
    delivery: DeliverySettings
    exemption_tag: str
    log_retention_days: int
    rule_name_prefix: str
    securityhub_updates: bool
    protected_rules: frozenset[str] = frozenset()
    """Rules that must never be ``auto`` in this stack; the policy pack blocks a change that makes one so."""
    operations: OperationsSettings = OperationsSettings()
    """Alarms and notifications."""
    organization: OrganizationSettings | None = None
    """The OUs governed from a delegated-administrator account; ``None`` without ``governance:organization``."""


@dataclass(frozen=True)
class _IntSetting:
    key: str
    default: int
    minimum: int
    maximum: int


REMEDIATION_KEYS = (
    _IntSetting("maximumAutomaticAttempts", 3, 1, 25),
    _IntSetting("retryAttemptSeconds", 60, 1, 2678000),
    _IntSetting("concurrentExecutionRatePercentage", 10, 1, 100),
    _IntSetting("errorPercentage", 50, 1, 100),
)
DELIVERY_KEYS = (
    _IntSetting("eventRetryAttempts", 185, 0, 185),
    _IntSetting("eventMaxAgeSeconds", 86400, 60, 86400),
    _IntSetting("lambdaRetryAttempts", 2, 0, 2),
    _IntSetting("lambdaMaxAgeSeconds", 21600, 60, 21600),
)

ALARM_KEYS = (
    _IntSetting("runawayRemediations", 50, 1, 100000),
    # CloudWatch evaluates an alarm over at most one day.
    _IntSetting("runawayPeriodMinutes", 60, 1, 1440),
)
NOTIFICATION_KEYS = ("topicArn", "emails", "decisions", "format")
NOTIFICATION_FORMATS = ("sentence", "chat")
NOTIFIABLE_DECISIONS = ("remediated", "failed", "exempt", "dry_run", "already_compliant", "ignored")
# Standard topics only: FIFO topics (".fifo") take no CloudWatch alarm actions.
TOPIC_ARN = re.compile(r"arn:(aws|aws-cn|aws-us-gov):sns:([a-z0-9-]+):([0-9]{12}):[A-Za-z0-9_-]{1,256}", re.ASCII)
EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+", re.ASCII)

DEFAULTS: Mapping[str, Any] = MappingProxyType({
    "exemptionTag": "governance:exempt",
    "logRetentionDays": 365,
    "ruleNamePrefix": "governance-",
    "securityHubUpdates": False,
})
TOP_LEVEL_KEYS = frozenset({
    "accounts", "regions", "rules", "remediation", "delivery", "protectedRules", "notifications", "alarms", "organization", *DEFAULTS,
})
"""Every key of the ``governance`` namespace."""


@cache
def regions_of(partition: str) -> frozenset[str]:
    """Region names of a partition, from botocore's endpoint data (no network)."""
    import botocore.session

    return frozenset(botocore.session.get_session().get_available_regions("config", partition_name=partition))


PLAIN_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)


def _member(name: object) -> str:
    """How a user-supplied key appears in a key path: ``.name``, or quoted when it is not a plain name."""
    if isinstance(name, str) and PLAIN_NAME.fullmatch(name):
        return f".{name}"
    return "[" + json.dumps(str(name))[:60] + "]"


def _key(name: str) -> str:
    member = _member(name)
    return f"{NAMESPACE}:{member[1:]}" if member.startswith(".") else f"{NAMESPACE}:{member}"


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _given(raw: Mapping[str, Any], key: str, default: Any) -> Any:
    """``raw[key]``, or ``default`` when it is missing or null."""
    value = raw.get(key)
    return default if value is None else value


@dataclass(frozen=True)
class _RawOverride:
    """An override as written (shape checked): its profile name, targets and rule settings."""

    name: str
    targets: tuple[str, ...]
    rules: dict[str, dict[str, Any]]


def _frozen(rules: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Mapping[str, Any]]:
    """Rule settings as read-only mappings (params too)."""
    return MappingProxyType({
        key: MappingProxyType({name: MappingProxyType(dict(value)) if isinstance(value, dict) else value for name, value in settings.items()})
        for key, settings in rules.items()
    })


class _Loader:
    """Collects problems while building ``Settings`` from raw values."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, key: str, allowed: str, value: Any = ...) -> None:
        got = "" if value is ... else f", got {_describe(value)}"
        self.problems.append(f"{key} {allowed}{got}.")

    def integer(self, key: str, value: Any, minimum: int, maximum: int) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            self.problem(key, f"must be a whole number from {minimum} to {maximum}", value)
            return None
        return value

    def int_group(self, name: str, raw: Any, specs: tuple[_IntSetting, ...]) -> dict[str, int]:
        values = {spec.key: spec.default for spec in specs}
        if raw is None:
            return values
        if not isinstance(raw, dict):
            self.problem(_key(name), "must be an object", raw)
            return values
        allowed = {spec.key: spec for spec in specs}
        for field_name, value in raw.items():
            spec = allowed.get(field_name)
            if spec is None:
                self.problem(f"{_key(name)}{_member(field_name)}", "is not a known setting; allowed: " + ", ".join(allowed))
                continue
            checked = self.integer(f"{_key(name)}.{field_name}", value, spec.minimum, spec.maximum)
            if checked is not None:
                values[field_name] = checked
        return values

    # --- rules --------------------------------------------------------------------------------

    def rule_overrides(self, where: str, raw: Any) -> dict[str, dict[str, Any]]:
        """Validate the shape of a ``rules`` object (stack-level or an account's) without merging."""
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.problem(where, "must be an object of rule key to settings", raw)
            return {}
        result: dict[str, dict[str, Any]] = {}
        for rule_key, settings in raw.items():
            key = f"{where}.{rule_key}"
            if rule_key not in CATALOG:
                self.problem(where, f"has unknown rule {rule_key!r}; allowed: " + ", ".join(CATALOG))
                continue
            if not isinstance(settings, dict):
                self.problem(key, "must be an object with mode, engine, source and params", settings)
                continue
            clean: dict[str, Any] = {}
            for field_name, value in settings.items():
                if field_name not in RULE_KEYS:
                    self.problem(f"{key}{_member(field_name)}", "is not a rule setting; allowed: " + ", ".join(RULE_KEYS))
                elif field_name == "params" and not isinstance(value, dict):
                    self.problem(f"{key}.params", "must be an object", value)
                else:
                    clean[field_name] = value
            result[rule_key] = clean
        return result

    def effective_rule(
        self,
        where: str,
        entry: RuleEntry,
        merged: dict[str, Any],
        param_keys: Mapping[str, str] | None = None,
        setting_keys: Mapping[str, str] | None = None,
    ) -> RuleSettings | None:
        """Check one merged rule and fill in defaults; ``None`` when it is off or invalid.

        ``param_keys`` and ``setting_keys`` name the stack-config key each param and each of
        mode, engine and source came from (stack or account), so problems blame the key that set it.
        """

        def at(setting: str) -> str:
            return (setting_keys or {}).get(setting) or f"{where}.{setting}"

        defaults = entry.setting_defaults(merged.get("params") or {})
        mode = merged.get("mode", defaults.get("mode", "off"))
        if mode not in MODES:
            self.problem(at("mode"), "must be one of " + ", ".join(MODES), mode)
            return None
        engine = merged.get("engine", defaults.get("engine", entry.default_engine))
        if engine not in entry.engines:
            self.problem(at("engine"), f"must be one of {', '.join(entry.engines)} for {entry.key}", engine)
            return None
        source = merged.get("source", "own")
        if source not in SOURCES:
            self.problem(at("source"), "must be one of " + ", ".join(SOURCES), source)
            return None
        if source == "securityhub" and engine != "lambda":
            self.problem(at("source"), "can be securityhub only with engine lambda (remediation cannot attach to Security Hub's rules)")
            return None
        params = self.rule_params(f"{where}.params", entry, merged.get("params", {}), param_keys)
        if params is None:
            return None
        cross = entry.cross_check(params, cast(Engine, engine))
        if cross:
            self.problem(where, cross)
            return None
        if source == "securityhub":
            # The Lambda would wait for events of a Security Hub rule that does not exist for these params.
            unsupported = entry.securityhub_check(params)
            if unsupported is None and not entry.securityhub_rule_prefixes(params):
                unsupported = "can be securityhub only when Security Hub has a rule for these params"
            if unsupported:
                self.problem(at("source"), unsupported)
                return None
        if mode == "off":
            return None
        return RuleSettings(
            key=entry.key,
            mode=cast(Mode, mode),
            engine=cast(Engine, engine),
            source=cast(Source, source),
            params=MappingProxyType(params),
            config_key=where,
            param_keys=MappingProxyType(dict(param_keys or {})),
        )

    def rule_params(
        self,
        where: str,
        entry: RuleEntry,
        raw: dict[str, Any],
        param_keys: Mapping[str, str] | None = None,
    ) -> dict[str, Any] | None:
        declared = {spec.name: spec for spec in entry.params}
        params = {name: spec.default for name, spec in declared.items()}
        valid = True
        # A param merged from the stack's rules is blamed on the stack's key, not on the account overriding the rule.
        keys = param_keys or {}
        for name, value in raw.items():
            key = keys.get(name) or f"{where}{_member(name)}"
            spec = declared.get(name)
            if spec is None:
                allowed = ", ".join(declared) if declared else "none"
                self.problem(key, f"is not a parameter of {entry.key}; allowed: {allowed}")
                valid = False
                continue
            problem = spec.check(value)
            if problem:
                self.problem(key, problem, value)
                valid = False
                continue
            params[name] = value
        return params if valid else None

    # --- operations ---------------------------------------------------------------------------

    def operations(self, raw_notifications: Any, raw_alarms: Any, accounts: list[Account]) -> OperationsSettings:
        """``notifications`` and ``alarms``; ``accounts`` tell which regions run the Lambda and need a topic."""
        alarms = self.int_group("alarms", raw_alarms, ALARM_KEYS)
        defaults = OperationsSettings()
        where = _key("notifications")
        raw = {} if raw_notifications is None else raw_notifications
        if not isinstance(raw, dict):
            self.problem(where, "must be an object with topicArn, emails, decisions and format", raw)
            raw = {}
        for field_name in raw:
            if field_name not in NOTIFICATION_KEYS:
                self.problem(f"{where}{_member(field_name)}", "is not a notification setting; allowed: " + ", ".join(NOTIFICATION_KEYS))
        decisions = raw.get("decisions", list(defaults.decisions))
        if not isinstance(decisions, list) or not all(decision in NOTIFIABLE_DECISIONS for decision in decisions) or len(set(decisions)) != len(decisions):
            self.problem(f"{where}.decisions", "must be a list of distinct decisions from: " + ", ".join(NOTIFIABLE_DECISIONS), decisions)
            decisions = list(defaults.decisions)
        emails = raw.get("emails", [])
        if not isinstance(emails, list) or not all(isinstance(email, str) and EMAIL.fullmatch(email) for email in emails):
            self.problem(f"{where}.emails", "must be a list of e-mail addresses such as security@example.com", emails)
            emails = []
        elif len({email.lower() for email in emails}) != len(emails):
            self.problem(f"{where}.emails", "repeats an address; list each address once", emails)
            emails = []
        message_format = raw.get("format", defaults.format)
        if message_format not in NOTIFICATION_FORMATS:
            self.problem(f"{where}.format", "must be one of " + ", ".join(NOTIFICATION_FORMATS), message_format)
            message_format = defaults.format
        lambda_regions = sorted({region for account in accounts for region in account.regions if any(rule.remediates for rule in account.rules_in(region))})
        topics = self.topic_arns(f"{where}.topicArn", raw.get("topicArn"), lambda_regions)
        if topics and emails:
            self.problem(f"{where}.emails", "can be set only without topicArn: subscribe addresses to your own topic yourself")
        return OperationsSettings(
            topic_arns=MappingProxyType(topics),
            emails=tuple(emails),
            decisions=tuple(decisions),
            format=cast(Literal["sentence", "chat"], message_format),
            runaway_remediations=alarms["runawayRemediations"],
            runaway_period_minutes=alarms["runawayPeriodMinutes"],
        )

    def topic_arns(self, key: str, raw: Any, lambda_regions: list[str]) -> dict[str, str]:
        """An existing topic ARN, or a map of region to topic ARN, covering every region that runs the Lambda.

        Alarms and EventBridge rules publish only to a topic of their own region.
        """
        # UNVERIFIED: that CloudWatch alarm actions need a topic in the alarm's region, and that they may
        # publish to a topic of another account when its policy allows; the region rule is enforced.
        if raw is None:
            return {}
        by_region = raw if isinstance(raw, dict) else {"": raw}
        topics: dict[str, str] = {}
        for region_key, arn in by_region.items():
            at = key if region_key == "" else f"{key}{_member(region_key)}"
            match = TOPIC_ARN.fullmatch(arn) if isinstance(arn, str) else None
            if match is None:
                self.problem(at, "must be a standard SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:security-alerts", arn)
                continue
            if region_key not in ("", match.group(2)):
                self.problem(at, f"must be a topic in {region_key}, the region it is listed under", arn)
                continue
            topics[match.group(2)] = arn
        if len(topics) != len(by_region):
            return {}
        missing = [region for region in lambda_regions if region not in topics]
        if missing:
            form = "a map of region to topic ARN" if len(lambda_regions) > 1 else "a topic in that region"
            self.problem(key, f"must name a topic in every region that runs the remediation Lambda ({', '.join(lambda_regions)}); "
                              f"missing {', '.join(missing)}: give {form}, or leave topicArn out so the program creates one per region")
            return {}
        return topics

    # --- accounts -----------------------------------------------------------------------------

    def role_arn(self, key: str, value: Any, account_id: str | None) -> str | None:
        """The partition of ``value``, an IAM role ARN in ``account_id``; ``None`` after a problem when it is not one.

        With ``account_id`` ``None`` (itself invalid), only the ARN's form is checked.
        """
        match = ROLE_ARN.fullmatch(value) if isinstance(value, str) else None
        if not match:
            self.problem(
                key,
                "must be an IAM role ARN such as arn:aws:iam::123456789012:role/governance-deploy "
                "(optional path, then a role name of 1-64 ASCII letters, digits or +=,.@_-)",
                value,
            )
            return None
        if account_id is not None and match.group(2) != account_id:
            self.problem(key, f"must be a role in account {account_id} itself", value)
            return None
        return match.group(1)

    def account_id(self, key: str, value: Any) -> str | None:
        """``value`` when it is a 12-digit account id string; ``None`` after a problem otherwise."""
        if isinstance(value, str) and ACCOUNT_ID.fullmatch(value):
            return value
        hint = " (quote it in YAML so leading zeros survive)" if isinstance(value, int) else ""
        self.problem(key, f"must be a 12-digit account id string{hint}", value)
        return None

    def regions(self, key: str, raw: Any, partition: str) -> tuple[str, ...] | None:
        known = regions_of(partition)
        example = "us-east-1" if "us-east-1" in known else sorted(known)[0]
        if not isinstance(raw, list) or not raw:
            self.problem(key, f"must be a non-empty list of region names of partition {partition}, such as {example}", raw)
            return None
        regions: list[str] = []
        for index, region in enumerate(raw):
            if not isinstance(region, str) or region not in known:
                self.problem(f"{key}[{index}]", f"must be a region name of partition {partition}, such as {example}", region)
                return None
            if region in regions:
                self.problem(f"{key}[{index}]", "repeats a region; list each region once", region)
                return None
            regions.append(region)
        return tuple(regions)

    def account(
        self,
        index: int,
        raw: Any,
        default_regions: Any,
        stack_rules: dict[str, dict[str, Any]],
    ) -> Account | None:
        where = f"{_key('accounts')}[{index}]"
        if not isinstance(raw, dict):
            self.problem(where, 'must be an object such as {id: "123456789012", roleArn: ...}', raw)
            return None
        for field_name in raw:
            if field_name not in ACCOUNT_KEYS:
                self.problem(f"{where}{_member(field_name)}", "is not an account setting; allowed: " + ", ".join(ACCOUNT_KEYS))
        account_id = self.account_id(f"{where}.id", raw.get("id"))
        if account_id is None:
            return None
        # Without a name the account is labelled by its id, which is already valid: nothing to blame on .name.
        name = raw.get("name", account_id)
        if "name" in raw and (not isinstance(name, str) or not ACCOUNT_NAME.fullmatch(name)):
            self.problem(f"{where}.name", "must be a label of 1-64 letters, digits, spaces, dots, dashes or underscores", name)
        role_arn = raw.get("roleArn")
        partition = "aws"
        if role_arn is not None:
            role_partition = self.role_arn(f"{where}.roleArn", role_arn, account_id)
            if role_partition is None:
                return None
            partition = role_partition
        external_id = raw.get("externalId")
        if external_id is not None and (not isinstance(external_id, str) or not EXTERNAL_ID.fullmatch(external_id)):
            # The external id is a secret: the message describes it without quoting it.
            shown = f"{len(external_id)} characters" if isinstance(external_id, str) else type(external_id).__name__
            self.problem(f"{where}.externalId", f"must be 2-1224 characters of letters, digits and +=,.@:/- (got {shown}; the value is not shown)")
        if "regions" in raw:
            regions = self.regions(f"{where}.regions", raw["regions"], partition)
        elif not default_regions:
            # Pulumi.yaml declares governance:regions with the default [] (unset).
            self.problem(f"{where}.regions", f"is required because {_key('regions')} is not set")
            return None
        else:
            regions = self.regions(_key("regions"), default_regions, partition)
        overrides = self.rule_overrides(f"{where}.rules", raw.get("rules"))
        rules = self.merged_rules(where, stack_rules, overrides)
        if regions is None or rules is None:
            return None
        for rule in rules:
            found = rule.entry.regions_check(rule.params, regions)
            if found:
                self.problem(rule.param_key(found[0]), f"{found[1]} (account {account_id})")
        return Account(
            id=account_id,
            name=name if isinstance(name, str) else account_id,
            role_arn=role_arn,
            external_id=external_id,
            partition=partition,
            regions=regions,
            rules=rules,
        )

    def merged_rules(
        self,
        where: str,
        stack_rules: dict[str, dict[str, Any]],
        overrides: dict[str, dict[str, Any]],
    ) -> tuple[RuleSettings, ...] | None:
        rules: list[RuleSettings] = []
        before = len(self.problems)
        for key, entry in CATALOG.items():
            if key not in stack_rules and key not in overrides:
                continue  # a rule that is not listed is off, whatever mode it defaults to when listed
            base = stack_rules.get(key, {})
            override = overrides.get(key, {})
            merged = {**base, **override}
            merged["params"] = {**base.get("params", {}), **override.get("params", {})}
            origin = f"{where}.rules.{key}" if key in overrides else f"{_key('rules')}.{key}"
            param_keys = {
                name: f"{where}.rules.{key}.params{_member(name)}" if name in override.get("params", {})
                else f"{_key('rules')}.{key}.params{_member(name)}"
                for name in merged["params"]
            }
            setting_keys: dict[str, str] = {
                setting: f"{where}.rules.{key}.{setting}" if setting in override else f"{_key('rules')}.{key}.{setting}"
                for setting in ("mode", "engine", "source")
                if setting in merged
            }
            rule = self.effective_rule(origin, entry, merged, param_keys, setting_keys)
            if rule is not None:
                rules.append(rule)
        if len(self.problems) > before:
            return None
        return tuple(rules)


    # --- organization -------------------------------------------------------------------------

    def organization(
        self,
        raw: Any,
        raw_regions: Any,
        stack_rules: dict[str, dict[str, Any]],
        protected: frozenset[str],
        governed: Mapping[str, int],
    ) -> OrganizationSettings | None:
        """``governance:organization``; ``governed`` maps each id of ``governance:accounts`` to its index."""
        where = _key("organization")
        if not isinstance(raw, dict):
            self.problem(where, 'must be an object such as {adminAccountId: "999999999999", targets: [ou-ab12-11111111]}', raw)
            return None
        for field_name in raw:
            if field_name not in ORGANIZATION_KEYS:
                self.problem(f"{where}{_member(field_name)}", "is not an organization setting; allowed: " + ", ".join(ORGANIZATION_KEYS))
        before = len(self.problems)
        admin = self.account_id(f"{where}.adminAccountId", raw.get("adminAccountId"))
        admin_role = raw.get("adminRoleArn")
        partition = "aws"
        if admin_role is not None:
            partition = self.role_arn(f"{where}.adminRoleArn", admin_role, admin) or partition
        targets = self.organization_targets(f"{where}.targets", raw.get("targets"))
        # An optional key set to null (``key:`` with no value in YAML) is left out.
        excluded = self.excluded_accounts(f"{where}.excludeAccounts", _given(raw, "excludeAccounts", []), governed)
        member_role = _given(raw, "memberRoleName", DEFAULT_MEMBER_ROLE_NAME)
        if not isinstance(member_role, str) or not ROLE_NAME.fullmatch(member_role):
            self.problem(f"{where}.memberRoleName", "must be an IAM role name of 1-64 ASCII letters, digits or +=,.@_-", member_role)
        if not raw_regions:
            # Pulumi.yaml declares governance:regions with the default [] (unset).
            self.problem(_key("regions"), f"is required by {where}: the regions to govern in every account of its targets")
            regions = None
        else:
            regions = self.regions(_key("regions"), raw_regions, partition)
        overrides = self.organization_overrides(f"{where}.overrides", _given(raw, "overrides", []), targets, protected)
        profiles = self.profiles(where, targets or (), overrides, stack_rules, regions or ())
        if len(self.problems) > before or admin is None or targets is None or excluded is None or regions is None:
            return None
        return OrganizationSettings(
            admin_account_id=admin,
            admin_role_arn=admin_role,
            targets=targets,
            exclude_accounts=excluded,
            member_role_name=member_role,
            overrides=tuple(
                OrganizationOverride(name=override.name, targets=override.targets, rules=_frozen(override.rules)) for override in overrides
            ),
            profiles=profiles,
            partition=partition,
            regions=regions,
        )

    def organization_targets(self, key: str, raw: Any) -> tuple[str, ...] | None:
        """OU ids, or one root id, at most ``MAX_ORGANIZATION_TARGETS`` of them, each once."""
        if not isinstance(raw, list) or not raw:
            self.problem(key, "is required: a non-empty list of OU ids such as ou-ab12-11111111, or a root id such as r-ab12", raw)
            return None
        if len(raw) > MAX_ORGANIZATION_TARGETS:
            self.problem(key, f"must list at most {MAX_ORGANIZATION_TARGETS} targets (CloudFormation deploys to at most "
                              f"{MAX_ORGANIZATION_TARGETS} OUs per call), got {len(raw)} targets")
            return None
        targets: list[str] = []
        for index, target in enumerate(raw):
            at = f"{key}[{index}]"
            if not isinstance(target, str) or not (OU_ID.fullmatch(target) or ROOT_ID.fullmatch(target)):
                self.problem(at, "must be an OU id such as ou-ab12-11111111 or a root id such as r-ab12", target)
            elif target in targets:
                self.problem(at, "repeats a target; list each target once", target)
            else:
                targets.append(target)
        roots = [target for target in targets if ROOT_ID.fullmatch(target)]
        if roots and len(raw) > 1:
            self.problem(f"{key}[{raw.index(roots[0])}]", "is a root id, which already holds every OU: list the root alone or only OUs", roots[0])
            return None
        return tuple(targets) if len(targets) == len(raw) else None

    def excluded_accounts(self, key: str, raw: Any, governed: Mapping[str, int]) -> tuple[str, ...] | None:
        """Distinct account ids, none of them also listed in ``governance:accounts``."""
        if not isinstance(raw, list):
            self.problem(key, 'must be a list of 12-digit account id strings such as ["444444444444"]', raw)
            return None
        excluded: list[str] = []
        for index, value in enumerate(raw):
            at = f"{key}[{index}]"
            account_id = self.account_id(at, value)
            if account_id is None:
                continue
            if account_id in excluded:
                self.problem(at, "repeats an account; list each account once", account_id)
            elif account_id in governed:
                self.problem(at, f"is also listed in {_key('accounts')}[{governed[account_id]}]: an account cannot be both "
                                 "excluded and governed, so remove it from one of the two", account_id)
            else:
                excluded.append(account_id)
        return tuple(excluded) if len(excluded) == len(raw) else None

    def organization_overrides(
        self,
        key: str,
        raw: Any,
        targets: tuple[str, ...] | None,
        protected: frozenset[str],
    ) -> list[_RawOverride]:
        """Each override's targets and rule settings (shape checked, not merged); ``targets`` is ``None`` when invalid.

        An override with problems is still returned (its rules are merged and checked too); the problems stop the load.
        """
        if not isinstance(raw, list):
            self.problem(key, "must be a list of {targets, rules} objects", raw)
            return []
        overrides: list[_RawOverride] = []
        claimed: dict[str, int] = {}
        names: dict[str, str] = {}  # profile names taken, with the key that gave each
        for index, override in enumerate(raw):
            where = f"{key}[{index}]"
            if not isinstance(override, dict):
                self.problem(where, "must be an object such as {targets: [ou-ab12-22222222], rules: {restricted-admin-ports: {mode: detect}}}", override)
                overrides.append(_RawOverride("", (), {}))  # keeps the later overrides at their own index
                continue
            for field_name in override:
                if field_name not in ORGANIZATION_OVERRIDE_KEYS:
                    self.problem(f"{where}{_member(field_name)}", "is not an override setting; allowed: " + ", ".join(ORGANIZATION_OVERRIDE_KEYS))
            override_targets = self.override_targets(f"{where}.targets", override.get("targets"), targets, claimed, key)
            for target in override_targets:
                claimed.setdefault(target, index)
            if "rules" not in override:
                self.problem(f"{where}.rules", "is required: the rule settings of these targets, such as {restricted-admin-ports: {mode: detect}}")
            rules = self.rule_overrides(f"{where}.rules", override.get("rules"))
            for rule_key, settings in rules.items():
                if rule_key in protected and settings.get("mode") == "auto":
                    self.problem(f"{where}.rules.{rule_key}.mode", f"cannot be auto because {rule_key} is listed in "
                                                                   f"{_key('protectedRules')}; use manual or detect")
            name = self.profile_name(f"{where}.name", override.get("name"), override_targets, names)
            if name:
                names.setdefault(name, f"{where}.name" if "name" in override else f"{where}.targets[0]")
            overrides.append(_RawOverride(name, override_targets, rules))
        return overrides

    def profile_name(self, key: str, raw: Any, targets: tuple[str, ...], taken: Mapping[str, str]) -> str:
        """An override's profile name: ``name`` when given, else its first target's id; ``""`` when invalid or unknown."""
        if raw is None:
            if not targets:
                return ""  # the targets' own problem is enough
            name = targets[0]
        elif not isinstance(raw, str) or not PROFILE_NAME.fullmatch(raw):
            self.problem(key, "must be 1-68 lowercase letters, digits and dashes starting with a letter, such as sandbox; "
                              "the override's stack sets carry it", raw)
            return ""
        else:
            name = raw
        if name == BASE_PROFILE:
            self.problem(key, f"cannot be {BASE_PROFILE}, the name of the profile of the targets no override names; choose another name")
            return ""
        if name in taken:
            self.problem(key, f"names the profile {name}, which {taken[name]} names already; profile names must differ, "
                                "so give this override another name", name)
            return ""
        return name

    def override_targets(
        self,
        key: str,
        raw: Any,
        targets: tuple[str, ...] | None,
        claimed: Mapping[str, int],
        overrides_key: str,
    ) -> tuple[str, ...]:
        """Whole targets of ``governance:organization.targets``, none of them named by an earlier override."""
        if not isinstance(raw, list) or not raw:
            self.problem(key, f"must be a non-empty list of targets from {_key('organization')}.targets", raw)
            return ()
        if targets is None:
            return ()  # the organization's own targets are invalid: their problem is enough
        root = next((target for target in (*targets, *raw) if isinstance(target, str) and ROOT_ID.fullmatch(target)), None)
        picked: list[str] = []
        for index, target in enumerate(raw):
            at = f"{key}[{index}]"
            if root is not None:
                self.problem(at, f"cannot override the root {root} or any part of it: overrides pick whole targets, so "
                                 "list the OUs as targets instead of the root", target)
            elif target not in targets:
                self.problem(at, f"must be one of {_key('organization')}.targets ({', '.join(targets)}): overrides pick whole targets", target)
            elif target in picked:
                self.problem(at, "repeats a target; list each target once", target)
            elif target in claimed:
                self.problem(at, f"is already a target of {overrides_key}[{claimed[target]}]: each target may be in one "
                                 "override only, so merge the two overrides", target)
            else:
                picked.append(target)
        return tuple(picked)

    def profiles(
        self,
        where: str,
        targets: tuple[str, ...],
        overrides: Sequence[_RawOverride],
        stack_rules: dict[str, dict[str, Any]],
        regions: tuple[str, ...],
    ) -> tuple[RuleProfile, ...]:
        """The ``base`` profile (targets no override names) and one per override, with merged rules.

        A profile whose rules have problems is left out; the problems stop the load.
        """
        # Always merged, even when every target is overridden, so that governance:rules is checked on its own.
        base_rules = self.merged_rules(where, stack_rules, {})
        claimed = {target for override in overrides for target in override.targets}
        base_targets = tuple(target for target in targets if target not in claimed)
        candidates: list[tuple[str, str, tuple[str, ...], tuple[RuleSettings, ...] | None]] = []
        if base_targets:
            candidates.append((BASE_PROFILE, _key("rules"), base_targets, base_rules))
        for index, override in enumerate(overrides):
            at = f"{where}.overrides[{index}]"
            candidates.append((override.name, f"{at}.rules", override.targets, self.merged_rules(at, stack_rules, override.rules)))
        profiles: list[RuleProfile] = []
        for name, rules_key, profile_targets, profile_rules in candidates:
            if profile_rules is None:
                continue
            for rule in profile_rules:
                found = rule.entry.regions_check(rule.params, regions)
                if found:
                    self.problem(rule.param_key(found[0]), f"{found[1]} (accounts of {', '.join(profile_targets)})")
            profiles.append(RuleProfile(name=name, targets=profile_targets, rules=profile_rules, rules_key=rules_key))
        return tuple(profiles)


def load_settings(raw: Mapping[str, Any]) -> Settings:
    """Build ``Settings`` from raw config values keyed without namespace (``accounts``, ``rules``, ...).

    Raises ``ConfigError`` listing every problem, each as one sentence naming the key.
    """
    loader = _Loader()
    for name in raw:
        if name not in TOP_LEVEL_KEYS:
            loader.problem(_key(name), "is not a setting of this program; allowed: " + ", ".join(sorted(TOP_LEVEL_KEYS)))

    exemption_tag = raw.get("exemptionTag", DEFAULTS["exemptionTag"])
    if not isinstance(exemption_tag, str) or not TAG_KEY.fullmatch(exemption_tag) or exemption_tag.startswith("aws:"):
        loader.problem(_key("exemptionTag"), "must be a tag key of 1-128 characters that does not start with aws:", exemption_tag)
    retention = raw.get("logRetentionDays", DEFAULTS["logRetentionDays"])
    if retention not in LOG_RETENTION_DAYS or isinstance(retention, bool):
        loader.problem(_key("logRetentionDays"), "must be one of " + ", ".join(map(str, LOG_RETENTION_DAYS)), retention)
    prefix = raw.get("ruleNamePrefix", DEFAULTS["ruleNamePrefix"])
    if not isinstance(prefix, str) or not RULE_NAME_PREFIX.fullmatch(prefix):
        loader.problem(_key("ruleNamePrefix"), "must be up to 40 letters, digits, dashes or underscores", prefix)
    securityhub_updates = raw.get("securityHubUpdates", DEFAULTS["securityHubUpdates"])
    if not isinstance(securityhub_updates, bool):
        loader.problem(_key("securityHubUpdates"), "must be true or false", securityhub_updates)
    protected = raw.get("protectedRules", [])
    if not isinstance(protected, list) or not all(isinstance(key, str) and key in CATALOG for key in protected):
        loader.problem(_key("protectedRules"), "must be a list of rule keys from: " + ", ".join(CATALOG), protected)
        protected = []
    remediation = loader.int_group("remediation", raw.get("remediation"), REMEDIATION_KEYS)
    delivery = loader.int_group("delivery", raw.get("delivery"), DELIVERY_KEYS)

    stack_rules = loader.rule_overrides(_key("rules"), raw.get("rules"))
    accounts: list[Account] = []
    raw_accounts = raw.get("accounts")
    in_organization = raw.get("organization") is not None
    if in_organization and raw_accounts in (None, []):
        raw_accounts = []  # the organization's accounts are governed through its targets
    elif not isinstance(raw_accounts, list) or not raw_accounts:
        loader.problem(
            _key("accounts"),
            f'is required unless {_key("organization")} is set: a non-empty list of accounts such as [{{id: "123456789012"}}]',
            raw_accounts,
        )
        raw_accounts = []
    seen: set[str] = set()
    without_role = 0
    for index, raw_account in enumerate(raw_accounts):
        account = loader.account(index, raw_account, raw.get("regions"), stack_rules)
        if account is None:
            continue
        if account.id in seen:
            loader.problem(f"{_key('accounts')}[{index}].id", "repeats an account; list each account once", account.id)
            continue
        seen.add(account.id)
        if account.role_arn is None:
            without_role += 1
            if without_role > 1:
                loader.problem(
                    f"{_key('accounts')}[{index}].roleArn",
                    "is required: at most one account may omit it and use the stack's own credentials",
                )
        accounts.append(account)

    operations = loader.operations(raw.get("notifications"), raw.get("alarms"), accounts)
    organization = None
    if in_organization:
        governed = {
            account["id"]: index for index, account in reversed(list(enumerate(raw_accounts)))
            if isinstance(account, dict) and isinstance(account.get("id"), str)
        }
        organization = loader.organization(raw["organization"], raw.get("regions"), stack_rules, frozenset(protected), governed)

    if loader.problems:
        # A stack-level mistake shows in every account that merges it: report it once.
        raise ConfigError(list(dict.fromkeys(loader.problems)))
    return Settings(
        accounts=tuple(accounts),
        remediation=RemediationControls(
            maximum_automatic_attempts=remediation["maximumAutomaticAttempts"],
            retry_attempt_seconds=remediation["retryAttemptSeconds"],
            concurrent_execution_rate_percentage=remediation["concurrentExecutionRatePercentage"],
            error_percentage=remediation["errorPercentage"],
        ),
        delivery=DeliverySettings(
            event_retry_attempts=delivery["eventRetryAttempts"],
            event_max_age_seconds=delivery["eventMaxAgeSeconds"],
            lambda_retry_attempts=delivery["lambdaRetryAttempts"],
            lambda_max_age_seconds=delivery["lambdaMaxAgeSeconds"],
        ),
        exemption_tag=exemption_tag,
        log_retention_days=retention,
        rule_name_prefix=prefix,
        securityhub_updates=securityhub_updates,
        protected_rules=frozenset(protected),
        operations=operations,
        organization=organization,
    )
