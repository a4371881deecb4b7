"""Keeping secrets out of output and personal data out of logs.

Secrets (tokens, API keys) are never shown at all: :data:`REDACTED` stands in for them.
Personal data (an email, a wallet) is *masked*: enough is kept to tell subjects apart in a log
(``j***@e***.com``, ``0x12…cdef``), not enough to recover them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus

__all__ = ["REDACTED", "mask", "redact_headers", "scrub", "scrub_bytes", "secret_forms"]

REDACTED = "***"
"""What stands in for a secret."""


def mask(value: object) -> str:
    """Mask personal data for logs and reprs.

    >>> mask("jane.doe@example.com")
    'j***@e***.com'
    >>> mask("0x52908400098527886E0F7030069857D2E4169EE7")
    '0x5290…9EE7'
    """
    if value is None:
        return "None"
    text = str(value)
    if "@" in text:
        local, _, domain = text.rpartition("@")
        host, dot, tld = domain.rpartition(".")
        if not dot:
            host, tld = domain, ""
        return f"{local[:1]}***@{host[:1]}***{dot}{tld}"
    if len(text) <= 8:
        return text[:1] + "***" if text else ""
    return f"{text[:6]}…{text[-4:]}"


def redact_headers(headers: Mapping[str, str], secret_names: Iterable[str]) -> dict[str, str]:
    """Copy ``headers`` with every secret header's value replaced by :data:`REDACTED`."""
    secret = {name.lower() for name in secret_names}
    return {k: (REDACTED if k.lower() in secret else v) for k, v in headers.items()}


MIN_SECRET_LENGTH = 3
"""Shorter secrets are not scrubbed (replacing one or two characters would garble text)."""

# Characters that JSON or URL encoding would write differently.
_ENCODED_DIFFERENTLY = re.compile(r"[^A-Za-z0-9_.~-]")


def secret_forms(secret: str) -> tuple[str, ...]:
    r"""The spellings of ``secret`` a provider may echo: as is, JSON-escaped, URL-encoded.

    >>> secret_forms("sk_live_123")
    ('sk_live_123',)
    >>> secret_forms("a/b c")
    ('a/b c', 'a\\/b c', 'a%2Fb%20c', 'a%2Fb+c')
    """
    if not _ENCODED_DIFFERENTLY.search(secret):
        return (secret,)
    escaped = json.dumps(secret)[1:-1]
    forms = [
        secret,
        escaped,
        escaped.replace("/", "\\/"),
        json.dumps(secret, ensure_ascii=False)[1:-1],
        # surrogatepass: a lone surrogate in a bad secret must not crash its own scrubbing
        quote(secret, safe="", errors="surrogatepass"),
        quote_plus(secret, safe="", errors="surrogatepass"),
    ]
    return tuple(dict.fromkeys(forms))  # each once, in this order


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every occurrence of each secret (in each of :func:`secret_forms`) in ``text``.

    Secrets shorter than :data:`MIN_SECRET_LENGTH` (or made of ``*`` only) are left alone.
    Returns ``text`` itself when no secret occurs in it.
    """
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET_LENGTH and secret.strip("*"):
            for form in secret_forms(secret):
                # Again until gone: "***" can complete a new occurrence of a secret with "*"
                # in it. Each pass removes a character that is not "*", so this ends.
                while form in text:
                    text = text.replace(form, REDACTED)
    return text


def scrub_bytes(data: bytes, secrets: Iterable[str | None]) -> bytes:
    """:func:`scrub` for a body: ``data`` itself (no copy) when no secret occurs in it."""
    redacted = REDACTED.encode()
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET_LENGTH and secret.strip("*"):
            for form in secret_forms(secret):
                encoded = form.encode("utf-8", "surrogatepass")
                while encoded in data:
                    data = data.replace(encoded, redacted)
    return data
