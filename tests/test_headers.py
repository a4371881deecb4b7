"""Header names and values are checked before sending: a value http.client cannot encode, or one
that would inject a header, is InvalidQuery naming the header, never showing the value.

Real HTTP on loopback (a Replay sandbox); nothing may reach it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest

import kycbridge
from kycbridge.cli import main
from kycbridge.errors import InvalidQuery
from kycbridge.sandbox import Replay, Sandbox, SimResponse
from kycbridge.transport import Request, Transport

kycbridge_starkfi = pytest.importorskip("kycbridge_starkfi")
kycbridge_transak = pytest.importorskip("kycbridge_transak")

UNICODE_KEY = "sk_live_clé€_canary_91a"  # "€" is not latin-1
INJECTING_KEY = "sk_live_canary_91b\r\nX-Evil: 1"
BAD_VALUES = [
    UNICODE_KEY,
    INJECTING_KEY,
    "sk_live_canary_91c\nX-Evil: 1",
    "sk_live_canary_91d\rX-Evil: 1",
    "sk_live_canary_91e\x00tail",
    "sk_live_canary_91f\x1b[31m",
    "sk_live_canary_91g\x7f",
    "sk_live_canary_91h\U0001f600",
]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Replay, Sandbox]]:
    replay = Replay("starkfi")
    with Sandbox([replay]) as sandbox:
        yield replay, sandbox


@pytest.fixture
def replay(server: tuple[Replay, Sandbox]) -> Replay:
    server[0].reset()
    server[0].push(SimResponse.json(200, {"ok": True}))
    return server[0]


@pytest.fixture
def base_url(server: tuple[Replay, Sandbox]) -> str:
    return server[1].url("starkfi")


def shown(exc: BaseException) -> str:
    data = exc.to_dict() if isinstance(exc, kycbridge.KYCBridgeError) else {}
    return f"{exc} {exc!r} {exc.args!r} {data!r}"


def canary(value: str) -> str:
    """The part of a bad value that must never be shown."""
    return value[:18]


@pytest.mark.parametrize("value", BAD_VALUES)
@pytest.mark.parametrize("secret", [True, False])
def test_bad_header_values_refused_unshown(
    value: str, secret: bool, replay: Replay, base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    request = Request(
        url=base_url + "/x",
        headers={"x-api-key": value},
        secret_headers=frozenset({"x-api-key"} if secret else ()),
    )
    with pytest.raises(InvalidQuery, match="x-api-key") as info:
        Transport(retries=0).send(request, provider="starkfi")
    assert info.value.exit_code == 2
    assert canary(value) not in shown(info.value)
    assert canary(value) not in caplog.text
    assert replay.received == []


@pytest.mark.parametrize("name", ["X Evil", "X-Evil:", "X-Evil\r\nY", "", "Bé"])
def test_bad_header_names_refused(name: str, replay: Replay, base_url: str) -> None:
    with pytest.raises(InvalidQuery, match="header name"):
        Transport(retries=0).send(Request(url=base_url + "/x", headers={name: "v"}))
    assert replay.received == []


def test_good_headers_are_sent(replay: Replay, base_url: str) -> None:
    """Latin-1 (obs-text), a tab and every printable ASCII character still go out."""
    headers = {
        "x-latin": "café",
        "x-tab": "a\tb",
        "x-ascii": "a " + "".join(map(chr, range(33, 127))),
    }
    response = Transport(retries=0).send(Request(url=base_url + "/x", headers=headers))
    assert response.status == 200
    sent = replay.received[0].headers
    assert sent["x-tab"] == "a\tb"
    assert sent["x-ascii"] == headers["x-ascii"]


def test_a_bad_user_agent_is_refused_too(replay: Replay, base_url: str) -> None:
    transport = Transport(retries=0, user_agent="app\r\nX-Evil: 1")
    with pytest.raises(InvalidQuery, match="User-Agent"):
        transport.send(Request(url=base_url + "/x"))
    assert replay.received == []


# -- through the API and the CLI --------------------------------------------------------------
@pytest.mark.parametrize("key", [UNICODE_KEY, INJECTING_KEY])
def test_api_starkfi_key(key: str, replay: Replay, base_url: str, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    settings = {"starkfi": {"base_url": base_url, "api_key": key}}
    bridge = kycbridge.Bridge([kycbridge_starkfi], settings=settings, env={})
    with pytest.raises(InvalidQuery) as info:
        bridge.status("starkfi", email="someone@example.com")
    assert canary(key) not in shown(info.value)
    assert canary(key) not in caplog.text
    assert replay.received == []


@pytest.mark.parametrize("token", [UNICODE_KEY, INJECTING_KEY])
def test_api_transak_token(token: str, replay: Replay, base_url: str, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    settings = {"transak": {"base_url": base_url}}
    bridge = kycbridge.Bridge([kycbridge_transak], settings=settings, env={})
    with pytest.raises(InvalidQuery) as info:
        bridge.status("transak", work_flow_run_id="wfr-1", access_token=token)
    assert canary(token) not in shown(info.value)
    assert canary(token) not in caplog.text
    assert replay.received == []


@pytest.mark.parametrize("key", [UNICODE_KEY, INJECTING_KEY])
@pytest.mark.parametrize("how", ["setting", "env"])
def test_cli_starkfi_key(key: str, how: str, replay: Replay, base_url: str, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    out, err = io.StringIO(), io.StringIO()
    argv = ["status", "starkfi", "-p", "email=someone@example.com", "--base-url", base_url]
    env: dict[str, str] = {}
    if how == "setting":
        argv += ["-s", f"api_key={key}"]
    else:
        env["KYCBRIDGE_STARKFI_API_KEY"] = key
    bridge = kycbridge.Bridge([kycbridge_starkfi], env=env)
    assert main([*argv, "--json"], bridge=bridge, stdout=out, stderr=err) == 2
    text = out.getvalue() + err.getvalue() + caplog.text
    assert "invalid_query" in out.getvalue()
    assert canary(key) not in text
    assert replay.received == []
