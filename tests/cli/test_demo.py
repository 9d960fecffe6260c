"""``demo`` end to end: emulator, the program under mocks, events through the deployed pattern, scan, apply, undo,
and the organization part: member events fixed by the hub, a new account enrolled, refusals."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

from governance.cli.audit_file import read_audit_file
from governance.cli.demo import run_demo


def test_the_demo_runs_the_whole_flow(tmp_path: Path) -> None:
    endpoint_before = os.environ.get("AWS_ENDPOINT_URL")
    config_before, images_before = os.environ.get("GOVERNANCE_CONFIG"), os.environ.get("MOTO_EC2_LOAD_DEFAULT_AMIS")
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
    assert os.environ.get("GOVERNANCE_CONFIG") == config_before and os.environ.get("MOTO_EC2_LOAD_DEFAULT_AMIS") == images_before
    assert_organization_part(text.split("== Organization mode:", 1)[1])


def section(text: str, title: str) -> str:
    """The lines under the first heading that starts with ``title``, up to the next heading."""
    return text.split(f"== {title}", 1)[1].split("\n== ", 1)[0]


def assert_organization_part(text: str) -> None:
    """The organization part's claims: fixed in the member account by the hub, a new account enrolled, refusals."""
    member_side = section(text, "Member side")
    accounts = dict(re.findall(r"^  (\w+) +(\d{12}): ", member_side, re.MULTILINE))
    assert set(accounts) == {"hub", "workloads", "excluded", "team", "data", "sandbox"}, member_side
    hub = accounts["hub"]
    counts = re.search(r"(\d+) resources registered with 7 accounts in the organization; (\d+) with 2,000", text)
    assert counts is not None and counts[1] == counts[2]
    assert f"excluded   {accounts['excluded']}: governance-member-iam-base" in member_side and "the templates' condition leaves each stack a placeholder" in member_side
    assert "in excluded: no role governance-member" in member_side and "forwarding in excluded (us-east-1): no rule" in member_side
    assert re.search(rf"workloads  {accounts['workloads']}: \S+ in us-east-1; \S+ in us-east-1, eu-west-1\n", member_side)
    assert f":root when aws:PrincipalArn is arn:aws:iam::{hub}:role/" in member_side
    assert f"-> arn:aws:events:us-east-1:{hub}:event-bus/" in member_side
    # Fixed in the member accounts (one directly in Workloads, one in Team below it), through the hub.
    records = section(text, "Audit records of the hub Lambda")
    assert re.search(rf"remediated restricted-admin-ports +sg-\w+  account={accounts['workloads']} hubAccount={hub}: Close TCP 22", records)
    assert re.search(rf"remediated kms-key-rotation +[\w-]+  account={accounts['team']} hubAccount={hub}: ", records)
    before, after = section(text, "Before"), section(text, "After")
    assert re.search(rf"workloads  {accounts['workloads']} restricted-admin-ports +sg-\w+ +tcp:22 from 0.0.0.0/0", before)
    assert re.search(rf"workloads  {accounts['workloads']} restricted-admin-ports +sg-\w+ +tcp:443 from 10.0.0.0/8\n", after)
    assert re.search(rf"team +{accounts['team']} kms-key-rotation .* rotation on", after)
    # Data's override makes the rule detect only: its event is not forwarded and its group stays open.
    assert "2 forwarded to the hub bus" in text and "data: its event is not forwarded" in text
    assert re.search(rf"data +{accounts['data']} restricted-admin-ports +sg-\w+ +tcp:22 from 0.0.0.0/0", after)
    # A new account in Team, after deployment: listed, and its event fixed by the hub.
    newcomer_part = section(text, "A new account in a targeted OU")
    newcomer = re.search(r"created newcomer (\d{12}) in Team", newcomer_part)
    assert newcomer is not None
    assert "3 governed accounts before, 4 now, newcomer enrolled (under target Workloads)" in newcomer_part
    assert re.search(rf"remediated restricted-admin-ports +sg-\w+  account={newcomer[1]} hubAccount={hub}: ", newcomer_part)
    assert re.search(r"after: +sg-\w+ tcp:443 from 10.0.0.0/8\n", newcomer_part)
    # A forged event of an account outside the targets is refused, an excluded account's is ignored; nothing changes.
    refusals = section(text, "Events the hub must not act on")
    sandbox, excluded = accounts["sandbox"], accounts["excluded"]
    assert re.search(rf"ignored +restricted-admin-ports +sg-\w+  account={sandbox} hubAccount={hub}: Account {sandbox} is not under any targeted OU", refusals)
    assert re.search(rf"account={excluded} hubAccount={hub}: Account {excluded} is excluded from governance.*\n +calls: none\n", refusals)
    assert refusals.count("the group: tcp:22 from 0.0.0.0/0") == 2
    assert "NOT as expected" not in text
