"""Query values that are not Unicode text (a lone surrogate) are refused before any I/O.

A lone surrogate has no UTF-8 form, so it cannot be percent-encoded into a query string or a
path. Found by the CLI fuzz (``-p subject=\\ud800`` ended in an internal error, exit 1): it is
now an :class:`InvalidQuery` naming the field (never the value), exit 2, with nothing sent.
"""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from toy import TOY_TOKEN, ToySimulator, toy_plugin

import kycbridge
from kycbridge import InvalidQuery
from kycbridge.cli import main
from kycbridge.exitcodes import ExitCode
from kycbridge.sandbox import Sandbox
from kycbridge.transport import Request, is_sendable_text

SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)
NOT_TEXT = st.tuples(st.text(max_size=5), SURROGATES, st.text(max_size=5)).map("".join)


@given(value=NOT_TEXT)
def test_build_query_refuses_a_lone_surrogate_naming_the_field(value: str) -> None:
    bridge = kycbridge.Bridge([toy_plugin], env={})
    with pytest.raises(InvalidQuery) as info:
        bridge.query("toy", subject=value, token=TOY_TOKEN)
    text = str(info.value)
    assert "'subject'" in text and "-p subject=" in text
    assert value not in text and "\\ud" not in text.lower()


@pytest.mark.parametrize("where", ["params", "path_params"])
def test_a_request_refuses_a_lone_surrogate_in_any_parameter(where: str) -> None:
    fields = {where: {"user_id": "jane\ud800"}}
    if where == "path_params":
        fields["path"] = "/v1/{user_id}"  # type: ignore[assignment]
    with pytest.raises(InvalidQuery, match=r"parameter 'user_id' cannot be sent") as info:
        Request(url="http://127.0.0.1:9/x", **fields)  # type: ignore[arg-type]
    assert "jane" not in str(info.value)


def test_text_outside_ascii_is_still_sent() -> None:
    request = Request(url="http://127.0.0.1:9/x", params={"user_id": "zoë 名"})
    assert request.full_url.endswith("?user_id=zo%C3%AB+%E5%90%8D")


def test_a_query_built_in_python_fails_typed_and_sends_nothing() -> None:
    # A plugin's query class accepts the value (no validator): the request refuses it.
    sim = ToySimulator()
    with Sandbox([sim]) as sandbox:
        bridge = kycbridge.Bridge([toy_plugin], settings=sandbox.settings(), env={})
        bad = bridge.provider("toy").query_type(subject="s\udc80", token=TOY_TOKEN)
        with pytest.raises(InvalidQuery, match=r"query parameter 'subject' cannot be sent"):
            bridge.fetch("toy", bad)
        assert sim.calls == {}


def test_cli_status_with_a_lone_surrogate_exits_2_with_one_line() -> None:
    with Sandbox([ToySimulator()]) as sandbox:
        bridge = kycbridge.Bridge([toy_plugin], settings=sandbox.settings(), env={})
        for extra in ([], ["--json"]):
            out, err = io.StringIO(), io.StringIO()
            argv = ["status", "toy", "-p", f"token={TOY_TOKEN}", "-p", "subject=\ud800", *extra]
            code = main(argv, bridge=bridge, stdout=out, stderr=err)
            assert code == ExitCode.USAGE
            assert len(err.getvalue().splitlines()) == 1
            assert "internal error" not in err.getvalue()
            assert "\ud800" not in out.getvalue() + err.getvalue()


@given(value=st.text())
def test_any_text_without_a_lone_surrogate_is_sendable(value: str) -> None:
    assert is_sendable_text(value)  # hypothesis text() never holds a lone surrogate


@given(value=NOT_TEXT)
def test_text_with_a_lone_surrogate_is_not_sendable(value: str) -> None:
    assert not is_sendable_text(value)
