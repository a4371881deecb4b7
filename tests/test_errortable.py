"""Declarative error tables (kycbridge.errortable): every rule over real loopback HTTP, and
error_for's totality in process (hypothesis)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kycbridge
from kycbridge import (
    AuthenticationError,
    ErrorBody,
    ErrorFields,
    ErrorTable,
    HTTPStatusProvider,
    KYCBridgeError,
    KYCState,
    MalformedResponse,
    Override,
    Parsed,
    ProviderUnavailable,
    RateLimited,
    Request,
    RequestRejected,
    StatusMap,
    SubjectNotFound,
)
from kycbridge.errortable import is_json_type, mask_personal, provider_text
from kycbridge.sandbox import Replay, Sandbox, SimResponse
from kycbridge.transport import Response, Transport

EMAIL = "jane.doe@example.com"
WALLET = "0x52908400098527886E0F7030069857D2E4169EE7"

TABLE = ErrorTable(
    statuses={
        400: RequestRejected,
        401: AuthenticationError,
        404: SubjectNotFound,
        429: RateLimited,
        503: ProviderUnavailable,
    },
    summaries={SubjectNotFound: "no such subject", RequestRejected: "refused"},
    body=ErrorBody(
        required={"error.message": str},
        optional={"error.code": (str, int), "meta.requestId": str},
        code="error.code",
        message="error.message",
        request_id="meta.requestId",
    ),
    overrides=[
        Override(AuthenticationError, status=400, message=r"session.*expired",
                 summary="session expired"),
        Override(RateLimited, code="TOO_FAST"),
    ],
    request_id_headers=("X-Request-Id", "x-correlation-id"),
    max_retry_after=30.0,
)


def body(message: Any = "m", code: Any = None, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message}
    if code is not None:
        error["code"] = code
    return {"error": error, **extra}


@pytest.fixture(scope="module")
def replay() -> Replay:
    return Replay("replay")


@pytest.fixture(scope="module")
def server(replay: Replay) -> Iterator[Sandbox]:
    with Sandbox([replay]) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def transport() -> Iterator[Transport]:
    transport = Transport(retries=0, read_timeout=5.0)
    yield transport


@pytest.fixture
def answer(replay: Replay, server: Sandbox, transport: Transport) -> Any:
    """Serve one raw answer over loopback, read it back, and return ``TABLE.error_for``."""

    def call(sim: SimResponse, table: ErrorTable = TABLE) -> KYCBridgeError:
        replay.reset()
        replay.push(sim)
        response = transport.send(Request(url=server.url("replay") + "/x"), provider="t")
        assert response.status == sim.status
        return table.error_for(response, provider="t")

    return call


# -- the status table, the body, the fields ----------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, RequestRejected), (401, AuthenticationError), (404, SubjectNotFound),
     (429, RateLimited), (503, ProviderUnavailable),
     (403, RequestRejected), (418, RequestRejected), (500, ProviderUnavailable),
     (599, ProviderUnavailable)],
)
def test_status_table_then_class_fallback(answer: Any, status: int, cls: type) -> None:
    error = answer(SimResponse.json(status, body("nope", "E1")))
    assert type(error) is cls
    assert (error.provider, error.http_status) == ("t", status)
    assert (error.provider_code, error.provider_message) == ("E1", "nope")
    assert error.message.startswith(TABLE.summary(cls))
    assert "E1" in error.message and "nope" in error.message


def test_summaries_come_from_the_table_else_defaults() -> None:
    assert TABLE.summary(SubjectNotFound) == "no such subject"
    assert TABLE.summary(AuthenticationError) == "credentials rejected"
    assert TABLE.rows()[0] == (400, RequestRejected, "refused")


def test_json_types_with_parameters_and_plus_json(answer: Any) -> None:
    raw = json.dumps(body("gone")).encode()
    for media in ["application/json; charset=utf-8", "application/problem+json"]:
        error = answer(SimResponse(404, raw, content_type=media))
        assert type(error) is SubjectNotFound
    assert is_json_type("application/vnd.api+json")
    assert not is_json_type("text/json+html") and not is_json_type("text/plain")


def test_required_and_optional_types_are_exact(answer: Any) -> None:
    # a boolean code is not a str or int: not the provider's body
    error = answer(SimResponse.json(400, body("m", True)))
    assert type(error) is MalformedResponse and error.provider_code is None
    error = answer(SimResponse.json(400, body(7)))  # message must be a string
    assert type(error) is MalformedResponse
    error = answer(SimResponse.json(400, {"error": {"message": "m", "code": None}}))
    assert type(error) is RequestRejected and error.provider_code is None
    error = answer(SimResponse.json(400, body("m", 1003)))
    assert error.provider_code == "1003"


# -- junk bodies, transient precedence, the 404 rule -------------------------------------------

HTML = b"<html><body><h1>Bad Gateway</h1></body></html>"
JUNK = {
    "html": SimResponse(0, HTML, content_type="text/html"),
    "text": SimResponse(0, b"Something failed", content_type="text/plain"),
    "json as text/plain": SimResponse(0, json.dumps(body()).encode(), content_type="text/plain"),
    "no content type": SimResponse(0, json.dumps(body()).encode(), content_type=""),
    "empty": SimResponse(0, b"", content_type="application/json"),
    "json array": SimResponse(0, b'[{"error": {"message": "m"}}]'),
    "json string": SimResponse(0, b'"m"'),
    "other object": SimResponse(0, b'{"message": "m"}'),
    "invalid json": SimResponse(0, b'{"error": {"message": '),
    "not utf-8": SimResponse(0, b'{"error": {"message": "\xff"}}'),
}


@pytest.mark.parametrize("status", [400, 401, 409])
@pytest.mark.parametrize("name", sorted(JUNK))
def test_junk_bodies_are_malformed(answer: Any, status: int, name: str) -> None:
    error = answer(attrs.evolve(JUNK[name], status=status, headers={"Retry-After": "3"}))
    assert type(error) is MalformedResponse
    assert error.http_status == status
    assert error.provider_code is None and error.provider_message is None
    assert "not the provider's JSON error body" in error.message
    assert (JUNK[name].content_type or "no content type") in error.message
    assert error.exit_code == 6


@pytest.mark.parametrize(
    ("status", "cls"),
    [(429, RateLimited), (500, ProviderUnavailable), (502, ProviderUnavailable),
     (503, ProviderUnavailable), (504, ProviderUnavailable), (520, ProviderUnavailable)],
)
@pytest.mark.parametrize("name", sorted(JUNK))
def test_transient_statuses_keep_their_type_whatever_the_body(
    answer: Any, status: int, cls: type, name: str
) -> None:
    error = answer(attrs.evolve(JUNK[name], status=status, headers={"Retry-After": "7"}))
    assert type(error) is cls
    assert error.retry_after == 7.0
    assert error.provider_code is None


@pytest.mark.parametrize(
    "sim",
    [
        SimResponse.json(404, {"error": "no simulator at /kyc"}),  # the sandbox's own 404
        SimResponse(404, b"<html>404 Not Found</html>", content_type="text/html"),
        SimResponse(404, b"", content_type=""),
    ],
    ids=["sandbox json", "html", "empty"],
)
def test_404_without_the_providers_body_says_check_base_url(answer: Any, sim: SimResponse) -> None:
    error = answer(sim)
    assert type(error) is MalformedResponse
    assert "check base_url" in error.message
    assert not isinstance(error, SubjectNotFound)


def test_404_with_the_providers_body_is_not_found(answer: Any) -> None:
    error = answer(SimResponse.json(404, body("no such user", "user_not_found")))
    assert type(error) is SubjectNotFound
    assert "check base_url" not in error.message


@pytest.mark.parametrize(
    "raw",
    [
        b'{"error": {"message": "no such user", "code": "user_not_found", "code": "x"}}',
        b'{"error": {"message": "no such user", "code": "user_not_found"}, "n": NaN}',
    ],
    ids=["a key twice", "NaN"],
)
def test_an_error_body_that_is_not_strict_json_is_not_the_providers(
    answer: Any, raw: bytes
) -> None:
    # read as strictly as any answer: an ambiguous body is not the provider's error body
    error = answer(SimResponse(404, raw, content_type="application/json"))
    assert type(error) is MalformedResponse
    assert "check base_url" in error.message


class Toy(HTTPStatusProvider):
    """A provider that is only data: GET {base}/status, errors by :data:`TABLE`."""

    name: ClassVar[str] = "toytable"
    query_type: ClassVar[type[Any]] = dict
    settings_type: ClassVar[type[Any]] = dict
    details_type: ClassVar[type[Any]] = dict
    status_map: ClassVar[StatusMap] = StatusMap({"ok": KYCState.APPROVED})
    error_table = TABLE

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def build_request(self, query: Any, settings: Any) -> Request:
        return Request(url=self.base_url + "/status", headers={"x-key": "sekrit-key-123"},
                       secret_headers=frozenset({"x-key"}))

    def parse(self, payload: Any, response: Response) -> Parsed:
        return Parsed(state=self.normalize(payload.get("state")), raw_status=None)


def test_a_base_url_missing_its_prefix_reads_as_a_wrong_url(server: Sandbox) -> None:
    """Issue #10: the sandbox's 404 for an unknown prefix is not 'subject not found'."""
    provider = Toy(server.base_url)  # forgot the "/replay" prefix
    with pytest.raises(MalformedResponse) as info:
        provider.fetch({}, {}, Transport(retries=0))
    assert "check base_url" in info.value.message
    assert info.value.provider == "toytable" and info.value.http_status == 404


def test_default_error_for_uses_the_table_and_fetch_scrubs_secrets(
    replay: Replay, server: Sandbox
) -> None:
    replay.reset()
    replay.push(SimResponse.json(401, body("bad key sekrit-key-123", "E_AUTH")))
    provider = Toy(server.url("replay"))
    with pytest.raises(AuthenticationError) as info:
        provider.fetch({}, {}, Transport(retries=0))
    assert "sekrit-key-123" not in str(info.value.to_dict())
    assert info.value.provider_code == "E_AUTH"

    class NoTable(Toy):
        error_table = None

    response = Response(400, {"content-type": "application/json"}, b"{}")
    with pytest.raises(NotImplementedError):
        NoTable("http://127.0.0.1:9").error_for(response)


# -- overrides -------------------------------------------------------------------------------


def test_override_by_message_and_status(answer: Any) -> None:
    error = answer(SimResponse.json(400, body("Your SESSION has expired", "E")))
    assert type(error) is AuthenticationError
    assert error.message.startswith("session expired")
    # the same message on another status: the row is for 400 only
    assert type(answer(SimResponse.json(409, body("session expired")))) is RequestRejected
    # the message must match
    assert type(answer(SimResponse.json(400, body("expired workflow")))) is RequestRejected


def test_override_by_code_folds_and_needs_the_providers_body(answer: Any) -> None:
    assert type(answer(SimResponse.json(400, body("slow", "too-fast")))) is RateLimited
    junk = SimResponse(400, b"TOO_FAST", content_type="text/plain")
    assert type(answer(junk)) is MalformedResponse


# -- redirects --------------------------------------------------------------------------------


def test_redirects_say_check_base_url_with_the_location_masked(answer: Any) -> None:
    location = f"https://user:pw@login.example.com/u/{EMAIL}/x?email={EMAIL}&next=%2Fhome"
    error = answer(SimResponse(302, b"", content_type="", headers={"Location": location}))
    assert type(error) is MalformedResponse
    assert "redirect" in error.message and "check base_url" in error.message
    assert "login.example.com" in error.message
    assert EMAIL not in error.message and "pw" not in error.message.split("check")[0]
    assert "j***@e***.com" in error.message


def test_redirect_with_the_providers_body_keeps_its_fields(answer: Any) -> None:
    error = answer(SimResponse.json(301, body("Moved", "MOVED")))
    assert type(error) is MalformedResponse
    assert (error.provider_code, error.provider_message) == ("MOVED", "Moved")


# -- Retry-After -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [("3", 3.0), ("2.5", 2.5), ("0", 0.0), ("-3", 0.0), ("86400", 30.0), ("1e9", 30.0),
     ("inf", None), ("nan", None), ("abc", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_retry_after_parsed_and_capped(answer: Any, header: str, expected: float | None) -> None:
    error = answer(SimResponse.json(429, body("slow"), headers={"Retry-After": header}))
    assert type(error) is RateLimited
    assert error.retry_after == expected


def test_retry_after_as_a_future_date_is_capped(answer: Any) -> None:
    error = answer(SimResponse.json(503, body("x"),
                                    headers={"Retry-After": "Fri, 01 Jan 2100 00:00:00 GMT"}))
    assert error.retry_after == 30.0


# -- request ids ----------------------------------------------------------------------------------


def test_request_id_from_body_then_headers(answer: Any) -> None:
    error = answer(SimResponse.json(400, body("m", meta={"requestId": "req-body"}),
                                    headers={"X-Request-Id": "req-header"}))
    assert error.request_id == "req-body"
    error = answer(SimResponse.json(400, body("m"), headers={"x-correlation-id": "corr-1"}))
    assert error.request_id == "corr-1"
    # a junk body still carries the header's id, even on a transient status
    error = answer(SimResponse(502, HTML, content_type="text/html",
                               headers={"X-Request-Id": "gw-7"}))
    assert type(error) is ProviderUnavailable and error.request_id == "gw-7"
    assert error.to_dict()["request_id"] == "gw-7"
    assert answer(SimResponse.json(400, body("m"))).request_id is None


def test_request_ids_are_bounded_and_escaped(answer: Any) -> None:
    error = answer(SimResponse.json(400, body("m", meta={"requestId": "a\x1b[31m b" + "x" * 500})))
    assert error.request_id is not None
    assert "\x1b" not in error.request_id and " " not in error.request_id
    assert len(error.request_id) <= 129


def test_request_id_in_the_json_error_object() -> None:
    error = RateLimited("slow", provider="p", request_id="r-1")
    assert error.request_id == "r-1"
    assert error.to_dict()["request_id"] == "r-1"
    assert KYCBridgeError("x").to_dict()["request_id"] is None


# -- masking, escaping, trimming ---------------------------------------------------------------


def test_personal_data_masked_in_messages_and_excerpts(answer: Any) -> None:
    error = answer(SimResponse.json(404, body(f"no record for {EMAIL} / {WALLET}")))
    text = " ".join([str(error), error.provider_message or "", repr(error)])
    assert EMAIL not in text and WALLET not in text
    assert "j***@e***.com" in error.message and "0x5290…9EE7" in error.message
    error = answer(SimResponse(404, f"<p>{EMAIL}</p>".encode(), content_type="text/html"))
    assert EMAIL not in error.message and "j***@e***.com" in error.message


def test_provider_text_is_trimmed_and_escaped(answer: Any) -> None:
    error = answer(SimResponse.json(400, body("x" * 5000, "c" * 400)))
    assert error.provider_message == "x" * 300 + "…"
    assert error.provider_code == "c" * 300 + "…"
    error = answer(SimResponse.json(400, body("red \x1b[31m alert\n\n\tnow\x07")))
    assert error.provider_message == "red \\x1b[31m alert now\\x07"
    assert "\x1b" not in error.message


def test_provider_text_helper() -> None:
    assert provider_text("  a \n b ") == "a b"
    assert provider_text(3) == "3" and provider_text(2.5) == "2.5"
    for value in [None, True, "", "   ", [], {}, float("nan")]:
        assert provider_text(value) is None
    assert mask_personal(f"hi {EMAIL}") == "hi j***@e***.com"


# -- exotic bodies -----------------------------------------------------------------------------


def _reader(payload: Any) -> ErrorFields | None:
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        first = payload[0]
        return ErrorFields(code=first.get("id"), message=first.get("detail"),
                           request_id=first.get("trace"))
    return None


def _broken_reader(payload: Any) -> ErrorFields | None:
    raise KeyError("boom")


def test_a_callable_reads_exotic_bodies(answer: Any) -> None:
    table = attrs.evolve(TABLE, body=_reader)
    sim = SimResponse.json(404, [{"id": "NF", "detail": f"who is {EMAIL}", "trace": "t-1"}])
    error = answer(sim, table)
    assert type(error) is SubjectNotFound
    assert (error.provider_code, error.request_id) == ("NF", "t-1")
    assert error.provider_message == "who is j***@e***.com"
    assert type(answer(SimResponse.json(400, {"x": 1}), table)) is MalformedResponse
    error = answer(SimResponse.json(404, [{"id": "NF"}]), attrs.evolve(TABLE, body=_broken_reader))
    assert type(error) is MalformedResponse and "check base_url" in error.message


def test_table_validation() -> None:
    with pytest.raises(TypeError):
        ErrorBody(required={"m": bytes})
    with pytest.raises(ValueError):
        attrs.evolve(TABLE, max_retry_after=0)


# -- totality ----------------------------------------------------------------------------------

MEDIA = ["application/json", "application/json; charset=utf-8", "application/problem+json",
         "text/html", "text/plain", "", "application/octet-stream"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["error", "message", "code", "meta", "requestId", "x"]), inner,
        max_size=4),
    max_leaves=12,
)
bodies = st.binary(max_size=200) | json_values.map(
    lambda v: json.dumps(v).encode()) | st.builds(
    lambda m, c: json.dumps(body(m, c)).encode(), json_values, json_values)
headers = st.fixed_dictionaries(
    {"content-type": st.sampled_from(MEDIA) | st.text(max_size=30)},
    optional={
        "retry-after": st.sampled_from(["1", "-1", "1e400", "nan", "x", "Mon, 99 Foo"])
        | st.text(max_size=30),
        "location": st.text(max_size=60),
        "x-request-id": st.text(max_size=60),
    },
)


@settings(max_examples=400, deadline=None)
@given(status=st.integers(100, 599), body_=bodies, headers_=headers,
       table=st.sampled_from([TABLE, attrs.evolve(TABLE, body=_reader),
                              attrs.evolve(TABLE, body=_broken_reader)]))
def test_error_for_is_total(
    status: int, body_: bytes, headers_: dict[str, str], table: ErrorTable
) -> None:
    response = Response(status=status, headers=headers_, body=body_)
    error = table.error_for(response, provider="t")
    assert isinstance(error, KYCBridgeError)
    assert error.http_status == status and error.provider == "t"
    if error.retry_after is not None:
        assert math.isfinite(error.retry_after) and 0 <= error.retry_after <= 30.0
    for text in [error.message, error.provider_message, error.provider_code, error.request_id]:
        assert text is None or ("\x1b" not in text and "\n" not in text)
    assert table.error_for(response, provider="t").message == error.message  # deterministic
    json.dumps(error.to_dict())


def test_exports() -> None:
    for name in ["ErrorTable", "ErrorBody", "ErrorFields", "Override", "CompositeStatusMap",
                 "ANY"]:
        assert name in kycbridge.__all__ and hasattr(kycbridge, name)
