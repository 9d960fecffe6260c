"""Mutation testing of the safety-critical code, with mutmut: per module, the score and the surviving mutants.

Each module is mutated on its own, in a throwaway copy of the work tree, and each mutant is run
against only the test files that exercise that module (MODULES). A mutant that no test kills either
shows a missing test or is equivalent (it cannot change behaviour); equivalent ones are listed, with
the reason, in ``benchmarks/mutation_equivalent.md`` and reported as such.

    .venv/bin/python benchmarks/mutation_score.py events            # one module (a key of MODULES)
    .venv/bin/python benchmarks/mutation_score.py                   # every module (long: hours on 2 cores)
    .venv/bin/python benchmarks/mutation_score.py events --max-children 1 --show-diffs
    .venv/bin/python benchmarks/mutation_score.py events --keep       # keep the copy, to resume it
    .venv/bin/python benchmarks/mutation_score.py events --resume /tmp/mutation-events-XXXX

``--resume`` reruns only the surviving mutants of a kept copy, against the work tree's tests as they
are now (mutmut collects the new tests' coverage first); it refuses when a mutated module changed,
since mutants are numbered from the code. The time printed for a resumed copy is the sum of its runs.

mutmut decides the module name of a mutant from its file path, while the Lambda's code is imported
as the top-level package ``remediation`` (Lambda's zip root is ``lambdas/``). The copy therefore
moves ``lambdas/remediation`` to the copy's root, where the tests import it from.
"""

from __future__ import annotations

import argparse
import fnmatch
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
    """Modules to mutate (paths in the copy), the test files that exercise them, and the functions in scope."""

    paths: tuple[str, ...]
    tests: tuple[str, ...]
    functions: tuple[str, ...] = ()
    """Globs over mutant names (``remediation.events.x_parse_event__mutmut_*``) that are in scope; all when empty."""


FIXERS = "remediation.fixers"
SG = f"{FIXERS}.restricted_admin_ports"
SG_SPLIT = (
    "group_state", "opens_admin_port", "ranges_without", "replacement_rules", "covers", "narrowing_of", "plan", "rule_change",
    "_authorize", "_revoke", "apply", "_widest_first", "_authorize_what_fits", "_authorize_within_quota",
    "_revoke_reporting_unknown", "_same_rule",
)
LAMBDA_FIXER_TESTS = ("tests/lambdas/test_fixer_matrix.py", "tests/lambdas/test_fixer_safety.py", "tests/lambdas/test_fixer_writes.py")
MODULES = {
    "events": Module(
        ("remediation/events.py",),
        (
            "tests/lambdas/test_events.py", "tests/lambdas/test_retried_events.py", "tests/lambdas/test_flow_log_tokens.py",
            "tests/safety/test_event_ignores.py", "tests/safety/test_handler_fuzz.py", "tests/lambdas/test_event_parsing.py",
        ),
    ),
    "exemptions": Module(
        (
            "remediation/fixers/base.py", "remediation/fixers/s3_common.py", "remediation/fixers/restricted_admin_ports.py",
            "remediation/fixers/vpc_flow_logs.py", "remediation/fixers/cloudtrail_multi_region.py", "remediation/fixers/cloudtrail_log_validation.py",
            "remediation/fixers/s3_bucket_encryption.py", "remediation/fixers/s3_bucket_public_access.py", "remediation/fixers/s3_account_public_access.py",
            "remediation/fixers/cloudtrail_common.py", "governance/cli/inventory.py", "governance/cli/fleet.py",
        ),
        (*LAMBDA_FIXER_TESTS, "tests/lambdas/test_exemption_reads.py", "tests/lambdas/test_errors.py", "tests/lambdas/test_cloudtrail_account_trail.py", "tests/safety/test_faults.py", "tests/cli/test_inventory.py",
         "tests/cli/test_scan_apply_undo.py", "tests/cli/test_apply_faults.py"),
        (
            f"{FIXERS}.base.x_read_tags__mutmut_*", f"{FIXERS}.*.x_is_exempt__mutmut_*", f"{FIXERS}.s3_common.x_bucket_is_exempt__mutmut_*",
            f"{FIXERS}.cloudtrail_common.x_trail_is_exempt__mutmut_*",
            "governance.cli.inventory.*", "governance.cli.fleet.x__exemptions__mutmut_*", "governance.cli.fleet.x__flag__mutmut_*",
        ),
    ),
    "engine": Module(
        ("remediation/engine.py",),
        (
            "tests/lambdas/test_engine_outcomes.py", *LAMBDA_FIXER_TESTS, "tests/lambdas/test_decisions.py", "tests/lambdas/test_protected_rules.py",
            "tests/lambdas/test_retried_events.py", "tests/safety/test_faults.py",
        ),
    ),
    "security-group split": Module(
        ("remediation/fixers/restricted_admin_ports.py",),
        (
            "tests/lambdas/test_admin_ports_exact_plan.py", "tests/lambdas/test_admin_ports_rules.py", "tests/lambdas/test_restricted_admin_ports.py", "tests/lambdas/test_admin_ports_quota_and_races.py",
            "tests/lambdas/test_admin_ports_concurrent_rounds.py",
            "tests/safety/test_security_group_properties.py", *LAMBDA_FIXER_TESTS,
        ),
        (*(f"{SG}.x_{name}__mutmut_*" for name in SG_SPLIT), f"{SG}.xǁWorldRuleǁ*"),
    ),
    "s3 never weaker": Module(
        ("remediation/fixers/s3_bucket_encryption.py", "remediation/fixers/s3_bucket_public_access.py", "remediation/fixers/s3_account_public_access.py"),
        ("tests/lambdas/test_s3_exact_plans.py", "tests/safety/test_never_weakens.py", "tests/lambdas/test_s3_encryption_kms.py", *LAMBDA_FIXER_TESTS),
        (
            *(f"{FIXERS}.s3_bucket_encryption.x_{name}__mutmut_*" for name in ("is_configured_key", "plan", "_set_default", "check_key_usable", "apply")),
            f"{FIXERS}.s3_bucket_encryption.xǁEncryptionStateǁ*",
            *(f"{FIXERS}.s3_bucket_public_access.x_{name}__mutmut_*" for name in ("all_flags_on_plan", "plan", "apply")),
            f"{FIXERS}.s3_bucket_public_access.xǁPublicAccessStateǁ*",
            *(f"{FIXERS}.s3_account_public_access.x_{name}__mutmut_*" for name in ("plan", "apply")),
        ),
    ),
    "undo": Module(
        (
            "governance/cli/undo.py", "remediation/fixers/inverse.py", "remediation/fixers/restricted_admin_ports.py", "remediation/fixers/s3_bucket_encryption.py",
            "remediation/fixers/s3_bucket_public_access.py", "remediation/fixers/s3_account_public_access.py", "remediation/fixers/vpc_flow_logs.py",
            "remediation/fixers/cloudtrail_multi_region.py", "remediation/fixers/cloudtrail_log_validation.py",
        ),
        (
            # Undo's unit tests only: the end-to-end ones (test_undo_safety.py, test_scan_apply_undo.py) apply a
            # fleet on the emulator before each test, minutes per surviving mutant; ./test runs them.
            "tests/lambdas/test_undo_calls.py", "tests/cli/test_undo_checks.py", "tests/cli/test_undo_record.py",
            "tests/lambdas/test_s3_encryption_undo.py", "tests/lambdas/test_fixer_safety.py", "tests/lambdas/test_restricted_admin_ports.py",
        ),
        (
            *(f"governance.cli.undo.x_{name}__mutmut_*" for name in ("_wrote", "_check_record", "_confined", "_refuse_if_exempt", "undo_record")),
            f"{FIXERS}.inverse.*", f"{FIXERS}.*.x_undo_calls__mutmut_*", f"{SG}.x__rules_from_record__mutmut_*",
            f"{FIXERS}.s3_bucket_encryption.x_restore_calls__mutmut_*", f"{FIXERS}.s3_bucket_public_access.x_public_access_from_record__mutmut_*",
        ),
    ),
}
"""Safety-critical modules: event validation, exemption checks, manual mode, the security-group split, S3 never weaker, undo."""

READS_SOURCE = ("tests/lambdas/test_fixer_safety.py::test_the_package_imports_itself_only_relatively",)
"""Tests that parse the package's source files: mutmut's rewritten copies are not the package's code."""

STATUS_LINE = re.compile(r"^\s*(?P<name>\S+): (?P<status>.+)$")
EQUIVALENT_LINE = re.compile(r"^\|\s*`(?P<name>[^`]+)`\s*\|")
KILLING = {"killed", "timeout", "segfault", "caught by type check"}
UNFINISHED = {"not checked"}
"""Mutants an interrupted run did not reach: neither killed nor surviving."""


def work_tree_files() -> list[str]:
    """Tracked and untracked (not ignored) files of the work tree, as they are now."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [line for line in listed.stdout.splitlines() if (ROOT / line).is_file()]


def copy_path(name: str) -> str:
    """Where a work-tree file goes in the copy: the Lambda package moves to the root."""
    return name.removeprefix("lambdas/") if name.startswith(LAMBDA_PACKAGE + "/") else name


def make_copy(module: Module, destination: Path) -> None:
    """Copy the work tree with the Lambda package at the root and mutmut configured for ``module``."""
    for name in work_tree_files():
        target = destination / copy_path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    configure(module, destination)


def configure(module: Module, destination: Path) -> None:
    """Point the copy's pyproject at the Lambda package's new place and give mutmut its settings."""
    settings = "\n".join(
        [
            "",
            "[tool.mutmut]",
            'source_paths = ["remediation", "governance"]',
            f"only_mutate = {list(module.paths)!r}",
            f"pytest_add_cli_args_test_selection = {list(module.tests)!r}",
            f"pytest_add_cli_args = {['-p', 'no:randomly', '-q', *(f'--deselect={test}' for test in READS_SOURCE)]!r}",
            "",
        ]
    )
    pyproject = (ROOT / "pyproject.toml").read_text()
    (destination / "pyproject.toml").write_text(pyproject.replace('pythonpath = [".", "lambdas"]', 'pythonpath = ["."]') + settings)


def refresh_tests(module: Module, copy: Path) -> None:
    """Bring the work tree's tests into a kept copy; refuse if a mutated module differs from the copy's."""
    for path in module.paths:
        original = ROOT / (f"lambdas/{path}" if path.startswith("remediation/") else path)
        if original.read_bytes() != (copy / path).read_bytes():
            raise SystemExit(f"{path} changed since {copy} was made: its mutants are numbered from the old code; run the module afresh")
    for name in work_tree_files():
        if name.startswith("tests/"):
            target = copy / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target)
    configure(module, copy)


def in_scope(name: str, module: Module) -> bool:
    """Whether a mutant belongs to the functions ``module`` puts in scope."""
    return not module.functions or any(fnmatch.fnmatchcase(name, pattern) for pattern in module.functions)


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


SECONDS_FILE = "mutation-seconds"
"""In a kept copy: the seconds its runs took so far."""


def run_module(key: str, module: Module, options: argparse.Namespace) -> tuple[Counter[str], list[tuple[str, str]]]:
    """Mutate one module (in a fresh copy, or resume a kept one); returns the count per status and the survivors with their diffs."""
    copy = options.resume or Path(tempfile.mkdtemp(prefix=f"mutation-{key.replace(' ', '-')}-"))
    environment = {**os.environ, **SMALL_SIZES, "PYTHONDONTWRITEBYTECODE": "1"}
    environment.pop("GOVERNANCE_FIGURES", None)
    try:
        if options.resume:
            refresh_tests(module, copy)
            previous = results(copy, environment)
            names = [name for name, status in previous.items() if in_scope(name, module) and status not in KILLING]
        else:
            make_copy(module, copy)
            names = list(module.functions)
        seconds = float((copy / SECONDS_FILE).read_text()) if (copy / SECONDS_FILE).exists() else 0.0
        started = time.perf_counter()
        run = subprocess.run([str(MUTMUT), "run", "--max-children", str(options.max_children), *names], cwd=copy, env=environment, capture_output=True, text=True, check=False)
        # New or changed tests make mutmut drop the results of the functions they cover: run those again.
        dropped = [name for name, status in results(copy, environment).items() if in_scope(name, module) and status in UNFINISHED]
        if options.resume and dropped and run.returncode == 0:
            run = subprocess.run([str(MUTMUT), "run", "--max-children", str(options.max_children), *dropped], cwd=copy, env=environment, capture_output=True, text=True, check=False)
        seconds += time.perf_counter() - started
        (copy / SECONDS_FILE).write_text(f"{seconds:.0f}")
        statuses = {name: status for name, status in results(copy, environment).items() if in_scope(name, module)}
        if run.returncode != 0 or not statuses:
            print(run.stdout[-3000:], run.stderr[-3000:], sep="\n", file=sys.stderr)
            options.keep = True
            raise SystemExit(f"mutmut failed on {key} (exit {run.returncode}); the copy is kept in {copy}")
        counts = Counter(statuses.values())
        survivors = [(name, diff(copy, environment, name) if options.show_diffs else "") for name, status in sorted(statuses.items()) if status not in KILLING | UNFINISHED]
        print(f"{key}: {len(statuses)} mutants in {seconds:.0f} s ({', '.join(f'{status} {count}' for status, count in counts.most_common())})")
        if options.keep or options.resume:
            print(f"  copy kept in {copy}")
        return counts, survivors
    finally:
        if not (options.keep or options.resume):
            shutil.rmtree(copy, ignore_errors=True)


def score(counts: Counter[str]) -> float:
    """Killed (or timed out) mutants out of all mutants run; a mutant no test reaches counts as surviving."""
    total = sum(count for status, count in counts.items() if status not in UNFINISHED)
    return sum(counts[status] for status in KILLING) / total if total else 0.0


def main() -> int:
    """Run the chosen modules and print each score and every survivor; exit 1 if a survivor is not justified."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", choices=[[], *MODULES], help="keys of MODULES (default: all)")
    parser.add_argument("--max-children", type=int, default=2, help="mutants run in parallel (default 2)")
    parser.add_argument("--show-diffs", action="store_true", help="print each surviving mutant's diff")
    parser.add_argument("--keep", action="store_true", help="keep the copies (to resume them, or run `mutmut browse` in them)")
    parser.add_argument("--resume", type=Path, help="a kept copy of the one module given: rerun its survivors against the current tests")
    options = parser.parse_args()
    if options.resume and len(options.modules) != 1:
        parser.error("--resume takes exactly one module, the one the copy was made for")
    equivalent = justified_equivalents()
    unexplained = 0
    total: Counter[str] = Counter()
    failed = []
    for key in options.modules or list(MODULES):
        try:
            counts, survivors = run_module(key, MODULES[key], options)
        except SystemExit as failure:  # one module's failure must not hide the others' scores
            print(failure, file=sys.stderr)
            failed.append(key)
            continue
        total += counts
        print(f"  score {score(counts):.1%}; surviving {len(survivors)}")
        for name, change in survivors:
            justified = name in equivalent
            unexplained += not justified
            print(f"  {'equivalent' if justified else 'SURVIVED  '} {name}")
            for line in change.splitlines():
                print(f"      {line}")
    print(f"score {score(total):.1%} over {sum(total.values())} mutants; {unexplained} surviving mutants not justified in {EQUIVALENT.name}")
    if failed:
        print(f"mutmut could not run: {', '.join(failed)}")
    return 1 if unexplained or failed else 0


if __name__ == "__main__":
    sys.exit(main())
