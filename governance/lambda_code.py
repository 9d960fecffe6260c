"""Where the remediation Lambda's code lives, what goes in its zip, and the IAM actions it declares."""

from __future__ import annotations

import importlib
import sys
from functools import cache
from pathlib import Path
from typing import Any

LAMBDA_ROOT = Path(__file__).resolve().parent.parent / "lambdas"
"""Directory that holds the ``remediation`` package (the zip's root)."""
PACKAGE = "remediation"
HANDLER = f"{PACKAGE}.handler.lambda_handler"


def package_files() -> dict[str, Path]:
    """Files of the zip, by path inside it: the package's Python sources only (no tests, no caches)."""
    package = LAMBDA_ROOT / PACKAGE
    return {path.relative_to(LAMBDA_ROOT).as_posix(): path for path in sorted(package.rglob("*.py")) if "__pycache__" not in path.parts}


PLUMBING_ACTIONS = frozenset({"events:PutEvents", "logs:FilterLogEvents"})
"""Handler actions the program grants in their own, narrowly scoped statements (the default bus, the function's own log group)."""


@cache
def lambda_module(name: str) -> Any:
    """A module of the Lambda package (``fixers``, ``engine``...), imported as Lambda imports it: top-level ``remediation``."""
    root = str(LAMBDA_ROOT)
    if root not in sys.path:
        sys.path.append(root)
    return importlib.import_module(f"{PACKAGE}.{name}")


def fixer_iam_actions(rule_key: str) -> tuple[str, ...]:
    """IAM actions the Lambda fixer of ``rule_key`` declares next to its code."""
    actions: tuple[str, ...] = lambda_module("fixers").iam_actions(rule_key)
    return actions


def handler_iam_actions(*, audits_ssm: bool, updates_securityhub: bool) -> tuple[str, ...]:
    """The handler's own declared actions that a deployment needs, besides the plumbing.

    ``ssm:*`` reads the SSM executions it audits (only with ssm-engine rules); ``securityhub:*``
    updates findings (only with ``securityHubUpdates``). An action of another service fails loudly,
    so a new declaration cannot be silently left out of the role.
    """
    declared: tuple[str, ...] = lambda_module("handler").HANDLER_IAM_ACTIONS
    actions: list[str] = []
    for action in declared:
        service = action.split(":", 1)[0]
        if action in PLUMBING_ACTIONS:
            continue
        if service == "ssm":
            if audits_ssm:
                actions.append(action)
        elif service == "securityhub":
            if updates_securityhub:
                actions.append(action)
        else:
            raise ValueError(f"{action} in HANDLER_IAM_ACTIONS has no rule for when to grant it; add one here")
    return tuple(sorted(actions))
