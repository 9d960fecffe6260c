"""Organization mode's build does not grow with the organization: 1 account against 2,000, in 4 regions.

Builds ``__main__.py`` under Pulumi mocks (as ``tests/test_organization_program.py`` does) for one
organization stack (4 regions, two target OUs, an override, the dev stack's rules), once against an
organization of 1 account and once against one of ``--accounts`` (2,000). The mocks answer every
Organizations invoke of the program from ``CountingOrganization``, a model of the organization that
answers as the provider's data sources do and counts the requests the provider would send for them,
listings page by page: a program that listed accounts would show it in the count and in the time.
The two builds run interleaved ``--runs`` times after one warm-up build of each; the script prints
their median wall-clock and CPU times, the ratio, the resources registered and the requests, and,
for contrast, direct mode with ``--direct-accounts`` accounts listed in ``governance:accounts`` (built
once: it grows with the accounts, 168 resources and seconds of build per account in 4 regions, so
2,000 would take over an hour). Exits 1 when the wall-clock ratio is above ``MAX_RATIO``.

    python benchmarks/org_build.py [--runs 5] [--accounts 2000] [--direct-accounts 100]
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "lambdas")]

import pulumi  # noqa: E402
from pulumi.runtime import mocks  # noqa: E402

from governance.mock_program import (  # noqa: E402
    GET_ORGANIZATION,
    Invoked,
    RecordingMocks,
    run_program,
    stack_config,
)

MAX_RATIO = 1.2
"""The target: a 2,000-account organization builds in at most this multiple of a 1-account one's time."""
REGIONS = ["us-east-1", "eu-west-1", "us-west-2", "eu-central-1"]
"""Four regions, the first one where a StackSets delegated administrator may be registered."""
HUB = "999999999999"
MANAGEMENT = "000000000001"
ORGANIZATION_ID = "o-bench0example"
ROOT_ID = "r-ab12"
TARGETS = ["ou-ab12-11111111", "ou-ab12-22222222"]
OTHER_UNIT = "ou-ab12-33333333"
"""An OU that is not a target: the organization's accounts are spread over all three."""
PAGE_SIZE = 20
"""The largest page of ListAccounts, ListAccountsForParent and ListOrganizationalUnitsForParent (MaxResults 1-20)."""
ORGANIZATIONS_TOKEN = "aws:organizations/"
DESCENDANT_ACCOUNTS = "aws:organizations/getOrganizationalUnitDescendantAccounts:getOrganizationalUnitDescendantAccounts"
CHILD_ACCOUNTS = "aws:organizations/getOrganizationalUnitChildAccounts:getOrganizationalUnitChildAccounts"


def pages(items: int) -> int:
    """Requests to list ``items`` entries: one per page, and one for an empty list."""
    return max(1, math.ceil(items / PAGE_SIZE))


@dataclass
class CountingOrganization:
    """An organization of ``size`` member accounts spread over two target OUs and one other, under one root.

    ``answer`` replies to the program's Organizations invokes as the provider's data sources do, and
    counts in ``requests`` what the provider would send to AWS for each: one DescribeOrganization for
    the organization's own fields, and page after page of listings for anything that lists accounts.
    """

    size: int
    requests: Counter[str] = field(default_factory=Counter)

    def accounts_in(self, unit: str) -> list[str]:
        """The accounts directly in ``unit``: account ``index`` is in the unit ``index % 3`` (no nested OUs)."""
        units = [*TARGETS, OTHER_UNIT]
        return [f"{100000000000 + index}" for index in range(self.size) if units[index % len(units)] == unit]

    def all_accounts(self) -> list[str]:
        """Every account: the management account and the members."""
        return [MANAGEMENT, *(f"{100000000000 + index}" for index in range(self.size))]

    @property
    def listing_requests(self) -> int:
        """Requests counted so far that list something (their operation starts with List)."""
        return sum(count for operation, count in self.requests.items() if operation.startswith("List"))

    def answer(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        """The invoke's result, counting the requests behind it."""
        if token == GET_ORGANIZATION:
            return self._organization(bool(args.get("returnOrganizationOnly")))
        if token in (DESCENDANT_ACCOUNTS, CHILD_ACCOUNTS):
            return self._accounts_under(str(args.get("parentId", "")), descend=token == DESCENDANT_ACCOUNTS)
        # Any other Organizations data source: at least one request, under its own name, with an empty answer.
        self.requests[token.rsplit(":", 1)[-1]] += 1
        return {}

    def _organization(self, organization_only: bool) -> dict[str, Any]:
        self.requests["DescribeOrganization"] += 1
        arn = f"arn:aws:organizations::{MANAGEMENT}:organization/{ORGANIZATION_ID}"
        fields: dict[str, Any] = {"arn": arn, "featureSet": "ALL", "masterAccountId": MANAGEMENT}
        if organization_only:
            return fields  # the data source then returns DescribeOrganization's fields only
        # The full read also lists the roots and the enabled services (UNVERIFIED: the provider's exact calls
        # besides ListAccounts); the account listing, page by page, is what grows with the organization.
        accounts = self.all_accounts()
        self.requests["ListAccounts"] += pages(len(accounts))
        self.requests["ListRoots"] += 1
        self.requests["ListAWSServiceAccessForOrganization"] += 1
        listed = [{"id": account, "state": "ACTIVE", "status": "ACTIVE"} for account in accounts]
        return {**fields, "id": ORGANIZATION_ID, "accounts": listed, "nonMasterAccounts": listed[1:], "roots": [{"id": ROOT_ID}]}

    def _accounts_under(self, parent: str, *, descend: bool) -> dict[str, Any]:
        found: list[str] = []
        units = [parent] if parent != ROOT_ID else [ROOT_ID, *TARGETS, OTHER_UNIT]
        for unit in units if descend else [parent]:
            direct = self.accounts_in(unit) if unit != ROOT_ID else [MANAGEMENT]
            self.requests["ListAccountsForParent"] += pages(len(direct))
            found.extend(direct)
            if descend:
                self.requests["ListOrganizationalUnitsForParent"] += 1
        return {"id": parent, "parentId": parent, "accounts": [{"id": account, "status": "ACTIVE", "state": "ACTIVE"} for account in found]}


@dataclass
class CountingMocks(RecordingMocks):
    """The program's recording mocks, with Organizations invokes answered and counted by ``organization``."""

    organization: CountingOrganization = field(default_factory=lambda: CountingOrganization(1))

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        """Answer an Organizations invoke from the organization; any other as the recording mocks do."""
        if not args.token.startswith(ORGANIZATIONS_TOKEN):
            return super().call(args)
        self.invokes.append(Invoked(args.token, dict(args.args), args.provider or ""))
        return self.organization.answer(args.token, dict(args.args)), []


@dataclass(frozen=True)
class Build:
    """One build of the program: its time, what it registered and the Organizations requests behind its invokes."""

    seconds: float
    """Wall-clock time of the build."""
    cpu_seconds: float
    """CPU time of this process during the build (all its threads): less sensitive than wall time to other processes on the machine."""
    resources: int
    requests: Counter[str]
    listing_requests: int


def build(config: dict[str, Any], organization_size: int) -> Build:
    """Run ``__main__.py`` with ``mock_program.run_program`` under ``CountingMocks`` and time the whole run."""
    organization = CountingOrganization(organization_size)
    recording = CountingMocks(organization=organization)
    gc.collect()  # the previous build's garbage is not collected during this one
    started, started_cpu = time.perf_counter(), time.process_time()
    run = run_program(config, stack="bench", mocks=recording)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - started_cpu
    return Build(seconds, cpu_seconds, len(run.resources), Counter(organization.requests), organization.listing_requests)


def rules() -> dict[str, Any]:
    """The dev stack's rules, flow logs detected only (their lambda-engine delivery names a role of each member)."""
    configured: dict[str, Any] = stack_config("dev")["governance:rules"]
    return {**configured, "vpc-flow-logs": {"mode": "detect"}}


def organization_stack() -> dict[str, Any]:
    """The organization stack: 4 regions, two target OUs, the second with an override, one excluded account."""
    return {
        "governance:regions": REGIONS,
        "governance:rules": rules(),
        "governance:organization": {
            "adminAccountId": HUB,
            "adminRoleArn": f"arn:aws:iam::{HUB}:role/governance-deploy",
            "targets": TARGETS,
            "excludeAccounts": ["100000000001"],  # the second member: absent from the 1-account organization
            "overrides": [{"targets": [TARGETS[1]], "rules": {"restricted-admin-ports": {"mode": "detect"}}}],
        },
    }


def direct_stack(accounts: int) -> dict[str, Any]:
    """Direct mode with the same rules and regions, ``accounts`` accounts listed in ``governance:accounts``."""
    return {
        "governance:regions": REGIONS,
        "governance:rules": rules(),
        "governance:accounts": [
            {"id": f"{100000000000 + index}", "roleArn": f"arn:aws:iam::{100000000000 + index}:role/governance-deploy"} for index in range(accounts)
        ],
    }


def _requests(build: Build) -> str:
    return ", ".join(f"{operation} {count}" for operation, count in sorted(build.requests.items())) or "none"


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line, each number checked."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="interleaved builds of each organization (default 5)")
    parser.add_argument("--accounts", type=int, default=2000, help="accounts of the large organization, 2 or more (default 2000)")
    parser.add_argument("--direct-accounts", type=int, default=100, help="accounts of the direct-mode contrast, 0 for none (default 100)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be 1 or more, not {args.runs}")
    if args.accounts < 2:
        parser.error(f"--accounts must be 2 or more (the large organization, against one of 1 account), not {args.accounts}")
    if args.direct_accounts < 0:
        parser.error(f"--direct-accounts must be 0 (none) or more, not {args.direct_accounts}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the figures; 1 when the ratio is above ``MAX_RATIO``."""
    args = arguments(argv)
    warn = pulumi.log.warn
    pulumi.log.warn = lambda *_args, **_kwargs: None  # keep the output to figures
    try:
        return measure(args)
    finally:
        pulumi.log.warn = warn


def measure(args: argparse.Namespace) -> int:
    """Build, print the figures and return the exit code."""
    config = organization_stack()
    sizes = (1, args.accounts)
    builds: dict[int, list[Build]] = {size: [] for size in sizes}
    for size in sizes:
        build(config, size)  # warm-up: imports and caches, not measured
    for run in range(args.runs):
        # Alternate the order so that neither organization always profits from the other's warm caches.
        for size in sizes if run % 2 == 0 else sizes[::-1]:
            builds[size].append(build(config, size))
    small, large = (statistics.median(b.seconds for b in builds[size]) for size in sizes)
    small_cpu, large_cpu = (statistics.median(b.cpu_seconds for b in builds[size]) for size in sizes)
    ratio = large / small

    print(f"organization mode under mocks: {len(REGIONS)} regions ({', '.join(REGIONS)}), {len(TARGETS)} target OUs, one override, "
          f"one excluded account; median of {args.runs} interleaved builds each, after a warm-up build")
    print(f"{'organization':24}{'accounts':>10}{'resources':>11}{'median s':>10}{'CPU s':>8}   Organizations requests per build (listings)")
    for size, median, cpu in zip(sizes, (small, large), (small_cpu, large_cpu), strict=True):
        last = builds[size][-1]
        counts = sorted({(b.resources, b.listing_requests, sum(b.requests.values())) for b in builds[size]})
        resources = "/".join(str(count[0]) for count in counts)
        print(f"{f'{size:,} account(s)':24}{size:>10,}{resources:>11}{median:>10.2f}{cpu:>8.2f}   {_requests(last)} ({last.listing_requests} listing)")
    print(f"ratio {args.accounts:,}/1: {ratio:.2f}x (target <= {MAX_RATIO}x); CPU time ratio {large_cpu / small_cpu:.2f}x")
    if args.direct_accounts:
        direct = build(direct_stack(args.direct_accounts), 1)
        per_account = direct.seconds / args.direct_accounts
        note = "" if args.direct_accounts >= args.accounts else (
            f"; {args.accounts:,} accounts not run: about {per_account * args.accounts / 60:.0f} min at this rate"
        )
        print(f"contrast, direct mode with {args.direct_accounts:,} accounts in governance:accounts (built once): "
              f"{direct.resources} resources, {direct.seconds:.2f} s ({direct.cpu_seconds:.2f} s CPU), {per_account:.2f} s per account{note}")
    return 1 if ratio > MAX_RATIO else 0


if __name__ == "__main__":
    sys.exit(main())
