"""The guardrails of the governance policy pack, as plain importable functions.

Each validator has the signature CrossGuard expects (``args, report_violation``) and can be called
directly in tests. ``POLICIES`` wraps them in ``ResourceValidationPolicy`` / ``StackValidationPolicy``
objects; constructing those starts nothing (only ``PolicyPack`` in ``__main__.py`` serves gRPC).

What the engine passes:

- resource policies see a resource's *inputs*, stack policies see every resource's *outputs*; both use
  camelCase wire names (``assumeRolePolicy``, ``deadLetterConfig``, ``configRuleName``);
- during ``pulumi preview`` a value computed from another resource (a queue's ARN, say) is unknown, and
  reading it through the engine's proxy raises ``UnknownValueError``. An unknown value aborts the whole
  policy with a "can't run during preview" warning, so every read here goes through ``lookup``, which
  turns unknown into ``UNKNOWN``. A check that needs an unknown value skips that one item; a value that
  is known to be absent is still a violation.

This module depends only on the standard library and ``pulumi_policy``: the pack's own virtualenv holds
nothing else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

PACK_NAME = "governance-guardrails"
"""Name of the policy pack (``PolicyPack`` name and the prefix of every violation)."""

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
MANAGED_POLICY = "aws:iam/policy:Policy"
CONFIG_RULE = "aws:cfg/rule:Rule"
REMEDIATION = "aws:cfg/remediationConfiguration:RemediationConfiguration"
FUNCTION = "aws:lambda/function:Function"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"

LAMBDA_CONFIG_VARIABLE = "GOVERNANCE_CONFIG"
"""Environment variable holding the remediation Lambda's JSON config (rules, modes, protected rules)."""
RULE_TAG = "governance:rule"
MODE_TAG = "governance:mode"
PROTECTED_TAG = "governance:protected"

SOURCE_ARN_SERVICES = frozenset({"ssm.amazonaws.com", "vpc-flow-logs.amazonaws.com"})
"""Services whose trust statements must also carry ``aws:SourceArn`` (they document that they send it).

Every service principal needs ``aws:SourceAccount``; Lambda is not listed here because the program's
facts do not confirm that Lambda sends ``aws:SourceArn`` when it assumes an execution role.
"""

_UNKNOWN_SENTINELS = frozenset({
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
})
_ACCOUNT_ID = re.compile(r"\d{12}")
_FUNCTION_ARN = re.compile(r"arn:[\w-]+:lambda:[\w-]*:\d*:function:(?P<name>[^:]+)(?::.*)?")


class _Marker:
    """A named sentinel that ``lookup`` returns instead of a value."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


MISSING = _Marker("MISSING")
"""``lookup`` result: the property is absent or null."""
UNKNOWN = _Marker("UNKNOWN")
"""``lookup`` result: the property is not known yet (preview of a value computed from another resource)."""


def is_unknown(value: Any) -> bool:
    """Whether ``value`` is the engine's placeholder for a value computed later."""
    return isinstance(value, str) and value in _UNKNOWN_SENTINELS


def lookup(value: Any, *path: str | int) -> Any:
    """The value at ``path`` inside ``value``, or ``MISSING`` / ``UNKNOWN``; never raises for either."""
    current = value
    for key in path:
        if is_unknown(current):
            return UNKNOWN
        try:
            if isinstance(current, Mapping):
                if key not in current:
                    return MISSING
                current = current[key]
            elif isinstance(current, Sequence) and not isinstance(current, str) and isinstance(key, int):
                if not -len(current) <= key < len(current):
                    return MISSING
                current = current[key]
            else:
                return MISSING
        except UnknownValueError:
            return UNKNOWN
        if current is None:
            return MISSING
    if is_unknown(current):
        return UNKNOWN
    return current


def _as_list(value: Any) -> list[Any]:
    """A statement field that IAM accepts as one value or a list, as a list."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        return [value]
    return [value[index] for index in range(len(value))]


def _is_known(value: Any) -> bool:
    return value is not MISSING and value is not UNKNOWN


def _policy_document(raw: Any) -> Mapping[str, Any] | str | None:
    """A policy document from a JSON string (or an object); an error sentence if it cannot be read."""
    if isinstance(raw, Mapping):
        return raw
    if not isinstance(raw, str):
        return "is not a JSON policy document"
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as error:
        return f"is not valid JSON ({error.msg})"
    if not isinstance(document, dict):
        return "is not a JSON object"
    return document


def _statements(document: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """``(label, statement)`` for each statement, labelled by Sid or index for messages."""
    raw = lookup(document, "Statement")
    if not _is_known(raw):
        return []
    result = []
    for index, statement in enumerate(_as_list(raw)):
        if isinstance(statement, Mapping):
            sid = lookup(statement, "Sid")
            label = f"statement {sid!r}" if isinstance(sid, str) and sid else f"statement {index}"
            result.append((label, statement))
    return result


def _allows(statement: Mapping[str, Any]) -> bool:
    return bool(lookup(statement, "Effect") == "Allow")


# --- IAM: confused-deputy conditions on trust policies ------------------------------------------


def _condition_values(statement: Mapping[str, Any], condition_key: str) -> list[Any] | None:
    """Values a statement's Condition requires for ``condition_key``, or None when it does not require it.

    Operators that pass when the key is absent (``...IfExists``, ``ForAllValues:...``) and ``Null`` do not
    count: an absent key is exactly the confused-deputy case. Condition keys are case-insensitive in IAM.
    """
    conditions = lookup(statement, "Condition")
    if not isinstance(conditions, Mapping):
        return None
    wanted = condition_key.lower()
    for operator in conditions:
        if operator.endswith("IfExists") or operator.startswith(("Null", "ForAllValues:")):
            continue
        block = lookup(conditions, operator)
        if not isinstance(block, Mapping):
            continue
        for key in block:
            if key.lower() == wanted:
                return _as_list(lookup(block, key))
    return None


def trust_policy_problems(document: Any) -> list[str]:
    """Why a role's trust policy lets an AWS service act for someone else (empty when it is safe).

    Every ``Allow`` statement that trusts a service principal must require ``aws:SourceAccount`` (a
    12-digit account, no wildcard); services in ``SOURCE_ARN_SERVICES`` must also require
    ``aws:SourceArn``. A statement that trusts any principal (``*``) is always a problem.
    """
    parsed = _policy_document(document)
    if isinstance(parsed, str):
        return [f"the trust policy {parsed}"]
    if parsed is None:
        return []
    problems: list[str] = []
    for label, statement in _statements(parsed):
        if not _allows(statement):
            continue
        principal = lookup(statement, "Principal")
        if principal == "*" or (isinstance(principal, Mapping) and "*" in _as_list(lookup(principal, "AWS"))):
            problems.append(f"{label} trusts any principal (*); name the service or account instead")
            continue
        services = lookup(principal, "Service") if isinstance(principal, Mapping) else MISSING
        if not _is_known(services):
            continue
        names = sorted(str(service) for service in _as_list(services))
        accounts = _condition_values(statement, "aws:SourceAccount")
        if accounts is None:
            problems.append(
                f"{label} lets {', '.join(names)} assume the role without an aws:SourceAccount condition; "
                'add "Condition": {"StringEquals": {"aws:SourceAccount": "<account id>"}}'
            )
        elif not all(is_unknown(account) or (isinstance(account, str) and _ACCOUNT_ID.fullmatch(account)) for account in accounts):
            problems.append(f"{label} has aws:SourceAccount {accounts}; it must name 12-digit account ids, no wildcards")
        needs_arn = [name for name in names if name in SOURCE_ARN_SERVICES]
        if needs_arn and _condition_values(statement, "aws:SourceArn") is None:
            problems.append(
                f"{label} lets {', '.join(needs_arn)} assume the role without an aws:SourceArn condition; "
                'add "ArnLike": {"aws:SourceArn": "arn:aws:<service>:*:<account id>:<resource>/*"}'
            )
    return problems


def validate_role_trust(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """An IAM role that a service assumes carries the confused-deputy conditions."""
    if args.resource_type != ROLE:
        return
    document = lookup(args.props, "assumeRolePolicy")
    if not _is_known(document):
        return
    for problem in trust_policy_problems(document):
        report_violation(f"Role {args.name}: {problem}.", None)


# --- IAM: no wildcard actions -------------------------------------------------------------------


def wildcard_action_problems(document: Any) -> list[str]:
    """``Allow`` statements of a permissions policy whose actions use ``*`` or ``NotAction``."""
    parsed = _policy_document(document)
    if isinstance(parsed, str):
        return [f"the policy {parsed}"]
    if parsed is None:
        return []
    problems: list[str] = []
    for label, statement in _statements(parsed):
        if not _allows(statement):
            continue
        if _is_known(lookup(statement, "NotAction")):
            problems.append(f"{label} allows NotAction, i.e. every other action; list the actions it needs")
        actions = lookup(statement, "Action")
        if not _is_known(actions):
            continue
        wild = [action for action in _as_list(actions) if isinstance(action, str) and "*" in action]
        if wild:
            problems.append(f"{label} allows wildcard actions {wild}; list the exact actions the remediation needs")
    return problems


def validate_no_wildcard_actions(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """No inline role policy or managed policy allows an action with a wildcard."""
    if args.resource_type not in (ROLE_POLICY, MANAGED_POLICY):
        return
    document = lookup(args.props, "policy")
    if not _is_known(document):
        return
    for problem in wildcard_action_problems(document):
        report_violation(f"Policy {args.name}: {problem}.", None)


# --- EventBridge: dead-letter queue on every target ---------------------------------------------


def validate_event_target_dead_letter(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """An EventBridge target keeps what it cannot deliver in a dead-letter queue."""
    if args.resource_type != EVENT_TARGET:
        return
    arn = lookup(args.props, "deadLetterConfig", "arn")
    if arn is UNKNOWN or (isinstance(arn, str) and arn):
        return  # unknown in preview: the queue's ARN is only known once the queue exists
    report_violation(
        f"EventTarget {args.name} has no deadLetterConfig.arn: events EventBridge cannot deliver after its "
        "retries would be lost. Set dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=queue.arn).",
        None,
    )


# --- Lambda: on-failure destination for every function ------------------------------------------


def _provider_urn(resource: PolicyResource) -> str:
    return resource.provider.urn if resource.provider is not None else ""


def _function_name(value: Any) -> str | None:
    """A Lambda function name from a name, a (partial) ARN or a qualified ARN."""
    if not isinstance(value, str) or is_unknown(value) or not value:
        return None
    match = _FUNCTION_ARN.fullmatch(value)
    if match:
        return match.group("name")
    if value.startswith("function:") or ":function:" in value:
        return value.split("function:", 1)[1].split(":", 1)[0]
    return value.split(":", 1)[0]


def _placement(resource: PolicyResource) -> tuple[str, str]:
    """Where a regional resource lives: its provider (account) and region."""
    region = lookup(resource.props, "region")
    return _provider_urn(resource), region if isinstance(region, str) else ""


def _on_failure_destination(invoke_config: PolicyResource) -> Any:
    return lookup(invoke_config.props, "destinationConfig", "onFailure", "destination")


def validate_lambda_on_failure(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every Lambda function has a FunctionEventInvokeConfig whose onFailure destination is set.

    Functions and invoke configs are matched by provider (account), region and function name, or by the
    invoke config depending on the function; a function whose name is unknown in preview is skipped.
    """
    configs_by_key: dict[tuple[str, str, str], list[PolicyResource]] = {}
    configs_by_dependency: dict[str, list[PolicyResource]] = {}
    for resource in args.resources:
        if resource.resource_type != INVOKE_CONFIG:
            continue
        name = _function_name(lookup(resource.props, "functionName"))
        if name is not None:
            configs_by_key.setdefault((*_placement(resource), name), []).append(resource)
        for dependency in resource.property_dependencies.get("functionName", []):
            configs_by_dependency.setdefault(dependency.urn, []).append(resource)

    for function in args.resources:
        if function.resource_type != FUNCTION:
            continue
        name = _function_name(lookup(function.props, "name"))
        configs = list(configs_by_dependency.get(function.urn, []))
        if name is not None:
            configs.extend(configs_by_key.get((*_placement(function), name), []))
        elif not configs:
            continue  # name unknown in preview and nothing depends on it yet
        label = name or function.name
        if not configs:
            report_violation(
                f"Lambda function {label} has no FunctionEventInvokeConfig: failed asynchronous invocations "
                "would be dropped after Lambda's retries. Add one with destination_config.on_failure.",
                function.urn,
            )
            continue
        destinations = [_on_failure_destination(config) for config in configs]
        if not any(destination is UNKNOWN or (isinstance(destination, str) and destination) for destination in destinations):
            report_violation(
                f"Lambda function {label} has a FunctionEventInvokeConfig without destinationConfig.onFailure.destination: "
                "failed asynchronous invocations would be dropped. Send them to the dead-letter queue.",
                function.urn,
            )


# --- Protected rules are never automatic --------------------------------------------------------


@dataclass(frozen=True)
class _RuleInfo:
    key: str | None
    protected: bool
    mode: str | None


def _tag(resource: PolicyResource, tag: str) -> Any:
    value = lookup(resource.props, "tags", tag)
    return value if _is_known(value) else None


def _lambda_config(resource: PolicyResource) -> Mapping[str, Any] | None:
    raw = lookup(resource.props, "environment", "variables", LAMBDA_CONFIG_VARIABLE)
    if not isinstance(raw, str) or is_unknown(raw):
        return None
    try:
        config = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return config if isinstance(config, dict) else None


def _string_list(value: Any) -> Iterator[str]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        yield from (item for item in value if isinstance(item, str) and not is_unknown(item))


def protected_rule_keys(resources: Iterable[PolicyResource], extra: Iterable[str] = ()) -> frozenset[str]:
    """Rule keys the stack marks as protected: Config rule tags, the Lambda's config, and ``extra``."""
    keys = set(extra)
    for resource in resources:
        if resource.resource_type == CONFIG_RULE and _tag(resource, PROTECTED_TAG) == "true":
            key = _tag(resource, RULE_TAG)
            if isinstance(key, str):
                keys.add(key)
        elif resource.resource_type == FUNCTION:
            config = _lambda_config(resource)
            if config is not None:
                keys.update(_string_list(config.get("protectedRules")))
    return frozenset(keys)


def validate_protected_rules(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """No rule the stack protects (``governance:protectedRules``) is remediated automatically.

    Flags a RemediationConfiguration with ``automatic: true`` on a protected rule's Config rule, a Config
    rule tagged both protected and ``auto``, and a Lambda whose config runs a protected rule in ``auto``.
    The policy config ``protectedRules`` adds keys to the ones the stack marks.
    """
    extra = list(_string_list(lookup(args.get_config(), "protectedRules")))
    protected = protected_rule_keys(args.resources, extra)
    if not protected:
        return

    rules_by_name: dict[str, list[_RuleInfo]] = {}
    for resource in args.resources:
        if resource.resource_type != CONFIG_RULE:
            continue
        key = _tag(resource, RULE_TAG)
        mode = _tag(resource, MODE_TAG)
        info = _RuleInfo(
            key=key if isinstance(key, str) else None,
            protected=_tag(resource, PROTECTED_TAG) == "true" or key in protected,
            mode=mode if isinstance(mode, str) else None,
        )
        name = lookup(resource.props, "name")
        if isinstance(name, str) and not is_unknown(name):
            rules_by_name.setdefault(name, []).append(info)
        if info.protected and info.mode == "auto":
            report_violation(
                f"Config rule {name if _is_known(name) else resource.name} ({info.key}) is protected in this stack "
                "but tagged governance:mode=auto; use manual or detect.",
                resource.urn,
            )

    for resource in args.resources:
        if resource.resource_type == REMEDIATION:
            _check_remediation(resource, rules_by_name, report_violation)
        elif resource.resource_type == FUNCTION:
            _check_lambda_modes(resource, protected, report_violation)


def _check_remediation(
    resource: PolicyResource,
    rules_by_name: Mapping[str, list[_RuleInfo]],
    report_violation: ReportViolation,
) -> None:
    if lookup(resource.props, "automatic") is not True:
        return  # false, absent, or unknown in preview
    rule_name = lookup(resource.props, "configRuleName")
    if not isinstance(rule_name, str) or is_unknown(rule_name):
        return
    protected = [info for info in rules_by_name.get(rule_name, []) if info.protected]
    if protected:
        key = protected[0].key or rule_name
        report_violation(
            f"RemediationConfiguration {resource.name} remediates protected rule {key} (Config rule {rule_name}) "
            f"automatically. Set governance:rules.{key}.mode to manual in this stack, or remove it from "
            "governance:protectedRules in a reviewed change.",
            resource.urn,
        )


def _check_lambda_modes(resource: PolicyResource, protected: frozenset[str], report_violation: ReportViolation) -> None:
    config = _lambda_config(resource)
    if config is None:
        return
    entries = config.get("rules")
    if not isinstance(entries, dict):
        return
    for key, settings in sorted(entries.items()):
        if isinstance(settings, dict) and settings.get("mode") == "auto" and key in protected:
            report_violation(
                f"Lambda function {resource.name} remediates protected rule {key} automatically "
                f"({LAMBDA_CONFIG_VARIABLE}.rules[{key!r}].mode is auto). Set governance:rules.{key}.mode "
                "to manual in this stack.",
                resource.urn,
            )


# --- The policies --------------------------------------------------------------------------------

POLICIES: list[Policy] = [
    ResourceValidationPolicy(
        name="iam-trust-confused-deputy",
        description="Roles that AWS services assume require aws:SourceAccount (and aws:SourceArn where the service sends it).",
        validate=validate_role_trust,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
    ),
    ResourceValidationPolicy(
        name="iam-no-wildcard-actions",
        description="Remediation roles list the exact actions they need: no '*' in Action, no Allow with NotAction.",
        validate=validate_no_wildcard_actions,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
    ),
    ResourceValidationPolicy(
        name="eventbridge-target-dead-letter-queue",
        description="EventBridge targets send undeliverable events to a dead-letter queue.",
        validate=validate_event_target_dead_letter,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.MEDIUM,
    ),
    StackValidationPolicy(
        name="lambda-on-failure-destination",
        description="Every Lambda function has an asynchronous invoke config with an onFailure destination.",
        validate=validate_lambda_on_failure,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.MEDIUM,
    ),
    StackValidationPolicy(
        name="protected-rules-never-auto",
        description="Rules listed in governance:protectedRules are never remediated automatically in that stack.",
        validate=validate_protected_rules,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.CRITICAL,
        config_schema=PolicyConfigSchema(
            properties={
                "protectedRules": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Rule keys protected in every stack, in addition to the stack's governance:protectedRules.",
                },
            },
        ),
    ),
]
"""Every policy of the pack, in the order the CLI reports them."""
