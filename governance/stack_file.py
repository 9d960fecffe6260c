"""Read a stack's settings straight from ``Pulumi.<stack>.yaml``, as the operator CLI does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from governance.settings import NAMESPACE, ConfigError, Settings, load_settings

PROJECT_DIR = Path(__file__).resolve().parent.parent


def stack_values(stack: str, project_dir: Path | None = None) -> dict[str, Any]:
    """The ``governance:*`` values of a stack file, keyed without the namespace."""
    project_dir = project_dir or PROJECT_DIR
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(file.name.removeprefix("Pulumi.").removesuffix(".yaml") for file in project_dir.glob("Pulumi.*.yaml"))
        raise ConfigError([f"--stack {stack} has no Pulumi.{stack}.yaml; stacks here: {', '.join(known) or 'none'}."])
    document = yaml.safe_load(path.read_text()) or {}
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError([f"Pulumi.{stack}.yaml config must be a mapping of keys to values."])
    prefix = f"{NAMESPACE}:"
    return {key.removeprefix(prefix): value for key, value in config.items() if key.startswith(prefix)}


def file_values(path: Path) -> dict[str, Any]:
    """The ``governance:*`` values of a stack file given by path."""
    if not path.is_file():
        raise ConfigError([f"--stack-file {path} does not exist."])
    name = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    return stack_values(name, path.parent)


def load_stack_file(path: Path) -> Settings:
    """Validated settings of the stack file at ``path``."""
    return load_settings(file_values(path))


def load_stack(stack: str, project_dir: Path | None = None) -> Settings:
    """Validated settings of a stack file; raises ``ConfigError`` like the program does."""
    return load_settings(stack_values(stack, project_dir))
