"""The one HTTP transport every provider shares (urllib3).

One thread-safe :class:`Transport` holds one :class:`urllib3.PoolManager` (or the app's own:
proxy, CA bundle), connect and read timeouts, and the retry rule, :class:`RetryPolicy`:
exponential backoff with jitter on connection errors and on 429/502/503/504, for idempotent
methods only, honouring ``Retry-After`` up to a cap. Bodies are read up to a size cap. TLS is
verified; plain ``http://`` is refused unless the host is a loopback address. Secret headers
never reach a log line: they are replaced by ``***``, and personal query values are masked.
"""

from __future__ import annotations

import datetime
import email.utils
import functools
import http.client
import io
import ipaddress
import json
import logging
import math
import random
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus, urlencode, urlsplit

import attrs
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError, InvalidHeader, MaxRetryError, ProtocolError
from urllib3.util.retry import Retry
from urllib3.util.url import parse_url

from ._version import __version__
from .errors import MalformedResponse, ProviderUnavailable
from .redact import mask, redact_headers, scrub

__all__ = [
    "DEFAULT_MAX_BODY",
    "MAX_ENCODINGS",
    "USER_AGENT",
    "Request",
    "Response",
    "RetryPolicy",
    "Transport",
    "encode_query",
    "is_loopback_host",
]

log = logging.getLogger("kycbridge.transport")

USER_AGENT = f"kycbridge/{__version__}"
"""The ``User-Agent`` sent with every request."""

DEFAULT_MAX_BODY = 1024 * 1024
"""Default response size cap, in bytes."""

RETRY_STATUSES = frozenset({429, 502, 503, 504})
"""Statuses retried (idempotent methods only)."""

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@functools.lru_cache(maxsize=256)
def is_loopback_host(host: str | None) -> bool:
    """Whether ``host`` names this machine (``localhost``, 127.0.0.0/8 or ``::1``)."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@attrs.frozen
class _Target:
    """A request URL (without query) parsed once: where to send, or why not to."""

    problem: str | None
    scheme: str = ""
    host: str | None = None
    port: int | None = None
    request_uri: str = "/"


@functools.lru_cache(maxsize=256)
def _target(url: str) -> _Target:
    """Parse ``url`` (a provider's base URL and path, a handful per app): cached per URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return _Target(f"unsupported URL scheme {parts.scheme!r}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        return _Target("plain http:// is only allowed to loopback addresses; use https://")
    u = parse_url(url)  # what PoolManager.urlopen would do with it, on every call
    return _Target(None, u.scheme or parts.scheme, u.host, u.port, u.request_uri)


_NEEDS_QUOTING = re.compile(r"[^A-Za-z0-9_.~-]")
_QUOTED = {chr(c): quote_plus(chr(c)) for c in range(128)}


def _quote_char(match: re.Match[str]) -> str:
    char = match.group()
    return _QUOTED.get(char) or quote_plus(char)


def encode_query(params: Mapping[str, str]) -> str:
    """The query string of ``params``: exactly what :func:`urllib.parse.urlencode` gives.

    String keys and values are quoted by one regex pass that touches only the characters
    needing it (``@`` in an email), several times quicker than ``quote_plus``; anything
    else goes through ``urlencode``.
    """
    parts = []
    for key, value in params.items():
        if type(key) is str and type(value) is str:
            quoted = _NEEDS_QUOTING.sub(_quote_char, key), _NEEDS_QUOTING.sub(_quote_char, value)
            parts.append("=".join(quoted))
        else:
            parts.append(urlencode({key: value}))
    return "&".join(parts)


def _with_query(url: str, query: str) -> str:
    """``url`` with ``query`` appended (after ``&`` when the URL already has a query)."""
    if not query:
        return url
    return f"{url}{'&' if '?' in url else '?'}{query}"


class _PersonalParamFilter(logging.Filter):
    """Masks personal query values (``email=…``) in urllib3's own log lines.

    urllib3 logs request URLs (at DEBUG, and in its "Retrying" warnings). The transport
    registers the names of personal query parameters it sends; this filter, attached to
    urllib3's loggers, masks their values there. Other parameters are left alone.
    """

    def __init__(self) -> None:
        super().__init__()
        self._names: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, names: frozenset[str]) -> None:
        if names <= self._names:
            return
        with self._lock:
            self._names = self._names | names
            alternatives = "|".join(sorted(re.escape(n) for n in self._names))
            self._pattern = re.compile(rf"([?&](?:{alternatives})=)([^&\s\"']+)")

    def filter(self, record: logging.LogRecord) -> bool:
        pattern = self._pattern
        if pattern is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken record is not ours to fix
            return True
        masked = pattern.sub(lambda m: m.group(1) + quote(mask(unquote_plus(m.group(2)))), message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


_PERSONAL_FILTER = _PersonalParamFilter()
for _name in ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager"):
    logging.getLogger(_name).addFilter(_PERSONAL_FILTER)


class RetryPolicy(Retry):
    """urllib3's :class:`~urllib3.util.retry.Retry` with jitter and a ``Retry-After`` cap.

    Works the same on urllib3 1.26 and 2.x: backoff is ``backoff_factor * 2**(n-1)`` seconds,
    capped at ``max_backoff``, scaled by a random factor in ``[1 - jitter, 1]``; a
    ``Retry-After`` header wins over backoff but is capped at ``max_retry_after`` seconds.
    """

    max_backoff: float = 10.0
    max_retry_after: float = 30.0
    jitter: float = 0.5

    @classmethod
    def build(
        cls,
        retries: int = 3,
        *,
        backoff_factor: float = 0.25,
        max_backoff: float = 10.0,
        max_retry_after: float = 30.0,
        jitter: float = 0.5,
    ) -> RetryPolicy:
        """Build the policy kycbridge uses: ``retries`` retries of each kind at most."""
        policy = cls(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            other=0,
            redirect=0,
            backoff_factor=backoff_factor,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=IDEMPOTENT_METHODS,
            respect_retry_after_header=True,
            raise_on_status=False,
            raise_on_redirect=False,
        )
        policy.max_backoff = max_backoff
        policy.max_retry_after = max_retry_after
        policy.jitter = jitter
        return policy

    def new(self, **kw: Any) -> RetryPolicy:  # noqa: D102 - urllib3 API
        new: RetryPolicy = super().new(**kw)
        new.max_backoff = self.max_backoff
        new.max_retry_after = self.max_retry_after
        new.jitter = self.jitter
        return new

    def get_backoff_time(self) -> float:  # noqa: D102 - urllib3 API
        consecutive = 0
        for entry in reversed(self.history):
            if entry.redirect_location:
                break
            consecutive += 1
        if consecutive <= 1:
            return 0.0
        backoff = min(self.max_backoff, float(self.backoff_factor) * (2 ** (consecutive - 1)))
        return float(backoff * (1 - self.jitter * random.random()))

    def parse_retry_after(self, retry_after: str) -> float:  # noqa: D102 - urllib3 API
        try:
            seconds = float(super().parse_retry_after(retry_after))
        except InvalidHeader:
            return 0.0  # an unreadable Retry-After: fall back to backoff
        return min(seconds, self.max_retry_after)


@attrs.frozen(slots=False)  # made on every call: a dict class is quicker to build frozen
class Request:
    """An HTTP request a provider wants sent, with what must not be logged."""

    url: str
    """The absolute URL, without query string."""
    params: Mapping[str, str] = attrs.field(factory=dict)
    """Query parameters, encoded by the transport."""
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    """Request headers (secret ones included: this field is left out of the repr)."""
    method: str = "GET"
    secret_headers: frozenset[str] = frozenset()
    """Header names whose values are secrets: never logged, never shown."""
    personal_params: frozenset[str] = frozenset()
    """Query parameter names whose values are personal data: masked in logs."""

    @property
    def full_url(self) -> str:
        """The URL with its encoded query string."""
        return _with_query(self.url, encode_query(self.params))

    def secrets(self) -> list[str]:
        """The secret values this request carries, for scrubbing text."""
        names = {n.lower() for n in self.secret_headers}
        return [v for k, v in self.headers.items() if k.lower() in names]

    def loggable_url(self) -> str:
        """The URL with personal query values masked."""
        shown = {k: (mask(v) if k in self.personal_params else v) for k, v in self.params.items()}
        return _with_query(self.url, encode_query(shown))


@attrs.frozen(slots=False)  # made on every call: a dict class is quicker to build frozen
class Response:
    """An HTTP answer, read in full (up to the transport's size cap)."""

    status: int
    headers: Mapping[str, str]
    """Response headers. Look names up in lowercase: from the transport this is urllib3's
    case-insensitive ``HTTPHeaderDict``; a test may pass a plain dict with lowercase names."""
    body: bytes = attrs.field(repr=False)
    elapsed: float = 0.0
    """Seconds from sending to the end of the body."""

    @property
    def content_type(self) -> str:
        """The media type, lowercase, without parameters (``""`` when absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def excerpt(self, limit: int = 120) -> str:
        """The start of the body as text, for error messages."""
        text = self.body[: limit * 4].decode("utf-8", "replace")
        text = re.sub(r"\s+", " ", text).strip()
        return text if len(text) <= limit else text[:limit] + "…"

    def json(self, *, provider: str | None = None) -> Any:
        """Decode the body as JSON, or raise :class:`MalformedResponse` saying why."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise MalformedResponse(
                f"response body is not JSON: {self.excerpt()!r}",
                provider=provider,
                http_status=self.status,
            ) from None

    def retry_after(self) -> float | None:
        """The ``Retry-After`` header in seconds from now, ``None`` when absent or unreadable.

        Both forms of RFC 9110 are read: a number of seconds (``"120"``; fractions too) and an
        HTTP date (``"Wed, 21 Oct 2026 07:28:00 GMT"``), which gives the seconds until then
        by this machine's clock. A past date gives ``0.0``.
        """
        value = self.headers.get("retry-after")
        if value is None:
            return None
        seconds: float | None
        try:
            seconds = float(value)
        except ValueError:
            seconds = _seconds_until(value)
        if seconds is None or not math.isfinite(seconds):
            return None
        return max(0.0, seconds)


def _seconds_until(http_date: str) -> float | None:
    """Seconds from now until an HTTP date, or ``None`` when it is not one."""
    try:
        when = email.utils.parsedate_to_datetime(http_date.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, by RFC 5322
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp() - time.time()


# -- the deadline, enforced on every read of the socket ---------------------------------------
_CALL = threading.local()
"""``deadline``: the absolute :func:`time.monotonic` deadline of the call this thread is
sending (``None`` between calls), read by :class:`_GuardedHTTPResponse`."""


class _DeadlineSocketIO(socket.SocketIO):
    """A socket's read side where each ``recv`` waits at most until an absolute deadline.

    http.client reads the status line, the headers and the body through this; a server
    dripping one byte a second cannot hold a call past its deadline, whatever it drips.
    """

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__(sock, "rb")
        self._socket = sock
        self._deadline = deadline
        self._limit = sock.gettimeout()  # the per-read timeout urllib3 set for this attempt

    def readinto(self, b: Any) -> int | None:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the call's deadline passed")
        limit = self._limit
        self._socket.settimeout(remaining if limit is None or remaining < limit else limit)
        return super().readinto(b)


class _DeadlineSocket:
    """What a guarded response is built on: ``makefile`` gives a deadline-bound reader."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        sock: Any = self._sock
        sock._io_refs += 1  # what socket.makefile does: the socket outlives its reader
        return io.BufferedReader(_DeadlineSocketIO(self._sock, self._deadline))


class _GuardedHTTPResponse(http.client.HTTPResponse):
    """http.client's response, reading through :class:`_DeadlineSocketIO` during a call."""

    def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
        deadline = getattr(_CALL, "deadline", None)
        if deadline is not None:
            sock = _DeadlineSocket(sock, deadline)
        super().__init__(sock, *args, **kwargs)


class _GuardedHTTPConnection(HTTPConnection):
    response_class = _GuardedHTTPResponse


class _GuardedHTTPSConnection(HTTPSConnection):
    response_class = _GuardedHTTPResponse


class _GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


_GUARDED_POOLS: dict[str, type[HTTPConnectionPool]] = {
    "http": _GuardedHTTPConnectionPool,
    "https": _GuardedHTTPSConnectionPool,
}
"""The pool classes of the pool managers a :class:`Transport` makes itself."""


_ONE_ATTEMPT = Retry(False, redirect=False)
"""What each urlopen gets: one attempt, errors raised as they are (the loop retries)."""
_MAYBE_RETRIED = RETRY_STATUSES | Retry.RETRY_AFTER_STATUS_CODES

_SLACK = 0.005  # a socket timeout set to the time remaining may fire this much early


class _DeadlinePassed(Exception):
    """Raised inside :meth:`Transport.send` when the call's deadline has passed."""


# -- Content-Encoding, decoded under the size cap ---------------------------------------------
MAX_ENCODINGS = 2
"""Most ``Content-Encoding`` layers decoded (``gzip, gzip`` is two); more is malformed."""

_DECODED_CHUNK = 65536
_GZIP = {"gzip", "x-gzip"}
_CODINGS = _GZIP | {"deflate"}


class _Inflater:
    """One gzip or deflate layer, decoded incrementally: each step yields at most 64 KiB."""

    def __init__(self, coding: str) -> None:
        self.gzip = coding in _GZIP
        self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS if self.gzip else zlib.MAX_WBITS)
        self._probe: bytes | None = None if self.gzip else b""  # deflate: zlib-wrapped or raw?

    @property
    def complete(self) -> bool:
        return bool(self._obj.eof)

    def decode(self, data: bytes) -> Iterator[bytes]:
        obj = self._obj
        while True:
            if obj.eof:
                if not data:
                    return
                if not self.gzip:
                    raise zlib.error("data after the end of the deflate stream")
                self._obj = obj = zlib.decompressobj(16 + zlib.MAX_WBITS)  # next gzip member
            try:
                out = obj.decompress(data, _DECODED_CHUNK)
            except zlib.error:
                if self._probe is None:
                    raise
                # "deflate" sent as a raw stream (no zlib header): start over without one
                data, self._probe = self._probe + data, None
                self._obj = obj = zlib.decompressobj(-zlib.MAX_WBITS)
                continue
            if self._probe is not None:
                self._probe = None if out or len(self._probe) > 64 else self._probe + data
            data = obj.unused_data if obj.eof else obj.unconsumed_tail
            if out:
                yield out
            if not data and len(out) < _DECODED_CHUNK:
                return


def _inflaters(coding: str, status: int, provider: str | None) -> list[_Inflater]:
    """The decoders for a ``Content-Encoding`` header, or :class:`MalformedResponse`."""
    codings = [c.strip().lower() for c in coding.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    unknown = [c for c in codings if c not in _CODINGS]
    if unknown:
        raise MalformedResponse(
            f"unsupported Content-Encoding {coding[:60]!r} (identity was asked for)",
            provider=provider,
            http_status=status,
        )
    if len(codings) > MAX_ENCODINGS:
        raise MalformedResponse(
            f"{len(codings)} stacked Content-Encodings (at most {MAX_ENCODINGS} are decoded)",
            provider=provider,
            http_status=status,
        )
    return [_Inflater(c) for c in codings]


def _decoded(inflaters: list[_Inflater], data: bytes) -> Iterator[bytes]:
    """``data`` through every layer, last applied first, in pieces of at most 64 KiB."""
    *outer, last = inflaters
    for piece in last.decode(data):
        if outer:
            yield from _decoded(outer, piece)
        else:
            yield piece


class Transport:
    """The shared HTTP client: thread-safe, pooled, with timeouts, retries and a size cap.

    Pass ``pool`` to use the app's own :class:`urllib3.PoolManager` (or ``ProxyManager``);
    otherwise one is made, verifying TLS certificates.

    **Deadline.** Every call has one overall deadline covering connecting, the headers, the
    body, every retry and every ``Retry-After`` wait: ``call_timeout`` seconds from the start
    of :meth:`send` (default 60; ``None``: no overall limit), or the absolute ``deadline``
    given to :meth:`send`. Each attempt's connect and read timeouts are the configured ones,
    cut to what remains; a wait that would end past the deadline is not started (a status
    retry then returns the last answer, a connection error raises). On the pools the
    transport makes itself, every ``recv`` of the status line, the headers and the body
    waits at most until the deadline, so a server dripping a byte a second cannot hold a
    call; with an app's own pool the body is still read one ``recv`` at a time with the
    deadline checked between reads. Past it: :class:`ProviderUnavailable` ("no answer
    within the N s deadline"), the connection closed.

    **Encodings.** The transport asks for ``Accept-Encoding: identity`` and reads the body
    undecoded. A server that encodes anyway may use ``gzip`` or ``deflate``, at most
    :data:`MAX_ENCODINGS` layers; they are decoded incrementally, 64 KiB at a time, and
    ``max_body`` caps the *decoded* bytes as they are produced (and the bytes on the wire),
    so memory stays bounded by the cap whatever the compression ratio. Any other encoding
    (``br``, ``zstd``, unknown) or more layers is :class:`MalformedResponse`.
    """

    def __init__(
        self,
        pool: urllib3.PoolManager | None = None,
        *,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        call_timeout: float | None = 60.0,
        retries: int = 3,
        backoff_factor: float = 0.25,
        max_backoff: float = 10.0,
        max_retry_after: float = 30.0,
        max_body: int = DEFAULT_MAX_BODY,
        maxsize: int = 32,
        user_agent: str = USER_AGENT,
    ) -> None:
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if call_timeout is not None and not call_timeout > 0:
            raise ValueError("call_timeout must be positive (or None)")
        if retries < 0 or max_body <= 0:
            raise ValueError("retries must be >= 0 and max_body > 0")
        if pool is None:
            pool = urllib3.PoolManager(
                num_pools=16, maxsize=maxsize, block=False, cert_reqs="CERT_REQUIRED"
            )
            pool.pool_classes_by_scheme = _GUARDED_POOLS
        self.pool = pool
        self.timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self._longest = max(connect_timeout, read_timeout)
        self.call_timeout = call_timeout
        """Default overall seconds per :meth:`send` (``None``: no overall deadline)."""
        self._deadline: float | None = None
        self.retry = RetryPolicy.build(
            retries,
            backoff_factor=backoff_factor,
            max_backoff=max_backoff,
            max_retry_after=max_retry_after,
        )
        self.max_body = max_body
        self._headers: dict[str, str] = {}
        self.user_agent = user_agent
        self._lock = threading.Lock()
        self._sent = [0]  # shared by clones (with_timeout, until)
        self.sleep: Callable[[float], object] = time.sleep

    def __repr__(self) -> str:
        return (
            f"Transport(timeout={self.timeout!r}, call_timeout={self.call_timeout}, "
            f"retries={self.retry.total}, max_body={self.max_body})"
        )

    @property
    def requests_sent(self) -> int:
        """How many requests :meth:`send` was asked for (retries not counted)."""
        return self._sent[0]

    @property
    def pool(self) -> urllib3.PoolManager:
        """The pool manager requests go through (assignable: the transport adapts)."""
        return self._pool

    @pool.setter
    def pool(self, pool: urllib3.PoolManager) -> None:
        self._pool = pool
        self._pool_headers: Mapping[str, str] = getattr(pool, "headers", None) or {}
        # A plain PoolManager (not a proxy, urlopen not overridden) is routed by the
        # transport itself, from base URLs parsed once (see send).
        self._direct = (
            type(pool).urlopen is urllib3.PoolManager.urlopen
            and getattr(pool, "proxy", None) is None
        )
        # Made by the transport: every recv is bounded by the call's deadline.
        self._guarded = getattr(pool, "pool_classes_by_scheme", None) is _GUARDED_POOLS

    @property
    def user_agent(self) -> str:
        """The ``User-Agent`` header sent with every request."""
        return self._headers["User-Agent"]

    @user_agent.setter
    def user_agent(self, value: str) -> None:
        self._headers = {
            "User-Agent": value,
            "Accept": "application/json",
            "Accept-Encoding": "identity",
        }

    def _clone(self) -> Transport:
        clone = object.__new__(Transport)
        clone.__dict__.update(self.__dict__)  # the pool, the lock, the counter: shared
        return clone

    def with_timeout(self, seconds: float) -> Transport:
        """A transport sharing this one's pool, with both per-attempt timeouts ``seconds``."""
        clone = self._clone()
        clone.timeout = urllib3.Timeout(connect=seconds, read=seconds)
        clone._longest = seconds
        return clone

    def with_call_timeout(self, seconds: float | None) -> Transport:
        """A transport sharing this one's pool, with ``call_timeout`` set to ``seconds``."""
        if seconds is not None and not seconds > 0:
            raise ValueError("call_timeout must be positive (or None)")
        clone = self._clone()
        clone.call_timeout = seconds
        return clone

    def until(self, deadline: float | None) -> Transport:
        """A transport sharing this one's pool whose calls all end by ``deadline``.

        ``deadline`` is an absolute :func:`time.monotonic` value (``None``: this transport
        itself). For handing a deadline through code that calls :meth:`send` without one,
        such as a provider's ``fetch``.
        """
        if deadline is None:
            return self
        clone = self._clone()
        clone._deadline = deadline
        return clone

    def send(
        self, request: Request, *, provider: str | None = None, deadline: float | None = None
    ) -> Response:
        """Send ``request``; return the response whatever its status.

        ``deadline``: an absolute :func:`time.monotonic` value the whole call (retries and
        waits included) must end by; default: :attr:`call_timeout` seconds from now.
        Raises :class:`ProviderUnavailable` for timeouts and connection errors once retries
        are spent or the deadline has passed, and :class:`MalformedResponse` for a body over
        the size cap or in an encoding not decoded. Plain ``http://`` to anything but
        loopback raises :class:`ValueError` before sending.
        """
        target = _target(request.url)
        if target.problem:
            raise ValueError(target.problem)
        # An app pool's own headers, then ours, then the request's.
        headers = {**self._pool_headers, **self._headers, **request.headers}
        with self._lock:
            self._sent[0] += 1
        if request.personal_params:
            _PERSONAL_FILTER.add(request.personal_params)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s headers=%s",
                request.method,
                request.loggable_url(),
                redact_headers(headers, request.secret_headers),
            )
        started = time.monotonic()
        if deadline is None:
            deadline = self._deadline
            if deadline is None and self.call_timeout is not None:
                deadline = started + self.call_timeout
        try:
            raw, body = self._exchange(request, target, headers, provider, deadline)
        except _DeadlinePassed:
            assert deadline is not None
            raise self._late(request, provider, deadline - started) from None
        except HTTPError as exc:
            if deadline is not None and time.monotonic() >= deadline - _SLACK:
                raise self._late(request, provider, deadline - started) from None
            cause = exc.reason or exc if isinstance(exc, MaxRetryError) else exc
            raise self._unavailable(request, provider, cause) from None
        elapsed = time.monotonic() - started
        response = Response(status=raw.status, headers=raw.headers, body=body, elapsed=elapsed)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s -> %s (%d bytes, %.1f ms)",
                request.method,
                request.loggable_url(),
                response.status,
                len(body),
                elapsed * 1000,
            )
        return response

    def _exchange(
        self,
        request: Request,
        target: _Target,
        headers: dict[str, str],
        provider: str | None,
        deadline: float | None,
    ) -> tuple[Any, bytes]:
        """The attempts: urllib3 sends each (``retries=False``), ``self.retry`` decides."""
        retry: Retry = self.retry
        method = request.method
        while True:
            timeout = self.timeout
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _DeadlinePassed
                if remaining < self._longest:
                    timeout = urllib3.Timeout(
                        connect=min(timeout.connect_timeout, remaining),  # type: ignore[type-var]
                        read=min(timeout.read_timeout, remaining),  # type: ignore[type-var]
                    )
            _CALL.deadline = deadline
            try:
                raw = self._urlopen(request, target, headers, timeout)
            except HTTPError as exc:
                if deadline is not None and time.monotonic() >= deadline - _SLACK:
                    raise _DeadlinePassed from None
                # MaxRetryError when spent; the error itself when not retryable (a POST)
                retry = retry.increment(method, request.url, error=exc)
                self._wait(retry.get_backoff_time(), deadline, request)
                continue
            finally:
                _CALL.deadline = None
            if raw.status in _MAYBE_RETRIED and retry.is_retry(
                method, raw.status, "retry-after" in raw.headers
            ):
                try:
                    following = retry.increment(method, request.url, response=raw)
                except MaxRetryError:
                    pass  # retries spent: this answer is the answer
                else:
                    wait = following.get_retry_after(raw) or following.get_backoff_time()
                    if deadline is None or time.monotonic() + wait < deadline:
                        raw.close()  # its body is not read: the connection cannot be reused
                        raw.release_conn()
                        log.info(
                            "%s %s answered %s; retrying in %.2f s",
                            method,
                            request.loggable_url(),
                            raw.status,
                            wait,
                        )
                        self.sleep(wait)
                        retry = following
                        continue
                    # the wait would end past the deadline: this answer is the answer
            try:
                _CALL.deadline = deadline
                body = self._read_capped(raw, provider, deadline)
            except BaseException:
                raw.close()  # never hand a half-read connection back to the pool
                raise
            finally:
                _CALL.deadline = None
                raw.release_conn()
            return raw, body

    def _urlopen(
        self, request: Request, target: _Target, headers: dict[str, str], timeout: Any
    ) -> Any:
        if self._direct:
            # What PoolManager.urlopen does without redirects, minus parsing the URL
            # again on every call: the host's pool, then the request URI.
            uri = _with_query(target.request_uri, encode_query(request.params))
            return self.pool.connection_from_host(
                target.host, port=target.port, scheme=target.scheme
            ).urlopen(
                request.method,
                uri,
                headers=headers,
                retries=_ONE_ATTEMPT,
                timeout=timeout,
                redirect=False,
                assert_same_host=False,
                preload_content=False,
                decode_content=False,
            )
        # an app's own pool manager (a proxy, a subclass): let it route
        return self.pool.urlopen(
            request.method,
            request.full_url,
            headers=headers,
            retries=_ONE_ATTEMPT,
            timeout=timeout,
            redirect=False,
            preload_content=False,
            decode_content=False,
        )

    def _wait(self, seconds: float, deadline: float | None, request: Request) -> None:
        """Sleep ``seconds`` before a retry, unless that would end past the deadline."""
        if deadline is not None and time.monotonic() + seconds >= deadline:
            raise _DeadlinePassed
        if seconds > 0:
            log.info("%s %s: retrying in %.2f s", request.method, request.loggable_url(), seconds)
            self.sleep(seconds)

    def _read_capped(self, raw: Any, provider: str | None, deadline: float | None) -> bytes:
        """The body, undecoded on the wire, decoded (gzip/deflate) under ``max_body``."""
        headers = raw.headers
        declared = headers.get("content-length")
        declared = int(declared) if declared and declared.isdigit() else None
        cap = self.max_body
        if declared is not None and declared > cap:
            raise MalformedResponse(
                f"response body of {declared} bytes exceeds the {cap}-byte cap",
                provider=provider,
                http_status=raw.status,
            )
        coding = headers.get("content-encoding")
        inflaters = _inflaters(coding, raw.status, provider) if coding else None
        if declared is not None and not inflaters and self._guarded:
            # Within the cap by the check above, http.client reads no more than declared and
            # every recv is bounded by the deadline: one read. urllib3 1.26 does not enforce
            # Content-Length, so a body cut short is checked here: a dropped connection.
            body: bytes = raw.read(decode_content=False)
            if len(body) < declared:
                raise ProtocolError(f"connection dropped after {len(body)} of {declared} bytes")
            return body
        read1 = _reader(raw)
        chunks: list[bytes] = []
        size = wire = 0
        while True:
            if deadline is not None and time.monotonic() >= deadline:
                raise _DeadlinePassed
            chunk = read1(65536)
            if not chunk:
                break
            wire += len(chunk)
            if wire > cap:
                raise self._over_cap(raw, provider)
            if not inflaters:
                chunks.append(chunk)
                continue
            try:
                for piece in _decoded(inflaters, chunk):
                    size += len(piece)
                    if size > cap:
                        raise self._over_cap(raw, provider, decoded=True)
                    chunks.append(piece)
            except zlib.error as exc:
                raise self._bad_encoding(raw, provider, coding, exc) from None
        if declared is not None and wire < declared:
            raise ProtocolError(f"connection dropped after {wire} of {declared} bytes")
        if inflaters and wire and not all(i.complete for i in inflaters):
            raise self._bad_encoding(raw, provider, coding, "truncated")
        return b"".join(chunks)

    def _over_cap(self, raw: Any, provider: str | None, decoded: bool = False) -> MalformedResponse:
        what = "decoded response body" if decoded else "response body"
        return MalformedResponse(
            f"{what} exceeds the {self.max_body}-byte cap",
            provider=provider,
            http_status=raw.status,
        )

    @staticmethod
    def _bad_encoding(
        raw: Any, provider: str | None, coding: str | None, why: object
    ) -> MalformedResponse:
        return MalformedResponse(
            f"response body is not valid {str(coding)[:60]!r}: {why}",
            provider=provider,
            http_status=raw.status,
        )

    def _late(self, request: Request, provider: str | None, budget: float) -> ProviderUnavailable:
        log.warning(
            "%s %s: no answer within the %.3g s deadline",
            request.method,
            request.loggable_url(),
            budget,
        )
        return ProviderUnavailable(
            f"no answer within the {max(budget, 0.0):.3g} s deadline", provider=provider
        )

    def _unavailable(
        self, request: Request, provider: str | None, cause: BaseException
    ) -> ProviderUnavailable:
        reason = scrub(f"{type(cause).__name__}: {cause}", request.secrets())
        for name in request.personal_params:
            value = request.params.get(name)
            if value:
                reason = reason.replace(value, mask(value))
                reason = reason.replace(urlencode({"v": value})[2:], mask(value))
        log.warning("%s %s failed: %s", request.method, request.loggable_url(), reason)
        return ProviderUnavailable(f"no answer after retries: {reason}", provider=provider)


def _reader(raw: Any) -> Callable[[int], bytes]:
    """A function reading at most one ``recv`` of ``raw``'s body, undecoded."""
    read1 = getattr(raw, "read1", None)
    if read1 is not None:  # urllib3 >= 2.3
        return lambda amt: read1(amt, decode_content=False)
    fp = raw._fp  # http.client's response (urllib3 1.26, 2.0-2.2)

    def read(amt: int) -> bytes:
        try:
            data: bytes = fp.read1(amt)
        except (OSError, http.client.HTTPException) as exc:
            raise ProtocolError(f"connection broken: {type(exc).__name__}") from exc
        return data

    return read
