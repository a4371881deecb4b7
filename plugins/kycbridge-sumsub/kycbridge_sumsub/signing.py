"""Sumsub's request signature, in one place: :func:`signature` and :func:`signed_headers`.

Every request carries three headers: ``X-App-Token`` (the app token), ``X-App-Access-Ts``
(the time of signing, whole seconds since the epoch) and ``X-App-Access-Sig``, the lowercase
hex HMAC-SHA256, keyed with the secret key, of::

    ts + METHOD + path-with-query + body

where path-with-query is the request target exactly as sent (already percent-encoded) and
body the exact body bytes (nothing for ``GET``). Sumsub refuses a timestamp more than one
minute away from its clock, so a signature goes stale: the provider signs every attempt
anew (:meth:`kycbridge.HTTPStatusProvider.sign`, called by the transport before each one,
retries included), never once per call.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TOKEN_HEADER",
    "TOLERANCE",
    "signature",
    "signed_headers",
]

TOKEN_HEADER = "X-App-Token"  # noqa: S105 - a header name
"""The header carrying the app token."""

TIMESTAMP_HEADER = "X-App-Access-Ts"
"""The header carrying the signing time (unix seconds, an integer)."""

SIGNATURE_HEADER = "X-App-Access-Sig"
"""The header carrying the signature."""

TOLERANCE = 60.0
"""How far (seconds) a timestamp may be from Sumsub's clock: one minute."""


def signature(secret_key: str, ts: str, method: str, path_with_query: str, body: bytes) -> str:
    """The lowercase hex HMAC-SHA256 of ``ts + METHOD + path_with_query + body``.

    >>> signature("key", "1607551635", "GET", "/resources/applicants/abc/one", b"")[:16]
    '58ef4eee81e0b43b'
    """
    message = (ts + method.upper() + path_with_query).encode("utf-8") + body
    return hmac.new(secret_key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signed_headers(
    secret_key: str, now: float, method: str, path_with_query: str, body: bytes | None
) -> dict[str, str]:
    """``X-App-Access-Ts`` and ``X-App-Access-Sig`` for a request sent at ``now``."""
    ts = str(int(now))
    return {
        TIMESTAMP_HEADER: ts,
        SIGNATURE_HEADER: signature(secret_key, ts, method, path_with_query, body or b""),
    }
