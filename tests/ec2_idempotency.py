"""EC2's ClientToken idempotency, which moto lacks: a repeated token gets the first result and creates nothing.

The same emulation as the load test's (tests/safety/test_load.py), for in-process moto.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest


def emulate_flow_log_client_tokens(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Make moto's CreateFlowLogs honour ClientToken; returns the first result per token."""
    from moto.ec2.responses.flow_logs import FlowLogs

    original = FlowLogs.create_flow_logs
    seen: dict[str, Any] = {}
    lock = threading.Lock()

    def idempotent(self: FlowLogs) -> Any:
        token = self._get_param("ClientToken")
        with lock:
            if token and token in seen:
                return seen[token]
            result = original(self)
            if token:
                seen[token] = result
            return result

    monkeypatch.setattr(FlowLogs, "create_flow_logs", idempotent)
    return seen
