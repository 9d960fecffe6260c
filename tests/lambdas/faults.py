"""Inject AWS error responses into the function's cached clients (for what moto cannot simulate)."""

from __future__ import annotations

import json
from typing import Any

from botocore.awsrequest import AWSResponse
from conftest import FAULT_HEADER
from moto.core.botocore_stubber import MockRawResponse
from remediation import clients


def _body(protocol: str, code: str) -> tuple[str, dict[str, str]]:
    if protocol in ("json", "rest-json"):
        return json.dumps({"__type": code, "message": f"injected {code}"}), {"x-amzn-ErrorType": code}
    if protocol == "ec2":
        return f"<Response><Errors><Error><Code>{code}</Code><Message>injected</Message></Error></Errors><RequestID>r</RequestID></Response>", {}
    if protocol == "query":
        return f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected</Message></Error></ErrorResponse>", {}
    return f"<Error><Code>{code}</Code><Message>injected</Message></Error>", {}


def inject_error(service: str, operation: str, code: str, status: int, times: int | None = None) -> list[int]:
    """Make ``operation`` on the function's ``service`` client answer with an error; returns a hit counter."""
    client = clients.client(service)
    protocol = client.meta.service_model.protocol
    body, headers = _body(protocol, code)
    hits: list[int] = []

    def respond(request: Any, **_: Any) -> AWSResponse | None:
        if times is not None and len(hits) >= times:
            return None
        hits.append(1)
        request.headers[FAULT_HEADER] = "1"
        return AWSResponse(request.url, status, headers, MockRawResponse(body))

    service_id = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register_first(f"before-send.{service_id}.{operation}", respond)
    return hits
