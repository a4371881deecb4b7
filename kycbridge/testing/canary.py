"""Canary values and the search for them: how the contract finds personal data that leaked.

A *canary* is a made-up value put where personal data goes (a user id, an email, a session
id) and then searched for in every log line, error and repr a call produced. It must pass
the query's validation, so it is shaped after a valid value: :func:`canary_candidates` gives
the shapes to try, most recognisable first.

:func:`find_leaks` searches texts for values as they are, percent-encoded (path and query
forms) and JSON-escaped, ignoring case; :func:`record_text` is everything a log handler could
show of a record (message, traceback, stack, ``extra`` fields).
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import traceback
import uuid
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from kycbridge.redact import secret_forms

__all__ = [
    "MIN_LEAK_LENGTH",
    "canary_candidates",
    "canary_uuid",
    "find_leaks",
    "leak_forms",
    "record_text",
]

MIN_LEAK_LENGTH = 4
"""Values shorter than this are not searched for (they would match ordinary words)."""

_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PREFIX = re.compile(r"0x|[A-Za-z]{1,4}[_-]")
_RECORD_KEYS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def canary_uuid(token: str, *, upper: bool = False) -> str:
    """A version-4 UUID derived from ``token`` (the same token, the same UUID)."""
    digest = hashlib.sha256(token.encode("utf-8")).digest()[:16]
    value = str(uuid.UUID(bytes=digest, version=4))
    return value.upper() if upper else value


def _scramble(original: str, token: str, seed: int) -> str:
    """``original`` with its characters after a short prefix redrawn within their class.

    Each digit becomes one of the original's digits, each lowercase letter one of its
    lowercase letters, each uppercase one of its uppercase ones; everything else and a
    prefix such as ``0x`` or ``inq_`` stay. Alphabets (hex, base58) and lengths are kept.
    """
    prefix = _PREFIX.match(original)
    start = prefix.end() if prefix else 0
    pools = {
        kind: sorted({c for c in original[start:] if c.isascii() and test(c)})
        for kind, test in (("d", str.isdigit), ("l", str.islower), ("u", str.isupper))
    }
    rng = random.Random(f"{token}:{seed}")
    out = [original[:start]]
    for char in original[start:]:
        kind = "d" if char.isdigit() else "l" if char.islower() else "u" if char.isupper() else ""
        out.append(rng.choice(pools[kind]) if kind and char.isascii() else char)
    return "".join(out)


def canary_candidates(original: str, token: str) -> list[str]:
    """Values to try in place of the valid value ``original``, most recognisable first.

    A UUID for a UUID (in its case), ``token@<domain>`` for an email, ``token`` itself, then
    ``original`` with its characters redrawn (:func:`_scramble`), as is and lowercase. None
    equals ``original``. The first one the query's validation accepts is the canary.
    """
    candidates: list[str] = []
    if _UUID.fullmatch(original):
        candidates.append(canary_uuid(token, upper=original.isupper()))
    if _EMAIL.fullmatch(original):
        candidates += [f"{token}@{original.rpartition('@')[2]}", f"{token}@example.com"]
    candidates.append(token)
    for seed in range(3):
        scrambled = _scramble(original, token, seed)
        candidates += [scrambled, scrambled.lower()]
    unique = dict.fromkeys(c for c in candidates if c != original and len(c) >= MIN_LEAK_LENGTH)
    return list(unique)


def leak_forms(value: str) -> frozenset[str]:
    """The spellings of ``value`` searched for, lowercase: as is, JSON-escaped, URL-encoded."""
    forms = {
        *secret_forms(value),
        quote(value, safe="", errors="surrogatepass"),
        quote_plus(value, safe="", errors="surrogatepass"),
        quote(value, errors="surrogatepass"),
    }
    return frozenset(form.lower() for form in forms)


def find_leaks(
    values: Iterable[str], texts: Iterable[tuple[str, str]]
) -> list[tuple[str, str, str]]:
    """Each ``(value, where, text)`` where a value (any of :func:`leak_forms`) is in a text.

    ``texts`` are ``(where, text)`` pairs; the search ignores case. Values shorter than
    :data:`MIN_LEAK_LENGTH` are not searched for.
    """
    needles = {
        form: value
        for value in values
        if isinstance(value, str) and len(value) >= MIN_LEAK_LENGTH
        for form in leak_forms(value)
    }
    leaks: list[tuple[str, str, str]] = []
    for where, text in texts:
        lowered = text.lower()
        for form, value in needles.items():
            if form in lowered:
                leaks.append((value, where, text))
                break
    return leaks


def record_text(record: logging.LogRecord) -> str:
    """All a handler could show of ``record``: message, traceback, stack and ``extra`` fields."""
    try:
        shown = record.getMessage()
    except Exception:  # a broken record: its parts, as a formatter would fail on them
        shown = f"{record.msg!r} % {record.args!r}"
    if record.exc_info:
        shown += "\n" + "".join(traceback.format_exception(*record.exc_info))
    if record.stack_info:
        shown += "\n" + record.stack_info
    extra = {k: v for k, v in vars(record).items() if k not in _RECORD_KEYS}
    if extra:
        shown += f"\nextra={extra!r}"
    return shown
