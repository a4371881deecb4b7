"""Transak's error answers, as data: :data:`ERROR_TABLE`.

The rules applying it are kycbridge's own (:mod:`kycbridge.errortable`).

Transak's error body is its envelope, served as JSON::

    {"error": {"statusCode": <int>, "message": "<text>", "errorCode": <optional str or int>}}

Any other body (HTML, text, wrong content type, missing or mistyped keys) is a
``MalformedResponse`` carrying the status and an excerpt, except for 429 and 5xx, which keep
their type (a gateway's HTML 502 page still means "unavailable"); a 404 without the envelope
says "check base_url". ``provider_code`` is ``errorCode`` when present, else ``statusCode``.
A 400 whose message says the session or token expired (``Session Expired``, ``jwt expired``,
``token has expired``...; case-insensitive) is an ``AuthenticationError``: Transak reports an
expired user session that way on some pages.
"""

from __future__ import annotations

from kycbridge import (
    AuthenticationError,
    ErrorBody,
    ErrorTable,
    Override,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    SubjectNotFound,
)

__all__ = ["ERROR_TABLE", "EXPIRED_SESSION"]

EXPIRED_SESSION = (
    r"\b(?:session|token|jwt)\b.*\bexpired\b|\bexpired\b.*\b(?:session|token|jwt)\b"
)
"""A 400 message matching this (case-insensitive) is an expired user session."""

ERROR_TABLE = ErrorTable(
    statuses={
        400: RequestRejected,
        401: AuthenticationError,
        403: AuthenticationError,
        404: SubjectNotFound,
        429: RateLimited,
        500: ProviderUnavailable,
        502: ProviderUnavailable,
        503: ProviderUnavailable,
        504: ProviderUnavailable,
    },
    summaries={
        RequestRejected: "Transak rejected the request",
        AuthenticationError: "Transak rejected the access token",
        SubjectNotFound: "Transak has no such workflow run",
        RateLimited: "Transak rate limit exceeded",
        ProviderUnavailable: "Transak is unavailable",
    },
    body=ErrorBody(
        required={"error.statusCode": int, "error.message": str},
        optional={"error.errorCode": (str, int)},
        code=("error.errorCode", "error.statusCode"),
        message="error.message",
    ),
    overrides=[
        Override(
            AuthenticationError,
            status=400,
            message=EXPIRED_SESSION,
            summary="Transak session or token expired",
        ),
    ],
    request_id_headers=("x-request-id",),  # not documented: read when a gateway sends one
)
"""How a non-2xx Transak answer becomes a :class:`kycbridge.KYCBridgeError`."""
