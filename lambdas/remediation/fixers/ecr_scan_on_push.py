"""Fixer: scan on push for a private ECR repository (Config rule ECR_PRIVATE_IMAGE_SCANNING_ENABLED, FSBP ECR.1).

Turns on the repository's own ``scanOnPush`` (PutImageScanningConfiguration) and nothing else: it
never reads or changes the registry-level scanning configuration, whose PutRegistryScanningConfiguration
replaces every rule of the registry at once. It never turns scanning off.

Requests per event: compliant 1 (DescribeRepositories); fixed 4 (+ ListTagsForResource,
PutImageScanningConfiguration, DescribeRepositories to verify).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ..clients import client
from ..errors import error_code
from .base import ApiCall, NotRemediable, Plan, PlanResult, Target, execute, name_from_arn_or_name, read_tags

IAM_ACTIONS: tuple[str, ...] = ("ecr:DescribeRepositories", "ecr:ListTagsForResource", "ecr:PutImageScanningConfiguration")
RESOURCE_TYPES: tuple[str, ...] = ("AWS::ECR::Repository",)

REPOSITORY_NAME = re.compile(r"(?=.{2,256}$)(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
"""ECR repository names (botocore's RepositoryName pattern, 2-256 characters)."""
REPOSITORY_ARN = re.compile(r"arn:[a-z-]+:ecr:[a-z0-9-]+:(?P<account>\d{12}):repository/(?P<name>.+)")
NOT_FOUND_CODE = "RepositoryNotFoundException"


@dataclass(frozen=True)
class Params:
    """No params: the fix is always the same."""


@dataclass(frozen=True)
class RepositoryState:
    """A repository's scan-on-push flag, as DescribeRepositories returns it."""

    name: str
    arn: str
    scan_on_push: bool

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON-ready dict."""
        return {"repositoryName": self.name, "repositoryArn": self.arn, "scanOnPush": self.scan_on_push}


def parse_params(_raw: Mapping[str, Any]) -> Params:
    """No params to check."""
    return Params()


def resource_id(resource_type: str, raw_id: str, account: str) -> str | None:
    """The repository name: Config's resourceId is taken to be the name; an ARN of this account is accepted too.

    UNVERIFIED: the resourceId form of this periodic rule's evaluations (name inferred; ASR parses a name from an ARN).
    """
    return name_from_arn_or_name(raw_id, account, REPOSITORY_ARN, REPOSITORY_NAME) if resource_type in RESOURCE_TYPES else None


def repository_state(repository: Mapping[str, Any]) -> RepositoryState:
    """The state of one repository as DescribeRepositories lists it."""
    scanning = repository.get("imageScanningConfiguration") or {}
    return RepositoryState(str(repository["repositoryName"]), str(repository["repositoryArn"]), scanning.get("scanOnPush") is True)


def read_state(target: Target) -> RepositoryState:
    """DescribeRepositories for the one repository; a repository that is gone is a failure to fix."""
    try:
        response = client("ecr").describe_repositories(repositoryNames=[target.resource_id])
    except ClientError as error:
        if error_code(error) == NOT_FOUND_CODE:
            raise NotRemediable(f"the repository {target.resource_id} does not exist ({NOT_FOUND_CODE})") from error
        raise
    (repository,) = response["repositories"]
    return repository_state(repository)


def plan(state: RepositoryState, _params: Params) -> PlanResult:
    """Scan on push on, unless it is.

    UNVERIFIED: whether the rule reads this repository-level flag or the registry's scan frequency
    for the repository (SCAN_ON_PUSH or CONTINUOUS_SCAN); the flag is what a repository-level fix
    can set without touching the registry's rules.
    """
    if state.scan_on_push:
        return None
    return Plan(
        summary=f"Turn on scan on push for ECR repository {state.name}",
        calls=(ApiCall("ecr", "PutImageScanningConfiguration", {"repositoryName": state.name, "imageScanningConfiguration": {"scanOnPush": True}}),),
        undo=(ApiCall("ecr", "PutImageScanningConfiguration", {"repositoryName": state.name, "imageScanningConfiguration": {"scanOnPush": False}}),),
        detail={"repository": state.arn, "scanOnPush": True},
        changed_resource=state.arn,
    )


def is_exempt(_target: Target, state: RepositoryState, _plan: Plan, exemption_tag: str) -> bool:
    """Whether the repository carries the exemption tag (ListTagsForResource; fails closed)."""
    tags = read_tags(lambda: client("ecr").list_tags_for_resource(resourceArn=state.arn).get("tags", []), ())
    return exemption_tag in tags


def apply(_target: Target, change: Plan, _params: Params) -> Plan:
    """PutImageScanningConfiguration."""
    return execute(change)


def finding_resource(target: Target, state: RepositoryState | None) -> tuple[str, str]:
    """Findings name the repository by its ARN; by name only, match the ARN's end."""
    if state is not None:
        return state.arn, "EQUALS"
    return f":repository/{target.resource_id}", "CONTAINS"


# --- undo: computed from a record's before-state, never replayed ---------------------------------

UNDO_OPERATIONS: tuple[str, ...] = ("PutImageScanningConfiguration",)
"""The only operation undo may call for this rule: scan on push off again on the same repository."""


def undo_calls(target: Target, before: Mapping[str, Any], _change: Mapping[str, Any], params: Params, _current: Any) -> tuple[ApiCall, ...]:
    """The PutImageScanningConfiguration that turns scan on push off again, derived by ``plan``; raises UndoRefused."""
    from .inverse import inverse_of, require, same_resource

    same_resource(before.get("repositoryName"), target.resource_id, "repository")
    arn = str(before.get("repositoryArn") or "")
    match = REPOSITORY_ARN.fullmatch(arn)
    require(bool(match) and match is not None and match.group(1) == target.account and match.group(2) == target.resource_id,
            "the record's before-state does not name a repository ARN of the record's account and repository")
    require(isinstance(before.get("scanOnPush"), bool), "the record's before-state scanOnPush is not true or false")
    return inverse_of(plan(RepositoryState(target.resource_id, arn, bool(before["scanOnPush"])), params)).undo
