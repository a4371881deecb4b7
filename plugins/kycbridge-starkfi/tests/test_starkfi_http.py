"""The provider over real HTTP on loopback: requests, typed details, errors by status and body.

The client's limiter is off here (the provider's ``rate_limit`` patched to ``None``) so the
many single calls run fast; it is tested in ``test_starkfi_ratelimit.py``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

import pytest

import kycbridge
import kycbridge.testing as kit
import kycbridge_starkfi
from kycbridge import KYCState
from kycbridge.errors import (
    AuthenticationError,
    KYCBridgeError,
    MalformedResponse,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    SubjectNotFound,
)
from kycbridge.plugins import PluginRegistry
from kycbridge.report import report_from_dict, report_to_dict
from kycbridge.sandbox import Replay, Sandbox, SimResponse
from kycbridge_starkfi.details import IpInfo, StarkFiDetails
from kycbridge_starkfi.errors import ERROR_TABLE
from kycbridge_starkfi.provider import StarkFiProvider
from kycbridge_starkfi.simulator import (
    EVM_WALLET,
    SANDBOX_API_KEY,
    SOLANA_WALLET,
    StarkFiSimulator,
)

EMAIL = "approved@sandbox.starkfi.test"

OK_BODY: dict[str, Any] = {
    "statusCode": 200,
    "success": True,
    "status": "kyc_status_retrieved",
    "message": "KYC status retrieved",
    "data": {
        "status": "pending",
        "approved": False,
        "session_id": "0f0e0d0c-1111-2222-3333-444455556666",
        "session_status": "In Review",
        "session_url": "https://verify.didit.me/session/abc",
        "ip_info": [
            {
                "ip_address": "203.0.113.9",
                "ip_country": "PT",
                "ip_state": "Lisboa",
                "ip_city": "Lisbon",
                "platform": "desktop",
                "device_brand": "Lenovo",
                "device_model": "ThinkPad",
                "is_vpn_or_tor": False,
                "is_data_center": True,
            },
            {"ip_address": "198.51.100.1"},
        ],
        "is_blocklisted": False,
    },
}


fast_transport = functools.partial(kit.fast_transport, retries=0, read_timeout=2.0)
"""The kit's quick test transport with these tests' timeouts."""


@pytest.fixture(autouse=True)
def _no_client_limiter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(StarkFiProvider, "rate_limit", None)


@pytest.fixture(scope="module")
def replay() -> Replay:
    """Scripted raw answers, served below ``/replay`` (any path prefix works as a base URL)."""
    return Replay("replay")


@pytest.fixture(scope="module")
def sim() -> StarkFiSimulator:
    return StarkFiSimulator(rate_limit=None)


@pytest.fixture(scope="module")
def sandbox(replay: Replay, sim: StarkFiSimulator) -> Iterator[Sandbox]:
    with Sandbox([replay, sim]) as sandbox:
        yield sandbox


def replay_settings(sandbox: Sandbox, suffix: str = "") -> dict[str, dict[str, str]]:
    return {"starkfi": {"api_key": SANDBOX_API_KEY, "base_url": sandbox.url("replay") + suffix}}


@pytest.fixture
def answer(replay: Replay, sandbox: Sandbox) -> Iterator[Any]:
    """Yields a function queueing answers on the replay, then calling the provider once."""
    bridge = kycbridge.Bridge(
        [kycbridge_starkfi], settings=replay_settings(sandbox), transport=fast_transport(),
        env={},
    )

    def call(*responses: SimResponse, **query: str) -> kycbridge.StatusReport:
        replay.reset()
        replay.push(*responses)
        return bridge.status("starkfi", **(query or {"email": EMAIL}))

    with bridge:
        yield call


@pytest.fixture
def bridge(sim: StarkFiSimulator, sandbox: Sandbox) -> Iterator[kycbridge.Bridge]:
    sim.reset()
    settings = {"starkfi": {**sim.settings, "base_url": sandbox.url("starkfi")}}
    with kycbridge.Bridge(
        [kycbridge_starkfi], settings=settings, transport=fast_transport(), env={},
    ) as bridge:
        yield bridge


# -- the request -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "path"),
    [
        ("", "/kyc/status"),
        ("/", "/kyc/status"),
        ("/api", "/api/kyc/status"),
        ("/api/", "/api/kyc/status"),
        ("/api/v1", "/api/v1/kyc/status"),
    ],
)
def test_request_and_path_prefix(
    replay: Replay, sandbox: Sandbox, suffix: str, path: str
) -> None:
    replay.reset()
    replay.push(SimResponse.json(200, OK_BODY))
    settings = replay_settings(sandbox, suffix)
    with kycbridge.Bridge([kycbridge_starkfi], settings=settings, env={}) as bridge:
        bridge.status("starkfi", email=EMAIL)
        bridge.status("starkfi", wallet=SOLANA_WALLET)
    first, second = replay.received
    assert first.method == "GET" and second.method == "GET"
    assert first.path == path and second.path == path
    assert dict(first.query) == {"email": [EMAIL]}
    assert dict(second.query) == {"wallet": [SOLANA_WALLET]}
    assert first.headers["x-api-key"] == SANDBOX_API_KEY
    assert "application/json" in first.headers["accept"]


def test_simulator_behind_a_prefix(sandbox: Sandbox, sim: StarkFiSimulator) -> None:
    sim.reset()
    # the sandbox serves the simulator below /starkfi: a base URL with a path prefix
    url = sandbox.url("starkfi") + "/"
    assert url.endswith("/starkfi/")
    settings = {"starkfi": {"api_key": SANDBOX_API_KEY, "base_url": url}}
    with kycbridge.Bridge([kycbridge_starkfi], settings=settings, env={}) as bridge:
        report = bridge.status("starkfi", email="instant-approved@sandbox.starkfi.test")
    assert report.state is KYCState.APPROVED


# -- the report and its details ------------------------------------------------------------


def test_typed_details_and_ip_info(answer: Any) -> None:
    report = answer(SimResponse.json(200, OK_BODY))
    assert report.provider == "starkfi"
    assert report.state is KYCState.IN_REVIEW
    assert report.raw_status == "In Review"
    assert report.subject == EMAIL
    assert report.blocklisted is False
    assert report.raw == OK_BODY
    details = report.details
    assert isinstance(details, StarkFiDetails)
    assert details.status == "pending"
    assert details.approved is False
    assert details.session_id == "0f0e0d0c-1111-2222-3333-444455556666"
    assert details.session_status == "In Review"
    assert details.session_url == "https://verify.didit.me/session/abc"
    assert details.is_blocklisted is False
    assert details.ip_info == (
        IpInfo("203.0.113.9", "PT", "Lisboa", "Lisbon", "desktop", "Lenovo", "ThinkPad",
               False, True),
        IpInfo(ip_address="198.51.100.1"),
    )
    assert all(isinstance(ip, IpInfo) for ip in details.ip_info)


def test_report_json_round_trip(answer: Any) -> None:
    report = answer(SimResponse.json(200, OK_BODY))
    data = json.loads(json.dumps(report_to_dict(report)))
    assert data["details"]["ip_info"][0]["ip_city"] == "Lisbon"
    back = report_from_dict(data, details_type=StarkFiDetails)
    assert back.details == report.details
    assert back.state is report.state and back.raw_status == report.raw_status


def test_blocklisted_flag_whatever_the_state(answer: Any) -> None:
    for session, approved, state in [
        ("In Review", False, KYCState.IN_REVIEW),
        ("Approved", True, KYCState.APPROVED),
        ("Declined", False, KYCState.REJECTED),
    ]:
        body = json.loads(json.dumps(OK_BODY))
        body["data"].update(session_status=session, approved=approved, is_blocklisted=True)
        report = answer(SimResponse.json(200, body))
        assert report.state is state
        assert report.blocklisted is True
        assert report.details.is_blocklisted is True


def test_raw_status_falls_back_to_data_status(answer: Any) -> None:
    body = {**OK_BODY, "data": {"status": "pending", "approved": False}}
    report = answer(SimResponse.json(200, body))
    assert report.raw_status == "pending"
    assert report.state is KYCState.IN_PROGRESS
    assert report.details == StarkFiDetails(status="pending", approved=False)


def test_missing_extra_and_null_fields_are_fine(answer: Any) -> None:
    body = {
        "success": True,
        "data": {"session_status": "Approved", "approved": None, "ip_info": None,
                 "is_blocklisted": None, "new_field": {"x": 1}},
        "requestId": "r-1",
    }
    report = answer(SimResponse.json(200, body, content_type="application/json; charset=utf-8"))
    assert report.state is KYCState.APPROVED
    assert report.details == StarkFiDetails(session_status="Approved")
    assert report.blocklisted is False


def test_wallet_subjects(bridge: kycbridge.Bridge) -> None:
    assert bridge.status("starkfi", wallet=SOLANA_WALLET).state is KYCState.NOT_STARTED
    assert bridge.status("starkfi", wallet=EVM_WALLET).state is KYCState.IN_PROGRESS
    # EVM addresses are case-insensitive: same subject, next step
    assert bridge.status("starkfi", wallet=EVM_WALLET.lower()).state is KYCState.IN_REVIEW


# -- malformed 200s --------------------------------------------------------------------------

MALFORMED_200 = {
    "success false": SimResponse.json(200, {**OK_BODY, "success": False}),
    "success string": SimResponse.json(200, {**OK_BODY, "success": "true"}),
    "no data": SimResponse.json(200, {k: v for k, v in OK_BODY.items() if k != "data"}),
    "data null": SimResponse.json(200, {**OK_BODY, "data": None}),
    "data list": SimResponse.json(200, {**OK_BODY, "data": [OK_BODY["data"]]}),
    "data string": SimResponse.json(200, {**OK_BODY, "data": "In Review"}),
    "array": SimResponse.json(200, [OK_BODY]),
    "number": SimResponse.json(200, 200),
    "null": SimResponse.json(200, None),
    "text/plain": SimResponse(200, json.dumps(OK_BODY).encode(), content_type="text/plain"),
    "no content type": SimResponse(200, json.dumps(OK_BODY).encode(), content_type=""),
    "html": SimResponse(200, b"<html><body>Sign in</body></html>", content_type="text/html"),
    "empty": SimResponse(200, b""),
    "not utf-8": SimResponse(200, b'{"data": "\xff\xfe"}'),
    "approved string": SimResponse.json(
        200, {**OK_BODY, "data": {**OK_BODY["data"], "approved": "false"}}),
    "approved number": SimResponse.json(
        200, {**OK_BODY, "data": {**OK_BODY["data"], "approved": 0}}),
    "session_status number": SimResponse.json(
        200, {**OK_BODY, "data": {**OK_BODY["data"], "session_status": 3}}),
    "ip_info object": SimResponse.json(
        200, {**OK_BODY, "data": {**OK_BODY["data"], "ip_info": {"ip_address": "1.2.3.4"}}}),
    "ip_info string": SimResponse.json(
        200, {**OK_BODY, "data": {**OK_BODY["data"], "ip_info": ""}}),
    "ip_info item string": SimResponse.json(
        200, {**OK_BODY, "data": {**OK_BODY["data"], "ip_info": ["1.2.3.4"]}}),
    "ip_info field type": SimResponse.json(
        200, {**OK_BODY, "data": {**OK_BODY["data"],
                                  "ip_info": [{"is_vpn_or_tor": "no"}]}}),
    "is_blocklisted string": SimResponse.json(
        200, {**OK_BODY, "data": {**OK_BODY["data"], "is_blocklisted": "false"}}),
}


@pytest.mark.parametrize("name", sorted(MALFORMED_200))
def test_malformed_success_answers(answer: Any, name: str) -> None:
    with pytest.raises(MalformedResponse) as info:
        answer(MALFORMED_200[name])
    error = info.value
    assert error.http_status == 200
    assert error.provider == "starkfi"
    assert error.kind == "malformed_response"


def test_wrong_type_message_names_the_field(answer: Any) -> None:
    body = {**OK_BODY, "data": {**OK_BODY["data"], "ip_info": [{}, {"ip_city": 7}]}}
    with pytest.raises(MalformedResponse, match=r"data\.ip_info\[1\]\.ip_city"):
        answer(SimResponse.json(200, body))


# -- errors ------------------------------------------------------------------------------------


def envelope(status: int, code: str, message: str) -> dict[str, Any]:
    return {"statusCode": status, "success": False, "status": code, "message": message}


RATE_BODY = {"code": 429, "message": "Too many requests", "docs": "https://docs.starkfi.io/x"}
HTML = b"<html><head><title>Error</title></head><body>nginx</body></html>"

# (name, answer, error type, provider_code, provider_message, retry_after)
ERROR_CASES: list[tuple[str, SimResponse, type[KYCBridgeError], str | None, str | None,
                        float | None]] = [
    ("400 missing_params", SimResponse.json(
        400, envelope(400, "missing_params", "email or wallet is required")),
     RequestRejected, "missing_params", "email or wallet is required", None),
    ("401", SimResponse.json(401, envelope(401, "unauthorized", "Invalid API key")),
     AuthenticationError, "unauthorized", "Invalid API key", None),
    ("403", SimResponse.json(403, envelope(403, "forbidden", "Key not allowed")),
     AuthenticationError, "forbidden", "Key not allowed", None),
    ("404", SimResponse.json(404, envelope(404, "kyc_not_found", "No KYC record")),
     SubjectNotFound, "kyc_not_found", "No KYC record", None),
    ("404 other JSON object", SimResponse.json(404, {"message": "Not Found"}),
     SubjectNotFound, None, "Not Found", None),
    ("409", SimResponse.json(409, envelope(409, "conflict", "Busy")),
     RequestRejected, "conflict", "Busy", None),
    ("422", SimResponse.json(422, envelope(422, "invalid_params", "bad wallet")),
     RequestRejected, "invalid_params", "bad wallet", None),
    ("429", SimResponse.json(429, RATE_BODY, headers={"Retry-After": "1"}),
     RateLimited, "429", "Too many requests", 1.0),
    ("429 no Retry-After", SimResponse.json(429, RATE_BODY),
     RateLimited, "429", "Too many requests", None),
    ("429 HTML", SimResponse(429, HTML, content_type="text/html", headers={"Retry-After": "2"}),
     RateLimited, None, None, 2.0),
    ("500 server_failed", SimResponse.json(
        500, envelope(500, "server_failed", "Server failed on KYC status")),
     ProviderUnavailable, "server_failed", "Server failed on KYC status", None),
    ("500 HTML", SimResponse(500, HTML, content_type="text/html"),
     ProviderUnavailable, None, None, None),
    ("502 HTML", SimResponse(502, HTML, content_type="text/html"),
     ProviderUnavailable, None, None, None),
    ("503", SimResponse.json(503, envelope(503, "service_unavailable", "Down"),
                             headers={"Retry-After": "1"}),
     ProviderUnavailable, "service_unavailable", "Down", 1.0),
    ("504 empty", SimResponse(504, b"", content_type=""),
     ProviderUnavailable, None, None, None),
    ("520 text", SimResponse(520, b"origin error", content_type="text/plain"),
     ProviderUnavailable, None, None, None),
    ("500 JSON array", SimResponse.json(500, ["server_failed"]),
     ProviderUnavailable, None, None, None),
    ("400 HTML", SimResponse(400, HTML, content_type="text/html"),
     MalformedResponse, None, None, None),
    ("401 empty", SimResponse(401, b"", content_type="application/json"),
     MalformedResponse, None, None, None),
    ("404 HTML", SimResponse(404, HTML, content_type="text/html"),
     MalformedResponse, None, None, None),
    ("404 JSON as text/plain", SimResponse(
        404, json.dumps(envelope(404, "kyc_not_found", "x")).encode(), content_type="text/plain"),
     MalformedResponse, None, None, None),
    ("404 invalid JSON", SimResponse(404, b'{"status": kyc_not_found'),
     MalformedResponse, None, None, None),
    ("404 JSON string", SimResponse.json(404, "kyc_not_found"),
     MalformedResponse, None, None, None),
    ("302 redirect", SimResponse(302, b"", content_type="",
                                 headers={"Location": "https://starkfi.io/login"}),
     MalformedResponse, None, None, None),
]


@pytest.mark.parametrize(
    ("answer_", "cls", "code", "message", "retry_after"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_error_mapping(
    answer: Any,
    answer_: SimResponse,
    cls: type[KYCBridgeError],
    code: str | None,
    message: str | None,
    retry_after: float | None,
) -> None:
    with pytest.raises(KYCBridgeError) as info:
        answer(answer_)
    error = info.value
    assert type(error) is cls
    assert error.provider == "starkfi"
    assert error.http_status == answer_.status
    assert error.provider_code == code
    assert error.provider_message == message
    if cls is not MalformedResponse:
        assert error.retry_after == retry_after
    if cls is MalformedResponse and answer_.body:
        # a short excerpt of what came back
        assert answer_.body.decode()[:10] in error.message


def test_error_table_is_data() -> None:
    assert dict(ERROR_TABLE.statuses) == {
        400: RequestRejected, 401: AuthenticationError, 403: AuthenticationError,
        404: SubjectNotFound, 429: RateLimited, 500: ProviderUnavailable,
        502: ProviderUnavailable, 503: ProviderUnavailable, 504: ProviderUnavailable,
    }
    assert ERROR_TABLE.error_type(418) is RequestRejected
    assert ERROR_TABLE.error_type(599) is ProviderUnavailable
    assert ERROR_TABLE.error_type(301) is MalformedResponse


def test_provider_messages_echoing_subjects_are_masked(answer: Any) -> None:
    body = envelope(404, "kyc_not_found", "No KYC record for jane.doe@example.com")
    with pytest.raises(SubjectNotFound) as info:
        answer(SimResponse.json(404, body))
    assert "jane.doe@example.com" not in str(info.value)
    assert "jane.doe@example.com" not in (info.value.provider_message or "")
    assert "j***@e***.com" in str(info.value)


def test_wrong_api_key_against_the_simulator(sandbox: Sandbox) -> None:
    settings = {"starkfi": {"api_key": "sk_wrong_key_123", "base_url": sandbox.url("starkfi")}}
    with kycbridge.Bridge([kycbridge_starkfi], settings=settings, env={},
                          transport=fast_transport()) as bridge:
        with pytest.raises(AuthenticationError) as info:
            bridge.status("starkfi", email=EMAIL)
    assert info.value.http_status == 401
    assert info.value.provider_code == "unauthorized"
    assert info.value.exit_code == 3


def test_unknown_subject_is_not_found(bridge: kycbridge.Bridge) -> None:
    with pytest.raises(SubjectNotFound) as info:
        bridge.status("starkfi", email="nobody@example.com")
    assert info.value.provider_code == "kyc_not_found"
    with pytest.raises(SubjectNotFound):
        bridge.status("starkfi", wallet="0x" + "1" * 40)


# -- plugin wiring --------------------------------------------------------------------------


def test_entry_point_registers_provider_and_simulator() -> None:
    registry = PluginRegistry(env={"KYCBRIDGE_LOAD_PLUGINS": "kycbridge-starkfi"})
    (info,) = registry.providers()
    assert info.name == "starkfi"
    assert info.distribution == "kycbridge-starkfi"
    assert info.version == "0.1.0"
    assert isinstance(info.provider, StarkFiProvider)
    assert isinstance(info.provider, kycbridge.KYCStatusProvider)
    (sim,) = registry.simulators()
    assert isinstance(sim.simulator, StarkFiSimulator)
    assert registry.broken == []


def test_lazy_package_attributes() -> None:
    assert kycbridge_starkfi.StarkFiProvider is StarkFiProvider
    assert kycbridge_starkfi.StarkFiSimulator is StarkFiSimulator
    with pytest.raises(AttributeError):
        kycbridge_starkfi.nope


def test_bridge_rate_limiter_uses_documented_limit(
    bridge: kycbridge.Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.undo()
    assert StarkFiProvider.rate_limit == 10.0
    limiter = bridge.rate_limiter("starkfi")
    assert limiter is not None and limiter.rate == 10.0
