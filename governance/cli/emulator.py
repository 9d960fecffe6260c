"""The embedded AWS emulator: moto's server on 127.0.0.1, on a free port, counting the requests it serves.

Used by ``demo``, the tests and the benchmarks. Everything that talks to it finds it through
``AWS_ENDPOINT_URL``, which boto3 (and any other AWS SDK) honours, so the same code runs against AWS.
"""

from __future__ import annotations

import os
import re
import threading
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


@dataclass
class RequestCounter:
    """WSGI middleware that counts requests per AWS service (from the SigV4 credential scope)."""

    app: WsgiApp
    by_service: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Count the request, then let moto answer it."""
        match = SERVICE_IN_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        with self._lock:
            self.by_service[match.group(1) if match else "unsigned"] += 1
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

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *_args: Any, **_kwargs: Any) -> None:
            """Keep the per-request access log off the terminal."""

    counter = RequestCounter(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, counter, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="aws-emulator", daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_port}"
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
