"""Each fixer's ``undo_calls``, on its own: the exact calls an honest record gets, and the exact refusal of each edit.

Undo never replays a record: each fixer rebuilds its state from the record's before-state, plans
as it would have planned and takes that plan's undo. These tests pin the result for every rule, so
that a change to what undo computes, or to which check refuses a record, shows here first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

import pytest
from remediation.fixers import (
    cloudtrail_log_validation,
    cloudtrail_multi_region,
    restricted_admin_ports,
    s3_account_public_access,
    s3_bucket_encryption,
    s3_bucket_public_access,
    vpc_flow_logs,
)
from remediation.fixers.base import Target
from remediation.fixers.inverse import NOTHING_TO_UNDO, UndoRefused

ACCOUNT, OTHER_ACCOUNT, REGION = "123456789012", "999999999999", "us-east-1"
BUCKET, VPC, GROUP = "fixed-bucket", "vpc-0123456789abcdef0", "sg-0123456789abcdef0"
TRAIL = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/main"
EU_TRAIL = f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/europe"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
SOME_FLAGS = {"BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": True, "RestrictPublicBuckets": False}

BUCKET_TARGET = Target("AWS::S3::Bucket", BUCKET, ACCOUNT, REGION)
ACCOUNT_TARGET = Target("AWS::::Account", ACCOUNT, ACCOUNT, REGION)
TRAIL_TARGET = Target("AWS::CloudTrail::Trail", "main", ACCOUNT, REGION)
VPC_TARGET = Target("AWS::EC2::VPC", VPC, ACCOUNT, REGION)
GROUP_TARGET = Target("AWS::EC2::SecurityGroup", GROUP, ACCOUNT, REGION)

FLOW_LOGS = vpc_flow_logs.parse_params({"trafficType": "REJECT", "destinationType": "s3", "s3BucketArn": "arn:aws:s3:::flow-logs-home"})
TRAIL_PARAMS = cloudtrail_multi_region.parse_params({"trailName": "governance", "s3BucketName": "trail-logs"})


def world(low: int, high: int, cidr: str = "0.0.0.0/0") -> dict[str, Any]:
    """A world TCP rule as the security-group fixer records it."""
    return {"protocol": "tcp", "fromPort": low, "toPort": high, "cidr": cidr, "description": None}


def group_change(revoked: list[dict[str, Any]], added: list[dict[str, Any]], admin_ports: Any = (22,)) -> dict[str, Any]:
    """A security-group record's change."""
    return {"detail": {"adminPorts": list(admin_ports), "revoked": revoked, "added": added, "notAdded": []}}


SSH = restricted_admin_ports.Params(frozenset({22}))
UNSPLIT = [
    {"service": "ec2", "operation": "RevokeSecurityGroupIngress", "params": {"GroupId": GROUP, "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 20, "ToPort": 21, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 23, "ToPort": 25, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
    ]}},
    {"service": "ec2", "operation": "AuthorizeSecurityGroupIngress", "params": {"GroupId": GROUP, "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 20, "ToPort": 25, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
    ]}},
]
"""The undo of world TCP 20-25 split around port 22: revoke the two halves, authorize the range again."""
GROUP_BEFORE = {"groupId": GROUP, "vpcId": VPC, "ingressRuleCount": 2, "worldRules": [world(20, 25), world(443, 443)]}


def trail(name: str, arn: str, multi_region: bool = True, global_events: bool = True, logging: bool = True) -> dict[str, Any]:
    """One trail as the multi-region fixer's before-state records it."""
    return {"name": name, "arn": arn, "isMultiRegionTrail": multi_region, "includeGlobalServiceEvents": global_events, "isLogging": logging, "eventSelectors": None}


def validation_before(arn: str = TRAIL, enabled: bool = False) -> dict[str, Any]:
    """A trail as the log-validation fixer's before-state records it."""
    return {"Name": arn.rsplit("/", 1)[-1], "TrailARN": arn, "HomeRegion": arn.split(":")[3], "IsMultiRegionTrail": True, "LogFileValidationEnabled": enabled}


def flow_log(flow_log_id: str, traffic: str = "ACCEPT") -> dict[str, Any]:
    """One flow log as DescribeFlowLogs returns it (and the before-state records it)."""
    return {"FlowLogId": flow_log_id, "FlowLogStatus": "ACTIVE", "TrafficType": traffic, "LogDestinationType": "s3", "LogDestination": "arn:aws:s3:::elsewhere"}


def attached(*flow_log_ids: str) -> Any:
    """The VPC's flow logs as undo reads them now."""
    return SimpleNamespace(flow_logs=tuple(flow_log(flow_log_id, "REJECT") for flow_log_id in flow_log_ids))


Case = tuple[Any, Target, Mapping[str, Any], Mapping[str, Any], Any, Any]
"""(fixer module, target, before-state, change, params, current state)."""

HONEST: dict[str, tuple[Case, list[dict[str, Any]]]] = {
    "security group: a range split around the admin port": (
        (restricted_admin_ports, GROUP_TARGET, GROUP_BEFORE, group_change([world(20, 25)], [world(20, 21), world(23, 25)]), SSH, None),
        UNSPLIT,
    ),
    "security group: a change recorded without detail is the fixer's own plan": (
        (restricted_admin_ports, GROUP_TARGET, GROUP_BEFORE, {}, SSH, None),
        UNSPLIT,
    ),
    "security group: a change detail without admin ports takes the stack's": (
        (restricted_admin_ports, GROUP_TARGET, GROUP_BEFORE, {"detail": {"revoked": [world(20, 25)], "added": []}}, SSH, None),
        [{"service": "ec2", "operation": "AuthorizeSecurityGroupIngress", "params": {"GroupId": GROUP, "IpPermissions": [
            {"IpProtocol": "tcp", "FromPort": 20, "ToPort": 25, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        ]}}],
    ),
    "security group: a change detail that lists no rules computes no calls": (
        (restricted_admin_ports, GROUP_TARGET, GROUP_BEFORE, {"detail": {"adminPorts": [22]}}, SSH, None), [],
    ),
    "security group: the record's admin ports, not the stack's": (
        (
            restricted_admin_ports, GROUP_TARGET, {**GROUP_BEFORE, "worldRules": [world(20, 25), world(443, 443), world(3389, 3389)]},
            group_change([world(3389, 3389)], [], admin_ports=(22, 3389)), restricted_admin_ports.Params(frozenset({22, 3389})), None,
        ),
        [{"service": "ec2", "operation": "AuthorizeSecurityGroupIngress", "params": {"GroupId": GROUP, "IpPermissions": [
            {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        ]}}],
    ),
    "bucket flags: some were on": (
        (s3_bucket_public_access, BUCKET_TARGET, {"owner": BUCKET, "publicAccessBlock": SOME_FLAGS}, {}, s3_bucket_public_access.Params(frozenset()), None),
        [{"service": "s3", "operation": "PutPublicAccessBlock", "params": {"Bucket": BUCKET, "PublicAccessBlockConfiguration": SOME_FLAGS}}],
    ),
    "bucket flags: none were set": (
        (s3_bucket_public_access, BUCKET_TARGET, {"owner": BUCKET, "publicAccessBlock": None}, {}, s3_bucket_public_access.Params(frozenset()), None),
        [{"service": "s3", "operation": "DeletePublicAccessBlock", "params": {"Bucket": BUCKET}}],
    ),
    "account flags: some were on": (
        (s3_account_public_access, ACCOUNT_TARGET, {"owner": ACCOUNT, "publicAccessBlock": SOME_FLAGS}, {}, s3_account_public_access.Params(), None),
        [{"service": "s3control", "operation": "PutPublicAccessBlock", "params": {"AccountId": ACCOUNT, "PublicAccessBlockConfiguration": SOME_FLAGS}}],
    ),
    "account flags: none were set": (
        (s3_account_public_access, ACCOUNT_TARGET, {"owner": ACCOUNT, "publicAccessBlock": None}, {}, s3_account_public_access.Params(), None),
        [{"service": "s3control", "operation": "DeletePublicAccessBlock", "params": {"AccountId": ACCOUNT}}],
    ),
    "encryption: a bucket without configuration": (
        (s3_bucket_encryption, BUCKET_TARGET, {"bucket": BUCKET, "rules": []}, {}, s3_bucket_encryption.Params("AES256", None), None),
        [{"service": "s3", "operation": "DeleteBucketEncryption", "params": {"Bucket": BUCKET}}],
    ),
    "encryption: a rule with only BucketKeyEnabled": (
        (s3_bucket_encryption, BUCKET_TARGET, {"bucket": BUCKET, "rules": [{"BucketKeyEnabled": True}]}, {}, s3_bucket_encryption.Params("AES256", None), None),
        [{"service": "s3", "operation": "PutBucketEncryption", "params": {"Bucket": BUCKET, "ServerSideEncryptionConfiguration": {"Rules": [{"BucketKeyEnabled": True}]}}}],
    ),
    "encryption: SSE-S3 moved to KMS": (
        (
            s3_bucket_encryption, BUCKET_TARGET,
            {"bucket": BUCKET, "rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}]},
            {}, s3_bucket_encryption.Params("aws:kms", KEY), None,
        ),
        [{
            "service": "s3", "operation": "PutBucketEncryption",
            "params": {"Bucket": BUCKET, "ServerSideEncryptionConfiguration": {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}]}},
        }],
    ),
    "log validation: a trail of this region, named by name": (
        (cloudtrail_log_validation, TRAIL_TARGET, validation_before(), {}, cloudtrail_log_validation.Params(), None),
        [{"service": "cloudtrail", "operation": "UpdateTrail", "params": {"Name": TRAIL, "EnableLogFileValidation": False}}],
    ),
    "log validation: a trail homed in another region, named by ARN": (
        (cloudtrail_log_validation, Target("AWS::CloudTrail::Trail", EU_TRAIL, ACCOUNT, REGION), validation_before(EU_TRAIL), {}, cloudtrail_log_validation.Params(), None),
        [{"service": "cloudtrail", "operation": "UpdateTrail", "params": {"Name": EU_TRAIL, "EnableLogFileValidation": False}, "region": "eu-west-1"}],
    ),
    "multi-region: the trail made multi-region": (
        (cloudtrail_multi_region, ACCOUNT_TARGET, {"trails": [trail("main", TRAIL, multi_region=False)]}, {"detail": {"trail": TRAIL, "updated": True}}, TRAIL_PARAMS, None),
        [{"service": "cloudtrail", "operation": "UpdateTrail", "params": {"Name": TRAIL, "IsMultiRegionTrail": False, "IncludeGlobalServiceEvents": True}}],
    ),
    "multi-region: the second candidate, the first being exempt": (
        (
            cloudtrail_multi_region, ACCOUNT_TARGET,
            {"trails": [trail("main", TRAIL, logging=False), trail("europe", EU_TRAIL, multi_region=False, global_events=False, logging=False)]},
            {"detail": {"trail": EU_TRAIL, "updated": True}}, TRAIL_PARAMS, None,
        ),
        [
            {"service": "cloudtrail", "operation": "StopLogging", "params": {"Name": EU_TRAIL}, "region": "eu-west-1"},
            {"service": "cloudtrail", "operation": "UpdateTrail", "params": {"Name": EU_TRAIL, "IsMultiRegionTrail": False, "IncludeGlobalServiceEvents": False}, "region": "eu-west-1"},
        ],
    ),
    "multi-region: the trail the fix created": (
        (cloudtrail_multi_region, ACCOUNT_TARGET, {"trails": []}, {"detail": {"created": {"Name": "governance"}}}, TRAIL_PARAMS, None),
        [
            {"service": "cloudtrail", "operation": "StopLogging", "params": {"Name": "governance"}},
            {"service": "cloudtrail", "operation": "DeleteTrail", "params": {"Name": "governance"}},
        ],
    ),
    "flow logs: the ones the fix created": (
        (vpc_flow_logs, VPC_TARGET, {"vpcId": VPC, "flowLogs": [flow_log("fl-0000000a")]}, {"detail": {"flowLogIds": ["fl-0000000b"]}}, FLOW_LOGS, attached("fl-0000000b")),
        [{"service": "ec2", "operation": "DeleteFlowLogs", "params": {"FlowLogIds": ["fl-0000000b"]}}],
    ),
}


@pytest.mark.parametrize("name", sorted(HONEST))
def test_an_honest_record_is_undone_by_exactly_these_calls(name: str) -> None:
    (fixer, target, before, change, params, current), expected = HONEST[name]
    assert [call.to_json() for call in fixer.undo_calls(target, before, change, params, current)] == expected


def _edit(name: str, edit: Callable[[dict[str, Any]], Any]) -> Case:
    """The honest case ``name`` with its before-state and change edited by ``edit``."""
    (fixer, target, before, change, params, current), _ = HONEST[name]
    parts = {"target": target, "before": dict(before), "change": dict(change), "params": params, "current": current}
    edit(parts)
    return fixer, parts["target"], parts["before"], parts["change"], parts["params"], parts["current"]


SPLIT = "security group: a range split around the admin port"
REFUSED: dict[str, tuple[Case, str]] = {
    "security group: before-state of another group": (
        _edit(SPLIT, lambda p: p["before"].update(groupId="sg-00000000")),
        f"the record's before-state names security group 'sg-00000000', not the record's resource {GROUP}",
    ),
    "security group: world rules that are not a list": (
        _edit(SPLIT, lambda p: p["before"].update(worldRules={"protocol": "tcp"})), "the record's before-state world rules is not a list of JSON objects",
    ),
    "security group: world rules with an entry that is not an object": (
        _edit(SPLIT, lambda p: p["before"].update(worldRules=[world(20, 25), "tcp 22 from anywhere"])),
        "the record's before-state world rules is not a list of JSON objects",
    ),
    "security group: a world rule without ports": (
        _edit(SPLIT, lambda p: p["before"].update(worldRules=[{"protocol": "tcp", "cidr": "0.0.0.0/0"}])),
        "the record's before-state world rules are not security group rules ('fromPort')",
    ),
    "security group: a rule from another source": (
        _edit(SPLIT, lambda p: p["before"].update(worldRules=[world(20, 25), world(22, 22, "10.0.0.0/8")])),
        "the record's before-state world rules include a rule from 10.0.0.0/8, which this fixer never changes",
    ),
    "security group: ports that are not whole numbers": (
        _edit(SPLIT, lambda p: p["before"].update(worldRules=[{**world(20, 25), "toPort": "25"}])),
        "the record's before-state world rules include a rule whose ports are not whole numbers",
    ),
    "security group: ports that are booleans": (
        _edit(SPLIT, lambda p: p["before"].update(worldRules=[{**world(20, 25), "fromPort": True}])),
        "the record's before-state world rules include a rule whose ports are not whole numbers",
    ),
    "security group: nothing open on an admin port": (
        _edit(SPLIT, lambda p: p["before"].update(worldRules=[world(443, 443)])), NOTHING_TO_UNDO,
    ),
    "security group: change detail that is not an object": (
        _edit(SPLIT, lambda p: p["change"].update(detail=[])), "the record's change detail is not a JSON object",
    ),
    "security group: admin ports that are not ports": (
        _edit(SPLIT, lambda p: p["change"].update(detail={**group_change([world(20, 25)], [])["detail"], "adminPorts": [70000]})),
        "the record's adminPorts are not TCP ports (params.ports must be a list of 1 to 5 TCP ports between 1 and 65535)",
    ),
    "security group: revoked rules that are not a list": (
        _edit(SPLIT, lambda p: p["change"].update(detail={"adminPorts": [22], "revoked": "all", "added": []})),
        "the record's revoked rules is not a list of JSON objects",
    ),
    "security group: added rules that are not a list": (
        _edit(SPLIT, lambda p: p["change"].update(detail={"adminPorts": [22], "revoked": [world(20, 25)], "added": "all"})),
        "the record's added rules is not a list of JSON objects",
    ),
    "security group: a revoked rule the before-state never had": (
        _edit(SPLIT, lambda p: p["change"].update(group_change([world(20, 25), world(22, 22)], [world(20, 21)]))),
        f"the record's revoked rule {world(22, 22)} was not an admin-port rule of the before-state",
    ),
    "security group: a revoked rule that opens no admin port": (
        _edit(SPLIT, lambda p: p["change"].update(group_change([world(443, 443)], []))),
        f"the record's revoked rule {world(443, 443)} was not an admin-port rule of the before-state",
    ),
    "security group: an added rule that opens the admin port": (
        _edit(SPLIT, lambda p: p["change"].update(group_change([world(20, 25)], [world(20, 22)]))),
        f"the record's added rule {world(20, 22)} is not part of what the fixer re-adds for the revoked rules",
    ),
    "security group: an added rule outside every revoked one": (
        _edit(SPLIT, lambda p: p["change"].update(group_change([world(20, 25)], [world(23, 26)]))),
        f"the record's added rule {world(23, 26)} is not part of what the fixer re-adds for the revoked rules",
    ),
    "bucket flags: before-state of another bucket": (
        _edit("bucket flags: some were on", lambda p: p["before"].update(owner="other-bucket")),
        f"the record's before-state names bucket 'other-bucket', not the record's resource {BUCKET}",
    ),
    "bucket flags: all were on": (
        _edit("bucket flags: some were on", lambda p: p["before"].update(publicAccessBlock=dict.fromkeys(FLAGS, True))), NOTHING_TO_UNDO,
    ),
    "bucket flags: bucket public on purpose": (
        _edit("bucket flags: some were on", lambda p: p.update(params=s3_bucket_public_access.Params(frozenset({BUCKET})))), NOTHING_TO_UNDO,
    ),
    "bucket flags: not an object": (
        _edit("bucket flags: some were on", lambda p: p["before"].update(publicAccessBlock=[True])),
        "the record's before-state publicAccessBlock is not a JSON object",
    ),
    "bucket flags: a fifth flag": (
        _edit("bucket flags: some were on", lambda p: p["before"].update(publicAccessBlock={**SOME_FLAGS, "BlockEverything": True})),
        "the record's before-state publicAccessBlock holds something other than the four flags",
    ),
    "bucket flags: a flag that is not a boolean": (
        _edit("bucket flags: some were on", lambda p: p["before"].update(publicAccessBlock={**SOME_FLAGS, "IgnorePublicAcls": "false"})),
        "the record's before-state publicAccessBlock holds something other than the four flags",
    ),
    "account flags: the resource is another account": (
        _edit("account flags: some were on", lambda p: p.update(target=Target("AWS::::Account", OTHER_ACCOUNT, ACCOUNT, REGION))),
        f"the record's before-state names account '{OTHER_ACCOUNT}', not the record's resource {ACCOUNT}",
    ),
    "account flags: before-state of another account": (
        _edit("account flags: some were on", lambda p: p["before"].update(owner=OTHER_ACCOUNT)),
        f"the record's before-state names account '{OTHER_ACCOUNT}', not the record's resource {ACCOUNT}",
    ),
    "account flags: all were on": (_edit("account flags: some were on", lambda p: p["before"].update(publicAccessBlock=dict.fromkeys(FLAGS, True))), NOTHING_TO_UNDO),
    "encryption: before-state of another bucket": (
        _edit("encryption: a bucket without configuration", lambda p: p["before"].update(bucket="other-bucket")),
        f"the record's before-state names bucket 'other-bucket', not the record's resource {BUCKET}",
    ),
    "encryption: rules that are not a list": (
        _edit("encryption: a bucket without configuration", lambda p: p["before"].update(rules={"SSEAlgorithm": "AES256"})),
        "the record's before-state rules is not a list of JSON objects",
    ),
    "encryption: already encrypted": (
        _edit("encryption: a bucket without configuration", lambda p: p["before"].update(rules=[{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}])),
        NOTHING_TO_UNDO,
    ),
    "log validation: a trail of another account": (
        _edit("log validation: a trail of this region, named by name", lambda p: p.update(before=validation_before(TRAIL.replace(ACCOUNT, OTHER_ACCOUNT)))),
        "the record's before-state does not name a trail ARN of the record's account",
    ),
    "log validation: no trail ARN": (
        _edit("log validation: a trail of this region, named by name", lambda p: p["before"].pop("TrailARN")),
        "the record's before-state does not name a trail ARN of the record's account",
    ),
    "log validation: another trail": (
        _edit("log validation: a trail of this region, named by name", lambda p: p.update(before=validation_before(EU_TRAIL))),
        f"the record's before-state names trail {EU_TRAIL!r}, not the record's resource main",
    ),
    "log validation: already validating": (
        _edit("log validation: a trail of this region, named by name", lambda p: p["before"].update(LogFileValidationEnabled=True)), NOTHING_TO_UNDO,
    ),
    "multi-region: a trail as the resource": (
        _edit("multi-region: the trail made multi-region", lambda p: p.update(target=Target("AWS::::Account", "main", ACCOUNT, REGION))),
        "undo of this rule needs the record's account as its resource",
    ),
    "multi-region: trails that are not a list": (
        _edit("multi-region: the trail made multi-region", lambda p: p["before"].update(trails={"name": "main"})),
        "the record's before-state trails is not a list of JSON objects",
    ),
    "multi-region: a trail without an ARN": (
        _edit("multi-region: the trail made multi-region", lambda p: p["before"].update(trails=[{**trail("main", TRAIL, multi_region=False), "arn": None}])),
        "a trail of the record's before-state has no name or ARN",
    ),
    "multi-region: a trail without a name": (
        _edit("multi-region: the trail made multi-region", lambda p: p["before"].update(trails=[{**trail("main", TRAIL, multi_region=False), "name": 7}])),
        "a trail of the record's before-state has no name or ARN",
    ),
    "multi-region: a flag that is not a boolean": (
        _edit("multi-region: the trail made multi-region", lambda p: p["before"].update(trails=[{**trail("main", TRAIL), "isLogging": "yes"}])),
        "a trail of the record's before-state lacks its multi-region, global-events or logging flag",
    ),
    "multi-region: selectors that are not an object": (
        _edit("multi-region: the trail made multi-region", lambda p: p["before"].update(trails=[{**trail("main", TRAIL, multi_region=False), "eventSelectors": []}])),
        "the record's trail event selectors is not a JSON object",
    ),
    "multi-region: already satisfied": (_edit("multi-region: the trail made multi-region", lambda p: p["before"].update(trails=[trail("main", TRAIL)])), NOTHING_TO_UNDO),
    "multi-region: no change detail": (
        _edit("multi-region: the trail made multi-region", lambda p: p["change"].update(detail=None)), "the record's change detail is not a JSON object",
    ),
    "multi-region: a trail the fixer would not have chosen": (
        _edit("multi-region: the trail made multi-region", lambda p: p["change"].update(detail={"trail": EU_TRAIL})),
        f"the record's changed trail {EU_TRAIL!r} is not one the fixer would have changed from the before-state",
    ),
    "multi-region: a created trail the record does not describe": (
        _edit("multi-region: the trail the fix created", lambda p: p["change"].update(detail={"trail": TRAIL})),
        "the record does not describe the trail the fixer would have created",
    ),
    "flow logs: before-state of another VPC": (
        _edit("flow logs: the ones the fix created", lambda p: p["before"].update(vpcId="vpc-00000000")),
        f"the record's before-state names VPC 'vpc-00000000', not the record's resource {VPC}",
    ),
    "flow logs: flow logs that are not a list": (
        _edit("flow logs: the ones the fix created", lambda p: p["before"].update(flowLogs="fl-0000000a")),
        "the record's before-state flow logs is not a list of JSON objects",
    ),
    "flow logs: no change detail": (
        _edit("flow logs: the ones the fix created", lambda p: p["change"].update(detail="fl-0000000b")), "the record's change detail is not a JSON object",
    ),
    "flow logs: the VPC's flow logs could not be read now": (
        _edit("flow logs: the ones the fix created", lambda p: p.update(current=None)), f"flow log fl-0000000b is not attached to {VPC} now",
    ),
    "flow logs: already logging": (
        _edit("flow logs: the ones the fix created", lambda p: p["before"].update(flowLogs=[flow_log("fl-0000000a", "REJECT")])), NOTHING_TO_UNDO,
    ),
    "flow logs: no ids": (
        _edit("flow logs: the ones the fix created", lambda p: p["change"].update(detail={"flowLogIds": []})),
        "the record does not name the flow log ids the fix created",
    ),
    "flow logs: an id that is not a flow log id": (
        _edit("flow logs: the ones the fix created", lambda p: p["change"].update(detail={"flowLogIds": ["fl-0000000b", "vpc-0000000b"]})),
        "the record does not name the flow log ids the fix created",
    ),
    "flow logs: ids that are not a list": (
        _edit("flow logs: the ones the fix created", lambda p: p["change"].update(detail={"flowLogIds": "fl-0000000b"})),
        "the record does not name the flow log ids the fix created",
    ),
    "flow logs: one existed before the fix": (
        _edit("flow logs: the ones the fix created", lambda p: p.update(current=attached("fl-0000000a", "fl-0000000b"))
              or p["change"].update(detail={"flowLogIds": ["fl-0000000b", "fl-0000000a"]})),
        "flow log fl-0000000a existed before the fix, so the fix did not create it",
    ),
    "flow logs: one is not attached now": (
        _edit("flow logs: the ones the fix created", lambda p: p.update(current=attached("fl-0000000c"))),
        f"flow log fl-0000000b is not attached to {VPC} now",
    ),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_an_edited_record_is_refused_by_the_check_meant_for_it(name: str) -> None:
    (fixer, target, before, change, params, current), reason = REFUSED[name]
    with pytest.raises(UndoRefused) as refused:
        fixer.undo_calls(target, before, change, params, current)
    assert str(refused.value) == reason
