"""Helpers shared by the CloudTrail fixers: trail ids, home regions and tags."""

from __future__ import annotations

import re

from ..clients import client
from .base import Target, read_tags

TRAIL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,126}[A-Za-z0-9]")
TRAIL_ARN = re.compile(r"arn:aws(?:-cn|-us-gov)?:cloudtrail:([a-z0-9-]+):(\d{12}):trail/([A-Za-z0-9._-]{3,128})")


def trail_id(raw_id: str) -> str | None:
    """A trail name or trail ARN, unchanged; None when it is neither.

    Config's resourceId for AWS::CloudTrail::Trail may be the name or the ARN (UNVERIFIED which,
    facts §2), so both are accepted; CloudTrail's APIs take either.
    """
    return raw_id if TRAIL_NAME.fullmatch(raw_id) or TRAIL_ARN.fullmatch(raw_id) else None


def arn_region(trail_arn: str) -> str | None:
    """The trail's home region, from its ARN."""
    match = TRAIL_ARN.fullmatch(trail_arn)
    return match.group(1) if match else None


def arn_account(trail_arn: str) -> str | None:
    """The account that owns the trail, from its ARN."""
    match = TRAIL_ARN.fullmatch(trail_arn)
    return match.group(2) if match else None


def home_region_or_none(trail_arn: str, target: Target) -> str | None:
    """The region to call for writes to the trail: None when it is the function's own."""
    region = arn_region(trail_arn)
    return None if region in (None, target.region) else region


def trail_is_exempt(trail_arn: str, target: Target, exemption_tag: str) -> bool:
    """Whether the trail carries the exemption tag (ListTags in its home region; fails closed)."""
    cloudtrail = client("cloudtrail", home_region_or_none(trail_arn, target))

    def read() -> list[dict[str, str]]:
        for tagged in cloudtrail.list_tags(ResourceIdList=[trail_arn]).get("ResourceTagList", []):
            return list(tagged.get("TagsList", []))
        return []

    return exemption_tag in read_tags(read, ())
