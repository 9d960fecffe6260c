"""CloudTrail behaviour the fixers rely on and moto lacks, patched into moto for the Lambda tests.

- A new trail has CloudTrail's default event selector (all management events, read and write,
  no data events) and DescribeTrails reports ``HasCustomEventSelectors`` false until
  PutEventSelectors sets selectors; moto returns no selectors and always reports false.
- Basic and advanced event selectors are exclusive: putting one kind replaces the other; moto
  keeps the advanced ones when basic ones are put.
- ListTrails lists the account's trails of every region, each with its HomeRegion (UNVERIFIED,
  see the multi-region fixer); moto lists only what DescribeTrails shows in the calling region.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from moto.cloudtrail.models import CloudTrailBackend, Trail, cloudtrail_backends

DEFAULT_SELECTOR: dict[str, Any] = {"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": [], "ExcludeManagementEventSources": []}


def model_cloudtrail(monkeypatch: pytest.MonkeyPatch) -> None:
    """Patch moto's CloudTrail with the behaviour above (undone by ``monkeypatch``)."""
    original_description = Trail.description

    def description(self: Trail, include_region: bool = False) -> dict[str, Any]:
        described = original_description(self, include_region)
        described["HasCustomEventSelectors"] = bool(getattr(self, "custom_selectors", False))
        return described

    def put_event_selectors(self: Trail, event_selectors: list[dict[str, Any]] | None, advanced_event_selectors: list[dict[str, Any]] | None) -> None:
        if advanced_event_selectors:
            self.event_selectors, self.advanced_event_selectors = [], list(advanced_event_selectors)
        else:
            self.event_selectors, self.advanced_event_selectors = list(event_selectors or []), []
        self.custom_selectors = True  # type: ignore[attr-defined]

    def get_event_selectors(self: Trail) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        if not getattr(self, "custom_selectors", False):
            return [dict(DEFAULT_SELECTOR)], []
        return self.event_selectors, self.advanced_event_selectors

    def list_trails(self: CloudTrailBackend) -> Iterable[Trail]:
        return [trail for backend in cloudtrail_backends[self.account_id].values() for trail in backend.trails.values()]

    monkeypatch.setattr(Trail, "description", description)
    monkeypatch.setattr(Trail, "put_event_selectors", put_event_selectors)
    monkeypatch.setattr(Trail, "get_event_selectors", get_event_selectors)
    monkeypatch.setattr(CloudTrailBackend, "list_trails", list_trails)
