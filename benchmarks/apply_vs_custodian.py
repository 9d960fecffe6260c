"""The operator CLI's ``apply`` against Cloud Custodian (c7n) on the same emulator and the same work.

Work: 200 S3 buckets without default encryption, and 200 security groups open to the world
(``0.0.0.0/0`` and ``::/0``) on TCP 22 and 3389, each with a legitimate rule (TCP 443 from
``10.0.0.0/8``) that must survive. Each tool starts from the same freshly seeded emulator state; the
AWS requests are counted at the emulator (per service, from the SigV4 scope) and the wall time is that
of the tool's whole command (interpreter start included, for both). Afterwards the result is verified:
every bucket has default encryption, no group has 22 or 3389 open to ``0.0.0.0/0`` or ``::/0``, and
every group still has 443 from ``10.0.0.0/8``.

c7n runs with its default policy options (``benchmarks/custodian/policy.yml``) from its own virtualenv,
``benchmarks/.venv-custodian``, created on first run from ``benchmarks/custodian/requirements.txt``
(c7n pins its own boto3). Only its cache file is moved into the run's temporary directory, so a
cache left by an earlier run (default ``~/.cache/cloud-custodian.cache``, 15 minutes) cannot answer
for this emulator.

    .venv/bin/python benchmarks/apply_vs_custodian.py [--buckets 200] [--groups 200] [--concurrency N]
        [--custodian-policy benchmarks/custodian/policy-augment-none.yml] [--keep]

``policy-augment-none.yml`` is a tuned c7n variant (no optional bucket attributes), not its defaults:
it shows how much of the request gap comes from c7n's default augmentation.

Targets: apply makes at most 1/3 of c7n's requests and takes at most 1/2 of its wall time.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from benchmarks.remediation_work import (  # noqa: E402
    CUSTODIAN_POLICY,
    PROJECT_PYTHON,
    REGION,
    Result,
    by_service,
    custodian_operations,
    ensure_custodian,
    print_table,
    reset_emulator,
    seed_work,
    timed_run,
    tool_env,
    verify_work,
)
from governance import moto_fidelity  # noqa: E402
from governance.cli.emulator import Emulator, embedded_emulator  # noqa: E402

ACCOUNT = "123456789012"  # moto's default account

REQUEST_TARGET = 1 / 3
WALL_TARGET = 1 / 2

STACK_FILE = """\
config:
  governance:accounts:
    - id: "{account}"
  governance:regions: [{region}]
  governance:rules:
    s3-bucket-encryption: {{mode: auto, engine: lambda}}
    restricted-admin-ports: {{mode: auto}}
"""


def run_custodian(emulator: Emulator, workdir: Path, buckets: int, groups: int, policy: Path) -> Result:
    """Run c7n's policies once against the emulator and verify what it left."""
    python = ensure_custodian()
    out = workdir / "custodian"
    command = [
        str(python), "-m", "c7n.cli", "run",
        "--region", REGION,
        "-s", str(out),
        "--cache", str(workdir / "custodian.cache"),
        str(policy),
    ]  # fmt: skip
    result = Result("c7n", command)
    timed_run(result, emulator, workdir / "custodian.log")
    result.operations = custodian_operations(out)
    result.problems = verify_work(buckets, groups)
    return result


def run_apply(emulator: Emulator, workdir: Path, buckets: int, groups: int, concurrency: int | None) -> Result:
    """Run ``python -m governance apply`` once against the emulator and verify what it left."""
    stack = workdir / "Pulumi.bench.yaml"
    stack.write_text(STACK_FILE.format(account=ACCOUNT, region=REGION))
    python = str(PROJECT_PYTHON if PROJECT_PYTHON.exists() else Path(sys.executable))
    command = [
        python,
        "-m",
        "governance",
        "apply",
        "--stack-file",
        str(stack),
        "--yes",
        "--audit-file",
        str(workdir / "audit.jsonl"),
    ]
    if concurrency is not None:
        command += ["--concurrency", str(concurrency)]
    result = Result("apply", command)
    probe = subprocess.run(
        [python, "-m", "governance", "apply", "--help"],
        env=tool_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        result.skipped = (
            f"`python -m governance apply --help` exited {probe.returncode}: the apply command is not available yet"
        )
        return result
    timed_run(result, emulator, workdir / "apply.log")
    result.problems = verify_work(buckets, groups)
    return result


def prepare(emulator: Emulator, buckets: int, groups: int) -> None:
    """Fresh emulator state with the work seeded and checked undone."""
    reset_emulator(emulator)
    seed_work(buckets, groups)
    problems = verify_work(buckets, groups, fixed=False)
    if problems:
        raise SystemExit("seeding went wrong:\n  " + "\n  ".join(problems[:20]))


def describe(result: Result) -> list[str]:
    """One table row."""
    if result.skipped:
        return [result.tool, "-", "skipped", "-", "-"]
    verified = "yes" if result.verified else f"NO ({len(result.problems)} problems, exit {result.exit_code})"
    return [result.tool, str(result.total), by_service(result.requests), f"{result.seconds:.2f}", verified]


def report(results: list[Result], buckets: int, groups: int) -> int:
    """Print both tools side by side, the ratios against the targets and the commands; 0 when all is met."""
    print(
        f"work: {buckets} unencrypted buckets, {groups} security groups open on 22/3389 to 0.0.0.0/0 and ::/0 (+443 from 10.0.0.0/8)"
    )
    print()
    print_table([["tool", "requests", "by service", "wall s", "verified"], *(describe(result) for result in results)])
    ok = all(result.verified or result.skipped for result in results)
    custodian, apply = results[0], results[1]
    print()
    if apply.skipped or not custodian.verified or not apply.verified:
        print("ratios: n/a (" + (apply.skipped or "a tool did not verify") + ")")
        ok = ok and not apply.skipped
    else:
        request_ratio = apply.total / custodian.total
        wall_ratio = apply.seconds / custodian.seconds
        request_ok, wall_ok = request_ratio <= REQUEST_TARGET, wall_ratio <= WALL_TARGET
        print(
            f"apply/c7n requests: {request_ratio:.3f}  (target <= {REQUEST_TARGET:.3f})  {'met' if request_ok else 'MISSED'}"
        )
        print(f"apply/c7n wall:     {wall_ratio:.3f}  (target <= {WALL_TARGET:.3f})  {'met' if wall_ok else 'MISSED'}")
        ok = ok and request_ok and wall_ok
    print()
    print("commands (against the emulator, env AWS_ENDPOINT_URL + fake credentials + AWS_DEFAULT_REGION):")
    print(f"  benchmark: {shlex.join([sys.executable, *sys.argv])}")
    for result in results:
        print(f"  {result.tool}: {shlex.join(result.command)}")
    if custodian.operations:
        outside = custodian.total - sum(custodian.operations.values())
        print()
        print(
            f"c7n's own api-stats ({outside} more requests outside its policies, e.g. sts GetCallerIdentity for the account id):"
        )
        for operation, count in sorted(custodian.operations.items()):
            print(f"  {operation} {count}")
    for result in results:
        if result.problems or (result.exit_code not in (None, 0)):
            print(f"\n{result.tool} problems (log {result.log}):")
            for problem in result.problems[:10]:
                print(f"  {problem}")
            if len(result.problems) > 10:
                print(f"  ... and {len(result.problems) - 10} more")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    """Seed, run c7n, reseed, run apply, print both."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--buckets", type=int, default=200)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=None, help="passed to apply as --concurrency")
    parser.add_argument(
        "--custodian-policy", type=Path, default=CUSTODIAN_POLICY, help="c7n policy file (default: c7n defaults)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the working directory (logs, c7n output, audit file)")
    args = parser.parse_args(argv)
    ensure_custodian()
    workdir = Path(tempfile.mkdtemp(prefix="apply-vs-custodian-"))
    code = 1
    try:
        with embedded_emulator() as emulator:
            # The comparison measures fixing buckets without default encryption, a state AWS no longer
            # produces (every bucket has had SSE-S3 since 2023-01-05); the emulator is put back to moto's
            # own behaviour for it, so both tools still have the same bucket work to do.
            moto_fidelity.uninstall()
            prepare(emulator, args.buckets, args.groups)
            custodian = run_custodian(emulator, workdir, args.buckets, args.groups, args.custodian_policy.resolve())
            prepare(emulator, args.buckets, args.groups)
            apply = run_apply(emulator, workdir, args.buckets, args.groups, args.concurrency)
        code = report([custodian, apply], args.buckets, args.groups)
    finally:
        if args.keep or code != 0:
            print(f"\nworking directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
