"""The embedded AWS emulator: moto's server on 127.0.0.1, on a free port, counting the requests it serves.

Used by ``demo``, the tests and the benchmarks. Everything that talks to it finds it through
``AWS_ENDPOINT_URL``, which boto3 (and any other AWS SDK) honours, so the same code runs against AWS.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

SERVICE_IN_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def throttling_response(service: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """The status, headers and body with which ``service`` tells a caller to slow down."""
    if service == "s3":
        body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
        return "503 Slow Down", [("Content-Type", "application/xml")], body.encode()
    if service == "ec2":
        body = "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>throttled</RequestID></Response>"
        return "503 Service Unavailable", [("Content-Type", "text/xml")], body.encode()
    if service in QUERY_PROTOCOL_SERVICES:
        body = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>throttled</RequestId></ErrorResponse>"
        return "400 Bad Request", [("Content-Type", "text/xml")], body.encode()
    body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})
    return "400 Bad Request", [("Content-Type", "application/x-amz-json-1.1")], body.encode()


QUERY_PROTOCOL_SERVICES = frozenset({"sts", "iam", "sqs", "sns", "cloudformation", "autoscaling", "elasticloadbalancing"})


@dataclass
class RequestCounter:
    """WSGI middleware that counts requests per AWS service (from the SigV4 credential scope).

    With ``throttle_ratio`` above 0 it also answers that share of requests (chosen by a seeded
    random generator, so runs repeat) with the service's own throttling error instead of passing
    them to moto, and counts them in ``throttled``.
    """

    app: WsgiApp
    by_service: Counter[str] = field(default_factory=Counter)
    throttle_ratio: float = 0.0
    throttled: int = 0
    seed: int = 7
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _random: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Count the request, then let moto answer it (or throttle it)."""
        match = SERVICE_IN_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        service = match.group(1) if match else "unsigned"
        with self._lock:
            self.by_service[service] += 1
            throttle = self.throttle_ratio > 0 and match is not None and self._random.random() < self.throttle_ratio
            if throttle:
                self.throttled += 1
        if throttle:
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            status, headers, body = throttling_response(service)
            start_response(status, [*headers, ("Content-Length", str(len(body)))])
            return [body]
        return self.app(environ, start_response)

    @property
    def total(self) -> int:
        """All requests counted so far."""
        with self._lock:
            return sum(self.by_service.values())

    def reset(self) -> None:
        """Start counting from zero."""
        with self._lock:
            self.by_service.clear()
            self.throttled = 0


@dataclass
class Emulator:
    """A running emulator: where it listens and what it has counted."""

    endpoint_url: str
    requests: RequestCounter


@contextmanager
def embedded_emulator() -> Iterator[Emulator]:
    """Start moto's server on 127.0.0.1 (a free port), point AWS clients at it, and stop it afterwards.

    Sets ``AWS_ENDPOINT_URL`` and fake credentials for the duration and restores the environment after.
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import WSGIRequestHandler, make_server

    from governance import moto_fidelity

    # The server runs moto in this process: S3 buckets get SSE-S3 default encryption, as on AWS.
    moto_fidelity.install()

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *_args: Any, **_kwargs: Any) -> None:
            """Keep the per-request access log off the terminal."""

    counter = RequestCounter(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, counter, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="aws-emulator", daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_port}"
    # moto keeps its resources in this process: an emulator starts empty, whatever an earlier one left.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=30).read()
    counter.reset()
    overrides = {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}
    saved = {key: os.environ.get(key) for key in (*overrides, "AWS_PROFILE")}
    os.environ.update(overrides)
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield Emulator(endpoint_url=endpoint, requests=counter)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
