"""Organization backfill: the operator CLI's ``apply`` against ``c7n-org run`` on the same emulated organization.

Work: an organization in the emulator whose management account is the hub, with one OU holding the
member accounts (9 by default); each member has 100 S3 buckets without default encryption and 100
security groups open to the world (``0.0.0.0/0`` and ``::/0``) on TCP 22 and 3389, each with a
legitimate rule (TCP 443 from ``10.0.0.0/8``) that must survive (the work of ``apply_vs_custodian.py``,
per account). Both tools run from the hub's credentials and reach each member through its member role
(``governance-member``). Each tool starts from the same freshly seeded state (same account ids); the
AWS requests are counted at the emulator per service and per operation, and ``sts:AssumeRole`` per
target account; the wall time is that of the tool's whole command. Afterwards every member account is verified: every
bucket has default encryption, no group has 22 or 3389 open to the world, every group keeps 443.

c7n-org runs Cloud Custodian's default policy options (``benchmarks/custodian/policy.yml``) with an
accounts file listing each member's role ARN and region, from c7n's own virtualenv
(``benchmarks/.venv-custodian``, created on first run from ``benchmarks/custodian/requirements.txt``),
with its cache in the run's temporary directory.

``--mode organization`` (default) runs ``apply`` on a stack file with ``governance:organization``
(the OU as target, ``memberRoleName``): the CLI lists the accounts itself. ``--mode direct`` lists
the same members in ``governance:accounts`` with their role ARNs instead.

    .venv/bin/python benchmarks/org_backfill_vs_c7n_org.py [--accounts 9] [--buckets 100] [--groups 100]
        [--mode organization|direct] [--concurrency N] [--rounds 3] [--custodian-policy PATH] [--keep]

Targets: apply makes at most 1/3 of c7n-org's requests, takes at most 1/4 of its wall time, assumes
each member's role at most once, and leaves every account verified.

The wall time of one run moves by up to a quarter from run to run on a shared machine, so ``--rounds N``
(default 3) runs the two tools N times, alternating, each time on freshly seeded state; the table
shows each tool's median run (by wall time), every run's wall time is printed, and every run of
both tools must verify every account.
"""

from __future__ import annotations

import argparse
import io
import json
import shlex
import shutil
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

import boto3  # noqa: E402

from benchmarks.remediation_work import (  # noqa: E402
    CUSTODIAN_POLICY,
    CUSTODIAN_VENV,
    PROJECT_PYTHON,
    REGION,
    Result,
    by_service,
    custodian_operations,
    ensure_custodian,
    moto_api,
    print_table,
    reset_emulator,
    seed_work,
    timed_run,
    verify_work,
)
from governance import moto_fidelity  # noqa: E402
from governance.cli.emulator import SERVICE_IN_SCOPE, Emulator, WsgiApp, embedded_emulator  # noqa: E402

MEMBER_ROLE = "governance-member"
MODES = ("organization", "direct")
RANDOM_SEED = 7
"""moto's id generator is seeded after each reset, so every tool sees the same account, OU and group ids."""

REQUEST_TARGET = 1 / 3
WALL_TARGET = 1 / 4
ASSUME_ROLE_TARGET = 1
"""``sts:AssumeRole`` per member account and run."""

RULES = """\
  governance:regions: [{region}]
  governance:rules:
    s3-bucket-encryption: {{mode: auto, engine: lambda}}
    restricted-admin-ports: {{mode: auto}}
"""

ORGANIZATION_STACK_FILE = (
    """\
config:
  governance:organization:
    adminAccountId: "{hub}"
    targets: [{ou}]
    memberRoleName: {role}
"""
    + RULES
)

@dataclass(frozen=True)
class Organization:
    """The emulated organization: the hub (its management account), its root, the OU and the member accounts."""

    hub: str
    root: str
    ou: str
    members: tuple[str, ...]

    def role_arn(self, account: str) -> str:
        """The member role's ARN in ``account``."""
        return f"arn:aws:iam::{account}:role/{MEMBER_ROLE}"


S3_SUBRESOURCES = {"lifecycle": "LifecycleConfiguration", "notification": "NotificationConfiguration"}
"""Bucket subresources whose operation is not named after the query key."""


def s3_operation(method: str, path: str, query: str) -> str:
    """The S3 operation of a path-style REST request, named as the API does for the ones the benchmark sees.

    Other bucket subresources are named from their query key (``GetBucketReplication`` from ``?replication``).
    """
    parts = [part for part in path.split("/") if part]
    verb = {"GET": "Get", "PUT": "Put", "DELETE": "Delete", "HEAD": "Head", "POST": "Post"}.get(method, method)
    if not parts:
        return "ListBuckets" if method == "GET" else f"{verb}Service"
    if len(parts) > 1:
        return f"{verb}Object"
    subresource = query.split("&", 1)[0].split("=", 1)[0]
    if subresource == "list-type":
        return "ListObjectsV2"
    if not subresource:
        return {"GET": "ListObjects", "PUT": "CreateBucket", "HEAD": "HeadBucket"}.get(method, f"{verb}Bucket")
    name = S3_SUBRESOURCES.get(subresource) or subresource.replace("-", " ").title().replace(" ", "")
    return f"{verb}Bucket{name}"


@dataclass
class OperationCounter:
    """WSGI middleware in front of moto that counts signed requests per ``service.Operation``, and
    ``sts:AssumeRole`` per account of the role assumed."""

    app: WsgiApp
    by_operation: Counter[str] = field(default_factory=Counter)
    assume_role_by_account: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Read the request's operation (and an AssumeRole's role ARN), then pass it on with its body intact."""
        match = SERVICE_IN_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if match:
            service, role_arn, body = match.group(1), "", b""
            if service != "s3" and environ.get("CONTENT_LENGTH"):  # S3 is named from the path; its bodies stay unread
                body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
                environ["wsgi.input"] = io.BytesIO(body)
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            if target:  # the JSON protocols: the operation in a header, the parameters in a JSON body
                operation = target.rsplit(".", 1)[-1]
                if operation == "AssumeRole":
                    role_arn = str(json.loads(body or b"{}").get("RoleArn", ""))
            elif service == "s3":
                operation = s3_operation(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""))
            else:  # the query protocols (EC2, STS, IAM): Action in the form body or the query string
                fields = parse_qs(environ.get("QUERY_STRING", ""))
                if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
                    fields |= parse_qs(body.decode(errors="replace"))
                operation, role_arn = fields.get("Action", ["unknown"])[0], fields.get("RoleArn", [""])[0]
            with self._lock:
                self.by_operation[f"{service}.{operation}"] += 1
                if service == "sts" and operation == "AssumeRole":
                    self.assume_role_by_account[account_of(role_arn)] += 1
        return self.app(environ, start_response)

    def reset(self) -> None:
        """Start counting from zero."""
        with self._lock:
            self.by_operation.clear()
            self.assume_role_by_account.clear()


def account_of(role_arn: str) -> str:
    """The account id of a role ARN (``?`` when it is not one)."""
    parts = role_arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else "?"


@dataclass
class OrgResult(Result):
    """One tool's run over the organization: ``operations`` counted at the emulator, ``AssumeRole`` per target account."""

    assume_roles: Counter[str] = field(default_factory=Counter)
    api_stats: Counter[str] = field(default_factory=Counter)
    """c7n's own count of its policies' API calls (``api-stats``), to check the emulator's count against."""
    accounts_verified: int = 0
    accounts: int = 0

    @property
    def most_assume_roles(self) -> int:
        """The most ``AssumeRole`` requests the tool sent for one member account."""
        return max(self.assume_roles.values(), default=0)


def count_operations(emulator: Emulator) -> OperationCounter:
    """Put an operation counter between the emulator's request counter and moto (once)."""
    counter = emulator.requests
    if not isinstance(counter.app, OperationCounter):
        counter.app = OperationCounter(counter.app)
    return counter.app


def bucket_prefix(account: str) -> str:
    """Bucket names are global, so each member's buckets carry its account id."""
    return f"bench-{account}-"


@dataclass(frozen=True)
class AssumedRole:
    """A role's credentials, giving clients from boto3's default session (which parses each service model once)."""

    credentials: dict[str, Any]

    def client(self, service_name: str, region_name: str = REGION) -> Any:
        """A client of ``service_name`` with the role's credentials (the emulator addresses the role's account)."""
        return boto3.client(
            service_name,
            region_name=region_name,
            aws_access_key_id=self.credentials["AccessKeyId"],
            aws_secret_access_key=self.credentials["SecretAccessKey"],
            aws_session_token=self.credentials["SessionToken"],
        )


def assume(role_arn: str) -> AssumedRole:
    """``role_arn`` assumed from the caller's credentials, for seeding and verifying (outside any tool's count)."""
    sts = boto3.client("sts", region_name=REGION)
    return AssumedRole(sts.assume_role(RoleArn=role_arn, RoleSessionName="benchmark")["Credentials"])


def create_organization(members: int) -> Organization:
    """An organization created by the caller's account (the hub), one OU, ``members`` accounts in it.

    moto answers Organizations reads only in the account that created the organization, so the hub is
    its management account here (on AWS it may be a delegated administrator).
    """
    client = boto3.client("organizations", region_name=REGION)
    hub = client.create_organization(FeatureSet="ALL")["Organization"]["MasterAccountId"]
    root = client.list_roots()["Roots"][0]["Id"]
    ou = client.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]
    accounts = []
    for index in range(members):
        name = f"member-{index:02d}"
        status = client.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
        client.move_account(AccountId=status["AccountId"], SourceParentId=root, DestinationParentId=ou)
        accounts.append(status["AccountId"])
    return Organization(hub=hub, root=root, ou=ou, members=tuple(accounts))


def seed_organization(members: int, buckets: int, groups: int) -> Organization:
    """Create the organization, then the member role and the work in every member account."""
    org = create_organization(members)
    trust = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"sts:AssumeRole"}]}'
    for account in org.members:
        session = assume(org.role_arn(account))
        session.client("iam").create_role(RoleName=MEMBER_ROLE, AssumeRolePolicyDocument=trust % org.hub)
        seed_work(buckets, groups, session, bucket_prefix(account))
    return org


def verify_organization(
    org: Organization, buckets: int, groups: int, *, fixed: bool = True
) -> tuple[list[str], int]:
    """Problems with every member's state (each prefixed with its account id), and how many accounts had none."""
    problems: list[str] = []
    clean = 0
    for account in org.members:
        found = verify_work(
            buckets, groups, fixed=fixed, session=assume(org.role_arn(account)), bucket_prefix=bucket_prefix(account)
        )
        problems += [f"account {account}: {problem}" for problem in found]
        clean += not found
    return problems, clean


def prepare(emulator: Emulator, members: int, buckets: int, groups: int) -> Organization:
    """Fresh emulator state with the organization seeded and its work checked undone."""
    reset_emulator(emulator)
    moto_api(emulator, f"seed?a={RANDOM_SEED}")
    org = seed_organization(members, buckets, groups)
    problems, _ = verify_organization(org, buckets, groups, fixed=False)
    if problems:
        raise SystemExit("seeding went wrong:\n  " + "\n  ".join(problems[:20]))
    return org


def stack_file_text(org: Organization, mode: str) -> str:
    """The ``Pulumi.<stack>.yaml`` that governs the members: by OU (``organization``) or listed (``direct``)."""
    if mode == "organization":
        return ORGANIZATION_STACK_FILE.format(hub=org.hub, ou=org.ou, role=MEMBER_ROLE, region=REGION)
    if mode != "direct":
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    accounts = "".join(
        f'    - id: "{account}"\n      roleArn: {org.role_arn(account)}\n' for account in org.members
    )
    return "config:\n  governance:accounts:\n" + accounts + RULES.format(region=REGION)


def c7n_org_accounts_text(org: Organization) -> str:
    """c7n-org's accounts file: each member with its role ARN and the one region."""
    entries = "".join(
        f'  - account_id: "{account}"\n    name: member-{index:02d}\n    role: {org.role_arn(account)}\n'
        f"    regions: [{REGION}]\n"
        for index, account in enumerate(org.members)
    )
    return "accounts:\n" + entries


def measure(
    result: OrgResult, emulator: Emulator, log: Path, org: Organization, buckets: int, groups: int
) -> OrgResult:
    """Run the result's command, keep its requests and ``AssumeRole`` counts, then verify every member."""
    counter = count_operations(emulator)
    counter.reset()
    timed_run(result, emulator, log)
    result.assume_roles = Counter(counter.assume_role_by_account)
    result.operations = Counter(counter.by_operation)
    result.accounts = len(org.members)
    result.problems, result.accounts_verified = verify_organization(org, buckets, groups)
    return result


def run_c7n_org(
    emulator: Emulator, workdir: Path, org: Organization, buckets: int, groups: int, policy: Path
) -> OrgResult:
    """Run ``c7n-org run`` once over the members and verify what it left."""
    ensure_custodian()
    accounts = workdir / "accounts.yml"
    accounts.write_text(c7n_org_accounts_text(org))
    # A new cache per run: c7n reuses cached resource lists for minutes, and every round seeds the same ids.
    cache = Path(tempfile.mkdtemp(dir=workdir, prefix="c7n-org-cache-"))
    out = workdir / "c7n-org"
    command = [
        str(CUSTODIAN_VENV / "bin" / "c7n-org"), "run",
        "-c", str(accounts),
        "-s", str(out),
        "-u", str(policy),
        "--cache-path", str(cache),
    ]  # fmt: skip
    result = measure(OrgResult("c7n-org", command), emulator, workdir / "c7n-org.log", org, buckets, groups)
    # c7n-org writes each policy's output under <account name>/<region>/<policy>.
    result.api_stats = custodian_operations(out, "*/*/*/metadata.json")
    return result


def governance_command(stack: Path, workdir: Path, concurrency: int | None) -> list[str]:
    """``python -m governance apply`` on the stack file, as an operator runs it."""
    python = str(PROJECT_PYTHON if PROJECT_PYTHON.exists() else Path(sys.executable))
    command = [python, "-m", "governance", "apply", "--stack-file", str(stack), "--yes"]
    command += ["--audit-file", str(workdir / "audit.jsonl")]
    if concurrency is not None:
        command += ["--concurrency", str(concurrency)]
    return command


def run_governance(
    emulator: Emulator,
    workdir: Path,
    org: Organization,
    buckets: int,
    groups: int,
    mode: str,
    concurrency: int | None,
) -> OrgResult:
    """Run ``python -m governance apply`` once on the stack file of ``mode`` and verify what it left."""
    stack = workdir / f"Pulumi.bench-{mode}.yaml"
    stack.write_text(stack_file_text(org, mode))
    result = OrgResult(f"apply ({mode})", governance_command(stack, workdir, concurrency))
    return measure(result, emulator, workdir / "apply.log", org, buckets, groups)


def describe(result: OrgResult) -> list[str]:
    """One table row."""
    if result.skipped:
        return [result.tool, "-", "skipped", "-", "-", "-"]
    assume = f"{sum(result.assume_roles.values())} (max {result.most_assume_roles}/account)"
    verified = f"{result.accounts_verified}/{result.accounts} accounts"
    if not result.verified:
        verified += f", NO ({len(result.problems)} problems, exit {result.exit_code})"
    return [result.tool, str(result.total), by_service(result.requests), assume, f"{result.seconds:.2f}", verified]


def target_lines(c7n_org: OrgResult, ours: OrgResult) -> tuple[list[str], bool]:
    """The ratios and limits against their targets, and whether all are met (both tools must have verified)."""
    if not (c7n_org.verified and ours.verified):
        return ["ratios: n/a (a tool did not verify every account)"], False
    request_ratio = ours.total / c7n_org.total
    wall_ratio = ours.seconds / c7n_org.seconds
    checks = [
        ("apply/c7n-org requests", f"{request_ratio:.3f}", f"<= {REQUEST_TARGET:.3f}", request_ratio <= REQUEST_TARGET),
        ("apply/c7n-org wall", f"{wall_ratio:.3f}", f"<= {WALL_TARGET:.3f}", wall_ratio <= WALL_TARGET),
        (
            "apply AssumeRole/account",
            str(ours.most_assume_roles),
            f"<= {ASSUME_ROLE_TARGET}",
            ours.most_assume_roles <= ASSUME_ROLE_TARGET,
        ),
    ]
    width = max(len(name) for name, *_ in checks)
    lines = [
        f"{name + ':':<{width + 1}} {value:<6} (target {target})  {'met' if ok else 'MISSED'}"
        for name, value, target, ok in checks
    ]
    return lines, all(ok for *_, ok in checks)


def median_run(runs: list[OrgResult]) -> OrgResult:
    """The run a tool's figures are taken from: the first that did not verify, else the median by wall time."""
    for run in runs:
        if not run.verified:
            return run
    return sorted(runs, key=lambda run: run.seconds)[(len(runs) - 1) // 2]


def report(
    results: list[OrgResult], members: int, buckets: int, groups: int, rounds: list[list[OrgResult]] | None = None
) -> int:
    """Print both tools side by side, the ratios against the targets and the commands; 0 when all is met.

    ``rounds``, when given, holds every run of each tool (``results`` are their median runs).
    """
    c7n_org, ours = results
    print(
        f"work: {members} member accounts x ({buckets} unencrypted buckets + {groups} security groups open on "
        "22/3389 to 0.0.0.0/0 and ::/0, +443 from 10.0.0.0/8), one region"
    )
    print()
    header = ["tool", "requests", "by service", "sts:AssumeRole", "wall s", "verified"]
    print_table([header, *(describe(result) for result in results)])
    print()
    lines, ok = target_lines(c7n_org, ours)
    print("\n".join(lines))
    if rounds and len(rounds[0]) > 1:
        for runs in rounds:
            walls = ", ".join(f"{run.seconds:.2f}" for run in runs)
            print(f"{runs[0].tool} wall per run (s): {walls}; median {median_run(runs).seconds:.2f}")
        ok = ok and all(run.verified for runs in rounds for run in runs)
    if c7n_org.assume_roles:
        print(f"c7n-org AssumeRole per account-region: {sum(c7n_org.assume_roles.values()) / members:.1f}")
    print()
    print("commands (against the emulator, env AWS_ENDPOINT_URL + fake credentials + AWS_DEFAULT_REGION):")
    print(f"  benchmark: {shlex.join([sys.executable, *sys.argv])}")
    for result in results:
        print(f"  {result.tool}: {shlex.join(result.command)}")
    print()
    print("requests per operation, counted at the emulator:")
    operations = sorted(set(c7n_org.operations) | set(ours.operations))
    print_table(
        [["operation", c7n_org.tool, ours.tool]]
        + [[name, str(c7n_org.operations[name]), str(ours.operations[name])] for name in operations]
    )
    if c7n_org.api_stats:
        print(f"(c7n's own api-stats count {sum(c7n_org.api_stats.values())} calls inside its policies)")
    for result in results:
        if result.problems or result.exit_code not in (None, 0):
            print(f"\n{result.tool} problems (log {result.log}):")
            for problem in result.problems[:10]:
                print(f"  {problem}")
            if len(result.problems) > 10:
                print(f"  ... and {len(result.problems) - 10} more")
    if ours.tool.endswith("(organization)") and not ours.requests.get("organizations") and not ours.skipped:
        print(
            "\napply sent no Organizations request: this CLI does not list an organization's accounts yet;"
            " --mode direct runs the same work with the members listed in governance:accounts."
        )
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    """Seed, run c7n-org, reseed, run apply, print both."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--accounts", type=int, default=9, help="member accounts (default 9)")
    parser.add_argument("--buckets", type=int, default=100, help="buckets per account (default 100)")
    parser.add_argument("--groups", type=int, default=100, help="security groups per account (default 100)")
    parser.add_argument("--mode", choices=MODES, default="organization", help="how apply's stack file names the members")
    parser.add_argument("--concurrency", type=int, default=None, help="passed to apply as --concurrency")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each tool, alternating; figures from the median (default 3)")
    parser.add_argument(
        "--custodian-policy", type=Path, default=CUSTODIAN_POLICY, help="c7n policy file (default: c7n defaults)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the working directory (logs, c7n-org output, audit file)")
    args = parser.parse_args(argv)
    ensure_custodian()
    workdir = Path(tempfile.mkdtemp(prefix="org-backfill-"))
    code = 1
    try:
        with embedded_emulator() as emulator:
            # As in apply_vs_custodian.py: buckets without default encryption are moto's own behaviour.
            moto_fidelity.uninstall()
            c7n_runs: list[OrgResult] = []
            our_runs: list[OrgResult] = []
            first: Organization | None = None
            for _ in range(max(args.rounds, 1)):
                org = prepare(emulator, args.accounts, args.buckets, args.groups)
                c7n_runs.append(run_c7n_org(emulator, workdir, org, args.buckets, args.groups, args.custodian_policy.resolve()))
                again = prepare(emulator, args.accounts, args.buckets, args.groups)
                first = first or org
                if again != first:
                    raise SystemExit(f"the reseeded organization differs: {again} instead of {first}")
                our_runs.append(run_governance(emulator, workdir, org, args.buckets, args.groups, args.mode, args.concurrency))
        code = report(
            [median_run(c7n_runs), median_run(our_runs)], args.accounts, args.buckets, args.groups, [c7n_runs, our_runs]
        )
    finally:
        if args.keep or code != 0:
            print(f"\nworking directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
