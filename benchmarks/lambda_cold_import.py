"""Cold-start cost of the remediation handler compared with a bare ``import boto3``.

Each measurement runs in a fresh interpreter (no module cache, no bytecode written) and times only
the statements. The budget is that a cold start of a function configured with all 25 rules (its
``GOVERNANCE_CONFIG`` as the program writes it from ``Pulumi.dev.yaml`` with every rule on the
Lambda engine) takes at most 20% longer than importing boto3 alone, since boto3 is the bulk of
both. A cold start imports the handler, parses the config and loads the one fixer its event needs.
Each process times the two parts apart: the first is pooled over every rule's runs, the second is
a median per rule, and the slowest rule counts, so noise in one rule's runs does not pass for a
slow fixer. Lambda cannot write bytecode next to the code, so the budget applies to the package as
the program ships it from the runtime's Python version (the workflows run it): with hash-checked
bytecode, compiled by the measured interpreter into a copy. The same from sources only, what a
deployment from another Python ships (the program warns about it), and a warm container that has
met every rule and loaded all 25 fixers, are printed for information.

Usage: python benchmarks/lambda_cold_import.py [--runs 9] [--against REV] [--python PATH]

``--python`` times another interpreter (with boto3 installed), e.g. one of the Lambda runtime's
version, the version the shipped bytecode is compiled for.

``--against REV`` also times ``import remediation.handler`` from git revision REV's ``lambdas/``
(extracted to a temporary directory), interleaved with the others, to show what a change costs.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

LAMBDAS = Path(__file__).resolve().parents[1] / "lambdas"
SNIPPET = "import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
# A cold start in two parts: the handler with the config as the handler loads it, then the fixer of the event's rule.
FIRST_EVENT = (
    "import time; t = time.perf_counter(); import os; import remediation.handler; from remediation.config import load_config; "
    "rule, _ = load_config(os.environ['GOVERNANCE_CONFIG']).rule_for({rule!r}); u = time.perf_counter(); rule.params; "
    "print(u - t); print(time.perf_counter() - u)"
)
BOTO3 = "import boto3"
HANDLER = "import remediation.handler"
# What a warm container has loaded once it has met an event of every rule.
HANDLER_AND_ALL_FIXERS = "import remediation.handler; import remediation.fixers as fixers; fixers.FIXERS"


def dev_stack_on_lambda() -> str:
    """``GOVERNANCE_CONFIG`` of the dev stack's first account-region with every rule on the Lambda engine, auto."""
    sys.path.insert(0, str(LAMBDAS.parent))
    from governance.plan import plan_account
    from governance.settings import load_settings
    from governance.stack_file import stack_values

    values = stack_values("dev")
    values["rules"] = {key: {**rule, "engine": "lambda", "mode": "auto"} for key, rule in values["rules"].items()}
    settings = load_settings(values)
    return plan_account(settings, settings.accounts[0]).regions[0].lambda_config_json()


def time_snippet(python: str, snippet: str, lambdas: Path = LAMBDAS, config: str = "") -> list[float]:
    """The seconds ``snippet`` prints, one per line, run in a fresh ``python`` interpreter with ``lambdas`` on the path."""
    environment = {**os.environ, "PYTHONPATH": str(lambdas), "PYTHONDONTWRITEBYTECODE": "1", "GOVERNANCE_CONFIG": config}
    output = subprocess.run([python, "-c", snippet], check=True, capture_output=True, text=True, env=environment).stdout
    return [float(line) for line in output.split()]


def extract_lambdas(revision: str, into: Path) -> Path:
    """``lambdas/`` of git ``revision``, written under ``into`` (sources only, no bytecode)."""
    archive = subprocess.run(["git", "archive", "--format=tar", revision, "lambdas"], check=True, capture_output=True, cwd=LAMBDAS.parent).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as bundle:
        bundle.extractall(into, filter="data")
    return into / "lambdas"


COMPILE = (
    "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
    "from governance.lambda_code import compile_bytecode; root = Path(sys.argv[2]); "
    "compile_bytecode({str(path.relative_to(root)): path for path in root.rglob('*.py')}, root=root)"
)
"""Compiles a copy's sources as the program does, run by the interpreter being measured."""


def shipped_copy(into: Path, python: str) -> Path:
    """A copy of ``lambdas/`` with the bytecode the program adds to the zip, compiled by ``python``."""
    sys.path.insert(0, str(LAMBDAS.parent))
    from governance.lambda_code import source_files

    root = into / "shipped"
    for inside in source_files():
        path = root / inside
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes((LAMBDAS / inside).read_bytes())
    subprocess.run([python, "-c", COMPILE, str(LAMBDAS.parent), str(root)], check=True)
    return root


def main() -> None:
    """Measure and print the medians and ratios; exit 1 when the slowest cold start is over budget."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--against", metavar="REV", help="also time the handler of this git revision")
    parser.add_argument("--python", default=sys.executable, help="interpreter to time, with boto3 installed (the runtime's version: 3.13)")
    args = parser.parse_args()
    version = subprocess.run([args.python, "-c", "import sys; print(sys.version.split()[0])"], check=True, capture_output=True, text=True).stdout.strip()
    config = dev_stack_on_lambda()
    document = json.loads(config)
    # The name of a rule's first event: its own Config rule's, or one Security Hub gives it.
    rules = {key: rule["securityHubPrefixes"][0] + "0a1b2c3d" if "securityHubPrefixes" in rule else document["ruleNamePrefix"] + key for key, rule in document["rules"].items()}
    print(f"config: {len(rules)} rules on the Lambda engine, GOVERNANCE_CONFIG {len(config.encode())} bytes")
    hows = {"from sources": LAMBDAS}
    times: dict[str, list[float]] = {BOTO3: [], HANDLER: []}
    started: dict[str, list[float]] = {}
    """Handler and config before the first event's fixer, pooled over every rule, by how the code is shipped."""
    fixer: dict[tuple[str, str], list[float]] = {}
    """What the event's fixer adds, by rule and how the code is shipped."""
    with tempfile.TemporaryDirectory() as scratch:
        hows["as shipped"] = shipped_copy(Path(scratch), args.python)
        other = extract_lambdas(args.against, Path(scratch)) if args.against else None
        against = f"{HANDLER} (at {args.against})"
        if other is not None:
            times[against] = []
        for how in hows:
            times[f"every fixer loaded, {how}"] = []
            started[how] = []
            fixer.update({(key, how): [] for key in rules})
        for _ in range(args.runs):  # interleaved, so machine noise hits all alike
            times[BOTO3] += time_snippet(args.python, SNIPPET.format(statement=BOTO3))
            times[HANDLER] += time_snippet(args.python, SNIPPET.format(statement=HANDLER))
            if other is not None:
                times[against] += time_snippet(args.python, SNIPPET.format(statement=HANDLER), other)
            for how, lambdas in hows.items():
                times[f"every fixer loaded, {how}"] += time_snippet(args.python, SNIPPET.format(statement=HANDLER_AND_ALL_FIXERS), lambdas)
                for key, name in rules.items():
                    before, loading = time_snippet(args.python, FIRST_EVENT.format(rule=name), lambdas, config)
                    started[how].append(before)
                    fixer[key, how].append(loading)
    boto3 = statistics.median(times[BOTO3])
    print(f"runs: {args.runs} on Python {version} (fresh interpreter each, no bytecode written)")
    for label, measured in times.items():
        median = statistics.median(measured)
        print(f"{label:<60} median {median * 1000:7.1f} ms  ratio {median / boto3:.3f}")
    ratio = 0.0
    for how in hows:
        base = statistics.median(started[how])
        print(f"handler and the {len(rules)}-rule config, {how:<31} median {base * 1000:7.1f} ms  ratio {base / boto3:.3f}  ({len(started[how])} samples)")
        added = {key: statistics.median(fixer[key, how]) for key in rules}
        print("  the first event's fixer adds (median ms): " + ", ".join(f"{key} {added[key] * 1000:.1f}" for key in sorted(added, key=added.__getitem__)))
        slowest = max(added, key=added.__getitem__)
        ratio = (base + added[slowest]) / boto3
        budget = "budget +20%" if how == "as shipped" else "no budget: what a deployment from another Python costs"
        print(f"slowest cold start {how}: first event of {slowest}, ratio {ratio:.3f}, overhead {100 * (ratio - 1):+.1f}% ({budget})")
    sys.exit(0 if ratio <= 1.2 else 1)  # the last one measured: as shipped


if __name__ == "__main__":
    main()
