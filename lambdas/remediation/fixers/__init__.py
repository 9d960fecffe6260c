"""Registry of fixers, one module per rule key.

Each fixer module declares ``IAM_ACTIONS``: the exact IAM actions its code calls. The Pulumi
program builds the Lambda role from these declarations through ``iam_actions``.

Fixer modules are imported on first use, so that a cold start loads only the fixers the
deployment configures: ``load_fixer(key)`` imports one; ``FIXER_MODULES`` and ``FIXERS`` (built on
first access) import them all.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .base import Fixer

MODULE_NAMES: dict[str, str] = {
    "s3-bucket-encryption": "s3_bucket_encryption",
    "s3-bucket-public-access": "s3_bucket_public_access",
    "s3-account-public-access": "s3_account_public_access",
    "restricted-admin-ports": "restricted_admin_ports",
    "vpc-flow-logs": "vpc_flow_logs",
    "cloudtrail-multi-region": "cloudtrail_multi_region",
    "cloudtrail-log-validation": "cloudtrail_log_validation",
    "s3-bucket-versioning": "s3_bucket_versioning",
    "s3-ssl-only": "s3_ssl_only",
    "sqs-queue-public": "sqs_queue_public",
    "sns-topic-public": "sns_topic_public",
    "ebs-snapshot-public": "ebs_snapshot_public",
    "ebs-default-encryption": "ebs_default_encryption",
    "kms-key-rotation": "kms_key_rotation",
    "default-security-group-closed": "default_security_group_closed",
    "ec2-imdsv2": "ec2_imdsv2",
    "log-group-retention": "log_group_retention",
    "rds-public-access": "rds_public_access",
    "ecr-scan-on-push": "ecr_scan_on_push",
    "lambda-public-access": "lambda_public_access",
    "rds-snapshot-public": "rds_snapshot_public",
    "ssm-document-public": "ssm_document_public",
    "iam-password-policy": "iam_password_policy",
    "iam-unused-credentials": "iam_unused_credentials",
    "guardduty-enabled": "guardduty_enabled",
}
"""Fixer module name by rule key (the keys of the catalog in governance/catalog.py)."""

RULE_KEYS: tuple[str, ...] = tuple(MODULE_NAMES)
"""Every rule key that has a fixer, in catalog order."""


def load_fixer(rule_key: str) -> Fixer:
    """The fixer module for ``rule_key``, imported on first use."""
    module: Fixer = import_module(f".{MODULE_NAMES[rule_key]}", __name__)
    return module


def iam_actions(rule_key: str) -> tuple[str, ...]:
    """The IAM actions the fixer for ``rule_key`` calls, as declared next to its code."""
    return tuple(load_fixer(rule_key).IAM_ACTIONS)


def __getattr__(name: str) -> Any:
    # FIXER_MODULES (module by rule key) and FIXERS (the same, typed as Fixer) import every fixer.
    if name in ("FIXER_MODULES", "FIXERS"):
        modules: dict[str, ModuleType] = {key: import_module(f".{module}", __name__) for key, module in MODULE_NAMES.items()}
        return modules
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if TYPE_CHECKING:
    # The type checker proves that every module provides the functions of base.Fixer.
    from . import (
        cloudtrail_log_validation,
        cloudtrail_multi_region,
        default_security_group_closed,
        ebs_default_encryption,
        ebs_snapshot_public,
        ec2_imdsv2,
        ecr_scan_on_push,
        guardduty_enabled,
        iam_password_policy,
        iam_unused_credentials,
        kms_key_rotation,
        lambda_public_access,
        log_group_retention,
        rds_public_access,
        rds_snapshot_public,
        restricted_admin_ports,
        s3_account_public_access,
        s3_bucket_encryption,
        s3_bucket_public_access,
        s3_bucket_versioning,
        s3_ssl_only,
        sns_topic_public,
        sqs_queue_public,
        ssm_document_public,
        vpc_flow_logs,
    )

    FIXER_MODULES: dict[str, ModuleType]
    """Fixer module by rule key."""
    FIXERS: dict[str, Fixer]
    """The same modules, typed as ``Fixer``."""
    _CHECKED: tuple[Fixer, ...] = (
        cloudtrail_log_validation,
        cloudtrail_multi_region,
        ebs_default_encryption,
        iam_password_policy,
        kms_key_rotation,
        default_security_group_closed,
        ec2_imdsv2,
        guardduty_enabled,
        iam_unused_credentials,
        log_group_retention,
        rds_public_access,
        ecr_scan_on_push,
        lambda_public_access,
        restricted_admin_ports,
        s3_account_public_access,
        s3_bucket_encryption,
        s3_bucket_public_access,
        s3_bucket_versioning,
        s3_ssl_only,
        sns_topic_public,
        sqs_queue_public,
        vpc_flow_logs,
        ebs_snapshot_public,
        rds_snapshot_public,
        ssm_document_public,
    )
