"""Strict JSON (RFC 8259) for everything kycbridge reads from the outside: :func:`loads`.

Provider answers (:meth:`kycbridge.transport.Response.json`) and webhook deliveries
(:func:`kycbridge.webhooks.strict_json`) are decoded here, so an answer means one thing and
costs little to read. Beyond what :func:`json.loads` refuses, these are refused too, with a
:class:`NotStrictJSON` naming the rule:

- a key twice in one object (which one a reader keeps is up to the reader);
- ``NaN``, ``Infinity``, ``-Infinity`` (not JSON) and a number that overflows a float;
- nesting deeper than :data:`MAX_JSON_DEPTH`, checked before decoding (never a
  ``RecursionError``);
- a number literal longer than :data:`MAX_JSON_NUMBER_LENGTH` characters (decoding a long
  integer takes quadratic time on Python 3.10).

**orjson, when installed** (the ``fast`` extra; ``webhooks`` and ``serve`` include it), decodes
the bodies providers send three to five times faster than :mod:`json`. It keeps a key twice
(the last wins), so its answer is only taken when the rules can be checked without it: the
body has no run of 19 digits and at most :data:`MAX_JSON_DEPTH` openings, and it holds as
many strings as orjson's own encoding of the result (a duplicate key drops at least one).
Anything else, any body orjson refuses included, is decoded by :mod:`json` with the rules
above, so what is accepted, the values and the errors are the same with or without orjson
(``tests/test_json_accelerated.py``). :func:`accelerator` names what is used.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from typing import Any

__all__ = ["MAX_JSON_DEPTH", "MAX_JSON_NUMBER_LENGTH", "NotStrictJSON", "accelerator", "loads"]

MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects :func:`loads` accepts."""

MAX_JSON_NUMBER_LENGTH = 100
"""Longest number literal (digits, sign, point and exponent) :func:`loads` accepts."""


class NotStrictJSON(ValueError):
    """Valid JSON syntax that breaks one of the rules above; the message names the rule."""


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.-]{1,40}")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                # A schema word is named; anything else (personal data?) is not shown.
                shown = repr(key) if _PLAIN_KEY.fullmatch(key) else "a key"
                raise NotStrictJSON(f"{shown} appears twice in one object")
            seen.add(key)
    return result


def _no_constant(name: str) -> Any:
    raise NotStrictJSON(f"{name} is not a JSON number")


def _bounded_int(literal: str) -> int:
    if len(literal) > MAX_JSON_NUMBER_LENGTH:
        raise NotStrictJSON(f"a number longer than {MAX_JSON_NUMBER_LENGTH} characters")
    return int(literal)


def _finite_float(literal: str) -> float:
    if len(literal) > MAX_JSON_NUMBER_LENGTH:
        raise NotStrictJSON(f"a number longer than {MAX_JSON_NUMBER_LENGTH} characters")
    value = float(literal)
    if not math.isfinite(value):
        raise NotStrictJSON("a number too large for a float")
    return value


# Built once: json.loads with hooks would build a decoder on every call. Shared between
# threads as json.loads shares its default decoder.
_STRICT_JSON = json.JSONDecoder(
    object_pairs_hook=_unique_keys,
    parse_constant=_no_constant,
    parse_int=_bounded_int,
    parse_float=_finite_float,
)

# A JSON string, or an unterminated one up to the end of the text: the optional closing quote
# makes every match succeed, so the scan stays linear whatever the text.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than :data:`MAX_JSON_DEPTH`, before :func:`json.loads` recurses."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return  # cannot nest deeper than it has openings (the common case: one count each)
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    depth = max(itertools.accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0)
    if depth > MAX_JSON_DEPTH:
        raise NotStrictJSON(f"arrays and objects nested deeper than {MAX_JSON_DEPTH} levels")


# The same rules without the per-integer hook: used when one scan of the bytes shows no run of
# MAX_JSON_NUMBER_LENGTH digits (so no integer literal can be too long), which is every body a
# provider sends. What is refused is exactly the same.
_FAST_STRICT_JSON = json.JSONDecoder(
    object_pairs_hook=_unique_keys,
    parse_constant=_no_constant,
    parse_float=_finite_float,
)
_SCAN = bytes(
    0x30 if 0x30 <= i <= 0x39 else 0x5B if i in (0x5B, 0x7B) else 0x20 for i in range(256)
)
"""Digits to ``0``, ``[`` and ``{`` to ``[``, anything else to a space: one C pass."""
_LONG_DIGITS = b"0" * MAX_JSON_NUMBER_LENGTH


def loads(data: bytes) -> Any:
    """``data`` (UTF-8 bytes) decoded as strict JSON.

    Raises :class:`NotStrictJSON` for a rule above, :class:`UnicodeDecodeError` for bytes that
    are not UTF-8 (a BOM included, as :func:`json.loads` refuses on text), and
    :class:`ValueError` (``json.JSONDecodeError``) for text that is not JSON.
    """
    scan = data.translate(_SCAN)
    if (_orjson if _orjson is not _UNLOADED else _load_orjson()) is not None:
        value = _accelerated(data, scan)
        if value is not _UNDECIDED:
            return value
    return _stdlib_loads(data, scan)


def _stdlib_loads(data: bytes, scan: bytes) -> Any:
    """:func:`loads` by :mod:`json` alone (``scan`` is ``data.translate(_SCAN)``)."""
    text = data.decode("utf-8")
    if scan.count(b"[") > MAX_JSON_DEPTH:  # may nest deeper than allowed: look closer
        _check_depth(text)
    if _LONG_DIGITS in scan:  # an integer literal may be over the bound: hook every one
        return _STRICT_JSON.decode(text)
    return _FAST_STRICT_JSON.decode(text)


# -- the accelerator -------------------------------------------------------------------------
_UNLOADED: Any = object()
_orjson: Any = _UNLOADED
"""The orjson module, ``None`` without it; imported by the first :func:`loads` (not at import
time: a command that decodes nothing does not pay for it)."""


def _load_orjson() -> Any:
    global _orjson
    try:
        import orjson
    except ImportError:  # without the fast extra: json alone
        _orjson = None
    else:
        _orjson = orjson
    return _orjson


def accelerator() -> str | None:
    """What decodes the bodies :func:`loads` can hand over (``"orjson 3.10.0"``), or ``None``."""
    orjson = _orjson if _orjson is not _UNLOADED else _load_orjson()
    return None if orjson is None else f"orjson {orjson.__version__}"


_UNDECIDED: Any = object()
_ORJSON_DIGITS = b"0" * 19
"""orjson reads an integer past 64 bits as a float: a run this long is left to :mod:`json`.
(A number literal over MAX_JSON_NUMBER_LENGTH characters has a longer run: at most four of
its characters are not digits.)"""


def _accelerated(data: bytes, scan: bytes) -> Any:
    """The value orjson reads in ``data`` when it is what :func:`_stdlib_loads` gives.

    Else :data:`_UNDECIDED`, always for ``data`` with a run of 19 digits or more than
    :data:`MAX_JSON_DEPTH` openings. A key given twice leaves its first member, at least one
    string, out of the value, so the text holds more strings than orjson's encoding of the
    value (:func:`_strings`): the counts differ, and :mod:`json` decides. NaN, overflowing
    floats, bad UTF-8 (a BOM too) and bad syntax are refused by orjson, and so decided by
    :mod:`json` too.
    """
    if _ORJSON_DIGITS in scan or scan.count(b"[") > MAX_JSON_DEPTH:
        return _UNDECIDED
    try:
        value = _orjson.loads(data)
        if _strings(data) == _strings(_orjson.dumps(value)):
            return value
    except (_orjson.JSONDecodeError, _orjson.JSONEncodeError):
        pass
    return _UNDECIDED


def _strings(encoded: bytes) -> int:
    r"""Twice the number of strings in valid JSON ``encoded``: its ``"`` that delimit one.

    Outside strings, JSON has no backslash; inside, a backslash starts a two-character
    escape. Removing ``\\`` pairs, then ``\"``, left to right, removes the escapes that are
    or hide a ``"`` as a tokenizer reads them (a run of backslashes pairs up from its start):
    every ``"`` left delimits a string.
    """
    if b"\\" in encoded:
        encoded = encoded.replace(b"\\\\", b"").replace(b'\\"', b"")
    return encoded.count(b'"')
