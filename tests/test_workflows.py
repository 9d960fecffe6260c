"""The GitHub workflows: previews and deploys of one stack never run at the same time or cancel each other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


def pulumi_jobs() -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(workflow file, job id, job, pulumi/actions step) for every job that runs the Pulumi CLI on a stack."""
    found = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job_id, job in load(path)["jobs"].items():
            for step in job.get("steps", []):
                if str(step.get("uses", "")).startswith("pulumi/actions@"):
                    found.append((path.name, job_id, job, step))
    return found


def test_both_workflows_run_pulumi_on_stacks() -> None:
    commands = {(workflow, step["with"]["command"]) for workflow, _job_id, _job, step in pulumi_jobs()}
    assert commands == {("pull-request.yml", "preview"), ("deploy.yml", "up")}


@pytest.mark.parametrize(("workflow", "job_id", "job", "step"), pulumi_jobs(), ids=lambda value: str(value)[:20])
def test_one_concurrency_group_per_stack_across_workflows(workflow: str, job_id: str, job: dict[str, Any], step: dict[str, Any]) -> None:
    # The group names the stack exactly as the Pulumi step does, so a preview waits for a deploy and vice versa.
    concurrency = job["concurrency"]
    assert concurrency["group"] == f"pulumi-stack-{step['with']['stack-name']}", (workflow, job_id)
    # Cancelling a running update can leave the stack locked or half-deployed; queue instead of replacing.
    assert concurrency["cancel-in-progress"] is False, (workflow, job_id)
    assert concurrency["queue"] == "max", (workflow, job_id)


def test_no_workflow_level_group_cancels_a_pulumi_run() -> None:
    for workflow in {workflow for workflow, _job_id, _job, _step in pulumi_jobs()}:
        concurrency = load(WORKFLOWS / workflow).get("concurrency")
        if isinstance(concurrency, dict):
            assert concurrency.get("cancel-in-progress") in (None, False), workflow
