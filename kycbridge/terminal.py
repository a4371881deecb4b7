r"""Making provider-controlled text safe to print: :func:`safe_text` and :func:`json_line`.

A provider's answer (a status word, an error message) can hold anything: a carriage return
and an escape sequence that redraw the line, a C1 control (``U+009B`` starts a terminal
sequence too), bidi overrides that reorder what is shown, line separators, lone surrogates
that crash an encoder. Every human line the CLI writes goes through :func:`safe_text`, every
JSON line through :func:`json_line`.

>>> safe_text("unknown\r\x1b[8m approved")
'unknown\\x0d\\x1b[8m approved'
>>> safe_text("Überprüfung läuft")
'Überprüfung läuft'
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ELLIPSIS",
    "ERROR_LINE_LIMIT",
    "JSON_MAX_DEPTH",
    "UNSAFE_CATEGORIES",
    "json_line",
    "safe_text",
]

UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Cn", "Zl", "Zp"})
"""Unicode categories :func:`safe_text` escapes: controls, format characters (bidi overrides,
zero-width characters), surrogates, unassigned code points, line and paragraph separators."""

ELLIPSIS = "..."
"""What :func:`safe_text` ends a shortened text with (ASCII, so any terminal shows it)."""

ERROR_LINE_LIMIT = 2000
"""Longest error line the CLI writes, in characters (a longer one is cut)."""

JSON_MAX_DEPTH = 64
"""Nesting deeper than this is written as ``null`` by :func:`json_line`."""

_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def safe_text(text: str, limit: int | None = None) -> str:
    r"""``text`` with every unsafe code point written as a visible escape.

    Controls (``\r``, ESC, C1 such as ``U+009B``, also tab and newline), format characters
    (bidi overrides ``U+202A``-``U+202E``, ``U+2066``-``U+2069``, zero-width characters),
    surrogates, unassigned code points and ``U+2028``/``U+2029`` become ``\xNN``,
    ``\uNNNN`` or ``\UNNNNNNNN``; every other character (letters in any script, a backslash)
    is kept. The result is one line, safe on a terminal, and ``safe_text`` of it is itself.

    ``limit``: at most this many characters are returned; a longer result is cut (never
    inside an escape) and ends with :data:`ELLIPSIS`.
    """
    if not isinstance(text, str):
        text = str(text)
    if text.isascii() and text.isprintable():  # the common case: nothing to escape
        pieces = list(text) if limit is not None and len(text) > limit else [text]
    else:
        pieces = [_escape(c) if unicodedata.category(c) in UNSAFE_CATEGORIES else c for c in text]
    safe = "".join(pieces)
    if limit is None or len(safe) <= limit:
        return safe
    if limit < 0:
        raise ValueError("limit must not be negative")
    budget = limit - len(ELLIPSIS)
    if budget <= 0:
        return ELLIPSIS[:limit]
    kept: list[str] = []
    total = 0
    for piece in pieces:
        if total + len(piece) > budget:
            break
        kept.append(piece)
        total += len(piece)
    return "".join(kept) + ELLIPSIS


def _clean_str(text: str) -> str:
    # a lone surrogate is not Unicode text: JSON parsers disagree about "\ud800" (some
    # reject it), so it becomes U+FFFD
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


def _jsonable(value: Any, depth: int) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _clean_str(value)
    if isinstance(value, int):
        try:
            json.dumps(value)
        except ValueError:  # more digits than int-to-str conversion allows
            return None
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth >= JSON_MAX_DEPTH:
        return None
    if isinstance(value, Mapping):
        return {_clean_str(str(k)): _jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, depth + 1) for v in value]
    return None


def json_line(data: Any) -> str:
    r"""One line of strict JSON (RFC 8259) for ``data``, pure ASCII, with no newline at the end.

    Written with ``ensure_ascii=True`` and ``allow_nan=False``: every non-ASCII character is
    a ``\uNNNN`` escape, so the line is safe on a terminal and encodable on any stdout. What
    JSON cannot hold is replaced, never raised: NaN and infinities, integers too large to
    print, nesting deeper than :data:`JSON_MAX_DEPTH` and objects of other types become
    ``null``; lone surrogates become ``U+FFFD``.
    """
    return json.dumps(_jsonable(data, 0), ensure_ascii=True, allow_nan=False)
