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
- organization mode's member templates reach the pack as a stack set's ``templateBody`` (a JSON string
  the program renders, known in preview); the pack parses it and reads every value a resource may take
  (see ``template_strings``). The hub account is the one the stack set's provider is pinned to.

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
EVENT_BUS_POLICY = "aws:cloudwatch/eventBusPolicy:EventBusPolicy"
STACK_SET = "aws:cloudformation/stackSet:StackSet"
STACK_SET_INSTANCE = "aws:cloudformation/stackSetInstance:StackSetInstance"

TEMPLATE_CONFIG_RULE = "AWS::Config::ConfigRule"
TEMPLATE_REMEDIATION = "AWS::Config::RemediationConfiguration"
TEMPLATE_ROLE = "AWS::IAM::Role"

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


_TEMPLATE_OWN_ACCOUNT: tuple[Any, ...] = ({"Ref": "AWS::AccountId"}, {"Fn::Sub": "${AWS::AccountId}"})
"""How a CloudFormation template names the account it is deployed in."""


def _names_accounts(account: Any, in_template: bool) -> bool:
    if in_template and account in _TEMPLATE_OWN_ACCOUNT:
        return True
    return is_unknown(account) or (isinstance(account, str) and _ACCOUNT_ID.fullmatch(account) is not None)


def trust_policy_problems(document: Any, in_template: bool = False) -> list[str]:
    """Why a role's trust policy lets an AWS service act for someone else (empty when it is safe).

    Every ``Allow`` statement that trusts a service principal must require ``aws:SourceAccount`` (a
    12-digit account, no wildcard; in a CloudFormation template, ``in_template``, also the account the
    stack is deployed in); services in ``SOURCE_ARN_SERVICES`` must also require ``aws:SourceArn``. A
    statement that trusts any principal (``*``) is always a problem.
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
        elif not all(_names_accounts(account, in_template) for account in accounts):
            problems.append(f"{label} has aws:SourceAccount {accounts}; it must name 12-digit account ids, no wildcards")
        needs_arn = [name for name in names if name in SOURCE_ARN_SERVICES]
        if needs_arn and _condition_values(statement, "aws:SourceArn") is None:
            problems.append(
                f"{label} lets {', '.join(needs_arn)} assume the role without an aws:SourceArn condition; "
                'add "ArnLike": {"aws:SourceArn": "arn:aws:<service>:*:<account id>:<resource>/*"}'
            )
    return problems


def validate_role_trust(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """An IAM role that a service assumes carries the confused-deputy conditions, in the stack or in a stack set's template."""
    if args.resource_type == STACK_SET:
        _check_template_role_trust(args, report_violation)
        return
    if args.resource_type != ROLE:
        return
    document = lookup(args.props, "assumeRolePolicy")
    if not _is_known(document):
        return
    for problem in trust_policy_problems(document):
        report_violation(f"Role {args.name}: {problem}.", None)


def _check_template_role_trust(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    template = stack_set_template(args.props)
    if not isinstance(template, Mapping):
        return  # unknown in preview; an unreadable template is member-templates-least-privilege's to report
    label = _stack_set_label(args.name, args.props)
    for role in template_resources(template):
        if role.type == TEMPLATE_ROLE:
            for problem in trust_policy_problems(role.properties.get("AssumeRolePolicyDocument"), in_template=True):
                report_violation(f"StackSet {label}, role {role.logical_id}: {problem}.", None)


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


# --- Organization mode: the CloudFormation templates of stack sets --------------------------------
#
# A stack set's ``templateBody`` is a JSON string the program renders, known in preview. Inside it,
# values may be CloudFormation intrinsics (``Fn::Sub``, ``Fn::If``, ``Fn::FindInMap``, ``Ref``) and
# resources may carry a ``Condition``; a check reads every value a resource may take, in any account
# and region, and ignores conditions (a resource deployed in some accounts only must pass as well).


@dataclass(frozen=True)
class TemplateResource:
    """One resource of a stack set's template."""

    logical_id: str
    type: str
    properties: Mapping[str, Any]


def stack_set_template(props: Any) -> Mapping[str, Any] | str | None:
    """The template a stack set deploys, parsed; an error sentence if the pack cannot read it; None while unknown.

    Only an inline JSON ``templateBody`` is read: a ``templateUrl`` or a YAML body would hide the template
    from every check, so it is an error.
    """
    body = lookup(props, "templateBody")
    if body is UNKNOWN:
        return None
    if body is MISSING:
        url = lookup(props, "templateUrl")
        return None if url is UNKNOWN else "has no inline templateBody (a templateUrl cannot be checked)"
    if not isinstance(body, str):
        return "has a templateBody that is not a string"
    try:
        template = json.loads(body)
    except json.JSONDecodeError as error:
        return f"has a templateBody that is not JSON ({error.msg}); the program renders JSON templates"
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        return "has a templateBody without a Resources object"
    return template


def template_resources(template: Mapping[str, Any]) -> list[TemplateResource]:
    """Every resource of a parsed template, by logical id."""
    resources = []
    for logical_id, resource in sorted(template.get("Resources", {}).items()):
        if isinstance(resource, dict) and isinstance(resource.get("Type"), str):
            properties = resource.get("Properties")
            resources.append(TemplateResource(logical_id, resource["Type"], properties if isinstance(properties, dict) else {}))
    return resources


def _stack_set_label(resource_name: str, props: Any) -> str:
    name = lookup(props, "name")
    return name if isinstance(name, str) else resource_name


def template_strings(value: Any, template: Mapping[str, Any], depth: int = 0) -> list[Any]:
    """Every literal a template value may take; an intrinsic that cannot be followed is kept as it is.

    ``Fn::If`` gives both branches, ``Fn::FindInMap`` over ``AWS::Region`` every region's value, and a
    ``Ref`` to a Config rule its ``ConfigRuleName`` (what ``Ref`` returns for that type).
    """
    if depth > 8 or not isinstance(value, dict) or len(value) != 1:
        return [value]
    ((function, argument),) = value.items()
    if function == "Fn::If" and isinstance(argument, list) and len(argument) == 3:
        return [*template_strings(argument[1], template, depth + 1), *template_strings(argument[2], template, depth + 1)]
    if function == "Fn::FindInMap" and isinstance(argument, list) and len(argument) == 3:
        mapping = template.get("Mappings", {}).get(argument[0]) if isinstance(argument[0], str) else None
        if isinstance(mapping, dict) and isinstance(argument[2], str):
            tops = [argument[1]] if isinstance(argument[1], str) else list(mapping)
            found = [mapping[top][argument[2]] for top in tops if isinstance(mapping.get(top), dict) and argument[2] in mapping[top]]
            if found:
                return [item for entry in found for item in template_strings(entry, template, depth + 1)]
    if function == "Ref" and isinstance(argument, str):
        target = template.get("Resources", {}).get(argument)
        if isinstance(target, dict) and target.get("Type") == TEMPLATE_CONFIG_RULE:
            name = (target.get("Properties") or {}).get("ConfigRuleName")
            if name is not None:
                return template_strings(name, template, depth + 1)
    return [value]


def _may_be_true(value: Any, template: Mapping[str, Any]) -> bool:
    """Whether a CloudFormation Boolean may be true somewhere (``true``, ``"true"``, or a branch of ``Fn::If``)."""
    return any(item is True or (isinstance(item, str) and item.lower() == "true") for item in template_strings(value, template))


def _provider_accounts(provider: Any) -> frozenset[str] | None:
    """The accounts a resource's provider is pinned to (``allowedAccountIds``), or None when not known."""
    if provider is None:
        return None
    raw = lookup(provider.props, "allowedAccountIds")
    if isinstance(raw, str) and not is_unknown(raw):
        try:
            raw = json.loads(raw)  # provider inputs hold non-string config as JSON text
        except json.JSONDecodeError:
            return None
    accounts = frozenset(_string_list(raw))
    return accounts if accounts and all(_ACCOUNT_ID.fullmatch(account) for account in accounts) else None


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
    rule tagged both protected and ``auto``, a Lambda whose config runs a protected rule in ``auto``, and
    (organization mode) a stack set whose template holds an ``AWS::Config::RemediationConfiguration``
    with ``Automatic: true`` for a protected rule. The policy config ``protectedRules`` adds keys to the
    ones the stack marks.
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

    prefixes = rule_name_prefixes(args.resources)
    for resource in args.resources:
        if resource.resource_type == REMEDIATION:
            _check_remediation(resource, rules_by_name, report_violation)
        elif resource.resource_type == FUNCTION:
            _check_lambda_modes(resource, protected, report_violation)
        elif resource.resource_type == STACK_SET:
            _check_member_remediations(resource, _RuleNames(protected, prefixes, rules_by_name), report_violation)


def rule_name_prefixes(resources: Iterable[PolicyResource]) -> frozenset[str]:
    """The rule-name prefixes the stack's remediation Lambdas know (``ruleNamePrefix`` of their config)."""
    prefixes = set()
    for resource in resources:
        config = _lambda_config(resource) if resource.resource_type == FUNCTION else None
        prefix = config.get("ruleNamePrefix") if config is not None else None
        if isinstance(prefix, str):
            prefixes.add(prefix)
    return frozenset(prefixes)


@dataclass(frozen=True)
class _RuleNames:
    """Tells which protected rule a Config rule name belongs to."""

    protected: frozenset[str]
    prefixes: frozenset[str]
    """Known rule-name prefixes; without any, a name ending in a protected key is that key's."""
    rules_by_name: Mapping[str, list[_RuleInfo]]

    def protected_key(self, rule_name: str) -> str | None:
        """The protected rule key ``rule_name`` names, or None."""
        tagged = [info for info in self.rules_by_name.get(rule_name, []) if info.protected]
        if tagged:
            return tagged[0].key or rule_name
        for key in sorted(self.protected, key=len, reverse=True):
            if rule_name == key or (
                any(rule_name == prefix + key for prefix in self.prefixes) if self.prefixes else rule_name.endswith(key)
            ):
                return key
        return None


def _check_member_remediations(resource: PolicyResource, names: _RuleNames, report_violation: ReportViolation) -> None:
    template = stack_set_template(resource.props)
    if not isinstance(template, Mapping):
        return  # unknown in preview; an unreadable template is member-templates-least-privilege's to report
    label = _stack_set_label(resource.name, resource.props)
    for remediation in template_resources(template):
        if remediation.type != TEMPLATE_REMEDIATION or not _may_be_true(remediation.properties.get("Automatic"), template):
            continue
        for rule_name in template_strings(remediation.properties.get("ConfigRuleName"), template):
            if not isinstance(rule_name, str):
                report_violation(
                    f"StackSet {label}: its template's {remediation.logical_id} is automatic for a Config rule whose name the "
                    f"pack cannot read ({json.dumps(rule_name)}), so it may be a protected rule. Name the rule literally or "
                    "by Ref to the rule's resource.",
                    resource.urn,
                )
                continue
            key = names.protected_key(rule_name)
            if key is not None:
                report_violation(
                    f"StackSet {label} remediates protected rule {key} automatically in member accounts (its template's "
                    f"{remediation.logical_id} has Automatic: true for Config rule {rule_name}). Set the rule's mode to manual "
                    f"in governance:rules.{key} and in any governance:organization.overrides entry, or remove it from "
                    "governance:protectedRules in a reviewed change.",
                    resource.urn,
                )


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


# --- Organization mode: stack sets --------------------------------------------------------------

STACK_SET_SETTINGS: tuple[tuple[tuple[str, ...], Any, str], ...] = (
    (("permissionModel",), "SERVICE_MANAGED", "CloudFormation deploys through Organizations' own roles, with no administration role to guard"),
    (("autoDeployment", "enabled"), True, "an account that joins a target OU later is governed without a new deployment"),
    (("callAs",), "DELEGATED_ADMIN", "the hub manages the stack sets as the organization's delegated administrator"),
)
"""What every stack set must set: ``(property path, required value, why)``."""


def validate_stack_sets(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Member stack sets are service-managed, auto-deployed, and managed as the delegated administrator.

    A stack set instance must be called as the delegated administrator too. An absent property takes
    CloudFormation's default (``SELF_MANAGED``, no auto-deployment, ``SELF``), so it is a violation; an
    unknown one is skipped.
    """
    if args.resource_type == STACK_SET:
        settings = STACK_SET_SETTINGS
        label = f"StackSet {_stack_set_label(args.name, args.props)}"
    elif args.resource_type == STACK_SET_INSTANCE:
        settings = STACK_SET_SETTINGS[2:]
        label = f"StackSetInstance {args.name}"
    else:
        return
    for path, required, why in settings:
        value = lookup(args.props, *path)
        if value is UNKNOWN or value == required:
            continue
        shown = "absent" if value is MISSING else repr(value)
        report_violation(f"{label}: {'.'.join(path)} is {shown}; it must be {required!r}: {why}.", None)


# --- Organization mode: the hub bus admits the organization only ---------------------------------

_ORGANIZATION_ID = re.compile(r"o-[a-z0-9]{10,32}")
PUT_EVENTS = "events:PutEvents"


def _action_matches(pattern: Any, action: str) -> bool:
    """Whether an IAM action pattern (``*`` and ``?`` wildcards, case-insensitive) covers ``action``."""
    if not isinstance(pattern, str):
        return False
    expression = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.fullmatch(expression, action, re.IGNORECASE) is not None


def _grants(statement: Mapping[str, Any], action: str) -> bool:
    """Whether an ``Allow`` statement grants ``action`` (through ``Action``, or a ``NotAction`` that leaves it out)."""
    not_action = lookup(statement, "NotAction")
    if _is_known(not_action):
        return not any(_action_matches(pattern, action) for pattern in _as_list(not_action))
    actions = lookup(statement, "Action")
    return _is_known(actions) and any(_action_matches(pattern, action) for pattern in _as_list(actions))


def bus_policy_problems(document: Any) -> list[str]:
    """Why an event bus policy lets someone outside the organization put events (empty when it does not).

    Every ``Allow`` that grants ``events:PutEvents`` must require ``aws:PrincipalOrgID`` with an
    organization id (``o-...``, no wildcard), whoever its principal is.
    """
    parsed = _policy_document(document)
    if isinstance(parsed, str):
        return [f"the policy {parsed}"]
    if parsed is None:
        return []
    problems = []
    for label, statement in _statements(parsed):
        if not _allows(statement) or not _grants(statement, PUT_EVENTS):
            continue
        organizations = _condition_values(statement, "aws:PrincipalOrgID")
        if organizations is None:
            problems.append(
                f"{label} allows {PUT_EVENTS} without an aws:PrincipalOrgID condition; "
                'add "Condition": {"StringEquals": {"aws:PrincipalOrgID": "<organization id>"}}'
            )
        elif not all(is_unknown(value) or (isinstance(value, str) and _ORGANIZATION_ID.fullmatch(value)) for value in organizations):
            problems.append(f"{label} has aws:PrincipalOrgID {organizations}; it must name the organization's id (o-...), no wildcards")
    return problems


def validate_bus_policy(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """An event bus policy lets only principals of the organization put events on the bus."""
    if args.resource_type != EVENT_BUS_POLICY:
        return
    document = lookup(args.props, "policy")
    if not _is_known(document):
        return  # in preview the policy names the new bus's ARN and the organization id, both computed
    for problem in bus_policy_problems(document):
        report_violation(f"EventBusPolicy {args.name}: {problem}.", None)


# --- Organization mode: member roles trust the hub only ------------------------------------------

_PRINCIPAL_ACCOUNT = re.compile(r"arn:[^:]*:(?:iam|sts)::(?P<account>[^:]*):.*")
_OWN_ACCOUNT = "(member)"
"""What ``${AWS::AccountId}`` reads as in an ARN: the account the template is deployed in."""


def _principal_account(value: Any) -> str | None:
    """The account of an AWS principal (an account id, an IAM/STS ARN, or ``Fn::Sub`` of one), or None."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        value = value["Fn::Sub"].replace("${AWS::Partition}", "aws").replace("${AWS::AccountId}", _OWN_ACCOUNT)
    if not isinstance(value, str):
        return None
    if _ACCOUNT_ID.fullmatch(value):
        return value
    match = _PRINCIPAL_ACCOUNT.fullmatch(value)
    return match.group("account") if match else None


def _describe_account(account: str) -> str:
    return "the member account itself" if account == _OWN_ACCOUNT else f"account {account}"


def member_trust_problems(trust: Any, template: Mapping[str, Any], hub_accounts: frozenset[str] | None) -> list[str]:
    """Why a member role's trust policy lets in someone other than the hub (empty when it does not).

    No statement trusts ``*``, a federated or canonical-user principal, or an AWS principal outside
    ``hub_accounts``; ``aws:PrincipalArn`` values name roles of the hub. Service principals are left to
    the service's own conditions. With ``hub_accounts`` None (the provider is not pinned), only ``*`` and
    principals that cannot be read are problems.
    """
    if not isinstance(trust, Mapping):
        return ["its AssumeRolePolicyDocument is not a JSON object the pack can read"]
    problems = []
    for label, statement in _statements(trust):
        if not _allows(statement):
            continue
        principal = lookup(statement, "Principal")
        if _is_known(lookup(statement, "NotPrincipal")) or principal == "*":
            problems.append(f"{label} trusts any principal; trust the hub's roles only")
            continue
        if not isinstance(principal, Mapping):
            continue
        for kind in sorted(set(principal) - {"AWS", "Service"}):
            problems.append(f"{label} trusts {kind} principals; trust the hub's roles only")
        principals = [item for value in _as_list(lookup(principal, "AWS")) if _is_known(value) for item in template_strings(value, template)]
        arns = [item for value in _condition_arns(statement) for item in template_strings(value, template)]
        for value in [*principals, *arns]:
            if value == "*":
                problems.append(f"{label} trusts any principal (*); trust the hub's roles only")
                continue
            account = _principal_account(value)
            if account is None:
                problems.append(f"{label} trusts {json.dumps(value)}, which names no account the pack can read")
            elif "*" in account or "?" in account:
                problems.append(f"{label} trusts {json.dumps(value)} of any account; name the hub's roles")
            elif hub_accounts is not None and account not in hub_accounts:
                problems.append(
                    f"{label} trusts {json.dumps(value)} of {_describe_account(account)}; only the hub "
                    f"({', '.join(sorted(hub_accounts))}) may assume a member role"
                )
    return problems


def _condition_arns(statement: Mapping[str, Any]) -> list[Any]:
    """``aws:PrincipalArn`` values a statement's conditions admit (negated operators exclude, so they are left out)."""
    conditions = lookup(statement, "Condition")
    if not isinstance(conditions, Mapping):
        return []
    values: list[Any] = []
    for operator in conditions:
        if "Not" in operator:
            continue
        block = lookup(conditions, operator)
        if isinstance(block, Mapping):
            values.extend(item for key in block if key.lower() == "aws:principalarn" for item in _as_list(lookup(block, key)))
    return values


def validate_member_trust(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Roles that a stack set deploys to member accounts are assumed by the hub's roles only.

    The hub is the account the stack set's provider is pinned to (``allowedAccountIds``), which is where
    the stack set, the bus and the remediation Lambda live.
    """
    if args.resource_type != STACK_SET:
        return
    template = stack_set_template(args.props)
    if not isinstance(template, Mapping):
        return  # unknown in preview; an unreadable template is member-templates-least-privilege's to report
    hub_accounts = _provider_accounts(args.provider)
    label = _stack_set_label(args.name, args.props)
    for role in template_resources(template):
        if role.type != TEMPLATE_ROLE:
            continue
        for problem in member_trust_problems(role.properties.get("AssumeRolePolicyDocument"), template, hub_accounts):
            report_violation(f"StackSet {label}, role {role.logical_id}: {problem}.", None)


# --- Organization mode: member templates hold no credentials and no wildcard actions ---------------

MEMBER_FORBIDDEN_TYPES: Mapping[str, str] = {
    "AWS::IAM::User": "an IAM user",
    "AWS::IAM::AccessKey": "an access key",
    "AWS::IAM::UserPolicy": "an IAM user's policy",
    "AWS::IAM::UserToGroupAddition": "IAM users added to a group",
}
"""Template resources that would leave long-lived credentials in every member account."""
_POLICY_DOCUMENT_TYPES = frozenset({"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy", "AWS::IAM::GroupPolicy"})


def _template_policy_documents(resource: TemplateResource) -> list[tuple[str, Any]]:
    """``(label, document)`` for each permissions policy a template resource holds."""
    if resource.type == TEMPLATE_ROLE:
        policies = resource.properties.get("Policies")
        return [
            (f"policy {entry.get('PolicyName', index)!s}", entry.get("PolicyDocument"))
            for index, entry in enumerate(policies if isinstance(policies, list) else [])
            if isinstance(entry, dict)
        ]
    if resource.type in _POLICY_DOCUMENT_TYPES:
        return [("its PolicyDocument", resource.properties.get("PolicyDocument"))]
    return []


def member_template_problems(template: Mapping[str, Any]) -> list[str]:
    """Why a member template grants more than the listed actions, or creates credentials (empty when it does not)."""
    problems = []
    for resource in template_resources(template):
        what = MEMBER_FORBIDDEN_TYPES.get(resource.type)
        if what is not None:
            problems.append(f"{resource.logical_id} ({resource.type}) creates {what} in every member account; use roles only")
        if resource.type == TEMPLATE_ROLE and resource.properties.get("ManagedPolicyArns"):
            problems.append(
                f"{resource.logical_id} attaches managed policies {json.dumps(resource.properties['ManagedPolicyArns'])}, "
                "whose actions the pack cannot check; list the actions in Policies"
            )
        for label, document in _template_policy_documents(resource):
            if not isinstance(document, Mapping):
                problems.append(f"{resource.logical_id} {label} is not a JSON policy document the pack can read")
                continue
            problems.extend(f"{resource.logical_id} {label}: {problem}" for problem in wildcard_action_problems(document))
    return problems


def validate_member_templates(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """A stack set's template is readable, creates no IAM user or access key, and allows no wildcard action."""
    if args.resource_type != STACK_SET:
        return
    template = stack_set_template(args.props)
    if template is None:
        return  # unknown in preview
    label = _stack_set_label(args.name, args.props)
    if isinstance(template, str):
        report_violation(f"StackSet {label} {template}; the pack must read a stack set's template to check it.", None)
        return
    for problem in member_template_problems(template):
        report_violation(f"StackSet {label}: {problem}.", None)


# --- The policies --------------------------------------------------------------------------------

POLICIES: list[Policy] = [
    ResourceValidationPolicy(
        name="iam-trust-confused-deputy",
        description="Roles that AWS services assume, in the stack or in member templates, require aws:SourceAccount "
        "(and aws:SourceArn where the service sends it).",
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
    ResourceValidationPolicy(
        name="organization-stack-sets",
        description="Member stack sets are SERVICE_MANAGED with auto-deployment on, and called as DELEGATED_ADMIN (instances too).",
        validate=validate_stack_sets,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
    ),
    ResourceValidationPolicy(
        name="member-role-trusts-hub-only",
        description="Roles in member templates are assumed by the hub account's roles only: no '*', no other account.",
        validate=validate_member_trust,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.CRITICAL,
    ),
    ResourceValidationPolicy(
        name="hub-bus-organization-only",
        description="An event bus policy allows events:PutEvents only with an aws:PrincipalOrgID condition.",
        validate=validate_bus_policy,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
    ),
    ResourceValidationPolicy(
        name="member-templates-least-privilege",
        description="Member templates are readable, create no IAM user or access key, and allow no wildcard action.",
        validate=validate_member_templates,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
    ),
]
"""Every policy of the pack, in the order the CLI reports them."""
