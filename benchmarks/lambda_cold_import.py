"""Cold-import cost of the remediation handler compared with a bare ``import boto3``.

Each measurement runs in a fresh interpreter (no module cache, no bytecode written) and times only
the import statement. The budget is that importing the handler, with every fixer a deployment can
configure, takes at most 20% longer than importing boto3 alone, since boto3 is the bulk of both.
Lambda cannot write bytecode next to the code, so the package is timed twice: from sources only
(what a deployment made on another Python version ships), and as the program ships it from the
runtime's version: with hash-checked bytecode, compiled here by this interpreter into a copy.

Usage: python benchmarks/lambda_cold_import.py [--runs 15] [--against REV]

``--against REV`` also times ``import remediation.handler`` from git revision REV's ``lambdas/``
(extracted to a temporary directory), interleaved with the others, to show what a change costs.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

LAMBDAS = Path(__file__).resolve().parents[1] / "lambdas"
SNIPPET = "import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
BOTO3 = "import boto3"
HANDLER = "import remediation.handler"
# What the first event adds when the deployment configures every Lambda fixer (they load lazily).
HANDLER_AND_ALL_FIXERS = "import remediation.handler; import remediation.fixers as fixers; fixers.FIXERS"


def time_import(statement: str, lambdas: Path = LAMBDAS) -> float:
    """Seconds ``statement`` takes in a fresh interpreter with ``lambdas`` on the path."""
    environment = {**os.environ, "PYTHONPATH": str(lambdas), "PYTHONDONTWRITEBYTECODE": "1"}
    output = subprocess.run(
        [sys.executable, "-c", SNIPPET.format(statement=statement)], check=True, capture_output=True, text=True, env=environment
    ).stdout
    return float(output.strip())


def extract_lambdas(revision: str, into: Path) -> Path:
    """``lambdas/`` of git ``revision``, written under ``into`` (sources only, no bytecode)."""
    archive = subprocess.run(["git", "archive", "--format=tar", revision, "lambdas"], check=True, capture_output=True, cwd=LAMBDAS.parent).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as bundle:
        bundle.extractall(into, filter="data")
    return into / "lambdas"


def shipped_copy(into: Path) -> Path:
    """A copy of ``lambdas/`` with the bytecode the program adds to the zip, compiled by this interpreter."""
    sys.path.insert(0, str(LAMBDAS.parent))
    from governance.lambda_code import compile_bytecode, source_files

    root = into / "shipped"
    sources = {inside: root / inside for inside in source_files()}
    for inside, path in sources.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes((LAMBDAS / inside).read_bytes())
    compile_bytecode(sources, root=root)
    return root


def main() -> None:
    """Measure and print the medians and ratios; exit 1 when the handler is over budget."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--against", metavar="REV", help="also time the handler of this git revision")
    args = parser.parse_args()
    runs = args.runs
    times: dict[str, list[float]] = {BOTO3: [], HANDLER: [], HANDLER_AND_ALL_FIXERS: []}
    with tempfile.TemporaryDirectory() as scratch:
        other = extract_lambdas(args.against, Path(scratch)) if args.against else None
        shipped = shipped_copy(Path(scratch))
        as_shipped = f"{HANDLER_AND_ALL_FIXERS} (as shipped, with bytecode)"
        times[as_shipped] = []
        against = f"{HANDLER} (at {args.against})"
        if other is not None:
            times[against] = []
        for _ in range(runs):  # interleaved, so machine noise hits all alike
            for statement, measured in times.items():
                if statement == against and other is not None:
                    measured.append(time_import(HANDLER, other))
                elif statement == as_shipped:
                    measured.append(time_import(HANDLER_AND_ALL_FIXERS, shipped))
                else:
                    measured.append(time_import(statement))
    medians = {statement: statistics.median(measured) for statement, measured in times.items()}
    print(f"runs: {runs} (fresh interpreter each, no bytecode written)")
    for statement, median in medians.items():
        print(f"{statement:<100} median {median * 1000:7.1f} ms  ratio {median / medians[BOTO3]:.3f}")
    ratio = medians[as_shipped] / medians[BOTO3]
    print(f"cold import as shipped, every fixer loaded: ratio {ratio:.3f}, overhead {100 * (ratio - 1):+.1f}% (budget +20%)")
    sys.exit(0 if ratio <= 1.2 else 1)


if __name__ == "__main__":
    main()
