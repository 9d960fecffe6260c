"""The organization backfill benchmark's own parts on tiny inputs: seeding, the files each tool reads, the
AssumeRole counter, verification, the verdict, and apply in direct mode end to end (c7n-org is not needed)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import yaml

from benchmarks import org_backfill_vs_c7n_org as bench
from benchmarks.remediation_work import pinned_versions
from governance import moto_fidelity
from governance.cli.emulator import Emulator, embedded_emulator
from governance.stack_file import load_stack_file

MEMBERS, BUCKETS, GROUPS = 2, 2, 2
ORG = bench.Organization(hub="123456789012", root="r-abcd", ou="ou-abcd-12345678", members=("111111111111", "222222222222"))


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """The embedded emulator with moto's own bucket behaviour (no default encryption), as the benchmark runs it."""
    with embedded_emulator() as running:
        moto_fidelity.uninstall()
        try:
            yield running
        finally:
            moto_fidelity.install()


def test_organization_stack_file_targets_the_ou_with_the_member_role(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.bench.yaml"
    path.write_text(bench.stack_file_text(ORG, "organization"))
    settings = load_stack_file(path)
    assert settings.organization is not None
    assert settings.organization.admin_account_id == ORG.hub
    assert settings.organization.targets == (ORG.ou,)
    assert settings.organization.member_role_name == bench.MEMBER_ROLE
    assert settings.organization.regions == (bench.REGION,)


def test_direct_stack_file_lists_every_member_with_its_role(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.bench.yaml"
    path.write_text(bench.stack_file_text(ORG, "direct"))
    settings = load_stack_file(path)
    assert settings.organization is None
    assert [(account.id, account.role_arn) for account in settings.accounts] == [
        (account, f"arn:aws:iam::{account}:role/governance-member") for account in ORG.members
    ]
    assert all({rule.key for rule in account.rules} >= {"s3-bucket-encryption", "restricted-admin-ports"} for account in settings.accounts)


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="organization, direct"):
        bench.stack_file_text(ORG, "hybrid")


def test_c7n_org_accounts_file_has_what_its_schema_requires() -> None:
    accounts = yaml.safe_load(bench.c7n_org_accounts_text(ORG))["accounts"]
    assert [entry["account_id"] for entry in accounts] == list(ORG.members)
    assert all(entry["role"] == ORG.role_arn(entry["account_id"]) and entry["regions"] == [bench.REGION] for entry in accounts)
    assert len({entry["name"] for entry in accounts}) == len(accounts)


def test_c7n_org_is_pinned_with_the_c7n_it_requires() -> None:
    assert pinned_versions() == {"c7n": "0.9.53", "c7n-org": "0.6.52"}


def result(tool: str, requests: int, seconds: float, assume_roles: dict[str, int], problems: int = 0) -> bench.OrgResult:
    return bench.OrgResult(
        tool,
        [tool],
        requests=Counter({"s3": requests}),
        seconds=seconds,
        exit_code=0,
        problems=["x"] * problems,
        assume_roles=Counter(assume_roles),
        accounts=2,
        accounts_verified=2 - problems,
    )


@pytest.mark.parametrize(
    ("ours", "code"),
    [
        (result("apply", 300, 1.0, {"1": 1, "2": 1}), 0),
        (result("apply", 301, 1.0, {"1": 1, "2": 1}), 1),
        (result("apply", 300, 1.1, {"1": 1, "2": 1}), 1),
        (result("apply", 300, 1.0, {"1": 2, "2": 1}), 1),
        (result("apply", 300, 1.0, {"1": 1, "2": 1}, problems=1), 1),
    ],
    ids=["met", "requests", "wall", "assume-role-twice", "unverified"],
)
def test_report_fails_on_any_missed_target(ours: bench.OrgResult, code: int, capsys: pytest.CaptureFixture[str]) -> None:
    c7n_org = result("c7n-org", 900, 4.0, {"1": 6, "2": 6})
    assert bench.report([c7n_org, ours], 2, 1, 1) == code
    assert "c7n-org AssumeRole per account-region: 6.0" in capsys.readouterr().out


def test_seeded_organization_is_the_same_after_a_reset_and_every_member_is_verified(emulator: Emulator, tmp_path: Path) -> None:
    org = bench.prepare(emulator, MEMBERS, BUCKETS, GROUPS)
    assert len(set(org.members)) == MEMBERS and org.hub not in org.members
    listed = boto3.client("organizations", region_name=bench.REGION).list_accounts_for_parent(ParentId=org.ou)["Accounts"]
    assert sorted(account["Id"] for account in listed) == sorted(org.members)
    problems, clean = bench.verify_organization(org, BUCKETS, GROUPS)
    assert clean == 0 and len(problems) == MEMBERS * (BUCKETS + GROUPS)
    assert bench.prepare(emulator, MEMBERS, BUCKETS, GROUPS) == org

    ours = bench.run_governance(emulator, tmp_path, org, BUCKETS, GROUPS, "direct", None)

    assert ours.verified, (ours.problems, ours.log and ours.log.read_text())
    assert ours.accounts_verified == MEMBERS
    assert ours.assume_roles == Counter(dict.fromkeys(org.members, 1))
    assert ours.operations["s3.PutBucketEncryption"] == MEMBERS * BUCKETS
    assert ours.operations["ec2.RevokeSecurityGroupIngress"] == MEMBERS * GROUPS
    assert ours.operations["sts.AssumeRole"] == MEMBERS
    assert sum(ours.operations.values()) == ours.total


def test_operation_counter_counts_assume_role_per_target_account(emulator: Emulator) -> None:
    counter = bench.count_operations(emulator)
    assert bench.count_operations(emulator) is counter
    counter.reset()
    sts = boto3.client("sts", region_name=bench.REGION)
    for account in ("111111111111", "111111111111", "222222222222"):
        sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/x", RoleSessionName="test")
    sts.get_caller_identity()
    assert counter.assume_role_by_account == Counter({"111111111111": 2, "222222222222": 1})
    assert counter.by_operation == Counter({"sts.AssumeRole": 3, "sts.GetCallerIdentity": 1})


@pytest.mark.parametrize(
    ("method", "path", "query", "operation"),
    [
        ("GET", "/", "", "ListBuckets"),
        ("GET", "/", "bucket-region=us-east-1", "ListBuckets"),
        ("GET", "/b", "encryption", "GetBucketEncryption"),
        ("PUT", "/b", "encryption", "PutBucketEncryption"),
        ("GET", "/b", "notification", "GetBucketNotificationConfiguration"),
        ("GET", "/b", "lifecycle", "GetBucketLifecycleConfiguration"),
        ("GET", "/b", "versioning", "GetBucketVersioning"),
        ("GET", "/b", "list-type=2", "ListObjectsV2"),
        ("PUT", "/b", "", "CreateBucket"),
        ("HEAD", "/b", "", "HeadBucket"),
        ("GET", "/b/k/e/y", "", "GetObject"),
    ],
)
def test_s3_requests_are_named_by_path_and_subresource(method: str, path: str, query: str, operation: str) -> None:
    assert bench.s3_operation(method, path, query) == operation


def test_the_median_run_by_wall_time_is_reported_and_any_unverified_run_fails_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    c7n_runs = [result("c7n-org", 900, seconds, {"1": 6, "2": 6}) for seconds in (5.0, 3.0, 4.0)]
    our_runs = [result("apply", 300, seconds, {"1": 1, "2": 1}) for seconds in (1.2, 0.9, 1.0)]
    assert bench.median_run(c7n_runs).seconds == 4.0 and bench.median_run(our_runs).seconds == 1.0
    assert bench.report([bench.median_run(c7n_runs), bench.median_run(our_runs)], 2, 1, 1, [c7n_runs, our_runs]) == 0
    assert "apply wall per run (s): 1.20, 0.90, 1.00; median 1.00" in capsys.readouterr().out
    unverified = [*our_runs[:2], result("apply", 300, 1.0, {"1": 1, "2": 1}, problems=1)]
    assert bench.median_run(unverified) is unverified[2]
    assert bench.report([bench.median_run(c7n_runs), our_runs[2]], 2, 1, 1, [c7n_runs, unverified]) == 1
