"""What the CLI finds in one account-region, and which of it carries the exemption tag, checked exactly.

Every resource of every rule is found with the target the fixer will act on (type, id, account,
region, partition) and the ARN its exemption tag is matched by; nothing of another region is
found; the tag query asks for exactly the resource types the selected rules write to.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from governance.cli import inventory
from governance.cli.inventory import Found, discover, exempt_arns
from governance.lambda_code import lambda_module
from governance.settings import Account

ACCOUNT = Account("123456789012", "home", None, None, "aws", ("us-east-1", "eu-west-1"), ())
REGION = "us-east-1"
TAG = "governance:exempt"


def session(region: str = REGION) -> boto3.Session:
    return boto3.Session(region_name=region)


def target(resource_type: str, resource_id: str, region: str = REGION) -> Any:
    return lambda_module("fixers.base").Target(resource_type, resource_id, ACCOUNT.id, region, "aws")


def _bucket(name: str, region: str) -> None:
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    session(region).client("s3").create_bucket(Bucket=name, **location)


def test_buckets_of_the_region_only_are_found_by_name_with_their_arn(aws: None) -> None:
    _bucket("bucket-east", "us-east-1")
    _bucket("bucket-west", "eu-west-1")
    assert discover("s3-bucket-encryption", session(), ACCOUNT, REGION) == [
        Found(target("AWS::S3::Bucket", "bucket-east"), None, "arn:aws:s3:::bucket-east"),
    ]
    assert [found.target.resource_id for found in discover("s3-bucket-public-access", session("eu-west-1"), ACCOUNT, "eu-west-1")] == ["bucket-west"]


def test_the_bucket_list_is_asked_for_the_region_and_an_answer_without_buckets_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    client = boto3.client("s3", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    stubber.add_response("list_buckets", {}, {"BucketRegion": "eu-west-1"})
    monkeypatch.setattr(inventory, "_client", lambda _session, _service: client)
    with stubber:
        assert discover("s3-bucket-encryption", session(), ACCOUNT, "eu-west-1") == []
    stubber.assert_no_pending_responses()


def test_a_page_without_its_list_adds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    client = boto3.client("ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    stubber.add_response("describe_security_groups", {})
    monkeypatch.setattr(inventory, "_client", lambda _session, _service: client)
    with stubber:
        assert discover("restricted-admin-ports", session(), ACCOUNT, REGION) == []


def test_targets_and_arns_carry_the_accounts_partition(aws: None) -> None:
    _bucket("bucket-east", REGION)
    china = Account(ACCOUNT.id, "china", None, None, "aws-cn", (REGION,), ())
    (found,) = discover("s3-bucket-encryption", session(), china, REGION)
    assert (found.target.partition, found.arn) == ("aws-cn", "arn:aws-cn:s3:::bucket-east")


def test_batch_reads_retry_throttling_with_backoff_like_every_cli_call() -> None:
    config = inventory._client(session(), "ec2").meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 9}, "botocore counts the first try too"
    assert (config.connect_timeout, config.read_timeout) == (5, 30)


def test_security_groups_and_vpcs_are_found_with_their_state_and_arn(aws: None) -> None:
    ec2 = session().client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    groups = {found.target.resource_id: found for found in discover("restricted-admin-ports", session(), ACCOUNT, REGION)}
    assert groups[group].target == target("AWS::EC2::SecurityGroup", group)
    assert groups[group].arn == f"arn:aws:ec2:{REGION}:{ACCOUNT.id}:security-group/{group}"
    group_state = groups[group].state
    assert group_state is not None and (group_state.group_id, group_state.vpc_id) == (group, vpc)
    vpcs = {found.target.resource_id: found for found in discover("vpc-flow-logs", session(), ACCOUNT, REGION)}
    assert vpcs[vpc].target == target("AWS::EC2::VPC", vpc)
    assert vpcs[vpc].arn == f"arn:aws:ec2:{REGION}:{ACCOUNT.id}:vpc/{vpc}"
    vpc_state = vpcs[vpc].state
    assert vpc_state is not None and (vpc_state.vpc_id, vpc_state.flow_logs) == (vpc, ())


def test_trails_are_found_in_their_home_region_by_arn(aws: None) -> None:
    _bucket("trail-bucket", "us-east-1")
    east = session().client("cloudtrail").create_trail(Name="east", S3BucketName="trail-bucket", IsMultiRegionTrail=True)["TrailARN"]
    _bucket("trail-bucket-west", "eu-west-1")
    session("eu-west-1").client("cloudtrail").create_trail(Name="west", S3BucketName="trail-bucket-west")
    assert discover("cloudtrail-log-validation", session(), ACCOUNT, REGION) == [Found(target("AWS::CloudTrail::Trail", east), None, east)]


def test_shadow_trails_are_not_asked_for_and_a_trail_of_another_home_region_is_left_to_that_region(monkeypatch: pytest.MonkeyPatch) -> None:
    client = boto3.client("cloudtrail", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    here = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT.id}:trail/here"
    unstated = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT.id}:trail/unstated"
    trails = [
        {"Name": "here", "TrailARN": here, "HomeRegion": REGION},
        {"Name": "there", "TrailARN": f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT.id}:trail/there", "HomeRegion": "eu-west-1"},
        {"Name": "unstated", "TrailARN": unstated},
    ]
    # Shadow trails include other accounts' organization trails replicated here: never ours to change.
    stubber.add_response("describe_trails", {"trailList": trails}, {"includeShadowTrails": False})
    stubber.add_response("describe_trails", {}, {"includeShadowTrails": False})
    monkeypatch.setattr(inventory, "_client", lambda _session, _service: client)
    with stubber:
        assert [found.arn for found in discover("cloudtrail-log-validation", session(), ACCOUNT, REGION)] == [here, unstated]
        assert discover("cloudtrail-log-validation", session(), ACCOUNT, REGION) == [], "a response without trailList has no trails"
    stubber.assert_no_pending_responses()


def test_each_vpc_is_found_with_its_own_flow_logs(aws: None) -> None:
    ec2 = session().client("ec2")
    logged, unlogged = (ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"] for cidr in ("10.3.0.0/16", "10.4.0.0/16"))
    _bucket("flow-logs", REGION)
    ec2.create_flow_logs(ResourceIds=[logged], ResourceType="VPC", TrafficType="ALL", LogDestinationType="s3", LogDestination="arn:aws:s3:::flow-logs")
    states = {found.target.resource_id: found.state for found in discover("vpc-flow-logs", session(), ACCOUNT, REGION)}
    logged_state, unlogged_state = states[logged], states[unlogged]
    assert logged_state is not None and [flow_log["ResourceId"] for flow_log in logged_state.flow_logs] == [logged]
    assert logged_state.flow_logs[0]["LogDestination"] == "arn:aws:s3:::flow-logs"
    assert unlogged_state is not None and unlogged_state.flow_logs == ()


@pytest.mark.parametrize("rule", ["cloudtrail-multi-region", "s3-account-public-access"])
def test_account_rules_find_the_account_itself_without_an_arn(rule: str) -> None:
    assert discover(rule, session(), ACCOUNT, "eu-west-1") == [Found(target("AWS::::Account", ACCOUNT.id, "eu-west-1"), None, None)]


def test_the_tag_query_returns_exactly_the_tagged_resources_of_the_selected_rules(aws: None) -> None:
    _bucket("tagged-bucket", REGION)
    _bucket("plain-bucket", REGION)
    s3 = session().client("s3")
    s3.put_bucket_tagging(Bucket="tagged-bucket", Tagging={"TagSet": [{"Key": TAG, "Value": ""}]})
    s3.put_bucket_tagging(Bucket="plain-bucket", Tagging={"TagSet": [{"Key": "team", "Value": "web"}]})
    ec2 = session().client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.2.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": TAG, "Value": "yes"}]}])["Vpc"]["VpcId"]
    group = ec2.create_security_group(
        GroupName="db", Description="db", VpcId=vpc, TagSpecifications=[{"ResourceType": "security-group", "Tags": [{"Key": TAG, "Value": "yes"}]}],
    )["GroupId"]
    bucket_arn = "arn:aws:s3:::tagged-bucket"
    vpc_arn = f"arn:aws:ec2:{REGION}:{ACCOUNT.id}:vpc/{vpc}"
    group_arn = f"arn:aws:ec2:{REGION}:{ACCOUNT.id}:security-group/{group}"
    assert exempt_arns(session(), TAG, {"s3-bucket-encryption", "restricted-admin-ports", "vpc-flow-logs"}) == {bucket_arn, vpc_arn, group_arn}
    assert exempt_arns(session(), TAG, {"s3-bucket-public-access"}) == {bucket_arn}
    assert exempt_arns(session(), TAG, {"restricted-admin-ports"}) == {group_arn}
    assert exempt_arns(session(), "other-tag", {"s3-bucket-encryption"}) == set()


def test_rules_without_taggable_resources_send_no_tag_query(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inventory, "_client", lambda *_: pytest.fail("no request may be sent"))
    assert exempt_arns(session(), TAG, {"s3-account-public-access"}) == set()
    assert exempt_arns(session(), TAG, set()) == set()


def test_the_tag_query_filters_by_the_tag_key_and_the_types_and_reads_every_page(monkeypatch: pytest.MonkeyPatch) -> None:
    client = boto3.client("resourcegroupstaggingapi", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    expected = {"TagFilters": [{"Key": TAG}], "ResourceTypeFilters": ["cloudtrail:trail", "ec2:security-group", "s3"]}
    stubber.add_response("get_resources", {"ResourceTagMappingList": [{"ResourceARN": "arn:1"}], "PaginationToken": "next"}, expected)
    stubber.add_response("get_resources", {"ResourceTagMappingList": [{"ResourceARN": "arn:2"}], "PaginationToken": ""}, {**expected, "PaginationToken": "next"})
    monkeypatch.setattr(inventory, "_client", lambda _session, _service: client)
    with stubber:
        assert exempt_arns(session(), TAG, {"s3-bucket-encryption", "restricted-admin-ports", "cloudtrail-log-validation", "cloudtrail-multi-region"}) == {"arn:1", "arn:2"}
    stubber.assert_no_pending_responses()
