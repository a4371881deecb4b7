"""A hostile HTTP server on loopback, for testing that a client survives bad servers.

>>> with HostileServer() as hostile:                         # doctest: +SKIP
...     settings = {"base_url": hostile.url("drip-body")}
...     # a provider pointed there must end in a typed error within its deadline

Each behaviour is selected by the first path segment of the request, so a provider whose
base URL is ``hostile.url(name)`` meets it on whatever path it appends. Everything stays on
loopback and is bounded in time: every drip or silence stops by itself after
``drip_seconds`` (default 120 s), when the client goes away, or when the server stops.

Behaviours (:data:`BEHAVIOURS`):

``drip-body``
    200 with headers at once, then the body one byte per ``drip_interval`` seconds.
``drip-headers``
    the status line and headers one byte per ``drip_interval`` seconds.
``silent``
    reads the request, then says nothing.
``gzip-bomb``
    1 GiB of zeros, gzipped once (about 1 MB on the wire), ``Content-Encoding: gzip``.
``gzip-bomb-stacked``
    the same, gzipped twice (1,827 bytes on the wire), ``Content-Encoding: gzip, gzip``.
``redirect-external``
    302 to a host that is not loopback.
``redirect-loopback``
    302 to ``echo-headers`` on a second loopback port (:attr:`HostileServer.other`): a
    client following it would send its secrets there; :attr:`HostileServer.requests` shows
    whether it did.
``control-chars``
    200 JSON whose string values hold terminal escapes (ESC sequences, C1 controls, BEL,
    bidi overrides).
``echo-headers``
    200 JSON echoing the request's headers (secrets included) in every string field.
``echo-headers-error``
    the same with status 400.
``huge``
    200 JSON of 16 MiB, without ``Content-Length`` (read until the connection closes).
``deep``
    200 JSON nested 100,000 levels deep.
``nan``
    200 JSON with ``NaN`` and ``Infinity`` where values are expected.
``duplicate-keys``
    200 JSON repeating each key with different values.
``not-found-foreign``
    404 with an HTML body from some other server.
``retry-after``
    503 with ``Retry-After: 30``, every time.
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

__all__ = ["BEHAVIOURS", "HostileRequest", "HostileServer", "behaviours", "gzip_bomb"]

BEHAVIOURS: tuple[str, ...] = (
    "drip-body",
    "drip-headers",
    "silent",
    "gzip-bomb",
    "gzip-bomb-stacked",
    "redirect-external",
    "redirect-loopback",
    "control-chars",
    "echo-headers",
    "echo-headers-error",
    "huge",
    "deep",
    "nan",
    "duplicate-keys",
    "not-found-foreign",
    "retry-after",
)
"""Every behaviour's name (the first path segment selecting it)."""

_BOMB_SIZE = 1 << 30
_BOMBS: dict[int, bytes] = {}
_BOMB_LOCK = threading.Lock()
_HOSTILE_TEXT = (
    "\x1b[2J\x1b[31mred\x1b[0m \x1b]0;owned\x07 \x9b31m \x85 \x90 \x9d \u202etxt \x00 \x7f \r\n"
)


def gzip_bomb(layers: int = 1) -> bytes:
    """1 GiB of zeros gzipped ``layers`` times (made once per process, streaming).

    One layer is about 1 MB, two are 1,827 bytes. The gigabyte is never held in memory:
    it is compressed 1 MiB at a time.
    """
    with _BOMB_LOCK:
        if layers in _BOMBS:
            return _BOMBS[layers]
        if layers == 1:
            gz = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
            zeros = bytes(1 << 20)
            parts = [gz.compress(zeros) for _ in range(_BOMB_SIZE // len(zeros))]
            parts.append(gz.flush())
            data = b"".join(parts)
        else:
            _BOMB_LOCK.release()
            try:
                inner = gzip_bomb(layers - 1)
            finally:
                _BOMB_LOCK.acquire()
            gz = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
            data = gz.compress(inner) + gz.flush()
        _BOMBS[layers] = data
        return data


@attrs.frozen
class HostileRequest:
    """A request the hostile server received: which server, the path, the headers."""

    port: int
    path: str
    headers: dict[str, str] = attrs.field(repr=False)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        hostile = self.server.hostile
        hostile._record(HostileRequest(self.server.server_port, self.path, dict(self.headers)))
        name = self.path.lstrip("/").split("/", 1)[0].split("?", 1)[0]
        action = getattr(self, "_" + name.replace("-", "_"), None)
        if name not in BEHAVIOURS or action is None:
            self._json(404, {"error": f"no hostile behaviour {name[:40]!r}"})
            return
        try:
            action()
        except OSError:  # the client went away: the behaviour ends
            self.close_connection = True

    do_POST = do_HEAD = do_PUT = do_DELETE = do_GET

    # -- helpers -------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        headers = {"Content-Type": "application/json", **(headers or {})}
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), headers)

    def _drip(self, data: bytes) -> None:
        hostile = self.server.hostile
        ends = time.monotonic() + hostile.drip_seconds
        for i in range(len(data)):
            if time.monotonic() >= ends or hostile._stopping.is_set():
                break
            self.wfile.write(data[i : i + 1])
            self.wfile.flush()
            if hostile._stopping.wait(hostile.drip_interval):
                break
        self.close_connection = True

    def _payload(self, value: str) -> dict[str, Any]:
        """A JSON object with ``value`` in every field a provider might read."""
        fields = ("status", "state", "kycStatus", "message", "error", "code", "detail")
        data: dict[str, Any] = dict.fromkeys(fields, value)
        data["data"] = dict(data)
        data["response"] = dict(data)
        return data

    # -- the behaviours ------------------------------------------------------------------
    def _drip_body(self) -> None:
        count = int(self.server.hostile.drip_seconds / self.server.hostile.drip_interval) + 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(count + 2))
        self.end_headers()
        self.wfile.flush()
        self._drip(b'"' + b" " * count + b'"')

    def _drip_headers(self) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + b"X-Pad: " + b"a" * 4096
        self._drip(head)

    def _silent(self) -> None:
        hostile = self.server.hostile
        hostile._stopping.wait(hostile.drip_seconds)
        self.close_connection = True

    def _gzip_bomb(self) -> None:
        self._send(200, gzip_bomb(1), {"Content-Encoding": "gzip"})

    def _gzip_bomb_stacked(self) -> None:
        self._send(200, gzip_bomb(2), {"Content-Encoding": "gzip, gzip"})

    def _redirect_external(self) -> None:
        self._json(302, {}, {"Location": "https://hostile.example.com/echo-headers/steal"})

    def _redirect_loopback(self) -> None:
        other = self.server.hostile.other_url("echo-headers")
        self._json(302, {}, {"Location": f"{other}/steal"})

    def _control_chars(self) -> None:
        self._json(200, self._payload(_HOSTILE_TEXT))

    def _echo_headers(self, status: int = 200) -> None:
        echoed = "; ".join(f"{k}: {v}" for k, v in self.headers.items())
        payload = self._payload(echoed)
        payload["headers"] = dict(self.headers)
        self._json(status, payload)

    def _echo_headers_error(self) -> None:
        self._echo_headers(400)

    def _huge(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b'{"status": "')
        block = b"x" * 65536
        for _ in range(256):  # 16 MiB
            if self.server.hostile._stopping.is_set():
                break
            self.wfile.write(block)
        self.wfile.write(b'"}')
        self.close_connection = True

    def _deep(self) -> None:
        self._send(200, b"[" * 100_000 + b"]" * 100_000)

    def _nan(self) -> None:
        self._send(200, b'{"status": NaN, "state": Infinity, "data": {"status": -Infinity}}')

    def _duplicate_keys(self) -> None:
        body = b'{"status": "approved", "status": "rejected", "state": 1, "state": "x"}'
        self._send(200, body)

    def _not_found_foreign(self) -> None:
        body = b"<html><head><title>404 Not Found</title></head><body>nginx</body></html>"
        self._send(404, body, {"Content-Type": "text/html"})

    def _retry_after(self) -> None:
        self._json(503, {"error": "busy"}, {"Retry-After": "30"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    hostile: HostileServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up on a hostile answer is the point


class HostileServer:
    """The hostile server: a context manager serving :data:`BEHAVIOURS` on two loopback ports.

    ``drip_interval``: seconds between dripped bytes (default 1). ``drip_seconds``: longest
    any drip or silence lasts (default 120). :attr:`requests` lists what both ports received.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        *,
        drip_interval: float = 1.0,
        drip_seconds: float = 120.0,
    ) -> None:
        self.host = host
        self.drip_interval = drip_interval
        self.drip_seconds = drip_seconds
        self.requests: list[HostileRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []

    def __repr__(self) -> str:
        return f"<HostileServer {self.base_url if self._servers else 'stopped'}>"

    def start(self) -> HostileServer:
        """Bind both ports and serve in background threads."""
        if self._servers:
            return self
        self._stopping.clear()
        for _ in range(2):
            server = _Server((self.host, 0), _Handler)
            server.hostile = self
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
            )
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """End every drip and silence, stop serving, close both ports."""
        self._stopping.set()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The main port."""
        return int(self._servers[0].server_port)

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the main port."""
        return f"http://{self.host}:{self.port}"

    def url(self, behaviour: str) -> str:
        """The base URL that selects ``behaviour`` (a name from :data:`BEHAVIOURS`)."""
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"no hostile behaviour {behaviour!r}")
        return f"{self.base_url}/{behaviour}"

    def other_url(self, behaviour: str) -> str:
        """The same on the second port (where ``redirect-loopback`` points)."""
        return f"http://{self.host}:{int(self._servers[1].server_port)}/{behaviour}"

    @property
    def other(self) -> int:
        """The second port."""
        return int(self._servers[1].server_port)

    def reset(self) -> None:
        """Forget the requests received."""
        with self._lock:
            self.requests.clear()

    def _record(self, request: HostileRequest) -> None:
        with self._lock:
            if len(self.requests) < 10_000:
                self.requests.append(request)


def behaviours(*, slow: bool = True) -> Iterator[str]:
    """The behaviour names; ``slow=False`` leaves out those that only end at a deadline."""
    waits = {"drip-body", "drip-headers", "silent"}
    return (b for b in BEHAVIOURS if slow or b not in waits)
