"""Veriff's error answers, as data: :data:`ERROR_TABLE`.

The rules applying it are kycbridge's own (:mod:`kycbridge.errortable`).

Body: Veriff's errors are JSON objects whose ``status`` is ``"fail"`` (400, 401, 404, 500).
The other field names are unconfirmed: ``code`` (a number, or digits as text) and
``message`` are read when present, and nothing else is required, so a ``fail`` body without
them is still Veriff's (:func:`read_error_body`). Any other body (HTML, text, empty, or JSON
without ``"status": "fail"``, such as a gateway's ``{"error": "not found"}`` when
``base_url`` lacks its ``/veriff`` prefix) is a ``MalformedResponse``, except for 429 and 5xx,
which keep their type. A 404 without Veriff's body says "check base_url".

Authentication codes choose ``AuthenticationError`` whatever the HTTP status they come with
(:data:`AUTH_CODES`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kycbridge import (
    AuthenticationError,
    ErrorFields,
    ErrorTable,
    Override,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    SubjectNotFound,
)

__all__ = ["AUTH_CODES", "ERROR_TABLE", "MAX_RETRY_AFTER", "read_error_body"]

MAX_RETRY_AFTER = 60.0
"""Longest ``Retry-After`` put on an error, in seconds (Veriff publishes no rate limit)."""

AUTH_CODES: Mapping[str, str] = {
    "1801": "the X-AUTH-CLIENT header (the API key) is missing",
    "1803": "no integration has this API key",
    "1812": "X-HMAC-SIGNATURE is not a SHA-256 hex digest",
    "1818": "X-HMAC-SIGNATURE does not match the session id (check the shared secret)",
    "1819": "X-HMAC-SIGNATURE does not match the body (check the shared secret)",
}
"""Veriff's authentication error codes and what each means."""


def _text(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, str)):
        return str(value)
    return None


def read_error_body(payload: Any) -> ErrorFields | None:
    """Veriff's error body: a JSON object with ``"status": "fail"``; ``None`` for any other.

    ``code`` (number or text) and ``message`` (text) are read when present; a value of
    another type is ignored rather than refused (the field names are unconfirmed).
    """
    if not isinstance(payload, dict):
        return None
    status = payload.get("status")
    if not isinstance(status, str) or status.strip().lower() != "fail":
        return None
    message = payload.get("message")
    return ErrorFields(
        code=_text(payload.get("code")),
        message=message if isinstance(message, str) else None,
    )


ERROR_TABLE = ErrorTable(
    statuses={
        400: RequestRejected,  # a malformed request (a bad session id, a missing header)
        401: AuthenticationError,  # 1801, 1803, 1812, 1818, 1819
        403: AuthenticationError,  # not documented for this endpoint; a refused key
        404: SubjectNotFound,  # no session with this id (for this integration)
        429: RateLimited,  # no published limit; a gateway may still answer 429
        500: ProviderUnavailable,
        502: ProviderUnavailable,
        503: ProviderUnavailable,
        504: ProviderUnavailable,
    },
    summaries={
        RequestRejected: "Veriff rejected the request",
        AuthenticationError: "Veriff rejected the credentials",
        SubjectNotFound: "Veriff has no session with this id",
        RateLimited: "Veriff rate limited the request",
        ProviderUnavailable: "Veriff is unavailable",
    },
    body=read_error_body,
    overrides=[
        Override(AuthenticationError, code=code, summary=f"Veriff rejected the credentials: {why}")
        for code, why in AUTH_CODES.items()
    ],
    request_id_headers=("x-request-id",),  # not documented: read when present
    max_retry_after=MAX_RETRY_AFTER,
)
"""How a non-2xx Veriff answer becomes a :class:`kycbridge.KYCBridgeError`."""
