"""Keeping secrets out of output and personal data out of logs.

Secrets (tokens, API keys) are never shown at all: :data:`REDACTED` stands in for them.
Personal data (an email, a wallet) is *masked*: enough is kept to tell subjects apart in a log
(``j***@e***.com``, ``0x12…cdef``), not enough to recover them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["REDACTED", "mask", "redact_headers", "scrub"]

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


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every occurrence of each (non-empty) secret in ``text``."""
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, REDACTED)
    return text
