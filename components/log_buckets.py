"""Which rights a role needs on the log buckets its rules name, apart from everything else it may do.

In the usual multi-account layout CloudTrail and VPC flow logs go to a central bucket in a
log-archive account. A statement conditioned on ``aws:ResourceAccount = <own account>`` would block
every runbook or fixer step that touches such a bucket, so the bucket-level S3 rights of a rule that
names a log bucket are granted on that bucket alone (whatever its account) and on no other bucket.
Every other S3 right stays inside the role's own account.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from governance.catalog import CLOUDTRAIL_MULTI_REGION, VPC_FLOW_LOGS
from governance.iam_reference import reference
from governance.settings import RuleSettings

S3_BUCKET_ARN_PREFIX = "arn:${Partition}:s3:::"


def log_bucket_of(rule: RuleSettings) -> str | None:
    """The bucket a rule's remediation delivers logs to, when its params name one."""
    if rule.key == CLOUDTRAIL_MULTI_REGION.key:
        bucket = rule.params.get("s3BucketName")
        return str(bucket) if bucket else None
    if rule.key == VPC_FLOW_LOGS.key and rule.params.get("destinationType") == "s3":
        arn = rule.params.get("s3BucketArn")
        # arn:<partition>:s3:::<bucket>[/<folder>]
        return str(arn).split(":::", 1)[1].split("/", 1)[0] if arn else None
    return None


def acts_on_buckets(action: str) -> bool:
    """Whether IAM lets ``action`` be granted on a bucket or object ARN."""
    return any(arn.startswith(S3_BUCKET_ARN_PREFIX) for arn in reference().get(action, []))


@dataclass(frozen=True)
class RoleGrants:
    """A role's actions, split into rights inside its own account and rights on named log buckets."""

    own_account: tuple[str, ...]
    """Granted on the account's own resources (S3 ones conditioned on ``aws:ResourceAccount``)."""
    log_buckets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Bucket name -> bucket-level S3 actions granted on that bucket and its objects only."""


def split_grants(rule_actions: Iterable[tuple[RuleSettings, Iterable[str]]], extra: Iterable[str] = ()) -> RoleGrants:
    """Split each rule's actions: its bucket-level S3 actions go to its log bucket, when it names one."""
    own: set[str] = set(extra)
    buckets: dict[str, set[str]] = {}
    for rule, actions in rule_actions:
        bucket = log_bucket_of(rule)
        for action in actions:
            if bucket and acts_on_buckets(action):
                buckets.setdefault(bucket, set()).add(action)
            else:
                own.add(action)
    return RoleGrants(
        own_account=tuple(sorted(own)),
        log_buckets={bucket: tuple(sorted(actions)) for bucket, actions in sorted(buckets.items())},
    )
