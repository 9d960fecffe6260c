"""``doctor``: check, for every account and region of a stack, what the deployment relies on.

Without a Config recorder, rules never evaluate and nothing is ever remediated: the most common
silent failure. Each check passes or fails with the fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from governance.catalog import CLOUDTRAIL_MULTI_REGION, VPC_FLOW_LOGS
from governance.cli.sessions import AccountSessions
from governance.member_template import hub_lambda_role_arn
from governance.organization_plan import ORGANIZATION_KEY
from governance.plan import Names, plan_account
from governance.settings import Account, Settings

MEMBER_ROLE_CHECK = "member role can be assumed"
FORWARDED_CHECK = "no forwarded events wait in the member"
DOCTOR_CONCURRENCY = 16
"""Accounts checked at once: an organization may have thousands."""
REFUSED_CODES = frozenset({"403", "AccessDenied", "Forbidden"})
"""How S3 answers a HeadBucket it refuses (the HEAD response has no body: the code is the status)."""
ACCOUNT_TYPE = "AWS::::Account"
"""What account-level rules evaluate: not a resource type a recorder records."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one preflight check."""

    account: str
    region: str
    check: str
    passed: bool
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON-ready dict."""
        return {
            "account": self.account,
            "region": self.region,
            "check": self.check,
            "passed": self.passed,
            "detail": self.detail,
            "fix": self.fix,
        }


def member_role_fix(settings: Settings, error: Exception) -> str:
    """What to do when a member role cannot be assumed: who it trusts, and which credentials reach it."""
    organization = settings.organization
    admin_role = organization.admin_role_arn if organization else None
    trusted = (
        f"the member role trusts the hub Lambda's role ({hub_lambda_role_arn(settings)}) and {ORGANIZATION_KEY}.adminRoleArn"
        f" ({admin_role or 'not set'})"
    )
    if admin_role is None:
        how = f"set {ORGANIZATION_KEY}.adminRoleArn and run the CLI with credentials that can assume it"
    else:
        how = "run the CLI with credentials that can assume adminRoleArn"
    if _error_code(error) == "AccessDenied":
        return f"{trusted}; {how}"
    return f"{trusted}; {how}, and check this account's instance of the iam stack set (doctor lists the instances)"


def _error_code(error: Exception) -> str:
    return str(error.response.get("Error", {}).get("Code", "")) if isinstance(error, ClientError) else ""


def _error_text(error: Exception) -> str:
    if isinstance(error, ClientError):
        return f"{error.response.get('Error', {}).get('Code', 'Error')}: {error.response.get('Error', {}).get('Message', '')}".strip()
    return str(error)


def run_doctor(settings: Settings, sessions: AccountSessions, concurrency: int = DOCTOR_CONCURRENCY) -> list[CheckResult]:
    """Run every check for every account and region of ``settings``, ``concurrency`` accounts at a time, in account order."""

    def account_checks(account: Account) -> list[CheckResult]:
        access = _check_access(settings, account, sessions)
        if not access.passed:
            return [access]
        results = [access]
        hub = settings.organization.admin_account_id if settings.organization and sessions.is_member(account) else None
        # The member's regions whose rules stack forwards events to the hub (a lambda-engine rule or an SSM remediation).
        forwarding = {plan.region: plan.names for plan in plan_account(settings, account).regions if plan.event_pattern is not None} if hub else {}
        for region in account.regions:
            results.extend(_region_checks(settings, account, region, sessions))
            if hub and region in forwarding:
                results.append(_check_forwarded_dead_letters(account, region, sessions, hub, forwarding[region]))
        return results

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return [result for results in pool.map(account_checks, settings.accounts) for result in results]


def _check_access(settings: Settings, account: Account, sessions: AccountSessions) -> CheckResult:
    member = sessions.is_member(account)
    name = MEMBER_ROLE_CHECK if member else "deploy role can be assumed" if account.role_arn else "credentials reach the account"
    try:
        identity = sessions.client(account, "sts", account.home_region).get_caller_identity()
    except (ClientError, BotoCoreError) as error:
        if member:
            return CheckResult(account.id, "-", name, False, _error_text(error), member_role_fix(settings, error))
        return CheckResult(
            account.id, "-", name, False, _error_text(error),
            f"create {account.role_arn} with a trust policy for your identity (docs/deploying.md: Deploy role in each account)"
            if account.role_arn else "run with credentials of this account",
        )
    if identity["Account"] != account.id:
        return CheckResult(account.id, "-", name, False, f"credentials resolve to account {identity['Account']}", "use credentials of this account")
    return CheckResult(account.id, "-", name, True, identity["Arn"])


def _region_checks(settings: Settings, account: Account, region: str, sessions: AccountSessions) -> Iterator[CheckResult]:
    rules = account.rules_in(region)
    config = sessions.client(account, "config", region)
    yield _check_recorder(account, region, config, sorted({t for rule in rules if rule.deploys_config_rule for t in rule.entry.config_rule.evaluated_resource_types if t != ACCOUNT_TYPE}))
    yield _check_delivery_channel(account, region, config)
    if settings.securityhub_updates or any(rule.source == "securityhub" for rule in rules):
        yield _check_security_hub(account, region, sessions)
    for rule in rules:
        if not rule.remediates:
            continue
        if rule.key == VPC_FLOW_LOGS.key and rule.params["destinationType"] == "s3":
            bucket = str(rule.params["s3BucketArn"]).split(":::", 1)[1].split("/", 1)[0]
            yield _check_bucket(account, region, sessions, bucket, "flow-log bucket exists")
        if rule.key == CLOUDTRAIL_MULTI_REGION.key and rule.params.get("s3BucketName"):
            yield _check_bucket(account, region, sessions, str(rule.params["s3BucketName"]), "trail bucket exists")


def _check_forwarded_dead_letters(account: Account, region: str, sessions: AccountSessions, hub: str, names: Names) -> CheckResult:
    """Events the bus of the ``hub`` account refused stay in the member's forwarding dead-letter queue, where no alarm of the hub sees them."""
    queue = names.forwarding_dead_letter_queue
    bus = f"arn:{account.partition}:events:{region}:{hub}:event-bus/{names.hub_event_bus}"
    sqs = sessions.client(account, "sqs", region)
    try:
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        depth = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    except (ClientError, BotoCoreError) as error:
        if _error_code(error) in {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}:
            fix = f"the rules stack set's instance in {region} creates it: see the instance check, then run pulumi up"
        elif _error_code(error) == "AccessDenied":
            fix = "run pulumi up: the iam stack set grants the member role sqs:GetQueueUrl and sqs:GetQueueAttributes on this queue"
        else:
            fix = "run doctor again; if it persists, read the queue with the member role"
        return CheckResult(account.id, region, FORWARDED_CHECK, False, f"{queue}: {_error_text(error)}", fix)
    waiting = int(depth.get("ApproximateNumberOfMessages", "0"))
    if waiting:
        return CheckResult(
            account.id, region, FORWARDED_CHECK, False,
            f"{waiting} {'event waits' if waiting == 1 else 'events wait'} in {queue}: the hub's bus {bus} refused {'it' if waiting == 1 else 'them'}",
            f"check that the hub's stack is deployed in {region} and its bus admits the organization, then run apply for "
            f"account {account.id} (it fixes what those events named) and delete the queue's messages",
        )
    return CheckResult(account.id, region, FORWARDED_CHECK, True, f"{queue} is empty")


def _check_recorder(account: Account, region: str, config: Any, required_types: list[str]) -> CheckResult:
    name = "Config recorder records the rules' resource types"
    fix = f"turn on AWS Config in {region} recording {', '.join(required_types) or 'all supported types'} (put-configuration-recorder, start-configuration-recorder)"
    try:
        recorders = config.describe_configuration_recorders()["ConfigurationRecorders"]
        statuses = config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
    except (ClientError, BotoCoreError) as error:
        return CheckResult(account.id, region, name, False, _error_text(error), fix)
    if not recorders:
        return CheckResult(account.id, region, name, False, "no configuration recorder", fix)
    if not any(status.get("recording") for status in statuses):
        return CheckResult(account.id, region, name, False, f"recorder {recorders[0]['name']} is stopped", fix)
    group = recorders[0].get("recordingGroup", {})
    if group.get("allSupported"):
        return CheckResult(account.id, region, name, True, f"{recorders[0]['name']} records all supported types")
    recorded = set(group.get("resourceTypes", []))
    missing = [resource_type for resource_type in required_types if resource_type not in recorded]
    if missing:
        return CheckResult(account.id, region, name, False, f"not recorded: {', '.join(missing)}", fix)
    return CheckResult(account.id, region, name, True, f"{recorders[0]['name']} records {', '.join(required_types) or 'what the rules need'}")


def _check_delivery_channel(account: Account, region: str, config: Any) -> CheckResult:
    name = "Config delivery channel exists"
    fix = f"create a delivery channel in {region} (put-delivery-channel) pointing at your Config bucket"
    try:
        channels = config.describe_delivery_channels()["DeliveryChannels"]
    except (ClientError, BotoCoreError) as error:
        return CheckResult(account.id, region, name, False, _error_text(error), fix)
    if not channels:
        return CheckResult(account.id, region, name, False, "no delivery channel", fix)
    return CheckResult(account.id, region, name, True, f"{channels[0]['name']} -> s3://{channels[0].get('s3BucketName', '?')}")


def _check_security_hub(account: Account, region: str, sessions: AccountSessions) -> CheckResult:
    name = "Security Hub is enabled"
    try:
        hub = sessions.client(account, "securityhub", region).describe_hub()
    except (ClientError, BotoCoreError) as error:
        return CheckResult(
            account.id, region, name, False, _error_text(error),
            f"enable Security Hub in {region}, or turn off securityHubUpdates and source: securityhub",
        )
    return CheckResult(account.id, region, name, True, hub.get("HubArn", "enabled"))


def _check_bucket(account: Account, region: str, sessions: AccountSessions, bucket: str, name: str) -> CheckResult:
    try:
        sessions.client(account, "s3", region).head_bucket(Bucket=bucket)
    except (ClientError, BotoCoreError) as error:
        fix = f"create s3://{bucket} with the service's bucket policy"
        if _error_code(error) in REFUSED_CODES:
            # HeadBucket answers 403 when the caller may not list the bucket, whoever owns it: it cannot tell here.
            why = "the member role is not granted s3:ListBucket" if sessions.is_member(account) else "this role may not list it"
            fix = (f"{why}, so this check cannot tell whether s3://{bucket} exists: check it from the account that owns it "
                   "(a central log archive, for instance), or create it with the service's bucket policy")
        return CheckResult(account.id, region, name, False, f"s3://{bucket}: {_error_text(error)}", fix)
    return CheckResult(account.id, region, name, True, f"s3://{bucket}")
