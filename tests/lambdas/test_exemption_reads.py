"""How the fixers read the exemption tag when AWS answers with less than the usual fields.

AWS leaves out empty lists (a VPC without tags has no ``Tags``, a trail without tags may come
back without ``TagsList``) and answers for a trail only in its home region; each such answer
must read as "no tag", never crash, and a trail's tags must be asked for where the trail lives.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from conftest import ACCOUNT, EXEMPTION_TAG, REGION
from remediation import clients
from remediation.fixers import cloudtrail_common, cloudtrail_multi_region, vpc_flow_logs
from remediation.fixers.base import Plan, TagsUnreadable, Target, read_tags

VPC = "vpc-0123456789abcdef0"
TRAIL = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/main"
ACCOUNT_TARGET = Target("AWS::::Account", ACCOUNT, ACCOUNT, REGION)


def test_a_vpc_described_without_tags_is_not_exempt() -> None:
    stubber = Stubber(clients.client("ec2"))
    stubber.add_response("describe_vpcs", {"Vpcs": [{"VpcId": VPC}]}, {"VpcIds": [VPC]})
    with stubber:
        assert vpc_flow_logs.is_exempt(Target("AWS::EC2::VPC", VPC, ACCOUNT, REGION), vpc_flow_logs.FlowLogState(VPC, ()), Plan("", (), ()), EXEMPTION_TAG) is False
    stubber.assert_no_pending_responses()


def _trail_tags(response: dict[str, Any]) -> bool:
    stubber = Stubber(clients.client("cloudtrail"))
    stubber.add_response("list_tags", response, {"ResourceIdList": [TRAIL]})
    with stubber:
        exempt = cloudtrail_common.trail_is_exempt(TRAIL, ACCOUNT_TARGET, EXEMPTION_TAG)
    stubber.assert_no_pending_responses()
    return exempt


def test_a_trail_listed_without_tags_is_not_exempt() -> None:
    assert _trail_tags({}) is False
    assert _trail_tags({"ResourceTagList": []}) is False
    assert _trail_tags({"ResourceTagList": [{"ResourceId": TRAIL}]}) is False
    assert _trail_tags({"ResourceTagList": [{"ResourceId": TRAIL, "TagsList": [{"Key": EXEMPTION_TAG, "Value": "audit team"}]}]}) is True


def test_a_trail_of_another_home_region_has_its_tags_read_there(monkeypatch: pytest.MonkeyPatch) -> None:
    boto3.client("s3").create_bucket(Bucket="west-trail-bucket")
    west = boto3.client("cloudtrail", region_name="us-west-2")
    arn = west.create_trail(Name="west", S3BucketName="west-trail-bucket")["TrailARN"]
    west.add_tags(ResourceId=arn, TagsList=[{"Key": EXEMPTION_TAG, "Value": "audit team"}])
    asked: list[str | None] = []
    real_client = cloudtrail_common.client

    def recording_client(service: str, region: str | None = None) -> Any:
        asked.append(region)
        return real_client(service, region)

    monkeypatch.setattr(cloudtrail_common, "client", recording_client)
    assert cloudtrail_common.trail_is_exempt(arn, ACCOUNT_TARGET, EXEMPTION_TAG) is True
    assert asked == ["us-west-2"]


@pytest.mark.parametrize("tagged", [True, False])
def test_an_account_plan_without_candidates_asks_about_the_trail_it_changes(monkeypatch: pytest.MonkeyPatch, tagged: bool) -> None:
    # Undo's plan of one recorded change has no candidates: the trail it changes is the only one to ask about.
    asked: list[str] = []

    def trail_is_exempt(trail: str, target: Target, tag: str) -> bool:
        asked.append(trail)
        return tagged

    monkeypatch.setattr(cloudtrail_multi_region, "trail_is_exempt", trail_is_exempt)
    change = Plan("undo", (), (), {}, (), TRAIL)
    assert cloudtrail_multi_region.is_exempt(ACCOUNT_TARGET, None, change, EXEMPTION_TAG) is tagged  # type: ignore[arg-type]
    assert asked == [TRAIL]


def _refused(code: str) -> Any:
    def read() -> list[dict[str, str]]:
        raise ClientError({"Error": {"Code": code, "Message": "no"}}, "GetBucketTagging")

    return read


def test_tags_are_read_as_their_keys_and_an_absent_tag_set_is_none() -> None:
    assert read_tags(lambda: [{"Key": EXEMPTION_TAG, "Value": "x"}, {"Key": "team"}], ()) == {EXEMPTION_TAG, "team"}
    assert read_tags(_refused("NoSuchTagSet"), ("NoSuchTagSet",)) == set()


def test_a_tag_read_that_is_refused_fails_closed_and_a_throttled_one_is_retried() -> None:
    with pytest.raises(TagsUnreadable) as unreadable:
        read_tags(_refused("AccessDenied"), ("NoSuchTagSet",))
    assert str(unreadable.value) == "AccessDenied: no"
    with pytest.raises(ClientError) as throttled:
        read_tags(_refused("ThrottlingException"), ())
    assert not isinstance(throttled.value, TagsUnreadable)
