"""Response.json reads strict JSON only: no duplicate keys, no NaN/Infinity, bounded depth and
number length; anything else is MalformedResponse, never another exception."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import kycbridge
from kycbridge.cli import main
from kycbridge.errors import MalformedResponse
from kycbridge.sandbox import Replay, Sandbox, SimResponse
from kycbridge.transport import MAX_JSON_DEPTH, MAX_JSON_NUMBER_LENGTH, Response

kycbridge_starkfi = pytest.importorskip("kycbridge_starkfi")
kycbridge_transak = pytest.importorskip("kycbridge_transak")


def decode(body: bytes | str) -> Any:
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return Response(status=200, headers={}, body=raw).json(provider="p")


def refused(body: bytes | str, why: str) -> MalformedResponse:
    with pytest.raises(MalformedResponse, match=why) as info:
        decode(body)
    assert info.value.exit_code == 6
    assert info.value.provider == "p"
    return info.value


# -- duplicate keys ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        '{"status":"REJECTED","status":"APPROVED"}',
        '{"data":{"status":"REJECTED","x":1,"status":"APPROVED"}}',
        '[1, {"a": {"b": [{"status": 1, "status": 1}]}}]',
    ],
)
def test_duplicate_key_is_malformed_and_named(body: str) -> None:
    assert "'status' appears twice" in str(refused(body, "twice"))


def test_a_duplicate_key_that_is_not_a_word_is_not_shown() -> None:
    err = refused('{"jane@example.com": 1, "jane@example.com": 2}', "twice")
    assert "jane" not in str(err) + repr(err)


def test_same_key_in_different_objects_is_fine() -> None:
    assert decode('{"a": {"a": 1}, "b": [{"a": 2}, {"a": 3}]}') == {
        "a": {"a": 1},
        "b": [{"a": 2}, {"a": 3}],
    }


# -- constants and numbers ---------------------------------------------------------------------
@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_malformed(constant: str) -> None:
    refused(f'{{"score": {constant}}}', "not a JSON number")
    refused(constant, "not a JSON number")


@pytest.mark.parametrize("literal", ["1e309", "-1e309", "1E999", "123456789e400"])
def test_float_overflow_is_malformed(literal: str) -> None:
    refused(f"[{literal}]", "too large")


def test_number_length_limit() -> None:
    longest = "9" * MAX_JSON_NUMBER_LENGTH
    assert decode(f"[{longest}]") == [int(longest)]
    assert decode("[1e308, 1.0e-400, -0.5]") == [1e308, 0.0, -0.5]
    refused(f"[{longest}9]", "longer than 100")
    refused(f"[-{longest}]", "longer than 100")
    refused(f"[0.{longest}]", "longer than 100")
    refused("[" + "1" * 1_000_000 + "]", "longer than 100")  # quadratic on 3.10 if parsed


# -- depth -------------------------------------------------------------------------------------
def nested(depth: int, kind: str = "[") -> str:
    if kind == "[":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("kind", ["[", "{"])
def test_depth_limit(kind: str) -> None:
    assert MAX_JSON_DEPTH == 64
    decode(nested(MAX_JSON_DEPTH, kind))
    refused(nested(MAX_JSON_DEPTH + 1, kind), "deeper than 64")


@pytest.mark.parametrize("depth", [1_000, 100_000, 1_000_000])
def test_very_deep_is_malformed_not_recursion_error(depth: int) -> None:
    refused("[" * depth, "deeper than 64")
    refused('{"a":' * depth, "deeper than 64")


def test_brackets_inside_strings_do_not_count() -> None:
    text = "[" * 200 + "{" * 200
    assert decode(json.dumps([text, text])) == [text, text]
    tricky = ['\\"' + "[" * 100, "\\", '"' + "{" * 100]
    assert decode(json.dumps(tricky)) == tricky
    # many openings in total, little depth: fine
    assert decode(json.dumps([[i] for i in range(500)])) == [[i] for i in range(500)]


def test_unterminated_strings_stay_linear_and_malformed() -> None:
    refused('["' + '\\"[' * 200_000, "not JSON")
    refused('"' * 100_001 + "[" * 100, "not JSON")


def test_bom_and_bad_utf8_are_malformed() -> None:
    refused(b"\xef\xbb\xbf{}", "not JSON")
    refused(b'{"a": "\xff"}', "not JSON")


# -- properties --------------------------------------------------------------------------------
JSONISH = st.text(alphabet='[]{}",:0123456789.eE-+ \\truefalsnNIiy', max_size=300)


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.binary(max_size=300), JSONISH.map(str.encode)))
@example(b'{"a":1,"a":2}')
@example(b"[NaN]")
@example(b"[1e999]")
@example(b"[" * 65 + b"]" * 65)
def test_total(body: bytes) -> None:
    """Either a value json.dumps can write back as strict JSON, or MalformedResponse."""
    try:
        value = decode(body)
    except MalformedResponse:
        return
    json.dumps(value, allow_nan=False)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_strict_json_round_trips(value: Any) -> None:
    """Nothing that a strict writer produces (within the limits) is refused."""
    assert decode(json.dumps(value, allow_nan=False)) == value


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text("abcxyz_", min_size=1, max_size=8), JSON_VALUES, min_size=1))
def test_any_repeated_key_is_refused(obj: dict[str, Any]) -> None:
    key, value = next(iter(obj.items()))
    text = json.dumps(obj)
    doubled = text[:-1] + f", {json.dumps(key)}: {json.dumps(value)}}}"
    assert f"{key!r} appears twice" in str(refused(doubled, "twice"))


# -- both providers over loopback --------------------------------------------------------------
STARKFI_OK = (
    '{"statusCode": 200, "success": true, "status": "kyc_status_retrieved", "message": "ok", '
    '"data": {"status": "Approved", "approved": true, "is_blocklisted": false%s}}'
)
TRANSAK_OK = '{"data": {"status": "APPROVED", "kycType": "STANDARD"%s}}'
INJECTED = {
    "duplicate": (', "status": "Declined"', "twice"),
    "nan": (', "score": NaN', "NaN"),
    "infinity": (', "score": -Infinity', "Infinity"),
    "deep": (', "x": ' + nested(100), "deeper"),
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[dict[str, Replay], Sandbox]]:
    replays = {"starkfi": Replay("starkfi"), "transak": Replay("transak")}
    with Sandbox(list(replays.values())) as box:
        yield replays, box


def serve(sandbox: tuple[dict[str, Replay], Sandbox], provider: str, extra: str) -> str:
    replays, box = sandbox
    replay = replays[provider]
    replay.reset()
    body = (STARKFI_OK if provider == "starkfi" else TRANSAK_OK) % extra
    replay.push(SimResponse(200, body.encode()))
    return box.url(provider)


QUERY = {
    "starkfi": {"email": "someone@example.com"},
    "transak": {"work_flow_run_id": "wfr-1", "access_token": "sandbox-user-token"},
}


def bridge_for(provider: str, url: str) -> kycbridge.Bridge:
    settings: dict[str, Any] = {"base_url": url}
    if provider == "starkfi":
        settings["api_key"] = "sk_test_json_strict"
    plugins = [kycbridge_starkfi, kycbridge_transak]
    return kycbridge.Bridge(plugins, settings={provider: settings}, env={})


@pytest.mark.parametrize("provider", ["starkfi", "transak"])
def test_the_well_formed_answer_is_read(sandbox: Any, provider: str) -> None:
    """The control: the same answer without the injected fault is a report."""
    url = serve(sandbox, provider, "")
    report = bridge_for(provider, url).status(provider, **QUERY[provider])
    assert report.state is kycbridge.KYCState.APPROVED


@pytest.mark.parametrize("fault", sorted(INJECTED))
@pytest.mark.parametrize("provider", ["starkfi", "transak"])
def test_api_malformed(sandbox: Any, provider: str, fault: str) -> None:
    extra, why = INJECTED[fault]
    url = serve(sandbox, provider, extra)
    with pytest.raises(MalformedResponse, match=why) as info:
        bridge_for(provider, url).status(provider, **QUERY[provider])
    assert info.value.provider == provider


@pytest.mark.parametrize("fault", ["duplicate", "nan"])
@pytest.mark.parametrize("provider", ["starkfi", "transak"])
def test_cli_exit_6(sandbox: Any, provider: str, fault: str) -> None:
    url = serve(sandbox, provider, INJECTED[fault][0])
    out, err = io.StringIO(), io.StringIO()
    argv = ["status", provider, "--base-url", url, "--json"]
    for key, value in QUERY[provider].items():
        argv += ["-p", f"{key}={value}"]
    if provider == "starkfi":
        argv += ["-s", "api_key=sk_test_json_strict"]
    bridge = kycbridge.Bridge([kycbridge_starkfi, kycbridge_transak], env={})
    assert main(argv, bridge=bridge, stdout=out, stderr=err) == 6
    assert json.loads(out.getvalue())["error"]["type"] == "malformed_response"
