"""``demo``: the whole flow on the embedded emulator, with no AWS account, in well under a minute.

1. Start the emulator (moto's server on 127.0.0.1, a free port) and seed misconfigured resources in
   the dev stack's two accounts: buckets, security groups and VPCs, and for four of the Foundational
   Security Best Practices rules a KMS key without rotation, a log group with a short retention, a
   queue anyone may send to (manual mode: a dry run) and a public EBS snapshot.
2. Run the Pulumi program for ``Pulumi.dev.yaml`` under mocks, and take from what it registers the
   remediation Lambda's configuration and its EventBridge pattern for one account-region.
3. Put real-shaped "Config Rules Compliance Change" events on that account's event bus, where an
   EventBridge rule with the deployed pattern routes what matches to a queue; hand each delivered
   event to the handler, as Lambda would (moto runs Lambda code only in Docker, so delivery is
   in-process).
4. Show each resource before and after, the audit records, the metrics CloudWatch Logs would extract
   from their log lines, and the notifications the stack's notification rule turns their result
   events into (a queue stands in for the SNS topic); then ``scan``, ``apply`` and ``undo``
   on what the events did not cover. Every bucket has SSE-S3 already (as on AWS), so the encryption
   rule's real job is shown with a copy of the stack that moves buckets to SSE-KMS.
5. Organization mode, on the same emulator (``demo_organization``): an organization with a hub
   account, the member side its stack sets deploy, member events fixed by the hub, a new account
   enrolled, and events the hub must not act on.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import boto3
import yaml

from governance import operations
from governance.cli.audit_file import read_audit_file
from governance.cli.emulator import embedded_emulator
from governance.cli.sessions import AccountSessions
from governance.lambda_code import lambda_module
from governance.mock_program import run_program, stack_config
from governance.stack_file import load_stack

STACK = "dev"
LAMBDA_ACCOUNT, LAMBDA_REGION = "111111111111", "us-east-1"
"""The account-region whose deployed Lambda the demo drives with events."""


@dataclass(frozen=True)
class Seeded:
    """A misconfigured resource the demo created, and how to show its state."""

    rule_key: str
    resource_type: str
    resource_id: str
    show: Callable[[], str]


def say(out: TextIO, text: str = "") -> None:
    """Write one line of the demo's output, at once."""
    out.write(text + "\n")
    out.flush()


def heading(out: TextIO, text: str) -> None:
    """Write a blank line and a ``== `` heading."""
    say(out)
    say(out, f"== {text}")


def deployed_lambda(account: str, region: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Lambda config and the event pattern the program deploys in ``account``/``region`` (under mocks)."""
    run = run_program(stack_config(STACK))
    prefix = f"gov-{account}-{region}-remediation-"
    (function,) = [r for r in run.of_type("aws:lambda/function:Function") if r.name.startswith(prefix)]
    (rule,) = [r for r in run.of_type("aws:cloudwatch/eventRule:EventRule") if r.name.startswith(prefix)]
    config = json.loads(function.inputs["environment"]["variables"]["GOVERNANCE_CONFIG"])
    return config, json.loads(rule.inputs["eventPattern"])


def _world_admin_ports(ec2: Any, group_id: str) -> str:
    group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    rules = []
    for permission in group["IpPermissions"]:
        sources = [r["CidrIp"] for r in permission.get("IpRanges", [])] + [r["CidrIpv6"] for r in permission.get("Ipv6Ranges", [])]
        rules.append(f"{permission['IpProtocol']}:{permission.get('FromPort')}-{permission.get('ToPort')} from {','.join(sources)}")
    return "; ".join(sorted(rules)) or "no ingress"


def _public_access(s3: Any, bucket: str) -> str:
    try:
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except s3.exceptions.ClientError:
        return "no Block Public Access"
    return "Block Public Access: " + ", ".join(f"{k}={v}" for k, v in sorted(block.items()))


def _encryption(s3: Any, bucket: str) -> str:
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except s3.exceptions.ClientError:
        return "no default encryption"
    default = rules[0]["ApplyServerSideEncryptionByDefault"]
    key = default.get("KMSMasterKeyID")
    return "default encryption " + default["SSEAlgorithm"] + (f" with key {key.rsplit('/', 1)[-1]}" if key else "")


def kms_stack_file(settings: Any, sessions: AccountSessions, workdir: Path) -> Path:
    """The dev stack with s3-bucket-encryption moving SSE-S3 buckets to SSE-KMS: one new key per account-region.

    On AWS every bucket already has SSE-S3, so the SSE-S3 rule has nothing to fix; SSE-KMS is its real job.
    """
    config = stack_config(STACK)
    raw_accounts = {raw["id"]: raw for raw in config["governance:accounts"]}
    accounts = []
    for account in settings.accounts:
        keys = [sessions.regional(account, region).client("kms").create_key(Description="governance demo key")["KeyMetadata"]["Arn"] for region in account.regions]
        rules = {**raw_accounts[account.id].get("rules", {}), "s3-bucket-encryption": {"params": {"algorithm": "aws:kms", "kmsKeyArn": keys}}}
        accounts.append({**raw_accounts[account.id], "rules": rules})
    config["governance:accounts"] = accounts
    config["governance:rules"] = {**config["governance:rules"], "s3-bucket-encryption": {"mode": "auto", "engine": "lambda"}}
    path = workdir / f"Pulumi.{STACK}-kms.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    return path


def _flow_logs(ec2: Any, vpc: str) -> str:
    logs = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc]}])["FlowLogs"]
    return f"{len(logs)} flow log(s)" + (f" ({logs[0]['TrafficType']})" if logs else "")


def _rotation(kms: Any, key_id: str) -> str:
    return "rotation " + ("on" if kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] else "off")


def _retention(logs: Any, name: str) -> str:
    (group,) = [g for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] if g["logGroupName"] == name]
    return f"retention {group['retentionInDays']} days" if "retentionInDays" in group else "never expires"


def _queue_policy(sqs: Any, url: str) -> str:
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"].get("Policy", "{}"))
    sids = [str(statement.get("Sid")) for statement in policy.get("Statement", [])]
    return "policy statements: " + (", ".join(sids) or "none")


def _snapshot_shares(ec2: Any, snapshot: str) -> str:
    shares = ec2.describe_snapshot_attribute(SnapshotId=snapshot, Attribute="createVolumePermission")["CreateVolumePermissions"]
    return f"{snapshot} restorable by: " + (", ".join(share.get("Group") or share.get("UserId", "?") for share in shares) or "owner only")


def seed_new_rules(session: boto3.Session, tag: str) -> list[Seeded]:
    """Misconfigured resources for four of the newer rules the dev stack enables.

    A key without rotation, a log group with a short retention, a queue policy anyone may send through
    (manual mode: a dry run) and a public EBS snapshot (an account-level evaluation).
    """
    kms, logs, sqs, ec2 = session.client("kms"), session.client("logs"), session.client("sqs"), session.client("ec2")
    account = session.client("sts").get_caller_identity()["Account"]
    key_id = kms.create_key(Description=f"demo {tag} key without rotation")["KeyMetadata"]["KeyId"]
    group = f"/demo/{tag}/short-retention"
    logs.create_log_group(logGroupName=group)
    logs.put_retention_policy(logGroupName=group, retentionInDays=30)
    url = sqs.create_queue(QueueName=f"demo-{tag}-orders")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "AnyoneMaySend", "Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": arn},
        {"Sid": "OrdersServiceReads", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sqs:ReceiveMessage", "Resource": arn},
    ]}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    volume = ec2.create_volume(AvailabilityZone=f"{session.region_name}a", Size=1)["VolumeId"]
    snapshot = ec2.create_snapshot(VolumeId=volume, Description=f"demo {tag} public snapshot")["SnapshotId"]
    ec2.modify_snapshot_attribute(SnapshotId=snapshot, Attribute="createVolumePermission", OperationType="add", GroupNames=["all"])
    return [
        Seeded("kms-key-rotation", "AWS::KMS::Key", key_id, lambda: _rotation(kms, key_id)),
        Seeded("log-group-retention", "AWS::Logs::LogGroup", group, lambda: _retention(logs, group)),
        # Named by its ARN: the emulator's queue URLs are not AWS's (which form Config sends is not documented).
        Seeded("sqs-queue-public", "AWS::SQS::Queue", arn, lambda: _queue_policy(sqs, url)),
        Seeded("ebs-snapshot-public", "AWS::::Account", account, lambda: _snapshot_shares(ec2, snapshot)),
    ]


def seed(session: boto3.Session, region: str, tag: str) -> list[Seeded]:
    """Misconfigured resources for the rules the dev stack enables, in one account-region."""
    s3, ec2 = session.client("s3"), session.client("ec2")
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    account = session.client("sts").get_caller_identity()["Account"]
    open_bucket, plain_bucket = f"demo-{tag}-public-{account}", f"demo-{tag}-plain-{account}"
    for bucket in (open_bucket, plain_bucket):
        s3.create_bucket(Bucket=bucket, **location)
    s3.put_bucket_encryption(Bucket=open_bucket, ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    group = ec2.create_security_group(GroupName=f"demo-{tag}-bastion", Description="SSH and RDP open to the world", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
        {"IpProtocol": "tcp", "FromPort": 3380, "ToPort": 3390, "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "legacy range"}]},
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "internal https"}]},
    ])
    return [
        Seeded("s3-bucket-public-access", "AWS::S3::Bucket", open_bucket, lambda: _public_access(s3, open_bucket)),
        Seeded("restricted-admin-ports", "AWS::EC2::SecurityGroup", group, lambda: _world_admin_ports(ec2, group)),
        Seeded("vpc-flow-logs", "AWS::EC2::VPC", vpc, lambda: _flow_logs(ec2, vpc)),
        Seeded("s3-bucket-encryption", "AWS::S3::Bucket", plain_bucket, lambda: _encryption(s3, plain_bucket)),
    ]


def compliance_event(account: str, region: str, rule_name: str, resource_type: str, resource_id: str, compliance: str) -> dict[str, Any]:
    """A "Config Rules Compliance Change" event shaped like the ones AWS Config sends (facts §4)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    qualifier = {"configRuleName": rule_name, "resourceType": resource_type, "resourceId": resource_id}
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Config Rules Compliance Change",
        "source": "aws.config",
        "account": account,
        "time": now[:19] + "Z",
        "region": region,
        "resources": [],
        "detail": {
            "resourceId": resource_id,
            "awsRegion": region,
            "awsAccountId": account,
            "configRuleName": rule_name,
            "recordVersion": "1.0",
            "configRuleARN": f"arn:aws:config:{region}:{account}:config-rule/config-rule-demo01",
            "messageType": "ComplianceChangeNotification",
            "newEvaluationResult": {
                "evaluationResultIdentifier": {"evaluationResultQualifier": qualifier, "orderingTimestamp": now},
                "complianceType": compliance,
                "resultRecordedTime": now,
                "configRuleInvokedTime": now,
            },
            "notificationCreationTime": now,
            "resourceType": resource_type,
        },
    }


class FunctionContext:
    """The parts of the Lambda context the handler reads."""

    def __init__(self, account: str, region: str, function: str) -> None:
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{function}"
        self.aws_request_id = "00000000-0000-4000-8000-000000000000"


def deliver(session: boto3.Session, pattern: dict[str, Any], events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Put events on the account's default bus; return those the deployed pattern routes to the function."""
    bus, sqs = session.client("events"), session.client("sqs")
    queue_url = sqs.create_queue(QueueName="demo-remediation-deliveries")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus.put_rule(Name="governance-remediation-events", EventPattern=json.dumps(pattern))
    bus.put_targets(Rule="governance-remediation-events", Targets=[{"Id": "remediation", "Arn": queue_arn}])
    for event in events:
        bus.put_events(Entries=[{"Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"]), "Resources": event["resources"]}])
    account = session.client("sts").get_caller_identity()["Account"]
    delivered: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return delivered
        for message in messages:
            event = json.loads(message["Body"])
            # EventBridge always sets the envelope's account to the bus owner; moto leaves it out.
            event.setdefault("account", account)
            delivered.append(event)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def notification_queue(session: boto3.Session, settings: Any, function_arn: str) -> str:
    """The stack's notification rule on the account's bus, with a queue where the SNS topic would be; its URL."""
    bus, sqs = session.client("events"), session.client("sqs")
    queue_url = sqs.create_queue(QueueName="demo-notifications")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = operations.notification_pattern(settings.operations, function_arn)
    if pattern is not None:
        bus.put_rule(Name="governance-remediation-notify", EventPattern=json.dumps(pattern))
        transformer = {"InputPathsMap": operations.NOTIFICATION_INPUT_PATHS, "InputTemplate": operations.notification_template(settings.operations)}
        bus.put_targets(Rule="governance-remediation-notify", Targets=[{"Id": "topic", "Arn": queue_arn, "InputTransformer": transformer}])
    return queue_url


def received_notifications(session: boto3.Session, queue_url: str) -> list[Any]:
    """The messages the topic would have received."""
    sqs = session.client("sqs")
    return [json.loads(message["Body"]) for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])]


def extracted_metrics(log_lines: list[str]) -> dict[tuple[str, str], int]:
    """``Decisions`` per rule and decision, summed over the log lines that carry Embedded Metric Format."""
    counts: dict[tuple[str, str], int] = {}
    for line in log_lines:
        data = json.loads(line) if line.startswith("{") else {}
        if "_aws" in data and operations.DECISIONS_METRIC in data:
            key = (str(data.get("ruleKey")), str(data.get("decision")))
            counts[key] = counts.get(key, 0) + int(data[operations.DECISIONS_METRIC])
    return counts


def run_demo(out: TextIO | None = None, workdir: Path | None = None) -> int:
    """Run the demo; returns 0 when every step behaved as expected."""
    out = out or sys.stdout
    workdir = workdir or Path.cwd() / "out"
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    settings = load_stack(STACK)
    with embedded_emulator() as emulator:
        heading(out, f"Embedded AWS emulator on {emulator.endpoint_url} (moto); stack {STACK} from Pulumi.{STACK}.yaml")
        sessions = AccountSessions()
        accounts = {account.id: account for account in settings.accounts}
        lambda_session = sessions.regional(accounts[LAMBDA_ACCOUNT], LAMBDA_REGION)
        seeded = seed(lambda_session, LAMBDA_REGION, "events") + seed_new_rules(lambda_session, "events")
        other = settings.accounts[1]
        seed(sessions.regional(other, other.regions[-1]), other.regions[-1], "backlog")
        say(out, f"Seeded misconfigured buckets, security groups, VPCs, a KMS key, a log group, a queue and a snapshot in {LAMBDA_ACCOUNT}/{LAMBDA_REGION}, and a backlog in {other.id}/{other.regions[-1]}.")

        heading(out, "What the program deploys (Pulumi program under mocks)")
        config, pattern = deployed_lambda(LAMBDA_ACCOUNT, LAMBDA_REGION)
        for key, rule in sorted(config["rules"].items()):
            matched = " or ".join(f"{prefix}*" for prefix in rule.get("securityHubPrefixes", [])) or f"{config['ruleNamePrefix']}{key}"
            say(out, f"  Lambda rule {matched}: fixer {key}, mode {rule['mode']}")
        say(out, f"  EventBridge pattern routes {len(config['rules'])} rule name(s) and {len(config['ssmRunbooks'])} SSM runbook(s)")

        heading(out, "Before")
        for item in seeded:
            say(out, f"  {item.rule_key:26} {item.resource_id:32} {item.show()}")

        names = {key: f"{config['ruleNamePrefix']}{key}" for key, rule in config["rules"].items() if "securityHubPrefixes" not in rule}
        events = [
            compliance_event(LAMBDA_ACCOUNT, LAMBDA_REGION, names.get(item.rule_key, f"governance-{item.rule_key}"), item.resource_type, item.resource_id, "NON_COMPLIANT")
            for item in seeded
        ]
        events.append(compliance_event(LAMBDA_ACCOUNT, LAMBDA_REGION, "governance-restricted-admin-ports", "AWS::EC2::SecurityGroup", seeded[1].resource_id, "COMPLIANT"))
        delivered = deliver(lambda_session, pattern, events)
        context = FunctionContext(LAMBDA_ACCOUNT, LAMBDA_REGION, "governance-remediation")
        notifications_url = notification_queue(lambda_session, settings, context.invoked_function_arn)
        heading(out, f"EventBridge: {len(events)} events put on the bus, {len(delivered)} matched the deployed pattern and reached the handler")
        handler = lambda_module("handler")
        records = []
        log_lines: list[str] = []
        previous = os.environ.get("GOVERNANCE_CONFIG")
        os.environ["GOVERNANCE_CONFIG"] = json.dumps(config)
        try:
            for event in delivered:
                logged = io.StringIO()
                with lambda_module("clients").using_session(lambda_session), redirect_stdout(logged):
                    records.append(handler.lambda_handler(event, context))
                log_lines.extend(logged.getvalue().splitlines())
        finally:
            if previous is None:
                os.environ.pop("GOVERNANCE_CONFIG", None)
            else:
                os.environ["GOVERNANCE_CONFIG"] = previous
        heading(out, "Audit records (one JSON line each in the function's log group; here summarised)")
        for record in records:
            say(out, f"  {record['decision']:18} {record.get('ruleKey') or '-':26} {record.get('resourceId') or '-'}: {record['reason']}")
            say(out, f"  {'':18} calls: {', '.join(call['operation'] for call in record['apiCalls'])}")

        heading(out, "Metrics CloudWatch Logs extracts from those lines (Embedded Metric Format: no extra request)")
        metrics = extracted_metrics(log_lines)
        for (rule_key, decision), count in sorted(metrics.items()):
            say(out, f"  Governance/Decisions  ruleKey={rule_key:26} decision={decision:18} {count}")
        notifications = received_notifications(lambda_session, notifications_url)
        heading(out, f"Notifications: {len(notifications)} message(s) on the topic (decisions {', '.join(settings.operations.decisions)})")
        for message in notifications:
            say(out, f"  {message}")

        heading(out, "After")
        for item in seeded:
            say(out, f"  {item.rule_key:26} {item.resource_id:32} {item.show()}")

        from governance.cli.main import main as cli

        stack_args = ["--stack", STACK]
        heading(out, "python -m governance scan --stack dev   (what-if across both accounts and regions; no writes)")
        with redirect_stdout(out), redirect_stderr(out):
            scan_code = cli(["scan", *stack_args, "--rule", "s3-bucket-encryption", "--rule", "restricted-admin-ports"])
        audit_file = workdir / "demo-audit.jsonl"
        audit_file.unlink(missing_ok=True)
        heading(out, "python -m governance apply --stack dev --yes   (same fixers, in parallel)")
        with redirect_stdout(out):
            apply_code = cli(["apply", *stack_args, "--rule", "s3-bucket-encryption", "--rule", "restricted-admin-ports", "--yes", "--audit-file", str(audit_file)])
        kms_stack = kms_stack_file(settings, sessions, workdir)
        kms_args = ["--stack-file", str(kms_stack), "--rule", "s3-bucket-encryption"]
        heading(out, f"SSE-KMS, the encryption rule's real job: {kms_stack.name} sets params.algorithm aws:kms with one key per account-region")
        with redirect_stdout(out), redirect_stderr(out):
            kms_scan_code = cli(["scan", *kms_args])
        with redirect_stdout(out):
            kms_apply_code = cli(["apply", *kms_args, "--yes", "--audit-file", str(audit_file)])
        for item in seeded:
            if item.rule_key == "s3-bucket-encryption":
                say(out, f"  {item.rule_key:26} {item.resource_id:32} {item.show()}")
        applied = read_audit_file(audit_file)
        group_record = next(record for record in applied if record["ruleKey"] == "restricted-admin-ports" and record["decision"] == "remediated")
        heading(out, f"python -m governance undo {group_record['recordId']} --yes   (restores the recorded before-state)")
        with redirect_stdout(out):
            undo_code = cli(["undo", *stack_args, group_record["recordId"], "--audit-file", str(audit_file), "--yes"])
        first_part_seconds = time.monotonic() - started

        from governance.cli.demo_organization import run_organization_demo

        organization_expected = run_organization_demo(out, workdir)
        seconds = time.monotonic() - started
        heading(out, f"Organization part in {seconds - first_part_seconds:.1f} s")
        heading(out, f"Done in {seconds:.1f} s; the emulator stops now. Audit records of apply: {audit_file}")
    decisions = [record["decision"] for record in records]
    expected = scan_code == 1 and apply_code == 0 and undo_code == 0 and "remediated" in decisions and "dry_run" in decisions
    expected = expected and kms_scan_code == 1 and kms_apply_code == 0 and organization_expected
    # Every final decision is counted once, and every auto-mode remediation or failure is notified.
    notified = sum(1 for record in records if record["decision"] == "failed" or (record["decision"] == "remediated" and record["mode"] == "auto"))
    expected = expected and sum(metrics.values()) == len(records) and len(notifications) == notified
    return 0 if expected else 1
