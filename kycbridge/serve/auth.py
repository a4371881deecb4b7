"""Access to the service: the bearer token, signed session cookies and CSRF tokens.

- The token is compared with :func:`hmac.compare_digest` (on its UTF-8 bytes); it is never
  logged, printed, put in a cookie or a page.
- A session cookie is ``<session id>.<expiry>.<HMAC-SHA256>`` signed with a random key made
  per :class:`Sessions` object (so per process: a restart logs everyone out). It carries no
  token and no personal data.
- A CSRF token is the HMAC of the session id under the same key: a form carries it in a
  hidden field and a POST without the right one is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

__all__ = ["COOKIE_NAME", "Sessions", "token_matches"]

COOKIE_NAME = "kycbridge_session"
"""The session cookie's name."""


def token_matches(given: str | None, token: str) -> bool:
    """Whether ``given`` is ``token`` (constant time; ``None`` never matches)."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), token.encode("utf-8"))


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else ``None``."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


class Sessions:
    """Makes and checks session cookies and CSRF tokens with a per-object random key."""

    def __init__(self, ttl: float = 12 * 3600.0, *, clock: Callable[[], float] = time.time) -> None:
        if not ttl > 0:
            raise ValueError("ttl must be positive")
        self.ttl = ttl
        self.clock = clock
        self._key = secrets.token_bytes(32)

    def __repr__(self) -> str:
        return f"<Sessions ttl={self.ttl:g}>"

    def _sign(self, text: str) -> str:
        return hmac.new(self._key, text.encode("ascii"), hashlib.sha256).hexdigest()

    def new(self) -> str:
        """A new signed session value (for the cookie)."""
        sid = secrets.token_urlsafe(18)
        payload = f"{sid}.{int(self.clock() + self.ttl)}"
        return f"{payload}.{self._sign('session:' + payload)}"

    def check(self, value: str | None) -> str | None:
        """The session id of a valid, unexpired cookie value, else ``None``."""
        if not value or len(value) > 200 or not value.isascii():
            return None
        sid, _, rest = value.partition(".")
        expiry, _, signature = rest.partition(".")
        if not sid or not expiry.isdigit() or len(expiry) > 12:
            return None
        expected = self._sign(f"session:{sid}.{expiry}")
        if not hmac.compare_digest(signature.encode("ascii"), expected.encode("ascii")):
            return None
        if int(expiry) < self.clock():
            return None
        return sid

    def csrf(self, sid: str) -> str:
        """The CSRF token of session ``sid``."""
        return self._sign("csrf:" + sid)

    def csrf_matches(self, sid: str, given: str | None) -> bool:
        """Whether ``given`` is session ``sid``'s CSRF token (constant time)."""
        if not given or not given.isascii():
            return False
        return hmac.compare_digest(given.encode("ascii"), self.csrf(sid).encode("ascii"))

    def cookie(self, value: str, *, secure: bool, max_age: float | None = None) -> str:
        """A ``Set-Cookie`` value: HttpOnly, SameSite=Strict, Path=/, Secure when asked."""
        age = int(self.ttl if max_age is None else max_age)
        parts = [f"{COOKIE_NAME}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
        parts.append(f"Max-Age={age}")
        if secure:
            parts.append("Secure")
        return "; ".join(parts)
