"""A secret a provider echoes never escapes: not cut in half, not in ``raw``, not in ``args``.

The core replaces a request's secrets in the answer before a plugin reads it, so whatever a
plugin cuts (60, 120, 300 characters) or keeps, no piece of a secret is left. Tested over
loopback against both plugins, with answers placing the cut inside the key.
"""

from __future__ import annotations

import json
import pickle
import traceback
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from toy import ToyProvider

import kycbridge
import kycbridge.testing as kit
import kycbridge_starkfi
import kycbridge_transak
from kycbridge import (
    AuthenticationError,
    KYCBridgeError,
    MalformedResponse,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    WatchTimeout,
    report_to_dict,
)
from kycbridge.provider import scrub_response
from kycbridge.redact import REDACTED, scrub, scrub_bytes, secret_forms
from kycbridge.report import StatusReport, utcnow
from kycbridge.sandbox import Replay, Sandbox, SimResponse
from kycbridge.states import KYCState
from kycbridge.transport import Response
from kycbridge_starkfi.provider import StarkFiProvider

# Keys no output would contain by chance: no 4-character piece of them is an English word.
TRANSAK_TOKEN = "Tq7ZwX2rmV4kB8nP1sY6dF3hJ5gLc0QeUa9"
PARTNER_TOKEN = "Pz3KxW8vNq2Rt6Ym1Hc5Gd9Jb4Fs7Lk0Vw"
STARKFI_KEY = "sk_Ng4Vx8Qm2Zr6Ht1Kw5Jc9Pb3Ld7Fy0Ts"
SECRETS = [TRANSAK_TOKEN, PARTNER_TOKEN, STARKFI_KEY]
PAD = "."  # padding no key contains

# Where the cut lands: after this many characters of the key.
KEPT = [4, 10, 20, 31]


def pieces(secret: str) -> list[str]:
    """Every 4-character piece of ``secret``."""
    return [secret[i : i + 4] for i in range(len(secret) - 3)]


def assert_no_piece(texts: list[str]) -> None:
    for text in texts:
        for secret in SECRETS:
            found = [p for p in pieces(secret) if p in text]
            assert not found, (found, text)


def error_texts(error: BaseException) -> list[str]:
    """Everything an error shows: str, repr, JSON, args, notes, pickles, tracebacks."""
    texts = [str(error), repr(error), repr(error.args), repr(vars(error))]
    if isinstance(error, KYCBridgeError):
        texts.append(json.dumps(error.to_dict()))
    clone = pickle.loads(pickle.dumps(error))
    texts += [str(clone), repr(clone), repr(clone.args), repr(vars(clone))]
    texts.append("".join(traceback.format_exception(type(error), error, error.__traceback__)))
    return texts


def report_texts(report: StatusReport) -> list[str]:
    return [
        repr(report),
        repr(report.raw),
        json.dumps(report.raw),
        repr(report.details),
        json.dumps(report_to_dict(report)),
    ]


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Replay, Replay, Sandbox]]:
    transak, starkfi = Replay("transak"), Replay("starkfi")
    with Sandbox([transak, starkfi]) as sandbox:
        yield transak, starkfi, sandbox


@pytest.fixture(autouse=True)
def _no_client_limiter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(StarkFiProvider, "rate_limit", None)


@pytest.fixture
def bridge(servers: tuple[Replay, Replay, Sandbox]) -> Iterator[kycbridge.Bridge]:
    transak, starkfi, sandbox = servers
    transak.reset()
    starkfi.reset()
    settings = {
        "transak": {"base_url": sandbox.url("transak"), "partner_access_token": PARTNER_TOKEN},
        "starkfi": {"base_url": sandbox.url("starkfi"), "api_key": STARKFI_KEY},
    }
    with kycbridge.Bridge(
        [kycbridge_transak, kycbridge_starkfi],
        settings=settings,
        transport=kit.fast_transport(read_timeout=2.0),
        env={},
    ) as bridge:
        yield bridge


def ask(bridge: kycbridge.Bridge, provider: str) -> StatusReport:
    if provider == "transak":
        return bridge.status("transak", work_flow_run_id="wfr-1", access_token=TRANSAK_TOKEN)
    return bridge.status("starkfi", email="jane@example.com")


def cut_inside(secret: str, cut: int, kept: int) -> str:
    """Text whose first ``cut`` characters end ``kept`` characters into ``secret``."""
    return PAD * (cut - kept) + secret + " and more text after the key"


def transak_envelope(status: int, message: str) -> SimResponse:
    return SimResponse.json(status, {"error": {"statusCode": status, "message": message}})


def starkfi_envelope(status: int, message: str) -> SimResponse:
    body = {"statusCode": status, "success": False, "status": "echo", "message": message}
    return SimResponse.json(status, body)


# provider, secret echoed, answer (given the text to put in it), error type, cut length
ERROR_CASES: dict[str, tuple[str, str, Any, type[KYCBridgeError], int]] = {
    "transak 400 message cut at 300": (
        "transak",
        TRANSAK_TOKEN,
        lambda text: transak_envelope(400, text),
        RequestRejected,
        300,
    ),
    "transak 401 partner token cut at 300": (
        "transak",
        PARTNER_TOKEN,
        lambda text: transak_envelope(401, text),
        AuthenticationError,
        300,
    ),
    "transak 403 text excerpt cut at 120": (
        "transak",
        TRANSAK_TOKEN,
        lambda text: SimResponse(403, text.encode(), "text/plain"),
        MalformedResponse,
        120,
    ),
    # the core's error table shows a transient answer's junk body cut at 60 characters
    "transak 503 html excerpt cut at 60": (
        "transak",
        PARTNER_TOKEN,
        lambda text: SimResponse(503, f"<p>{text}</p>".encode(), "text/html"),
        ProviderUnavailable,
        60 - len("<p>"),
    ),
    "transak 200 not JSON cut at 120": (
        "transak",
        TRANSAK_TOKEN,
        lambda text: SimResponse(200, text.encode(), "text/plain"),
        MalformedResponse,
        120,
    ),
    "starkfi 400 message cut at 300": (
        "starkfi",
        STARKFI_KEY,
        lambda text: starkfi_envelope(400, text),
        RequestRejected,
        300,
    ),
    "starkfi 429 text cut at 60": (
        "starkfi",
        STARKFI_KEY,
        lambda text: SimResponse(429, text.encode(), "text/plain", headers={"Retry-After": "0"}),
        RateLimited,
        60,
    ),
    "starkfi 403 html excerpt cut at 120": (
        "starkfi",
        STARKFI_KEY,
        lambda text: SimResponse(403, text.encode(), "text/html"),
        MalformedResponse,
        120,
    ),
    "starkfi 200 wrong shape cut at 120": (
        "starkfi",
        STARKFI_KEY,
        lambda text: SimResponse.json(200, {"success": True, "data": text}),
        MalformedResponse,
        120 - len('{"success": true, "data": "'),
    ),
}


@pytest.mark.parametrize("kept", KEPT)
@pytest.mark.parametrize("case", ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_a_key_echoed_in_a_long_error_is_never_cut_in_half(
    case: tuple[str, str, Any, type[KYCBridgeError], int],
    kept: int,
    servers: tuple[Replay, Replay, Sandbox],
    bridge: kycbridge.Bridge,
) -> None:
    provider, secret, answer, error_type, cut = case
    replay = servers[0] if provider == "transak" else servers[1]
    replay.push(answer(cut_inside(secret, cut, kept)))
    with pytest.raises(KYCBridgeError) as info:
        ask(bridge, provider)
    error = info.value
    assert type(error) is error_type, error
    assert REDACTED in str(error) or REDACTED in (error.provider_message or "")
    assert_no_piece(error_texts(error))


def test_the_cut_does_fall_inside_the_key_without_scrubbing() -> None:
    """The cases above are hostile: unscrubbed, the plugins would keep a piece of the key."""
    from kycbridge_starkfi.errors import ERROR_TABLE as STARKFI_TABLE
    from kycbridge_transak.errors import ERROR_TABLE as TRANSAK_TABLE

    transak_error_for, starkfi_error_for = TRANSAK_TABLE.error_for, STARKFI_TABLE.error_for

    for kept in KEPT:
        text = cut_inside(TRANSAK_TOKEN, 300, kept)
        body = json.dumps({"error": {"statusCode": 400, "message": text}}).encode()
        error = transak_error_for(Response(400, {"content-type": "application/json"}, body))
        assert TRANSAK_TOKEN[:kept] in str(error) and TRANSAK_TOKEN not in str(error)
        text = cut_inside(STARKFI_KEY, 60, kept)
        error = starkfi_error_for(Response(429, {"content-type": "text/plain"}, text.encode()))
        assert STARKFI_KEY[:kept] in str(error) and STARKFI_KEY not in str(error)


OK_ANSWERS = {
    "transak": lambda secret: SimResponse.json(
        200, {"data": {"status": "SUBMITTED", "kycType": "SIMPLE", "echo": f"token {secret}"}}
    ),
    "starkfi": lambda secret: SimResponse.json(
        200,
        {
            "success": True,
            "data": {
                "status": "approved",
                "approved": True,
                "session_status": "Approved",
                "session_url": f"https://verify.example/s?key={secret}",
                "echo": [secret, {"deep": secret * 2}],
            },
        },
    ),
}


@pytest.mark.parametrize(
    ("provider", "secret"),
    [("transak", TRANSAK_TOKEN), ("transak", PARTNER_TOKEN), ("starkfi", STARKFI_KEY)],
)
def test_a_key_echoed_in_a_200_is_not_kept_in_raw(
    provider: str, secret: str, servers: tuple[Replay, Replay, Sandbox], bridge: kycbridge.Bridge
) -> None:
    replay = servers[0] if provider == "transak" else servers[1]
    replay.push(OK_ANSWERS[provider](secret))
    report = ask(bridge, provider)
    assert report.state in (KYCState.SUBMITTED, KYCState.APPROVED)
    assert REDACTED in json.dumps(report.raw)
    assert_no_piece(report_texts(report))


def test_a_json_escaped_key_is_scrubbed_too(
    servers: tuple[Replay, Replay, Sandbox], bridge: kycbridge.Bridge
) -> None:
    """``"a\\/b"`` is JSON for ``a/b``: the escaped spelling is replaced before decoding."""
    token = "Tq7Z/wX2r+mV4k/B8nP1sY"
    escaped = token.replace("/", "\\/")
    body = '{"data": {"status": "SUBMITTED", "echo": "' + escaped + '"}}'
    servers[0].push(SimResponse(200, body.encode()))
    report = bridge.status("transak", work_flow_run_id="wfr-1", access_token=token)
    text = json.dumps(report_to_dict(report))
    assert token not in text and "Tq7Z" not in text and "wX2r" not in text


def test_a_key_in_a_redirect_location_is_not_shown(
    servers: tuple[Replay, Replay, Sandbox], bridge: kycbridge.Bridge
) -> None:
    location = f"https://login.example/?api_key={STARKFI_KEY}&next=/kyc"
    servers[1].push(SimResponse(302, b"", headers={"Location": location}))
    with pytest.raises(MalformedResponse) as info:
        ask(bridge, "starkfi")
    assert "redirect to" in str(info.value) and "login.example" in str(info.value)
    assert_no_piece(error_texts(info.value))


# -- a secret that is not a header ----------------------------------------------------------
@attrs.frozen
class ParamSettings:
    base_url: str = "http://127.0.0.1:9"
    api_key: str | None = kycbridge.secret(default=None)


class ParamKeyProvider(ToyProvider):
    """Sends its key as a query parameter (no secret header), and cuts error text at 40."""

    name = "toy"
    settings_type = ParamSettings

    def build_request(self, query: Any, settings: Any) -> Any:
        request = super().build_request(query, settings)
        return attrs.evolve(request, params={**request.params, "key": settings.api_key})

    def error_for(self, response: Response) -> KYCBridgeError:
        return RequestRejected(f"toy said {response.body.decode()[:40]}")


class param_plugin:
    @staticmethod
    @kycbridge.hookimpl
    def register_providers(register: Any) -> None:
        register(ParamKeyProvider())


def test_secret_fields_are_scrubbed_even_when_not_sent_as_headers() -> None:
    replay = Replay("toy")
    with Sandbox([replay]) as sandbox:
        settings = {"toy": {"base_url": sandbox.url("toy"), "api_key": STARKFI_KEY}}
        with kycbridge.Bridge(
            [param_plugin], settings=settings, transport=kit.fast_transport(), env={}
        ) as bridge:
            replay.push(SimResponse.json(200, {"state": "OK", "echo": STARKFI_KEY}))
            assert_no_piece(report_texts(bridge.status("toy", subject="s-1")))
            replay.push(SimResponse(400, cut_inside(STARKFI_KEY, 40 - 9, 12).encode()))
            with pytest.raises(RequestRejected) as info:
                bridge.status("toy", subject="s-1")
            assert_no_piece(error_texts(info.value))


# -- the scrubbing itself -------------------------------------------------------------------
def test_scrub_response_copies_nothing_when_no_secret_occurs() -> None:
    response = Response(200, {"content-type": "application/json"}, b'{"data": 1}')
    assert scrub_response(response, [STARKFI_KEY]) is response
    assert scrub_response(response, []) is response
    echoed = Response(200, {"Location": f"/x?k={STARKFI_KEY}"}, STARKFI_KEY.encode())
    scrubbed = scrub_response(echoed, [STARKFI_KEY])
    assert scrubbed.body == b"***" and scrubbed.headers == {"location": "/x?k=***"}


secret_text = st.text(min_size=3, max_size=30).filter(lambda s: s.strip("*") != "")


@given(before=st.text(max_size=50), after=st.text(max_size=50), secret=secret_text)
def test_scrub_leaves_no_occurrence(before: str, after: str, secret: str) -> None:
    text = f"{before}{secret}{after}{secret}"
    assert secret not in scrub(text, [secret])
    data = text.encode("utf-8", "surrogatepass")
    assert secret.encode("utf-8", "surrogatepass") not in scrub_bytes(data, [secret])


@given(text=st.text(max_size=80), secret=secret_text)
def test_scrub_returns_its_input_when_no_secret_occurs(text: str, secret: str) -> None:
    absent = [form for form in secret_forms(secret) if form not in text]
    if len(absent) == len(secret_forms(secret)):
        assert scrub(text, [secret]) is text
        data = text.encode("utf-8", "surrogatepass")
        assert scrub_bytes(data, [secret]) is data


# -- what an error carries ------------------------------------------------------------------
def make_error() -> RequestRejected:
    error = RequestRejected(
        f"rejected: key {STARKFI_KEY} is wrong",
        provider="starkfi",
        http_status=400,
        provider_code=f"bad_{STARKFI_KEY}",
        provider_message=f"key {STARKFI_KEY}",
        retry_after=1.5,
    )
    error.scrub([STARKFI_KEY, None, ""])
    return error


def fields(error: KYCBridgeError) -> dict[str, Any]:
    return {
        "type": type(error),
        "message": error.message,
        "args": error.args,
        "provider": error.provider,
        "http_status": error.http_status,
        "provider_code": error.provider_code,
        "provider_message": error.provider_message,
        "retry_after": error.retry_after,
    }


def test_scrub_rewrites_args_and_every_text_field() -> None:
    error = make_error()
    assert error.args == (error.message,) == ("rejected: key *** is wrong",)
    assert (error.provider_code, error.provider_message) == ("bad_***", "key ***")
    assert_no_piece(error_texts(error))


def test_setting_the_message_sets_args() -> None:
    error = KYCBridgeError("first")
    error.message = "second"
    assert error.args == ("second",) and str(error) == "second"


def test_errors_pickle_with_all_their_fields_and_no_secret() -> None:
    error = make_error()
    clone = pickle.loads(pickle.dumps(error))
    assert fields(clone) == fields(error)
    assert_no_piece(error_texts(clone))


def test_watch_timeout_pickles_with_its_report_and_last_error() -> None:
    report = StatusReport(
        provider="starkfi",
        state=KYCState.IN_REVIEW,
        raw_status="In Review",
        observed_at=utcnow(),
        subject="jane@example.com",
        raw={"data": {"status": "in_review"}},
    )
    last = ProviderUnavailable(f"down: {STARKFI_KEY}", provider="starkfi", http_status=503)
    error = WatchTimeout(
        f"gave up, key {STARKFI_KEY}", provider="starkfi", report=report, last_error=last, polls=7
    )
    error.scrub([STARKFI_KEY])
    clone = pickle.loads(pickle.dumps(error))
    assert isinstance(clone, WatchTimeout)
    assert fields(clone) == fields(error)
    assert (clone.polls, clone.report) == (7, report)
    assert clone.last_error is not None and fields(clone.last_error) == fields(last)
    assert clone.to_dict() == error.to_dict()
    assert_no_piece(error_texts(clone) + error_texts(clone.last_error))


class Custom(KYCBridgeError):
    """An error class taking other constructor arguments than the base class."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code}: {text}", provider="x")
        self.code = code


def test_a_subclass_with_its_own_constructor_pickles() -> None:
    clone = pickle.loads(pickle.dumps(Custom(7, "seven")))
    assert (clone.code, clone.message, clone.args) == (7, "7: seven", ("7: seven",))


def test_notes_are_scrubbed() -> None:
    error = KYCBridgeError("x")
    # what add_note (Python 3.11+) does; set directly, so Python 3.10 runs this test too
    error.__notes__ = [f"while using {STARKFI_KEY}"]
    error.scrub([STARKFI_KEY])
    assert_no_piece(error_texts(error))


def test_a_secret_with_a_lone_surrogate_is_scrubbed_without_crashing() -> None:
    # found by the CLI fuzz test: an env API key "\r\r\ud800" crashed scrubbing its own message
    from kycbridge.redact import scrub, secret_forms

    secret = "\r\r\ud800"
    assert secret in secret_forms(secret)
    assert scrub(f"bad key {secret}!", [secret]) == "bad key ***!"


def test_header_text_holds_every_name_and_value_of_urllib3s_header_dict():
    """The quick read of urllib3's header dict finds what walking it would, repeats too."""
    from urllib3._collections import HTTPHeaderDict

    from kycbridge.provider import _header_text

    headers = HTTPHeaderDict()
    headers.add("Set-Cookie", "a=1")
    headers.add("set-cookie", "b=2")
    headers.add("X-Echo", "sk_live_secret_123")
    text = _header_text(headers)
    for name, value in headers.items():
        assert value in text
    assert "sk_live_secret_123" in _header_text({"x-echo": "sk_live_secret_123"})
