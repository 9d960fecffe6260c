"""Checks on config problems shared by the config tests: one sentence each, naming a key that leads into the config."""

from __future__ import annotations

import json
import re
from typing import Any

from governance.plan import plan_stack
from governance.settings import load_settings

# A value is quoted as ", got <repr>" at the end of a problem; the sentence is checked without it.
GOT = re.compile(r", got .*\.$", re.DOTALL)
QUOTED_KEY = re.compile(r'\["(?:[^"\\]|\\.)*"\]')
"""A user-supplied key that is not a plain name, quoted in the key path (its dots are not sentence ends)."""
KEY_STEP = re.compile(r'\.?([A-Za-z0-9_-]+)|\[([0-9]+)\]|\[("(?:[^"\\]|\\.)*")\]')
"""One step of a key path: ``.name`` (or the first name), ``[index]``, or a quoted ``["name"]``."""


def assert_one_sentence(problem: str) -> None:
    """A problem is one sentence that starts with the key: no line breaks, no sentence end before the last character."""
    assert problem.startswith("governance:"), problem
    assert problem.endswith("."), problem
    sentence = QUOTED_KEY.sub("[key]", GOT.sub(".", problem))
    assert "\n" not in sentence and ". " not in sentence[:-1], problem
    assert len(problem) < 1000, problem


def validate(raw: dict[str, Any]) -> None:
    """Validate as the program does: settings, then the limits of everything the plan emits."""
    plan_stack(load_settings(raw))


def key_path(problem: str) -> list[str | int]:
    """The steps of the key a problem starts with (``governance:accounts[0].id`` -> ``["accounts", 0, "id"]``)."""
    text = problem.removeprefix("governance:")
    steps: list[str | int] = []
    position = 0
    while position < len(text) and text[position] != " ":
        match = KEY_STEP.match(text, position)
        assert match, f"the problem does not start with a key path: {problem}"
        name, index, quoted = match.groups()
        steps.append(name if name is not None else int(index) if index is not None else json.loads(quoted))
        position = match.end()
    assert steps, f"the problem names no key: {problem}"
    return steps


def assert_names_its_key(problem: str, raw: dict[str, Any]) -> None:
    """The key a problem names leads into the config: every step but the last exists (the last may be missing)."""
    steps = key_path(problem)
    node: Any = raw
    for depth, step in enumerate(steps):
        present = (isinstance(node, dict) and step in node) or (
            isinstance(node, list) and isinstance(step, int) and step < len(node)
        )
        if not present:
            assert depth == len(steps) - 1, f"{problem!r} names a key that is not in the config"
            return
        node = node[step]


