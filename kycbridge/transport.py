"""The one HTTP transport every provider shares (urllib3).

One thread-safe :class:`Transport` holds one :class:`urllib3.PoolManager` (or the app's own:
proxy, CA bundle), connect and read timeouts, and the retry rule, :class:`RetryPolicy`:
exponential backoff with jitter on connection errors and on 429/502/503/504, for idempotent
methods only, honouring ``Retry-After`` up to a cap. Bodies are read up to a size cap. TLS is
verified. Secret headers never reach a log line: they are replaced by ``***``, and personal
query values are masked.

What may be sent is decided before any I/O, and refusals are :class:`InvalidQuery`:

- URLs (:func:`check_base_url`): one parse, urllib3's own :func:`~urllib3.util.url.parse_url`
  (what urllib3 connects with), decides the scheme, host, port, the loopback rule and the
  connection target. User info, backslashes, whitespace, control and non-ASCII characters, a
  percent-encoded host, IPv6 zone ids and fragments are refused before parsing; so are schemes
  other than http(s) and plain ``http://`` to anything not loopback. Loopback
  (:func:`is_loopback_host`) is a literal 127.0.0.0/8 or ``::1`` address (IPv4-mapped too) or
  exactly ``localhost``; ``*.localhost`` is *not*: what the system resolver makes of a name is
  no proof it stays on this machine.
- Headers: names must be tokens, values latin-1 without control characters (no CR/LF header
  injection); the error names the header, never the value.

Answers are strict JSON (:meth:`Response.json`): duplicate keys, NaN/Infinity, nesting deeper
than :data:`MAX_JSON_DEPTH` and numbers longer than :data:`MAX_JSON_NUMBER_LENGTH` characters
are :class:`MalformedResponse`.
"""

from __future__ import annotations

import datetime
import email.utils
import enum
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
import types
import zlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus, urlencode

import attrs
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    HTTPError,
    InvalidHeader,
    LocationParseError,
    MaxRetryError,
    ProtocolError,
)
from urllib3.util.retry import Retry
from urllib3.util.url import parse_url

from . import strictjson
from ._version import __version__
from .errors import InvalidQuery, MalformedResponse, ProviderUnavailable
from .redact import mask, redact_headers, scrub
from .strictjson import MAX_JSON_DEPTH, MAX_JSON_NUMBER_LENGTH

__all__ = [
    "DEFAULT_MAX_BODY",
    "MAX_ENCODINGS",
    "MAX_JSON_DEPTH",
    "MAX_JSON_NUMBER_LENGTH",
    "USER_AGENT",
    "Request",
    "Response",
    "RetryPolicy",
    "Transport",
    "check_base_url",
    "encode_query",
    "install_log_filter",
    "is_loopback_host",
    "is_sendable_text",
    "json_body",
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
    """Whether ``host`` certainly names this machine, without asking a resolver.

    Loopback is a literal address in 127.0.0.0/8, ``::1`` (bracketed or not), an IPv4-mapped
    ``::ffff:127.x.y.z``, or exactly the name ``localhost`` (any case). Nothing else: not
    ``foo.localhost``, not ``localhost.``, not ``127.1``, not an address with a zone id
    (``%eth0``), whatever the system resolver would make of them.
    """
    if not host or "%" in host:
        return False
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


@attrs.frozen
class _Target:
    """A request URL (without query) parsed once: where to send, or why not to."""

    problem: str | None
    scheme: str = ""
    host: str | None = None
    port: int | None = None
    request_uri: str = "/"
    url: str = ""
    """The URL as urllib3 normalizes it (lowercase scheme and host, path percent-encoded)."""


# Printable ASCII only: no whitespace, no control character (C0, DEL, C1), nothing non-ASCII
# (an international host name is written in its xn-- form).
_URL_UNSAFE = re.compile(r"[^\x21-\x7e]")
_URL_START = re.compile(r"https?://", re.IGNORECASE)


def _url_problem(url: str) -> str | None:
    """Why ``url`` is refused before it is even parsed, or ``None``. Never quotes the URL."""
    if not _URL_START.match(url):
        return "the URL scheme must be http:// or https://"
    if "\\" in url:
        return "the URL contains a backslash"
    if _URL_UNSAFE.search(url):
        return "the URL contains whitespace, a control character or a non-ASCII character"
    if "#" in url:
        return "the URL must not have a fragment (#...)"
    authority = re.split(r"[/?]", url.split("://", 1)[1], maxsplit=1)[0]
    if "@" in authority:
        return "the URL must not carry user info (user:password@host); send credentials in settings"
    if "%" in authority:
        return "the URL's host must not be percent-encoded or carry an IPv6 zone id"
    return None


@functools.lru_cache(maxsize=256)
def _target(url: str) -> _Target:
    """Parse ``url`` once, with urllib3's own parser, and decide on that parse alone.

    The scheme, the host, the port, the loopback rule and the connection target all come from
    one :func:`urllib3.util.url.parse_url` result: the parser urllib3 connects with, so that no
    URL can mean one host to the check and another to the connection. Cached per URL (a
    provider's base URL and path: a handful per app).
    """
    problem = _url_problem(url)
    if problem:
        return _Target(problem)
    try:
        u = parse_url(url)
    except LocationParseError:  # its message quotes the URL: not ours to show
        return _Target("the URL's host or port is not valid")
    if u.scheme not in ("http", "https") or u.auth is not None:  # ruled out above
        return _Target("the URL scheme must be http:// or https://")
    if not u.host:
        return _Target("the URL has no host")
    if u.port == 0:
        return _Target("the URL's port must be between 1 and 65535")
    if u.scheme == "http" and not is_loopback_host(u.host):
        return _Target(
            "plain http:// is only allowed to a loopback address (127.0.0.0/8, ::1 or "
            "localhost); use https://"
        )
    return _Target(None, u.scheme, u.host, u.port, u.request_uri, u.url)


def check_base_url(url: str) -> str:
    """Check a URL the way the transport does before sending; return it normalized.

    Raises :class:`~kycbridge.errors.InvalidQuery` (the message says what is wrong and never
    quotes the URL, which might carry a password) for: anything but ``http://`` or
    ``https://``; user info (any ``@`` before the host); a backslash, whitespace, a control
    character or a non-ASCII character anywhere; a fragment; a percent-encoded host or an
    IPv6 zone id; a missing host or an invalid port; plain ``http://`` to a host that is not
    loopback (see :func:`is_loopback_host`). A query string is allowed here (a provider's
    settings validator may refuse one).

    Plugins call it from their settings validators so that a bad base URL fails at settings
    time; the transport checks every request URL again when sending, and that check decides.
    """
    if not isinstance(url, str):
        raise InvalidQuery(f"the URL must be a string, not {type(url).__name__}")
    target = _target(url)
    if target.problem:
        raise InvalidQuery(target.problem)
    return target.url


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
            if not (key.isascii() and key.isalnum()):  # a plain name needs no quoting
                key = _NEEDS_QUOTING.sub(_quote_char, key)
            parts.append(f"{key}={_NEEDS_QUOTING.sub(_quote_char, value)}")
        else:
            parts.append(urlencode({key: value}))
    return "&".join(parts)


def _with_query(url: str, query: str) -> str:
    """``url`` with ``query`` appended (after ``&`` when the URL already has a query)."""
    if not query:
        return url
    return f"{url}{'&' if '?' in url else '?'}{query}"


_SCOPE = threading.local()
"""The request the calling thread is sending (``request``), for masking urllib3's lines."""


class _PersonalParamFilter(logging.Filter):
    """Masks personal values in urllib3's own log lines (query and path alike).

    urllib3 logs request URLs (at DEBUG, and in its "Retrying" warnings), in the thread
    that sends. While :meth:`Transport.send` sends a request, it is the thread's current
    request (``_SCOPE``): its personal values are masked wherever they occur in a line,
    encoded or not. Outside of a send, the values of the personal query parameter names
    registered so far are masked by name. Nothing per subject is kept.
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
        request: Request | None = getattr(_SCOPE, "request", None)
        if pattern is None and request is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken record is not ours to fix
            return True
        masked = message
        if request is not None:
            masked = request.redact(masked)
        if pattern is not None:
            masked = pattern.sub(
                lambda m: m.group(1) + quote(mask(unquote_plus(m.group(2)))), masked
            )
        if masked != message:
            record.msg, record.args = masked, ()
        return True


_PERSONAL_FILTER = _PersonalParamFilter()
_URLLIB3_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager")
_installed = False


def install_log_filter() -> None:
    """Attach the personal-data filter to urllib3's loggers (once; idempotent, thread-safe).

    Called when the first :class:`Transport` is made; nothing is attached on import.
    """
    global _installed
    if _installed:
        return
    with _PERSONAL_FILTER._lock:
        if not _installed:
            for name in _URLLIB3_LOGGERS:
                logging.getLogger(name).addFilter(_PERSONAL_FILTER)
            _installed = True


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


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]+")
_PATH_LITERAL = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*")


@attrs.frozen
class _Template:
    """A path template split once: literals around the placeholders, which are named."""

    literals: tuple[str, ...]
    names: tuple[str, ...]
    name_set: frozenset[str]


@functools.lru_cache(maxsize=256)
def _template(path: str) -> _Template:
    """Parse a path template (a handful per provider: cached per template, never per value)."""
    pieces = _PLACEHOLDER.split(path)
    literals, names = tuple(pieces[0::2]), tuple(pieces[1::2])
    for literal in literals:
        if not _PATH_LITERAL.fullmatch(literal):
            raise ValueError(
                f"invalid path template {path!r}: only path characters and {{name}} placeholders"
            )
    if not path.startswith("/"):
        raise ValueError(f"invalid path template {path!r}: it must start with '/'")
    if len(set(names)) != len(names):
        raise ValueError(f"invalid path template {path!r}: a placeholder is repeated")
    return _Template(literals, names, frozenset(names))


@functools.lru_cache(maxsize=256)
def _split_base(url: str) -> tuple[str, str, str | None]:
    """``url`` split into origin, path and query, as urllib3 sends them.

    ``url`` is a base URL and static path: cached per base URL, a handful per app.
    """
    try:
        parsed = parse_url(url)  # the one parser: the one urllib3 connects with
    except Exception:  # an unparseable URL is refused by the transport with its own reason
        return url, "", None
    return f"{parsed.scheme}://{parsed.netloc}", parsed.path or "", parsed.query


def _encode_segment(name: str, value: object) -> str:
    """One path parameter, percent-encoded so that it cannot leave its segment."""
    text = value if type(value) is str else str(value)
    if text in ("", ".", ".."):
        raise ValueError(f"path parameter {name!r} must not be empty, '.' or '..'")
    if _UNRESERVED.fullmatch(text):
        return text  # ids and UUIDs: nothing to encode
    try:
        return quote(text, safe="")
    except UnicodeEncodeError:
        raise ValueError(f"path parameter {name!r} is not encodable text") from None


def _expand(
    template: str, values: Mapping[str, object], masked: frozenset[str] = frozenset()
) -> str:
    """``template`` with each placeholder replaced by its encoded value (masked ones masked)."""
    parsed = _template(template)
    if values.keys() != parsed.name_set:
        missing = sorted(parsed.name_set - values.keys())
        unknown = sorted(set(values) - parsed.name_set)
        raise ValueError(f"path parameters: missing {missing}, unknown {unknown}")
    parts = [parsed.literals[0]]
    for name, literal in zip(parsed.names, parsed.literals[1:], strict=True):
        value = values[name]
        if name in masked:
            parts.append(quote(mask(value), safe=""))
        else:
            parts.append(_encode_segment(name, value))
        parts.append(literal)
    return "".join(parts)


def json_body(payload: Any) -> bytes:
    """``payload`` as compact, deterministic JSON bytes (sorted keys, UTF-8): a request body.

    The same payload always gives the same bytes, so a signature computed over them holds.
    NaN and infinities are refused (``ValueError``): they are not JSON.
    """
    return json.dumps(
        payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


_NO_PARAMS: Mapping[str, str] = types.MappingProxyType({})


# made on every call: a dict class is quicker to build frozen; the repr is masked (below)
def is_sendable_text(value: str) -> bool:
    """Whether ``value`` can be sent in a URL: it has a UTF-8 form (no lone surrogate)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _sendable_values(instance: Any, attribute: attrs.Attribute[Any], values: Any) -> None:
    """Refuse a query or path parameter whose text cannot be sent (a lone surrogate).

    Such a value has no UTF-8 form, so it cannot be percent-encoded: refused when the request
    is built, as :class:`InvalidQuery` naming the parameter (never its value).
    """
    for name, value in values.items():
        if type(value) is str and not is_sendable_text(value):
            kind = "path parameter" if attribute.name == "path_params" else "query parameter"
            raise InvalidQuery(
                f"{kind} {name!r} cannot be sent: it is not valid text (it holds a lone surrogate)"
            )


@attrs.frozen(slots=False, repr=False)
class Request:
    """An HTTP request a provider wants sent, with what must not be logged.

    ``url`` is the provider's base URL and any *static* path; whatever names the subject goes
    in ``path_params`` (filled into the ``path`` template, each value percent-encoded into
    its own segment) or ``params`` (the query string), never into ``url``::

        Request(
            url=settings.base_url,
            path="/v1/sessions/{session_id}/decision",
            path_params={"session_id": query.session_id},
            personal_params=frozenset({"session_id"}),
        )
    """

    url: str
    """The absolute base URL (and static path), without query string. The transport parses
    it once per distinct value (a cache): never put per-subject data in it."""
    params: Mapping[str, str] = attrs.field(factory=dict, validator=_sendable_values)
    """Query parameters, encoded by the transport (text that cannot be encoded, such as a
    lone surrogate, is refused when the request is built: :class:`InvalidQuery`)."""
    headers: Mapping[str, str] = attrs.field(factory=dict)
    """Request headers (secret ones included: the repr shows none of them)."""
    method: str = "GET"
    secret_headers: frozenset[str] = frozenset()
    """Header names whose values are secrets: never logged, never shown."""
    personal_params: frozenset[str] = frozenset()
    """Names of query *and* path parameters whose values are personal data: masked wherever
    a URL is logged or shown, and in error text."""
    path: str = ""
    """A path template appended to ``url``: literal path text and ``{name}`` placeholders
    (``"/resources/applicants/-;externalUserId={user_id}/one"``). Starts with ``/``."""
    path_params: Mapping[str, str] = attrs.field(default=_NO_PARAMS, validator=_sendable_values)
    """The value of each placeholder in ``path``. Each is percent-encoded (everything but
    ``A-Z a-z 0-9 - . _ ~``), so ``/ ? # %`` stay inside it; ``""``, ``.`` and ``..`` are
    refused (``ValueError``), as is a missing or unknown name."""
    body: bytes | None = None
    """The exact body bytes sent (``None``: no body). See :func:`json_body`."""
    content_type: str | None = None
    """The ``Content-Type`` header sent with ``body``."""

    @property
    def target_url(self) -> str:
        """What the transport parses (and caches) to route the request: ``url``.

        The base URL and static path, the same for every subject: never the expanded path.
        """
        return self.url

    @property
    def path_with_query(self) -> str:
        """The request target exactly as sent: path (params encoded) and query string.

        This is what a signer signs (with :attr:`method` and :attr:`body`).
        """
        _, base_path, base_query = _split_base(self.url)
        if self.path:
            if base_query is not None:
                raise ValueError("a Request with a path template takes a url without a query")
            path = _join(base_path, _expand(self.path, self.path_params))
        else:
            path = base_path or "/"
            if base_query is not None:
                path = f"{path}?{base_query}"
        return _with_query(path, encode_query(self.params)) if self.params else path

    @property
    def full_url(self) -> str:
        """The absolute URL: base, expanded path and encoded query string."""
        if not self.path:
            return _with_query(self.url, encode_query(self.params))
        return _split_base(self.url)[0] + self.path_with_query

    def secrets(self) -> list[str]:
        """The secret values this request carries, for scrubbing text."""
        if not self.secret_headers:
            return []
        names = _lowercase(self.secret_headers)
        return [v for k, v in self.headers.items() if k.lower() in names]

    def personal_values(self) -> list[str]:
        """The personal values this request carries (query and path), for masking text."""
        values = []
        for name in self.personal_params:
            for source in (self.params, self.path_params):
                value = source.get(name)
                if value is not None:
                    values.append(str(value))
        return values

    def redact(self, text: str) -> str:
        """``text`` with this request's secrets replaced and its personal values masked.

        Personal values are masked as they are, and as they appear percent-encoded in a path
        or a query string.
        """
        text = scrub(text, self.secrets())
        for value in self.personal_values():
            if len(value) < 3:
                continue  # too short to identify anyone, and masking it would garble text
            shown = mask(value)
            for form in {quote(value, safe=""), quote_plus(value), quote(value), value}:
                text = text.replace(form, shown)
        return text

    def loggable_url(self) -> str:
        """The URL with personal query and path values masked."""
        personal = self.personal_params
        shown = {k: (mask(v) if k in personal else v) for k, v in self.params.items()}
        if not self.path:
            return _with_query(self.url, encode_query(shown))
        origin, base_path, _ = _split_base(self.url)
        path = _join(base_path, _expand(self.path, self.path_params, personal))
        return origin + _with_query(path, encode_query(shown))

    def with_headers(self, headers: Mapping[str, str], *, secret: bool = False) -> Request:
        """A copy with ``headers`` added (a signer's output); ``secret`` hides their values."""
        names = self.secret_headers | frozenset(headers) if secret else self.secret_headers
        return attrs.evolve(self, headers={**self.headers, **headers}, secret_headers=names)

    def __repr__(self) -> str:
        try:
            shown = self.loggable_url()
        except ValueError:
            shown = self.url + self.path
        body = "" if self.body is None else f" body={len(self.body)} bytes"
        return f"<Request {self.method} {shown}{body}>"


@functools.lru_cache(maxsize=64)
def _lowercase(names: frozenset[str]) -> frozenset[str]:
    """Header names in lowercase (a provider's few secret header names: cached)."""
    return frozenset(n.lower() for n in names)


def _join(base_path: str, path: str) -> str:
    """A base URL's path and an expanded path template, with one ``/`` between them."""
    return base_path[:-1] + path if base_path.endswith("/") else base_path + path


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
        """Decode the body as strict JSON (RFC 8259), or raise :class:`MalformedResponse`.

        The rules are :mod:`kycbridge.strictjson`'s: besides what :func:`json.loads` refuses,
        a key twice in one object (the error names the key), ``NaN`` and ``Infinity``, nesting
        deeper than 64 levels and number literals longer than 100 characters are malformed,
        so that an answer means one thing and costs little to read.

        The body must be UTF-8 (a BOM is refused, as :func:`json.loads` does on text).
        """
        try:
            return strictjson.loads(self.body)
        except strictjson.NotStrictJSON as exc:
            raise MalformedResponse(
                f"response body is not acceptable JSON: {exc}",
                provider=provider,
                http_status=self.status,
            ) from None
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


# A header field name (an RFC 9110 token) and value (latin-1, no control character but HTAB:
# CR or LF would start another header, NUL truncates it in some servers).
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_HEADER_VALUE_BYTES = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")


def _check_headers(headers: Mapping[str, Any], provider: str | None) -> None:
    """Refuse a header http.client would choke on or that would inject another header.

    Every name must be a token and every value latin-1 text without control characters
    (CR, LF, NUL, ...; a tab is allowed). The error names the header, never its value
    (which may be a secret): :class:`InvalidQuery`, raised before anything is sent.
    """
    for name, value in headers.items():
        # The usual header, by string methods alone: a name of ASCII letters, digits and
        # hyphens, a value of printable ASCII (both within the rules); anything else below.
        if (
            type(name) is str
            and type(value) is str
            and value.isascii()
            and value.isprintable()
            and name.isascii()
            and name.replace("-", "").isalnum()
        ):
            continue
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            shown = repr(name)[:40] if isinstance(name, str) else type(name).__name__
            raise InvalidQuery(f"invalid header name {shown}", provider=provider)
        if isinstance(value, str):
            ok = _HEADER_VALUE.fullmatch(value) is not None
        elif isinstance(value, bytes):
            ok = _HEADER_VALUE_BYTES.fullmatch(value) is not None
        else:  # http.client sends an int as its digits; anything else is a mistake
            ok = isinstance(value, int) and not isinstance(value, bool)
        if not ok:
            raise InvalidQuery(
                f"the value of header {name!r} cannot be sent: it must be latin-1 text without "
                "control characters (CR, LF, NUL); the value is not shown",
                provider=provider,
            )


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
        self._cut = False  # whether the socket's timeout is now cut to the time remaining

    def readinto(self, b: Any) -> int | None:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the call's deadline passed")
        limit = self._limit
        if limit is None or remaining < limit:
            self._socket.settimeout(remaining)
            self._cut = True
        elif self._cut:  # the deadline is further than the per-read timeout: that one again
            self._socket.settimeout(limit)
            self._cut = False
        # else the socket's timeout is the per-read one already: no system call to set it
        return super().readinto(b)


class _DeadlineSocket:
    """What a guarded response is built on: ``makefile`` gives a deadline-bound reader."""

    __slots__ = ("_deadline", "_sock")

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


class _OwnPoolManager(urllib3.PoolManager):
    """The pool manager a :class:`Transport` makes: guarded pools, each host's remembered.

    :meth:`host_pool` is :meth:`~urllib3.PoolManager.connection_from_host` without building
    the pool key on every call: the pool it gave for a host is kept until it is closed
    (urllib3 1.26 closes the pools it evicts) or :meth:`clear` forgets them all, as the
    manager does. The manager's settings are fixed when it is made (a new manager is made
    for new settings: :meth:`Transport.evolve`), so the key it would build cannot change.
    """

    def __init__(self, num_pools: int = 16, **kwargs: Any) -> None:
        super().__init__(num_pools=num_pools, **kwargs)
        self.pool_classes_by_scheme = _GUARDED_POOLS
        self._most = num_pools
        self._hosts: dict[tuple[str, str | None, int | None], HTTPConnectionPool] = {}

    def host_pool(self, scheme: str, host: str | None, port: int | None) -> HTTPConnectionPool:
        """The connection pool for ``scheme://host:port``."""
        key = (scheme, host, port)
        pool = self._hosts.get(key)
        if pool is None or pool.pool is None:  # not asked yet, or closed since
            pool = self.connection_from_host(host, port=port, scheme=scheme)
            if len(self._hosts) >= self._most:  # as many as the manager keeps: start over
                self._hosts.clear()
            self._hosts[key] = pool
        return pool

    def clear(self) -> None:
        """Forget every pool (closing them as urllib3 does), and the hosts remembered."""
        self._hosts.clear()
        super().clear()


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


class _Keep(enum.Enum):
    """The default of :meth:`Transport.evolve`'s arguments: keep this setting."""

    KEEP = "keep"


_KEEP = _Keep.KEEP


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
            pool = _OwnPoolManager(
                num_pools=16, maxsize=maxsize, block=False, cert_reqs="CERT_REQUIRED"
            )
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
        self._sent = [0]  # shared by copies (evolve, until)
        self.sleep: Callable[[float], object] = time.sleep
        install_log_filter()

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
        # The manager made here remembers each host's connection pool (see _urlopen).
        self._host_pool = pool.host_pool if type(pool) is _OwnPoolManager else None

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
        try:  # checked once here; a bad one is refused by every send (InvalidQuery)
            _check_headers(self._headers, None)
            self._headers_ok = True
        except InvalidQuery:
            self._headers_ok = False

    @property
    def maxsize(self) -> int | None:
        """Connections kept per host by the pool (``None``: the pool does not say)."""
        kw = getattr(self._pool, "connection_pool_kw", None)
        size = kw.get("maxsize") if isinstance(kw, dict) else None
        return size if isinstance(size, int) else None

    def _clone(self) -> Transport:
        clone = object.__new__(Transport)
        clone.__dict__.update(self.__dict__)  # the pool, the lock, the counter: shared
        return clone

    def evolve(
        self,
        *,
        connect_timeout: float | _Keep = _KEEP,
        read_timeout: float | _Keep = _KEEP,
        call_timeout: float | _Keep | None = _KEEP,
        deadline: float | _Keep | None = _KEEP,
        maxsize: int | _Keep = _KEEP,
    ) -> Transport:
        """A transport like this one with the settings given changed: the one way to derive one.

        The copy shares this transport's request counter (:attr:`requests_sent`), retry
        policy, size cap, headers and, unless ``maxsize`` changes, its pool. ``connect_timeout``
        / ``read_timeout``: each attempt's timeouts; ``call_timeout``: the default overall
        seconds per call (``None``: none); ``deadline``: an absolute :func:`time.monotonic`
        value every call must end by (``None``: none; see :meth:`until`); ``maxsize``:
        connections kept per host, a new pool when it differs from :attr:`maxsize` (only a
        pool that is a plain :class:`urllib3.PoolManager` can be re-made: otherwise
        :class:`ValueError`). Invalid values raise :class:`ValueError`. Meant for setting up,
        not for each call: a call's deadline goes to :meth:`send` or :meth:`until`.
        """
        clone = self._clone()
        if not isinstance(connect_timeout, _Keep) or not isinstance(read_timeout, _Keep):
            connect = self.timeout.connect_timeout
            read = self.timeout.read_timeout
            connect = connect if isinstance(connect_timeout, _Keep) else connect_timeout
            read = read if isinstance(read_timeout, _Keep) else read_timeout
            if not (isinstance(connect, (int, float)) and isinstance(read, (int, float))):
                raise ValueError("timeouts must be numbers of seconds")
            if not (connect > 0 and read > 0):
                raise ValueError("timeouts must be positive")
            clone.timeout = urllib3.Timeout(connect=connect, read=read)
            clone._longest = max(connect, read)
        if not isinstance(call_timeout, _Keep):
            if call_timeout is not None and not call_timeout > 0:
                raise ValueError("call_timeout must be positive (or None)")
            clone.call_timeout = call_timeout
        if not isinstance(deadline, _Keep):
            clone._deadline = deadline
        if not isinstance(maxsize, _Keep) and maxsize != self.maxsize:
            clone.pool = self._resized_pool(maxsize)
        return clone

    def _resized_pool(self, maxsize: int) -> urllib3.PoolManager:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError("maxsize must be a positive number of connections")
        pool = self._pool
        kind = type(pool)
        if kind is not urllib3.PoolManager and kind is not _OwnPoolManager:
            raise ValueError(f"cannot re-make the app's own pool ({type(pool).__name__})")
        resized = kind(
            num_pools=16, headers=pool.headers, **{**pool.connection_pool_kw, "maxsize": maxsize}
        )
        resized.pool_classes_by_scheme = pool.pool_classes_by_scheme  # this transport's kind
        return resized

    def with_timeout(self, seconds: float) -> Transport:
        """Both per-attempt timeouts ``seconds``: ``evolve(connect_timeout=s, read_timeout=s)``."""
        return self.evolve(connect_timeout=seconds, read_timeout=seconds)

    def with_call_timeout(self, seconds: float | None) -> Transport:
        """``call_timeout`` set to ``seconds``: ``evolve(call_timeout=seconds)``."""
        return self.evolve(call_timeout=seconds)

    def until(self, deadline: float | None) -> Transport:
        """A transport sharing this one's pool whose calls all end by ``deadline``.

        ``deadline`` is an absolute :func:`time.monotonic` value (``None``: this transport
        itself). For handing a deadline through code that calls :meth:`send` without one,
        such as a provider's ``fetch``. The same as ``evolve(deadline=deadline)``, made for
        a call's hot path: one copy, no checks.
        """
        if deadline is None:
            return self
        clone = self._clone()
        clone._deadline = deadline
        return clone

    def send(
        self,
        request: Request,
        *,
        provider: str | None = None,
        deadline: float | None = None,
        sign: Callable[[Request], Request] | None = None,
    ) -> Response:
        """Send ``request``; return the response whatever its status.

        Routes by ``request.target_url`` (parsed once per base URL), sends
        ``request.path_with_query`` with ``request.body`` and its ``Content-Type``.

        Raises :class:`ProviderUnavailable` for timeouts and connection errors once retries
        are spent, and :class:`MalformedResponse` for a body over the size cap. A URL that
        :func:`check_base_url` refuses (plain ``http://`` to anything but loopback, user
        info, ...) or a header that cannot be sent safely (a name that is not a token, a value
        outside latin-1 or with a control character such as CR or LF) raises
        :class:`InvalidQuery`, naming the header but never showing its value, before anything
        is sent.

        ``deadline``: an absolute :func:`time.monotonic` value the whole call (retries and
        waits included) must end by; default: :attr:`call_timeout` seconds from now.
        Raises :class:`ProviderUnavailable` for timeouts and connection errors once retries
        are spent or the deadline has passed, and :class:`MalformedResponse` for a body over
        the size cap or in an encoding not decoded. Plain ``http://`` to anything but
        loopback: see above.

        ``sign``: called with ``request`` before *every* attempt, retries included; the
        request it returns is what that attempt sends (a provider's per-attempt signature,
        with a fresh timestamp each time). Its headers are checked like any other.
        """
        # -- what may be sent: one parse of the URL decides, headers are checked (no I/O) --
        target = _target(request.target_url)  # the base URL: one cache entry per provider
        if target.problem:
            raise InvalidQuery(target.problem, provider=provider)
        # An app pool's own headers, then ours, then the request's.
        headers = {**self._pool_headers, **self._headers, **request.headers}
        if request.content_type:
            headers["Content-Type"] = request.content_type
        if self._headers_ok and not self._pool_headers:
            # Ours were checked when set (the pool has none): the request's are what is new.
            _check_headers(request.headers, provider)
            if request.content_type:
                _check_headers({"Content-Type": request.content_type}, provider)
        else:
            _check_headers(headers, provider)
        # -- sending --
        # urllib3 logs the URL in this thread: its lines mask this request's personal values.
        _SCOPE.request = request if request.personal_params else None
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
            raw, body = self._exchange(request, target, headers, provider, deadline, sign)
        except _DeadlinePassed:
            assert deadline is not None
            raise self._late(request, provider, deadline - started) from None
        except HTTPError as exc:
            if deadline is not None and time.monotonic() >= deadline - _SLACK:
                raise self._late(request, provider, deadline - started) from None
            cause = exc.reason or exc if isinstance(exc, MaxRetryError) else exc
            raise self._unavailable(request, provider, cause) from None
        _SCOPE.request = None
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
        sign: Callable[[Request], Request] | None = None,
    ) -> tuple[Any, bytes]:
        """The attempts: urllib3 sends each (``retries=False``), ``self.retry`` decides."""
        retry: Retry = self.retry
        method = request.method
        while True:
            attempt, attempt_headers = request, headers
            if sign is not None:  # signed anew for every attempt: a timestamp stays fresh
                attempt = sign(request)
                attempt_headers = {**headers, **attempt.headers}
                _check_headers(attempt_headers, provider)
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
                raw = self._urlopen(attempt, target, attempt_headers, timeout)
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
            host_pool = (
                self._host_pool(target.scheme, target.host, target.port)
                if self._host_pool is not None
                else self.pool.connection_from_host(
                    target.host, port=target.port, scheme=target.scheme
                )
            )
            return host_pool.urlopen(
                request.method,
                request.path_with_query,
                body=request.body,
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
            body=request.body,
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
        # "in" first: a miss through Mapping.get raises and catches a KeyError inside.
        coding = headers.get("content-encoding") if "content-encoding" in headers else None
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
        _SCOPE.request = None
        reason = request.redact(f"{type(cause).__name__}: {cause}")
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
