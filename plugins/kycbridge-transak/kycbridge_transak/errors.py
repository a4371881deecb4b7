"""The error table: which :class:`~kycbridge.KYCBridgeError` a non-2xx Transak answer becomes.

Rules, in order (also in the README):

1. The HTTP status picks the error type from :data:`ERROR_TYPES`; a status not in the table
   falls back on its class (:data:`FALLBACK_TYPES`: other 4xx are ``RequestRejected``, other
   5xx ``ProviderUnavailable``) and anything else (1xx, 3xx) is ``MalformedResponse``.
2. The body must be Transak's error envelope, served as JSON::

       {"error": {"statusCode": <int>, "message": "<text>", "errorCode": <optional>}}

   If it is not (not JSON, HTML, wrong content type, missing or mistyped keys), the answer is
   a ``MalformedResponse`` carrying the HTTP status and a short excerpt of the body, **except**
   when step 1 gave a transient type (``ProviderUnavailable`` for 5xx, ``RateLimited`` for
   429): a gateway's HTML 502 page still means "unavailable", so the status wins.
3. A 400 whose message says the session or token expired (``Session Expired``,
   ``jwt expired``, ``token has expired``...; case-insensitive) is an
   ``AuthenticationError``: Transak reports an expired user session that way on some pages.
4. The error carries ``provider_code`` (``errorCode`` when present, else ``statusCode``, as a
   string), ``provider_message`` (the envelope's message) and ``retry_after`` (the
   ``Retry-After`` header in seconds, when it is a number).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from types import MappingProxyType

import attrs

from kycbridge import (
    AuthenticationError,
    KYCBridgeError,
    MalformedResponse,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    SubjectNotFound,
)
from kycbridge.transport import Response

__all__ = [
    "ERROR_TYPES",
    "EXPIRED_SESSION",
    "FALLBACK_TYPES",
    "TRANSIENT_TYPES",
    "ErrorEnvelope",
    "error_for",
    "error_type",
    "is_json_type",
    "read_envelope",
]

PROVIDER = "transak"

ERROR_TYPES: Mapping[int, type[KYCBridgeError]] = MappingProxyType(
    {
        400: RequestRejected,
        401: AuthenticationError,
        403: AuthenticationError,
        404: SubjectNotFound,
        429: RateLimited,
        500: ProviderUnavailable,
        502: ProviderUnavailable,
        503: ProviderUnavailable,
        504: ProviderUnavailable,
    }
)
"""HTTP status -> error type, for the statuses Transak's gateway is known to answer."""

FALLBACK_TYPES: Mapping[int, type[KYCBridgeError]] = MappingProxyType(
    {4: RequestRejected, 5: ProviderUnavailable}
)
"""Status class (``status // 100``) -> error type, for statuses not in :data:`ERROR_TYPES`."""

TRANSIENT_TYPES: frozenset[type[KYCBridgeError]] = frozenset({ProviderUnavailable, RateLimited})
"""Error types chosen by status alone, even when the body is not Transak's envelope."""

EXPIRED_SESSION = re.compile(
    r"\b(?:session|token|jwt)\b.*\bexpired\b|\bexpired\b.*\b(?:session|token|jwt)\b",
    re.IGNORECASE | re.DOTALL,
)
"""A 400 message matching this is an expired user session: an ``AuthenticationError``."""

MAX_MESSAGE = 300
"""Longest provider message kept (longer ones are cut, with ``…``)."""


def error_type(status: int) -> type[KYCBridgeError]:
    """The error type an HTTP status gives (rule 1), before the body is looked at."""
    return ERROR_TYPES.get(status) or FALLBACK_TYPES.get(status // 100, MalformedResponse)


def is_json_type(content_type: str) -> bool:
    """Whether a media type (lowercase, no parameters) is JSON (``application/json``, ``+json``)."""
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


@attrs.frozen
class ErrorEnvelope:
    """Transak's error body, read: ``{"error": {"statusCode", "message", "errorCode"?}}``."""

    status_code: int
    message: str
    error_code: str | None = None

    @property
    def code(self) -> str:
        """The provider code put on errors: ``errorCode`` when present, else ``statusCode``."""
        return self.error_code if self.error_code is not None else str(self.status_code)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "…"


def read_envelope(response: Response) -> ErrorEnvelope | None:
    """Read Transak's error envelope out of ``response``; ``None`` when it is not one."""
    if not is_json_type(response.content_type):
        return None
    try:
        payload = json.loads(response.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return None
    status_code, message = error.get("statusCode"), error.get("message")
    error_code = error.get("errorCode")
    if not isinstance(status_code, int) or isinstance(status_code, bool):
        return None
    if not isinstance(message, str):
        return None
    if isinstance(error_code, bool) or not isinstance(error_code, (str, int, type(None))):
        return None
    return ErrorEnvelope(
        status_code=status_code,
        message=_short(message),
        error_code=None if error_code is None else _short(str(error_code)),
    )


def error_for(response: Response) -> KYCBridgeError:
    """The error a non-2xx Transak answer means (see the module docstring for the rules)."""
    status = response.status
    cls = error_type(status)
    envelope = read_envelope(response)
    if envelope is None:
        if cls in TRANSIENT_TYPES:
            return cls(
                f"HTTP {status} without Transak's error envelope: {response.excerpt()!r}",
                provider=PROVIDER,
                http_status=status,
                retry_after=response.retry_after(),
            )
        media = response.content_type or "no content type"
        return MalformedResponse(
            f"HTTP {status} answer is not Transak's JSON error envelope ({media}): "
            f"{response.excerpt()!r}",
            provider=PROVIDER,
            http_status=status,
            retry_after=response.retry_after(),
        )
    message = envelope.message or f"HTTP {status} with an empty message"
    if cls is RequestRejected and status == 400 and EXPIRED_SESSION.search(envelope.message):
        cls = AuthenticationError
    elif cls is MalformedResponse:
        message = f"unexpected HTTP status {status}: {message}"
    return cls(
        message,
        provider=PROVIDER,
        http_status=status,
        provider_code=envelope.code,
        provider_message=envelope.message,
        retry_after=response.retry_after(),
    )
