"""Load: a burst of events through the handler, in-process and concurrently, against the embedded
emulator (moto's server on 127.0.0.1), with duplicates and resources deleted mid-burst.

Afterwards every resource is in the right state, every event has exactly one final audit record,
and concurrent duplicates made no second effective change.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from conftest import ACCOUNT, DEFAULT_PARAMS, FakeContext, base_config, compliance_event, rule_name
from remediation import clients, config, engine, handler

from governance.cli.emulator import embedded_emulator
from tests.ec2_idempotency import emulate_flow_log_client_tokens
from tests.safety.figures import record, scale

EVENTS = scale("load_events", 1000)
WORKERS = scale("load_workers", 24)
SEED = 7
ALL_ON = dict.fromkeys(("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True)
TRAIL_BUCKET = "governance-load-trails"
LAMBDA_RETRIES = 2
"""Lambda's async retries (governance:delivery.lambdaRetryAttempts at most 2), emulated for transient errors."""
WRITE_PREFIXES = ("Put", "Create", "Update", "Start", "Authorize", "Revoke", "Delete", "Stop")
TWO_WRITE_FIXES = {"restricted-admin-ports"}
"""Fixes of two writes (revoke, re-add) whose group's final rules the test checks exactly (``is_fixed``)."""


def without_account_host(client: Any) -> Any:
    """s3control puts the account id in the host name (123456789012.127.0.0.1), which the emulator cannot
    resolve; send those requests to the endpoint itself (moto tells s3control by its path)."""
    if client.meta.service_model.service_name == "s3control":

        def strip(request: Any, **_: Any) -> None:
            request.url = request.url.replace(f"//{ACCOUNT}.", "//", 1)

        client.meta.events.register_first("before-send.s3-control", strip)
    return client


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Replaces the in-process moto fixture: this module talks HTTP to the embedded emulator."""
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("GOVERNANCE_CONFIG", json.dumps(base_config()))
    monkeypatch.setattr(engine, "sleep", lambda _seconds: None)
    original_attach = clients.attach_recorder

    def attach(client: Any) -> None:
        original_attach(client)
        without_account_host(client)

    monkeypatch.setattr(clients, "attach_recorder", attach)
    clients.forget_clients()
    config._LOADED.clear()
    yield
    clients.forget_clients()


@pytest.fixture
def flow_log_client_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto ignores CreateFlowLogs' ClientToken; AWS answers a repeated token with the first result (EC2 idempotency)."""
    emulate_flow_log_client_tokens(monkeypatch)


@dataclass
class Resource:
    key: str
    resource_type: str
    resource_id: str
    deleted: bool = False


def make_resources(rng: random.Random) -> list[Resource]:
    """Non-compliant resources for six fixers, plus the two account-level ones."""
    s3, ec2, cloudtrail = (boto3.client(name) for name in ("s3", "ec2", "cloudtrail"))
    s3control = without_account_host(boto3.client("s3control"))
    resources: list[Resource] = []
    for index in range(50):
        s3.create_bucket(Bucket=f"load-plain-{index}")
        resources.append(Resource("s3-bucket-encryption", "AWS::S3::Bucket", f"load-plain-{index}"))
    for index in range(50):
        s3.create_bucket(Bucket=f"load-open-{index}")
        s3.put_public_access_block(Bucket=f"load-open-{index}", PublicAccessBlockConfiguration={**ALL_ON, "RestrictPublicBuckets": False})
        resources.append(Resource("s3-bucket-public-access", "AWS::S3::Bucket", f"load-open-{index}"))
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    for index in range(40):
        group = ec2.create_security_group(GroupName=f"load-{index}", Description="load", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 20, "ToPort": 25, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
                {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
            ],
        )
        resources.append(Resource("restricted-admin-ports", "AWS::EC2::SecurityGroup", group))
    for _ in range(30):
        resources.append(Resource("vpc-flow-logs", "AWS::EC2::VPC", ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]))
    s3.create_bucket(Bucket=TRAIL_BUCKET)
    for index in range(20):
        cloudtrail.create_trail(Name=f"load-trail-{index:02d}", S3BucketName=TRAIL_BUCKET)
        cloudtrail.start_logging(Name=f"load-trail-{index:02d}")
        resources.append(Resource("cloudtrail-log-validation", "AWS::CloudTrail::Trail", f"load-trail-{index:02d}"))
    s3control.delete_public_access_block(AccountId=ACCOUNT)
    resources.append(Resource("s3-account-public-access", "AWS::::Account", ACCOUNT))
    resources.append(Resource("cloudtrail-multi-region", "AWS::::Account", ACCOUNT))
    for resource in rng.sample([r for r in resources if r.key in ("s3-bucket-encryption", "restricted-admin-ports", "vpc-flow-logs")], 15):
        resource.deleted = True
    return resources


def delete(resource: Resource) -> None:
    if resource.key == "s3-bucket-encryption":
        boto3.client("s3").delete_bucket(Bucket=resource.resource_id)
    elif resource.key == "restricted-admin-ports":
        boto3.client("ec2").delete_security_group(GroupId=resource.resource_id)
    else:
        boto3.client("ec2").delete_vpc(VpcId=resource.resource_id)


def exists(resource: Resource) -> bool:
    try:
        if resource.key == "s3-bucket-encryption":
            boto3.client("s3").head_bucket(Bucket=resource.resource_id)
        elif resource.key == "restricted-admin-ports":
            boto3.client("ec2").describe_security_groups(GroupIds=[resource.resource_id])
        else:
            return bool(boto3.client("ec2").describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [resource.resource_id]}])["Vpcs"])
    except ClientError:
        return False
    return True


def is_fixed(resource: Resource) -> bool:
    s3, ec2, cloudtrail = boto3.client("s3"), boto3.client("ec2"), boto3.client("cloudtrail")
    if resource.key == "s3-bucket-encryption":
        rules = s3.get_bucket_encryption(Bucket=resource.resource_id)["ServerSideEncryptionConfiguration"]["Rules"]
        return bool(rules[0]["ApplyServerSideEncryptionByDefault"].get("SSEAlgorithm") == "aws:kms")
    if resource.key == "s3-bucket-public-access":
        return s3.get_public_access_block(Bucket=resource.resource_id)["PublicAccessBlockConfiguration"] == ALL_ON
    if resource.key == "s3-account-public-access":
        return without_account_host(boto3.client("s3control")).get_public_access_block(AccountId=ACCOUNT)["PublicAccessBlockConfiguration"] == ALL_ON
    if resource.key == "restricted-admin-ports":
        permissions = ec2.describe_security_groups(GroupIds=[resource.resource_id])["SecurityGroups"][0]["IpPermissions"]
        rules = sorted(
            (p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), source.get("CidrIp") or source.get("CidrIpv6"))
            for p in permissions
            for source in p.get("IpRanges", []) + p.get("Ipv6Ranges", [])
        )
        expected = [("tcp", 20, 21, "0.0.0.0/0"), ("tcp", 22, 22, "10.0.0.0/8"), ("tcp", 23, 25, "0.0.0.0/0"), ("tcp", 443, 443, "0.0.0.0/0"), ("tcp", 443, 443, "::/0")]
        return rules == expected
    if resource.key == "vpc-flow-logs":
        logs = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [resource.resource_id]}])["FlowLogs"]
        return len(logs) == 1 and logs[0]["TrafficType"] == "ALL"
    if resource.key == "cloudtrail-log-validation":
        return bool(cloudtrail.get_trail(Name=resource.resource_id)["Trail"]["LogFileValidationEnabled"])
    trails = cloudtrail.describe_trails()["trailList"]
    multi = [t for t in trails if t["IsMultiRegionTrail"]]
    return len(multi) == 1 and bool(cloudtrail.get_trail_status(Name=multi[0]["TrailARN"])["IsLogging"])


def successful_writes(audit_record: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The writes of one record that AWS accepted, as (service, operation, params) to compare across records."""
    return [
        (call["service"], call["operation"], json.dumps(call["params"], sort_keys=True))
        for call in audit_record["apiCalls"]
        if call["operation"].startswith(WRITE_PREFIXES) and call["outcome"] == "ok"
    ]


def test_a_burst_of_events_with_duplicates_and_deletions(monkeypatch: pytest.MonkeyPatch, flow_log_client_tokens) -> None:
    rng = random.Random(SEED)
    lines: list[dict[str, Any]] = []
    lines_lock = threading.Lock()

    def capture(data: dict[str, Any]) -> None:
        with lines_lock:
            lines.append(json.loads(json.dumps(data, default=str)))

    monkeypatch.setattr(handler, "write_log_line", capture)
    with embedded_emulator() as emulator:
        resources = make_resources(rng)
        # Every bucket has SSE-S3 already (as on AWS): the encryption rule moves the plain buckets to a KMS key.
        key_arn = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
        monkeypatch.setitem(DEFAULT_PARAMS, "s3-bucket-encryption", {"algorithm": "aws:kms", "kmsKeyArn": key_arn})
        monkeypatch.setenv("GOVERNANCE_CONFIG", json.dumps(base_config()))
        events: list[tuple[Resource, dict[str, Any]]] = []
        for index in range(EVENTS):
            resource = resources[index] if index < len(resources) else rng.choice(resources)
            event = compliance_event(rule_name(resource.key), resource.resource_type, resource.resource_id)
            event["id"] = f"load-{index:05d}"
            events.append((resource, event))
        rng.shuffle(events)
        deleted = [resource for resource in resources if resource.deleted]
        emulator.requests.reset()
        retries: Counter[str] = Counter()
        raised: list[str] = []
        done = threading.Semaphore(0)

        def handle(item: tuple[Resource, dict[str, Any]]) -> None:
            _, event = item
            try:
                for attempt in range(1 + LAMBDA_RETRIES):
                    try:
                        handler.lambda_handler(event, FakeContext(aws_request_id=f"{event['id']}-{attempt}"))
                        return
                    except ClientError as error:  # transient: Lambda would retry the event
                        retries[error.response["Error"]["Code"]] += 1
                raised.append(event["id"])
            finally:
                done.release()

        def delete_mid_burst() -> None:
            for _ in range(len(events) // 3):
                done.acquire()
            for resource in deleted:
                delete(resource)

        started = time.perf_counter()
        deleter = threading.Thread(target=delete_mid_burst)
        deleter.start()
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            list(pool.map(handle, events))
        deleter.join()
        seconds = time.perf_counter() - started
        served = emulator.requests.total

        finals: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for line in lines:
            if line.get("schemaVersion") == 1 and line["final"]:
                finals[str(line["eventId"])].append(line)
        assert raised == [], "no event ran out of retries"
        assert not [line for line in lines if line.get("message") == "internal error"]
        assert sorted(finals) == sorted(event["id"] for _, event in events), "every event has a final record"
        assert all(len(found) == 1 for found in finals.values()), "exactly one final record per event"

        decisions: Counter[str] = Counter()
        by_resource: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for (resource, event) in events:
            (final,) = finals[event["id"]]
            decisions[final["decision"]] += 1
            by_resource[(resource.key, resource.resource_id)].append(final)
        writes = 0
        identical: Counter[str] = Counter()
        replanned: Counter[str] = Counter()
        for resource in resources:
            records = by_resource[(resource.key, resource.resource_id)]
            outcomes = {rec["decision"] for rec in records}
            if resource.deleted:
                assert outcomes <= {"remediated", "already_compliant", "failed"}, (resource, outcomes)
                assert not exists(resource), f"{resource.resource_id} was re-created"
                failed = [rec for rec in records if rec["decision"] == "failed"]
                assert all("NotFound" in rec["reason"] or "NoSuch" in rec["reason"] or "changed" in rec["reason"] for rec in failed), [r["reason"] for r in failed]
            else:
                assert outcomes <= {"remediated", "already_compliant"}, (resource, [rec["reason"] for rec in records if rec["decision"] == "failed"])
                assert "remediated" in outcomes or resource.key == "cloudtrail-multi-region", resource
                assert is_fixed(resource), resource
            for rec in records:
                writes += len(successful_writes(rec))
            remediated = [successful_writes(rec) for rec in records if rec["decision"] == "remediated"]
            if len(remediated) > 1:
                # Concurrent duplicates may both write, but only requests the fix itself makes: no second effective
                # change. A duplicate that raced may have made fewer of them (its other writes were refused as done).
                longest = max(len(written) for written in remediated)
                fullest = set(next(written for written in remediated if len(written) == longest))
                different = [write for written in remediated for write in written if write not in fullest]
                if different and resource.key in TWO_WRITE_FIXES:
                    # A duplicate that read between the other's two writes plans from the half-done group; the
                    # exact final rules (is_fixed above) show it made no other effective change.
                    replanned[resource.key] += 1
                else:
                    assert different == [], f"{resource}: a duplicate wrote other requests than the fix: {json.dumps(remediated)}"
                    identical[resource.key] += 1
        trails = boto3.client("cloudtrail").describe_trails()["trailList"]
        assert sum(1 for t in trails if t["IsMultiRegionTrail"]) == 1, "duplicates made one trail multi-region, not several"

    duplicates = len(events) - len(resources)
    record("load", "events", len(events))
    record("load", "resources", len(resources))
    record("load", "duplicate events", duplicates)
    record("load", "resources deleted mid-burst", len(deleted))
    record("load", "threads", WORKERS)
    record("load", "decisions", dict(decisions))
    record("load", "successful writes", writes)
    record("load", "resources remediated by more than one concurrent duplicate", sum(identical.values()))
    record("load", "groups re-planned by a duplicate between the other's two writes", sum(replanned.values()))
    record("load", "emulator requests", served)
    record("load", "transient retries", sum(retries.values()))
    record("load", "seconds", round(seconds, 1))
