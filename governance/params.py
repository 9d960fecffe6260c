"""Declarations of the parameters a rule accepts, and their validation.

A parameter check returns ``None`` when the value is acceptable, or a short phrase saying what is
allowed ("must be one of AES256, aws:kms"). The settings loader turns that phrase into one sentence
that also names the stack-config key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Check = Callable[[Any], "str | None"]
RuleParams = Mapping[str, Any]


@dataclass(frozen=True)
class ParamSpec:
    """One parameter a rule accepts in stack config."""

    name: str
    """Key under ``rules.<rule>.params``."""
    description: str
    """What the parameter controls; shown in docs/configuration.md."""
    default: Any
    """Value used when the stack does not set it (``None`` means unset)."""
    check: Check
    """Validation: ``None`` if the value is acceptable, else what is allowed."""


def one_of(*allowed: str) -> Check:
    """Accept exactly one of the given strings."""

    def check(value: Any) -> str | None:
        if isinstance(value, str) and value in allowed:
            return None
        return "must be one of " + ", ".join(allowed)

    return check


def matches(pattern: str, what: str) -> Check:
    """Accept a string that fully matches ``pattern``; ``what`` describes it to the user."""
    # ASCII-only: AWS's patterns are; without it \d and \w accept other scripts' digits and letters.
    compiled = re.compile(pattern, re.ASCII)

    def check(value: Any) -> str | None:
        if isinstance(value, str) and compiled.fullmatch(value):
            return None
        return f"must be {what}"

    return check


def port_list(min_items: int, max_items: int) -> Check:
    """Accept a list of distinct TCP ports (1-65535) of bounded length."""

    def check(value: Any) -> str | None:
        allowed = f"must be a list of {min_items} to {max_items} distinct TCP ports between 1 and 65535"
        if not isinstance(value, list) or not min_items <= len(value) <= max_items:
            return allowed
        for port in value:
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                return allowed
        if len(set(value)) != len(value):
            return allowed
        return None

    return check


def string_list(item_check: Check, max_items: int) -> Check:
    """Accept a list of strings, each accepted by ``item_check``."""

    def check(value: Any) -> str | None:
        if not isinstance(value, list) or len(value) > max_items:
            return f"must be a list of at most {max_items} entries"
        for item in value:
            problem = item_check(item)
            if problem:
                return f"must be a list whose entries each {problem.removeprefix('must ')}"
        return None

    return check


BUCKET_NAME = matches(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)")
BUCKET_ARN = matches(
    r"arn:aws(-cn|-us-gov)?:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9!_.*'()/-]*)?",
    "an S3 bucket ARN such as arn:aws:s3:::my-flow-logs (optionally with /folder)",
)
KMS_KEY = matches(
    r"arn:aws(-cn|-us-gov)?:kms:[a-z0-9-]+:\d{12}:(key/[0-9a-f-]{36}|alias/[A-Za-z0-9/_-]+)",
    "a KMS key ARN or alias ARN (arn:aws:kms:<region>:<account>:key/<id>)",
)
KMS_KEY_ARN = matches(
    r"arn:aws(-cn|-us-gov)?:kms:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:key/"
    r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})",
    "a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>), not an alias: "
    "the Config rule compares key ARNs and an alias resolves in the caller's account",
)
LOG_GROUP_NAME = matches(
    # CreateLogGroup reserves names beginning with aws/ (UNVERIFIED: see governance.limits); /aws/... is allowed.
    r"(?!aws/)[A-Za-z0-9_\-/.#]{1,512}",
    "a CloudWatch Logs group name of 1-512 letters, digits and _-/.# that does not begin with aws/",
)
TRAIL_NAME = matches(
    r"[A-Za-z0-9][A-Za-z0-9._-]{1,126}[A-Za-z0-9]",
    "a CloudTrail trail name (3-128 letters, digits, periods, underscores, hyphens)",
)
