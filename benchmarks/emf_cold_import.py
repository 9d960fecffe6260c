"""Cold-import cost of the Lambda's hand-written EMF module against AWS's aws-embedded-metrics library.

Both are imported after boto3 (which the Lambda imports anyway), each in a fresh interpreter without
bytecode cache, interleaved so that machine noise hits both alike; only the import is timed. The
library is not a dependency: install it into a directory first and pass that directory.

    pip install --target /tmp/emflib aws-embedded-metrics==3.5.0
    python benchmarks/emf_cold_import.py --library-path /tmp/emflib [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

LAMBDAS = Path(__file__).resolve().parents[1] / "lambdas"
SNIPPET = "import boto3, time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
HAND_WRITTEN = "import remediation.metrics"
LIBRARY = "from aws_embedded_metrics import metric_scope"


def time_import(statement: str, library_path: str) -> float:
    """Seconds the import statement takes in a fresh interpreter."""
    path = os.pathsep.join([str(LAMBDAS), library_path])
    environment = {**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}
    output = subprocess.run(
        [sys.executable, "-c", SNIPPET.format(statement=statement)], check=True, capture_output=True, text=True, env=environment
    ).stdout
    return float(output.strip())


def main() -> None:
    """Measure and print both medians and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library-path", required=True, help="directory aws-embedded-metrics was installed into")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    times: dict[str, list[float]] = {HAND_WRITTEN: [], LIBRARY: []}
    for _ in range(args.runs):
        for statement, measured in times.items():
            measured.append(time_import(statement, args.library_path))
    medians = {statement: statistics.median(measured) for statement, measured in times.items()}
    print(f"runs: {args.runs} (fresh interpreter each, after import boto3, no bytecode cache)")
    for statement, median in medians.items():
        print(f"{statement:<50} median {median * 1000:7.2f} ms")
    print(f"library / hand-written: {medians[LIBRARY] / medians[HAND_WRITTEN]:.1f}x")


if __name__ == "__main__":
    main()
