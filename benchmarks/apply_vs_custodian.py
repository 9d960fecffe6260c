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
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

import boto3  # noqa: E402

from governance import moto_fidelity  # noqa: E402
from governance.cli.emulator import Emulator, embedded_emulator  # noqa: E402

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
CUSTODIAN_DIR = ROOT / "benchmarks" / "custodian"
CUSTODIAN_VENV = ROOT / "benchmarks" / ".venv-custodian"
CUSTODIAN_POLICY = CUSTODIAN_DIR / "policy.yml"
CUSTODIAN_REQUIREMENTS = CUSTODIAN_DIR / "requirements.txt"
PROJECT_PYTHON = ROOT / ".venv" / "bin" / "python"

BUCKET_PREFIX = "bench-bucket-"
GROUP_PREFIX = "bench-sg-"
ADMIN_PORTS = (22, 3389)
WORLD = ("0.0.0.0/0", "::/0")
LEGITIMATE = {
    "IpProtocol": "tcp",
    "FromPort": 443,
    "ToPort": 443,
    "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "internal https"}],
}

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


@dataclass
class Result:
    """What one tool did: its command, the requests the emulator served, its wall time, the check."""

    tool: str
    command: list[str]
    requests: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    exit_code: int | None = None
    problems: list[str] = field(default_factory=list)
    skipped: str = ""
    log: Path | None = None
    operations: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        """All requests the tool made."""
        return sum(self.requests.values())

    @property
    def verified(self) -> bool:
        """Ran, exited 0, and left the work done."""
        return not self.skipped and self.exit_code == 0 and not self.problems


def clients() -> tuple[Any, Any]:
    """S3 and EC2 clients against the emulator (``AWS_ENDPOINT_URL`` is set by the emulator)."""
    return boto3.client("s3", region_name=REGION), boto3.client("ec2", region_name=REGION)


def bucket_names(count: int) -> list[str]:
    """The benchmark's bucket names."""
    return [f"{BUCKET_PREFIX}{index:03d}" for index in range(count)]


def seed_work(buckets: int, groups: int) -> None:
    """Create the unencrypted buckets and the world-open security groups (in the default VPC)."""
    s3, ec2 = clients()
    for name in bucket_names(buckets):
        s3.create_bucket(Bucket=name)
        # Real S3 gives new buckets SSE-S3; moto 5.2.5 gives none. Remove it if an emulator ever does.
        try:
            s3.get_bucket_encryption(Bucket=name)
        except s3.exceptions.ClientError as error:
            if error.response["Error"]["Code"] != "ServerSideEncryptionConfigurationNotFoundError":
                raise
        else:
            s3.delete_bucket_encryption(Bucket=name)
    vpc_id = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    open_ports = [
        {
            "IpProtocol": "tcp",
            "FromPort": port,
            "ToPort": port,
            "IpRanges": [{"CidrIp": WORLD[0]}],
            "Ipv6Ranges": [{"CidrIpv6": WORLD[1]}],
        }
        for port in ADMIN_PORTS
    ]
    for index in range(groups):
        group_id = ec2.create_security_group(
            GroupName=f"{GROUP_PREFIX}{index:03d}", Description="benchmark", VpcId=vpc_id
        )["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[*open_ports, LEGITIMATE])


def bench_groups(ec2: Any) -> list[dict[str, Any]]:
    """The benchmark's security groups as DescribeSecurityGroups returns them."""
    pages = ec2.get_paginator("describe_security_groups").paginate(
        Filters=[{"Name": "group-name", "Values": [f"{GROUP_PREFIX}*"]}]
    )
    return [group for page in pages for group in page["SecurityGroups"]]


def world_open_admin_ports(group: dict[str, Any]) -> list[str]:
    """The ``port from cidr`` pairs through which the group opens an admin port to the world."""
    found = []
    for perm in group.get("IpPermissions", []):
        protocol = str(perm.get("IpProtocol"))
        if protocol not in ("tcp", "6", "-1"):
            continue
        low, high = perm.get("FromPort", 0), perm.get("ToPort", 65535)
        if protocol == "-1" or low in (None, -1):
            low, high = 0, 65535
        cidrs = [r["CidrIp"] for r in perm.get("IpRanges", [])] + [r["CidrIpv6"] for r in perm.get("Ipv6Ranges", [])]
        found += [
            f"{port} from {cidr}" for port in ADMIN_PORTS for cidr in cidrs if cidr in WORLD and low <= port <= high
        ]
    return found


def keeps_legitimate(group: dict[str, Any]) -> bool:
    """Whether TCP 443 from 10.0.0.0/8 is still there."""
    return any(
        perm.get("IpProtocol") == "tcp"
        and perm.get("FromPort") == 443
        and perm.get("ToPort") == 443
        and any(r.get("CidrIp") == "10.0.0.0/8" for r in perm.get("IpRanges", []))
        for perm in group.get("IpPermissions", [])
    )


def bucket_encrypted(s3: Any, name: str) -> bool:
    """Whether the bucket has a default encryption rule."""
    try:
        rules = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
    except s3.exceptions.ClientError as error:
        if error.response["Error"]["Code"] == "ServerSideEncryptionConfigurationNotFoundError":
            return False
        raise
    return any(rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for rule in rules)


def verify_work(buckets: int, groups: int, *, fixed: bool = True) -> list[str]:
    """Problems with the state: after a tool (``fixed``) everything is done; before one, nothing is."""
    s3, ec2 = clients()
    problems = []
    for name in bucket_names(buckets):
        if bucket_encrypted(s3, name) != fixed:
            problems.append(f"bucket {name}: {'no' if fixed else 'already has'} default encryption")
    found = bench_groups(ec2)
    if len(found) != groups:
        problems.append(f"{len(found)} benchmark security groups, expected {groups}")
    for group in found:
        label = f"group {group['GroupName']} ({group['GroupId']})"
        open_to_world = world_open_admin_ports(group)
        if fixed and open_to_world:
            problems.append(f"{label}: still open: {', '.join(open_to_world)}")
        if not fixed and len(open_to_world) != len(ADMIN_PORTS) * len(WORLD):
            problems.append(f"{label}: seeded open only on {', '.join(open_to_world) or 'nothing'}")
        if not keeps_legitimate(group):
            problems.append(f"{label}: lost 443 from 10.0.0.0/8")
    return problems


def reset_emulator(emulator: Emulator) -> None:
    """Drop every resource moto holds (its own reset endpoint), so each tool starts from the same state."""
    urllib.request.urlopen(
        urllib.request.Request(f"{emulator.endpoint_url}/moto-api/reset", method="POST"), timeout=30
    ).read()


def tool_env() -> dict[str, str]:
    """The environment of a tool's process: the emulator's endpoint and fake credentials, nothing else AWS."""
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "C7N_", "PYTHON", "VIRTUAL_ENV"))
    }
    env.update({key: os.environ[key] for key in ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION") if key in os.environ})
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    return env


def timed_run(result: Result, emulator: Emulator, log: Path) -> None:
    """Run the result's command with the counter at zero; record requests, wall time and exit code."""
    result.log = log
    emulator.requests.reset()
    started = time.perf_counter()
    with log.open("w") as output:
        completed = subprocess.run(
            result.command, env=tool_env(), cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, check=False
        )
    result.seconds = time.perf_counter() - started
    result.requests = Counter(emulator.requests.by_service)
    result.exit_code = completed.returncode


def pinned_c7n() -> str:
    """The c7n version the requirements file pins."""
    for line in CUSTODIAN_REQUIREMENTS.read_text().splitlines():
        if line.strip().startswith("c7n=="):
            return line.split("==", 1)[1].strip()
    raise SystemExit(f"{CUSTODIAN_REQUIREMENTS} pins no c7n version")


def ensure_custodian() -> Path:
    """c7n's own virtualenv, created (or brought to the pinned version) when needed; returns its python."""
    python = CUSTODIAN_VENV / "bin" / "python"
    version = [str(python), "-c", "import importlib.metadata as m; print(m.version('c7n'))"]
    if python.exists():
        installed = subprocess.run(version, capture_output=True, text=True, check=False).stdout.strip()
        if installed == pinned_c7n():
            return python
    else:
        print(f"creating {CUSTODIAN_VENV.relative_to(ROOT)} (c7n's own virtualenv)...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(CUSTODIAN_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(CUSTODIAN_REQUIREMENTS)], check=True)
    return python


def custodian_operations(out: Path) -> Counter[str]:
    """The API calls c7n says its policies made (``api-stats`` of each policy's metadata.json)."""
    operations: Counter[str] = Counter()
    for metadata in sorted(out.glob("*/metadata.json")):
        operations.update(json.loads(metadata.read_text()).get("api-stats", {}))
    return operations


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


def by_service(requests: Counter[str]) -> str:
    """``ec2 401, s3 2401, sts 1``."""
    return ", ".join(f"{service} {count}" for service, count in sorted(requests.items())) or "-"


def describe(result: Result) -> list[str]:
    """One table row."""
    if result.skipped:
        return [result.tool, "-", "skipped", "-", "-"]
    verified = "yes" if result.verified else f"NO ({len(result.problems)} problems, exit {result.exit_code})"
    return [result.tool, str(result.total), by_service(result.requests), f"{result.seconds:.2f}", verified]


def print_table(rows: list[list[str]]) -> None:
    """Left-aligned columns."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


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
