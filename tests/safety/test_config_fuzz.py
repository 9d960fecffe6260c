"""Bad input: mutated stack configs. Every rejection is one clear sentence per problem, naming its
key, and a rejected config registers nothing."""

from __future__ import annotations

import contextlib
import copy
import json
import random
from collections import Counter
from typing import Any

import pulumi
import pytest

from governance.mock_program import RecordingMocks, run_program, stack_config
from governance.settings import ConfigError, load_settings
from tests.config_problems import assert_names_its_key, assert_one_sentence, validate
from tests.safety.figures import record, scale

CONFIGS = scale("config_fuzz_configs", 5000)
PROGRAM_RUNS = scale("config_fuzz_program_runs", 10)
SEED = 4242
KEY_NAMES = ["id", "roleArn", "regions", "rules", "mode", "engine", "source", "params", "ports", "trafficType", "algorithm", "x-unknown", "Ünïcode_key", "région"]
VALUES: list[Any] = [
    None, 0, -1, 1.5, 2**40, True, False, "", " ", "auto", "lambda", "ssm", "us-east-7", "123456789012", 123456789012, "x" * 5000,
    "ǅ𝔘ñ\u202e", "$(rm -rf /)", "'; DROP TABLE stacks; --", [], {}, [None], {"x": {}}, ["us-east-1", "us-east-1"], [22, 22], [0], {"mode": "auto"},
]
def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    found: list[tuple[Any, ...]] = []
    for key, child in items:
        found.append((*prefix, key))
        found += _paths(child, (*prefix, key))
    return found


def _parent(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        value = value[key]
    return value


def mutate(rng: random.Random, raw: dict[str, Any]) -> dict[str, Any]:
    """One to three random edits: delete a field, replace a value, or add a key."""
    config = copy.deepcopy(raw)
    for _ in range(rng.randint(1, 3)):
        paths = _paths(config)
        kind = rng.choice(["delete", "replace", "replace", "add"])
        if kind == "add" or not paths:
            containers = [path for path in paths if isinstance(_parent(config, (*path, None)), dict)]
            target = _parent(config, (*rng.choice(containers), None)) if containers else config
            target[rng.choice(KEY_NAMES)] = copy.deepcopy(rng.choice(VALUES))
            continue
        path = rng.choice(paths)
        if kind == "delete":
            del _parent(config, path)[path[-1]]
        else:
            _parent(config, path)[path[-1]] = copy.deepcopy(rng.choice(VALUES))
    return config


def _example() -> dict[str, Any]:
    return {key.removeprefix("governance:"): value for key, value in stack_config("dev").items()}


def test_mutated_configs_are_rejected_with_one_sentence_per_problem() -> None:
    rng = random.Random(SEED)
    base = _example()
    load_settings(base)
    outcomes: Counter[str] = Counter()
    problems = 0
    for _ in range(CONFIGS):
        raw = mutate(rng, base)
        try:
            validate(raw)
        except ConfigError as error:
            outcomes["rejected"] += 1
            assert error.problems, "a rejection names at least one problem"
            for problem in error.problems:
                assert_one_sentence(problem)
                assert_names_its_key(problem, raw)
            problems += len(error.problems)
        else:
            outcomes["accepted"] += 1
    assert outcomes["rejected"] > CONFIGS // 2
    record("config_fuzz", "configs", CONFIGS)
    record("config_fuzz", "rejected", outcomes["rejected"])
    record("config_fuzz", "problems reported", problems)


@pytest.mark.parametrize("name", ["", "a. b", "line\nbreak"])
def test_a_strange_key_name_is_quoted_in_one_sentence(name: str) -> None:
    raw = {**_example(), "rules": {"cloudtrail-log-validation": {"mode": "auto", "params": {name: 1}}}}
    with pytest.raises(ConfigError) as raised:
        load_settings(raw)
    for problem in raised.value.problems:
        assert_one_sentence(problem)
        assert_names_its_key(problem, raw)


def test_a_port_list_holding_an_object_is_one_sentence() -> None:
    raw = {**_example(), "rules": {"restricted-admin-ports": {"mode": "auto", "params": {"ports": [22, {}]}}}}
    with pytest.raises(ConfigError) as raised:
        load_settings(raw)
    for problem in raised.value.problems:
        assert_one_sentence(problem)


def _as_the_program_reads(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` as __main__.py receives it: a top-level string that is JSON arrives parsed (as with `pulumi config set`),
    except for the keys the program reads as plain strings (exemptionTag, ruleNamePrefix)."""
    seen = dict(raw)
    for key, value in raw.items():
        if isinstance(value, str) and key not in ("exemptionTag", "ruleNamePrefix"):
            with contextlib.suppress(json.JSONDecodeError):
                seen[key] = json.loads(value)
    return seen


def test_rejected_configs_register_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    registered: list[Any] = []
    original = RecordingMocks.new_resource

    def recording_new_resource(self: RecordingMocks, args: Any) -> Any:
        registered.append(args)
        return original(self, args)

    monkeypatch.setattr(RecordingMocks, "new_resource", recording_new_resource)
    rng = random.Random(SEED + 1)
    base = _example()
    runs = 0
    while runs < PROGRAM_RUNS:
        raw = _as_the_program_reads(mutate(rng, base))
        # Any other exception is a crash on bad input and fails the test.
        try:
            validate(raw)
            continue
        except ConfigError as error:
            expected = error.problems[0]
        with pytest.raises(pulumi.RunError) as raised:
            run_program({f"governance:{key}": value for key, value in raw.items()})
        assert expected in str(raised.value)
        assert registered == [], "nothing is registered before the config is valid"
        runs += 1
    record("config_fuzz", "rejected configs run through the program", runs)
