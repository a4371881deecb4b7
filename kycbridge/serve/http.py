"""The little HTTP the service needs, over a WSGI ``environ``: :class:`Request`, :class:`Reply`.

Everything is bounded: the path, the query string (length and number of fields), the body
(declared length checked before a byte is read, at most ``cap + 1`` bytes ever read), the
cookies. JSON bodies are decoded as strictly as provider answers are
(:meth:`kycbridge.transport.Response.json`: no duplicate keys, no NaN, bounded depth).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import attrs

from ..errors import MalformedResponse
from ..transport import Response
from .errors import REASONS, ApiError

__all__ = [
    "MAX_FIELDS",
    "MAX_PATH",
    "MAX_QUERY_STRING",
    "Reply",
    "Request",
    "json_reply",
]

MAX_PATH = 1024
"""The longest path accepted (414 beyond)."""
MAX_QUERY_STRING = 4096
"""The longest query string accepted (414 beyond)."""
MAX_FIELDS = 50
"""The most fields one query string or form may hold (400 beyond)."""
_MAX_LENGTH_DIGITS = 18

SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Cache-Control", "no-store"),
    ("Referrer-Policy", "same-origin"),
)
"""Sent with every answer."""


@attrs.define
class Reply:
    """An answer: status, headers, body bytes."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = attrs.field(factory=list)

    def wsgi_headers(self) -> list[tuple[str, str]]:
        """The header list for ``start_response``."""
        headers = [*SECURITY_HEADERS, *self.headers]
        if self.status not in (204, 304):
            headers.append(("Content-Type", self.content_type))
            headers.append(("Content-Length", str(len(self.body))))
        return headers

    @property
    def status_line(self) -> str:
        """``"200 OK"``."""
        return f"{self.status} {REASONS.get(self.status, 'Unknown')}"


def json_reply(status: int, data: Any, headers: Iterable[tuple[str, str]] = ()) -> Reply:
    """A JSON answer (strict JSON, UTF-8, non-finite numbers refused)."""
    body = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return Reply(status, body.encode("utf-8"), headers=list(headers))


class Request:
    """One request: method, path, query fields, headers, cookies, a bounded body."""

    def __init__(self, environ: Mapping[str, Any]) -> None:
        self.environ = environ
        self.method = str(environ.get("REQUEST_METHOD") or "GET").upper()
        self.path = str(environ.get("PATH_INFO") or "/") or "/"
        self.script_name = str(environ.get("SCRIPT_NAME") or "").rstrip("/")
        self.query_string = str(environ.get("QUERY_STRING") or "")
        self.scheme = str(environ.get("wsgi.url_scheme") or "http")
        self.host = str(environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or "")

    def check_size(self) -> None:
        """Refuse (414) a path or query string over the caps."""
        if len(self.path) > MAX_PATH or len(self.query_string) > MAX_QUERY_STRING:
            raise ApiError(414, "too_long", "the path or query string is too long")

    def header(self, name: str) -> str | None:
        """A request header by its name (any case)."""
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            value = self.environ.get(key)
        else:
            value = self.environ.get("HTTP_" + key)
        return value if isinstance(value, str) else None

    @property
    def origin(self) -> str:
        """The service's own origin as the client sees it (``https://host``)."""
        return f"{self.scheme}://{self.host}"

    def query(self) -> list[tuple[str, str]]:
        """The query string's fields, in order (at most :data:`MAX_FIELDS`)."""
        return _fields(self.query_string)

    def unique_query(self) -> dict[str, str]:
        """The query fields as a dict; a field given twice is refused (400)."""
        result: dict[str, str] = {}
        for key, value in self.query():
            if key in result:
                raise ApiError(400, "bad_request", f"query field {key[:40]!r} is given twice")
            result[key] = value
        return result

    def cookies(self) -> dict[str, str]:
        """The ``Cookie`` header's name/value pairs (the first of each name kept)."""
        raw = self.header("Cookie") or ""
        found: dict[str, str] = {}
        for part in raw[:8192].split(";"):
            name, sep, value = part.strip().partition("=")
            if sep and name and name not in found:
                found[name] = value.strip()
        return found

    def body(self, cap: int) -> bytes:
        """The body, at most ``cap`` bytes: 413 beyond, 411 when its end cannot be told."""
        stream = self.environ.get("wsgi.input")
        declared = (self.header("Content-Length") or "").strip()
        if declared:
            if not (declared.isascii() and declared.isdigit()):
                raise ApiError(400, "bad_request", "invalid Content-Length")
            if len(declared) > _MAX_LENGTH_DIGITS or int(declared) > cap:
                raise ApiError(413, "too_large", f"the body is over {cap} bytes")
            body = _read(stream, int(declared))
            if len(body) != int(declared):
                raise ApiError(400, "bad_request", "the body is shorter than its Content-Length")
            return body
        if self.environ.get("wsgi.input_terminated"):
            body = _read(stream, cap + 1)
            if len(body) > cap:
                raise ApiError(413, "too_large", f"the body is over {cap} bytes")
            return body
        if self.header("Transfer-Encoding"):
            raise ApiError(411, "length_required", "send a Content-Length")
        return b""

    def json_body(self, cap: int) -> Any:
        """The body as strict JSON (``application/json`` only): 415, 400 or 413 otherwise."""
        media = (self.header("Content-Type") or "").split(";", 1)[0].strip().lower()
        if media != "application/json":
            raise ApiError(415, "unsupported_media_type", "send Content-Type: application/json")
        body = self.body(cap)
        try:
            return Response(200, {}, body).json()
        except MalformedResponse as exc:
            raise ApiError(
                400, "bad_request", exc.message.replace("response body", "the body")
            ) from None

    def form(self, cap: int) -> dict[str, str]:
        """An ``application/x-www-form-urlencoded`` body (a field given twice: the first)."""
        media = (self.header("Content-Type") or "").split(";", 1)[0].strip().lower()
        if media != "application/x-www-form-urlencoded":
            raise ApiError(415, "unsupported_media_type", "send a form")
        try:
            text = self.body(cap).decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "bad_request", "the form is not UTF-8") from None
        result: dict[str, str] = {}
        for key, value in _fields(text):
            result.setdefault(key, value)
        return result


def _fields(text: str) -> list[tuple[str, str]]:
    if not text:
        return []
    try:
        return parse_qsl(
            text,
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS,
            encoding="utf-8",
            errors="strict",
        )
    except (ValueError, UnicodeDecodeError):
        raise ApiError(
            400, "bad_request", f"unreadable fields (at most {MAX_FIELDS}, UTF-8)"
        ) from None


def _read(stream: Any, limit: int) -> bytes:
    if stream is None or limit <= 0:
        return b""
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = stream.read(min(left, 64 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
