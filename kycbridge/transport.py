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
import functools
import ipaddress
import itertools
import json
import logging
import math
import random
import re
import threading
import time
import types
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus, urlencode

import attrs
import urllib3
from urllib3.exceptions import (
    HTTPError,
    InvalidHeader,
    LocationParseError,
    MaxRetryError,
    ProtocolError,
)
from urllib3.util.retry import Retry
from urllib3.util.url import parse_url

from ._version import __version__
from .errors import InvalidQuery, MalformedResponse, ProviderUnavailable
from .redact import mask, redact_headers, scrub

__all__ = [
    "DEFAULT_MAX_BODY",
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
    params: Mapping[str, str] = attrs.field(factory=dict)
    """Query parameters, encoded by the transport."""
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
    path_params: Mapping[str, str] = _NO_PARAMS
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
        names = {n.lower() for n in self.secret_headers}
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

        Beyond what :func:`json.loads` refuses, these are malformed too, so that an answer
        means one thing and costs little to read:

        - a key twice in one object (``{"status": "REJECTED", "status": "APPROVED"}``: which
          one a reader keeps is up to the reader); the error names the key;
        - ``NaN``, ``Infinity`` and ``-Infinity`` (not JSON), and a number that overflows a
          float (``1e999``);
        - nesting deeper than :data:`MAX_JSON_DEPTH` (64) arrays and objects, checked before
          decoding (never a ``RecursionError``);
        - a number literal longer than :data:`MAX_JSON_NUMBER_LENGTH` (100) characters
          (decoding a long integer takes quadratic time on Python 3.10).

        The body must be UTF-8 (a BOM is refused, as :func:`json.loads` does on text).
        """
        try:
            text = self.body.decode("utf-8")
            _check_depth(text)
            return _STRICT_JSON.decode(text)
        except _NotStrictJSON as exc:
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


MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects :meth:`Response.json` accepts."""

MAX_JSON_NUMBER_LENGTH = 100
"""Longest number literal (digits, sign, point and exponent) :meth:`Response.json` accepts."""


class _NotStrictJSON(ValueError):
    """Raised inside :func:`json.loads` by the strict hooks; the message names the rule."""


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.-]{1,40}")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                # A schema word is named; anything else (personal data?) is not shown.
                shown = repr(key) if _PLAIN_KEY.fullmatch(key) else "a key"
                raise _NotStrictJSON(f"{shown} appears twice in one object")
            seen.add(key)
    return result


def _no_constant(name: str) -> Any:
    raise _NotStrictJSON(f"{name} is not a JSON number")


def _bounded_int(literal: str) -> int:
    if len(literal) > MAX_JSON_NUMBER_LENGTH:
        raise _NotStrictJSON(f"a number longer than {MAX_JSON_NUMBER_LENGTH} characters")
    return int(literal)


def _finite_float(literal: str) -> float:
    if len(literal) > MAX_JSON_NUMBER_LENGTH:
        raise _NotStrictJSON(f"a number longer than {MAX_JSON_NUMBER_LENGTH} characters")
    value = float(literal)
    if not math.isfinite(value):
        raise _NotStrictJSON("a number too large for a float")
    return value


# Built once: json.loads with hooks would build a decoder on every call. Shared between
# threads as json.loads shares its default decoder.
_STRICT_JSON = json.JSONDecoder(
    object_pairs_hook=_unique_keys,
    parse_constant=_no_constant,
    parse_int=_bounded_int,
    parse_float=_finite_float,
)

# A JSON string, or an unterminated one up to the end of the text: the optional closing quote
# makes every match succeed, so the scan stays linear whatever the text.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than :data:`MAX_JSON_DEPTH`, before :func:`json.loads` recurses."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return  # cannot nest deeper than it has openings (the common case: one count each)
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    depth = max(itertools.accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0)
    if depth > MAX_JSON_DEPTH:
        raise _NotStrictJSON(f"arrays and objects nested deeper than {MAX_JSON_DEPTH} levels")


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


class Transport:
    """The shared HTTP client: thread-safe, pooled, with timeouts, retries and a size cap.

    Pass ``pool`` to use the app's own :class:`urllib3.PoolManager` (or ``ProxyManager``);
    otherwise one is made, verifying TLS certificates.
    """

    def __init__(
        self,
        pool: urllib3.PoolManager | None = None,
        *,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
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
        if retries < 0 or max_body <= 0:
            raise ValueError("retries must be >= 0 and max_body > 0")
        self.pool = pool or urllib3.PoolManager(
            num_pools=16, maxsize=maxsize, block=False, cert_reqs="CERT_REQUIRED"
        )
        self.timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
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
        self.requests_sent = 0
        """How many requests :meth:`send` was asked for (retries not counted)."""
        install_log_filter()

    def __repr__(self) -> str:
        return (
            f"Transport(timeout={self.timeout!r}, retries={self.retry.total}, "
            f"max_body={self.max_body})"
        )

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

    @property
    def user_agent(self) -> str:
        """The ``User-Agent`` header sent with every request."""
        return self._headers["User-Agent"]

    @user_agent.setter
    def user_agent(self, value: str) -> None:
        self._headers = {"User-Agent": value, "Accept": "application/json"}

    def with_timeout(self, seconds: float) -> Transport:
        """A transport sharing this one's pool, with both timeouts set to ``seconds``."""
        clone = object.__new__(Transport)
        clone.__dict__.update(self.__dict__)
        clone.timeout = urllib3.Timeout(connect=seconds, read=seconds)
        clone._lock = self._lock
        return clone

    def send(self, request: Request, *, provider: str | None = None) -> Response:
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
        """
        # -- what may be sent: one parse of the URL decides, headers are checked (no I/O) --
        target = _target(request.target_url)  # the base URL: one cache entry per provider
        if target.problem:
            raise InvalidQuery(target.problem, provider=provider)
        # An app pool's own headers, then ours, then the request's.
        headers = {**self._pool_headers, **self._headers, **request.headers}
        if request.content_type:
            headers["Content-Type"] = request.content_type
        _check_headers(headers, provider)
        # -- sending --
        # urllib3 logs the URL in this thread: its lines mask this request's personal values.
        _SCOPE.request = request if request.personal_params else None
        with self._lock:
            self.requests_sent += 1
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
        try:
            if self._direct:
                # What PoolManager.urlopen does without redirects, minus parsing the URL
                # again on every call: the host's pool, then the request URI.
                uri = request.path_with_query
                raw = self.pool.connection_from_host(
                    target.host, port=target.port, scheme=target.scheme
                ).urlopen(
                    request.method,
                    uri,
                    body=request.body,
                    headers=headers,
                    retries=self.retry,
                    timeout=self.timeout,
                    redirect=False,
                    assert_same_host=False,
                    preload_content=False,
                )
            else:  # an app's own pool manager (a proxy, a subclass): let it route
                raw = self.pool.urlopen(
                    request.method,
                    request.full_url,
                    body=request.body,
                    headers=headers,
                    retries=self.retry,
                    timeout=self.timeout,
                    redirect=False,
                    preload_content=False,
                )
            try:
                body = self._read_capped(raw, provider)
            except BaseException:
                raw.close()  # never hand a half-read connection back to the pool
                raise
            finally:
                raw.release_conn()
        except MaxRetryError as exc:
            raise self._unavailable(request, provider, exc.reason or exc) from None
        except HTTPError as exc:
            raise self._unavailable(request, provider, exc) from None
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

    def _read_capped(self, raw: Any, provider: str | None) -> bytes:
        declared = raw.headers.get("content-length")
        declared = declared if declared and declared.isdigit() else None
        if declared and int(declared) > self.max_body:
            raise MalformedResponse(
                f"response body of {declared} bytes exceeds the {self.max_body}-byte cap",
                provider=provider,
                http_status=raw.status,
            )
        encoded = raw.headers.get("content-encoding", "identity") != "identity"
        if declared and not encoded:
            # Within the cap by the check above, and http.client reads no more than declared:
            # one read. urllib3 1.26 does not enforce Content-Length, so a body cut short is
            # checked here: a dropped connection. (An encoded body can decode to more than
            # declared, so it goes through the capped loop below.)
            body: bytes = raw.read()
            if len(body) < int(declared):
                raise ProtocolError(f"connection dropped after {len(body)} of {declared} bytes")
            return body
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = raw.read(65536)
            if not chunk:
                break
            size += len(chunk)
            if size > self.max_body:
                raise MalformedResponse(
                    f"response body exceeds the {self.max_body}-byte cap",
                    provider=provider,
                    http_status=raw.status,
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _unavailable(
        self, request: Request, provider: str | None, cause: BaseException
    ) -> ProviderUnavailable:
        _SCOPE.request = None
        reason = request.redact(f"{type(cause).__name__}: {cause}")
        log.warning("%s %s failed: %s", request.method, request.loggable_url(), reason)
        return ProviderUnavailable(f"no answer after retries: {reason}", provider=provider)
