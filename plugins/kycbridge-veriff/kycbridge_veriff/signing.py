"""Veriff's request signature, in one place: :func:`signature`.

Veriff authenticates each API call with two headers: ``X-AUTH-CLIENT`` (the API key) and
``X-HMAC-SIGNATURE``, the lowercase hex HMAC-SHA256 of a payload keyed with the
integration's shared secret. The payload is the session id for ``GET`` and ``DELETE``, and
the exact body bytes for ``POST`` and ``PATCH``.

The signature carries no timestamp or nonce, so it is the same for every call about one
session: nothing needs re-signing per attempt (a retry sends the same headers). It also means
a signature, once seen, works for that session forever: it is as secret as the key, and the
provider never logs or shows it (``secret_headers``).
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["AUTH_HEADER", "SIGNATURE_HEADER", "signature"]

AUTH_HEADER = "X-AUTH-CLIENT"
"""The header carrying the API key."""

SIGNATURE_HEADER = "X-HMAC-SIGNATURE"
"""The header carrying the signature."""


def signature(shared_secret: str, payload: str | bytes) -> str:
    """The lowercase hex HMAC-SHA256 of ``payload`` (a session id, or body bytes).

    >>> signature("secret", "12df6045-3846-3e45-946a-14fa6136d78b")[:16]
    '1011595cee9c73b0'
    """
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    return hmac.new(shared_secret.encode("utf-8"), data, hashlib.sha256).hexdigest()
