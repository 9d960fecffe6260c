"""Record every AWS API call made while handling one event, for the audit record.

The recorder hooks into each cached client's botocore events, so no call can be left out of a
record by forgetting to log it. Recording is scoped with ``recording()``; outside it, calls are
not recorded.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from typing import Any

CallEntry = dict[str, Any]
"""One recorded call: service, operation, region, params and outcome ("ok" or the error code)."""

_CURRENT: ContextVar[list[CallEntry] | None] = ContextVar("governance_api_calls", default=None)
_CONTEXT_KEY = "governance_call_entry"


@contextmanager
def recording() -> Iterator[list[CallEntry]]:
    """Collect the API calls made inside the ``with`` block into the yielded list."""
    entries: list[CallEntry] = []
    token = _CURRENT.set(entries)
    try:
        yield entries
    finally:
        _CURRENT.reset(token)


def attach_recorder(client: Any) -> None:
    """Make ``client`` report its calls to the active ``recording()``."""
    service = client.meta.service_model.service_name
    region = client.meta.region_name
    events = client.meta.events
    # First, so the params are recorded as the caller passed them, before botocore's own handlers.
    events.register_first("before-parameter-build", partial(_before_call, service, region))
    events.register("after-call", _after_call)
    events.register("after-call-error", _after_call_error)


def _before_call(service: str, region: str, params: Any, model: Any, context: Any, **_: Any) -> None:
    entries = _CURRENT.get()
    if entries is None:
        return
    entry: CallEntry = {
        "service": service,
        "operation": model.name,
        "region": region,
        "params": copy.deepcopy(params),
        "outcome": "not-sent",
    }
    entries.append(entry)
    context[_CONTEXT_KEY] = entry


def _after_call(http_response: Any, parsed: Any, context: Any, **_: Any) -> None:
    entry = context.get(_CONTEXT_KEY)
    if entry is None:
        return
    if getattr(http_response, "status_code", 200) >= 300:
        entry["outcome"] = str(parsed.get("Error", {}).get("Code") or http_response.status_code)
    else:
        entry["outcome"] = "ok"


def _after_call_error(exception: BaseException, context: Any, **_: Any) -> None:
    entry = context.get(_CONTEXT_KEY)
    if entry is not None:
        entry["outcome"] = type(exception).__name__
