"""How the program scales: a 50-account x 4-region fleet with every rule on, against the SDK's floor.

Runs ``__main__.py`` under Pulumi mocks, then a bare loop that registers as many plain
``aws.sqs.Queue`` resources under the same mocks, and prints both side by side with the ratio.
Also prints the resources per account-region (components included) for the default engines and for
the largest mix the catalog allows.

    python benchmarks/fleet_scale.py [--accounts 50] [--regions 4] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "lambdas")]

import pulumi  # noqa: E402
import pulumi_aws as aws  # noqa: E402
from pulumi.runtime import mocks, settings  # noqa: E402

from governance.catalog import CATALOG  # noqa: E402
from governance.mock_program import RecordingMocks, run_program  # noqa: E402

REGIONS = ["us-east-1", "us-east-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "ap-northeast-1"]


def fleet_config(accounts: int, regions: int, engine_for: dict[str, str] | None = None) -> dict[str, Any]:
    """Stack config for a fleet with every rule in auto mode."""
    rules: dict[str, Any] = {}
    for key in CATALOG:
        rules[key] = {"mode": "auto", "engine": (engine_for or {}).get(key, CATALOG[key].default_engine)}
    rules["cloudtrail-multi-region"]["params"] = {"s3BucketName": "org-cloudtrail-logs"}
    return {
        "governance:regions": REGIONS[:regions],
        "governance:accounts": [
            {"id": f"{100000000000 + index}", "roleArn": f"arn:aws:iam::{100000000000 + index}:role/governance-deploy"}
            for index in range(accounts)
        ],
        "governance:rules": rules,
    }


def floor(count: int) -> float:
    """Seconds to register ``count`` plain queues under the same mocks."""
    recording = RecordingMocks()
    settings.ROOT.set(None)
    pulumi.runtime.set_mocks(recording, project="governance", stack="bench", preview=False, monitor=mocks.MockMonitor(recording))
    pulumi.runtime.set_all_config({})

    @pulumi.runtime.test
    def register() -> None:
        for index in range(count):
            aws.sqs.Queue(f"queue-{index}", region="us-east-1")

    started = time.perf_counter()
    register()
    elapsed = time.perf_counter() - started
    assert len(recording.resources) == count
    return elapsed


def per_account_region(config: dict[str, Any]) -> int:
    """Most resources (components included) in one account-region for ``config`` with one account."""
    run = run_program(config)
    counts: Counter[str] = Counter()
    for resource in run.resources:
        parts = resource.name.split("-")
        if resource.name.startswith("gov-") and len(parts) > 2 and parts[2] in {"us", "eu", "ap"}:
            counts["-".join(parts[:5])] += 1
    return max(counts.values())


def main() -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--regions", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    pulumi.log.warn = lambda *_args, **_kwargs: None  # keep the output to figures
    config = fleet_config(args.accounts, args.regions)
    program_times: list[float] = []
    floor_times: list[float] = []
    count = len(run_program(config, stack="bench").resources)  # warm-up, also gives the count
    for attempt in range(args.repeat):
        # Alternate the order so that neither run always profits from the other's warm caches.
        for which in ("program", "floor") if attempt % 2 == 0 else ("floor", "program"):
            started = time.perf_counter()
            if which == "program":
                run_program(config, stack="bench")
            else:
                floor(count)
            (program_times if which == "program" else floor_times).append(time.perf_counter() - started)
    program_s, floor_s = statistics.median(program_times), statistics.median(floor_times)

    default_mix = per_account_region(fleet_config(1, 1))
    all_ssm = per_account_region(fleet_config(1, 1, {key: "ssm" for key, entry in CATALOG.items() if entry.ssm}))
    all_lambda = per_account_region(fleet_config(1, 1, {key: "lambda" for key in CATALOG}))

    print(f"fleet: {args.accounts} accounts x {args.regions} regions, every rule auto, median of {args.repeat}")
    print(f"{'':28}{'resources':>10}{'seconds':>10}{'ms/resource':>13}")
    print(f"{'program (__main__.py)':28}{count:>10}{program_s:>10.2f}{1000 * program_s / count:>13.3f}")
    print(f"{'floor (plain sqs.Queue loop)':28}{count:>10}{floor_s:>10.2f}{1000 * floor_s / count:>13.3f}")
    print(f"overhead ratio program/floor: {program_s / floor_s:.2f}x (target <= 1.5x)")
    rules, ssm_capable, ssm_default = len(CATALOG), sum(1 for e in CATALOG.values() if e.ssm), sum(1 for e in CATALOG.values() if e.default_engine == "ssm")
    print("most resources in one account-region (components included; budget 16 + 1 per rule + 1 per ssm rule):")
    print(
        f"  default engines: {default_mix} (budget {16 + rules + ssm_default})   every rule on ssm where possible: {all_ssm} "
        f"(budget {16 + rules + ssm_capable})   every rule on lambda: {all_lambda} (budget {16 + rules})"
    )


if __name__ == "__main__":
    main()
