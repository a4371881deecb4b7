"""Fixtures shared by the ``test_serve_*`` modules: a real service on loopback.

:class:`Served` runs a :class:`~kycbridge.serve.ServeApp` on waitress (a thread, port 0) over
a tracker and a bridge whose providers talk to the sandbox (every installed simulator, or
the ones given, e.g. a :class:`~kycbridge.sandbox.Replay` serving hostile text). Its
:meth:`Served.call` checks every JSON answer of a documented route against the OpenAPI
document the service itself serves.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import jsonschema
import urllib3
import waitress.server

import kycbridge
from kycbridge.sandbox import Sandbox
from kycbridge.serve import ServeApp
from kycbridge.tracking import Policy, Tracker
from kycbridge.transport import Transport

TOKEN = "serve-test-token-0123456789abcdef"
PARTNER_TOKEN = "sandbox-partner-token-0123456789abcdef"
ENV = {"KYCBRIDGE_TRANSAK_ACCESS_TOKEN": "sandbox-user-token"}


@contextlib.contextmanager
def waitress_running(app: Any, **options: Any) -> Iterator[str]:
    """``app`` on waitress on 127.0.0.1 (any free port) in a thread; yields its base URL."""
    options.setdefault("threads", 4)
    server = waitress.server.create_server(app, host="127.0.0.1", port=0, **options)

    def run() -> None:
        with contextlib.suppress(OSError):
            server.run()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        for channel in list(server._map.values()):  # kept-alive connections end the loop late
            with contextlib.suppress(Exception):
                channel.close()
        thread.join(timeout=10)


class OpenAPIChecker:
    """Validates answers against an OpenAPI 3.1 document (its schemas are JSON Schema 2020-12)."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.routes = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"), template)
            for template in document["paths"]
        ]
        self.checked: list[tuple[str, str, int]] = []

    def template(self, path: str) -> str | None:
        for pattern, template in self.routes:
            if pattern.match(path):
                return template
        return None

    def validate(self, method: str, path: str, status: int, data: Any) -> None:
        template = self.template(path)
        assert template is not None, f"{path} is not in the OpenAPI document"
        item = self.document["paths"][template]
        if method.lower() not in item:  # an undocumented method: 405 with an error body
            assert status == 405, (method, template, status)
            responses = {"405": _json_error(self.document)}
        else:
            responses = item[method.lower()]["responses"]
        assert str(status) in responses, f"{method} {template}: {status} is not documented"
        schema = responses[str(status)]["content"]["application/json"]["schema"]
        root = {"components": self.document["components"], **schema}
        jsonschema.Draft202012Validator(root).validate(data)
        self.checked.append((method, template, status))


def _json_error(document: Mapping[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


class Served:
    """A running service: ``url``, ``app``, ``tracker``, ``sandbox`` and :meth:`call`."""

    def __init__(self, url: str, app: ServeApp, sandbox: Sandbox) -> None:
        self.url = url
        self.app = app
        self.tracker = app.tracker
        self.sandbox = sandbox
        self.http = urllib3.PoolManager(retries=False, timeout=30)
        self.openapi = OpenAPIChecker(json.loads(self.raw("GET", "/api/v1/openapi.json").data))

    def raw(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        token: str | None = TOKEN,
        redirect: bool = False,
    ) -> urllib3.BaseHTTPResponse:
        sent = dict(headers or {})
        if token is not None:
            sent.setdefault("Authorization", f"Bearer {token}")
        return self.http.request(
            method, self.url + path, body=body, headers=sent, redirect=redirect
        )

    def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        token: str | None = TOKEN,
        status: int | None = None,
    ) -> tuple[int, Any, urllib3.BaseHTTPResponse]:
        """Send a request; check the answer is JSON, documented and valid; return it."""
        sent = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            sent.setdefault("Content-Type", "application/json")
        response = self.raw(method, path, body=body, headers=sent, token=token)
        assert response.headers["Content-Type"].startswith("application/json"), response.data
        data = json.loads(response.data)
        if "Traceback" in response.data.decode("utf-8", "replace"):
            raise AssertionError("a traceback was served")
        if path.split("?", 1)[0].startswith("/api/v1/") or path.startswith("/healthz"):
            self.openapi.validate(method, path.split("?", 1)[0], response.status, data)
        if status is not None:
            assert response.status == status, (response.status, data)
        return response.status, data, response


def sandbox_bridge(
    sandbox: Sandbox, *, hooks: Iterable[object] = (), **kwargs: Any
) -> kycbridge.Bridge:
    """A bridge on ``sandbox``: no retries (errors come at once), the Transak tokens set."""
    settings = sandbox.settings()
    if "transak" in settings:
        settings["transak"]["partner_access_token"] = PARTNER_TOKEN
    return kycbridge.Bridge(
        settings=settings,
        env=ENV,
        hooks=hooks,
        transport=Transport(retries=0, read_timeout=10, call_timeout=20),
        **kwargs,
    )


@contextlib.contextmanager
def served(
    db_url: str,
    *,
    simulators: Iterable[Any] | None = None,
    token: str | None = TOKEN,
    hooks: Iterable[object] = (),
    clock: Any = None,
    bridge_options: Mapping[str, Any] | None = None,
    **app_options: Any,
) -> Iterator[Served]:
    """A service on ``db_url`` over a sandbox, on waitress; everything closed afterwards."""
    sandbox = Sandbox(simulators) if simulators is not None else Sandbox.from_installed()
    with sandbox:
        bridge = sandbox_bridge(sandbox, hooks=hooks, **dict(bridge_options or {}))
        extra = {} if clock is None else {"clock": clock}
        tracker = Tracker(db_url, bridge=bridge, policy=Policy(jitter=0), **extra)
        try:
            app = ServeApp(tracker, bridge, token=token, **extra, **app_options)
            with waitress_running(app) as url:
                running = Served(url, app, sandbox)
                try:
                    yield running
                finally:
                    running.http.clear()
        finally:
            tracker.close()
            bridge.close()
