"""StarkFi's error answers, as data: :data:`ERROR_TABLE`.

The rules applying it are kycbridge's own (:mod:`kycbridge.errortable`).

Bodies: StarkFi's errors come in its envelope ``{"statusCode", "success": false, "status":
"<snake_code>", "message"}``, except 429, whose body is ``{"code": 429, "message", "docs"}``.
Both have a string ``message``: that is StarkFi's own error body. The envelope's ``status``
(or the 429 body's ``code``) becomes ``provider_code`` and its ``message``
``provider_message``. Any other body (HTML, text, empty, or JSON without a ``message``, such
as a gateway's ``{"error": "not found"}``, or the sandbox's text when ``base_url`` lacks its
``/starkfi`` prefix) is a ``MalformedResponse``, except for 429 and 5xx, which keep their
type. A 404 without StarkFi's body says "check base_url".
"""

from __future__ import annotations

from kycbridge import (
    AuthenticationError,
    ErrorBody,
    ErrorTable,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    SubjectNotFound,
)

__all__ = ["ERROR_TABLE", "MAX_RETRY_AFTER"]

MAX_RETRY_AFTER = 60.0
"""Longest ``Retry-After`` put on an error, in seconds (StarkFi's longest window is a minute)."""

ERROR_TABLE = ErrorTable(
    statuses={
        400: RequestRejected,  # missing_params: StarkFi refused the request as sent
        401: AuthenticationError,  # missing or wrong x-api-key
        403: AuthenticationError,  # key not allowed for this endpoint
        404: SubjectNotFound,  # no KYC record or session for this email / wallet
        429: RateLimited,  # over 10 requests/s or 600/min for this key
        500: ProviderUnavailable,  # server_failed
        502: ProviderUnavailable,
        503: ProviderUnavailable,
        504: ProviderUnavailable,
    },
    summaries={
        RequestRejected: "StarkFi rejected the request",
        AuthenticationError: "StarkFi rejected the API key",
        SubjectNotFound: "StarkFi has no KYC record or session for this subject",
        RateLimited: "StarkFi rate limit exceeded (10 requests/s, 600/min per key)",
        ProviderUnavailable: "StarkFi is unavailable",
    },
    body=ErrorBody(
        required={"message": str},
        code=("status", "code"),  # the envelope's snake_case "status"; the 429 body's "code"
        message="message",
        request_id="requestId",  # not documented: read when present
    ),
    request_id_headers=("x-request-id",),  # likewise
    max_retry_after=MAX_RETRY_AFTER,
)
"""How a non-2xx StarkFi answer becomes a :class:`kycbridge.KYCBridgeError`."""
