"""``kycbridge.terminal``: provider text made safe for a terminal and for JSON."""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kycbridge.terminal import ELLIPSIS, UNSAFE_CATEGORIES, json_line, safe_text

FORBIDDEN = {"Cc", "Cf", "Cs", "Zl", "Zp"}
# every code point, surrogates included; biased towards the dangerous ones
DANGEROUS = st.sampled_from(
    ["\r", "\n", "\t", "\x1b", "\x7f", "\x9b", "\x85", "\u2028", "\u2029", "\u200b"]
    + [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
    + ["\ud800", "\udfff", "\ufeff", "\U000e0001", "\\"]
)
TEXT = st.text(st.one_of(st.characters(), DANGEROUS), max_size=200)


@given(TEXT, st.none() | st.integers(0, 300))
def test_safe_text_never_contains_a_control_format_or_separator(text, limit):
    safe = safe_text(text, limit)
    assert not any(unicodedata.category(c) in FORBIDDEN for c in safe)
    assert safe == safe_text(text, limit)  # deterministic
    assert safe_text(safe) == safe  # already safe: unchanged
    safe.encode("utf-8")  # no lone surrogate left: always encodable
    if limit is not None:
        assert len(safe) <= limit
    if limit is None or len(safe_text(text)) <= limit:
        assert safe == safe_text(text)
    else:
        assert safe.endswith(ELLIPSIS[: min(limit, len(ELLIPSIS))])


@given(st.text(st.characters(blacklist_categories=tuple(UNSAFE_CATEGORIES)), max_size=100))
def test_safe_text_keeps_ordinary_text(text):
    assert safe_text(text) == text


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("unknown\r\x1b[8mapproved", "unknown\\x0d\\x1b[8mapproved"),
        ("a\u009b2Kb", "a\\x9b2Kb"),
        ("\u202eevil\u2069", "\\u202eevil\\u2069"),
        ("line\u2028two\u2029", "line\\u2028two\\u2029"),
        ("\ud800", "\\ud800"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("Überprüfung 審査中 ✓", "Überprüfung 審査中 ✓"),
        ("C:\\path", "C:\\path"),
    ],
)
def test_safe_text_examples(text, safe):
    assert safe_text(text) == safe


def test_safe_text_cuts_long_text_never_inside_an_escape():
    assert safe_text("a" * 10, 10) == "a" * 10
    assert safe_text("a" * 11, 10) == "aaaaaaa..."
    assert safe_text("ab\x1bcd", 8) == "ab\\x1bcd"
    assert safe_text("ab\x1bcd", 7) == "ab..."  # the escape would not fit whole
    assert safe_text("abcdef", 2) == ".."


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities included
    | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_json_line_is_always_one_strict_ascii_json_line(value):
    line = json_line({"value": value})
    assert line.isascii() and "\n" not in line and "\r" not in line
    assert all(c.isprintable() for c in line)  # ESC, C1, U+2028 are \u escapes
    json.loads(line, parse_constant=pytest.fail)  # no NaN / Infinity
    for char in json.loads(line)["value"] if isinstance(value, str) else "":
        assert not 0xD800 <= ord(char) <= 0xDFFF


def test_json_line_replaces_what_json_cannot_hold():
    deep: list[object] = []
    for _ in range(200):
        deep = [deep]
    data = {
        "nan": float("nan"),
        "inf": float("-inf"),
        "big": 10**5000,
        "lone": "a\ud800b",
        "deep": deep,
        "object": object(),
        "ok": [1, 2.5, "é"],
    }
    parsed = json.loads(json_line(data))
    assert parsed["nan"] is None and parsed["inf"] is None and parsed["big"] is None
    assert parsed["lone"] == "a\ufffdb"
    assert parsed["object"] is None
    assert parsed["ok"] == [1, 2.5, "é"]
    assert json_line({"é": "\u2028"}) == '{"\\u00e9": "\\u2028"}'
