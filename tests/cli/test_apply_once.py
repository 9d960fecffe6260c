"""``apply --yes``: nothing is confirmed, so each resource is read once, right before its write.

With a prompt, ``apply`` reads the fleet, shows it, and reads every resource again after the
confirmation. With ``--yes`` there is no earlier read to go stale: per account-region one exemption
tag query and one discovery per rule, then each resource is read by its fixer right before its
write. These tests count the requests and check the guarantees that the second read gave.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import boto3
import pytest

from governance.cli.fleet import Progress
from governance.cli.main import main
from tests.cli.aws_faults import Faults, faults, latest_records
from tests.cli.test_apply_faults import ALL_ON, EXEMPT, WORLD_SSH, make_bucket, make_open_group, write_stack

__all__ = ["faults"]

REGION = "us-east-1"
PUBLIC_ACCESS_READS = ("GetPublicAccessBlock",)


def _bucket_calls(faults: Faults, bucket: str) -> list[str]:
    return [call.operation for call in faults.calls if call.service == "s3" and call.params.get("Bucket") == bucket]


def test_apply_yes_reads_each_bucket_once_before_its_write_and_once_to_verify(aws: None, faults: Faults, tmp_path: Path) -> None:
    stack = write_stack(tmp_path, {"s3-bucket-public-access": {"mode": "auto"}})
    s3 = boto3.client("s3", region_name=REGION)
    # Partly blocked, so that every read succeeds (``faults`` sees the calls that returned).
    plain = [make_bucket(f"once-{index}") for index in range(3)]
    for bucket in plain:
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={**ALL_ON, "RestrictPublicBuckets": False})
    compliant = make_bucket("once-compliant")
    s3.put_public_access_block(Bucket=compliant, PublicAccessBlockConfiguration=ALL_ON)
    faults.calls.clear()
    audit = tmp_path / "audit.jsonl"
    assert main(["apply", "--stack-file", str(stack), "--yes", "--audit-file", str(audit)]) == 0
    for bucket in plain:
        calls = _bucket_calls(faults, bucket)
        write = calls.index("PutPublicAccessBlock")
        before, after = calls[:write], calls[write + 1 :]
        assert Counter(before) == Counter(after), f"{bucket}: the read before the write and the verification read differ: {calls}"
        assert set(before) >= set(PUBLIC_ACCESS_READS) and max(Counter(before).values()) == 1, f"{bucket} was read more than once before its write: {calls}"
    compliant_calls = _bucket_calls(faults, compliant)
    assert "PutPublicAccessBlock" not in compliant_calls and max(Counter(compliant_calls).values()) == 1, compliant_calls
    operations = Counter(call.operation for call in faults.calls)
    assert operations["ListBuckets"] == 1, "buckets are listed once: verification reads each changed bucket itself"
    assert operations["GetResources"] == 1, "one exemption-tag query for the account-region"
    records = latest_records(audit)
    assert sorted(record["resourceId"] for record in records.values()) == sorted(plain), "a compliant resource gets no record"
    assert all(record["decision"] == "remediated" and record["verification"] == {"status": "compliant"} for record in records.values())


def test_apply_yes_reads_security_groups_in_one_batch_and_verifies_them_in_another(aws: None, faults: Faults, tmp_path: Path) -> None:
    stack = write_stack(tmp_path, {"restricted-admin-ports": {"mode": "auto"}})
    groups = [make_open_group(f"batch-{index}") for index in range(3)]
    faults.calls.clear()
    audit = tmp_path / "audit.jsonl"
    assert main(["apply", "--stack-file", str(stack), "--yes", "--audit-file", str(audit)]) == 0
    operations = Counter(call.operation for call in faults.calls)
    assert operations["DescribeSecurityGroups"] == 2, operations
    assert operations["RevokeSecurityGroupIngress"] == len(groups)
    assert sorted(record["resourceId"] for record in latest_records(audit).values()) == sorted(groups)


def test_apply_yes_with_nothing_to_fix_changes_nothing_and_leaves_no_audit_file(aws: None, faults: Faults, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path, {"s3-bucket-public-access": {"mode": "auto"}})
    bucket = make_bucket("already-blocked")
    boto3.client("s3", region_name=REGION).put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=ALL_ON)
    faults.calls.clear()
    audit = tmp_path / "audit.jsonl"
    assert main(["apply", "--stack-file", str(stack), "--yes", "--audit-file", str(audit)]) == 0
    assert "No non-compliant resources found." in capsys.readouterr().out
    assert not audit.exists()
    assert faults.writes() == []


def test_apply_yes_keeps_a_resource_tagged_exempt_and_records_it(aws: None, faults: Faults, tmp_path: Path) -> None:
    stack = write_stack(tmp_path, {"restricted-admin-ports": {"mode": "auto"}})
    exempt = make_open_group("exempt-group", tags={EXEMPT: "approved"})
    plain = make_open_group("plain-group")
    audit = tmp_path / "audit.jsonl"
    assert main(["apply", "--stack-file", str(stack), "--yes", "--audit-file", str(audit)]) == 0
    records = {record["resourceId"]: record for record in latest_records(audit).values()}
    assert records[exempt]["decision"] == "exempt" and records[plain]["decision"] == "remediated"
    revoked = {call.params["GroupId"] for call in faults.writes() if call.operation == "RevokeSecurityGroupIngress"}
    assert revoked == {plain}
    permissions = boto3.client("ec2", region_name=REGION).describe_security_groups(GroupIds=[exempt])["SecurityGroups"][0]["IpPermissions"]
    assert any(permission.get("FromPort") == WORLD_SSH["FromPort"] for permission in permissions)


@pytest.mark.parametrize("confirmation", [["--yes"], []], ids=["yes", "prompt"])
def test_an_audit_file_that_cannot_be_written_stops_apply_before_anything_is_read(
    confirmation: list[str], aws: None, faults: Faults, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = write_stack(tmp_path, {"s3-bucket-public-access": {"mode": "auto"}})
    make_bucket("never-touched")
    faults.calls.clear()
    audit = tmp_path / "missing-directory" / "audit.jsonl"
    assert main(["apply", "--stack-file", str(stack), *confirmation, "--audit-file", str(audit)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("--audit-file: ") and "Nothing was changed." in error and error.count("\n") == 1, error
    assert faults.calls == [], "nothing is read or written when the audit file cannot be written"


def test_the_progress_line_ends_once_when_the_work_is_done_though_its_total_grew(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    progress = Progress(0, "apply")
    progress.expect(1)
    progress.step()
    progress.expect(2)
    progress.step()
    progress.step()
    progress.finish()
    line = capsys.readouterr().err
    assert line.count("\n") == 1 and line.endswith("3/3\n"), line
