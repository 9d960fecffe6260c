"""Helpers shared by the S3 bucket fixers: bucket-name validation, tags and Security Hub ids."""

from __future__ import annotations

import re
from typing import Any

from ..clients import client
from .base import Target, read_tags

BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
"""S3 bucket naming rules (3-63 lowercase letters, digits, dots and hyphens)."""

BUCKET_RESOURCE_TYPES: tuple[str, ...] = ("AWS::S3::Bucket",)


def bucket_name(resource_type: str, raw_id: str, _account: str) -> str | None:
    """The bucket name, when ``raw_id`` is one (Config's resourceId of a bucket is its name)."""
    if resource_type in BUCKET_RESOURCE_TYPES and BUCKET_NAME.fullmatch(raw_id) and ".." not in raw_id:
        return raw_id
    return None


def bucket_is_exempt(bucket: str, exemption_tag: str) -> bool:
    """Whether the bucket carries the exemption tag (GetBucketTagging; fails closed)."""
    tags = read_tags(lambda: client("s3").get_bucket_tagging(Bucket=bucket)["TagSet"], ("NoSuchTagSet",))
    return exemption_tag in tags


def bucket_finding_resource(target: Target, _state: Any) -> tuple[str, str]:
    """Security Hub and Config findings name a bucket by its ARN (facts §7.2, verified)."""
    return f"arn:{target.partition}:s3:::{target.resource_id}", "EQUALS"
