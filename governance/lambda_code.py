"""Where the remediation Lambda's code lives, what goes in its zip, and the IAM actions it declares."""

from __future__ import annotations

import importlib
import sys
from functools import cache
from pathlib import Path

LAMBDA_ROOT = Path(__file__).resolve().parent.parent / "lambdas"
"""Directory that holds the ``remediation`` package (the zip's root)."""
PACKAGE = "remediation"
HANDLER = f"{PACKAGE}.handler.lambda_handler"


def package_files() -> dict[str, Path]:
    """Files of the zip, by path inside it: the package's Python sources only (no tests, no caches)."""
    package = LAMBDA_ROOT / PACKAGE
    return {path.relative_to(LAMBDA_ROOT).as_posix(): path for path in sorted(package.rglob("*.py")) if "__pycache__" not in path.parts}


@cache
def _fixers_registry() -> object:
    # The Lambda package is importable as top-level ``remediation`` from lambdas/, as in Lambda.
    root = str(LAMBDA_ROOT)
    if root not in sys.path:
        sys.path.append(root)
    return importlib.import_module(f"{PACKAGE}.fixers")


def fixer_iam_actions(rule_key: str) -> tuple[str, ...]:
    """IAM actions the Lambda fixer of ``rule_key`` declares next to its code."""
    registry = _fixers_registry()
    actions: tuple[str, ...] = registry.iam_actions(rule_key)  # type: ignore[attr-defined]
    return actions


def handler_iam_actions(*, audits_ssm: bool, updates_securityhub: bool) -> tuple[str, ...]:
    """Actions of the handler itself: reading SSM executions it audits and updating Security Hub findings."""
    actions: list[str] = []
    if audits_ssm:
        actions.append("ssm:GetAutomationExecution")
    if updates_securityhub:
        actions.extend(("securityhub:BatchUpdateFindings", "securityhub:GetFindings"))
    return tuple(actions)
