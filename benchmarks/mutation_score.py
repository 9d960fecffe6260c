"""Mutation testing of the safety-critical code, with mutmut: per module, the score and the surviving mutants.

Each module is mutated on its own, in a throwaway copy of the work tree, and each mutant is run
against only the test files that exercise that module (MODULES). A mutant that no test kills either
shows a missing test or is equivalent (it cannot change behaviour); equivalent ones are listed, with
the reason, in ``benchmarks/mutation_equivalent.md`` and reported as such.

    .venv/bin/python benchmarks/mutation_score.py events            # one module (a key of MODULES)
    .venv/bin/python benchmarks/mutation_score.py                   # every module (long: hours on 2 cores)
    .venv/bin/python benchmarks/mutation_score.py events --max-children 1 --show-diffs

mutmut decides the module name of a mutant from its file path, while the Lambda's code is imported
as the top-level package ``remediation`` (Lambda's zip root is ``lambdas/``). The copy therefore
moves ``lambdas/remediation`` to the copy's root, where the tests import it from.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTMUT = Path(sys.executable).parent / "mutmut"
EQUIVALENT = Path(__file__).resolve().parent / "mutation_equivalent.md"
LAMBDA_PACKAGE = "lambdas/remediation"
SMALL_SIZES = {"GOVERNANCE_FUZZ_EVENTS": "400", "GOVERNANCE_SG_PLAN_EXAMPLES": "300", "GOVERNANCE_SG_MOTO_EXAMPLES": "10"}
"""The property and fuzz tests' sizes while mutants run: enough to kill, small enough to run once per mutant."""


@dataclass(frozen=True)
class Module:
    """A module to mutate (paths in the copy) and the test files that exercise it."""

    paths: tuple[str, ...]
    tests: tuple[str, ...]


MODULES = {
    "events": Module(
        ("remediation/events.py",),
        ("tests/lambdas/test_events.py", "tests/lambdas/test_retried_events.py", "tests/lambdas/test_flow_log_tokens.py", "tests/safety/test_event_ignores.py", "tests/safety/test_handler_fuzz.py"),
    ),
    "exemptions": Module(
        ("remediation/fixers/base.py", "governance/cli/inventory.py"),
        ("tests/lambdas/test_fixer_matrix.py", "tests/lambdas/test_fixer_safety.py", "tests/cli/test_scan_apply_undo.py"),
    ),
    "engine": Module(("remediation/engine.py",), ("tests/lambdas/test_decisions.py", "tests/lambdas/test_fixer_matrix.py", "tests/safety/test_faults.py")),
    "security-group split": Module(
        ("remediation/fixers/restricted_admin_ports.py",),
        ("tests/lambdas/test_restricted_admin_ports.py", "tests/safety/test_security_group_properties.py"),
    ),
    "s3 never weaker": Module(
        ("remediation/fixers/s3_bucket_encryption.py", "remediation/fixers/s3_bucket_public_access.py", "remediation/fixers/s3_account_public_access.py", "remediation/fixers/s3_common.py"),
        ("tests/safety/test_never_weakens.py", "tests/lambdas/test_fixer_matrix.py"),
    ),
    "undo": Module(("governance/cli/undo.py",), ("tests/cli/test_scan_apply_undo.py",)),
}
"""Safety-critical modules: event validation, exemption checks, manual mode, the security-group split, S3 never weaker, undo."""

STATUS_LINE = re.compile(r"^\s*(?P<name>\S+): (?P<status>.+)$")
EQUIVALENT_LINE = re.compile(r"^\|\s*`(?P<name>[^`]+)`\s*\|")
KILLING = {"killed", "timeout", "segfault", "caught by type check"}
UNFINISHED = {"not checked"}
"""Mutants an interrupted run did not reach: neither killed nor surviving."""


def work_tree_files() -> list[str]:
    """Tracked and untracked (not ignored) files of the work tree, as they are now."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [line for line in listed.stdout.splitlines() if (ROOT / line).is_file()]


def make_copy(module: Module, destination: Path) -> None:
    """Copy the work tree with the Lambda package at the root and mutmut configured for ``module``."""
    for name in work_tree_files():
        target = destination / (name.removeprefix("lambdas/") if name.startswith(LAMBDA_PACKAGE + "/") else name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    settings = "\n".join(
        [
            "",
            "[tool.mutmut]",
            'source_paths = ["remediation", "governance"]',
            f"only_mutate = {list(module.paths)!r}",
            f"pytest_add_cli_args_test_selection = {list(module.tests)!r}",
            'pytest_add_cli_args = ["-p", "no:randomly", "-q"]',
            "",
        ]
    )
    pyproject = destination / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('pythonpath = [".", "lambdas"]', 'pythonpath = ["."]') + settings)


def results(copy: Path, environment: dict[str, str]) -> dict[str, str]:
    """mutmut's status of every mutant, by name."""
    listed = subprocess.run([str(MUTMUT), "results", "--all", "true"], cwd=copy, env=environment, capture_output=True, text=True, check=False)
    found = {}
    for line in listed.stdout.splitlines():
        match = STATUS_LINE.match(line)
        if match:
            found[match["name"]] = match["status"].strip()
    return found


def diff(copy: Path, environment: dict[str, str], name: str) -> str:
    """The mutant's change, as a diff."""
    shown = subprocess.run([str(MUTMUT), "show", name], cwd=copy, env=environment, capture_output=True, text=True, check=False)
    return "\n".join(line for line in shown.stdout.splitlines() if line.startswith(("+", "-")) and not line.startswith(("+++", "---")))


def justified_equivalents() -> set[str]:
    """Mutant names that ``mutation_equivalent.md`` lists, each with the reason it is equivalent."""
    if not EQUIVALENT.exists():
        return set()
    return {match["name"] for line in EQUIVALENT.read_text().splitlines() if (match := EQUIVALENT_LINE.match(line))}


def run_module(key: str, module: Module, max_children: int, show_diffs: bool, keep: bool) -> tuple[Counter[str], list[tuple[str, str]]]:
    """Mutate one module in a fresh copy; returns the count per status and the surviving mutants with their diffs."""
    copy = Path(tempfile.mkdtemp(prefix=f"mutation-{key.replace(' ', '-')}-"))
    try:
        make_copy(module, copy)
        environment = {**os.environ, **SMALL_SIZES, "PYTHONDONTWRITEBYTECODE": "1"}
        environment.pop("GOVERNANCE_FIGURES", None)
        started = time.perf_counter()
        run = subprocess.run([str(MUTMUT), "run", "--max-children", str(max_children)], cwd=copy, env=environment, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        statuses = results(copy, environment)
        if run.returncode != 0 or not statuses:
            print(run.stdout[-3000:], run.stderr[-3000:], sep="\n", file=sys.stderr)
            raise SystemExit(f"mutmut failed on {key} (exit {run.returncode}); the copy is kept in {copy}")
        counts = Counter(statuses.values())
        survivors = [(name, diff(copy, environment, name) if show_diffs else "") for name, status in sorted(statuses.items()) if status not in KILLING | UNFINISHED]
        print(f"{key}: {len(statuses)} mutants in {seconds:.0f} s ({', '.join(f'{status} {count}' for status, count in counts.most_common())})")
        return counts, survivors
    finally:
        if not keep:
            shutil.rmtree(copy, ignore_errors=True)


def score(counts: Counter[str]) -> float:
    """Killed (or timed out) mutants out of all mutants run; a mutant no test reaches counts as surviving."""
    total = sum(count for status, count in counts.items() if status not in UNFINISHED)
    return sum(counts[status] for status in KILLING) / total if total else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", choices=[[], *MODULES], help="keys of MODULES (default: all)")
    parser.add_argument("--max-children", type=int, default=2, help="mutants run in parallel (default 2)")
    parser.add_argument("--show-diffs", action="store_true", help="print each surviving mutant's diff")
    parser.add_argument("--keep", action="store_true", help="keep the copies (to run `mutmut browse` in them)")
    args = parser.parse_args()
    equivalent = justified_equivalents()
    unexplained = 0
    for key in args.modules or list(MODULES):
        counts, survivors = run_module(key, MODULES[key], args.max_children, args.show_diffs, args.keep)
        print(f"  score {score(counts):.1%}; surviving {len(survivors)}")
        for name, change in survivors:
            justified = name in equivalent
            unexplained += not justified
            print(f"  {'equivalent' if justified else 'SURVIVED  '} {name}")
            for line in change.splitlines():
                print(f"      {line}")
    print(f"{unexplained} surviving mutants not justified in {EQUIVALENT.name}")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
