"""Onfido's error answers, as data: :data:`ERROR_TABLE`.

The rules applying it are kycbridge's own (:mod:`kycbridge.errortable`).

Onfido's error body is ``{"error": {"type", "message", "fields"}}``: ``type`` is a snake_case
code (``authorization_error``, ``validation_error``, ``resource_not_found``) and becomes
``provider_code``, ``message`` becomes ``provider_message``; ``fields`` (per-field messages,
as ``{"f": ["..."]}`` or ``{"f": {"messages": [...]}}``) is allowed but not read. Any other
body is not Onfido's: a ``MalformedResponse`` (a 404 without it says "check base_url"),
except for 429 and 5xx, which keep their type whatever the body (Onfido's 429 body and
headers are unconfirmed).
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
"""Longest ``Retry-After`` put on an error, in seconds (Onfido's window is a minute)."""

ERROR_TABLE = ErrorTable(
    statuses={
        400: RequestRejected,  # a request Onfido could not read
        401: AuthenticationError,  # authorization_error: missing or wrong API token
        403: AuthenticationError,  # a token not allowed this resource (unconfirmed)
        404: SubjectNotFound,  # resource_not_found: no workflow run with this id
        422: RequestRejected,  # validation_error (an id Onfido refuses, for one)
        429: RateLimited,  # over 400 requests/minute
        500: ProviderUnavailable,
        502: ProviderUnavailable,
        503: ProviderUnavailable,
        504: ProviderUnavailable,
    },
    summaries={
        RequestRejected: "Onfido rejected the request",
        AuthenticationError: "Onfido rejected the API token",
        SubjectNotFound: "Onfido has no workflow run with this id",
        RateLimited: "Onfido rate limit exceeded (400 requests/minute)",
        ProviderUnavailable: "Onfido is unavailable",
    },
    body=ErrorBody(
        required={"error": dict, "error.type": str},
        optional={"error.message": str, "error.fields": (dict, list)},
        code="error.type",
        message="error.message",
    ),
    request_id_headers=("x-request-id",),  # not documented: read when present
    max_retry_after=MAX_RETRY_AFTER,
)
"""How a non-2xx Onfido answer becomes a :class:`kycbridge.KYCBridgeError`."""
