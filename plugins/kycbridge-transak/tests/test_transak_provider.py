"""The Transak provider over real HTTP on loopback: mapping, request, payloads, errors, settings."""

from __future__ import annotations

import functools
import importlib.metadata
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

import kycbridge
import kycbridge.testing as kit
import kycbridge_transak
from kycbridge import (
    AuthenticationError,
    InvalidQuery,
    KYCBridgeError,
    KYCState,
    MalformedResponse,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    StatusReport,
    SubjectNotFound,
    report_from_dict,
    report_to_dict,
)
from kycbridge.plugins import PluginRegistry
from kycbridge.sandbox import Replay, Sandbox, SimResponse
from kycbridge_transak import TransakProvider, TransakSimulator
from kycbridge_transak.errors import ERROR_TABLE
from kycbridge_transak.mapping import STATUS_MAP
from kycbridge_transak.provider import ID_PROOF_STATUS_PATH, TransakDetails
from kycbridge_transak.query import ENVIRONMENTS, TransakQuery, TransakSettings
from kycbridge_transak.simulator import SANDBOX_ACCESS_TOKEN, SANDBOX_PARTNER_TOKEN

TOKEN = SANDBOX_ACCESS_TOKEN
EMAIL = "jane.doe@example.com"


fast_transport = functools.partial(kit.fast_transport, read_timeout=0.5)
"""The kit's quick test transport with these tests' timeouts."""


# One server per module (stopping one costs up to half a second); state is reset per test.
@pytest.fixture(scope="module")
def sim_server() -> Iterator[tuple[TransakSimulator, Sandbox]]:
    sim = TransakSimulator()
    with Sandbox([sim]) as sandbox:
        yield sim, sandbox


@pytest.fixture
def sim(sim_server: tuple[TransakSimulator, Sandbox]) -> TransakSimulator:
    sim_server[0].reset()
    return sim_server[0]


@pytest.fixture
def sandbox(sim_server: tuple[TransakSimulator, Sandbox], sim: TransakSimulator) -> Sandbox:
    return sim_server[1]


@pytest.fixture
def bridge(sandbox: Sandbox) -> Iterator[kycbridge.Bridge]:
    with kycbridge.Bridge(
        [kycbridge_transak], settings=sandbox.settings(), transport=fast_transport(), env={}
    ) as bridge:
        yield bridge


@pytest.fixture
def replay_sandbox(replay_server: tuple[Replay, Sandbox], replay: Replay) -> Sandbox:
    return replay_server[1]


@pytest.fixture
def replay_bridge(replay_sandbox: Sandbox) -> Iterator[kycbridge.Bridge]:
    with kycbridge.Bridge(
        [kycbridge_transak],
        settings=replay_sandbox.settings(),
        transport=fast_transport(retries=0),
        env={},
    ) as bridge:
        yield bridge


def ok_body(status: Any = "SUBMITTED", kyc_type: Any = "STANDARD") -> SimResponse:
    return SimResponse.json(200, {"data": {"status": status, "kycType": kyc_type}})


def envelope(status: int, message: str, **extra: Any) -> SimResponse:
    return SimResponse.json(status, {"error": {"statusCode": status, "message": message, **extra}})


# -- plugin wiring ----------------------------------------------------------------------------
def test_entry_point_is_installed_and_registers_provider_and_simulator() -> None:
    eps = importlib.metadata.entry_points(group="kycbridge")
    assert any(ep.name == "transak" and ep.value == "kycbridge_transak" for ep in eps)
    registry = PluginRegistry(env={"KYCBRIDGE_LOAD_PLUGINS": "kycbridge-transak"})
    [info] = registry.providers()
    assert (info.name, info.distribution, info.version) == ("transak", "kycbridge-transak", "0.1.0")
    assert isinstance(info.provider, TransakProvider)
    assert isinstance(info.provider, kycbridge.KYCStatusProvider)
    [sim_info] = registry.simulators()
    assert isinstance(sim_info.simulator, TransakSimulator)
    assert registry.broken == []


def test_provider_class_data() -> None:
    provider = TransakProvider()
    assert provider.name == "transak"
    assert provider.rate_limit is None
    assert provider.query_type is TransakQuery
    assert provider.settings_type is TransakSettings
    assert provider.details_type is TransakDetails
    assert provider.status_map is STATUS_MAP
    assert repr(provider) == "<TransakProvider 'transak'>"


def test_lazy_public_names() -> None:
    assert kycbridge_transak.TransakQuery is TransakQuery
    assert kycbridge_transak.SANDBOX_PARTNER_TOKEN == SANDBOX_PARTNER_TOKEN
    with pytest.raises(AttributeError):
        _ = kycbridge_transak.nothing_here


# -- mapping ------------------------------------------------------------------------------------
EXPECTED_MAP = {
    "NOT_SUBMITTED": KYCState.NOT_STARTED,
    "SUBMITTED": KYCState.SUBMITTED,
    "APPROVED": KYCState.APPROVED,
    "REJECTED": KYCState.REJECTED,
    "ADDITIONAL_FORMS_REQUIRED": KYCState.ACTION_REQUIRED,
}


def test_mapping_table_is_exactly_the_documented_words() -> None:
    assert dict(STATUS_MAP.rows()) == EXPECTED_MAP
    assert STATUS_MAP.default is KYCState.UNKNOWN
    assert not KYCState.SUBMITTED.final  # SUBMITTED is the document step, not an approval


@pytest.mark.parametrize(("word", "state"), sorted(EXPECTED_MAP.items()))
def test_every_status_word_over_http(
    word: str, state: KYCState, replay: Replay, replay_bridge: kycbridge.Bridge
) -> None:
    replay.push(ok_body(word))
    report = replay_bridge.status("transak", work_flow_run_id="wfr-1", access_token=TOKEN)
    assert isinstance(report, StatusReport)
    assert (report.provider, report.state, report.raw_status) == ("transak", state, word)
    assert report.final is state.final
    assert report.approved is (state is KYCState.APPROVED)
    assert report.subject == "wfr-1"
    assert report.details == TransakDetails(status=word, kyc_type="STANDARD")


def test_unknown_word_keeps_raw_status(replay: Replay, replay_bridge: kycbridge.Bridge) -> None:
    replay.push(ok_body("  Pending_Manual_Review "))
    report = replay_bridge.status("transak", work_flow_run_id="wfr-1", access_token=TOKEN)
    assert report.state is KYCState.UNKNOWN
    assert report.raw_status == "  Pending_Manual_Review "


def test_odd_case_of_a_documented_word(replay: Replay, replay_bridge: kycbridge.Bridge) -> None:
    replay.push(ok_body(" submitted"))
    report = replay_bridge.status("transak", work_flow_run_id="wfr-1", access_token=TOKEN)
    assert report.state is KYCState.SUBMITTED
    assert report.raw_status == " submitted"


# -- the request --------------------------------------------------------------------------------
def test_request_minimal_headers(replay: Replay, replay_bridge: kycbridge.Bridge) -> None:
    replay.push(ok_body())
    replay_bridge.status("transak", work_flow_run_id="f7a73b14-6c25", access_token=TOKEN)
    [request] = replay.received
    assert request.method == "GET"
    assert request.path == ID_PROOF_STATUS_PATH
    assert dict(request.query) == {"workFlowRunId": ["f7a73b14-6c25"]}
    assert request.headers["authorization"] == TOKEN
    assert "x-user-identifier" not in request.headers
    assert "x-access-token" not in request.headers


def test_request_auth_reliance_headers(replay: Replay, replay_sandbox: Sandbox) -> None:
    replay.push(ok_body())
    settings = {
        "transak": {
            "base_url": replay_sandbox.url("transak") + "/",  # trailing slash is dropped
            "partner_access_token": SANDBOX_PARTNER_TOKEN,
        }
    }
    with kycbridge.Bridge(
        [kycbridge_transak], settings=settings, transport=fast_transport(), env={}
    ) as bridge:
        bridge.status(
            "transak", work_flow_run_id="wfr-1", access_token=TOKEN, user_identifier=EMAIL
        )
    [request] = replay.received
    assert request.path == ID_PROOF_STATUS_PATH
    assert request.headers["authorization"] == TOKEN
    assert request.headers["x-user-identifier"] == EMAIL
    assert request.headers["x-access-token"] == SANDBOX_PARTNER_TOKEN


def test_build_request_marks_secrets_and_personal_data() -> None:
    query = TransakQuery(work_flow_run_id="wfr-1", access_token="tok-123", user_identifier=EMAIL)
    settings = TransakSettings(partner_access_token="partner-123")
    request = TransakProvider().build_request(query, settings)
    assert request.url == ENVIRONMENTS["staging"] + ID_PROOF_STATUS_PATH
    assert request.secret_headers == {"authorization", "x-access-token", "x-user-identifier"}
    assert request.personal_params == {"workFlowRunId"}
    assert sorted(request.secrets()) == sorted(["tok-123", "partner-123", EMAIL])


def test_simulator_accepts_the_sandbox_partner_token(sandbox: Sandbox) -> None:
    settings = {
        "transak": {
            "base_url": sandbox.url("transak"),
            "partner_access_token": SANDBOX_PARTNER_TOKEN,
        }
    }
    with kycbridge.Bridge([kycbridge_transak], settings=settings, env={}) as bridge:
        report = bridge.status(
            "transak", work_flow_run_id="wfr-submitted", access_token=TOKEN, user_identifier=EMAIL
        )
    assert report.state is KYCState.SUBMITTED


def test_simulator_rejects_a_wrong_partner_token(sandbox: Sandbox) -> None:
    settings = {
        "transak": {"base_url": sandbox.url("transak"), "partner_access_token": "nope-nope"}
    }
    with kycbridge.Bridge([kycbridge_transak], settings=settings, env={}) as bridge:
        with pytest.raises(AuthenticationError) as info:
            bridge.status("transak", work_flow_run_id="wfr-submitted", access_token=TOKEN)
    assert info.value.http_status == 401
    assert info.value.provider_code == "401"


def test_simulator_rejects_a_wrong_access_token(bridge: kycbridge.Bridge) -> None:
    with pytest.raises(AuthenticationError) as info:
        bridge.status("transak", work_flow_run_id="wfr-submitted", access_token="not-the-token")
    assert info.value.provider_message == "Unauthorized"


def test_unknown_workflow_run_is_a_fresh_run(bridge: kycbridge.Bridge) -> None:
    report = bridge.status("transak", work_flow_run_id="f7a73b14-6c25-433e", access_token=TOKEN)
    assert (report.state, report.raw_status) == (KYCState.NOT_STARTED, "NOT_SUBMITTED")


def test_report_round_trips_through_json(bridge: kycbridge.Bridge) -> None:
    report = bridge.status("transak", work_flow_run_id="wfr-null-kyctype", access_token=TOKEN)
    assert report.details == TransakDetails(status="SUBMITTED", kyc_type=None)
    again = report_from_dict(report_to_dict(report), details_type=TransakDetails)
    assert again == report


# -- query validation -----------------------------------------------------------------------
GOOD = {"work_flow_run_id": "wfr-1", "access_token": TOKEN}
BAD_QUERIES = {
    "missing id": {"access_token": TOKEN},
    "empty id": {**GOOD, "work_flow_run_id": ""},
    "id with space": {**GOOD, "work_flow_run_id": "wfr 1"},
    "id with newline": {**GOOD, "work_flow_run_id": "wfr-1\n"},
    "id with NUL": {**GOOD, "work_flow_run_id": "wfr\x001"},
    "id too long": {**GOOD, "work_flow_run_id": "w" * 257},
    "id not a string": {**GOOD, "work_flow_run_id": 12345},
    "missing token": {"work_flow_run_id": "wfr-1"},
    "empty token": {**GOOD, "access_token": ""},
    "token with CRLF": {**GOOD, "access_token": "tok\r\nX-Evil: 1"},
    "token with tab": {**GOOD, "access_token": "tok\ttok"},
    "token padded": {**GOOD, "access_token": " tok"},
    "token not ASCII": {**GOOD, "access_token": "tøken"},
    "token too long": {**GOOD, "access_token": "t" * 8193},
    "token not a string": {**GOOD, "access_token": 123456},
    "email invalid": {**GOOD, "user_identifier": "not-an-email"},
    "email with CRLF": {**GOOD, "user_identifier": "a@b.com\r\nX: y"},
    "email empty": {**GOOD, "user_identifier": ""},
    "email too long": {**GOOD, "user_identifier": "a" * 250 + "@b.com"},
    "unknown field": {**GOOD, "email": EMAIL},
}


@pytest.mark.parametrize("fields", BAD_QUERIES.values(), ids=BAD_QUERIES.keys())
def test_invalid_query_raises_before_any_request(
    fields: dict[str, Any], bridge: kycbridge.Bridge, sandbox: Sandbox
) -> None:
    before = dict(sandbox.requests)
    with pytest.raises(InvalidQuery) as info:
        bridge.status("transak", **fields)
    assert info.value.provider == "transak"
    assert sandbox.requests == before
    assert bridge.transport.requests_sent == 0


@pytest.mark.parametrize(
    "fields",
    [
        {**GOOD, "access_token": "s3cr3t-tok\r\n"},
        {**GOOD, "access_token": "s3cr3t-tøken"},
        {**GOOD, "access_token": 31415926},
        {**GOOD, "user_identifier": "s3cr3t-person@"},
        {**GOOD, "user_identifier": 31415926},
    ],
)
def test_validation_messages_never_echo_the_value(fields: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        TransakQuery(**fields)
    text = str(info.value)
    assert "s3cr3t" not in text and "31415926" not in text
    assert "access_token" in text or "user_identifier" in text


def test_valid_queries() -> None:
    query = TransakQuery(
        work_flow_run_id="f7a73b14-6c25-433e-802d-1ca4ac0ececa",
        access_token="Bearer eyJhbGciOiJIUzI1NiJ9.e30.x",
        user_identifier="first.last+kyc@sub.example.co.uk",
    )
    assert query.subject == "f7a73b14-6c25-433e-802d-1ca4ac0ececa"
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        query.work_flow_run_id = "other"  # type: ignore[misc]


def test_access_token_from_env(sandbox: Sandbox) -> None:
    env = {"KYCBRIDGE_TRANSAK_ACCESS_TOKEN": TOKEN}
    with kycbridge.Bridge([kycbridge_transak], settings=sandbox.settings(), env=env) as bridge:
        report = bridge.status("transak", work_flow_run_id="wfr-approved")
    assert report.state is KYCState.NOT_STARTED


# -- settings -------------------------------------------------------------------------------
def test_settings_defaults_and_environments() -> None:
    settings = TransakSettings()
    assert settings.environment == "staging"
    assert settings.url == "https://api-gateway-stg.transak.com"
    assert TransakSettings(environment=" Production ").url == "https://api-gateway.transak.com"
    assert TransakSettings(base_url="https://proxy.example/transak/").url == (
        "https://proxy.example/transak"
    )


def test_settings_from_env() -> None:
    env = {
        "KYCBRIDGE_TRANSAK_ENVIRONMENT": "production",
        "KYCBRIDGE_TRANSAK_PARTNER_ACCESS_TOKEN": "partner-from-env",
    }
    bridge = kycbridge.Bridge([kycbridge_transak], env=env)
    settings = bridge.settings("transak")
    assert settings.url == ENVIRONMENTS["production"]
    assert settings.partner_access_token == "partner-from-env"
    request = TransakProvider().build_request(TransakQuery(**GOOD), settings)
    assert request.url == "https://api-gateway.transak.com" + ID_PROOF_STATUS_PATH
    assert request.headers["x-access-token"] == "partner-from-env"


@pytest.mark.parametrize(
    "overrides",
    [
        {"environment": "prod"},
        {"base_url": "ftp://example.com"},
        {"base_url": "https://"},
        {"base_url": "https://user:pw-s3cr3t@example.com"},
        {"base_url": "https://example.com/?a=1"},
        {"base_url": "https://example.com:port"},
        {"partner_access_token": "partner\r\ntoken"},
        {"nope": 1},
    ],
)
def test_invalid_settings(overrides: dict[str, Any]) -> None:
    bridge = kycbridge.Bridge([kycbridge_transak], settings={"transak": overrides}, env={})
    with pytest.raises(InvalidQuery) as info:
        bridge.settings("transak")
    assert "s3cr3t" not in str(info.value)
    assert "partner\r" not in str(info.value)


# -- payloads -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [
        {"status": "SUBMITTED", "kycType": None},
        {"status": "SUBMITTED"},
        {"status": "SUBMITTED", "kycType": "ENHANCED", "extra": {"nested": [1, 2]}},
    ],
)
def test_tolerated_payloads(
    data: dict[str, Any], replay: Replay, replay_bridge: kycbridge.Bridge
) -> None:
    replay.push(SimResponse.json(200, {"data": data, "meta": {"x": 1}}))
    report = replay_bridge.status("transak", work_flow_run_id="wfr-1", access_token=TOKEN)
    assert report.state is KYCState.SUBMITTED
    assert report.details.kyc_type == data.get("kycType")
    assert report.raw == {"data": data, "meta": {"x": 1}}


MALFORMED_200 = {
    "not an object": SimResponse.json(200, ["SUBMITTED"]),
    "no data": SimResponse.json(200, {"status": "SUBMITTED"}),
    "data null": SimResponse.json(200, {"data": None}),
    "data a string": SimResponse.json(200, {"data": "SUBMITTED"}),
    "status missing": SimResponse.json(200, {"data": {"kycType": "SIMPLE"}}),
    "status null": ok_body(None),
    "status a number": ok_body(1),
    "status a bool": ok_body(True),
    "status a list": ok_body(["SUBMITTED"]),
    "kycType a number": ok_body("SUBMITTED", 3),
    "kycType an object": ok_body("SUBMITTED", {"t": "SIMPLE"}),
    "empty body": SimResponse(200, b""),
    "not JSON": SimResponse(200, b"<html>oops</html>"),
    "HTML content type": SimResponse(200, b"<html>oops</html>", "text/html"),
    "JSON served as text/plain": SimResponse(200, ok_body().body, "text/plain"),
    "no content type": SimResponse(200, ok_body().body, ""),
    "not UTF-8": SimResponse(200, b"\xff\xfe{}"),
}


@pytest.mark.parametrize("answer", MALFORMED_200.values(), ids=MALFORMED_200.keys())
def test_malformed_200_answers(
    answer: SimResponse, replay: Replay, replay_bridge: kycbridge.Bridge
) -> None:
    replay.push(answer)
    with pytest.raises(MalformedResponse) as info:
        replay_bridge.status("transak", work_flow_run_id="wfr-1", access_token=TOKEN)
    assert info.value.http_status == 200
    assert info.value.provider == "transak"
    assert len(info.value.message) < 300


def test_json_with_charset_and_problem_json_are_json(
    replay: Replay, replay_bridge: kycbridge.Bridge
) -> None:
    replay.push(SimResponse(200, ok_body().body, "application/json; charset=utf-8"))
    assert replay_bridge.status("transak", **GOOD).state is KYCState.SUBMITTED
    replay.push(SimResponse(404, envelope(404, "nf").body, "application/problem+json"))
    with pytest.raises(SubjectNotFound):
        replay_bridge.status("transak", **GOOD)


# -- errors -------------------------------------------------------------------------------------
ERRORS = [
    (envelope(400, "workFlowRunId is invalid"), RequestRejected, "400"),
    (envelope(400, "Session Expired"), AuthenticationError, "400"),
    (envelope(400, "session has EXPIRED, please log in"), AuthenticationError, "400"),
    (envelope(400, "jwt expired"), AuthenticationError, "400"),
    (envelope(400, "Token expired"), AuthenticationError, "400"),
    (envelope(400, "expired workflow run"), RequestRejected, "400"),
    (envelope(401, "Unauthorized"), AuthenticationError, "401"),
    (envelope(403, "Forbidden", errorCode=1003), AuthenticationError, "1003"),
    (envelope(404, "Workflow run not found"), SubjectNotFound, "404"),
    (envelope(409, "Conflict", errorCode="E_CONFLICT"), RequestRejected, "E_CONFLICT"),
    (envelope(422, "Unprocessable"), RequestRejected, "422"),
    (envelope(429, "Too Many Requests"), RateLimited, "429"),
    (envelope(500, "Internal Server Error"), ProviderUnavailable, "500"),
    (envelope(502, "Bad Gateway"), ProviderUnavailable, "502"),
    (envelope(503, "Service Unavailable"), ProviderUnavailable, "503"),
    (envelope(504, "Gateway Timeout"), ProviderUnavailable, "504"),
    (envelope(507, "Insufficient Storage"), ProviderUnavailable, "507"),
    (envelope(302, "Moved"), MalformedResponse, "302"),
]


@pytest.mark.parametrize(("answer", "cls", "code"), ERRORS)
def test_error_table(
    answer: SimResponse,
    cls: type[KYCBridgeError],
    code: str,
    replay: Replay,
    replay_bridge: kycbridge.Bridge,
) -> None:
    replay.push(answer)
    with pytest.raises(KYCBridgeError) as info:
        replay_bridge.status("transak", **GOOD)
    error = info.value
    assert type(error) is cls
    assert error.http_status == answer.status
    assert error.provider == "transak"
    assert error.provider_code == code
    message = answer.body.decode()
    assert error.provider_message is not None and error.provider_message in message


def test_error_type_table_is_data() -> None:
    error_type = ERROR_TABLE.error_type
    assert error_type(400) is RequestRejected
    assert error_type(418) is RequestRejected
    assert error_type(599) is ProviderUnavailable
    assert error_type(301) is MalformedResponse
    assert all(error_type(status) is cls for status, cls in ERROR_TABLE.statuses.items())


JUNK_BODIES = {
    "html": (b"<html><body>Error</body></html>", "text/html"),
    "text": (b"Something failed", "text/plain"),
    "json as text": (b'{"error": {"statusCode": 1, "message": "m"}}', "text/plain"),
    "empty": (b"", "application/json"),
    "json, no error key": (b'{"message": "nope"}', "application/json"),
    "error a string": (b'{"error": "Not Found", "statusCode": 404}', "application/json"),
    "no message": (b'{"error": {"statusCode": 400}}', "application/json"),
    "statusCode a string": (
        b'{"error": {"statusCode": "400", "message": "m"}}',
        "application/json",
    ),
    "errorCode a list": (
        b'{"error": {"statusCode": 400, "message": "m", "errorCode": []}}',
        "application/json",
    ),
}


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 302])
@pytest.mark.parametrize("body", JUNK_BODIES.values(), ids=JUNK_BODIES.keys())
def test_non_envelope_errors_are_malformed(
    status: int, body: tuple[bytes, str], replay: Replay, replay_bridge: kycbridge.Bridge
) -> None:
    replay.push(SimResponse(status, body[0], body[1]))
    with pytest.raises(MalformedResponse) as info:
        replay_bridge.status("transak", **GOOD)
    assert info.value.http_status == status
    assert info.value.provider_code is None


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (429, RateLimited),
        (500, ProviderUnavailable),
        (502, ProviderUnavailable),
        (503, ProviderUnavailable),
        (504, ProviderUnavailable),
    ],
)
@pytest.mark.parametrize("body", JUNK_BODIES.values(), ids=JUNK_BODIES.keys())
def test_transient_statuses_win_over_junk_bodies(
    status: int,
    cls: type[KYCBridgeError],
    body: tuple[bytes, str],
    replay: Replay,
    replay_bridge: kycbridge.Bridge,
) -> None:
    replay.push(SimResponse(status, body[0], body[1], headers={"Retry-After": "7"}))
    with pytest.raises(KYCBridgeError) as info:
        replay_bridge.status("transak", **GOOD)
    assert type(info.value) is cls
    assert info.value.http_status == status
    assert info.value.retry_after == 7.0


def test_rate_limited_carries_retry_after(replay: Replay, replay_bridge: kycbridge.Bridge) -> None:
    replay.push(SimResponse(429, envelope(429, "slow down").body, headers={"Retry-After": "3"}))
    with pytest.raises(RateLimited) as info:
        replay_bridge.status("transak", **GOOD)
    assert info.value.retry_after == 3.0
    replay.push(envelope(429, "slow down"))
    with pytest.raises(RateLimited) as info:
        replay_bridge.status("transak", **GOOD)
    assert info.value.retry_after is None


def test_long_provider_messages_are_cut(replay: Replay, replay_bridge: kycbridge.Bridge) -> None:
    replay.push(envelope(400, "x" * 5000))
    with pytest.raises(RequestRejected) as info:
        replay_bridge.status("transak", **GOOD)
    assert info.value.provider_message is not None
    assert len(info.value.provider_message) <= 301


# -- CLI ----------------------------------------------------------------------------------------
def test_cli_status_json(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from kycbridge.cli import main

    env = {"KYCBRIDGE_TRANSAK_ACCESS_TOKEN": TOKEN}
    bridge = kycbridge.Bridge([kycbridge_transak], env=env)
    argv = ["status", "transak", "-p", "work_flow_run_id=wfr-submitted"]
    argv += ["--base-url", sandbox.url("transak"), "--json"]
    assert main(argv, bridge=bridge) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["state"], out["raw_status"], out["final"]) == ("submitted", "SUBMITTED", False)
    assert out["details"] == {"status": "SUBMITTED", "kyc_type": "STANDARD"}
    assert TOKEN not in json.dumps(out)
