"""What AWS Config will say about a resource: the documented logic of each managed rule, as pure functions.

``scan`` shows this verdict next to the fixer's planned change, so a what-if agrees with what Config
will flag. Each function takes the fixer's state (its ``to_json()``) and the rule's params, and
follows the rule's documentation as this project's AWS facts record it (section 2).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

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
    "log-group-retention": log_group_retention,
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
