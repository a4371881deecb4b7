"""Persona's error answers, as data: :data:`ERROR_TABLE`.

The rules applying it are kycbridge's own (:mod:`kycbridge.errortable`).

Body: Persona answers errors in JSON:API form, ``{"errors": [{"title", "details", "source":
{"pointer"}}]}`` (note ``details``, not JSON:API's usual ``detail``). A body whose
``errors`` is an array is Persona's own; the first error's ``title`` becomes
``provider_code`` and its ``details`` ``provider_message`` (``detail`` is read too, when
``details`` is absent). Any other body (HTML, text, empty, another JSON object such as a
gateway's ``{"error": "not found"}``, or the sandbox's text when ``base_url`` lacks its
``/persona`` prefix) is a ``MalformedResponse``, except for 429 and 5xx, which keep their
type. A 404 without Persona's body says "check base_url".

403 is an authentication problem (the key lacks the permission) except when Persona says the
quota is exceeded: then it is ``RateLimited``.

Persona documents ``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset``
(seconds until the window resets) but not ``Retry-After``: when a 429 carries no
``Retry-After``, the provider takes ``RateLimit-Reset`` as the hint
(:func:`retry_hint`, applied by ``PersonaProvider.error_for``).
"""

from __future__ import annotations

import math
from typing import Any

from kycbridge import (
    AuthenticationError,
    ErrorFields,
    ErrorTable,
    KYCBridgeError,
    Override,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    SubjectNotFound,
)
from kycbridge.transport import Response

__all__ = ["ERROR_TABLE", "MAX_RETRY_AFTER", "read_error_body", "retry_hint"]

MAX_RETRY_AFTER = 60.0
"""Longest retry hint put on an error, in seconds (Persona's window is one minute)."""


def read_error_body(payload: Any) -> ErrorFields | None:
    """Persona's ``{"errors": [{...}, ...]}`` body, or ``None`` for any other JSON.

    The first error object gives the fields; ``title`` and ``details`` may be missing (a
    body ``{"errors": []}`` is still Persona's, with nothing to say).
    """
    if not isinstance(payload, dict):
        return None
    errors = payload.get("errors")
    if not isinstance(errors, list):
        return None
    first = errors[0] if errors else None
    if not isinstance(first, dict):
        return ErrorFields() if first is None else None
    code = first.get("title")
    message = first.get("details")
    if not isinstance(message, str) or not message.strip():
        message = first.get("detail")
    return ErrorFields(
        code=code if isinstance(code, str) else None,
        message=message if isinstance(message, str) else None,
    )


ERROR_TABLE = ErrorTable(
    statuses={
        400: RequestRejected,  # a malformed request (a bad filter or parameter)
        401: AuthenticationError,  # missing or invalid API key
        403: AuthenticationError,  # the key lacks the permission (quota: see overrides)
        404: SubjectNotFound,  # no inquiry with this id
        409: RequestRejected,  # conflict
        422: RequestRejected,  # unprocessable (e.g. an invalid Persona-Version)
        429: RateLimited,  # over 300 requests/minute for this environment
        500: ProviderUnavailable,
        502: ProviderUnavailable,
        503: ProviderUnavailable,
        504: ProviderUnavailable,
    },
    summaries={
        RequestRejected: "Persona rejected the request",
        AuthenticationError: "Persona rejected the API key",
        SubjectNotFound: "Persona has no inquiry for this subject",
        RateLimited: "Persona rate limit exceeded (300 requests/minute)",
        ProviderUnavailable: "Persona is unavailable",
    },
    overrides=(
        Override(
            RateLimited,
            status=403,
            message=r"quota",
            summary="Persona quota exceeded",
        ),
        Override(
            RateLimited,
            status=403,
            code="quota exceeded",
            summary="Persona quota exceeded",
        ),
    ),
    body=read_error_body,
    request_id_headers=("x-request-id",),  # not documented: read when present
    max_retry_after=MAX_RETRY_AFTER,
)
"""How a non-2xx Persona answer becomes a :class:`kycbridge.KYCBridgeError`."""


def retry_hint(error: KYCBridgeError, response: Response) -> KYCBridgeError:
    """``error`` with ``RateLimit-Reset`` as its ``retry_after``, when it needs one.

    Only a ``RateLimited`` without a ``retry_after`` (Persona's 429 need not carry
    ``Retry-After``) gets one. Capped like ``Retry-After``; an unreadable, negative or
    non-finite header is ignored. Never raises.
    """
    if not isinstance(error, RateLimited) or error.retry_after is not None:
        return error
    try:
        raw = response.headers.get("ratelimit-reset")
        seconds = float(raw.strip()) if isinstance(raw, str) else None
    except (ValueError, AttributeError):
        seconds = None
    if seconds is not None and math.isfinite(seconds) and seconds >= 0:
        error.retry_after = min(seconds, ERROR_TABLE.max_retry_after)
    return error
