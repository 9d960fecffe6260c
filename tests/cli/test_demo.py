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
    assert "5 events put on the bus, 3 matched the deployed pattern and reached the handler" in text
    assert "remediated         s3-bucket-public-access" in text
    assert "remediated         restricted-admin-ports" in text
    assert "dry_run            vpc-flow-logs" in text
    assert "ruleKey=vpc-flow-logs              decision=dry_run            1" in text
    notifications = text.split("== Notifications: 2 message(s) on the topic", 1)[1].split("==", 1)[0]
    assert notifications.count("Governance remediated: ") == 2 and "dry_run" not in notifications
    after = text.split("== After", 1)[1].split("==", 1)[0]
    assert "RestrictPublicBuckets=True" in after
    assert "22-22 from 0.0.0.0/0" not in after and "tcp:443-443 from 10.0.0.0/8" in after
    assert "0 flow log(s)" in after, "manual mode changes nothing"
    records = read_audit_file(tmp_path / "demo-audit.jsonl")
    assert {record["decision"] for record in records} == {"remediated"}
    # The backlog group, and the four seeded buckets moved from SSE-S3 to SSE-KMS.
    assert sorted(record["ruleKey"] for record in records) == ["restricted-admin-ports"] + ["s3-bucket-encryption"] * 4
    assert "on real AWS every bucket already has SSE-S3" in text
    assert "Move default encryption from AES256 to SSE-KMS" in text and "kms:Decrypt" in text
    assert "default encryption aws:kms with key" in text.split("SSE-KMS, the encryption rule's real job", 1)[1]
    assert '"undone": true' in text
    assert os.environ.get("AWS_ENDPOINT_URL") == endpoint_before, "the emulator is stopped and the environment restored"
