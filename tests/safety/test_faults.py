"""Faults, for every fixer: throttling, 5xx, AccessDenied on the read, the tag read and the write,
the resource deleted between the read and the write, and stale reads after the write.

Each outcome is asserted, and what was observed (the records, the writes sent, the resource's state
read afterwards) is stored for the fault table of docs/testing.md, which shows observations rather than
expectations. Whatever happens, every call the function's clients sent to AWS (intercepted in
botocore, independently of the audit recorder) appears, with its params and region, in an audit
record, and a transient failure raises (Lambda retries, then the dead-letter queue keeps the event)
instead of ending silently. A fault that cannot apply to a fixer is shown not to apply by the calls
the fixer really makes.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from conftest import ACCOUNT, FakeContext, compliance_event, rule_name
from error_codes import ACCESS_DENIED, SERVER_ERROR, THROTTLING
from faults import inject_error
from lambda_scenarios import (
    SCENARIOS,
    db_snapshot_restore,
    delete_document,
    document_shares,
    new_group,
    own_snapshots,
    trail,
)
from remediation import clients
from remediation.clients import RETRY_ATTEMPTS
from remediation.fixers import load_fixer
from remediation.handler import lambda_handler

from tests.safety.figures import record

SCENARIO = {scenario.key: scenario for scenario in SCENARIOS}
READ_PREFIXES = ("Get", "Describe", "List", "Head")
PUBLISHING = ("events", "PutEvents")
"""The result event that carries a final record; it is sent after the record is complete."""


def _group_with_a_range() -> str:
    group = new_group()
    boto3.client("ec2").authorize_security_group_ingress(
        GroupId=group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 20, "ToPort": 25, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    return group


def _idle_single_region_trail() -> str:
    trail(logging=False)
    return ACCOUNT


def _exists(read: Callable[[], Any]) -> bool:
    """Whether reading a resource finds it (any "not found" error means it does not exist)."""
    try:
        read()
    except ClientError:
        return False
    return True


@dataclass(frozen=True)
class Deletion:
    """How to delete a fixer's resource in the middle of an event, and how to read whether it exists."""

    delete: Callable[[str], None]
    exists: Callable[[str], bool]


BUCKET_DELETION = Deletion(
    lambda bucket: boto3.client("s3").delete_bucket(Bucket=bucket),
    lambda bucket: _exists(lambda: boto3.client("s3").head_bucket(Bucket=bucket)),
)
TRAIL_DELETION = Deletion(
    lambda _resource: boto3.client("cloudtrail").delete_trail(Name="main-trail"),
    lambda _resource: _exists(lambda: boto3.client("cloudtrail").get_trail(Name="main-trail")),
)
GROUP_DELETION = Deletion(
    lambda group: boto3.client("ec2").delete_security_group(GroupId=group),
    lambda group: _exists(lambda: boto3.client("ec2").describe_security_groups(GroupIds=[group])),
)
DEFAULT_GROUP_DELETION = Deletion(
    # A default group cannot be deleted on its own: it goes with its VPC.
    lambda group: boto3.client("ec2").delete_vpc(VpcId=boto3.client("ec2").describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["VpcId"]),
    lambda group: _exists(lambda: boto3.client("ec2").describe_security_groups(GroupIds=[group])),
)
def _terminate(instance_id: str) -> None:
    # moto accepts ModifyInstanceMetadataOptions on a terminated instance; AWS's answer is UNVERIFIED and is
    # modelled as IncorrectInstanceState, answered to the function's client.
    boto3.client("ec2").terminate_instances(InstanceIds=[instance_id])
    inject_error("ec2", "ModifyInstanceMetadataOptions", "IncorrectInstanceState", 400)


INSTANCE_DELETION = Deletion(
    _terminate,
    lambda instance_id: boto3.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"] != "terminated",
)
LOG_GROUP_DELETION = Deletion(
    lambda name: boto3.client("logs").delete_log_group(logGroupName=name),
    lambda name: any(g["logGroupName"] == name for g in boto3.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]),
)
DB_DELETION = Deletion(
    lambda resource_id: boto3.client("rds").delete_db_instance(DBInstanceIdentifier="orders-db", SkipFinalSnapshot=True),
    lambda resource_id: bool(boto3.client("rds").describe_db_instances(Filters=[{"Name": "dbi-resource-id", "Values": [resource_id]}])["DBInstances"]),
)
USER_DELETION = Deletion(
    lambda user_id: _delete_user(user_id),
    lambda user_id: any(user["UserId"] == user_id for user in boto3.client("iam").list_users()["Users"]),
)


def _delete_user(user_id: str) -> None:
    iam = boto3.client("iam")
    name = next(user["UserName"] for user in iam.list_users()["Users"] if user["UserId"] == user_id)
    for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName=name)


VPC_DELETION = Deletion(
    lambda vpc: boto3.client("ec2").delete_vpc(VpcId=vpc),
    lambda vpc: bool(boto3.client("ec2").describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Vpcs"]),
)
QUEUE_DELETION = Deletion(
    lambda url: boto3.client("sqs").delete_queue(QueueUrl=url),
    lambda url: _exists(lambda: boto3.client("sqs").get_queue_attributes(QueueUrl=url)),
)
TOPIC_DELETION = Deletion(
    lambda arn: boto3.client("sns").delete_topic(TopicArn=arn),
    lambda arn: _exists(lambda: boto3.client("sns").get_topic_attributes(TopicArn=arn)),
)
FUNCTION_DELETION = Deletion(
    lambda name: boto3.client("lambda").delete_function(FunctionName=name),
    lambda name: _exists(lambda: boto3.client("lambda").get_function(FunctionName=name)),
)



def _delete_own_snapshots(_account: str) -> None:
    for snapshot_id in own_snapshots():
        boto3.client("ec2").delete_snapshot(SnapshotId=snapshot_id)


SNAPSHOT_DELETION = Deletion(_delete_own_snapshots, lambda _account: bool(own_snapshots()))

def _schedule_key_deletion(key_id: str) -> None:
    # A KMS key cannot be deleted at once: it is scheduled for deletion (PendingDeletion, 7 days at least).
    # moto then still enables rotation; AWS answers KMSInvalidStateException, which is injected here.
    boto3.client("kms").schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    inject_error("kms", "EnableKeyRotation", "KMSInvalidStateException", 400)


KEY_DELETION = Deletion(
    _schedule_key_deletion,
    lambda key_id: boto3.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] != "PendingDeletion",
)

REPOSITORY_DELETION = Deletion(
    lambda repository: boto3.client("ecr").delete_repository(repositoryName=repository),
    lambda repository: _exists(lambda: boto3.client("ecr").describe_repositories(repositoryNames=[repository])),
)


def _delete_db_snapshot(name: str) -> None:
    boto3.client("rds").delete_db_snapshot(DBSnapshotIdentifier=name)


DB_SNAPSHOT_DELETION = Deletion(_delete_db_snapshot, lambda name: _exists(lambda: db_snapshot_restore(name)))

DOCUMENT_DELETION = Deletion(delete_document, lambda name: _exists(lambda: document_shares(name)))


@dataclass(frozen=True)
class Subject:
    """How to fault one fixer: its calls, and how to make and delete its resource."""

    key: str
    make: Callable[[], str]
    read: tuple[str, str]
    tag_read: tuple[str, str] | None
    """None when the tags come with the read (security groups) or the resource has none (account)."""
    last_write: tuple[str, str]
    """The plan's last write; faulting it leaves the earlier writes of two-write plans done."""
    deletion: Deletion | None
    """None when the resource cannot disappear (an account)."""


SUBJECTS = [
    Subject("s3-bucket-encryption", SCENARIO["s3-bucket-encryption"].make_non_compliant, ("s3", "GetBucketEncryption"), ("s3", "GetBucketTagging"), ("s3", "PutBucketEncryption"), BUCKET_DELETION),
    Subject("s3-bucket-public-access", SCENARIO["s3-bucket-public-access"].make_non_compliant, ("s3", "GetPublicAccessBlock"), ("s3", "GetBucketTagging"), ("s3", "PutPublicAccessBlock"), BUCKET_DELETION),
    Subject("s3-account-public-access", SCENARIO["s3-account-public-access"].make_non_compliant, ("s3control", "GetPublicAccessBlock"), None, ("s3control", "PutPublicAccessBlock"), None),
    Subject("restricted-admin-ports", _group_with_a_range, ("ec2", "DescribeSecurityGroups"), None, ("ec2", "RevokeSecurityGroupIngress"), GROUP_DELETION),
    Subject("vpc-flow-logs", SCENARIO["vpc-flow-logs"].make_non_compliant, ("ec2", "DescribeFlowLogs"), ("ec2", "DescribeVpcs"), ("ec2", "CreateFlowLogs"), VPC_DELETION),
    Subject("cloudtrail-multi-region", _idle_single_region_trail, ("cloudtrail", "DescribeTrails"), ("cloudtrail", "ListTags"), ("cloudtrail", "StartLogging"), TRAIL_DELETION),
    Subject("cloudtrail-log-validation", SCENARIO["cloudtrail-log-validation"].make_non_compliant, ("cloudtrail", "GetTrail"), ("cloudtrail", "ListTags"), ("cloudtrail", "UpdateTrail"), TRAIL_DELETION),
    Subject("s3-bucket-versioning", SCENARIO["s3-bucket-versioning"].make_non_compliant, ("s3", "GetBucketVersioning"), ("s3", "GetBucketTagging"), ("s3", "PutBucketVersioning"), BUCKET_DELETION),
    Subject("s3-ssl-only", SCENARIO["s3-ssl-only"].make_non_compliant, ("s3", "GetBucketPolicy"), ("s3", "GetBucketTagging"), ("s3", "PutBucketPolicy"), BUCKET_DELETION),
    Subject("sqs-queue-public", SCENARIO["sqs-queue-public"].make_non_compliant, ("sqs", "GetQueueAttributes"), ("sqs", "ListQueueTags"), ("sqs", "SetQueueAttributes"), QUEUE_DELETION),
    Subject("sns-topic-public", SCENARIO["sns-topic-public"].make_non_compliant, ("sns", "GetTopicAttributes"), ("sns", "ListTagsForResource"), ("sns", "SetTopicAttributes"), TOPIC_DELETION),
    Subject("ebs-snapshot-public", SCENARIO["ebs-snapshot-public"].make_non_compliant, ("ec2", "DescribeSnapshots"), ("ec2", "DescribeTags"), ("ec2", "ModifySnapshotAttribute"), SNAPSHOT_DELETION),
    Subject("ebs-default-encryption", SCENARIO["ebs-default-encryption"].make_non_compliant, ("ec2", "GetEbsEncryptionByDefault"), None, ("ec2", "EnableEbsEncryptionByDefault"), None),
    Subject("kms-key-rotation", SCENARIO["kms-key-rotation"].make_non_compliant, ("kms", "DescribeKey"), ("kms", "ListResourceTags"), ("kms", "EnableKeyRotation"), KEY_DELETION),
    Subject("default-security-group-closed", SCENARIO["default-security-group-closed"].make_non_compliant, ("ec2", "DescribeSecurityGroups"), None, ("ec2", "RevokeSecurityGroupEgress"), DEFAULT_GROUP_DELETION),
    Subject("ec2-imdsv2", SCENARIO["ec2-imdsv2"].make_non_compliant, ("ec2", "DescribeInstances"), None, ("ec2", "ModifyInstanceMetadataOptions"), INSTANCE_DELETION),
    Subject("log-group-retention", SCENARIO["log-group-retention"].make_non_compliant, ("logs", "DescribeLogGroups"), ("logs", "ListTagsForResource"), ("logs", "PutRetentionPolicy"), LOG_GROUP_DELETION),
    Subject("rds-public-access", SCENARIO["rds-public-access"].make_non_compliant, ("rds", "DescribeDBInstances"), ("rds", "ListTagsForResource"), ("rds", "ModifyDBInstance"), DB_DELETION),
    Subject("ecr-scan-on-push", SCENARIO["ecr-scan-on-push"].make_non_compliant, ("ecr", "DescribeRepositories"), ("ecr", "ListTagsForResource"), ("ecr", "PutImageScanningConfiguration"), REPOSITORY_DELETION),
    Subject("lambda-public-access", SCENARIO["lambda-public-access"].make_non_compliant, ("lambda", "GetPolicy"), ("lambda", "ListTags"), ("lambda", "RemovePermission"), FUNCTION_DELETION),
    Subject("rds-snapshot-public", SCENARIO["rds-snapshot-public"].make_non_compliant, ("rds", "DescribeDBSnapshotAttributes"), ("rds", "ListTagsForResource"), ("rds", "ModifyDBSnapshotAttribute"), DB_SNAPSHOT_DELETION),
    Subject("ssm-document-public", SCENARIO["ssm-document-public"].make_non_compliant, ("ssm", "DescribeDocumentPermission"), ("ssm", "ListTagsForResource"), ("ssm", "ModifyDocumentPermission"), DOCUMENT_DELETION),
    Subject("iam-password-policy", SCENARIO["iam-password-policy"].make_non_compliant, ("iam", "GetAccountPasswordPolicy"), None, ("iam", "UpdateAccountPasswordPolicy"), None),
    Subject("iam-unused-credentials", SCENARIO["iam-unused-credentials"].make_non_compliant, ("iam", "ListUsers"), ("iam", "ListUserTags"), ("iam", "UpdateAccessKey"), USER_DELETION),
    Subject("guardduty-enabled", SCENARIO["guardduty-enabled"].make_non_compliant, ("guardduty", "ListDetectors"), None, ("guardduty", "CreateDetector"), None),
]

FAULTS = ("throttling", "5xx", "AccessDenied on read", "AccessDenied on tag read", "AccessDenied on write", "deleted before write", "stale read once", "stale read always")
NOT_APPLICABLE = {
    ("s3-account-public-access", "AccessDenied on tag read"),
    ("restricted-admin-ports", "AccessDenied on tag read"),
    ("default-security-group-closed", "AccessDenied on tag read"),
    ("ec2-imdsv2", "AccessDenied on tag read"),
    ("s3-account-public-access", "deleted before write"),
    ("ebs-default-encryption", "AccessDenied on tag read"),
    ("ebs-default-encryption", "deleted before write"),
    ("iam-password-policy", "AccessDenied on tag read"),
    ("iam-password-policy", "deleted before write"),
    ("guardduty-enabled", "AccessDenied on tag read"),
    ("guardduty-enabled", "deleted before write"),
}
"""Faults that cannot happen to a fixer; each is shown not to apply by the calls the fixer makes."""
GONE_IS_CLOSED = {"default-security-group-closed"}
STATE_READS = {
    "default-security-group-closed": [("ec2", "DescribeSecurityGroups"), ("ec2", "DescribeSecurityGroupRules"), ("ec2", "DescribeNetworkInterfaces")],
    "ec2-imdsv2": [("ec2", "DescribeInstances"), ("cloudwatch", "GetMetricStatistics")],
}
"""Fixers whose state read takes more than the one request in ``Subject.read`` (none of them a tag read)."""
"""Fixers whose resource, once deleted, has nothing left to fix: a default group goes only with its VPC."""


@pytest.fixture
def sent(aws: Any, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every API call the function's own clients send, intercepted in botocore (not by the audit recorder).

    The params are taken where botocore serializes them into the HTTP request, after its own
    parameter handlers ran: exactly what AWS receives, once per call (retries resend the same request).
    """
    calls: list[dict[str, Any]] = []
    original = BaseClient._convert_to_request_dict

    def intercept(self: BaseClient, api_params: dict[str, Any], operation_model: Any, *args: Any, **kwargs: Any) -> Any:
        if any(self is cached for cached in clients.cached_clients()):
            service = self.meta.service_model.service_name
            calls.append({"service": service, "operation": operation_model.name, "region": self.meta.region_name, "params": copy.deepcopy(api_params)})
        return original(self, api_params, operation_model, *args, **kwargs)

    monkeypatch.setattr(BaseClient, "_convert_to_request_dict", intercept)
    return calls


def _records(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"schemaVersion"')]


def _comparable(call: dict[str, Any]) -> dict[str, Any]:
    """A call as the audit log stores it: service, operation, region and params, JSON-encoded like the log line."""
    fields = {name: call.get(name) for name in ("service", "operation", "region", "params")}
    loaded: dict[str, Any] = json.loads(json.dumps(fields, default=str))
    return loaded


def _is_write(call: dict[str, Any]) -> bool:
    return not call["operation"].startswith(READ_PREFIXES) and (call["service"], call["operation"]) != PUBLISHING


def assert_every_sent_call_recorded(sent: list[dict[str, Any]], records: list[dict[str, Any]]) -> None:
    """The calls sent to AWS, in order and in full, are the calls the audit records list."""
    sent_calls = [_comparable(call) for call in sent if (call["service"], call["operation"]) != PUBLISHING]
    recorded_calls = [_comparable(call) for rec in records for call in rec["apiCalls"]]
    unrecorded_writes = [call for call in sent_calls if _is_write(call) and call not in recorded_calls]
    assert unrecorded_writes == [], f"writes sent but not recorded as sent: {unrecorded_writes}"
    assert sent_calls == recorded_calls, "the records list exactly the calls that were sent"


def _patch_stale_reads(monkeypatch: pytest.MonkeyPatch, key: str, times: int | None) -> list[int]:
    """After the fixer's write, verification reads still make the call but see the state from before it."""
    fixer = load_fixer(key)
    original_read, original_apply = fixer.read_state, fixer.apply
    first: list[Any] = []
    stale: list[int] = []
    applied: list[bool] = []

    def read(target: Any) -> Any:
        state = original_read(target)
        if not first:
            first.append(state)
        if applied and (times is None or len(stale) < times):
            stale.append(1)
            return first[0]
        return state

    def apply(target: Any, change: Any, params: Any) -> Any:
        result = original_apply(target, change, params)
        applied.append(True)
        return result

    monkeypatch.setattr(fixer, "read_state", read)
    monkeypatch.setattr(fixer, "apply", apply)
    return stale


def _chain(records: list[dict[str, Any]]) -> str:
    return ", then ".join(rec["decision"] + ("" if rec["final"] else " (non-final)") for rec in records)


def _operations(calls: list[dict[str, Any]]) -> list[str]:
    return [call["operation"] for call in calls if (call["service"], call["operation"]) != PUBLISHING]


def _observe_not_applicable(subject: Subject, fault: str, sent: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """Run the fixer without a fault and show from its calls that the fault has nothing to hit."""
    scenario = SCENARIO[subject.key]
    resource_id = subject.make()
    if fault == "AccessDenied on tag read" and scenario.tag_exempt is not None:
        # The resource is tagged exempt: if the fixer needed a separate tag read, it would have to make one now.
        scenario.tag_exempt(resource_id)
    sent.clear()
    result = lambda_handler(compliance_event(rule_name(subject.key), scenario.resource_type, resource_id), FakeContext())
    assert_every_sent_call_recorded(sent, _records(capsys))
    operations = _operations(sent)
    if fault == "AccessDenied on tag read" and scenario.tag_exempt is not None:
        assert result["decision"] == "exempt", result["reason"]
        reads = STATE_READS.get(subject.key, [subject.read])
        assert [(call["service"], call["operation"]) for call in sent if call["operation"] != "PutEvents"] == reads, "the exemption is decided from the read alone"
        reason = f"no tag read: the exemption tag comes with {subject.read[1]}"
    elif fault == "AccessDenied on tag read":
        assert not [operation for operation in operations if "Tag" in operation], f"the fixer reads tags: {operations}"
        reason = f"no tag read among the calls ({', '.join(dict.fromkeys(operations))})"
    elif subject.key == "guardduty-enabled":
        # GuardDuty's calls name no resource but the region's detector, which the fix itself creates.
        names = {name for call in sent if call["operation"] != "PutEvents" for name in call["params"]}
        assert names <= {"DetectorId", "Enable", "ClientToken"}, f"a call names something that could be deleted: {sent}"
        reason = "every call addresses the region's GuardDuty; the only resource named is the detector the fix creates"
    else:
        calls = [call for call in sent if call["operation"] != "PutEvents"]
        # An account-level API that names no resource (EBS encryption by default, the IAM password policy) addresses the caller's account.
        accounts = {call["params"].get("AccountId", ACCOUNT) for call in calls}
        named = [name for call in calls for name in call["params"] if name != "AccountId" and re.search(r"(Id|Ids|Name|Names|Arn|ARN)$", name)]
        assert accounts == {ACCOUNT} and not named, f"every call addresses the account and nothing that could be deleted: {sent}"
        if any("AccountId" in call["params"] for call in calls):
            reason = "every call addresses only the account (AccountId), which cannot be deleted"
        else:
            reason = "every call is an account-level API that names no resource, so there is nothing to delete"
    return {"not_applicable": reason, "records": _chain([result]), "writes": sum(map(_is_write, sent))}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("subject", SUBJECTS, ids=lambda subject: subject.key)
def test_fault(subject: Subject, fault: str, sent: list[dict[str, Any]], capsys, monkeypatch: pytest.MonkeyPatch, no_backoff) -> None:
    if (subject.key, fault) in NOT_APPLICABLE:
        record("fault_observations", f"{subject.key}|{fault}", _observe_not_applicable(subject, fault, sent, capsys))
        return
    scenario = SCENARIO[subject.key]
    resource_id = subject.make()
    event = compliance_event(rule_name(subject.key), scenario.resource_type, resource_id)
    sent.clear()
    notes: list[str] = []

    def run() -> dict[str, Any]:
        return lambda_handler(event, FakeContext())

    if fault in ("throttling", "5xx"):
        service, operation = subject.last_write
        code, status = (THROTTLING if fault == "throttling" else SERVER_ERROR)[service]
        hits = inject_error(service, operation, code, status, times=1 + RETRY_ATTEMPTS)
        with pytest.raises(ClientError):
            run()
        assert len(hits) == 1 + RETRY_ATTEMPTS
        (attempt,) = _records(capsys)
        assert (attempt["final"], attempt["level"]) == (False, "warning")
        assert attempt["apiCalls"][-1]["operation"] == operation and attempt["apiCalls"][-1]["outcome"] == code
        earlier_writes = [call for call in attempt["apiCalls"][:-1] if _is_write(call)]
        assert all(call["outcome"] == "ok" for call in earlier_writes), "earlier writes are in the record"
        record("faults_partial", subject.key, len(earlier_writes))
        notes.append(f"{len(hits)} tries")
        if earlier_writes:
            notes.append(f"non-final record lists {len(earlier_writes)} earlier write")
        retried = run()
        assert (retried["decision"], retried["final"]) == ("remediated", True), retried["reason"]
        records = [attempt, *_records(capsys)]
    elif fault.startswith("AccessDenied"):
        target = {"AccessDenied on read": subject.read, "AccessDenied on tag read": subject.tag_read, "AccessDenied on write": subject.last_write}[fault]
        assert target is not None
        service, operation = target
        inject_error(service, operation, ACCESS_DENIED[service], 403)
        result = run()
        records = _records(capsys)
        assert (result["decision"], result["level"], result["final"]) == ("failed", "error", True), result["reason"]
        if fault == "AccessDenied on tag read":
            assert "exemptions fail closed" in result["reason"]
            notes.append("exemption fails closed")
        else:
            assert ACCESS_DENIED[service] in result["reason"]
        refused = [call for call in result["apiCalls"] if call["outcome"] == ACCESS_DENIED[service]]
        assert [(call["service"], call["operation"]) for call in refused] == [target], "the refused call is recorded"
        if fault != "AccessDenied on write":
            assert [call for call in sent if _is_write(call)] == []
    elif fault == "deleted before write":
        assert subject.deletion is not None
        deletion = subject.deletion
        fixer = load_fixer(subject.key)
        original_apply = fixer.apply

        def delete_then_apply(target: Any, change: Any, params: Any) -> Any:
            deletion.delete(resource_id)
            assert not deletion.exists(resource_id), "the resource is gone before the write"
            return original_apply(target, change, params)

        monkeypatch.setattr(fixer, "apply", delete_then_apply)
        result = run()
        records = _records(capsys)
        expected = ("already_compliant", "info") if subject.key in GONE_IS_CLOSED else ("failed", "error")
        assert (result["decision"], result["level"]) == expected, result["reason"]
        assert not deletion.exists(resource_id), "the deleted resource was re-created"
    else:
        stale = _patch_stale_reads(monkeypatch, subject.key, 1 if fault == "stale read once" else None)
        result = run()
        records = _records(capsys)
        reads = [call for call in result["apiCalls"] if (call["service"], call["operation"]) == subject.read]
        if fault == "stale read once":
            assert result["decision"] == "remediated", result["reason"]
            assert len(stale) == 1 and len(reads) == 3, "one read before, two to verify"
        else:
            assert result["decision"] == "failed" and "still reads as non-compliant" in result["reason"]
            assert result["change"] and result["undo"], "the change that was made is recorded, with its undo"
            assert len(reads) == 4, "one read before, three to verify"
            notes.append("change and undo recorded")
        notes.append(f"{len(reads)} reads")
    if subject.deletion is not None and not subject.deletion.exists(resource_id):
        after = "resource absent"
    else:
        after = "fixed" if scenario.is_fixed(resource_id) else "not fixed"
    if fault in ("AccessDenied on read", "AccessDenied on tag read", "AccessDenied on write"):
        assert after == "not fixed"
    elif fault == "deleted before write":
        assert after == "resource absent"
    else:
        assert after == "fixed"
    assert_every_sent_call_recorded(sent, records)
    assert sum(1 for rec in records if rec["final"]) == 1, "exactly one final record per event"
    writes = sum(map(_is_write, sent))
    observation = {"records": _chain(records), "after": after, "notes": notes, "writes": writes, "all_calls_recorded": True}
    record("fault_observations", f"{subject.key}|{fault}", observation)
    record("faults_injected", subject.key, 1)
    record("faults_writes", f"{subject.key}|{fault}", writes)
