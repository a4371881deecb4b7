"""Declarative error tables: which :class:`~kycbridge.KYCBridgeError` a non-2xx answer becomes.

A provider plugin describes its errors as data, an :class:`ErrorTable`: HTTP status -> error
type (with a short summary per type), optional :class:`Override` rows keyed on the body's code
or message, what the provider's own error body looks like (:class:`ErrorBody`, or a small
callable for exotic shapes), where its request id is, and a ``Retry-After`` cap. The rules are
applied here, once, for every provider (:meth:`ErrorTable.error_for`), in this order:

1. **Type by status.** The table's type for the status; else by class: other 4xx are
   ``RequestRejected``, other 5xx ``ProviderUnavailable``; anything else (1xx, 2xx, 3xx) is
   ``MalformedResponse``.
2. **The body.** It is the provider's own error body when it is served as JSON
   (``application/json`` or a ``+json`` type), decodes as UTF-8 JSON, and has the shape the
   table declares. Anything else (HTML, text, empty, truncated, a JSON array, another JSON
   object) is *junk*.
3. **Redirects** (3xx) are ``MalformedResponse`` saying "check base_url", with the
   ``Location`` shown masked.
4. **Transient precedence.** A status whose type is ``RateLimited`` or ``ProviderUnavailable``
   (429, 5xx) keeps that type whatever the body: a gateway's HTML 502 page still means "try
   later".
5. **Junk bodies** on any other status give ``MalformedResponse`` with the status and a short
   excerpt. A status whose type is ``SubjectNotFound`` (404) with a body that is not the
   provider's own error body did not come from the provider's API: most likely the URL is
   wrong (a missing path prefix in ``base_url``), so the message says "check base_url"; it is
   never "subject not found".
6. **Overrides.** With the provider's own body, the first :class:`Override` matching the
   status and the body's code or message picks the type (an expired session answered as a
   400 is an ``AuthenticationError``).

Every error carries ``provider_code``, ``provider_message`` (trimmed, control characters
escaped, emails and wallets masked), ``request_id`` (from the body, else from the declared
headers) and ``retry_after`` (the ``Retry-After`` header in seconds, capped at
:attr:`ErrorTable.max_retry_after`). :meth:`ErrorTable.error_for` never raises.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs

from . import strictjson
from .errors import (
    AuthenticationError,
    KYCBridgeError,
    MalformedResponse,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    SubjectNotFound,
)
from .mapping import canonical_word
from .redact import mask
from .terminal import safe_text
from .transport import Response

__all__ = [
    "DEFAULT_SUMMARIES",
    "TRANSIENT_TYPES",
    "BodyReader",
    "ErrorBody",
    "ErrorFields",
    "ErrorTable",
    "Override",
    "is_json_type",
    "mask_personal",
    "provider_text",
]

TRANSIENT_TYPES: frozenset[type[KYCBridgeError]] = frozenset({RateLimited, ProviderUnavailable})
"""Error types the status decides alone, whatever the body (rule 4)."""

DEFAULT_SUMMARIES: Mapping[type[KYCBridgeError], str] = MappingProxyType(
    {
        RequestRejected: "request rejected",
        AuthenticationError: "credentials rejected",
        SubjectNotFound: "no verification for this subject",
        RateLimited: "rate limited",
        ProviderUnavailable: "provider unavailable",
        MalformedResponse: "unexpected answer",
    }
)
"""The summary used for a type the table gives none for."""

_MAX_REQUEST_ID = 128


def is_json_type(content_type: str) -> bool:
    """Whether a lowercase, parameter-less media type is JSON.

    ``application/json`` and the ``+json`` types (``application/problem+json``) are.
    """
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


_EMAIL = re.compile(r"[^\s@\"'<>()]+@[^\s@\"'<>()]+")
_WALLET = re.compile(r"\b(?:0x[0-9a-fA-F]{40}|[1-9A-HJ-NP-Za-km-z]{32,44})\b")


def mask_personal(text: str) -> str:
    """``text`` with email- and wallet-looking substrings masked (providers echo them)."""
    text = _EMAIL.sub(lambda m: mask(m.group(0)), text)
    return _WALLET.sub(lambda m: mask(m.group(0)), text)


def _escape(text: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def provider_text(value: object, limit: int = 300) -> str | None:
    """Provider text fit for an error: one line, escaped, masked, at most ``limit`` characters.

    Strings (non-blank) and numbers are kept; anything else (``None``, booleans, objects,
    lists, blank strings) gives ``None``. Longer text is cut and ends with ``…``.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        text = str(value) if not isinstance(value, float) or math.isfinite(value) else ""
    elif isinstance(value, str):
        text = value
    else:
        return None
    text = " ".join(text[: limit * 4].split())
    if not text:
        return None
    text = _escape(mask_personal(text))
    return text if len(text) <= limit else text[:limit] + "…"


def _request_id(value: object) -> str | None:
    text = provider_text(value, _MAX_REQUEST_ID)
    return None if text is None else text.replace(" ", "_")


@attrs.frozen
class ErrorFields:
    """What was read out of a provider's own error body."""

    code: str | None = None
    """The provider's error code (``provider_code``)."""
    message: str | None = None
    """The provider's message (``provider_message``)."""
    request_id: str | None = None
    """The provider's request or correlation id, when the body carries one."""


BodyReader = Callable[[Any], "ErrorFields | None"]
"""A callable reading an exotic error body: given the decoded JSON (any JSON value), the
fields, or ``None`` when it is not the provider's own error body. An exception it raises counts
as ``None``; the core trims, escapes and masks whatever it returns."""

_JSON_TYPES = (str, int, float, bool, dict, list)


def _types(value: type | Iterable[type]) -> tuple[type, ...]:
    types = (value,) if isinstance(value, type) else tuple(value)
    for tp in types:
        if tp not in _JSON_TYPES:
            raise TypeError(f"{tp!r} is not a JSON type (str, int, float, bool, dict, list)")
    return types


def _spec(value: Mapping[str, type | Iterable[type]]) -> Mapping[str, tuple[type, ...]]:
    return MappingProxyType({path: _types(types) for path, types in value.items()})


def _paths(value: str | Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _get(payload: object, path: str) -> object:
    """The value at a dotted ``path`` of nested JSON objects, or ``None``."""
    for key in path.split("."):
        if not isinstance(payload, dict):
            return None
        payload = payload.get(key)
    return payload


def _has_type(value: object, types: tuple[type, ...]) -> bool:
    kind = type(value)
    return kind in types or (kind is int and float in types)


@attrs.frozen
class ErrorBody:
    """How a provider's own error body looks and where its fields are.

    Paths are keys of nested JSON objects joined by ``.`` (``"error.message"``). The body is
    the provider's own when it is a JSON object in which every ``required`` path is present
    with one of its JSON types, and every ``optional`` path present and not ``null`` has one
    of its types. Types are exact JSON types: ``int`` does not accept ``true``; ``float``
    accepts integers too.
    """

    required: Mapping[str, tuple[type, ...]] = attrs.field(converter=_spec)
    """Paths that must be present, and their JSON types."""
    optional: Mapping[str, tuple[type, ...]] = attrs.field(factory=dict, converter=_spec)
    """Paths that may be absent or ``null``, and their JSON types otherwise."""
    code: tuple[str, ...] = attrs.field(default=(), converter=_paths)
    """Paths tried in order for ``provider_code``: the first string or number wins."""
    message: tuple[str, ...] = attrs.field(default=(), converter=_paths)
    """Paths tried in order for ``provider_message``."""
    request_id: tuple[str, ...] = attrs.field(default=(), converter=_paths)
    """Paths tried in order for the provider's request id."""

    def __call__(self, payload: Any) -> ErrorFields | None:
        """Read ``payload`` (decoded JSON); ``None`` when it is not this shape."""
        if not isinstance(payload, dict):
            return None
        for path, types in self.required.items():
            if not _has_type(_get(payload, path), types):
                return None
        for path, types in self.optional.items():
            value = _get(payload, path)
            if value is not None and not _has_type(value, types):
                return None
        return ErrorFields(
            code=_first(payload, self.code),
            message=_first(payload, self.message),
            request_id=_first(payload, self.request_id),
        )


def _first(payload: object, paths: tuple[str, ...]) -> str | None:
    for path in paths:
        value = _get(payload, path)
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
    return None


def _statuses(value: int | Iterable[int]) -> frozenset[int]:
    return frozenset((value,) if isinstance(value, int) else value)


def _pattern(value: str | re.Pattern[str] | None) -> re.Pattern[str] | None:
    if value is None or isinstance(value, re.Pattern):
        return value
    return re.compile(value, re.IGNORECASE | re.DOTALL)


@attrs.frozen
class Override:
    """A row choosing the error type from the body rather than the status alone.

    It matches an answer whose body is the provider's own when every condition given
    matches: the status is one of ``status`` (empty: any), the provider code folds
    (:func:`~kycbridge.mapping.canonical_word`) to ``code``'s folding, and ``message`` (a
    regular expression, case-insensitive unless compiled otherwise) is found in the provider
    message.
    """

    error: type[KYCBridgeError]
    """The type the answer becomes."""
    status: frozenset[int] = attrs.field(default=frozenset(), converter=_statuses)
    """The statuses it applies to (empty: all)."""
    code: str | None = None
    """The provider code it applies to (folded), or ``None`` for any."""
    message: re.Pattern[str] | None = attrs.field(default=None, converter=_pattern)
    """A pattern searched in the provider message, or ``None`` for any."""
    summary: str | None = None
    """The error's summary; the table's summary for ``error`` when ``None``."""

    def matches(self, status: int, fields: ErrorFields) -> bool:
        """Whether this row applies to an answer with ``status`` and body ``fields``."""
        if self.status and status not in self.status:
            return False
        if self.code is not None and canonical_word(fields.code) != canonical_word(self.code):
            return False
        if self.message is not None:
            return fields.message is not None and self.message.search(fields.message) is not None
        return True


def _type_table(value: Mapping[int, type[KYCBridgeError]]) -> Mapping[int, type[KYCBridgeError]]:
    return MappingProxyType(dict(value))


def _summary_table(
    value: Mapping[type[KYCBridgeError], str],
) -> Mapping[type[KYCBridgeError], str]:
    return MappingProxyType(dict(value))


def _overrides(value: Iterable[Override]) -> tuple[Override, ...]:
    return tuple(value)


def _headers(value: str | Iterable[str]) -> tuple[str, ...]:
    return tuple(h.lower() for h in _paths(value))


def _positive(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be positive")


@attrs.frozen
class ErrorTable:
    """A provider's error answers, as data; :meth:`error_for` applies the module's rules."""

    statuses: Mapping[int, type[KYCBridgeError]] = attrs.field(converter=_type_table)
    """HTTP status -> error type, for the statuses the provider documents."""
    body: ErrorBody | BodyReader
    """The provider's own error body: an :class:`ErrorBody` or a :data:`BodyReader`."""
    summaries: Mapping[type[KYCBridgeError], str] = attrs.field(
        factory=dict, converter=_summary_table
    )
    """A short summary per error type, starting each error message."""
    overrides: tuple[Override, ...] = attrs.field(default=(), converter=_overrides)
    """Rows choosing the type from the body (first match wins)."""
    request_id_headers: tuple[str, ...] = attrs.field(default=(), converter=_headers)
    """Response headers carrying the provider's request id, tried after the body."""
    max_retry_after: float = attrs.field(default=60.0, validator=_positive)
    """Longest ``Retry-After`` put on an error, in seconds: a larger value from a proxy would
    otherwise hold the Bridge's rate limiter back that long."""
    max_text: int = 300
    """Longest provider code or message kept (longer ones are cut, with ``…``)."""

    def error_type(self, status: int) -> type[KYCBridgeError]:
        """The type ``status`` gives before the body is read (rule 1)."""
        cls = self.statuses.get(status)
        if cls is not None:
            return cls
        if 400 <= status <= 499:
            return RequestRejected
        if 500 <= status <= 599:
            return ProviderUnavailable
        return MalformedResponse

    def summary(self, cls: type[KYCBridgeError]) -> str:
        """The summary starting messages of errors of type ``cls``."""
        return self.summaries.get(cls) or DEFAULT_SUMMARIES.get(cls, "error")

    def rows(self) -> list[tuple[int, type[KYCBridgeError], str]]:
        """The status table as ``(status, type, summary)`` rows, in status order, for docs."""
        return [(s, cls, self.summary(cls)) for s, cls in sorted(self.statuses.items())]

    def read_body(self, response: Response) -> ErrorFields | None:
        """The fields of the provider's own error body; ``None`` for any other body.

        The body is read as strict JSON (:mod:`kycbridge.strictjson`), as a success answer is:
        one with a key twice or ``NaN`` is not the provider's.
        """
        if not is_json_type(response.content_type) or not response.body:
            return None
        try:
            payload = strictjson.loads(response.body)  # as strict as any answer
            fields = self.body(payload)
        except Exception:  # not (strict) JSON, or a reader that failed: not the shape
            return None
        if not isinstance(fields, ErrorFields):
            return None
        return ErrorFields(
            code=provider_text(fields.code, self.max_text),
            message=provider_text(fields.message, self.max_text),
            request_id=_request_id(fields.request_id),
        )

    def retry_after(self, response: Response) -> float | None:
        """The answer's ``Retry-After`` in seconds, capped at :attr:`max_retry_after`."""
        try:
            value = response.retry_after()
        except Exception:  # an absurd date: no hint rather than a crash
            return None
        if value is None or not math.isfinite(value):
            return None
        return min(max(0.0, value), self.max_retry_after)

    def request_id(self, response: Response, fields: ErrorFields | None) -> str | None:
        """The provider's request id: from the body, else from :attr:`request_id_headers`."""
        if fields is not None and fields.request_id:
            return fields.request_id
        for name in self.request_id_headers:
            value = _request_id(response.headers.get(name))
            if value:
                return value
        return None

    def error_for(self, response: Response, *, provider: str | None = None) -> KYCBridgeError:
        """The error a non-2xx answer means, by the module's rules. Never raises."""
        try:
            return self._error_for(response, provider)
        except Exception as exc:  # a last resort: error_for must always give an error
            return MalformedResponse(
                f"could not read the HTTP {response.status} error answer "
                f"({type(exc).__name__})",
                provider=provider,
                http_status=response.status,
            )

    def _error_for(self, response: Response, provider: str | None) -> KYCBridgeError:
        status = response.status
        cls = self.error_type(status)
        fields = self.read_body(response)
        common: dict[str, Any] = {
            "provider": provider,
            "http_status": status,
            "retry_after": self.retry_after(response),
            "request_id": self.request_id(response, fields),
        }
        excerpt = _excerpt(response)
        if cls is MalformedResponse:
            message = f"unexpected HTTP status {status}"
            if 300 <= status <= 399:
                location = _masked_url(response.headers.get("location"))
                where = f" to {location!r}" if location else ""
                message += f" (redirect{where}): the URL looks wrong, check base_url"
            if fields is None:
                return MalformedResponse(f"{message}: {excerpt!r}", **common)
            return MalformedResponse(
                message + _detail(fields),
                provider_code=fields.code,
                provider_message=fields.message,
                **common,
            )
        if fields is None:
            if cls in TRANSIENT_TYPES:
                shown = f": body is not the provider's error body: {excerpt[:60]!r}"
                return cls(self.summary(cls) + (shown if response.body else ""), **common)
            # The content type is the provider's text: one escaped line, bounded.
            media = safe_text(mask_personal(response.content_type), 80) or "no content type"
            message = f"HTTP {status} answer is not the provider's JSON error body ({media})"
            if cls is SubjectNotFound:
                message += ": the URL looks wrong, check base_url"
            return MalformedResponse(f"{message}: {excerpt!r}", **common)
        summary = self.summary(cls)
        for override in self.overrides:
            if override.matches(status, fields):
                cls = override.error
                summary = override.summary or self.summary(cls)
                break
        return cls(
            summary + _detail(fields),
            provider_code=fields.code,
            provider_message=fields.message,
            **common,
        )


def _detail(fields: ErrorFields) -> str:
    detail = f": {fields.code}" if fields.code else ""
    if fields.message:
        detail += f" ({fields.message})" if fields.code else f": {fields.message}"
    return detail


def _excerpt(response: Response) -> str:
    return mask_personal(response.excerpt())


def _masked_url(url: str | None) -> str | None:
    """A ``Location`` fit for a message: query values and personal path parts masked."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip()[:2000])
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        shown = f"{parts.scheme}://{host}{port}" if host else ""  # never userinfo
        shown += "/".join(mask_personal(segment) for segment in parts.path.split("/"))
        query = parse_qsl(parts.query, keep_blank_values=True)
        if query:
            shown += "?" + "&".join(f"{mask_personal(k)}={mask(v)}" for k, v in query)
    except ValueError:
        return "(unreadable)"
    shown = _escape(shown)
    return shown if len(shown) <= 200 else shown[:200] + "…"
