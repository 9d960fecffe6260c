"""Which statements of a resource policy are public, and the policy without them (pure).

Shared by the fixers of the SQS queue, SNS topic and Lambda function public-access rules
(SQS_QUEUE_NO_PUBLIC_ACCESS, SNS_TOPIC_NO_PUBLIC_ACCESS, LAMBDA_FUNCTION_PUBLIC_ACCESS_PROHIBITED)
and by their Config verdicts in ``governance/compliance.py``, so that a scan and a fix always agree.

A statement is public when it is an ``Allow`` whose principal is everyone (``"*"``, ``{"AWS": "*"}``,
a list holding ``"*"``, any AWS principal with a wildcard, or a ``NotPrincipal``) and no condition of it
restricts the caller to fixed values. The rules' pages say: "To be considered non-public, an SNS policy
must grant access only to fixed values. This means values that don't contain a wildcard or ... Variables"
(SNS, SQS), and "the principal element is empty or contains a wildcard" (Lambda).

UNVERIFIED: AWS lists no condition keys that count as restricting. This module counts only caller- and
source-identity keys (``RESTRICTING_KEYS``), with a non-negated operator, without ``IfExists`` or
``ForAllValues`` (both pass when the key is absent), and with fixed values only (no ``*``, ``?`` or
``${...}``; an ``aws:SourceIp`` range of ``/0`` restricts nothing). Any other condition leaves the
statement public, so a scan may flag a statement Config passes, never the reverse for these keys.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

RESTRICTING_KEYS: frozenset[str] = frozenset(
    {
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:sourceowner",
        "aws:sourceorgid",
        "aws:principalorgid",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceip",
    }
)
"""Condition keys (lower case; IAM keys are case-insensitive) that restrict who may call. UNVERIFIED list."""

RESTRICTING_OPERATORS: frozenset[str] = frozenset(
    {"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike", "ipaddress"}
)
"""Condition operators (lower case, without a ``ForAnyValue:`` prefix) that limit a key to the listed values."""


class NotAPolicy(ValueError):
    """The text is not a JSON policy document (an object with a Statement object or list of objects)."""


def parse(text: str) -> dict[str, Any]:
    """The policy document in ``text``; raises NotAPolicy."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise NotAPolicy("the policy is not valid JSON") from error
    if not isinstance(document, dict):
        raise NotAPolicy("the policy is not a JSON object")
    statements = document.get("Statement", [])
    listed = statements if isinstance(statements, list) else [statements]
    if not all(isinstance(statement, dict) for statement in listed):
        raise NotAPolicy("the policy's Statement is not an object or a list of objects")
    return document


def statements_of(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The policy's statements as a list (a single Statement object is a list of one)."""
    statements = document.get("Statement", [])
    return list(statements) if isinstance(statements, list) else [statements]


def _values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def is_public_principal(principal: Any) -> bool:
    """Whether a Principal element names everyone: ``"*"``, or an AWS principal that is or contains a wildcard."""
    if isinstance(principal, str):
        return "*" in principal
    if isinstance(principal, Mapping):
        return any(isinstance(value, str) and "*" in value for value in _values(principal.get("AWS")))
    return False


def _fixed(value: Any) -> bool:
    if isinstance(value, bool | int | float):
        return True
    return isinstance(value, str) and bool(value) and not any(mark in value for mark in ("*", "?", "${"))


def _restricting(operator: str, key: str, value: Any) -> bool:
    operator = operator.lower()
    if operator.startswith("forallvalues:") or operator.endswith("ifexists"):
        return False
    operator = operator.removeprefix("foranyvalue:")
    if operator not in RESTRICTING_OPERATORS or key.lower() not in RESTRICTING_KEYS:
        return False
    values = _values(value)
    if not values or not all(_fixed(item) for item in values):
        return False
    if key.lower() == "aws:sourceip":
        return operator == "ipaddress" and not any(str(item).endswith("/0") for item in values)
    return operator != "ipaddress"


def restricts_caller(condition: Any) -> bool:
    """Whether a Condition element limits the caller to fixed values (conditions are ANDed: one restricting entry is enough)."""
    if not isinstance(condition, Mapping):
        return False
    for operator, entries in condition.items():
        if not isinstance(entries, Mapping):
            continue
        if any(_restricting(str(operator), str(key), value) for key, value in entries.items()):
            return True
    return False


def is_public(statement: Mapping[str, Any]) -> bool:
    """Whether the statement allows everyone without a condition that restricts the caller to fixed values."""
    if statement.get("Effect") != "Allow":
        return False
    everyone = "NotPrincipal" in statement or is_public_principal(statement.get("Principal"))
    return everyone and not restricts_caller(statement.get("Condition"))


@dataclass(frozen=True)
class Split:
    """A policy's statements, split into the public ones and the rest, each in the policy's order."""

    public: tuple[dict[str, Any], ...]
    kept: tuple[dict[str, Any], ...]


def split(document: Mapping[str, Any]) -> Split:
    """The public statements and the others, in order."""
    statements = statements_of(document)
    return Split(tuple(s for s in statements if is_public(s)), tuple(s for s in statements if not is_public(s)))


def without_public(document: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the policy without its public statements: every other key and statement unchanged, in order.

    When every statement is public the result has an empty Statement list; each fixer decides what
    its API needs then (SQS: remove the policy; SNS: refuse, as SNS rejects a policy without statements).
    """
    result = copy.deepcopy(dict(document))
    statements = document.get("Statement", [])
    if isinstance(statements, list):
        result["Statement"] = [copy.deepcopy(s) for s in statements if not is_public(s)]
    elif isinstance(statements, Mapping) and is_public(statements):
        result["Statement"] = []
    return result


def statement_ids(statements: Sequence[Mapping[str, Any]]) -> list[str | None]:
    """The Sid of each statement (None where it has none)."""
    return [str(s["Sid"]) if "Sid" in s else None for s in statements]
