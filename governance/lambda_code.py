"""Where the remediation Lambda's code lives, what goes in its zip, and the IAM actions it declares.

The zip holds the package's sources and, when the program runs on the Lambda runtime's Python
version, their bytecode: Lambda unpacks the zip into a directory Python cannot write to, so without
it every cold start compiles every module it imports again (UNVERIFIED in an AWS page: that the
function's code directory is read-only; CPython uses a valid ``__pycache__`` file either way). The
bytecode is hash-checked (PEP 552): Python uses it only while it matches its source's hash, whatever
the zip's file times, and compiling the same source with the same Python version gives the same
bytes, so the zip, and the preview's code diff, depend on the sources alone.
"""

from __future__ import annotations

import importlib
import importlib.util
import py_compile
import sys
from functools import cache
from pathlib import Path
from typing import Any

LAMBDA_ROOT = Path(__file__).resolve().parent.parent / "lambdas"
"""Directory that holds the ``remediation`` package (the zip's root)."""
PACKAGE = "remediation"
HANDLER = f"{PACKAGE}.handler.lambda_handler"
RUNTIME_VERSION = (3, 13)
"""Python version of the Lambda runtime; the workflows run the program on the same version."""
LAMBDA_RUNTIME = f"python{RUNTIME_VERSION[0]}.{RUNTIME_VERSION[1]}"
"""The function's runtime identifier."""


def source_files() -> dict[str, Path]:
    """The package's Python sources, by path inside the zip (no tests, no caches)."""
    package = LAMBDA_ROOT / PACKAGE
    return {path.relative_to(LAMBDA_ROOT).as_posix(): path for path in sorted(package.rglob("*.py")) if "__pycache__" not in path.parts}


def ships_bytecode(version: tuple[int, ...] = tuple(sys.version_info[:2])) -> bool:
    """Whether a program running on Python ``version`` can add bytecode the Lambda runtime will use."""
    return version[:2] == RUNTIME_VERSION and sys.implementation.name == "cpython"


def compile_bytecode(sources: dict[str, Path], root: Path = LAMBDA_ROOT) -> dict[str, Path]:
    """Hash-checked bytecode of ``sources``, written next to them, by path inside the zip.

    Each file's recorded name is its path inside the zip, so the bytes do not depend on where the
    project is checked out. ``root`` is the directory the zip's paths start from.
    """
    compiled: dict[str, Path] = {}
    for inside, source in sources.items():
        target = Path(importlib.util.cache_from_source(str(source)))
        py_compile.compile(
            str(source), cfile=str(target), dfile=inside, doraise=True, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH
        )
        compiled[target.relative_to(root).as_posix()] = target
    return compiled


def package_files() -> dict[str, Path]:
    """Files of the zip, by path inside it: the sources, and their bytecode when ``ships_bytecode()``."""
    sources = source_files()
    return {**sources, **compile_bytecode(sources)} if ships_bytecode() else sources


def bytecode_warning() -> str | None:
    """What a deployer should know when the zip goes without bytecode, or None when it has it."""
    if ships_bytecode():
        return None
    running = ".".join(map(str, sys.version_info[:2]))
    return (
        f"the program runs on Python {running}, not {LAMBDA_RUNTIME.removeprefix('python')} (the function's runtime), so the Lambda "
        "package ships without bytecode: cold starts compile every module, and the function's code differs from a deployment "
        "made on the runtime's version (as the workflows run it), which shows as a code change in previews"
    )


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


def handler_iam_actions(*, audits_ssm: bool, updates_securityhub: bool, organization_hub: bool = False) -> tuple[str, ...]:
    """The handler's own declared actions that a deployment needs, besides the plumbing.

    ``ssm:*`` reads the SSM executions it audits (only with ssm-engine rules); ``securityhub:*``
    updates findings (only with ``securityHubUpdates``). An action of another service fails loudly,
    so a new declaration cannot be silently left out of the role. ``organization_hub`` adds the
    handler's ``HUB_IAM_ACTIONS`` (``organizations:ListParents``, ``sts:AssumeRole`` on the member
    roles), which only a deployment with an ``organization`` section calls.
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
    if organization_hub:
        actions.extend(lambda_module("handler").HUB_IAM_ACTIONS)
    return tuple(sorted(actions))
