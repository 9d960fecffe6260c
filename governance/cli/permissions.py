"""What the operator CLI reads in an account besides each rule's fixer: the IAM actions, declared.

Organization mode's member role grants them (``governance.member_template``): the CLI reaches members
through that role only. ``tests/cli/test_permissions.py`` runs every discovery and doctor check on the
emulator and checks each request it sends is declared here or by the rule's fixer.
"""

from __future__ import annotations

from collections.abc import Mapping

_BUCKETS = ("s3:ListAllMyBuckets",)

DISCOVERY_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "s3-bucket-encryption": _BUCKETS,
    "s3-bucket-public-access": _BUCKETS,
    "s3-account-public-access": (),
    "restricted-admin-ports": ("ec2:DescribeSecurityGroups",),
    "vpc-flow-logs": ("ec2:DescribeFlowLogs", "ec2:DescribeVpcs"),
    "cloudtrail-multi-region": (),
    "cloudtrail-log-validation": ("cloudtrail:DescribeTrails",),
    "s3-bucket-versioning": _BUCKETS,
    "s3-ssl-only": _BUCKETS,
    "sqs-queue-public": ("sqs:ListQueues",),
    "sns-topic-public": ("sns:ListTopics",),
    "ebs-snapshot-public": (),
    "ebs-default-encryption": (),
    "kms-key-rotation": ("kms:ListKeys",),
    "default-security-group-closed": ("ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules", "ec2:DescribeNetworkInterfaces"),
    "ec2-imdsv2": ("ec2:DescribeInstances",),
    "log-group-retention": ("logs:DescribeLogGroups",),
    "rds-public-access": ("rds:DescribeDBInstances",),
    "ecr-scan-on-push": ("ecr:DescribeRepositories",),
    "lambda-public-access": ("lambda:ListFunctions",),
    "rds-snapshot-public": ("rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots"),
    "ssm-document-public": ("ssm:ListDocuments",),
    "iam-password-policy": (),
    "iam-unused-credentials": ("iam:ListUsers",),
    "guardduty-enabled": (),
}
"""The batch reads that find each rule's resources (``governance.cli.inventory.DISCOVERY``)."""

EXEMPTION_READS: tuple[str, ...] = ("tag:GetResources",)
"""The one query that finds the resources carrying the exemption tag (``inventory.exempt_arns``)."""

DOCTOR_READS: tuple[str, ...] = (
    "config:DescribeConfigurationRecorderStatus",
    "config:DescribeConfigurationRecorders",
    "config:DescribeDeliveryChannels",
    "securityhub:DescribeHub",
)
"""What ``doctor`` reads in every account-region. Its check that a bucket named in a rule's params exists
(``HeadBucket``, which needs ``s3:ListBucket``) is not granted: ``s3:ListBucket`` would let the role list the
objects of every bucket of the account, so in a member that check reports the refusal instead."""

FORWARDED_DEAD_LETTER_READS: tuple[str, ...] = ("sqs:GetQueueAttributes", "sqs:GetQueueUrl")
"""What ``doctor`` reads of a member's forwarding dead-letter queue (organization mode): the member role grants
them on that queue only, not on every queue of the account."""


def operator_reads(rule_keys: set[str] | frozenset[str]) -> tuple[str, ...]:
    """Every read the CLI makes in an account for these rules, besides their fixers' actions, sorted."""
    actions = {*EXEMPTION_READS, *DOCTOR_READS}
    for key in rule_keys:
        actions.update(DISCOVERY_ACTIONS[key])
    return tuple(sorted(actions))
