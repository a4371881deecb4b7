"""Didit's error answers, as data: :data:`ERROR_TABLE`.

The rules applying it are kycbridge's own (:mod:`kycbridge.errortable`).

Documented statuses: 401 (API key missing, invalid or revoked), 403 (a key without access
to this resource), 404 (no such session), 429 (rate limit). The body's shape is not
confirmed: Didit's API answers ``{"detail": "..."}`` (Django REST framework's shape) on most
errors and ``{"error": "..."}`` on some. Either, as a string, is Didit's own error body and
becomes ``provider_message``; any other body (HTML, text, empty, another JSON object) is not
Didit's: a 404 without it says "check base_url", and 429 and 5xx keep their type whatever
the body. The kycbridge sandbox's own 404, ``{"error": "no simulator at this prefix"}`` for a
base URL without its ``/didit`` prefix, has Didit's shape: an override row makes it a
``MalformedResponse`` saying "check base_url" too.
"""

from __future__ import annotations

from typing import Any

from kycbridge import (
    AuthenticationError,
    ErrorTable,
    MalformedResponse,
    Override,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    SubjectNotFound,
)
from kycbridge.errortable import ErrorFields

__all__ = ["ERROR_TABLE", "MAX_RETRY_AFTER", "read_error_body"]

MAX_RETRY_AFTER = 60.0
"""Longest ``Retry-After`` put on an error, in seconds (Didit's window is 60 s)."""

_MESSAGE_KEYS = ("detail", "error", "message")
_CODE_KEYS = ("code", "error_code")
_REQUEST_ID_KEYS = ("request_id", "requestId")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def read_error_body(payload: Any) -> ErrorFields | None:
    """Didit's error body: a JSON object with a string ``detail`` or ``error``.

    ``None`` for anything else (the body is then not Didit's). ``error`` may also be an
    object with a ``message`` (and ``code``), a shape some Didit endpoints use (unconfirmed).
    """
    if not isinstance(payload, dict):
        return None
    message = _text(payload.get("detail")) or _text(payload.get("error"))
    nested = payload.get("error")
    code: object = None
    if message is None and isinstance(nested, dict):
        message = _text(nested.get("message")) or _text(nested.get("detail"))
        code = nested.get("code")
    if message is None:
        return None
    for key in _CODE_KEYS:
        if code is None:
            code = payload.get(key)
    request_id = next((payload[k] for k in _REQUEST_ID_KEYS if _text(payload.get(k))), None)
    return ErrorFields(
        code=str(code) if isinstance(code, (str, int)) and not isinstance(code, bool) else None,
        message=message,
        request_id=request_id,
    )


ERROR_TABLE = ErrorTable(
    statuses={
        400: RequestRejected,  # a malformed request
        401: AuthenticationError,  # x-api-key missing, invalid or revoked
        403: AuthenticationError,  # the key has no access to this session / application
        404: SubjectNotFound,  # no session with this id
        429: RateLimited,  # over 100 decision requests/min for this key
        500: ProviderUnavailable,
        502: ProviderUnavailable,
        503: ProviderUnavailable,
        504: ProviderUnavailable,
    },
    summaries={
        RequestRejected: "Didit rejected the request",
        AuthenticationError: "Didit rejected the API key",
        SubjectNotFound: "Didit has no verification session with this id",
        RateLimited: "Didit rate limit exceeded (100 decision requests/min per key)",
        ProviderUnavailable: "Didit is unavailable",
    },
    body=read_error_body,
    overrides=(
        Override(
            MalformedResponse,
            status=404,
            message=r"^no simulator at ",
            summary="not Didit's API (the kycbridge sandbox): the URL looks wrong, check base_url",
        ),
    ),
    request_id_headers=("x-request-id",),  # not documented: read when present
    max_retry_after=MAX_RETRY_AFTER,
)
"""How a non-2xx Didit answer becomes a :class:`kycbridge.KYCBridgeError`."""
