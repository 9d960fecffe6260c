"""Registry of fixers, one module per rule key.

Each fixer module declares ``IAM_ACTIONS``: the exact IAM actions its code calls. The Pulumi
program builds the Lambda role from these declarations through ``iam_actions``.
"""

from __future__ import annotations

from types import ModuleType

from . import (
    cloudtrail_log_validation,
    cloudtrail_multi_region,
    restricted_admin_ports,
    s3_account_public_access,
    s3_bucket_encryption,
    s3_bucket_public_access,
    vpc_flow_logs,
)

FIXER_MODULES: dict[str, ModuleType] = {
    "s3-bucket-encryption": s3_bucket_encryption,
    "s3-bucket-public-access": s3_bucket_public_access,
    "s3-account-public-access": s3_account_public_access,
    "restricted-admin-ports": restricted_admin_ports,
    "vpc-flow-logs": vpc_flow_logs,
    "cloudtrail-multi-region": cloudtrail_multi_region,
    "cloudtrail-log-validation": cloudtrail_log_validation,
}
"""Fixer module by rule key (the catalog's ``lambda_fixer``)."""


def iam_actions(rule_key: str) -> tuple[str, ...]:
    """The IAM actions the fixer for ``rule_key`` calls, as declared next to its code."""
    return tuple(FIXER_MODULES[rule_key].IAM_ACTIONS)
