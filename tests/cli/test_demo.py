"""``demo`` end to end: emulator, the program under mocks, events through the deployed pattern, scan, apply, undo."""

from __future__ import annotations

import io
import os
from pathlib import Path

from governance.cli.audit_file import read_audit_file
from governance.cli.demo import run_demo


def test_the_demo_runs_the_whole_flow(tmp_path: Path) -> None:
    endpoint_before = os.environ.get("AWS_ENDPOINT_URL")
    out = io.StringIO()
    assert run_demo(out, tmp_path) == 0
    text = out.getvalue()
    assert "9 events put on the bus, 7 matched the deployed pattern and reached the handler" in text
    for decision, rule in [
        ("remediated", "s3-bucket-public-access"), ("remediated", "restricted-admin-ports"), ("dry_run", "vpc-flow-logs"),
        ("remediated", "kms-key-rotation"), ("remediated", "log-group-retention"), ("dry_run", "sqs-queue-public"), ("remediated", "ebs-snapshot-public"),
    ]:
        assert f"{decision:18} {rule}" in text, rule
    assert "ruleKey=vpc-flow-logs              decision=dry_run            1" in text
    notifications = text.split("== Notifications: 5 message(s) on the topic", 1)[1].split("==", 1)[0]
    assert notifications.count("Governance remediated: ") == 5 and "dry_run" not in notifications
    before = text.split("== Before", 1)[1].split("==", 1)[0]
    after = text.split("== After", 1)[1].split("==", 1)[0]
    assert "RestrictPublicBuckets=True" in after
    assert "22-22 from 0.0.0.0/0" not in after and "tcp:443-443 from 10.0.0.0/8" in after
    assert "0 flow log(s)" in after, "manual mode changes nothing"
    assert "rotation off" in before and "rotation on" in after
    assert "retention 30 days" in before and "retention 365 days" in after
    assert "restorable by: all" in before and "restorable by: owner only" in after
    # Manual mode: the public statement is still there, and so is the account's own.
    assert after.count("policy statements: AnyoneMaySend, OrdersServiceReads") == 1
    records = read_audit_file(tmp_path / "demo-audit.jsonl")
    assert {record["decision"] for record in records} == {"remediated"}
    # The backlog group, and the four seeded buckets moved from SSE-S3 to SSE-KMS.
    assert sorted(record["ruleKey"] for record in records) == ["restricted-admin-ports"] + ["s3-bucket-encryption"] * 4
    assert "on real AWS every bucket already has SSE-S3" in text
    assert "Move default encryption from AES256 to SSE-KMS" in text and "kms:Decrypt" in text
    assert "default encryption aws:kms with key" in text.split("SSE-KMS, the encryption rule's real job", 1)[1]
    assert '"undone": true' in text
    assert os.environ.get("AWS_ENDPOINT_URL") == endpoint_before, "the emulator is stopped and the environment restored"
