"""No error :meth:`HTTPStatusProvider.fetch` raises carries the subject unmasked.

Over loopback, a Replay echoes the subject (as is, percent-encoded, JSON-escaped, in upper
case) in 4xx, 5xx and malformed 2xx answers, for a path-parameter provider (the pathtoy, whose
``error_for`` deliberately copies the whole body into every text an error has) and a
query-parameter one (StarkFi, by email). The subject must show only masked: in ``str``,
``repr``, ``args``, ``to_dict`` and a pickle, and in notes.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from pathtoy import PathProvider

import kycbridge
import kycbridge_starkfi
from kycbridge import KYCBridgeError, MalformedResponse, Parsed
from kycbridge.errors import ProviderUnavailable, RequestRejected, WatchTimeout
from kycbridge.provider import KEEP, mask_personal_values
from kycbridge.redact import mask
from kycbridge.sandbox import Replay, Sandbox, SimResponse
from kycbridge.testing import fast_transport
from kycbridge.transport import Response
from kycbridge_starkfi.provider import StarkFiProvider

PATH_USER = "user/Ünïcode 42+x@example.com"
"""A path parameter with everything encoding changes: ``/``, space, ``+``, ``@``, non-ASCII."""

EMAIL = "Jane.Doe+kyc@example.com"
STARKFI_KEY = "sk_test_personal_0123456789"


def forms(value: str) -> list[str]:
    """How a server may echo ``value``."""
    escaped = json.dumps(value)[1:-1]
    return list(dict.fromkeys([
        value, value.lower(), value.upper(), quote(value, safe=""), quote(value),
        quote_plus(value), quote(value, safe="").lower(), escaped,
        escaped.replace("/", "\\/"), json.dumps(value, ensure_ascii=False)[1:-1],
    ]))


class LeakyPathProvider(PathProvider):
    """The pathtoy, with an ``error_for`` that copies the body everywhere an error keeps text."""

    rate_limit = None

    def error_for(self, response: Response) -> KYCBridgeError:
        text = response.body.decode("utf-8", "replace")
        cls = ProviderUnavailable if response.status >= 500 else RequestRejected
        error = cls(
            f"pathtoy answered {response.status}: {text}",
            http_status=response.status,
            provider_code=text,
            provider_message=text,
            request_id=text,
        )
        if hasattr(error, "add_note"):
            error.add_note(f"body: {text}")
        else:  # Python 3.10: what add_note would do
            error.__notes__ = [f"body: {text}"]  # type: ignore[attr-defined]
        return error

    def parse(self, payload: Any, response: Response) -> Parsed:
        if isinstance(payload, dict) and "echo" in payload:
            raise MalformedResponse(f"no state in {payload['echo']}")
        return super().parse(payload, response)  # a KeyError without "state"


class leaky_plugin:
    @staticmethod
    @kycbridge.hookimpl
    def register_providers(register: Any) -> None:
        register(LeakyPathProvider())


class UnlimitedStarkFi(StarkFiProvider):  # type: ignore[misc]
    rate_limit = None  # not what this is about: the limit has its own tests


class unlimited_starkfi:
    @staticmethod
    @kycbridge.hookimpl
    def register_providers(register: Any) -> None:
        register(UnlimitedStarkFi())


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Replay, Replay, Sandbox]]:
    path, starkfi = Replay("pathtoy"), Replay("starkfi")
    with Sandbox([path, starkfi]) as sandbox:
        yield path, starkfi, sandbox


def texts_of(error: KYCBridgeError) -> list[str]:
    """Every text a user, a log or another process can get out of ``error``."""
    copy = pickle.loads(pickle.dumps(error))
    return [
        str(error), repr(error), repr(error.args), json.dumps(error.to_dict()),
        repr(getattr(error, "__notes__", None)), pickle.dumps(error).decode("latin-1"),
        str(copy), repr(copy), repr(copy.args), json.dumps(copy.to_dict()),
        repr(getattr(copy, "__notes__", None)),
    ]


def assert_masked(error: KYCBridgeError, value: str) -> None:
    shown = texts_of(error)
    for text in shown:
        for form in forms(value):
            assert form not in text, (form, text)
    assert error.args == (error.message,)


def path_answers(form: str) -> list[SimResponse]:
    return [
        SimResponse(404, f"no applicant {form} here".encode(), content_type="text/plain"),
        SimResponse(400, json.dumps({"error": f"bad id {form}"}).encode()),
        SimResponse(503, f"down for {form}".encode(), content_type="text/plain"),
        SimResponse(200, f"<html>{form}</html>".encode(), content_type="text/html"),
        SimResponse(200, f"not json {form}".encode()),
        SimResponse.json(200, {"user": form}),  # no "state": the core's shape error
        SimResponse.json(200, {"echo": form}),  # the plugin's own MalformedResponse
    ]


@pytest.mark.parametrize("form", forms(PATH_USER))
def test_path_parameter_is_masked_in_every_error(
    servers: tuple[Replay, Replay, Sandbox], form: str
) -> None:
    path, _, sandbox = servers
    answers = path_answers(form)
    path.reset()
    path.push(*answers)
    with kycbridge.Bridge([leaky_plugin], settings=sandbox.settings(), env={},
                          transport=fast_transport(retries=0)) as bridge:
        for answer in answers:
            with pytest.raises(KYCBridgeError) as info:
                bridge.status("pathtoy", user_id=PATH_USER)
            assert_masked(info.value, PATH_USER)
            if answer.status != 200:  # the leaky error_for put the echo in every field
                assert mask(PATH_USER) in info.value.message
                assert mask(PATH_USER) in (info.value.provider_message or "")
    assert len(path.received) == len(answers)


def starkfi_answers(form: str) -> list[SimResponse]:
    envelope = {"statusCode": 0, "success": False, "status": f"bad_{form}",
                "message": f"No KYC record for {form}"}
    return [
        SimResponse.json(404, {**envelope, "statusCode": 404}),
        SimResponse.json(400, {**envelope, "statusCode": 400}),
        SimResponse.json(500, {**envelope, "statusCode": 500}),
        SimResponse(502, f"<html>gateway: {form}</html>".encode(), content_type="text/html"),
        SimResponse(200, f"not json {form}".encode()),
        SimResponse(200, f"{form}".encode(), content_type="text/plain"),
        SimResponse.json(200, {"success": True, "data": {"status": 7, "email": form}}),
    ]


@pytest.mark.parametrize("form", forms(EMAIL))
def test_query_parameter_is_masked_in_every_error(
    servers: tuple[Replay, Replay, Sandbox], form: str
) -> None:
    _, starkfi, sandbox = servers
    answers = starkfi_answers(form)
    starkfi.reset()
    starkfi.push(*answers)
    settings = {"starkfi": {"base_url": sandbox.url("starkfi"), "api_key": STARKFI_KEY}}
    with kycbridge.Bridge([unlimited_starkfi], settings=settings, env={},
                          transport=fast_transport(retries=0)) as bridge:
        for _ in answers:
            with pytest.raises(KYCBridgeError) as info:
                bridge.status("starkfi", email=EMAIL)
            assert_masked(info.value, EMAIL)
    assert len(starkfi.received) == len(answers)


def test_the_starkfi_echo_does_reach_the_error(servers: tuple[Replay, Replay, Sandbox]) -> None:
    """The test above can fail: StarkFi's error text does carry the echo, masked."""
    _, starkfi, sandbox = servers
    starkfi.reset()
    encoded = quote(EMAIL, safe="")  # no "@": no email pattern of the error table catches it
    starkfi.push(SimResponse.json(404, {"statusCode": 404, "success": False,
                                        "status": "not_found",
                                        "message": f"No KYC record for {encoded}"}))
    settings = {"starkfi": {"base_url": sandbox.url("starkfi"), "api_key": STARKFI_KEY}}
    with kycbridge.Bridge([unlimited_starkfi], settings=settings, env={},
                          transport=fast_transport(retries=0)) as bridge, \
            pytest.raises(KYCBridgeError) as info:
        bridge.status("starkfi", email=EMAIL)
    assert info.value.provider_message == f"No KYC record for {mask(EMAIL)}"


# -- the pieces -------------------------------------------------------------------------


def test_mask_personal_values_forms_and_case() -> None:
    for form in forms(PATH_USER):
        assert mask_personal_values(f"<{form}>", [PATH_USER]) == f"<{mask(PATH_USER)}>"
    assert mask_personal_values("a id ab", ["id", None, ""]) == "a id ab"  # too short
    text = "nothing here"
    assert mask_personal_values(text, [EMAIL]) is text


def test_rewrite_reaches_every_text_and_the_last_error() -> None:
    inner = RequestRejected("x secret", provider_code="secret", request_id="r-secret")
    outer = WatchTimeout("timed out on secret", last_error=inner)
    outer.provider_message = "secret!"
    outer.rewrite(lambda t: t.replace("secret", "***"))
    assert outer.message == "timed out on ***" and outer.args == (outer.message,)
    assert outer.provider_message == "***!"
    assert inner.message == "x ***" and inner.provider_code == "***"
    assert inner.request_id == "r-***"
    restored = pickle.loads(pickle.dumps(outer))
    assert restored.args == ("timed out on ***",)
    assert restored.last_error.request_id == "r-***"


def test_parsed_raw_defaults_to_keep() -> None:
    from kycbridge.states import KYCState

    assert Parsed(KYCState.APPROVED, "OK").raw is KEEP
    assert repr(KEEP) == "KEEP" and pickle.loads(pickle.dumps(KEEP)) is KEEP


def test_starkfi_module_is_installed() -> None:
    assert kycbridge_starkfi.StarkFiProvider.name == "starkfi"


def test_veriff_unsent_shared_secret_and_session_id_are_out_of_errors() -> None:
    """Veriff signs with a shared secret it never sends: the core's scrubbing covers it (every
    secret field of the settings, sent or not), and the session id (a path parameter) is
    masked, in any case; Veriff no longer overrides ``fetch`` for either."""
    import kycbridge_veriff
    from kycbridge_veriff.provider import VeriffProvider

    assert "fetch" not in vars(VeriffProvider)
    secret = "veriff-shared-secret-0123456789"
    sid = "0b9f3a52-7c1e-4b8e-9d2a-5f6e7d8c9b0a"
    echoes = [f"{secret} {sid}", f"{quote(secret)} {sid.upper()}", json.dumps(secret) + sid]
    replay = Replay("veriff", [SimResponse.json(400, {"status": "fail", "code": 1102,
                                                      "message": echo}) for echo in echoes])
    with Sandbox([replay]) as sandbox, kycbridge.Bridge(
        [kycbridge_veriff],
        settings={"veriff": {"base_url": sandbox.url("veriff"), "api_key": "veriff-api-key",
                             "shared_secret": secret}},
        env={}, transport=fast_transport(retries=0),
    ) as bridge:
        for _ in echoes:
            with pytest.raises(KYCBridgeError) as info:
                bridge.status("veriff", session_id=sid)
            for text in texts_of(info.value):
                assert secret not in text and quote(secret) not in text
            assert_masked(info.value, sid)
            assert "***" in (info.value.provider_message or "")
    for request in replay.received:
        assert secret not in json.dumps(dict(request.headers))  # never sent


@pytest.mark.parametrize("content_type", ["text/x\nInjected: 1", "text/\x1b[31mred", "a\u202eb"])
def test_error_table_escapes_the_content_type(content_type: str) -> None:
    """A provider-controlled content type enters a message one escaped line (the hypothesis
    failure of ``test_error_for_is_total``: a newline in it reached the message)."""
    from kycbridge_starkfi.errors import ERROR_TABLE

    response = Response(status=404, headers={"content-type": content_type}, body=b"x")
    error = ERROR_TABLE.error_for(response, provider="starkfi")
    assert isinstance(error, MalformedResponse)
    for char in "\n\x1b\u202e":
        assert char not in error.message
    assert "\\x0a" in error.message or "\\x1b" in error.message or "\\u202e" in error.message


def test_a_suppressed_context_is_dropped_with_what_it_held() -> None:
    """An error raised "from None" keeps nothing of the exception it replaced."""
    from kycbridge.errors import ProviderUnavailable
    from kycbridge.provider import HTTPStatusProvider

    class Quiet(HTTPStatusProvider):
        name = "quiet"

    try:
        try:
            raise ValueError(b'{"id": "user-4242", "appli')  # what http.client may carry
        except ValueError:
            raise ProviderUnavailable("dropped mid-body") from None
    except ProviderUnavailable as exc:
        assert exc.__context__ is not None  # Python keeps it, only hides it...
        Quiet()._clean_error(exc, None, None, None)
        assert exc.__context__ is None  # ...the core drops it
