"""The sandbox: a real HTTP server on loopback serving every installed provider simulator.

Each provider plugin contributes a :class:`Simulator` through the ``register_simulators``
hook. :class:`Sandbox` serves them all on one port, each under its own path prefix::

    with Sandbox.from_installed() as sandbox:
        bridge = sandbox.bridge()
        bridge.status("starkfi", email="approved@sandbox.starkfi.test")

``kycbridge sandbox [--port N]`` runs the same server from the command line.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qs, unquote, urlsplit

import attrs

from .plugins import PluginRegistry

__all__ = [
    "MAX_REQUEST_BODY",
    "Replay",
    "Sandbox",
    "Scenario",
    "SimRequest",
    "SimResponse",
    "Simulator",
]

log = logging.getLogger("kycbridge.sandbox")
"""The access log: method, simulator and status only, never a path, query or body."""

MAX_REQUEST_BODY = 1024 * 1024
"""The largest request body the sandbox reads; a larger one is answered 413."""


@attrs.frozen
class SimRequest:
    """A request as a simulator sees it: path below the simulator's prefix, decoded query.

    And the exact request as received (``raw_path``, ``raw_query``, ``body``), to check a
    signature over it as the provider would. The repr shows only the method.
    """

    method: str
    path: str = attrs.field(repr=False)
    """The path below the simulator's prefix, starting with ``/`` (percent-encoding kept)."""
    query: Mapping[str, list[str]] = attrs.field(repr=False)
    """The decoded query parameters."""
    headers: Mapping[str, str] = attrs.field(repr=False)
    """Request headers, lowercase names."""
    raw_path: str = attrs.field(default="", repr=False)
    """The whole path exactly as received, simulator prefix included (``/toy/v1/x%2Fy``):
    what the client sent, hence what it signed."""
    raw_query: str = attrs.field(default="", repr=False)
    """The query string exactly as received, without the ``?`` (``""``: none)."""
    body: bytes = attrs.field(default=b"", repr=False)
    """The request body exactly as received (at most :data:`MAX_REQUEST_BODY` bytes)."""

    @property
    def target(self) -> str:
        """``raw_path`` and ``?raw_query``: the request target as sent, for a signature."""
        return f"{self.raw_path}?{self.raw_query}" if self.raw_query else self.raw_path

    def segments(self) -> list[str]:
        """The segments of :attr:`path`, percent-decoded (``/a/b%2Fc`` gives ``a``, ``b/c``)."""
        return [unquote(part) for part in self.path.split("/")[1:]]

    def param(self, name: str) -> str | None:
        """The first value of query parameter ``name``, or ``None``."""
        values = self.query.get(name)
        return values[0] if values else None


@attrs.frozen
class SimResponse:
    """What a simulator answers. ``delay``, ``drop`` and ``truncate`` play faults."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: Mapping[str, str] = attrs.field(factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering (a slow provider)."""
    drop: bool = False
    """Close the connection without answering."""
    truncate: int | None = None
    """Send only this many bytes of the body, then close (a connection dropped mid-body)."""

    @classmethod
    def json(cls, status: int, payload: Any, **kwargs: Any) -> SimResponse:
        """A JSON answer."""
        return cls(status, json.dumps(payload).encode("utf-8"), **kwargs)


@attrs.frozen
class Scenario:
    """A scripted subject: the sandbox's equivalent of a payment provider's test card."""

    subject: str
    """The value that selects the scenario (an email, a wallet, a workflow run id)."""
    query: Mapping[str, str]
    """Query fields that ask for it (credentials included: these are sandbox values)."""
    description: str
    played: tuple[str, ...] = ()
    """The raw statuses the simulator plays, one per call, the last one repeating."""
    outcome: str | None = None
    """The final normalized state, or the error type the scenario ends in."""
    demo: bool = False
    """Whether ``kycbridge demo`` watches it."""


@runtime_checkable
class Simulator(Protocol):
    """A fake provider API. Register one through the ``register_simulators`` hook."""

    name: str
    """The name of the provider it imitates; also its path prefix in the sandbox."""
    settings: Mapping[str, str]
    """Provider settings (besides ``base_url``) that work against it: sandbox credentials."""
    scenarios: Sequence[Scenario]
    """The scripted subjects, documented in the plugin's README and the docs."""

    def handle(self, request: SimRequest) -> SimResponse:
        """Answer one request."""

    def reset(self) -> None:
        """Forget every subject's progress (scenarios start over)."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (as the transport's fault tests make them do) are not errors."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        log.exception("sandbox: error serving %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, no delayed-ACK stall
    server: _Server
    timeout = 30

    def setup(self) -> None:
        super().setup()
        self.server.sandbox._connection_opened()

    _simulator_name = "-"

    # The access log shows the method, the simulator and the status: never the path, query
    # or body (subject ids, emails), nor http.server's own messages (they quote the request
    # line).
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("sandbox: %s /%s/... -> %s", self.command, self._simulator_name, code)

    def log_error(self, format: str, *args: Any) -> None:
        code = args[0] if args and isinstance(args[0], int) else "-"
        log.debug("sandbox: refused a malformed request (%s)", code)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # everything is logged by the two methods above

    def _read_body(self) -> bytes | None:
        """The body (up to the cap), or ``None`` after answering an error for it."""
        if self.headers.get("transfer-encoding"):
            self.close_connection = True
            self._send(SimResponse.json(411, {"error": "send a Content-Length"}))
            return None
        declared = (self.headers.get("content-length") or "0").strip()
        if not declared.isdigit():
            self.close_connection = True
            self._send(SimResponse.json(400, {"error": "invalid Content-Length"}))
            return None
        length = int(declared)
        if length > MAX_REQUEST_BODY:
            self.close_connection = True  # the unread body stays behind: drop the connection
            self._send(SimResponse.json(413, {"error": "request body too large"}))
            return None
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        self._simulator_name = "-"
        body = self._read_body()
        if body is None:
            return
        parts = urlsplit(self.path)
        _, _, rest = parts.path.partition("/")
        name, slash, below = rest.partition("/")
        simulator = self.server.sandbox.simulators.get(name)
        if simulator is None:
            # Plain text, so no provider can take it for its own JSON error body: every
            # error table reads it as a wrong URL ("check base_url"), never "not found".
            self._send(
                SimResponse(
                    404,
                    b"kycbridge sandbox: no simulator at this prefix",
                    content_type="text/plain",
                )
            )
            return
        self._simulator_name = name
        request = SimRequest(
            method=self.command,
            path="/" + below if slash else "/",
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            raw_path=parts.path,
            raw_query=parts.query,
            body=body,
        )
        self.server.sandbox._count(name)
        try:
            response = simulator.handle(request)
        except Exception:
            log.exception("simulator %s failed", name)
            response = SimResponse(500, b"simulator error", content_type="text/plain")
        self._send(response)

    def _send(self, response: SimResponse) -> None:
        if response.delay:
            time.sleep(response.delay)
        if response.drop:
            self.close_connection = True
            return
        self.send_response(response.status)
        if response.status in (204, 304) or response.status < 200:
            self.end_headers()  # these statuses carry no body
            return
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for key, value in response.headers.items():
            self.send_header(key, value)
        if response.truncate is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        if response.truncate is not None:
            self.wfile.write(response.body[: response.truncate])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(response.body)

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _dispatch


class Sandbox:
    """Serves simulators on ``127.0.0.1``; use as a context manager or ``start()``/``stop()``."""

    def __init__(
        self, simulators: Iterable[Simulator], *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.simulators: dict[str, Simulator] = {s.name: s for s in simulators}
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.connections_opened = 0
        """TCP connections accepted since start."""
        self.requests: dict[str, int] = {}
        """Requests received per simulator since start."""

    @classmethod
    def from_installed(cls, registry: PluginRegistry | None = None, **kwargs: Any) -> Sandbox:
        """A sandbox with every simulator the installed plugins register."""
        registry = registry or PluginRegistry()
        return cls([info.simulator for info in registry.simulators()], **kwargs)

    def __repr__(self) -> str:
        return f"<Sandbox {self.base_url if self._server else 'stopped'} {sorted(self.simulators)}>"

    def _connection_opened(self) -> None:
        with self._lock:
            self.connections_opened += 1

    def _count(self, name: str) -> None:
        with self._lock:
            self.requests[name] = self.requests.get(name, 0) + 1

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        port = self._server.server_address[1]
        return f"http://{self.host}:{port}"

    def url(self, name: str) -> str:
        """The base URL of simulator ``name`` (what the provider's ``base_url`` should be)."""
        if name not in self.simulators:
            raise KeyError(f"no simulator {name!r} (have {sorted(self.simulators)})")
        return f"{self.base_url}/{name}"

    @property
    def base_urls(self) -> dict[str, str]:
        """Every simulator's base URL, by name."""
        return {name: self.url(name) for name in sorted(self.simulators)}

    def settings(self) -> dict[str, dict[str, Any]]:
        """Provider settings pointing every provider at its simulator, with sandbox keys."""
        return {
            name: {**sim.settings, "base_url": self.url(name)}
            for name, sim in sorted(self.simulators.items())
        }

    def bridge(self, plugins: Iterable[object] | None = None, **kwargs: Any) -> Any:
        """A :class:`~kycbridge.Bridge` whose providers talk to this sandbox."""
        from .bridge import Bridge

        return Bridge(plugins, settings=self.settings(), **kwargs)

    def reset(self) -> None:
        """Start every scenario over."""
        for sim in self.simulators.values():
            sim.reset()

    def start(self) -> Sandbox:
        """Start serving in a background thread."""
        if self._server is not None:
            return self
        self._server = _Server((self.host, self.port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="kycbridge-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted."""
        self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Replay:
    """A simulator that answers from a queue: for tests that script raw answers.

    ``Replay("starkfi", [SimResponse.json(200, {...})])`` serves its answers in order, the
    last one repeating. ``push()`` queues more. It checks nothing about the request; every
    request is kept in ``received``.
    """

    def __init__(
        self,
        name: str,
        responses: Iterable[SimResponse] = (),
        *,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.settings: Mapping[str, str] = dict(settings or {})
        self.scenarios: Sequence[Scenario] = ()
        self._queue = list(responses)
        self._last: SimResponse | None = None
        self._lock = threading.Lock()
        self.received: list[SimRequest] = []

    def push(self, *responses: SimResponse) -> None:
        """Queue more answers."""
        with self._lock:
            self._queue.extend(responses)

    def handle(self, request: SimRequest) -> SimResponse:
        """Answer with the next queued response (or repeat the last one)."""
        with self._lock:
            self.received.append(request)
            if self._queue:
                self._last = self._queue.pop(0)
            if self._last is None:
                return SimResponse.json(500, {"error": "Replay has nothing queued"})
            return self._last

    def reset(self) -> None:
        """Drop queued answers and the record of requests."""
        with self._lock:
            self._queue.clear()
            self._last = None
            self.received.clear()
