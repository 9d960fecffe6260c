"""What AWS Config will say about a resource: the documented logic of each managed rule, as pure functions.

``scan`` shows this verdict next to the fixer's planned change, so a what-if agrees with what Config
will flag. Each function takes the fixer's state (its ``to_json()``) and the rule's params, and
follows the rule's documentation as this project's AWS facts record it (section 2).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from governance.lambda_code import lambda_module

Verdict = Literal["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"]
State = Mapping[str, Any]
Params = Mapping[str, Any]

WORLD = ("0.0.0.0/0", "::/0")
BLOCK_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def bucket_encryption(state: State, params: Params) -> Verdict:
    """The rule ``params.algorithm`` selects: SSE-S3 for AES256, SSE-KMS with the key for aws:kms.

    S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED: a default encryption rule sets an algorithm (on AWS
    today every bucket has SSE-S3, so this is practically always COMPLIANT).
    S3_DEFAULT_ENCRYPTION_KMS with kmsKeyArns: a rule encrypts with KMS, with a key in the list.
    UNVERIFIED: that DSSE-KMS (aws:kms:dsse) with a listed key counts, and that a bucket naming the
    listed key by its bare key id counts.
    """
    defaults = [rule.get("ApplyServerSideEncryptionByDefault") or {} for rule in state.get("rules", [])]
    if params.get("algorithm") != "aws:kms":
        return "COMPLIANT" if any(default.get("SSEAlgorithm") for default in defaults) else "NON_COMPLIANT"
    configured = params.get("kmsKeyArn") or []
    allowed = {arn for arn in ([configured] if isinstance(configured, str) else configured) if arn}
    allowed |= {arn.rsplit("/", 1)[-1] for arn in allowed}
    for default in defaults:
        if default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse") and (not allowed or default.get("KMSMasterKeyID") in allowed):
            return "COMPLIANT"
    return "NON_COMPLIANT"


def bucket_public_access(state: State, params: Params, bucket: str = "") -> Verdict:
    """S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED: all four bucket-level flags on; excluded buckets are not evaluated."""
    if bucket and bucket in params.get("excludedPublicBuckets", []):
        return "NOT_APPLICABLE"
    return _all_flags_on(state)


def account_public_access(state: State, _params: Params) -> Verdict:
    """S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC with every flag parameter True (as deployed)."""
    return _all_flags_on(state)


def _all_flags_on(state: State) -> Verdict:
    block = state.get("publicAccessBlock") or {}
    return "COMPLIANT" if all(block.get(flag) is True for flag in BLOCK_FLAGS) else "NON_COMPLIANT"


def restricted_ports(state: State, params: Params) -> Verdict:
    """RESTRICTED_INCOMING_TRAFFIC: no TCP ingress from 0.0.0.0/0 or ::/0 reaches a blocked port.

    Protocol -1 (all traffic) reaches every TCP port; how Config treats it is UNVERIFIED in this
    project's facts and is taken as reaching them, like the fixer.
    """
    ports = set(params.get("ports", []))
    for rule in state.get("worldRules", []):
        if rule.get("cidr") not in WORLD:
            continue
        protocol = str(rule.get("protocol")).lower()
        if protocol in ("-1", "all"):
            return "NON_COMPLIANT"
        if protocol not in ("tcp", "6"):
            continue
        low, high = rule.get("fromPort"), rule.get("toPort")
        if low is None or high is None or low < 0:
            return "NON_COMPLIANT"
        if any(low <= port <= high for port in ports):
            return "NON_COMPLIANT"
    return "COMPLIANT"


def flow_logs(state: State, params: Params) -> Verdict:
    """VPC_FLOW_LOGS_ENABLED with trafficType: an active flow log with that traffic type exists."""
    wanted = params.get("trafficType")
    for flow_log in state.get("flowLogs", []):
        if flow_log.get("FlowLogStatus", "ACTIVE") != "ACTIVE":
            continue
        if not wanted or flow_log.get("TrafficType") == wanted:
            return "COMPLIANT"
    return "NON_COMPLIANT"


def multi_region_trail(state: State, _params: Params) -> Verdict:
    """MULTI_REGION_CLOUD_TRAIL_ENABLED without optional params: a logging multi-region trail logs management events.

    No management event source may be excluded.

    A trail without custom event selectors (``eventSelectors`` null) logs all management events.
    Read and write management events are both required (UNVERIFIED for a rule without the
    readWriteType parameter; Security Hub's CloudTrail.1 sets readWriteType ALL).
    """
    trails = state.get("trails", [])
    logging = [trail for trail in trails if trail.get("isMultiRegionTrail") and trail.get("isLogging")]
    return "COMPLIANT" if any(_logs_management_events(trail.get("eventSelectors")) for trail in logging) else "NON_COMPLIANT"


def _logs_management_events(selectors: Mapping[str, Any] | None) -> bool:
    if selectors is None:
        return True
    covered: set[str] = set()
    kinds = {"All": {"read", "write"}, "ReadOnly": {"read"}, "WriteOnly": {"write"}}
    for selector in selectors.get("AdvancedEventSelectors") or []:
        fields = selector.get("FieldSelectors", [])
        if not any(f.get("Field") == "eventCategory" and "Management" in (f.get("Equals") or []) for f in fields):
            continue
        if any(f.get("Field") == "eventSource" for f in fields):
            return False  # an excluded management event source
        read_only = [str(value).lower() for f in fields if f.get("Field") == "readOnly" for value in f.get("Equals") or []]
        covered |= {"read", "write"} if not read_only else {"read" if value == "true" else "write" for value in read_only}
    for selector in selectors.get("EventSelectors") or []:
        if selector.get("ExcludeManagementEventSources"):
            return False
        if selector.get("IncludeManagementEvents", True):
            covered |= kinds.get(str(selector.get("ReadWriteType", "All")), set())
    return covered >= {"read", "write"}


def log_file_validation(state: State, _params: Params) -> Verdict:
    """CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED: the trail validates its log files."""
    return "COMPLIANT" if state.get("LogFileValidationEnabled") else "NON_COMPLIANT"


def bucket_versioning(state: State, _params: Params) -> Verdict:
    """S3_BUCKET_VERSIONING_ENABLED without isMfaDeleteEnabled: versioning is Enabled (never-versioned and Suspended are not)."""
    return "COMPLIANT" if state.get("status") == "Enabled" else "NON_COMPLIANT"


def bucket_ssl_only(state: State, _params: Params) -> Verdict:
    """S3_BUCKET_SSL_REQUESTS_ONLY: the bucket policy has the documented deny of requests without TLS.

    That is a statement with Effect Deny, Principal * (or AWS *), Action s3:* (or *), Resource both
    the bucket's ARN and its objects' ARN, and exactly the condition Bool aws:SecureTransport false.
    No policy is NON_COMPLIANT. UNVERIFIED: whether Config also accepts narrower denies (fewer
    actions, objects only, s3:TlsVersion); they are not counted.
    """
    bucket, text = state.get("bucket"), state.get("policy")
    if not isinstance(text, str):
        return "NON_COMPLIANT"
    try:
        policy = json.loads(text)
    except ValueError:
        return "NON_COMPLIANT"
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    statements = [statements] if isinstance(statements, dict) else statements if isinstance(statements, list) else []
    return "COMPLIANT" if any(_denies_http(statement, str(bucket)) for statement in statements) else "NON_COMPLIANT"


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _denies_http(statement: Any, bucket: str) -> bool:
    if not isinstance(statement, dict) or statement.get("Effect") != "Deny" or {"NotPrincipal", "NotAction", "NotResource"} & set(statement):
        return False
    principal = statement.get("Principal")
    everyone = principal == "*" or (isinstance(principal, dict) and list(principal) == ["AWS"] and _listed(principal["AWS"]) == ["*"])
    all_actions = any(str(action).lower() in ("s3:*", "*") for action in _listed(statement.get("Action")))
    resources = [str(resource) for resource in _listed(statement.get("Resource"))]
    arn = re.compile(rf"arn:[a-z-]+:s3:::{re.escape(bucket)}")
    covered = any(arn.fullmatch(r) for r in resources) and any(re.fullmatch(rf"{arn.pattern}/\*", r) for r in resources)
    condition = statement.get("Condition")
    if not isinstance(condition, dict) or list(condition) != ["Bool"] or not isinstance(condition["Bool"], dict):
        return False
    keys = {str(key).lower(): value for key, value in condition["Bool"].items()}
    insecure = list(keys) == ["aws:securetransport"] and [str(v).lower() for v in _listed(keys["aws:securetransport"])] == ["false"]
    return everyone and all_actions and covered and insecure


def no_public_statement(state: State, _params: Params) -> Verdict:
    """SQS_QUEUE_NO_PUBLIC_ACCESS, SNS_TOPIC_NO_PUBLIC_ACCESS and LAMBDA_FUNCTION_PUBLIC_ACCESS_PROHIBITED: no statement allows everyone without a fixed-value restriction.

    "To be considered non-public, an ... policy must grant access only to fixed values" (rule page).
    Which condition keys restrict is UNVERIFIED; the test is the one the fixers use
    (``fixers/public_policy.py``), so a scan and a fix agree. No policy is COMPLIANT; a policy that is
    not a JSON policy document is NON_COMPLIANT (nothing proves it is not public).
    """
    text = state.get("policy")
    if not text:
        return "COMPLIANT"
    public_policy = lambda_module("fixers.public_policy")
    try:
        document = public_policy.parse(text)
    except public_policy.NotAPolicy:
        return "NON_COMPLIANT"
    return "NON_COMPLIANT" if public_policy.split(document).public else "COMPLIANT"


def ebs_snapshot_public(state: State, _params: Params) -> Verdict:
    """EBS_SNAPSHOT_PUBLIC_RESTORABLE_CHECK: no snapshot of the account is restorable by ``all``.

    Exempt snapshots count too: the rule knows no exemption, so the account stays NON_COMPLIANT.
    """
    public = [snapshot for snapshot in state.get("publicSnapshots", []) if any(str(group).lower() == "all" for group in snapshot.get("groups", []))]
    return "NON_COMPLIANT" if public else "COMPLIANT"


def ebs_default_encryption(state: State, _params: Params) -> Verdict:
    """EC2_EBS_ENCRYPTION_BY_DEFAULT: encryption by default is on in the region (the default key is not checked)."""
    return "COMPLIANT" if state.get("ebsEncryptionByDefault") is True else "NON_COMPLIANT"


def kms_key_rotation(state: State, _params: Params) -> Verdict:
    """CMK_BACKING_KEY_ROTATION_ENABLED: a customer managed symmetric key with KMS key material rotates automatically.

    UNVERIFIED: the rule's page says automatic rotation is not supported for asymmetric, HMAC, imported
    and custom-key-store keys and that it matches customer created keys; those, AWS managed keys and keys
    pending deletion are taken as NOT_APPLICABLE. A disabled key or a replica without rotation is taken as
    NON_COMPLIANT (the rule reads their rotation status like any other key's).
    """
    evaluated = (
        state.get("keyManager") == "CUSTOMER"
        and state.get("keySpec") == "SYMMETRIC_DEFAULT"
        and state.get("origin") == "AWS_KMS"
        and state.get("keyState") not in ("PendingDeletion", "PendingReplicaDeletion")
    )
    if not evaluated:
        return "NOT_APPLICABLE"
    return "COMPLIANT" if state.get("keyRotationEnabled") is not False else "NON_COMPLIANT"


def default_group_closed(state: State, _params: Params) -> Verdict:
    """VPC_DEFAULT_SECURITY_GROUP_CLOSED: a default group has no inbound or outbound rule (any source counts).

    Any group not named ``default`` (not a VPC's default group) is NOT_APPLICABLE. A group that no longer exists (deleted with its VPC) is taken as NOT_APPLICABLE; Config may still
    report it NON_COMPLIANT for a while after the deletion (rule page note).
    """
    if state.get("exists") is False or state.get("groupName") != "default":
        return "NOT_APPLICABLE"
    return "NON_COMPLIANT" if state.get("rules") else "COMPLIANT"


def imdsv2(state: State, _params: Params) -> Verdict:
    """EC2_IMDSV2_CHECK: NON_COMPLIANT when HttpTokens is optional (IMDSv1 allowed), COMPLIANT when required.

    HttpTokens alone decides, as the rule's page says; the result for an instance whose metadata endpoint
    is disabled is UNVERIFIED. A terminated or unknown instance is taken as NOT_APPLICABLE.
    """
    if state.get("exists") is False:
        return "NOT_APPLICABLE"
    tokens = (state.get("metadataOptions") or {}).get("HttpTokens") or "optional"
    return "COMPLIANT" if tokens == "required" else "NON_COMPLIANT"


def log_group_retention(state: State, params: Params) -> Verdict:
    """CW_LOGGROUP_RETENTION_PERIOD_CHECK with MinRetentionTime and LogGroupNames (prefixes).

    NON_COMPLIANT when the retention is shorter than MinRetentionTime; a never-expire group is
    COMPLIANT (the rule page's note); groups outside the prefixes are not evaluated. A group whose
    retention comes from an account-level policy is judged by that retention, which DescribeLogGroups
    reports (UNVERIFIED that Config reads the same value).
    """
    name = str(state.get("logGroupName") or "")
    prefixes = params.get("logGroupNames") or []
    if not state.get("exists") or (prefixes and not any(name.startswith(prefix) for prefix in prefixes)):
        return "NOT_APPLICABLE"
    days = state.get("retentionInDays")
    if days is None:
        return "COMPLIANT"
    return "NON_COMPLIANT" if days < params.get("minRetentionDays", 365) else "COMPLIANT"


def rds_public_access(state: State, _params: Params) -> Verdict:
    """RDS_INSTANCE_PUBLIC_ACCESS_CHECK: NON_COMPLIANT when the instance's PubliclyAccessible is true.

    The flag alone decides, not whether security groups or subnets let Internet traffic in. An instance
    that no longer exists (or is being deleted) is taken as NOT_APPLICABLE.
    """
    if state.get("exists") is False:
        return "NOT_APPLICABLE"
    return "NON_COMPLIANT" if state.get("publiclyAccessible") is True else "COMPLIANT"


def repository_scanning(state: State, _params: Params) -> Verdict:
    """ECR_PRIVATE_IMAGE_SCANNING_ENABLED: the repository scans images on push.

    UNVERIFIED: whether the rule reads the repository's scanOnPush flag (what this state holds) or the
    registry's scan frequency for it, where CONTINUOUS_SCAN also passes.
    """
    return "COMPLIANT" if state.get("scanOnPush") is True else "NON_COMPLIANT"


def rds_snapshot_public(state: State, _params: Params) -> Verdict:
    """RDS_SNAPSHOTS_PUBLIC_PROHIBITED: the snapshot's restore attribute does not list ``all``."""
    return "NON_COMPLIANT" if any(str(value).lower() == "all" for value in state.get("restore", [])) else "COMPLIANT"


def ssm_document_public(state: State, _params: Params) -> Verdict:
    """SSM_DOCUMENT_NOT_PUBLIC: a document owned by the account is not shared with ``All``."""
    return "NON_COMPLIANT" if any(str(value).lower() == "all" for value in state.get("accountIds", [])) else "COMPLIANT"


PASSWORD_CLASSES = ("RequireUppercaseCharacters", "RequireLowercaseCharacters", "RequireSymbols", "RequireNumbers")


def password_policy(state: State, params: Params) -> Verdict:
    """IAM_PASSWORD_POLICY with all seven parameters: a policy is set and meets each of them.

    A required character class must be required; the minimum length and the number of remembered
    passwords must be at least the parameter; passwords must expire after at most MaxPasswordAge days.
    UNVERIFIED: the exact comparison per field (the rule's page says "meet the specified requirements").
    """
    policy = state.get("passwordPolicy")
    if not policy:
        return "NON_COMPLIANT"
    if any(params.get(name, True) and policy.get(name) is not True for name in PASSWORD_CLASSES):
        return "NON_COMPLIANT"
    if (policy.get("MinimumPasswordLength") or 0) < params.get("MinimumPasswordLength", 14):
        return "NON_COMPLIANT"
    if (policy.get("PasswordReusePrevention") or 0) < params.get("PasswordReusePrevention", 24):
        return "NON_COMPLIANT"
    age = policy.get("MaxPasswordAge") or 0
    return "COMPLIANT" if 0 < age <= params.get("MaxPasswordAge", 90) else "NON_COMPLIANT"


def unused_credentials(state: State, params: Params) -> Verdict:
    """IAM_USER_UNUSED_CREDENTIALS_CHECK with maxCredentialUsageAge: a credential unused for more than the age.

    NON_COMPLIANT when a console password or an active access key is unused for more than the age (last use,
    or creation when never used). Inactive keys do not count, and never-used credentials count from their creation: both inferred from the
    AWS runbook and ASR (UNVERIFIED on the rule page), as is whether exactly the age counts as unused.
    """
    if not state.get("userName"):
        return "NOT_APPLICABLE"
    read_at = _time(state["readAt"])
    age = timedelta(days=params.get("maxCredentialUsageAge", 90))

    def stale(last_used: Any, created: Any) -> bool:
        return bool(read_at - _time(last_used or created) > age)

    password = state.get("consolePassword")
    if password and stale(password.get("lastUsed"), password.get("createDate")):
        return "NON_COMPLIANT"
    for key in state.get("accessKeys", []):
        if key.get("Status") == "Active" and stale(key.get("LastUsedDate"), key.get("CreateDate")):
            return "NON_COMPLIANT"
    return "COMPLIANT"


def guardduty_enabled(state: State, params: Params) -> Verdict:
    """GUARDDUTY_ENABLED_CENTRALIZED: an enabled detector in the region.

    With CentralMonitoringAccount, the account must also be, or be administered by, one of those accounts.
    UNVERIFIED: that a suspended detector counts as not enabled, and the CentralMonitoringAccount logic (the rule
    page says only that it "evaluates the GuardDuty results in the centralized account").
    """
    if not any(detector.get("status") == "ENABLED" for detector in state.get("detectors", [])):
        return "NON_COMPLIANT"
    central = params.get("centralMonitoringAccount") or []
    if central and state.get("account") not in central and state.get("administratorAccount") not in central:
        return "NON_COMPLIANT"
    return "COMPLIANT"


def _time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


EVALUATORS: dict[str, Callable[..., Verdict]] = {
    "s3-bucket-encryption": bucket_encryption,
    "s3-bucket-public-access": bucket_public_access,
    "s3-account-public-access": account_public_access,
    "restricted-admin-ports": restricted_ports,
    "vpc-flow-logs": flow_logs,
    "cloudtrail-multi-region": multi_region_trail,
    "cloudtrail-log-validation": log_file_validation,
    "s3-bucket-versioning": bucket_versioning,
    "s3-ssl-only": bucket_ssl_only,
    "sqs-queue-public": no_public_statement,
    "sns-topic-public": no_public_statement,
    "ebs-snapshot-public": ebs_snapshot_public,
    "ebs-default-encryption": ebs_default_encryption,
    "kms-key-rotation": kms_key_rotation,
    "default-security-group-closed": default_group_closed,
    "ec2-imdsv2": imdsv2,
    "log-group-retention": log_group_retention,
    "rds-public-access": rds_public_access,
    "ecr-scan-on-push": repository_scanning,
    "lambda-public-access": no_public_statement,
    "rds-snapshot-public": rds_snapshot_public,
    "ssm-document-public": ssm_document_public,
    "iam-password-policy": password_policy,
    "iam-unused-credentials": unused_credentials,
    "guardduty-enabled": guardduty_enabled,
}
"""The Config verdict function of each rule (one per catalog key)."""


def config_verdict(rule_key: str, state: State, params: Params, resource_id: str = "") -> Verdict:
    """What the rule's Config evaluation will report for this state."""
    evaluator = EVALUATORS[rule_key]
    if rule_key == "s3-bucket-public-access":
        return evaluator(state, params, resource_id)
    return evaluator(state, params)
