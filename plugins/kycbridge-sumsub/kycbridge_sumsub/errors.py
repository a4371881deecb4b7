"""Sumsub's error answers, as data: :data:`ERROR_TABLE`.

The rules applying it are kycbridge's own (:mod:`kycbridge.errortable`).

Body: ``{"description": "...", "code": <http status>, "correlationId": "req-...",
"errorCode"?: <number>, "errorName"?: "..."}``. A JSON object with a string ``description``
is Sumsub's own (the other fields are read when present and of their documented type; a
``code`` or ``correlationId`` of another type makes it not Sumsub's). ``errorName`` (else
``errorCode``) becomes ``provider_code``, ``description`` ``provider_message`` and
``correlationId`` the error's ``request_id``. Any other body (HTML, text, empty, another JSON
object such as the sandbox's ``{"error": "no simulator at /resources"}`` when ``base_url``
lacks its ``/sumsub`` prefix) is a ``MalformedResponse``, except for 429 and 5xx, which keep
their type. A 404 without Sumsub's body says "check base_url".

A bad app token or signature (``"Invalid signature"``) is a 401: ``AuthenticationError``.
The exact 404 text for an unknown applicant is not documented; the status decides.
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

__all__ = ["ERROR_BODY", "ERROR_TABLE", "MAX_RETRY_AFTER"]

MAX_RETRY_AFTER = 5.0
"""Longest ``Retry-After`` put on an error, in seconds: Sumsub's window is 5 s, so no longer
wait is needed to free a slot (a longer hint would hold a Bridge's limiter, or a watch, back
for nothing). The transport's own retry honours ``Retry-After`` up to its ``max_retry_after``.
"""

ERROR_BODY = ErrorBody(
    required={"description": str},
    optional={"code": int, "correlationId": str, "errorCode": (int, str), "errorName": str},
    code=("errorName", "errorCode"),
    message="description",
    request_id="correlationId",
)
"""What Sumsub's own error body looks like, and where its fields are."""

ERROR_TABLE = ErrorTable(
    statuses={
        400: RequestRejected,  # a malformed request
        401: AuthenticationError,  # a bad app token or signature ("Invalid signature")
        403: AuthenticationError,  # the token lacks the permission
        404: SubjectNotFound,  # no applicant with this id / external user id
        429: RateLimited,  # over 300 GET requests per 5 s
        500: ProviderUnavailable,
        502: ProviderUnavailable,
        503: ProviderUnavailable,
        504: ProviderUnavailable,
    },
    summaries={
        RequestRejected: "Sumsub rejected the request",
        AuthenticationError: "Sumsub rejected the app token or signature",
        SubjectNotFound: "Sumsub has no applicant for this subject",
        RateLimited: "Sumsub rate limit exceeded (300 GET requests per 5 s)",
        ProviderUnavailable: "Sumsub is unavailable",
    },
    body=ERROR_BODY,
    max_retry_after=MAX_RETRY_AFTER,
)
"""How a non-2xx Sumsub answer becomes a :class:`kycbridge.KYCBridgeError`."""
