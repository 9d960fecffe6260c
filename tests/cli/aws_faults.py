"""What real AWS does and moto does not, for CLI tests: denied reads, expired credentials, roles that cannot be assumed.

Every client call passes through ``Faults`` first, so a test can make any request fail the way AWS
fails it, see every call that was made, and act right after a call returns (a bucket deleted after
its fix). It also lets the Resource Groups Tagging API return tagged CloudTrail trails, which AWS
does and moto 5 does not.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

READ_PREFIXES = ("Get", "Describe", "List", "Lookup", "Filter", "AssumeRole", "HeadBucket", "GetCallerIdentity")


@dataclass(frozen=True)
class Call:
    """One client call as the CLI made it."""

    service: str
    operation: str
    params: dict[str, Any]
    region: str | None
    access_key: str | None

    @property
    def is_write(self) -> bool:
        """Whether the call changes something in AWS."""
        return not self.operation.startswith(READ_PREFIXES)


Matcher = Callable[[Call], bool]


@dataclass
class Faults:
    """Failures to inject and calls seen, on every boto3 client of the test."""

    failures: list[tuple[Matcher, str]] = field(default_factory=list)
    after: list[Callable[[Call, dict[str, Any]], None]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    trails_in_tag_queries: bool = True

    def fail(self, code: str, matcher: Matcher) -> None:
        """Every later call that ``matcher`` accepts fails with the AWS error ``code``."""
        self.failures.append((matcher, code))

    def expire_credentials(self) -> None:
        """From now on every call fails as AWS fails a call with expired session credentials."""
        self.fail("ExpiredToken", lambda _call: True)

    def heal(self) -> None:
        """Stop injecting failures."""
        self.failures.clear()

    def writes(self) -> list[Call]:
        """Every write call that reached AWS (failed ones are not counted)."""
        return [call for call in self.calls if call.is_write]


def _tagged_trails(client: BaseClient, params: dict[str, Any]) -> list[dict[str, Any]]:
    # AWS's tagging API returns trails under cloudtrail:trail; moto 5 returns none, so add them here.
    keys = {tag_filter["Key"] for tag_filter in params.get("TagFilters", [])}
    credentials = client._request_signer._credentials.get_frozen_credentials()
    session = boto3.Session(credentials.access_key, credentials.secret_key, credentials.token, region_name=client.meta.region_name)
    cloudtrail = session.client("cloudtrail")
    trails = [trail["TrailARN"] for trail in cloudtrail.describe_trails(includeShadowTrails=False)["trailList"]]
    if not trails:
        return []
    mappings = []
    for entry in cloudtrail.list_tags(ResourceIdList=trails)["ResourceTagList"]:
        tags = entry.get("TagsList", [])
        if keys <= {tag["Key"] for tag in tags}:
            mappings.append({"ResourceARN": entry["ResourceId"], "Tags": tags})
    return mappings


def latest_records(path: Path) -> dict[str, dict[str, Any]]:
    """The audit records of a JSONL file, the last line of each record id winning (lines may amend earlier ones)."""
    records: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        records[record["recordId"]] = record
    return records


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Iterator[Faults]:
    """Route every boto3 client call of the test through a fresh ``Faults``."""
    state = Faults()
    original = BaseClient._make_api_call

    def make_api_call(client: BaseClient, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        credentials = client._request_signer._credentials
        access_key = credentials.access_key if credentials is not None else None
        call = Call(client.meta.service_model.service_name, operation, dict(params), client.meta.region_name, access_key)
        for matcher, code in list(state.failures):
            if matcher(call):
                raise ClientError({"Error": {"Code": code, "Message": f"{code} (injected)"}, "ResponseMetadata": {"HTTPStatusCode": 403}}, operation)
        response: dict[str, Any] = original(client, operation, params)
        state.calls.append(call)
        if operation == "GetResources" and state.trails_in_tag_queries and "cloudtrail:trail" in params.get("ResourceTypeFilters", []):
            response = {**response, "ResourceTagMappingList": [*response.get("ResourceTagMappingList", []), *_tagged_trails(client, params)]}
        for hook in list(state.after):
            hook(call, response)
        return response

    monkeypatch.setattr(BaseClient, "_make_api_call", make_api_call)
    yield state
