"""Lambda entry point: parse the EventBridge event and log it as one JSON line."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

LOGGER = logging.getLogger("governance.remediation")
LOGGER.setLevel(logging.INFO)


def _deployment_config() -> dict[str, Any]:
    raw = os.environ.get("GOVERNANCE_CONFIG", "{}")
    try:
        config = json.loads(raw)
    except json.JSONDecodeError:
        return {}
    return config if isinstance(config, dict) else {}


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Record what arrived and which managed rule it belongs to; never raises on bad input."""
    config = _deployment_config()
    detail = event.get("detail") if isinstance(event, dict) else None
    detail = detail if isinstance(detail, dict) else {}
    rule_name = detail.get("configRuleName")
    managed = isinstance(rule_name, str) and rule_name in config.get("rules", {})
    record = {
        "source": event.get("source") if isinstance(event, dict) else None,
        "detailType": event.get("detail-type") if isinstance(event, dict) else None,
        "configRuleName": rule_name,
        "resourceId": detail.get("resourceId"),
        "managed": managed,
    }
    LOGGER.info(json.dumps(record, sort_keys=True, default=str))
    return record
