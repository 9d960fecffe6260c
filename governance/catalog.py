"""The rule catalog: the single source of truth for every rule the program can deploy.

Each entry says which AWS Config managed rule detects the problem, which AWS-owned SSM runbook can
fix it (and how its parameters are filled), which parameters the
stack may set, and the IAM actions each engine needs. Adding a rule means adding one entry here and,
for the Lambda engine, one fixer module under ``lambdas/remediation/fixers`` registered under the
same key.

Runbook names, parameters and IAM lists follow the verified AWS facts this project keeps; where a
fact is not verified, the entry says so in a comment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from governance.params import (
    BUCKET_ARN,
    BUCKET_NAME,
    KMS_KEY_ARN,
    LOG_GROUP_NAME,
    TRAIL_NAME,
    ParamSpec,
    RuleParams,
    matches,
    one_of,
    port_list,
    string_list,
)

Engine = Literal["ssm", "lambda"]
Scope = Literal["region", "account"]


@dataclass(frozen=True)
class SsmContext:
    """Values an SSM runbook parameter may need besides the rule's own params."""

    account_id: str
    region: str
    partition: str
    flow_logs_role_arn: Any = None
    """ARN (or Pulumi Output) of the flow-log delivery role, when the account has one."""
    flow_logs_log_group_arn: Any = None
    """ARN (or Pulumi Output) of the flow-log group in this region, when there is one."""


def _no_static(_params: RuleParams, _context: SsmContext) -> dict[str, Any]:
    return {}


def _no_inputs(_params: RuleParams) -> dict[str, str]:
    return {}


def _no_cross_check(_params: RuleParams, _engine: Engine) -> str | None:
    return None


def _no_securityhub_check(_params: RuleParams) -> str | None:
    return None


def _no_defaults(_raw_params: Mapping[str, Any]) -> dict[str, str]:
    return {}


def _no_note(_params: RuleParams) -> str | None:
    return None


def _no_regions_check(_params: RuleParams, _regions: tuple[str, ...]) -> tuple[str, str] | None:
    return None


def _same_params(params: RuleParams, _region: str) -> dict[str, Any]:
    return dict(params)


@dataclass(frozen=True)
class SsmRunbook:
    """An AWS-owned Automation runbook used as a Config remediation target."""

    document: str
    """SSM document name (AWS-owned)."""
    resource_id_parameter: str | None
    """Runbook parameter that receives the non-compliant resource's id (``RESOURCE_ID``)."""
    iam_actions: tuple[str, ...]
    """Actions the AutomationAssumeRole needs for this runbook; never a wildcard."""
    static_parameters: Callable[[RuleParams, SsmContext], dict[str, Any]] = _no_static
    """Fixed parameter values, computed from the rule's params."""
    caveat: str | None = None
    """Why this runbook is unsafe or limited; choosing it emits a preview warning."""


@dataclass(frozen=True)
class ConfigRuleSpec:
    """The AWS Config managed rule that detects the problem."""

    identifier: str
    """Managed rule source identifier."""
    scope_resource_types: tuple[str, ...]
    """Resource types the rule is scoped to; empty for periodic-only rules, which must be sent without a scope."""
    evaluated_resource_types: tuple[str, ...]
    """Resource types that appear in the rule's compliance events."""
    input_parameters: Callable[[RuleParams], dict[str, str]] = _no_inputs
    """The rule's InputParameters, computed from the rule's params (all values are strings)."""


@dataclass(frozen=True)
class RuleEntry:
    """Everything the program knows about one rule."""

    key: str
    """Stable key used in stack config and in deployed names."""
    title: str
    """One line for people."""
    config_rule: ConfigRuleSpec
    scope: Scope
    """``account``: evaluated and fixed once per account, in the account's first region."""
    default_engine: Engine
    ssm: SsmRunbook | None
    params: tuple[ParamSpec, ...] = ()
    securityhub_rule_prefixes: Callable[[RuleParams], tuple[str, ...]] = lambda _p: ()
    """Name prefixes of Security Hub's own Config rules for the same check (with the trailing dash)."""
    cross_check: Callable[[RuleParams, Engine], str | None] = _no_cross_check
    """Checks that involve several params or the engine; returns what is allowed, or None."""
    securityhub_check: Callable[[RuleParams], str | None] = _no_securityhub_check
    """With source securityhub: what is allowed when Security Hub's rules do not cover these params, or None."""
    config_rule_for: Callable[[RuleParams], ConfigRuleSpec] | None = None
    """The Config rule to deploy for these params, when it depends on them (else ``config_rule``)."""
    setting_defaults: Callable[[Mapping[str, Any]], dict[str, str]] = _no_defaults
    """Defaults of ``mode`` and ``engine`` that depend on the stack's (unvalidated) params."""
    note: Callable[[RuleParams], str | None] = _no_note
    """What an operator should know about the rule with these params on real AWS, or None."""
    regions_check: Callable[[RuleParams, tuple[str, ...]], tuple[str, str] | None] = _no_regions_check
    """Checks that involve an account's regions: (param name, what is allowed), or None."""
    params_for_region: Callable[[RuleParams, str], dict[str, Any]] = _same_params
    """The params the fixer gets in one region (a rule may set a value per region)."""

    @property
    def engines(self) -> tuple[Engine, ...]:
        """Engines this rule supports."""
        return ("ssm", "lambda") if self.ssm else ("lambda",)

    def for_params(self, params: RuleParams) -> RuleEntry:
        """The entry as deployed with ``params``: with the Config rule those params select."""
        if self.config_rule_for is None:
            return self
        return replace(self, config_rule=self.config_rule_for(params))


# --- s3-bucket-encryption ------------------------------------------------------------------------
#
# Since 2023-01-05 S3 applies SSE-S3 to every bucket: GetBucketEncryption returns an AES256 rule for a
# bucket nobody configured (S3 API reference, PutBucketEncryption: "By default, all buckets have a
# default encryption configuration that uses SSE-S3"). So with algorithm AES256 the rule is
# S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED (FSBP S3.4), which practically every bucket passes; the
# control that fails in practice is SSE-KMS, S3_DEFAULT_ENCRYPTION_KMS (FSBP S3.17), deployed for
# algorithm aws:kms with its kmsKeyArns parameter.
#
# S3_DEFAULT_ENCRYPTION_KMS [V] — CFG/s3-default-encryption-kms.html (docs.aws.amazon.com, current copy):
# Identifier S3_DEFAULT_ENCRYPTION_KMS; Resource Types AWS::S3::Bucket, AWS::KMS::Key; Trigger type
# Configuration changes; Parameters: kmsKeyArns (Optional), Type CSV, "Comma separated list of AWS KMS
# key ARNs allowed for encrypting Amazon S3 Buckets"; "NON_COMPLIANT if the S3 bucket is not encrypted
# with an AWS KMS key". The scope lists buckets only: evaluations are of buckets, and scoping KMS keys
# too would ask every account to record AWS::KMS::Key. UNVERIFIED: whether Config counts DSSE-KMS
# (aws:kms:dsse) with a listed key as compliant (this project assumes it does, like S3.17's wording).

SSE_S3_NOTE = (
    "on real AWS every bucket already has SSE-S3 (AES256) default encryption since 2023-01-05, so with "
    "params.algorithm AES256 this rule practically never finds a bucket to fix; use params.algorithm aws:kms "
    "(S3_DEFAULT_ENCRYPTION_KMS, Security Hub S3.17) to move buckets to a KMS key"
)
SSE_KMS_NOTE = (
    "moving a bucket to SSE-KMS changes new objects only (existing objects keep their encryption); readers of "
    "new objects need kms:Decrypt on params.kmsKeyArn, so the default mode is manual: review the dry runs first"
)


def key_arns(params: RuleParams) -> list[str]:
    """The configured KMS key ARNs: ``kmsKeyArn`` is one ARN, or a list of them with one key per region."""
    value = params.get("kmsKeyArn")
    if not value:
        return []
    return [value] if isinstance(value, str) else list(value)


def _key_region(key_arn: str) -> str:
    return key_arn.split(":")[3]


def _kms_key_arns_check(value: Any) -> str | None:
    allowed = (
        "must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>, not an alias: the Config rule compares "
        "key ARNs and an alias resolves in the caller's account), or a list of them with one key per region"
    )
    keys = [value] if isinstance(value, str) else value
    if not isinstance(keys, list) or not keys or any(KMS_KEY_ARN(key) for key in keys):
        return allowed
    regions = [_key_region(key) for key in keys]
    if len(set(regions)) != len(regions):
        return "must list at most one key per region (S3 uses the key of the bucket's own region)"
    return None


def _encryption_cross_check(params: RuleParams, engine: Engine) -> str | None:
    if params["algorithm"] == "aws:kms" and not params.get("kmsKeyArn"):
        return "needs params.kmsKeyArn (a KMS key ARN) when params.algorithm is aws:kms"
    if engine == "ssm" and params["algorithm"] != "AES256":
        # AWS-EnableS3BucketEncryption has no KMS key parameter (facts §1a).
        return "supports params.algorithm aws:kms only with engine lambda (AWS-EnableS3BucketEncryption has no KMS key parameter)"
    return None


def _encryption_setting_defaults(raw_params: Mapping[str, Any]) -> dict[str, str]:
    # Readers of new objects need kms:Decrypt after the upgrade, so SSE-KMS starts as a dry run;
    # the stack can still set mode auto. The lambda engine is the only one that can set a key.
    if raw_params.get("algorithm") == "aws:kms":
        return {"mode": "manual", "engine": "lambda"}
    return {}


def _encryption_config_rule(params: RuleParams) -> ConfigRuleSpec:
    if params["algorithm"] == "aws:kms":
        return ConfigRuleSpec(
            identifier="S3_DEFAULT_ENCRYPTION_KMS",
            scope_resource_types=("AWS::S3::Bucket",),
            evaluated_resource_types=("AWS::S3::Bucket",),
            # Called with the region's params (plan.config_rule_input_parameters): the key of that region,
            # the only one a bucket there can use.
            input_parameters=lambda p: {"kmsKeyArns": ",".join(key_arns(p))},
        )
    return SSE_S3_CONFIG_RULE


def _encryption_regions_check(params: RuleParams, regions: tuple[str, ...]) -> tuple[str, str] | None:
    # S3 uses only a KMS key in the bucket's own region, and S3_DEFAULT_ENCRYPTION_KMS in a region without
    # one would flag every bucket there for a key it can never use.
    if params["algorithm"] != "aws:kms" or not params.get("kmsKeyArn"):
        return None
    covered = {_key_region(key) for key in key_arns(params)}
    missing = [region for region in regions if region not in covered]
    if not missing:
        return None
    return "kmsKeyArn", (
        f"has no key in {', '.join(missing)}, where the rule is also deployed; S3 can use only a key in the bucket's own "
        "region, so list one key ARN per region (or leave aws:kms off for this account)"
    )


def _encryption_params_for_region(params: RuleParams, region: str) -> dict[str, Any]:
    if params["algorithm"] != "aws:kms":
        return dict(params)
    # The fixer in a region gets that region's key only.
    return {**params, "kmsKeyArn": next((key for key in key_arns(params) if _key_region(key) == region), None)}


def _encryption_note(params: RuleParams) -> str:
    return SSE_KMS_NOTE if params["algorithm"] == "aws:kms" else SSE_S3_NOTE


def _encryption_securityhub_prefixes(params: RuleParams) -> tuple[str, ...]:
    if params["algorithm"] == "aws:kms":
        # S3.17's rule, named like every Security Hub rule (securityhub-<rule-name>-<8 hex>, facts §7.3);
        # UNVERIFIED: this exact name was not seen in a live account.
        return ("securityhub-s3-default-encryption-kms-",)
    return ("securityhub-s3-bucket-server-side-encryption-enabled-",)


SSE_S3_CONFIG_RULE = ConfigRuleSpec(
    identifier="S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED",
    scope_resource_types=("AWS::S3::Bucket",),
    evaluated_resource_types=("AWS::S3::Bucket",),
)

S3_BUCKET_ENCRYPTION = RuleEntry(
    key="s3-bucket-encryption",
    title="S3 buckets have default encryption (SSE-S3, or SSE-KMS with a given key)",
    config_rule=SSE_S3_CONFIG_RULE,
    scope="region",
    default_engine="ssm",
    ssm=SsmRunbook(
        document="AWS-EnableS3BucketEncryption",
        resource_id_parameter="BucketName",
        # The runbook page lists no IAM permissions; PutBucketEncryption maps to this action.
        # That the runbook needs nothing else is UNVERIFIED.
        iam_actions=("s3:PutEncryptionConfiguration",),
        static_parameters=lambda params, _ctx: {"SSEAlgorithm": params["algorithm"]},
    ),
    params=(
        ParamSpec(
            "algorithm",
            "AES256: SSE-S3 (S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED; every bucket already has it on real AWS). "
            "aws:kms: SSE-KMS with kmsKeyArn (S3_DEFAULT_ENCRYPTION_KMS, lambda engine, default mode manual).",
            "AES256",
            one_of("AES256", "aws:kms"),
        ),
        ParamSpec(
            "kmsKeyArn",
            "KMS key ARN for aws:kms, or a list with one key per region (S3 uses the key of the bucket's region); bucket key is turned on.",
            None,
            _kms_key_arns_check,
        ),
    ),
    securityhub_rule_prefixes=_encryption_securityhub_prefixes,
    cross_check=_encryption_cross_check,
    config_rule_for=_encryption_config_rule,
    setting_defaults=_encryption_setting_defaults,
    note=_encryption_note,
    regions_check=_encryption_regions_check,
    params_for_region=_encryption_params_for_region,
)

# --- s3-bucket-public-access ---------------------------------------------------------------------

S3_BUCKET_PUBLIC_ACCESS = RuleEntry(
    key="s3-bucket-public-access",
    title="S3 buckets block public access (all four bucket-level flags)",
    config_rule=ConfigRuleSpec(
        identifier="S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED",
        scope_resource_types=("AWS::S3::Bucket",),
        evaluated_resource_types=("AWS::S3::Bucket",),
        input_parameters=lambda params: (
            {"excludedPublicBuckets": ",".join(params["excludedPublicBuckets"])} if params["excludedPublicBuckets"] else {}
        ),
    ),
    scope="region",
    default_engine="ssm",
    ssm=SsmRunbook(
        document="AWSConfigRemediation-ConfigureS3BucketPublicAccessBlock",
        resource_id_parameter="BucketName",
        # The runbook page also lists the account-level Get/Put actions, but its steps only call
        # the bucket-level API; granting PutAccountPublicAccessBlock here would exceed the need.
        iam_actions=("s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
    ),
    params=(
        ParamSpec(
            "excludedPublicBuckets",
            "Buckets that are meant to be public; the Config rule does not evaluate them.",
            [],
            string_list(BUCKET_NAME, max_items=50),
        ),
    ),
    securityhub_rule_prefixes=lambda _p: ("securityhub-s3-bucket-level-public-access-prohibited-",),
)

# --- s3-account-public-access --------------------------------------------------------------------

S3_ACCOUNT_PUBLIC_ACCESS = RuleEntry(
    key="s3-account-public-access",
    title="The account blocks S3 public access (all four account-level flags)",
    config_rule=ConfigRuleSpec(
        identifier="S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC",
        scope_resource_types=(),
        evaluated_resource_types=("AWS::::Account",),
        input_parameters=lambda _p: {
            "BlockPublicAcls": "True",
            "BlockPublicPolicy": "True",
            "IgnorePublicAcls": "True",
            "RestrictPublicBuckets": "True",
        },
    ),
    scope="account",
    default_engine="ssm",
    ssm=SsmRunbook(
        document="AWSConfigRemediation-ConfigureS3PublicAccessBlock",
        # The periodic rule evaluates AWS::::Account with the account id as resourceId, so
        # AccountId <- RESOURCE_ID; UNVERIFIED in a live run.
        resource_id_parameter="AccountId",
        iam_actions=("s3:GetAccountPublicAccessBlock", "s3:PutAccountPublicAccessBlock"),
    ),
    securityhub_rule_prefixes=lambda _p: ("securityhub-s3-account-level-public-access-blocks-periodic-",),
)

# --- restricted-admin-ports ----------------------------------------------------------------------


def _blocked_ports(params: RuleParams) -> dict[str, str]:
    # RESTRICTED_INCOMING_TRAFFIC keeps its defaults (20, 21, 3389, 3306, 4333) for every unset
    # blockedPortN, so all five are set, repeating the configured ports, to flag exactly those.
    ports = list(params["ports"])
    return {f"blockedPort{index + 1}": str(ports[index % len(ports)]) for index in range(5)}


def _admin_port_prefixes(params: RuleParams) -> tuple[str, ...]:
    prefixes = []
    if 22 in params["ports"]:
        prefixes.append("securityhub-restricted-ssh-")
    if 3389 in params["ports"]:
        # Security Hub names EC2.14's rule restricted-rdp, not restricted-common-ports.
        prefixes.append("securityhub-restricted-rdp-")
    return tuple(prefixes)


def _admin_ports_securityhub_check(params: RuleParams) -> str | None:
    if not set(params["ports"]) <= {22, 3389}:
        return "can be securityhub only when params.ports are among 22 and 3389 (Security Hub's own rules check only those ports)"
    return None


def _admin_ports_cross_check(params: RuleParams, engine: Engine) -> str | None:
    if engine == "ssm" and not set(params["ports"]) <= {22, 3389}:
        return "supports only params.ports 22 and 3389 with the ssm engine (AWS-DisablePublicAccessForSecurityGroup is fixed to them)"
    return None


RESTRICTED_ADMIN_PORTS = RuleEntry(
    key="restricted-admin-ports",
    title="Security groups do not open admin ports (SSH 22, RDP 3389) to the world",
    config_rule=ConfigRuleSpec(
        identifier="RESTRICTED_INCOMING_TRAFFIC",
        scope_resource_types=("AWS::EC2::SecurityGroup",),
        evaluated_resource_types=("AWS::EC2::SecurityGroup",),
        input_parameters=_blocked_ports,
    ),
    scope="region",
    default_engine="lambda",
    ssm=SsmRunbook(
        document="AWS-DisablePublicAccessForSecurityGroup",
        resource_id_parameter="GroupId",
        # The runbook page lists no IAM permissions: RevokeSecurityGroupIngress is inferred and
        # whether it also describes the group is UNVERIFIED, so the read is granted too.
        iam_actions=("ec2:DescribeSecurityGroups", "ec2:RevokeSecurityGroupIngress"),
        caveat=(
            "AWS-DisablePublicAccessForSecurityGroup fails with InvalidPermission.NotFound for many groups "
            "in non-default VPCs and handles only TCP 22 and 3389 from 0.0.0.0/0 and ::/0"
        ),
    ),
    params=(
        ParamSpec("ports", "TCP ports that must not be open to 0.0.0.0/0 or ::/0 (1 to 5 ports).", [22, 3389], port_list(1, 5)),
    ),
    securityhub_rule_prefixes=_admin_port_prefixes,
    cross_check=_admin_ports_cross_check,
    securityhub_check=_admin_ports_securityhub_check,
)

# --- vpc-flow-logs -------------------------------------------------------------------------------

def _flow_log_ssm_parameters(params: RuleParams, context: SsmContext) -> dict[str, Any]:
    values: dict[str, Any] = {
        "LogDestinationType": params["destinationType"],
        "TrafficType": params["trafficType"],
    }
    if params["destinationType"] == "s3":
        values["LogDestinationARN"] = params["s3BucketArn"]
    else:
        values["LogDestinationARN"] = context.flow_logs_log_group_arn
        values["DeliverLogsPermissionArn"] = context.flow_logs_role_arn
    return values


def _flow_logs_cross_check(params: RuleParams, _engine: Engine) -> str | None:
    if params["destinationType"] == "s3" and not params.get("s3BucketArn"):
        return "needs params.s3BucketArn when params.destinationType is s3"
    return None


def needs_flow_logs_plumbing(params: RuleParams) -> bool:
    """Whether this flow-log configuration needs the CloudWatch Logs group and delivery role."""
    return params["destinationType"] == "cloud-watch-logs"


VPC_FLOW_LOGS = RuleEntry(
    key="vpc-flow-logs",
    title="Every VPC has a flow log",
    config_rule=ConfigRuleSpec(
        identifier="VPC_FLOW_LOGS_ENABLED",
        # Periodic-only: no scope, as in AWS's conformance-pack templates (facts section 9).
        scope_resource_types=(),
        evaluated_resource_types=("AWS::EC2::VPC",),
        input_parameters=lambda params: {"trafficType": params["trafficType"]},
    ),
    scope="region",
    default_engine="lambda",
    ssm=SsmRunbook(
        document="AWSSupport-EnableVPCFlowLogs",
        # ResourceIds is a StringList; that Config's single RESOURCE_ID value is accepted is UNVERIFIED.
        resource_id_parameter="ResourceIds",
        iam_actions=(
            "ec2:CreateFlowLogs", "ec2:DeleteFlowLogs", "ec2:DescribeFlowLogs",
            "iam:AttachRolePolicy", "iam:CreatePolicy", "iam:CreateRole", "iam:DeletePolicy", "iam:DeleteRole",
            "iam:DeleteRolePolicy", "iam:GetPolicy", "iam:GetRole", "iam:PassRole", "iam:PutRolePolicy",
            "iam:TagRole", "iam:UpdateRole",
            "logs:CreateLogDelivery", "logs:CreateLogGroup", "logs:DeleteLogDelivery", "logs:DeleteLogGroup",
            "logs:DescribeLogGroups", "logs:DescribeLogStreams",
            "s3:GetAccountPublicAccessBlock", "s3:GetBucketAcl", "s3:GetBucketLocation", "s3:GetBucketPolicyStatus",
            "s3:GetBucketPublicAccessBlock", "s3:ListBucket", "s3:PutObject",
        ),
        static_parameters=_flow_log_ssm_parameters,
        caveat=(
            "AWSSupport-EnableVPCFlowLogs needs broad IAM rights (iam:CreateRole, iam:PutRolePolicy, iam:PassRole) "
            "in the automation role"
        ),
    ),
    params=(
        ParamSpec("trafficType", "Traffic to log: ALL, ACCEPT or REJECT (also what the Config rule checks).", "ALL", one_of("ALL", "ACCEPT", "REJECT")),
        ParamSpec("destinationType", "Where flow logs go: cloud-watch-logs (a log group the program creates) or s3.", "cloud-watch-logs", one_of("cloud-watch-logs", "s3")),
        ParamSpec("s3BucketArn", "Bucket ARN for destinationType s3; the bucket must allow log delivery.", None, BUCKET_ARN),
        ParamSpec("logGroupName", "Log group the program creates in each region for destinationType cloud-watch-logs.", "/governance/vpc-flow-logs", LOG_GROUP_NAME),
    ),
    securityhub_rule_prefixes=lambda _p: ("securityhub-vpc-flow-logs-enabled-",),
    cross_check=_flow_logs_cross_check,
)

# --- cloudtrail-multi-region ---------------------------------------------------------------------


def _multi_region_cross_check(params: RuleParams, engine: Engine) -> str | None:
    if engine == "ssm" and not params.get("s3BucketName"):
        return "needs params.s3BucketName with the ssm engine (the runbook always creates a trail)"
    return None


CLOUDTRAIL_MULTI_REGION = RuleEntry(
    key="cloudtrail-multi-region",
    title="The account has a logging multi-region CloudTrail trail",
    config_rule=ConfigRuleSpec(
        identifier="MULTI_REGION_CLOUD_TRAIL_ENABLED",
        scope_resource_types=(),
        # The rule's page lists no resource type; AWS::::Account is inferred (Security Hub
        # CloudTrail.1 says "AWS account"), so the Lambda also accepts a trail id.
        evaluated_resource_types=("AWS::::Account",),
    ),
    scope="account",
    default_engine="lambda",
    ssm=SsmRunbook(
        document="AWSConfigRemediation-CreateCloudTrailMultiRegionTrail",
        resource_id_parameter=None,
        iam_actions=(
            "cloudtrail:CreateTrail", "cloudtrail:GetTrail", "cloudtrail:StartLogging",
            "s3:GetBucketAcl", "s3:ListBucket", "s3:PutBucketLogging", "s3:PutObject",
        ),
        static_parameters=lambda params, _ctx: {"BucketName": params["s3BucketName"], "TrailName": params["trailName"]},
        caveat="AWSConfigRemediation-CreateCloudTrailMultiRegionTrail always creates a new trail, even when one could be updated",
    ),
    params=(
        ParamSpec("s3BucketName", "Bucket for a new trail, used only when the account has no trail; it needs the CloudTrail bucket policy.", None, BUCKET_NAME),
        ParamSpec("trailName", "Name of the trail created when the account has none.", "governance-multi-region", TRAIL_NAME),
    ),
    securityhub_rule_prefixes=lambda _p: ("securityhub-multi-region-cloudtrail-enabled-",),
    cross_check=_multi_region_cross_check,
)

# --- cloudtrail-log-validation -------------------------------------------------------------------

CLOUDTRAIL_LOG_VALIDATION = RuleEntry(
    key="cloudtrail-log-validation",
    title="CloudTrail trails validate their log files",
    config_rule=ConfigRuleSpec(
        identifier="CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED",
        # Periodic-only: no scope, as in AWS's conformance-pack templates (facts section 9).
        scope_resource_types=(),
        evaluated_resource_types=("AWS::CloudTrail::Trail",),
    ),
    scope="region",
    default_engine="ssm",
    ssm=SsmRunbook(
        document="AWSConfigRemediation-EnableCloudTrailLogFileValidation",
        # TrailName accepts a name or an ARN, which covers both possible resourceId forms (UNVERIFIED which).
        resource_id_parameter="TrailName",
        iam_actions=("cloudtrail:GetTrail", "cloudtrail:UpdateTrail"),
    ),
    securityhub_rule_prefixes=lambda _p: ("securityhub-cloud-trail-log-file-validation-enabled-",),
)

# --- log-group-retention -------------------------------------------------------------------------
#
# CW_LOGGROUP_RETENTION_PERIOD_CHECK [V] (research R18: CFG/cw-loggroup-retention-period-check.html, current
# copies and CFG-UG@3193df7): Periodic, AWS::Logs::LogGroup. Parameters: LogGroupNames (Optional, CSV) "A
# comma-separated list of Log Group name prefixes to check the retention period"; MinRetentionTime (Optional,
# int) "Valid values are: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, and 3653. The
# default retention period is 365 days." Logic: "NON_COMPLIANT if the retention period is less than
# MinRetentionTime, if specified, or else 365 days"; Note: "If the retention setting is "Never expire" for a
# log group, the rule is marked as COMPLIANT." So the only fix that makes Config agree is to raise a too-short
# retention (PutRetentionPolicy); a group kept forever already passes and is never given a retention (that would
# delete its older events). Security Hub control CloudWatch.16 (not in FSBP; NIST 800-53) runs the same rule
# with its own minRetentionTime (default 365). No AWS-owned runbook changes log retention (RB-LLMS CloudWatch
# section), so the lambda engine is the only one. UNVERIFIED: whether Config's resourceId is the group name
# (inferred) or its ARN (the fixer accepts both); whether any managed rule flags never-expire groups (none found).

LOG_RETENTION_DAYS: tuple[int, ...] = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)
"""The rule's MinRetentionTime values; PutRetentionPolicy accepts each (and a few more the rule does not list)."""

LOG_GROUP_PREFIX = matches(r"[A-Za-z0-9_\-/.#]{1,512}", "a log group name prefix of 1-512 letters, digits and _-/.#")


def _retention_days_check(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value not in LOG_RETENTION_DAYS:
        return "must be one of " + ", ".join(map(str, LOG_RETENTION_DAYS)) + " (the rule's MinRetentionTime values)"
    return None


def _retention_inputs(params: RuleParams) -> dict[str, str]:
    inputs = {"MinRetentionTime": str(params["minRetentionDays"])}
    if params["logGroupNames"]:
        inputs["LogGroupNames"] = ",".join(params["logGroupNames"])
    return inputs


def _retention_securityhub_check(params: RuleParams) -> str | None:
    # Security Hub's CloudWatch.16 rule checks every group with its own minRetentionTime, 365 unless the
    # account changed it (UNVERIFIED per account): only those params mean the same verdicts.
    if params["minRetentionDays"] != 365 or params["logGroupNames"]:
        return "can be securityhub only with params.minRetentionDays 365 and no params.logGroupNames (Security Hub's CloudWatch.16 defaults)"
    return None


LOG_GROUP_RETENTION = RuleEntry(
    key="log-group-retention",
    title="CloudWatch log groups keep events at least minRetentionDays (never-expire groups pass)",
    config_rule=ConfigRuleSpec(
        identifier="CW_LOGGROUP_RETENTION_PERIOD_CHECK",
        # Periodic-only: no scope, as in AWS's conformance-pack templates (facts section 9).
        scope_resource_types=(),
        evaluated_resource_types=("AWS::Logs::LogGroup",),
        input_parameters=_retention_inputs,
    ),
    scope="region",
    default_engine="lambda",
    ssm=None,
    params=(
        ParamSpec(
            "minRetentionDays",
            "Shortest retention the rule accepts (its MinRetentionTime); a shorter one is raised to it, never lowered.",
            365,
            _retention_days_check,
        ),
        ParamSpec(
            "logGroupNames",
            "Name prefixes of the groups the rule checks (its LogGroupNames); empty: every group.",
            [],
            string_list(LOG_GROUP_PREFIX, max_items=20),
        ),
    ),
    securityhub_rule_prefixes=lambda _p: ("securityhub-cw-loggroup-retention-period-check-",),
    securityhub_check=_retention_securityhub_check,
)

# --- iam-unused-credentials ----------------------------------------------------------------------
#
# IAM_USER_UNUSED_CREDENTIALS_CHECK [V] (research R17: CFG/iam-user-unused-credentials-check.html, current
# copy): Periodic, AWS::IAM::User (one evaluation per user; resourceId is the user id AIDA…, facts §4).
# Parameter maxCredentialUsageAge, int, default 90, "Maximum number of days a credential cannot be used"
# (moto's managed-rule list marks it required, so it is always sent). "NON_COMPLIANT if there are inactive
# accounts not recently used": a console password or an active access key unused within the age; never-used
# credentials counted from creation and inactive keys ignored are inferred from the AWS runbook and ASR
# (UNVERIFIED on the rule page). IAM is global: deployed once per account (its note; scope account).
# FSBP IAM.8 "Unused IAM user credentials should be removed" (90 days, not customizable); CIS IAM.22 runs the
# same rule with 45 days.
# No ssm engine: AWSConfigRemediation-RevokeUnusedIAMUserCredentials "deletes expired login profiles"
# (DeleteLoginProfile: the console password is deleted and cannot be recovered), which this project never does.
# The default mode is manual: deactivating a key breaks every job that still uses it (quarterly jobs,
# disaster-recovery scripts, break-glass users) the next time it runs.

def _unused_age_check(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3650:
        return "must be a whole number of days from 1 to 3650"
    return None


def _unused_securityhub_check(params: RuleParams) -> str | None:
    # IAM.8's rule uses 90 days, not customizable; IAM.22 (CIS) runs a rule of the same name with 45 days,
    # so events of both may reach the function, each then judged with this stack's age (UNVERIFIED naming).
    if params["maxCredentialUsageAge"] != 90:
        return "can be securityhub only with params.maxCredentialUsageAge 90 (Security Hub's IAM.8 value)"
    return None


IAM_UNUSED_CREDENTIALS = RuleEntry(
    key="iam-unused-credentials",
    title="IAM users have no access key or console password unused for maxCredentialUsageAge days",
    config_rule=ConfigRuleSpec(
        identifier="IAM_USER_UNUSED_CREDENTIALS_CHECK",
        # Periodic-only: no scope, as in AWS's conformance-pack templates (facts section 9).
        scope_resource_types=(),
        evaluated_resource_types=("AWS::IAM::User",),
        input_parameters=lambda params: {"maxCredentialUsageAge": str(params["maxCredentialUsageAge"])},
    ),
    scope="account",
    default_engine="lambda",
    ssm=None,
    params=(
        ParamSpec(
            "maxCredentialUsageAge",
            "Days a credential may go unused (the rule's maxCredentialUsageAge; Security Hub IAM.8 uses 90).",
            90,
            _unused_age_check,
        ),
    ),
    securityhub_rule_prefixes=lambda _p: ("securityhub-iam-user-unused-credentials-check-",),
    securityhub_check=_unused_securityhub_check,
    setting_defaults=lambda _raw: {"mode": "manual"},
)

# --- guardduty-enabled ---------------------------------------------------------------------------
#
# GUARDDUTY_ENABLED_CENTRALIZED [V] (research R10: CFG/guardduty-enabled-centralized.html, current copy and
# CFG-UG@3193df7): "Checks if Amazon GuardDuty is enabled in your AWS account and AWS Region. If you provide an
# AWS account for centralization, the rule evaluates the GuardDuty results in the centralized account. The rule
# is COMPLIANT when GuardDuty is enabled." Periodic; parameter CentralMonitoringAccount (Optional, String, comma
# separated 12-digit accounts). Evaluations are of AWS::::Account (Security Hub GuardDuty.1, FSBP; [P]).
# UNVERIFIED: that a suspended detector counts as not enabled, and that with CentralMonitoringAccount a member
# whose administrator is not listed is NON_COMPLIANT (this project assumes both).
# AWSConfigRemediation-CreateGuardDutyDetector (AutomationAssumeRole only; IAM ssm:Start/GetAutomationExecution,
# guardduty:CreateDetector, guardduty:GetDetector; [V-old] SSM-UG@2b00deb, name current in RB-LLMS) creates a
# detector with the service's defaults; with a suspended detector present it fails (one detector per Region,
# botocore CreateDetector), so it never resumes one either.
# Default mode manual: GuardDuty is billed per analysed event and GB in every region it runs, and a new detector
# turns on every optional protection plan except runtime monitoring (botocore CreateDetector).

CENTRAL_ACCOUNT_ID = matches(r"\d{12}", "a 12-digit account id string")


def _central_inputs(params: RuleParams) -> dict[str, str]:
    accounts = params["centralMonitoringAccount"]
    return {"CentralMonitoringAccount": ",".join(accounts)} if accounts else {}


def _guardduty_securityhub_check(params: RuleParams) -> str | None:
    # Security Hub's GuardDuty.1 rule has no parameters.
    if params["centralMonitoringAccount"]:
        return "can be securityhub only without params.centralMonitoringAccount (Security Hub's GuardDuty.1 rule has no parameters)"
    return None


GUARDDUTY_ENABLED = RuleEntry(
    key="guardduty-enabled",
    title="GuardDuty is enabled in every region (a detector exists and is not suspended)",
    config_rule=ConfigRuleSpec(
        identifier="GUARDDUTY_ENABLED_CENTRALIZED",
        # Periodic-only: no scope, as in AWS's conformance-pack templates (facts section 9).
        scope_resource_types=(),
        evaluated_resource_types=("AWS::::Account",),
        input_parameters=_central_inputs,
    ),
    scope="region",
    default_engine="lambda",
    ssm=SsmRunbook(
        document="AWSConfigRemediation-CreateGuardDutyDetector",
        resource_id_parameter=None,
        iam_actions=("guardduty:CreateDetector", "guardduty:GetDetector"),
        caveat=(
            "AWSConfigRemediation-CreateGuardDutyDetector fails while a suspended detector exists and creates a billed "
            "detector with GuardDuty's default protection plans; it has no client token, so a retried execution may fail"
        ),
    ),
    params=(
        ParamSpec(
            "centralMonitoringAccount",
            "Accounts allowed to administer this account's GuardDuty (the rule's CentralMonitoringAccount); empty: any.",
            [],
            string_list(CENTRAL_ACCOUNT_ID, max_items=20),
        ),
    ),
    securityhub_rule_prefixes=lambda _p: ("securityhub-guardduty-enabled-centralized-",),
    securityhub_check=_guardduty_securityhub_check,
    setting_defaults=lambda _raw: {"mode": "manual"},
)

CATALOG: Mapping[str, RuleEntry] = {
    entry.key: entry
    for entry in (
        S3_BUCKET_ENCRYPTION,
        S3_BUCKET_PUBLIC_ACCESS,
        S3_ACCOUNT_PUBLIC_ACCESS,
        RESTRICTED_ADMIN_PORTS,
        VPC_FLOW_LOGS,
        CLOUDTRAIL_MULTI_REGION,
        CLOUDTRAIL_LOG_VALIDATION,
        LOG_GROUP_RETENTION,
        IAM_UNUSED_CREDENTIALS,
        GUARDDUTY_ENABLED,
    )
}
"""Every rule, by key, in the order the README lists them."""


def rule_notes(rules: Iterable[tuple[str, RuleParams]]) -> list[str]:
    """Each distinct note of the given (rule key, params), as ``<key>: <note>``, in catalog order."""
    notes: dict[str, None] = {}
    for key, params in sorted(rules, key=lambda item: list(CATALOG).index(item[0])):
        note = CATALOG[key].note(params)
        if note:
            notes[f"{key}: {note}"] = None
    return list(notes)
