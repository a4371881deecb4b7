"""How every error the service answers is shaped and which HTTP status it gets.

An error body is always ``{"error": {...}}``: for a :class:`~kycbridge.errors.KYCBridgeError`
its :meth:`~kycbridge.errors.KYCBridgeError.to_dict`, for the service's own refusals
(:class:`ApiError`) the same keys. :data:`ERROR_STATUSES` is the table ``docs/serve.md``
shows; the first row whose class the error is an instance of wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import (
    AuthenticationError,
    InvalidQuery,
    KYCBridgeError,
    MalformedResponse,
    PluginError,
    ProviderNotInstalled,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    SubjectNotFound,
    WatchTimeout,
)
from ..tracking.store import DuplicateSubject, StoreUnavailable

__all__ = ["ERROR_STATUSES", "REASONS", "ApiError", "error_body", "http_status"]

ERROR_STATUSES: Sequence[tuple[type[KYCBridgeError], int, str]] = (
    (DuplicateSubject, 409, "the subject is already tracked (``existing`` is its id)"),
    (StoreUnavailable, 503, "the tracking database cannot be reached"),
    (InvalidQuery, 422, "the query fields failed the provider's validation: nothing was sent"),
    (AuthenticationError, 502, "the provider refused OUR credentials: fix the service's settings"),
    (SubjectNotFound, 404, "the provider has no verification for this subject"),
    (RateLimited, 429, "the provider kept answering 429 (``Retry-After`` says when to retry)"),
    (ProviderUnavailable, 503, "the provider failed or timed out after retries"),
    (MalformedResponse, 502, "the provider answered something that is not its documented shape"),
    (RequestRejected, 502, "the provider refused the request for another reason"),
    (ProviderNotInstalled, 404, "no installed plugin provides this provider"),
    (PluginError, 500, "a provider plugin is broken or conflicts with another"),
    (WatchTimeout, 504, "a deadline passed"),
)
"""``(error class, HTTP status, meaning)``, most specific first."""

REASONS = {
    200: "OK",
    201: "Created",
    303: "See Other",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    411: "Length Required",
    413: "Content Too Large",
    414: "URI Too Long",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
"""The reason phrase of every status the service answers."""


class ApiError(Exception):
    """A refusal by the service itself (bad input, no token...): ``status`` and a ``kind``.

    ``message`` never holds a secret or a value the client sent.
    """

    def __init__(
        self,
        status: int,
        kind: str,
        message: str,
        *,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.headers = list(headers)

    def to_dict(self) -> dict[str, Any]:
        """The same keys as :meth:`KYCBridgeError.to_dict <kycbridge.KYCBridgeError.to_dict>`."""
        return {
            "type": self.kind,
            "message": self.message,
            "provider": None,
            "http_status": None,
            "provider_code": None,
            "provider_message": None,
            "request_id": None,
        }


def http_status(exc: KYCBridgeError) -> int:
    """The HTTP status the service answers for ``exc`` (:data:`ERROR_STATUSES`; else 500)."""
    for cls, status, _meaning in ERROR_STATUSES:
        if isinstance(exc, cls):
            return status
    return 500


def error_body(exc: KYCBridgeError | ApiError) -> dict[str, Any]:
    """``{"error": {...}}`` for ``exc``; a duplicate also names the ``existing`` id."""
    data = exc.to_dict()
    if isinstance(exc, DuplicateSubject):
        data["existing"] = exc.existing
    return {"error": data}
