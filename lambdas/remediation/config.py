"""The deployment config: which rules this function manages, how, and with which params.

The Pulumi program writes it, already validated, as JSON into the ``GOVERNANCE_CONFIG``
environment variable (format in docs/lambda-engine.md: rules keyed by rule key, the program's own
Config rules named by ``ruleNamePrefix``, so that it fits Lambda's 4 KB environment). It is parsed
once per container; if it is invalid, every event becomes a warning-level "ignored" record naming
the problem, and nothing is changed.

A rule's params are checked by its fixer on the first event of that rule, not when the config is
parsed: a cold start then imports only the fixer its event needs, whatever the number of rules
the deployment configures. The program has validated the params before deploying them; if they
are invalid all the same, that rule's events become warning-level "ignored" records naming the
field, and the other rules work on.

``protectedRules`` lists rule keys that must never be remediated automatically in this stack (the
stack's ``governance:protectedRules``; a person presses Remediate for them). The policy pack
refuses a deployment that runs one in ``auto``; the Lambda enforces it again, in case the pack was
bypassed: a protected rule is handled in ``manual`` mode whatever its configured mode, and such
events end in a warning-level dry run that says why. Refusing the whole config instead would stop
every other rule's remediation, so only the protected rule is held back.

``organization`` (optional) makes the function an organization hub: compliance events of member
accounts, forwarded to the hub's bus, are fixed through ``memberRoleName`` in accounts under
``targets`` (OU ids or the root id) and not in ``excludeAccounts``. Without it, only the
function's own account is handled.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal

from .fixers import RULE_KEYS, load_fixer

ENVIRONMENT_VARIABLE = "GOVERNANCE_CONFIG"
"""Environment variable that holds the deployment config."""

Mode = Literal["auto", "manual"]
MODES: tuple[Mode, ...] = ("auto", "manual")


ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
"""An IAM role name (without path)."""
ORGANIZATION_TARGET = re.compile(r"ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32}")
"""An OU id or a root id (CloudFormation's ``OrganizationalUnitId`` pattern)."""
ACCOUNT_ID = re.compile(r"[0-9]{12}")
MEMBER_ACCOUNT = "<AWS.AccountId>"
"""In an organization hub's params: the account of the event, filled in per event (the member's own flow-log role)."""


class ConfigError(ValueError):
    """The deployment config is invalid; the message names the field."""


@dataclass(frozen=True)
class RuleSetting:
    """How one managed Config rule is handled."""

    key: str
    """Rule key, which selects the fixer."""
    mode: Mode
    """``auto`` changes resources; ``manual`` records the planned change only."""
    raw_params: Mapping[str, Any] = field(default_factory=dict)
    """The params as the config holds them; ``params`` types them."""
    auto_refused: bool = False
    """The config asked for ``auto`` but the key is protected, so ``mode`` was set to ``manual``."""
    where: str = "rules"
    """Where the setting is in the config, for messages (``rules.<name>``)."""

    @cached_property
    def params(self) -> Any:
        """The fixer's typed params, parsed on first use; raises ConfigError naming the bad field."""
        try:
            return load_fixer(self.key).parse_params(self.raw_params)
        except ValueError as error:
            raise ConfigError(f"{self.where}.{error}") from error

    def for_account(self, account_id: str) -> RuleSetting:
        """The setting for a member account: ``MEMBER_ACCOUNT`` in its params replaced by ``account_id``."""
        if MEMBER_ACCOUNT not in json.dumps(self.raw_params):
            return self
        return replace(self, raw_params=_with_account(self.raw_params, account_id))

    def params_problem(self) -> ConfigError | None:
        """Why the params are invalid, or None once they are parsed."""
        try:
            self.params  # noqa: B018  (the parse is the point)
        except ConfigError as error:
            return error
        return None


@dataclass(frozen=True)
class RunbookSetting:
    """An SSM runbook whose outcomes this function records."""

    key: str
    mode: Mode
    resource_parameter: str | None
    """Runbook parameter that carries the resource id, or None when it takes none."""


@dataclass(frozen=True)
class ProfileRule:
    """A rule profile's own setting for one rule key: how it is fixed, and where its events come from."""

    setting: RuleSetting | None
    """None: accounts of the profile's targets do not have the Lambda fix this rule."""
    security_hub_prefixes: tuple[str, ...] | None = None
    """The Security Hub rule-name prefixes when the profile takes Security Hub's rule; None for the program's own."""


@dataclass(frozen=True)
class ProfileSetting:
    """A rule profile whose Lambda rules differ from the config's ``rules``: its targets and its differences."""

    targets: tuple[str, ...]
    rules: Mapping[str, ProfileRule]
    """By rule key; a key not listed is handled as ``rules`` says."""


@dataclass(frozen=True)
class OrganizationSetting:
    """The hub's reach: which member accounts it governs, and through which role."""

    member_role_name: str
    """The role the function assumes in each member account (same name everywhere)."""
    targets: tuple[str, ...]
    """OU ids and root ids; accounts anywhere below them are governed."""
    exclude_accounts: tuple[str, ...] = ()
    """Accounts never governed, wherever they are."""
    profiles: tuple[ProfileSetting, ...] = ()
    """Rule profiles that differ from ``rules``, each for some of ``targets``."""

    def profile_for(self, target: str) -> ProfileSetting | None:
        """The profile of the accounts under ``target``; None when they take the config's ``rules``."""
        return next((profile for profile in self.profiles if target in profile.targets), None)


@dataclass(frozen=True)
class DeploymentConfig:
    """The parsed ``GOVERNANCE_CONFIG``."""

    exemption_tag: str
    security_hub_updates: bool
    result_event_source: str
    rules: Mapping[str, RuleSetting]
    """By exact Config rule name: the rule-name prefix and the rule key."""
    rule_prefixes: tuple[tuple[str, RuleSetting], ...]
    """Security Hub rule-name prefixes (trailing dash included), longest first."""
    ssm_runbooks: Mapping[str, RunbookSetting]
    """By SSM document name."""
    organization: OrganizationSetting | None = None
    """Set for an organization hub; None: only the function's own account is handled."""

    def rule_for(self, rule_name: str) -> tuple[RuleSetting, bool] | None:
        """The setting for a Config rule name, and whether it is a Security Hub rule; None if unmanaged."""
        setting = self.rules.get(rule_name)
        if setting is not None:
            return setting, False
        for prefix, prefixed in self.rule_prefixes:
            if rule_name.startswith(prefix) and len(rule_name) > len(prefix):
                return prefixed, True
        return None


def parse_config(raw: str | None) -> DeploymentConfig:
    """Parse and validate the deployment config; raises ConfigError naming the bad field."""
    if not raw:
        raise ConfigError(f"{ENVIRONMENT_VARIABLE} is not set")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{ENVIRONMENT_VARIABLE} is not valid JSON ({error.msg} at position {error.pos})") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{ENVIRONMENT_VARIABLE} must be a JSON object")
    if data.get("version") != 2:
        raise ConfigError("version must be 2")
    exemption_tag = data.get("exemptionTag")
    if not isinstance(exemption_tag, str) or not 1 <= len(exemption_tag) <= 128:
        raise ConfigError("exemptionTag must be a tag key (1-128 characters)")
    security_hub_updates = data.get("securityHubUpdates", False)
    if not isinstance(security_hub_updates, bool):
        raise ConfigError("securityHubUpdates must be true or false")
    source = data.get("resultEventSource")
    if not isinstance(source, str) or not source or source.startswith("aws."):
        raise ConfigError("resultEventSource must be a non-empty event source that does not start with aws.")
    name_prefix = data.get("ruleNamePrefix")
    if not isinstance(name_prefix, str):
        raise ConfigError("ruleNamePrefix must be a string (empty when the stack's prefix is)")
    protected = data.get("protectedRules", [])
    if not isinstance(protected, list) or not all(key in RULE_KEYS for key in protected):
        raise ConfigError(f"protectedRules must be a list of rule keys from: {', '.join(RULE_KEYS)}")
    rules: dict[str, RuleSetting] = {}
    prefixes: dict[str, RuleSetting] = {}
    for key, value in _object(data, "rules").items():
        setting = _protect(_rule_setting(key, value), protected)
        hub_prefixes = _security_hub_prefixes(f"rules.{key}", value)
        if hub_prefixes is None:
            rules[f"{name_prefix}{key}"] = setting
        else:
            prefixes.update(dict.fromkeys(hub_prefixes, setting))
    runbooks = {name: _runbook_setting(f"ssmRunbooks.{name}", value) for name, value in _object(data, "ssmRunbooks").items()}
    organization = _organization(data.get("organization"), protected)
    # A profile's own rule names and prefixes match events too: the handler then takes the account's profile's setting.
    for profile in organization.profiles if organization else ():
        for key, rule in profile.rules.items():
            if rule.setting is None:
                continue
            if rule.security_hub_prefixes is None:
                rules.setdefault(f"{name_prefix}{key}", rule.setting)
            else:
                for prefix in rule.security_hub_prefixes:
                    prefixes.setdefault(prefix, rule.setting)
    return DeploymentConfig(
        exemption_tag=exemption_tag,
        security_hub_updates=security_hub_updates,
        result_event_source=source,
        rules=rules,
        rule_prefixes=tuple(sorted(prefixes.items(), key=lambda item: -len(item[0]))),
        ssm_runbooks=runbooks,
        organization=organization,
    )


_LOADED: dict[str | None, DeploymentConfig | ConfigError] = {}


def load_config(raw: str | None) -> DeploymentConfig | ConfigError:
    """The parsed config for ``raw``, parsed once per container; the error if it is invalid."""
    if raw not in _LOADED:
        try:
            _LOADED[raw] = parse_config(raw)
        except ConfigError as error:
            _LOADED[raw] = error
    return _LOADED[raw]


def _with_account(value: Any, account_id: str) -> Any:
    """``value`` with ``MEMBER_ACCOUNT`` replaced by ``account_id`` in every string."""
    if isinstance(value, str):
        return value.replace(MEMBER_ACCOUNT, account_id)
    if isinstance(value, Mapping):
        return {key: _with_account(item, account_id) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_account(item, account_id) for item in value]
    return value


def _object(data: Mapping[str, Any], name: str, where: str | None = None) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict) or not all(isinstance(key, str) and key for key in value):
        raise ConfigError(f"{where or name} must be an object keyed by name")
    return value


def _mode(where: str, value: Any) -> Mode:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be an object")
    mode = value.get("mode")
    if mode not in MODES:
        raise ConfigError(f"{where}.mode must be auto or manual")
    return mode


def _rule_setting(key: str, value: Any, section: str = "rules") -> RuleSetting:
    where = f"{section}.{key}"
    if key not in RULE_KEYS:
        raise ConfigError(f"{where} is not a rule key; rules are keyed by one of {', '.join(RULE_KEYS)}")
    mode = _mode(where, value)
    raw_params = value.get("params", {})
    if not isinstance(raw_params, dict):
        raise ConfigError(f"{where}.params must be an object")
    return RuleSetting(key, mode, raw_params, where=where)


def _security_hub_prefixes(where: str, value: Mapping[str, Any]) -> list[str] | None:
    """The Security Hub rule-name prefixes of a rule taken from Security Hub; None for the program's own rule."""
    prefixes = value.get("securityHubPrefixes")
    if prefixes is None:
        return None
    if not isinstance(prefixes, list) or not prefixes or not all(isinstance(prefix, str) and prefix.endswith("-") for prefix in prefixes):
        raise ConfigError(f"{where}.securityHubPrefixes must be a non-empty list of rule-name prefixes ending in a dash")
    return prefixes


def _protect(setting: RuleSetting, protected: list[str]) -> RuleSetting:
    """A protected rule's setting in manual mode, remembering when auto was asked for."""
    if setting.key not in protected or setting.mode == "manual":
        return setting
    return replace(setting, mode="manual", auto_refused=True)


def _runbook_setting(where: str, value: Any) -> RunbookSetting:
    mode = _mode(where, value)
    key = value.get("key")
    if key not in RULE_KEYS:
        raise ConfigError(f"{where}.key must be one of {', '.join(RULE_KEYS)}")
    parameter = value.get("resourceParameter")
    if parameter is not None and (not isinstance(parameter, str) or not parameter):
        raise ConfigError(f"{where}.resourceParameter must be a parameter name or null")
    return RunbookSetting(key, mode, parameter)


def _organization(value: Any, protected: list[str]) -> OrganizationSetting | None:
    """The ``organization`` section, or None when the config has none."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConfigError("organization must be an object with memberRoleName, targets and excludeAccounts")
    role = value.get("memberRoleName")
    if not isinstance(role, str) or not ROLE_NAME.fullmatch(role):
        raise ConfigError("organization.memberRoleName must be an IAM role name (1-64 letters, digits or +=,.@_-)")
    targets = value.get("targets")
    if (
        not isinstance(targets, list)
        or not targets
        or not all(isinstance(target, str) and ORGANIZATION_TARGET.fullmatch(target) for target in targets)
    ):
        raise ConfigError("organization.targets must be a non-empty list of OU ids (ou-...) or root ids (r-...)")
    excluded = value.get("excludeAccounts", [])
    if not isinstance(excluded, list) or not all(isinstance(account, str) and ACCOUNT_ID.fullmatch(account) for account in excluded):
        raise ConfigError("organization.excludeAccounts must be a list of account ids (12 digits)")
    raw_profiles = value.get("profiles", [])
    if not isinstance(raw_profiles, list):
        raise ConfigError("organization.profiles must be a list of {targets, rules} objects")
    profiles = tuple(_profile(f"organization.profiles[{index}]", raw, targets, protected) for index, raw in enumerate(raw_profiles))
    claimed = [target for profile in profiles for target in profile.targets]
    if len(claimed) != len(set(claimed)):
        raise ConfigError("organization.profiles must name each target in one profile at most")
    return OrganizationSetting(role, tuple(dict.fromkeys(targets)), tuple(dict.fromkeys(excluded)), profiles)


def _profile(where: str, value: Any, targets: list[str], protected: list[str]) -> ProfileSetting:
    """One entry of ``organization.profiles``: some of the targets, and rule settings by key (null: not fixed there)."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be an object with targets and rules")
    profile_targets = value.get("targets")
    if not isinstance(profile_targets, list) or not profile_targets or not all(target in targets for target in profile_targets):
        raise ConfigError(f"{where}.targets must be a non-empty list of entries of organization.targets")
    rules: dict[str, ProfileRule] = {}
    section = f"{where}.rules"
    for key, entry in _object(value, "rules", section).items():
        if entry is None:
            if key not in RULE_KEYS:
                raise ConfigError(f"{section}.{key} is not a rule key; rules are keyed by one of {', '.join(RULE_KEYS)}")
            rules[key] = ProfileRule(None)
            continue
        setting = _protect(_rule_setting(key, entry, section), protected)
        prefixes = _security_hub_prefixes(f"{section}.{key}", entry)
        rules[key] = ProfileRule(setting, tuple(prefixes) if prefixes is not None else None)
    return ProfileSetting(tuple(dict.fromkeys(profile_targets)), rules)
