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


def _manual_lambda_rule(*, key: str, title: str, identifier: str, resource_type: str, securityhub_prefix: str, note: str) -> RuleEntry:
    """A regional rule that no AWS-owned runbook fixes (Lambda engine only), manual by default, with a note for operators.

    Its Config rule ``identifier`` is scoped to, and evaluates, ``resource_type``; ``securityhub_prefix``
    names Security Hub's own rule for the same check.
    """
    return RuleEntry(
        key=key,
        title=title,
        config_rule=ConfigRuleSpec(
            identifier=identifier,
            scope_resource_types=(resource_type,),
            evaluated_resource_types=(resource_type,),
        ),
        scope="region",
        default_engine="lambda",
        ssm=None,
        securityhub_rule_prefixes=lambda _p: (securityhub_prefix,),
        setting_defaults=lambda _raw: {"mode": "manual"},
        note=lambda _p: note,
    )


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

# --- s3-bucket-versioning ------------------------------------------------------------------------
#
# S3_BUCKET_VERSIONING_ENABLED [V] — CFG/s3-bucket-versioning-enabled.html (current copy): "Checks if
# versioning is enabled for your S3 buckets. Optionally, the rule checks if MFA delete is enabled";
# Configuration changes, AWS::S3::Bucket, resourceId = bucket name; parameter isMfaDeleteEnabled
# (Optional, String). Security Hub control S3.14 ("S3 general purpose buckets should have versioning
# enabled", NIST 800-53 / 800-171 only): it is not in the FSBP standard. isMfaDeleteEnabled is never
# sent: MFA delete can be turned on only by the root user with its MFA device, so no remediation could
# satisfy it (its accepted values are UNVERIFIED too). A never-versioned bucket counts as not enabled
# (the rule's wording; UNVERIFIED for the Security Hub control, whose text names suspended buckets).
#
# AWS-ConfigureS3BucketVersioning [V] — RB/automation-aws-configures3bucketversioning.html: BucketName
# (Required), VersioningState Enabled|Suspended (default Enabled), AutomationAssumeRole (Optional); it does
# not touch MFA delete. The page lists no IAM permissions: s3:PutBucketVersioning is inferred from the API,
# and whether the runbook also reads the configuration is UNVERIFIED, so s3:GetBucketVersioning is granted.
#
# Every overwrite and delete keeps the old object version from then on, and S3 bills those versions
# until a lifecycle rule expires them: a cost decision per bucket, so the default mode is manual and the
# default engine is lambda, which honours the exemption tag (the runbook does not).

VERSIONING_COST_NOTE = (
    "with versioning on, S3 keeps every overwritten or deleted object version and bills its storage until a "
    "lifecycle rule expires noncurrent versions; review the dry runs and tag high-churn buckets with the "
    "exemption tag before setting mode auto"
)

S3_BUCKET_VERSIONING = RuleEntry(
    key="s3-bucket-versioning",
    title="S3 buckets have versioning enabled (Security Hub control S3.14)",
    config_rule=ConfigRuleSpec(
        identifier="S3_BUCKET_VERSIONING_ENABLED",
        scope_resource_types=("AWS::S3::Bucket",),
        evaluated_resource_types=("AWS::S3::Bucket",),
    ),
    scope="region",
    default_engine="lambda",
    ssm=SsmRunbook(
        document="AWS-ConfigureS3BucketVersioning",
        resource_id_parameter="BucketName",
        iam_actions=("s3:GetBucketVersioning", "s3:PutBucketVersioning"),
        static_parameters=lambda _params, _ctx: {"VersioningState": "Enabled"},
        caveat="AWS-ConfigureS3BucketVersioning ignores the exemption tag, so it also versions buckets tagged to be left alone",
    ),
    securityhub_rule_prefixes=lambda _p: ("securityhub-s3-bucket-versioning-enabled-",),
    setting_defaults=lambda _raw: {"mode": "manual"},
    note=lambda _p: VERSIONING_COST_NOTE,
)

# --- s3-ssl-only -------------------------------------------------------------------------------
#
# S3_BUCKET_SSL_REQUESTS_ONLY [V] — CFG/s3-bucket-ssl-requests-only.html (current copy): "Checks if S3
# buckets have policies that require requests to use SSL/TLS. The rule is NON_COMPLIANT if any S3 bucket
# has policies allowing HTTP requests"; Configuration changes, AWS::S3::Bucket, Parameters: none. FSBP S3.5.
# The compliant statement is the one the AWS Knowledge Center documents for this rule (Deny, Principal *,
# Action s3:*, Resource bucket and bucket/*, Condition Bool aws:SecureTransport false); an Allow with
# aws:SecureTransport true is its NON_COMPLIANT example. Which narrower denies also pass is UNVERIFIED:
# only the documented form counts here.
#
# No SSM runbook is offered: AWSConfigRemediation-RestrictBucketSSLRequestsOnly is granted
# s3:DeleteBucketPolicy and s3:PutEncryptionConfiguration without saying why (UNVERIFIED what its script
# does with them), so it cannot be shown to keep every other statement as it is.
#
# Any client that still uses plain HTTP is denied once the statement is in place (old SDKs or agents with
# http:// endpoints; S3 website endpoints serve HTTP only, and whether their requests are denied too is
# UNVERIFIED, expected): an outage for those clients, so the default mode is manual.

SSL_ONLY_NOTE = (
    "the statement denies every request made without TLS, so clients that still use http:// endpoints "
    "(old SDKs, agents, possibly S3 website endpoints) stop working; review the dry runs before setting mode auto"
)

S3_SSL_ONLY = _manual_lambda_rule(
    key="s3-ssl-only",
    title="S3 bucket policies deny requests that do not use TLS (FSBP S3.5)",
    identifier="S3_BUCKET_SSL_REQUESTS_ONLY",
    resource_type="AWS::S3::Bucket",
    securityhub_prefix="securityhub-s3-bucket-ssl-requests-only-",
    note=SSL_ONLY_NOTE,
)

# --- sqs-queue-public ----------------------------------------------------------------------------
#
# SQS_QUEUE_NO_PUBLIC_ACCESS [V] — CFG/sqs-queue-no-public-access.html (current copy): Identifier
# SQS_QUEUE_NO_PUBLIC_ACCESS; Resource Types AWS::SQS::Queue; Trigger type Configuration changes;
# Parameters: none. "To be considered non-public, an ... policy must grant access only to fixed values"
# (no wildcard, no policy variables). Security Hub SQS.3 (FSBP) "SQS queue access policies should not
# allow public access". No AWS-owned runbook changes a queue policy (the runbook reference's SQS section
# lists AWS-EnableSQSEncryption only), so the Lambda engine only. Which condition keys count as
# restricting is UNVERIFIED (see fixers/public_policy.py); so is Config's resourceId form of a queue
# (the fixer accepts URL, ARN or name). The rule is not offered in every region (its page lists
# Asia Pacific (New Zealand, Thailand, Jakarta, Hyderabad, Malaysia, Melbourne, Taipei), Middle East
# (UAE), GovCloud, Mexico (Central), Israel (Tel Aviv), Canada West (Calgary), Europe (Spain, Zurich));
# what PutConfigRule does there is UNVERIFIED.

SQS_QUEUE_PUBLIC_NOTE = (
    "removing a queue's public statements stops every producer that relied on them (SNS topics, S3 and "
    "EventBridge notifications, other accounts) and their messages are dropped at the source, so the default "
    "mode is manual: narrow such statements with aws:SourceArn or aws:SourceAccount, then review the dry runs; "
    "the Config rule is not available in every region (see docs/fixers.md)"
)

SQS_QUEUE_PUBLIC = _manual_lambda_rule(
    key="sqs-queue-public",
    title="SQS queue policies do not allow public access",
    identifier="SQS_QUEUE_NO_PUBLIC_ACCESS",
    resource_type="AWS::SQS::Queue",
    # UNVERIFIED: this exact name was not seen in a live account (named like every Security Hub rule, facts §7.3).
    securityhub_prefix="securityhub-sqs-queue-no-public-access-",
    note=SQS_QUEUE_PUBLIC_NOTE,
)

# --- sns-topic-public ----------------------------------------------------------------------------
#
# SNS_TOPIC_NO_PUBLIC_ACCESS [V] — CFG/sns-topic-no-public-access.html (current copy): Identifier
# SNS_TOPIC_NO_PUBLIC_ACCESS; Resource Types AWS::SNS::Topic; Trigger type Configuration changes;
# Parameters: none. "To be considered non-public, an SNS policy must grant access only to fixed values.
# This means values that don't contain a wildcard or the following IAM policy element: Variables."
# Security Hub SNS.4 (FSBP, High) "SNS topic access policies should not allow public access". No
# AWS-owned runbook changes a topic policy (runbook reference, SNS section), so the Lambda engine only.
# The SNS default topic statement ({"AWS": "*"} with AWS:SourceOwner = the account) counts as not
# public [P]. UNVERIFIED: the condition keys Config counts as restricting (fixers/public_policy.py),
# the resourceId form (ARN inferred), and that SNS rejects a policy without statements. The rule is
# not offered in Asia Pacific (Malaysia, Taipei), GovCloud or Canada West (Calgary) (its page).

SNS_TOPIC_PUBLIC_NOTE = (
    "removing a topic's public statements stops every publisher or subscriber that relied on them (S3 event "
    "notifications, CloudWatch alarms or services of other accounts), so the default mode is manual: narrow such "
    "statements with aws:SourceArn or aws:SourceAccount, then review the dry runs; a topic whose every statement "
    "is public is reported failed, as SNS cannot hold a policy without statements"
)

SNS_TOPIC_PUBLIC = _manual_lambda_rule(
    key="sns-topic-public",
    title="SNS topic policies do not allow public access",
    identifier="SNS_TOPIC_NO_PUBLIC_ACCESS",
    resource_type="AWS::SNS::Topic",
    # UNVERIFIED: this exact name was not seen in a live account (named like every Security Hub rule, facts §7.3).
    securityhub_prefix="securityhub-sns-topic-no-public-access-",
    note=SNS_TOPIC_PUBLIC_NOTE,
)

# --- ebs-snapshot-public -------------------------------------------------------------------------
#
# EBS_SNAPSHOT_PUBLIC_RESTORABLE_CHECK [V] — CFG/ebs-snapshot-public-restorable-check.html (current copy):
# Parameters None; Trigger type Periodic; no Resource Types line; "NON_COMPLIANT if one or more
# individual snapshots with RestorableByUserIds field are set to all". FSBP EC2.1 "Amazon EBS snapshots
# should not be configured to be publicly restorable" (Critical; resource type AWS::::Account): one
# evaluation per account and region, so the event names no snapshot and the fixer lists them.
# AWSSupport-ModifyEBSSnapshotPermission needs SnapshotIds, which Config cannot pass for an account
# evaluation (and its exact document name is UNVERIFIED: the page's console link says ...Permissions),
# so there is no SSM engine. UNVERIFIED: how the rule treats snapshots owned by other accounts (the
# fixer changes only the account's own).

EBS_SNAPSHOT_PUBLIC = RuleEntry(
    key="ebs-snapshot-public",
    title="No EBS snapshot of the account is publicly restorable",
    config_rule=ConfigRuleSpec(
        identifier="EBS_SNAPSHOT_PUBLIC_RESTORABLE_CHECK",
        # Periodic-only: no scope (facts section 9).
        scope_resource_types=(),
        evaluated_resource_types=("AWS::::Account",),
    ),
    scope="region",
    default_engine="lambda",
    ssm=None,
    securityhub_rule_prefixes=lambda _p: ("securityhub-ebs-snapshot-public-restorable-check-",),
)

# --- ebs-default-encryption ----------------------------------------------------------------------
#
# EC2_EBS_ENCRYPTION_BY_DEFAULT [V] — CFG/ec2-ebs-encryption-by-default (current copy; same in the 2023 guide):
# "Checks if Amazon Elastic Block Store (EBS) encryption is enabled by default. The rule is NON_COMPLIANT if the
# encryption is not enabled." Parameters: None; Trigger type: Periodic; no resource type on the page. Security
# Hub EC2.7 ("EBS default encryption should be enabled", FSBP, Medium) names AWS::::Account, so evaluations
# carry the account id [P]. The setting is regional: the rule runs in every region (scope region), one
# evaluation per account and region. The rule does not check which KMS key is the default.
# AWSConfigRemediation-EnableEbsEncryptionByDefault [V] — RB/automation-aws-enable-ebs-encryption: only
# AutomationAssumeRole; EnableEbsEncryptionByDefault then asserts GetEbsEncryptionByDefault; no key parameter.
# ModifyEbsDefaultKmsKeyId (botocore doc): "If you delete or disable the customer managed KMS key that you
# specified for use with encryption by default, your instances will fail to launch." UNVERIFIED: whether EC2
# requires any KMS permission from the caller of ModifyEbsDefaultKmsKeyId (the fixer's role has none).

EBS_CMK_NOTE = (
    "with params.kmsKeyArn every principal, Auto Scaling group and service that launches instances or creates volumes "
    "in the region needs use of that key (kms:CreateGrant, kms:GenerateDataKeyWithoutPlaintext, kms:Decrypt), or "
    "launches fail; the default mode is manual: review the dry runs first"
)
EBS_NOTE = (
    "encryption by default applies to volumes created later only; instance types that do not support EBS encryption "
    "can no longer be launched in the region"
)


def _ebs_cross_check(params: RuleParams, engine: Engine) -> str | None:
    if engine == "ssm" and params.get("kmsKeyArn"):
        return "supports params.kmsKeyArn only with engine lambda (AWSConfigRemediation-EnableEbsEncryptionByDefault has no KMS key parameter)"
    return None


def _ebs_setting_defaults(raw_params: Mapping[str, Any]) -> dict[str, str]:
    # A customer managed default key makes launches fail for every principal that cannot use it, so a
    # configured key starts as a dry run; only the lambda engine can set a key.
    if raw_params.get("kmsKeyArn"):
        return {"mode": "manual", "engine": "lambda"}
    return {}


def _ebs_regions_check(params: RuleParams, regions: tuple[str, ...]) -> tuple[str, str] | None:
    # EBS uses only a key of its own region as the default key.
    if not params.get("kmsKeyArn"):
        return None
    covered = {_key_region(key) for key in key_arns(params)}
    missing = [region for region in regions if region not in covered]
    if not missing:
        return None
    return "kmsKeyArn", (
        f"has no key in {', '.join(missing)}, where the rule is also deployed; EBS can use only a key of its own region, "
        "so list one key ARN per region (or leave kmsKeyArn unset for this account)"
    )


def _ebs_params_for_region(params: RuleParams, region: str) -> dict[str, Any]:
    # The fixer in a region gets that region's key only.
    if not params.get("kmsKeyArn"):
        return dict(params)
    return {**params, "kmsKeyArn": next((key for key in key_arns(params) if _key_region(key) == region), None)}


EBS_DEFAULT_ENCRYPTION = RuleEntry(
    key="ebs-default-encryption",
    title="EBS encryption by default is on in every region (optionally with a given default key)",
    config_rule=ConfigRuleSpec(
        identifier="EC2_EBS_ENCRYPTION_BY_DEFAULT",
        # Periodic-only: no scope (facts section 9).
        scope_resource_types=(),
        evaluated_resource_types=("AWS::::Account",),
    ),
    scope="region",
    default_engine="ssm",
    ssm=SsmRunbook(
        document="AWSConfigRemediation-EnableEbsEncryptionByDefault",
        # The runbook takes no resource id: it acts on the region it runs in.
        resource_id_parameter=None,
        iam_actions=("ec2:EnableEbsEncryptionByDefault", "ec2:GetEbsEncryptionByDefault"),
    ),
    params=(
        ParamSpec(
            "kmsKeyArn",
            "KMS key ARN (symmetric, customer managed) to make the default EBS key, or a list with one key per region; "
            "set only while the default is the AWS managed key aws/ebs (lambda engine, default mode manual).",
            None,
            _kms_key_arns_check,
        ),
    ),
    # Named like every Security Hub rule (securityhub-<rule-name>-<8 hex>, facts §7.3); UNVERIFIED in a live account.
    securityhub_rule_prefixes=lambda _p: ("securityhub-ec2-ebs-encryption-by-default-",),
    cross_check=_ebs_cross_check,
    setting_defaults=_ebs_setting_defaults,
    note=lambda params: EBS_CMK_NOTE if params.get("kmsKeyArn") else EBS_NOTE,
    regions_check=_ebs_regions_check,
    params_for_region=_ebs_params_for_region,
)

# --- kms-key-rotation ----------------------------------------------------------------------------
#
# CMK_BACKING_KEY_ROTATION_ENABLED [V] — CFG/cmk-backing-key-rotation-enabled (current copy): "Checks if automatic
# key rotation is enabled for each key and matches to the key ID of the customer created AWS KMS key";
# Parameters: None; Trigger type: Periodic; Resource Types: AWS::KMS::Key. "Automatic key rotation is not
# supported for asymmetric KMS keys, HMAC KMS keys, KMS keys with imported key material, or KMS keys in custom
# key stores." Security Hub control KMS.4 ("AWS KMS key rotation should be enabled"; CIS, NIST 800-53, PCI DSS;
# not in FSBP). UNVERIFIED: how the rule reports AWS managed, non-rotatable, disabled and pending-deletion keys
# (governance/compliance.py says what this project assumes); that the resourceId is the key id.
# AWSConfigRemediation-EnableKeyRotation [V-old] — SSM user guide (2021 copy): AutomationAssumeRole and KeyId
# (required); kms:EnableKeyRotation, kms:GetKeyRotationStatus. Its current parameter list is UNVERIFIED.
# EnableKeyRotation needs the key policy to allow the caller ("Cross-account use: No"; an IAM policy alone is
# not enough for a key whose policy does not delegate to the account).

KMS_KEY_ROTATION = RuleEntry(
    key="kms-key-rotation",
    title="Customer managed symmetric KMS keys rotate automatically",
    config_rule=ConfigRuleSpec(
        identifier="CMK_BACKING_KEY_ROTATION_ENABLED",
        # Periodic-only: no scope (facts section 9).
        scope_resource_types=(),
        evaluated_resource_types=("AWS::KMS::Key",),
    ),
    scope="region",
    default_engine="lambda",
    ssm=SsmRunbook(
        document="AWSConfigRemediation-EnableKeyRotation",
        resource_id_parameter="KeyId",
        iam_actions=("kms:EnableKeyRotation", "kms:GetKeyRotationStatus"),
        caveat=(
            "AWSConfigRemediation-EnableKeyRotation does not check the key's kind or state: it fails on asymmetric, HMAC, "
            "imported, custom-key-store, disabled and replica keys, and every key's policy must allow the automation role"
        ),
    ),
    # Named like every Security Hub rule (securityhub-<rule-name>-<8 hex>, facts §7.3); UNVERIFIED in a live account.
    securityhub_rule_prefixes=lambda _p: ("securityhub-cmk-backing-key-rotation-enabled-",),
    note=lambda _p: (
        "EnableKeyRotation is authorized by each key's policy: a key whose policy does not allow the remediation role "
        "(directly or through the account's IAM) fails with AccessDeniedException"
    ),
)

# --- default-security-group-closed ---------------------------------------------------------------
#
# VPC_DEFAULT_SECURITY_GROUP_CLOSED [V] (CFG-UG@3193df7, current copy): Parameters none; Trigger type
# Configuration changes; Resource Types AWS::EC2::SecurityGroup; "returns NOT_APPLICABLE if the security
# group is not default. The rule is NON_COMPLIANT if the default security group has one or more inbound or
# outbound traffic rules." A default group is the one named ``default`` in each VPC. FSBP EC2.2.
# Blast radius: every instance, interface, Lambda or database still attached to a default group loses the
# traffic it allowed (usually all egress and traffic within the group); AWS's own remediation text says to
# move them to least-privilege groups first. So the default mode is detect, and the Lambda fixer lists the
# interfaces still using the group and refuses to close an attached group unless params.evenWhenInUse is set.
# AWSConfigRemediation-RemoveVPCDefaultSecurityGroupRules [V] (facts §1c): GroupId Required; IAM
# ec2:DescribeSecurityGroups, ec2:RevokeSecurityGroupEgress, ec2:RevokeSecurityGroupIngress; it asserts the
# name is default and removes every rule, whatever uses the group. UNVERIFIED: that Config's resourceId of a
# security group is its sg- id (inferred, as for restricted-admin-ports).


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


DEFAULT_SECURITY_GROUP_CLOSED = RuleEntry(
    key="default-security-group-closed",
    title="VPC default security groups allow no inbound or outbound traffic",
    config_rule=ConfigRuleSpec(
        identifier="VPC_DEFAULT_SECURITY_GROUP_CLOSED",
        scope_resource_types=("AWS::EC2::SecurityGroup",),
        evaluated_resource_types=("AWS::EC2::SecurityGroup",),
    ),
    scope="region",
    default_engine="lambda",
    ssm=SsmRunbook(
        document="AWSConfigRemediation-RemoveVPCDefaultSecurityGroupRules",
        resource_id_parameter="GroupId",
        iam_actions=("ec2:DescribeSecurityGroups", "ec2:RevokeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress"),
        caveat=(
            "AWSConfigRemediation-RemoveVPCDefaultSecurityGroupRules removes every rule of a default group even while "
            "instances and other network interfaces still use it (they lose that traffic at once), and it ignores "
            "params.evenWhenInUse and the exemption tag"
        ),
    ),
    params=(
        ParamSpec(
            "evenWhenInUse",
            "Lambda engine: close a default group even while network interfaces still use it (they lose that traffic).",
            False,
            _boolean,
        ),
    ),
    securityhub_rule_prefixes=lambda _p: ("securityhub-vpc-default-security-group-closed-",),
    # Closing a group that something still uses cuts its traffic: Config rule only, until chosen otherwise.
    setting_defaults=lambda _raw: {"mode": "detect"},
)

# --- ec2-imdsv2 ----------------------------------------------------------------------------------
#
# EC2_IMDSV2_CHECK [V] (current copy of CFG/ec2-imdsv2-check): Parameters none; Trigger type Configuration
# changes; Resource Types AWS::EC2::Instance; "NON_COMPLIANT if the HttpTokens is set to optional". FSBP EC2.8.
# UNVERIFIED: the rule's result for an instance whose metadata endpoint is disabled (HttpTokens may still read
# optional); this project takes HttpTokens alone, as the page says.
# Blast radius: software on the instance that still calls IMDSv1 (old SDKs and agents, scripts with plain curl)
# loses instance credentials and metadata at once, so the default mode is manual. The EC2 User Guide advises
# checking the MetadataNoToken metric first; the Lambda fixer reads it and, in auto, refuses an instance with
# IMDSv1 calls in the last params.metadataNoTokenDays days.
# AWSConfigRemediation-EnforceEC2InstanceIMDSv2 [V-old] (SSM-UG@2b00deb; name current in RB-LLMS): InstanceId
# Required; IAM ec2:DescribeInstances, ec2:ModifyInstanceMetadataOptions. UNVERIFIED: its current parameter list
# (no current copy was found).


def _window_days(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 455:
        return None
    return "must be a whole number of days from 0 to 455 (CloudWatch keeps hourly data 455 days)"


EC2_IMDSV2 = RuleEntry(
    key="ec2-imdsv2",
    title="EC2 instances require IMDSv2 session tokens",
    config_rule=ConfigRuleSpec(
        identifier="EC2_IMDSV2_CHECK",
        scope_resource_types=("AWS::EC2::Instance",),
        evaluated_resource_types=("AWS::EC2::Instance",),
    ),
    scope="region",
    default_engine="lambda",
    ssm=SsmRunbook(
        document="AWSConfigRemediation-EnforceEC2InstanceIMDSv2",
        resource_id_parameter="InstanceId",
        iam_actions=("ec2:DescribeInstances", "ec2:ModifyInstanceMetadataOptions"),
        caveat=(
            "AWSConfigRemediation-EnforceEC2InstanceIMDSv2 requires tokens without looking at the instance's IMDSv1 calls "
            "(MetadataNoToken) or the exemption tag, so software still using IMDSv1 breaks at once"
        ),
    ),
    params=(
        ParamSpec(
            "metadataNoTokenDays",
            "Lambda engine: days of CloudWatch MetadataNoToken (IMDSv1 calls) shown in plans; in auto an instance with calls "
            "in that window is not changed. 0: the metric gates nothing.",
            14,
            _window_days,
        ),
    ),
    securityhub_rule_prefixes=lambda _p: ("securityhub-ec2-imdsv2-check-",),
    # Requiring tokens breaks IMDSv1 clients on the instance: dry runs first, until chosen otherwise.
    setting_defaults=lambda _raw: {"mode": "manual"},
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

# --- rds-public-access ---------------------------------------------------------------------------
#
# RDS_INSTANCE_PUBLIC_ACCESS_CHECK [V] (current copy; CFG-UG@3193df7): Parameters none; Trigger type Configuration
# changes; Resource Types AWS::RDS::DBInstance; "NON_COMPLIANT if the publiclyAccessible field is true in the
# instance configuration item" (the flag alone, not whether security groups or subnets let traffic in). FSBP RDS.2.
# Config's resourceId is the DbiResourceId (db-...), not the identifier [P: the runbook below takes it as
# RESOURCE_ID]; the fixer maps it with DescribeDBInstances' dbi-resource-id filter.
# Blast radius: clients that reach the instance over the Internet (laptops, SaaS tools, on-premises networks
# without a VPN) lose it, as the endpoint then resolves to the private address; so the default mode is manual.
# AWSConfigRemediation-DisablePublicAccessToRDSInstance [V] (current copy): DbiResourceId Required (named
# DbInstanceResourceId in the 2021 copy: the parameter was renamed; UNVERIFIED which name an older document
# version in a given region takes); IAM rds:DescribeDBInstances, rds:ModifyDBInstance. It asserts the instance is
# available, modifies it and waits until it is available again.

RDS_PUBLIC_ACCESS = RuleEntry(
    key="rds-public-access",
    title="RDS DB instances are not publicly accessible",
    config_rule=ConfigRuleSpec(
        identifier="RDS_INSTANCE_PUBLIC_ACCESS_CHECK",
        scope_resource_types=("AWS::RDS::DBInstance",),
        evaluated_resource_types=("AWS::RDS::DBInstance",),
    ),
    scope="region",
    default_engine="lambda",
    ssm=SsmRunbook(
        document="AWSConfigRemediation-DisablePublicAccessToRDSInstance",
        resource_id_parameter="DbiResourceId",
        iam_actions=("rds:DescribeDBInstances", "rds:ModifyDBInstance"),
        caveat=(
            "AWSConfigRemediation-DisablePublicAccessToRDSInstance ignores the exemption tag, fails for an instance that is "
            "not available (stopped, modifying, backing up) and cannot change an instance of a Multi-AZ DB cluster"
        ),
    ),
    securityhub_rule_prefixes=lambda _p: ("securityhub-rds-instance-public-access-check-",),
    # Internet clients of the database lose it: dry runs first, until chosen otherwise.
    setting_defaults=lambda _raw: {"mode": "manual"},
)

# --- ecr-scan-on-push ---------------------------------------------------------------------------
#
# ECR_PRIVATE_IMAGE_SCANNING_ENABLED [V] — CFG/ecr-private-image-scanning-enabled.html (current copies):
# "Checks if a private Amazon ECR repository has image scanning enabled. The rule is NON_COMPLIANT if the
# private Amazon ECR repository's scan frequency is not on scan on push or continuous scan"; Periodic,
# AWS::ECR::Repository, Parameters: none; not available in the China regions and some newer regions. FSBP
# ECR.1 (High). Periodic-only: no scope (facts section 9). UNVERIFIED: the evaluations' resourceId form
# (the repository name is assumed; the fixer also accepts an ARN) and whether the rule reads the
# repository's scanOnPush flag or the registry's scan frequency for the repository.
#
# No AWS-owned runbook changes ECR scanning (the runbook reference has no ECR section), so lambda only.
# The fixer sets the repository's own scanOnPush (PutImageScanningConfiguration, which botocore marks as
# being deprecated in favour of registry-level configuration) and never PutRegistryScanningConfiguration,
# which replaces the whole registry configuration and applies to every matching repository. Basic
# scanning on push has no charge of its own [P]; enhanced scanning, if the registry uses it, is billed by
# Amazon Inspector, and the repository flag does not switch it on.

ECR_SCAN_ON_PUSH = RuleEntry(
    key="ecr-scan-on-push",
    title="Private ECR repositories scan images on push (FSBP ECR.1)",
    config_rule=ConfigRuleSpec(
        identifier="ECR_PRIVATE_IMAGE_SCANNING_ENABLED",
        scope_resource_types=(),
        evaluated_resource_types=("AWS::ECR::Repository",),
    ),
    scope="region",
    default_engine="lambda",
    ssm=None,
    securityhub_rule_prefixes=lambda _p: ("securityhub-ecr-private-image-scanning-enabled-",),
)

# --- lambda-public-access ------------------------------------------------------------------------
#
# LAMBDA_FUNCTION_PUBLIC_ACCESS_PROHIBITED [V] — CFG/lambda-function-public-access-prohibited.html
# (current copy; CFG-UG@3193df7): Identifier LAMBDA_FUNCTION_PUBLIC_ACCESS_PROHIBITED; Resource Types
# AWS::Lambda::Function; Trigger type Configuration changes; Parameters: none. "A lambda function policy
# is considered to allow public access if the principal element is empty or contains a wildcard."
# Security Hub Lambda.1 (FSBP, Critical) "Lambda function policies should prohibit public access"; it
# "doesn't evaluate policy conditions that use wildcard characters or variables". No AWS-owned runbook
# changes a function policy (runbook reference, Lambda section), so the Lambda engine only. UNVERIFIED:
# the condition keys Config counts as restricting (fixers/public_policy.py), whether policies of
# versions and aliases are evaluated, and Security Hub's further failure of S3-invoked functions
# without AWS:SourceAccount (neither flagged by scan nor fixed here: narrowing needs the bucket
# owner's account).

LAMBDA_PUBLIC_ACCESS_NOTE = (
    "removing a function's public statements stops every caller that relied on them (public function URLs with "
    "auth type NONE, API Gateway, S3, SNS or EventBridge integrations granted to \"*\", other accounts), so the "
    "default mode is manual: narrow such statements with SourceArn/SourceAccount, then review the dry runs"
)

LAMBDA_PUBLIC_ACCESS = _manual_lambda_rule(
    key="lambda-public-access",
    title="Lambda function policies do not allow public access",
    identifier="LAMBDA_FUNCTION_PUBLIC_ACCESS_PROHIBITED",
    resource_type="AWS::Lambda::Function",
    # UNVERIFIED: this exact name was not seen in a live account (named like every Security Hub rule, facts §7.3).
    securityhub_prefix="securityhub-lambda-function-public-access-prohibited-",
    note=LAMBDA_PUBLIC_ACCESS_NOTE,
)

# --- rds-snapshot-public -------------------------------------------------------------------------
#
# RDS_SNAPSHOTS_PUBLIC_PROHIBITED [V] — CFG/rds-snapshots-public-prohibited.html (current copy):
# Parameters None; Trigger type Configuration changes; Resource Types AWS::RDS::DBClusterSnapshot,
# AWS::RDS::DBSnapshot; "NON_COMPLIANT if any existing and new Amazon RDS snapshots are public" (public:
# the restore attribute lists all); "It can take up to 12 hours for compliance results to be captured".
# FSBP RDS.1 "RDS snapshot should be private" (Critical). AWSSupport-ModifyRDSSnapshotPermission
# (SnapshotIdentifiers, Private=Yes) covers DB snapshots only and its treatment of account shares is not
# documented, so only the lambda engine is offered. UNVERIFIED: the form of the evaluation's resourceId
# (identifier or ARN; the fixer accepts both).

RDS_SNAPSHOT_PUBLIC = RuleEntry(
    key="rds-snapshot-public",
    title="RDS DB snapshots and DB cluster snapshots are not public",
    config_rule=ConfigRuleSpec(
        identifier="RDS_SNAPSHOTS_PUBLIC_PROHIBITED",
        scope_resource_types=("AWS::RDS::DBClusterSnapshot", "AWS::RDS::DBSnapshot"),
        evaluated_resource_types=("AWS::RDS::DBClusterSnapshot", "AWS::RDS::DBSnapshot"),
    ),
    scope="region",
    default_engine="lambda",
    ssm=None,
    securityhub_rule_prefixes=lambda _p: ("securityhub-rds-snapshots-public-prohibited-",),
)

# --- ssm-document-public -------------------------------------------------------------------------
#
# SSM_DOCUMENT_NOT_PUBLIC [V] — CFG/ssm-document-not-public.html (current copy): Parameters None;
# Trigger type Periodic; Resource Types AWS::SSM::Document; "NON_COMPLIANT if Systems Manager documents
# with the owner 'Self' are public". FSBP SSM.4 "SSM documents should not be public" (Critical). No
# AWS-owned runbook changes document sharing, so only the lambda engine is offered. The account-wide
# block-public-sharing setting (SSM.7) is not changed. UNVERIFIED: that the evaluation's resourceId
# is the document name (the fixer also accepts a document ARN).

SSM_DOCUMENT_PUBLIC = RuleEntry(
    key="ssm-document-public",
    title="Systems Manager documents of the account are not shared publicly",
    config_rule=ConfigRuleSpec(
        identifier="SSM_DOCUMENT_NOT_PUBLIC",
        # Periodic-only: no scope (facts section 9).
        scope_resource_types=(),
        evaluated_resource_types=("AWS::SSM::Document",),
    ),
    scope="region",
    default_engine="lambda",
    ssm=None,
    securityhub_rule_prefixes=lambda _p: ("securityhub-ssm-document-not-public-",),
)

# --- iam-password-policy -------------------------------------------------------------------------
#
# IAM_PASSWORD_POLICY [V] — CFG/iam-password-policy (current copy; same parameter table in the 2023 guide):
# Periodic; all seven parameters optional, defaults RequireUppercaseCharacters/RequireLowercaseCharacters/
# RequireSymbols/RequireNumbers true, MinimumPasswordLength 14, PasswordReusePrevention 24, MaxPasswordAge 90;
# "The true and false values for the rule parameters are case-sensitive. If true is not provided in lowercase,
# it will be treated as false." NON_COMPLIANT when the policy "does not meet the specified requirements", and
# when the default IAM password policy is used (none set). Security Hub IAM.7 (FSBP) names AWS::::Account.
# The password policy is global: periodic rules on global IAM resources should be deployed in one region only
# (the page's note), hence scope account. Every parameter is always sent, so the rule checks exactly what the
# fixer raises to. UNVERIFIED: the comparison per field (>= length and reuse, <= maximum age).
#
# No SSM engine: AWSConfigRemediation-SetIAMPasswordPolicy (SSM user guide, 2021 copy) calls
# UpdateAccountPasswordPolicy with its own parameters only, whose defaults are the weakest values, and that API
# "does not support partial updates": even with all seven values passed statically it would lower any stricter
# existing setting (e.g. length 20 to 14) and reset AllowUsersToChangePassword and HardExpiry, which a fix must
# never do. The lambda engine merges instead.


def _password_policy_inputs(params: RuleParams) -> dict[str, str]:
    # Config's InputParameters are strings; the rule reads booleans only in lowercase.
    return {name: (str(params[name]).lower() if isinstance(params[name], bool) else str(params[name])) for name in PASSWORD_POLICY_PARAMS}


def _whole_number(low: int, high: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return f"must be a whole number from {low} to {high}"
        return None

    return check


PASSWORD_POLICY_PARAMS = (
    "RequireUppercaseCharacters", "RequireLowercaseCharacters", "RequireSymbols", "RequireNumbers",
    "MinimumPasswordLength", "PasswordReusePrevention", "MaxPasswordAge",
)

IAM_PASSWORD_POLICY = RuleEntry(
    key="iam-password-policy",
    title="The account password policy meets the configured minimums (raised, never lowered)",
    config_rule=ConfigRuleSpec(
        identifier="IAM_PASSWORD_POLICY",
        # Periodic-only: no scope (facts section 9).
        scope_resource_types=(),
        evaluated_resource_types=("AWS::::Account",),
        input_parameters=_password_policy_inputs,
    ),
    scope="account",
    default_engine="lambda",
    ssm=None,
    params=(
        ParamSpec("RequireUppercaseCharacters", "Require at least one uppercase letter (A-Z).", True, _boolean),
        ParamSpec("RequireLowercaseCharacters", "Require at least one lowercase letter (a-z).", True, _boolean),
        ParamSpec("RequireSymbols", "Require at least one symbol.", True, _boolean),
        ParamSpec("RequireNumbers", "Require at least one number (0-9).", True, _boolean),
        ParamSpec("MinimumPasswordLength", "Minimum password length (6-128); a longer existing minimum is kept.", 14, _whole_number(6, 128)),
        ParamSpec("PasswordReusePrevention", "Previous passwords that cannot be reused (1-24); a larger existing value is kept.", 24, _whole_number(1, 24)),
        ParamSpec("MaxPasswordAge", "Days before a password expires (1-1095); a shorter existing maximum is kept.", 90, _whole_number(1, 1095)),
    ),
    # Security Hub's IAM.7 rule (named like every Security Hub rule, facts §7.3; UNVERIFIED in a live account)
    # checks Security Hub's own parameters (length 8 by default, no reuse or age check).
    securityhub_rule_prefixes=lambda _p: ("securityhub-iam-password-policy-",),
    note=lambda _p: (
        "a new maximum password age makes older passwords expire at the next sign-in (users then set a new one); "
        "the other settings apply when a password is next changed"
    ),
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
        S3_BUCKET_VERSIONING,
        S3_SSL_ONLY,
        SQS_QUEUE_PUBLIC,
        SNS_TOPIC_PUBLIC,
        EBS_SNAPSHOT_PUBLIC,
        EBS_DEFAULT_ENCRYPTION,
        KMS_KEY_ROTATION,
        DEFAULT_SECURITY_GROUP_CLOSED,
        EC2_IMDSV2,
        LOG_GROUP_RETENTION,
        RDS_PUBLIC_ACCESS,
        ECR_SCAN_ON_PUSH,
        LAMBDA_PUBLIC_ACCESS,
        RDS_SNAPSHOT_PUBLIC,
        SSM_DOCUMENT_PUBLIC,
        IAM_PASSWORD_POLICY,
        IAM_UNUSED_CREDENTIALS,
        GUARDDUTY_ENABLED,
    )
}
"""Every rule, by key, in the order docs/rules.md lists them."""


def rule_notes(rules: Iterable[tuple[str, RuleParams]]) -> list[str]:
    """Each distinct note of the given (rule key, params), as ``<key>: <note>``, in catalog order."""
    notes: dict[str, None] = {}
    for key, params in sorted(rules, key=lambda item: list(CATALOG).index(item[0])):
        note = CATALOG[key].note(params)
        if note:
            notes[f"{key}: {note}"] = None
    return list(notes)
