"""The work the Cloud Custodian comparisons give both tools, and how a tool is run and measured against it.

Shared by ``apply_vs_custodian.py`` (one account) and ``org_backfill_vs_c7n_org.py`` (an organization):
seeding unencrypted buckets and world-open security groups into one account, verifying what a tool
left, running a tool's command against the counting emulator, and c7n's own virtualenv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from governance.cli.emulator import Emulator

ROOT = Path(__file__).resolve().parent.parent
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


def clients(session: Any = None) -> tuple[Any, Any]:
    """S3 and EC2 clients against the emulator (``AWS_ENDPOINT_URL`` is set by the emulator).

    ``session`` is anything with boto3's ``client(service_name, region_name=...)`` (a boto3 session, an
    assumed role's credentials): the clients address its account; without it, the caller's.
    """
    source: Any = session or boto3
    return source.client("s3", region_name=REGION), source.client("ec2", region_name=REGION)


def bucket_names(count: int, prefix: str = BUCKET_PREFIX) -> list[str]:
    """The benchmark's bucket names (bucket names are global: accounts need different prefixes)."""
    return [f"{prefix}{index:03d}" for index in range(count)]


def seed_work(buckets: int, groups: int, session: Any = None, bucket_prefix: str = BUCKET_PREFIX) -> None:
    """Create the unencrypted buckets and the world-open security groups (in the default VPC) in one account."""
    s3, ec2 = clients(session)
    for name in bucket_names(buckets, bucket_prefix):
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


def verify_work(
    buckets: int,
    groups: int,
    *,
    fixed: bool = True,
    session: Any = None,
    bucket_prefix: str = BUCKET_PREFIX,
) -> list[str]:
    """Problems with one account's state: after a tool (``fixed``) everything is done; before one, nothing is."""
    s3, ec2 = clients(session)
    problems = []
    for name in bucket_names(buckets, bucket_prefix):
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


def moto_api(emulator: Emulator, path: str) -> None:
    """POST to one of moto's own endpoints (``reset``, ``seed?a=N``)."""
    urllib.request.urlopen(
        urllib.request.Request(f"{emulator.endpoint_url}/moto-api/{path}", method="POST"), timeout=30
    ).read()


def reset_emulator(emulator: Emulator) -> None:
    """Drop every resource moto holds (its own reset endpoint), so each tool starts from the same state."""
    moto_api(emulator, "reset")


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


def pinned_versions(requirements: Path = CUSTODIAN_REQUIREMENTS) -> dict[str, str]:
    """The ``name==version`` pins of a requirements file, by distribution name."""
    pins = {}
    for line in requirements.read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if "==" in requirement:
            name, version = requirement.split("==", 1)
            pins[name.strip()] = version.strip()
    return pins


def pinned_c7n() -> str:
    """The c7n version the requirements file pins."""
    version = pinned_versions().get("c7n")
    if version is None:
        raise SystemExit(f"{CUSTODIAN_REQUIREMENTS} pins no c7n version")
    return version


def ensure_custodian() -> Path:
    """c7n's own virtualenv, created (or brought to the pinned versions) when needed; returns its python."""
    python = CUSTODIAN_VENV / "bin" / "python"
    pins = pinned_versions()
    if "c7n" not in pins:
        pinned_c7n()
    if python.exists():
        check = "import importlib.metadata as m, json, sys; print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
        installed = subprocess.run([str(python), "-c", check, *pins], capture_output=True, text=True, check=False)
        if installed.returncode == 0 and json.loads(installed.stdout) == pins:
            return python
    else:
        print(f"creating {CUSTODIAN_VENV.relative_to(ROOT)} (c7n's own virtualenv)...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(CUSTODIAN_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(CUSTODIAN_REQUIREMENTS)], check=True)
    return python


def custodian_operations(out: Path, pattern: str = "*/metadata.json") -> Counter[str]:
    """The API calls c7n says its policies made (``api-stats`` of each policy's metadata.json under ``out``)."""
    operations: Counter[str] = Counter()
    for metadata in sorted(out.glob(pattern)):
        operations.update(json.loads(metadata.read_text()).get("api-stats", {}))
    return operations


def by_service(requests: Counter[str]) -> str:
    """``ec2 401, s3 2401, sts 1``."""
    return ", ".join(f"{service} {count}" for service, count in sorted(requests.items())) or "-"


def print_table(rows: list[list[str]]) -> None:
    """Left-aligned columns."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
