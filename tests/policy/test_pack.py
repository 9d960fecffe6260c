"""The policy pack as a whole: the stacks pass, the wire path handles preview unknowns, the entry point wires up."""

from __future__ import annotations

import json
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi_policy
import pytest
import yaml
from pulumi.runtime import proto
from pulumi_policy import version
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from governance.mock_program import ProgramRun, run_program, stack_config
from policy.validators import EVENT_TARGET, PACK_NAME, POLICIES, REMEDIATION, ROLE
from tests.policy.support import analyze, analyze_stack, custom_resources, evaluate_pack, servicer

PROJECT_ROOT = Path(__file__).resolve().parents[2]
POLICY_DIR = PROJECT_ROOT / "policy"


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_program(stack_config("prod"), stack="prod")


def test_every_stack_file_passes_the_pack() -> None:
    stacks = sorted(path.name.split(".")[1] for path in PROJECT_ROOT.glob("Pulumi.*.yaml"))
    assert {"dev", "prod"} <= set(stacks)
    for stack in stacks:
        run = run_program(stack_config(stack), stack=stack)
        assert custom_resources(run), stack
        assert evaluate_pack(run) == [], stack


def test_prod_protects_restricted_admin_ports_and_keeps_it_manual(prod: ProgramRun) -> None:
    document = yaml.safe_load((PROJECT_ROOT / "Pulumi.prod.yaml").read_text())["config"]
    assert document["pulumi:disable-default-providers"] == ["aws"]
    assert document["governance:protectedRules"] == ["restricted-admin-ports"]
    assert document["governance:rules"]["restricted-admin-ports"]["mode"] == "manual"
    rules = [r for r in prod.of_type("aws:cfg/rule:Rule") if r.inputs["tags"]["governance:rule"] == "restricted-admin-ports"]
    assert rules and all(r.inputs["tags"]["governance:protected"] == "true" for r in rules)
    assert len(prod.of_type("pulumi:providers:aws")) == 3


def test_prod_with_restricted_admin_ports_in_auto_is_blocked() -> None:
    config = stack_config("prod")
    config["governance:rules"]["restricted-admin-ports"]["mode"] = "auto"
    violations = evaluate_pack(run_program(config, stack="prod"))
    assert violations
    assert {violation.policy for violation in violations} == {"protected-rules-never-auto"}
    assert all("restricted-admin-ports" in violation.message for violation in violations)


# --- through the analyzer servicer: what the engine's gRPC calls run -------------------------------


def test_the_stack_passes_on_the_wire(prod: ProgramRun) -> None:
    for resource in custom_resources(prod):
        assert analyze(resource) == [], resource.name
    assert analyze_stack((resource, resource.state) for resource in custom_resources(prod)) == []


def test_unknowns_neither_fail_nor_skip_a_whole_policy(prod: ProgramRun) -> None:
    # The engine's proxy raises on an unknown; unhandled, the policy would report "can't run during preview".
    target = prod.of_type(EVENT_TARGET)[0]
    assert analyze(target, {**target.inputs, "deadLetterConfig": {"arn": UNKNOWN_STRING_VALUE}}) == []
    role = prod.of_type(ROLE)[0]
    assert analyze(role, {**role.inputs, "assumeRolePolicy": UNKNOWN_STRING_VALUE}) == []
    outputs = [(resource, {**resource.state, "arn": UNKNOWN_STRING_VALUE}) for resource in custom_resources(prod)]
    assert analyze_stack(outputs) == []


def test_violations_on_the_wire_are_mandatory_and_name_the_resource(prod: ProgramRun) -> None:
    target = prod.of_type(EVENT_TARGET)[0]
    (violation,) = analyze(target, {key: value for key, value in target.inputs.items() if key != "deadLetterConfig"})
    assert violation.policy == "eventbridge-target-dead-letter-queue"
    assert "deadLetterConfig.arn" in violation.message

    remediation = next(r for r in prod.of_type(REMEDIATION) if "s3-bucket-encryption" in r.name)
    outputs: list[tuple[Any, dict[str, Any]]] = [(resource, dict(resource.state)) for resource in custom_resources(prod)]
    assert analyze_stack(outputs) == []
    # Policy config (--policy-pack-config) protects more rules than the stack marks.
    flagged = analyze_stack(outputs, config={"protected-rules-never-auto": {"protectedRules": ["s3-bucket-encryption"]}})
    assert flagged and all(v.policy == "protected-rules-never-auto" for v in flagged)
    assert any(v.urn and v.urn.endswith(remediation.name) for v in flagged)


def test_the_servicer_reports_mandatory_enforcement(prod: ProgramRun) -> None:
    target = prod.of_type(EVENT_TARGET)[0]
    request = proto.AnalyzeRequest(type=target.type, urn="urn:x", name=target.name)
    response = servicer().Analyze(request, None)
    assert [d.enforcementLevel for d in response.diagnostics] == [proto.MANDATORY]


# --- the pack's files -----------------------------------------------------------------------------


def test_the_entry_point_builds_the_pack_without_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    built: dict[str, Any] = {}
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kwargs: built.update(kwargs))
    saved_path, saved_validators = list(sys.path), sys.modules.get("validators")
    try:
        runpy.run_path(str(POLICY_DIR), run_name="__main__")
    finally:
        # The entry point imports its sibling as the top-level ``validators``, as the CLI runs it.
        sys.path[:] = saved_path
        sys.modules.pop("validators", None)
        if saved_validators is not None:
            sys.modules["validators"] = saved_validators
    assert built["name"] == PACK_NAME
    assert [policy.name for policy in built["policies"]] == [policy.name for policy in POLICIES]
    assert built["enforcement_level"] == pulumi_policy.EnforcementLevel.MANDATORY
    assert len({policy.name for policy in POLICIES}) == len(POLICIES) == 9


def test_the_pack_runs_in_its_own_virtualenv_with_pinned_dependencies() -> None:
    manifest = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert manifest["runtime"]["name"] == "python"
    assert manifest["runtime"]["options"]["virtualenv"] == ".venv"  # gitignored, skipped by ruff and mypy
    pins = dict(
        line.split("==") for line in (POLICY_DIR / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")
    )
    program = dict(
        line.split("==") for line in (PROJECT_ROOT / "requirements.txt").read_text().splitlines() if "==" in line and not line.startswith("#")
    )
    assert pins["pulumi-policy"] == version.VERSION  # what these tests ran against
    assert pins["pulumi"] == program["pulumi"]


def test_validators_import_nothing_the_pack_venv_lacks() -> None:
    source = (POLICY_DIR / "validators.py").read_text()
    imports = {line.split()[1].split(".")[0] for line in source.splitlines() if line.startswith(("import ", "from "))}
    assert imports <= {"__future__", "json", "re", "collections", "dataclasses", "typing", "pulumi_policy"}, imports
    assert Path(POLICY_DIR / "__init__.py").exists()


LOAD_THE_PACK = """
import json, runpy, sys
import pulumi_policy
built = {}
pulumi_policy.PolicyPack = lambda **kwargs: built.update(kwargs)
runpy.run_path(".", run_name="__main__")
files = sorted(str(getattr(module, "__file__", "") or "") for module in list(sys.modules.values()))
print(json.dumps({"name": built["name"], "policies": [policy.name for policy in built["policies"]], "files": files}))
"""


def test_the_pack_loads_from_its_own_folder_alone(tmp_path: Path) -> None:
    # `pulumi policy publish` uploads only the pack's folder: nothing outside it may be needed.
    uploaded = tmp_path / "uploaded-pack"
    shutil.copytree(POLICY_DIR, uploaded, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    result = subprocess.run(
        [sys.executable, "-c", LOAD_THE_PACK], cwd=uploaded, env=environment, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["name"] == PACK_NAME
    assert loaded["policies"] == [policy.name for policy in POLICIES]
    site_packages = str(Path(pulumi_policy.__file__).resolve().parents[1])
    resolved = [str((uploaded / file).resolve()) for file in loaded["files"] if file]
    from_the_repository = [
        file for file in resolved
        if file.startswith(str(PROJECT_ROOT.resolve())) and not file.startswith(site_packages)
    ]
    assert from_the_repository == []
