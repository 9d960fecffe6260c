"""IAM documents the program deploys, built as plain dicts from the plan.

Every trust policy carries the confused-deputy conditions (``aws:SourceAccount``, and
``aws:SourceArn`` where the service documents it); no statement has a wildcard action.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.log_buckets import S3_BUCKET_ARN_PREFIX, RoleGrants
from governance.iam_reference import PLACEHOLDER, reference, scoped_resources
from governance.plan import Names, role_arn
from governance.settings import Account

Document = dict[str, Any]
FLOW_LOGS_SERVICE = "vpc-flow-logs.amazonaws.com"


def _document(*statements: Document) -> Document:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _trust(service: str, conditions: Document) -> Document:
    return _document({
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
        "Condition": conditions,
    })


def ssm_trust_policy(account: Account) -> Document:
    """Trust for the SSM AutomationAssumeRole: automation executions of this account only."""
    return _trust("ssm.amazonaws.com", {
        "StringEquals": {"aws:SourceAccount": account.id},
        "ArnLike": {"aws:SourceArn": f"arn:{account.partition}:ssm:*:{account.id}:automation-execution/*"},
    })


def lambda_trust_policy(account: Account) -> Document:
    """Trust for the Lambda execution role, limited to this account's functions."""
    # That Lambda supplies aws:SourceAccount when it assumes an execution role is UNVERIFIED in
    # this project's facts; aws:SourceArn is left out for the same reason.
    return _trust("lambda.amazonaws.com", {"StringEquals": {"aws:SourceAccount": account.id}})


def flow_logs_trust_policy(account: Account) -> Document:
    """Trust for the flow-log delivery role: this account's flow logs only."""
    return _trust(FLOW_LOGS_SERVICE, {
        "StringEquals": {"aws:SourceAccount": account.id},
        "ArnLike": {"aws:SourceArn": f"arn:{account.partition}:ec2:*:{account.id}:vpc-flow-log/*"},
    })


def _split_pass_role(actions: tuple[str, ...]) -> tuple[list[str], bool]:
    return [action for action in actions if action != "iam:PassRole"], "iam:PassRole" in actions


def scoped_statements(sid: str, account: Account, actions: list[str]) -> list[Document]:
    """Statements granting ``actions`` on the narrowest resources IAM supports for each, in ``account`` only.

    Actions that share the same resources share a statement. S3 bucket and object ARNs and EC2
    snapshot ARNs carry no account, so a statement with one also requires ``aws:ResourceAccount`` to
    be the account itself (UNVERIFIED for EC2 snapshots: that EC2 sets aws:ResourceAccount on them).
    """
    by_resources: dict[tuple[str, ...], list[str]] = {}
    for action in sorted(set(actions)):
        by_resources.setdefault(tuple(scoped_resources(action, account.partition, account.id)), []).append(action)
    statements: list[Document] = []
    for index, (resources, grouped) in enumerate(sorted(by_resources.items(), key=lambda item: item[1][0]), start=1):
        statement: Document = {
            "Sid": f"{sid}{index}",
            "Effect": "Allow",
            "Action": grouped,
            "Resource": list(resources) if len(resources) > 1 else resources[0],
        }
        if any(resource != "*" and resource.split(":")[4] == "" for resource in resources):
            statement["Condition"] = {"StringEquals": {"aws:ResourceAccount": account.id}}
        statements.append(statement)
    return statements


def _bucket_resources(action: str, partition: str, bucket: str) -> tuple[str, ...]:
    values = {"Partition": partition, "BucketName": bucket, "ObjectName": "*"}
    formats = [arn for arn in reference()[action] if arn.startswith(S3_BUCKET_ARN_PREFIX)]
    return tuple(sorted({PLACEHOLDER.sub(lambda match: values[match.group(1)], arn) for arn in formats}))


def log_bucket_statements(sid: str, account: Account, log_buckets: Mapping[str, tuple[str, ...]]) -> list[Document]:
    """Statements granting bucket-level S3 actions on each named log bucket (and its objects) only.

    No ``aws:ResourceAccount`` condition: a central log bucket usually lives in a log-archive account.
    """
    statements: list[Document] = []
    for bucket, actions in log_buckets.items():
        by_resources: dict[tuple[str, ...], list[str]] = {}
        for action in actions:
            by_resources.setdefault(_bucket_resources(action, account.partition, bucket), []).append(action)
        for resources, grouped in sorted(by_resources.items()):
            statements.append({
                "Sid": f"{sid}{len(statements) + 1}",
                "Effect": "Allow",
                "Action": sorted(grouped),
                "Resource": list(resources) if len(resources) > 1 else resources[0],
            })
    return statements


def _pass_flow_logs_role(account: Account, names: Names) -> Document:
    return {
        "Sid": "PassFlowLogsDeliveryRole",
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": role_arn(account, names.flow_logs_role),
        "Condition": {"StringEquals": {"iam:PassedToService": FLOW_LOGS_SERVICE}},
    }


def ssm_role_policy(account: Account, names: Names, grants: RoleGrants) -> Document:
    """Inline policy of the automation role: exactly the actions of the account's SSM remediations."""
    others, passes_role = _split_pass_role(grants.own_account)
    statements = scoped_statements("Remediate", account, others)
    statements.extend(log_bucket_statements("LogBucket", account, grants.log_buckets))
    if passes_role:
        statements.append(_pass_flow_logs_role(account, names))
    return _document(*statements)


def lambda_role_policy(
    account: Account,
    names: Names,
    grants: RoleGrants,
) -> Document:
    """Inline policy of the Lambda role: its own logs, queue and bus, plus what its fixers and handler declare."""
    scope = f"{account.partition}"
    statements: list[Document] = [
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:{scope}:logs:*:{account.id}:log-group:{names.function_log_group}:*",
        },
        {
            # A retried event reads the records of its earlier, interrupted attempts (remediation/attempts.py).
            "Sid": "ReadOwnLogs",
            "Effect": "Allow",
            "Action": "logs:FilterLogEvents",
            "Resource": [
                f"arn:{scope}:logs:*:{account.id}:log-group:{names.function_log_group}",
                f"arn:{scope}:logs:*:{account.id}:log-group:{names.function_log_group}:*",
            ],
        },
        {
            "Sid": "KeepFailedEvents",
            "Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": f"arn:{scope}:sqs:*:{account.id}:{names.dead_letter_queue}",
        },
        {
            "Sid": "PublishResults",
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": f"arn:{scope}:events:*:{account.id}:event-bus/default",
        },
    ]
    others, passes_role = _split_pass_role(grants.own_account)
    statements.extend(scoped_statements("Remediate", account, others))
    statements.extend(log_bucket_statements("LogBucket", account, grants.log_buckets))
    if passes_role:
        statements.append(_pass_flow_logs_role(account, names))
    return _document(*statements)


def flow_logs_role_policy(account: Account, log_group_names: tuple[str, ...]) -> Document:
    """Inline policy of the flow-log delivery role: write to the program's flow-log groups only."""
    resources = []
    for name in log_group_names:
        resources.append(f"arn:{account.partition}:logs:*:{account.id}:log-group:{name}")
        resources.append(f"arn:{account.partition}:logs:*:{account.id}:log-group:{name}:*")
    return _document({
        "Sid": "DeliverFlowLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:DescribeLogGroups", "logs:DescribeLogStreams", "logs:PutLogEvents"],
        "Resource": resources,
    })


def dead_letter_queue_policy(queue_arn: str, event_rule_arns: list[str]) -> Document:
    """Queue policy letting only these EventBridge rules send undeliverable events to the DLQ."""
    return _document({
        "Sid": "EventBridgeDeadLetters",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": event_rule_arns}},
    })


HUB_ONLY_ACTIONS = frozenset({"sts:AssumeRole", "organizations:ListParents"})
"""The handler's organization-hub actions (``handler_iam_actions(organization_hub=True)``), granted in statements of their own."""


def hub_lambda_role_policy(account: Account, names: Names, handler_actions: tuple[str, ...], member_role_name: str) -> Document:
    """Inline policy of the organization hub's Lambda role.

    Its own logs, queue and bus as in direct mode, the handler's own actions (ssm, Security Hub) in the
    hub account, ``sts:AssumeRole`` on the member role of any account (which account the hub may act in
    is the member role's trust and the Lambda's membership check) and ``organizations:ListParents``.
    No fixer action: fixes run with the member role's credentials.
    """
    unknown = sorted(set(handler_actions) - HUB_ONLY_ACTIONS - {"ssm:GetAutomationExecution", "securityhub:GetFindings",
                                                                 "securityhub:BatchUpdateFindings"})
    if unknown:
        raise ValueError(f"the hub role has no statement for {unknown}; add one here")
    own = tuple(action for action in handler_actions if action not in HUB_ONLY_ACTIONS)
    document = lambda_role_policy(account, names, RoleGrants(own_account=own))
    statements: list[Document] = list(document["Statement"])
    if "sts:AssumeRole" in handler_actions:
        statements.append({
            "Sid": "AssumeMemberRole",
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": f"arn:{account.partition}:iam::*:role/{member_role_name}",
        })
    if "organizations:ListParents" in handler_actions:
        # ListParents names accounts, OUs and roots by ARNs of the management account and organization id,
        # which the stack config does not hold.
        statements.append({"Sid": "WalkOrganization", "Effect": "Allow", "Action": "organizations:ListParents", "Resource": "*"})
    return _document(*statements)
