"""StarkFi's error answers and the :class:`kycbridge.KYCBridgeError` each one becomes.

The table is :data:`ERROR_TABLE`; statuses not in it fall back by class (other 4xx:
:class:`~kycbridge.RequestRejected`, other 5xx: :class:`~kycbridge.ProviderUnavailable`,
anything else, such as a redirect: :class:`~kycbridge.MalformedResponse`).

Bodies: StarkFi's errors come in its envelope ``{"statusCode", "success": false, "status":
"<snake_code>", "message"}``, except 429, whose body is ``{"code": 429, "message", "docs"}``.
The envelope's ``status`` (or the 429 body's ``code``) becomes ``provider_code`` and its
``message`` becomes ``provider_message``. A body that is not a JSON object served as JSON
(HTML, text, empty, truncated) is a :class:`~kycbridge.MalformedResponse` carrying the HTTP
status and a short excerpt, except for 429 and 5xx: an HTML 502 page from a gateway still
means "unavailable", so those keep their status-based type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from kycbridge import (
    AuthenticationError,
    KYCBridgeError,
    MalformedResponse,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    SubjectNotFound,
)
from kycbridge.redact import mask
from kycbridge.transport import Response

__all__ = [
    "ERROR_TABLE",
    "MAX_RETRY_AFTER",
    "error_class",
    "error_for",
    "error_payload",
    "is_json_type",
    "mask_personal",
    "retry_after",
    "status_based",
]

ERROR_TABLE: Mapping[int, type[KYCBridgeError]] = MappingProxyType(
    {
        400: RequestRejected,  # missing_params: StarkFi refused the request as sent
        401: AuthenticationError,  # missing or wrong x-api-key
        403: AuthenticationError,  # key not allowed for this endpoint
        404: SubjectNotFound,  # no KYC record or session for this email / wallet
        429: RateLimited,  # over 10 requests/s or 600/min for this key
        500: ProviderUnavailable,  # server_failed
        502: ProviderUnavailable,
        503: ProviderUnavailable,
        504: ProviderUnavailable,
    }
)
"""HTTP status -> error type, for the statuses StarkFi (or its gateway) is known to answer."""

_SUMMARY: Mapping[type[KYCBridgeError], str] = MappingProxyType(
    {
        RequestRejected: "StarkFi rejected the request",
        AuthenticationError: "StarkFi rejected the API key",
        SubjectNotFound: "StarkFi has no KYC record or session for this subject",
        RateLimited: "StarkFi rate limit exceeded (10 requests/s, 600/min per key)",
        ProviderUnavailable: "StarkFi is unavailable",
    }
)


def status_based(status: int) -> bool:
    """Whether ``status`` (429, 5xx) keeps its error type even when the body is junk."""
    return status == 429 or 500 <= status <= 599


def error_class(status: int) -> type[KYCBridgeError]:
    """The error type for HTTP ``status`` (:data:`ERROR_TABLE`, then fallbacks by class)."""
    if status in ERROR_TABLE:
        return ERROR_TABLE[status]
    if 400 <= status <= 499:
        return RequestRejected
    if 500 <= status <= 599:
        return ProviderUnavailable
    return MalformedResponse


def is_json_type(content_type: str) -> bool:
    """Whether a lowercase, parameter-less media type is JSON.

    ``application/json`` and the ``+json`` types (``application/problem+json``) are.
    """
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


def error_payload(response: Response) -> dict[str, Any] | None:
    """The error body as a JSON object, or ``None`` when it is not one served as JSON."""
    if not is_json_type(response.content_type):
        return None
    try:
        payload = json.loads(response.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None


_EMAIL = re.compile(r"[^\s@\"'<>()]+@[^\s@\"'<>()]+")
_WALLET = re.compile(r"\b(?:0x[0-9a-fA-F]{40}|[1-9A-HJ-NP-Za-km-z]{32,44})\b")


def mask_personal(text: str) -> str:
    """``text`` with email- and wallet-looking substrings masked (providers echo them)."""
    text = _EMAIL.sub(lambda m: mask(m.group(0)), text)
    return _WALLET.sub(lambda m: mask(m.group(0)), text)


def _text(value: object, limit: int = 300) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str) and value.strip():
        value = " ".join(value.split())
        return mask_personal(value if len(value) <= limit else value[:limit] + "…")
    return None


MAX_RETRY_AFTER = 60.0
"""Longest ``Retry-After`` put on an error, in seconds (StarkFi's longest window is a minute).

A larger, infinite or absurd value from a proxy would otherwise hold the Bridge's shared
rate limiter back for that long.
"""


def retry_after(response: Response) -> float | None:
    """The answer's ``Retry-After`` in seconds, capped at :data:`MAX_RETRY_AFTER`."""
    value = response.retry_after()
    if value is None or value != value:  # absent or NaN
        return None
    return min(value, MAX_RETRY_AFTER)


def error_for(response: Response, *, provider: str = "starkfi") -> KYCBridgeError:
    """The error for a non-2xx StarkFi answer, whatever its body. Never raises."""
    status = response.status
    cls = error_class(status)
    payload = error_payload(response)
    if cls is MalformedResponse:
        location = response.headers.get("location")
        hint = f" (redirect to {location!r}: check base_url)" if location else ""
        return MalformedResponse(
            f"unexpected HTTP status {status}{hint}: {mask_personal(response.excerpt())!r}",
            provider=provider,
            http_status=status,
        )
    if payload is None and not status_based(status):
        kind = response.content_type or "no content type"
        return MalformedResponse(
            f"HTTP {status} answer is not StarkFi's JSON envelope ({kind}): "
            f"{mask_personal(response.excerpt())!r}",
            provider=provider,
            http_status=status,
        )
    summary = _SUMMARY.get(cls, "StarkFi refused the request")
    if payload is None:
        payload = {}
        if response.body:
            summary += f" (body not JSON: {mask_personal(response.excerpt(60))!r})"
    # The envelope's snake_case "status"; the 429 body's numeric "code".
    code = _text(payload.get("status")) or _text(payload.get("code"))
    message = _text(payload.get("message"))
    detail = f": {code}" if code else ""
    detail += f" ({message})" if message else ""
    return cls(
        summary + detail,
        provider=provider,
        http_status=status,
        provider_code=code,
        provider_message=message,
        retry_after=retry_after(response),
    )
