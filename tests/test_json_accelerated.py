"""strictjson with orjson (the ``fast`` extra) accepts, returns and refuses exactly what it does
with :mod:`json` alone: the accelerated answer is compared with ``_stdlib_loads``."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from kycbridge import strictjson
from kycbridge.strictjson import MAX_JSON_DEPTH, NotStrictJSON

ACCELERATOR = strictjson.accelerator()  # loads orjson
STDLIB: Any = strictjson._stdlib_loads
UNDECIDED = strictjson._UNDECIDED
strictjson_accelerated = strictjson._accelerated


def stdlib(data: bytes) -> Any:
    return STDLIB(data, data.translate(strictjson._SCAN))


def accelerated(data: bytes) -> Any:
    return strictjson_accelerated(data, data.translate(strictjson._SCAN))


def outcome(decode: Any, data: bytes) -> tuple[str, Any]:
    try:
        return "value", decode(data)
    except (ValueError, RecursionError) as exc:
        return type(exc).__name__, str(exc)


def same(a: Any, b: Any) -> bool:
    """Equal, of the same types all the way down, floats to the bit (``-0.0`` is not ``0.0``)."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if type(a) is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if type(a) is dict:
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def check(data: bytes) -> None:
    """``loads`` gives what json alone gives; an accelerated answer is json's value."""
    kind, expected = outcome(stdlib, data)
    got_kind, got = outcome(strictjson.loads, data)
    assert got_kind == kind
    assert same(got, expected) if kind == "value" else got == expected
    fast = accelerated(data)
    if fast is not UNDECIDED:
        assert kind == "value" and same(fast, expected)


def test_orjson_is_what_accelerates_in_the_test_envs() -> None:
    # the comparisons below mean something only with the accelerator installed
    assert ACCELERATOR is not None
    assert ACCELERATOR.startswith("orjson ")
    assert ACCELERATOR == strictjson.accelerator()


# -- values: every JSON value, in every spelling json.dumps has -----------------------------
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=5),
    max_leaves=30,
)


@given(
    values,
    st.booleans(),
    st.sampled_from([None, (",", ":"), (", ", ": "), (" , ", " : ")]),
    st.sampled_from([None, 0, 2, "\t"]),
)
def test_any_value_in_any_spelling_is_read_the_same(
    value: Any, ascii_only: bool, separators: Any, indent: Any
) -> None:
    data = json.dumps(value, ensure_ascii=ascii_only, separators=separators,
                      indent=indent).encode()
    check(data)
    assert same(strictjson.loads(data), value)


# -- objects with keys given twice, anywhere --------------------------------------------------
keys = st.sampled_from(["a", "b", "status", "", ":", "\"", "é", "a\\\\"])
members = st.lists(st.tuples(keys, scalars | st.just({})), max_size=6)


def obj(pairs: list[tuple[str, Any]]) -> str:
    return "{" + ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in pairs) + "}"


@given(members, members, st.booleans())
@example([("a", 1), ("a", 2)], [], False)
@example([("a", "x")], [("a", "y"), ("a", "x")], True)
def test_a_key_twice_is_refused_however_nested(
    outer: list[tuple[str, Any]], inner: list[tuple[str, Any]], in_list: bool
) -> None:
    body = obj(outer)[:-1] + ("," if outer else "") + f'"inner":{obj(inner)}}}'
    data = (f"[1, {body}]" if in_list else body).encode()
    check(data)
    if len({k for k, _ in inner}) < len(inner) or len({k for k, _ in outer}) < len(outer) or (
        "inner" in {k for k, _ in outer}
    ):
        with pytest.raises(NotStrictJSON, match="twice"):
            strictjson.loads(data)


# -- numbers, as literals -------------------------------------------------------------------
literals = st.from_regex(
    r"\A-?(0|[1-9][0-9]{0,40})(\.[0-9]{1,40})?([eE][+-]?[0-9]{1,4})?\Z", fullmatch=True
)


@given(st.lists(literals, min_size=1, max_size=4))
@example(["18446744073709551616"])  # past 64 bits: orjson would read a float
@example(["-9223372036854775809"])
@example(["1e309"])
@example(["1.7976931348623157e308", "2.2250738585072014e-308", "5e-324", "-0"])
@example(["1" * 101])
def test_number_literals_are_read_the_same(numbers: list[str]) -> None:
    check(("[" + ", ".join(numbers) + "]").encode())


# -- anything else: broken syntax, escapes, bytes -------------------------------------------
json_ish = st.text(alphabet='{}[]":, \t\n0123456789.eE+-truefalsnul\\/u', max_size=40)


@given(json_ish)
@example('{"a":1,"a":2}')
@example('{"a\\u0022":1}')
@example('{"a":"\\"","a":"\\""}')
@example("NaN")
@example("[Infinity]")
def test_any_text_is_read_or_refused_the_same(text: str) -> None:
    check(text.encode())


@given(st.binary(max_size=40))
@example(b"\xef\xbb\xbf{}")
@example(b'"\xed\xa0\x80"')
@example(b'"\x00"')
@example(b"")
def test_any_bytes_are_read_or_refused_the_same(data: bytes) -> None:
    check(data)


# -- which bodies the accelerator decides ---------------------------------------------------
PROVIDER_LIKE = json.dumps({
    "id": "5e551000-0000-4000-8000-000000000000",
    "status": "approved",
    "code": 9001,
    "score": 0.97,
    "time": "2024-01-01T10:00:00.000Z",
    "person": {"firstName": "SANDBOX", "lastName": "USER", "dob": None},
    "labels": [],
    "extra": {"nested": [{"a": 1}, {"a": 2}], "ok": True},
}).encode()


ESCAPED = (
    b'{"name":"Jos\\u00e9 \\ud83d\\ude00","url":"https:\\/\\/x.test\\/a","q":"say \\"hi\\"",'
    b'"path":"C:\\\\dir\\\\","tab":"\\t","nested":[{"k\\"":"\\\\\\""}]}'
)


@pytest.mark.parametrize("body", [PROVIDER_LIKE, ESCAPED], ids=["plain", "escaped"])
def test_a_provider_like_body_is_decided_by_orjson(body: bytes) -> None:
    value = accelerated(body)
    assert value is not UNDECIDED
    assert same(value, json.loads(body))


@given(st.lists(st.text(), max_size=8), st.lists(st.text(max_size=4), max_size=4),
       st.booleans())
@example(["\\", '"', '\\"', "\\\\", '""'], ['\\'], True)
def test_strings_counts_the_strings_of_any_encoding(
    texts: list[str], keys: list[str], ascii_only: bool
) -> None:
    value = [*texts, dict.fromkeys(keys, 0)]
    strings = len(texts) + len(set(keys))
    assert strictjson._strings(json.dumps(value, ensure_ascii=ascii_only).encode()) == 2 * strings
    try:
        encoded = strictjson._orjson.dumps(value)
    except strictjson._orjson.JSONEncodeError:  # a lone surrogate, which orjson never reads
        return
    assert strictjson._strings(encoded) == 2 * strings


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b'{"a":1,"a":2}', "a key twice"),
        (b'{"a":{"b":[{"s":"x","s":"x"}]}}', "a key twice, nested"),
        (b'{"a":"\\u0022","a":"\\u0022"}', "a key twice, escaped quotes"),
        (b'{"a":1,"a":"\\u0022\\u0022"}', "a key twice, its string replaced by two quotes"),
        (b'{"a\\\\":1,"a\\\\":2}', "a key twice, ending in a backslash"),
        (b'{"n":1234567890123456789}', "19 digits"),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), "too deep"),
        (b'{"n":NaN}', "not JSON"),
        (b"[1e400]", "overflow"),
        (b"\xef\xbb\xbf{}", "a BOM"),
    ],
)
def test_what_orjson_cannot_decide_alone_goes_to_json(
    data: bytes, why: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers: list[Any] = []

    def spy(data: bytes, scan: bytes) -> Any:
        answers.append(strictjson_accelerated(data, scan))
        return answers[-1]

    monkeypatch.setattr(strictjson, "_accelerated", spy)
    check(data)
    assert all(a is UNDECIDED for a in answers), why
    assert len(answers) == 1


def test_without_orjson_loads_is_json_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(strictjson, "_orjson", None)
    assert strictjson.accelerator() is None
    assert same(strictjson.loads(PROVIDER_LIKE), json.loads(PROVIDER_LIKE))
    with pytest.raises(NotStrictJSON, match="'a' appears twice"):
        strictjson.loads(b'{"a":1,"a":2}')


def test_orjson_is_imported_by_the_first_decode_not_by_kycbridge() -> None:
    code = (
        "import sys, kycbridge, kycbridge.cli, kycbridge.webhooks\n"
        "assert 'orjson' not in sys.modules, 'imported early'\n"
        "from kycbridge import strictjson\n"
        "assert strictjson.loads(b'{\"a\": [1]}') == {'a': [1]}\n"
        "assert 'orjson' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
