"""The rule params of the test deployment, in a module of their own.

pytest may import ``conftest.py`` twice (once as this directory's conftest, once by name from the
safety suite's conftest); the params live here so that every copy, and every test that imports
them, shares one dict, which the ``aws`` fixture updates with each test's KMS key.
"""

from __future__ import annotations

from typing import Any

ACCOUNT = "123456789012"

DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    # Replaced in every test by aws:kms with a fresh key (see the aws fixture).
    "s3-bucket-encryption": {"algorithm": "AES256", "kmsKeyArn": None},
    "s3-bucket-public-access": {"excludedPublicBuckets": []},
    "s3-account-public-access": {},
    "restricted-admin-ports": {"ports": [22, 3389]},
    "vpc-flow-logs": {
        "trafficType": "ALL",
        "destinationType": "cloud-watch-logs",
        "s3BucketArn": None,
        "logGroupName": "/governance/vpc-flow-logs",
        "deliverLogsRoleArn": f"arn:aws:iam::{ACCOUNT}:role/governance-flow-logs",
    },
    "cloudtrail-multi-region": {"s3BucketName": "governance-trail-bucket", "trailName": "governance-multi-region"},
    "cloudtrail-log-validation": {},
    "s3-bucket-versioning": {},
    "s3-ssl-only": {},
    "sqs-queue-public": {},
    "sns-topic-public": {},
    "ebs-snapshot-public": {},
    "ebs-default-encryption": {"kmsKeyArn": None},
    "kms-key-rotation": {},
    "default-security-group-closed": {"evenWhenInUse": False},
    "ec2-imdsv2": {"metadataNoTokenDays": 14},
    "log-group-retention": {"minRetentionDays": 365, "logGroupNames": []},
    "rds-public-access": {},
    "ecr-scan-on-push": {},
    "lambda-public-access": {},
    "rds-snapshot-public": {},
    "ssm-document-public": {},
    "iam-password-policy": {
        "RequireUppercaseCharacters": True, "RequireLowercaseCharacters": True, "RequireSymbols": True, "RequireNumbers": True,
        "MinimumPasswordLength": 14, "PasswordReusePrevention": 24, "MaxPasswordAge": 90,
    },
    "iam-unused-credentials": {"maxCredentialUsageAge": 90},
    "guardduty-enabled": {"centralMonitoringAccount": []},
}
