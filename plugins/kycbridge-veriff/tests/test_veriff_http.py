"""The Veriff provider over real HTTP on loopback: the signed request, reports, errors, auth."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kycbridge
import kycbridge.testing as kit
import kycbridge_veriff
from kycbridge import KYCState
from kycbridge.errors import (
    AuthenticationError,
    InvalidQuery,
    KYCBridgeError,
    MalformedResponse,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    SubjectNotFound,
)
from kycbridge.report import report_from_dict, report_to_dict
from kycbridge.sandbox import Replay, Sandbox, SimResponse
from kycbridge.testing.strategies import json_values
from kycbridge_veriff.details import VeriffDetails
from kycbridge_veriff.signing import signature
from kycbridge_veriff.simulator import (
    SANDBOX_API_KEY,
    SANDBOX_SHARED_SECRET,
    SCENARIOS,
    VeriffSimulator,
)

SID = "aab2f4c8-0e4b-4d4f-9f31-3f6a1b2c3d4e"
APPROVED_SID = next(s.subject for s in SCENARIOS if s.description.startswith("approved:"))
SECRETS = {"api_key": SANDBOX_API_KEY, "shared_secret": SANDBOX_SHARED_SECRET}

VERIFICATION: dict[str, Any] = {
    "id": SID,
    "attemptId": "f5c6c2a4-3b7e-4e0f-8a8d-6f1e2d3c4b5a",
    "status": "resubmission_requested",
    "code": 9103,
    "reason": "Video and/or photos missing",
    "reasonCode": 201,
    "acceptanceTime": "2024-01-01T10:00:00.000Z",
    "decisionTime": "2024-01-01T10:05:00.000Z",
    "vendorData": "user-1234",
    "endUserId": None,
    "person": {"firstName": "JANE", "lastName": "DOE", "dateOfBirth": "1990-01-01"},
    "document": {"number": "X1234567", "type": "PASSPORT", "country": "EE"},
}
OK_BODY: dict[str, Any] = {"status": "success", "verification": VERIFICATION}

fast_transport = functools.partial(kit.fast_transport, retries=0, read_timeout=2.0)


@pytest.fixture(scope="module")
def replay() -> Replay:
    return Replay("replay")


@pytest.fixture(scope="module")
def sim() -> VeriffSimulator:
    return VeriffSimulator()


@pytest.fixture(scope="module")
def sandbox(replay: Replay, sim: VeriffSimulator) -> Iterator[Sandbox]:
    with Sandbox([replay, sim]) as sandbox:
        yield sandbox


def _bridge(base_url: str, **overrides: str) -> kycbridge.Bridge:
    settings = {"veriff": {**SECRETS, **overrides, "base_url": base_url}}
    return kycbridge.Bridge(
        [kycbridge_veriff], settings=settings, transport=fast_transport(), env={}
    )


@pytest.fixture
def answer(replay: Replay, sandbox: Sandbox) -> Iterator[Any]:
    """Queue raw answers on the replay, then ask Veriff once through it."""
    bridge = _bridge(sandbox.url("replay"))

    def call(*responses: SimResponse, session_id: str = SID) -> kycbridge.StatusReport:
        replay.reset()
        replay.push(*responses)
        return bridge.status("veriff", session_id=session_id)

    with bridge:
        yield call


def _sim_bridge(sandbox: Sandbox, sim: VeriffSimulator, **overrides: str) -> kycbridge.Bridge:
    sim.reset()
    overrides.setdefault("base_url", sandbox.url("veriff"))
    return _bridge(**overrides)


# -- the request -----------------------------------------------------------------------------


def test_request_is_signed_with_the_session_id(replay: Replay, answer: Any) -> None:
    answer(SimResponse.json(200, OK_BODY), session_id=SID.upper())  # kept lowercase
    (request,) = replay.received
    assert request.method == "GET"
    assert request.path == f"/v1/sessions/{SID}/decision"
    assert request.raw_path == f"/replay/v1/sessions/{SID}/decision"
    assert request.body == b""
    assert request.headers["x-auth-client"] == SANDBOX_API_KEY
    expected = signature(SANDBOX_SHARED_SECRET, SID)
    assert request.headers["x-hmac-signature"] == expected
    assert len(expected) == 64 and expected == expected.lower()
    # Veriff's documented example of the GET signature: HMAC-SHA256(secret, session id)
    import hashlib
    import hmac

    assert expected == hmac.new(
        SANDBOX_SHARED_SECRET.encode(), SID.encode(), hashlib.sha256
    ).hexdigest()


def test_missing_credentials_are_invalid_before_sending(replay: Replay, sandbox: Sandbox) -> None:
    replay.reset()
    for missing in ("api_key", "shared_secret"):
        settings = {"veriff": {**SECRETS, missing: "", "base_url": sandbox.url("replay")}}
        with kycbridge.Bridge([kycbridge_veriff], settings=settings, env={}) as bridge:
            with pytest.raises(InvalidQuery, match=missing):
                bridge.status("veriff", session_id=SID)
    assert replay.received == []


def test_simulator_behind_a_prefix(sandbox: Sandbox, sim: VeriffSimulator) -> None:
    with _sim_bridge(sandbox, sim, base_url=sandbox.url("veriff") + "/") as bridge:
        report = bridge.status("veriff", session_id=APPROVED_SID)
    assert report.state is KYCState.IN_PROGRESS  # no decision yet


# -- authentication against the simulator ---------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"api_key": "wrong-key"}, "1803"),
        ({"shared_secret": "wrong-secret"}, "1818"),
    ],
)
def test_wrong_credentials(
    sandbox: Sandbox, sim: VeriffSimulator, overrides: dict[str, str], code: str
) -> None:
    with _sim_bridge(sandbox, sim, **overrides) as bridge:
        with pytest.raises(AuthenticationError) as info:
            bridge.status("veriff", session_id=APPROVED_SID)
    error = info.value
    assert error.http_status == 401
    assert error.provider_code == code
    assert sim.calls(APPROVED_SID) == 0  # refused before the script moved
    for value in overrides.values():
        assert value not in str(error) and value not in repr(error)


def _raw_call(sandbox: Sandbox, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    import urllib3

    response = urllib3.PoolManager().request(
        "GET", f"{sandbox.url('veriff')}/v1/sessions/{APPROVED_SID}/decision", headers=headers
    )
    return response.status, json.loads(response.data)


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, 1801),
        ({"X-AUTH-CLIENT": SANDBOX_API_KEY}, 1812),
        ({"X-AUTH-CLIENT": SANDBOX_API_KEY, "X-HMAC-SIGNATURE": "abc"}, 1812),
        ({"X-AUTH-CLIENT": SANDBOX_API_KEY,
          "X-HMAC-SIGNATURE": signature(SANDBOX_SHARED_SECRET, APPROVED_SID).upper()}, 1818),
        ({"X-AUTH-CLIENT": SANDBOX_API_KEY,
          "X-HMAC-SIGNATURE": signature(SANDBOX_SHARED_SECRET, SID)}, 1818),  # another id
        ({"X-AUTH-CLIENT": SANDBOX_API_KEY,
          "X-HMAC-SIGNATURE": signature(SANDBOX_SHARED_SECRET, APPROVED_SID.encode() + b"\n")},
         1818),
    ],
)
def test_simulator_authenticates_exactly(
    sandbox: Sandbox, sim: VeriffSimulator, headers: dict[str, str], code: int
) -> None:
    sim.reset()
    status, body = _raw_call(sandbox, headers)
    assert status == 401
    assert body["status"] == "fail" and body["code"] == code and body["message"]
    good = {"X-AUTH-CLIENT": SANDBOX_API_KEY,
            "X-HMAC-SIGNATURE": signature(SANDBOX_SHARED_SECRET, APPROVED_SID)}
    assert _raw_call(sandbox, good) == (200, {"status": "success", "verification": None})


# -- reports ---------------------------------------------------------------------------------


def test_decision_report_and_details(answer: Any) -> None:
    report = answer(SimResponse.json(200, OK_BODY))
    assert report.provider == "veriff"
    assert report.state is KYCState.ACTION_REQUIRED
    assert report.raw_status == "resubmission_requested/9103"
    assert report.subject == SID
    assert report.details == VeriffDetails(
        decided=True,
        status="resubmission_requested",
        code=9103,
        reason="Video and/or photos missing",
        reason_code=201,
        attempt_id="f5c6c2a4-3b7e-4e0f-8a8d-6f1e2d3c4b5a",
        acceptance_time="2024-01-01T10:00:00.000Z",
        decision_time="2024-01-01T10:05:00.000Z",
    )
    shown = repr(report.details)
    for personal in ("JANE", "DOE", "1990", "X1234567", "user-1234", SID):
        assert personal not in shown
    back = report_from_dict(json.loads(json.dumps(report_to_dict(report))),
                            details_type=VeriffDetails)
    assert back == report


def test_no_decision_yet_is_a_report(answer: Any) -> None:
    report = answer(SimResponse.json(200, {"status": "success", "verification": None}))
    assert report.state is KYCState.IN_PROGRESS
    assert not report.final
    assert report.raw_status == "null"
    assert report.details == VeriffDetails(decided=False)


@pytest.mark.parametrize(
    ("status", "code", "state"),
    [
        ("approved", 9001, KYCState.APPROVED),
        ("declined", 9102, KYCState.REJECTED),
        ("expired", 9104, KYCState.EXPIRED),
        ("abandoned", 9104, KYCState.ABANDONED),
        ("review", 9121, KYCState.IN_REVIEW),
        ("on_hold", 9999, KYCState.UNKNOWN),
    ],
)
def test_code_9104_decided_by_the_word(
    answer: Any, status: str, code: int, state: KYCState
) -> None:
    body = {"status": "success", "verification": {"status": status, "code": code}}
    report = answer(SimResponse.json(200, body))
    assert report.state is state
    assert report.raw_status == f"{status}/{code}"
    assert report.details.code == code


def test_extra_and_missing_fields_are_fine(answer: Any) -> None:
    body = {"status": "success", "verification": {"status": "approved", "new": [1]},
            "technicalData": {"ip": "203.0.113.1"}}
    report = answer(SimResponse.json(200, body, content_type="application/json; charset=utf-8"))
    assert report.state is KYCState.APPROVED
    assert report.raw_status == "approved"
    assert report.details == VeriffDetails(decided=True, status="approved")


MALFORMED_200 = {
    "status fail": SimResponse.json(200, {"status": "fail", "verification": None}),
    "no verification": SimResponse.json(200, {"status": "success"}),
    "verification list": SimResponse.json(200, {"status": "success", "verification": []}),
    "verification string": SimResponse.json(200, {"status": "success",
                                                  "verification": "approved"}),
    "array": SimResponse.json(200, [OK_BODY]),
    "null": SimResponse.json(200, None),
    "code string": SimResponse.json(200, {"status": "success",
                                          "verification": {"status": "approved", "code": "9001"}}),
    "code bool": SimResponse.json(200, {"status": "success",
                                        "verification": {"status": "approved", "code": True}}),
    "status number": SimResponse.json(200, {"status": "success",
                                            "verification": {"status": 9001}}),
    "text/plain": SimResponse(200, json.dumps(OK_BODY).encode(), content_type="text/plain"),
    "html": SimResponse(200, b"<html>Veriff</html>", content_type="text/html"),
    "empty": SimResponse(200, b""),
    "invalid json": SimResponse(200, b'{"status": success}'),
}


@pytest.mark.parametrize("name", sorted(MALFORMED_200))
def test_malformed_success_answers(answer: Any, name: str) -> None:
    with pytest.raises(MalformedResponse) as info:
        answer(MALFORMED_200[name])
    assert info.value.http_status == 200
    assert info.value.provider == "veriff"
    assert SID not in str(info.value)  # the echoed id is masked


# -- errors ----------------------------------------------------------------------------------


def fail(code: Any, message: str) -> dict[str, Any]:
    return {"status": "fail", "code": code, "message": message}


HTML = b"<html><head><title>Error</title></head><body>nginx</body></html>"

ERROR_CASES: list[tuple[str, SimResponse, type[KYCBridgeError], str | None, str | None]] = [
    ("400", SimResponse.json(400, fail(1102, "Mandatory parameters are missing")),
     RequestRejected, "1102", "Mandatory parameters are missing"),
    ("400 auth code", SimResponse.json(400, fail("1812", "Signature is not a valid SHA256")),
     AuthenticationError, "1812", "Signature is not a valid SHA256"),
    ("401 1801", SimResponse.json(401, fail(1801, "X-AUTH-CLIENT missing")),
     AuthenticationError, "1801", "X-AUTH-CLIENT missing"),
    ("401 1803", SimResponse.json(401, fail(1803, "Integration not found")),
     AuthenticationError, "1803", "Integration not found"),
    ("401 1818 as text", SimResponse.json(401, fail("1818", "Signature does not match")),
     AuthenticationError, "1818", "Signature does not match"),
    ("401 1819", SimResponse.json(401, fail(1819, "Does not match the body")),
     AuthenticationError, "1819", "Does not match the body"),
    ("401 fail only", SimResponse.json(401, {"status": "fail"}),
     AuthenticationError, None, None),
    ("404", SimResponse.json(404, {"status": "fail", "message": "Session not found"}),
     SubjectNotFound, None, "Session not found"),
    ("404 odd types", SimResponse.json(404, {"status": "fail", "code": [1], "message": 3}),
     SubjectNotFound, None, None),
    ("409", SimResponse.json(409, fail(1104, "Conflict")), RequestRejected, "1104", "Conflict"),
    ("429 text", SimResponse(429, b"slow down", content_type="text/plain",
                             headers={"Retry-After": "1"}), RateLimited, None, None),
    ("500", SimResponse.json(500, fail(1001, "Something went wrong")),
     ProviderUnavailable, "1001", "Something went wrong"),
    ("502 HTML", SimResponse(502, HTML, content_type="text/html"),
     ProviderUnavailable, None, None),
    ("404 HTML", SimResponse(404, HTML, content_type="text/html"), MalformedResponse, None, None),
    ("404 sandbox body", SimResponse.json(404, {"error": "no simulator at /v1"}),
     MalformedResponse, None, None),
    ("401 success body", SimResponse.json(401, {"status": "success"}),
     MalformedResponse, None, None),
    ("302", SimResponse(302, b"", content_type="", headers={"Location": "https://x.test/"}),
     MalformedResponse, None, None),
]


@pytest.mark.parametrize(
    ("answer_", "cls", "code", "message"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_error_mapping(
    answer: Any, answer_: SimResponse, cls: type[KYCBridgeError], code: str | None,
    message: str | None,
) -> None:
    with pytest.raises(KYCBridgeError) as info:
        answer(answer_)
    error = info.value
    assert type(error) is cls
    assert error.provider == "veriff"
    assert error.http_status == answer_.status
    assert error.provider_code == code
    assert error.provider_message == message


def test_404_page_echoing_the_session_id_is_masked(answer: Any) -> None:
    page = f"<html>Cannot GET /v1/sessions/{SID}/decision</html>".encode()
    with pytest.raises(MalformedResponse) as info:
        answer(SimResponse(404, page, content_type="text/html"))
    assert SID not in str(info.value) and "check base_url" in str(info.value)


# -- secrets and the subject never in logs or errors ----------------------------------------


def test_secrets_and_session_id_not_logged(
    sandbox: Sandbox, sim: VeriffSimulator, replay: Replay, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hidden = [SANDBOX_API_KEY, SANDBOX_SHARED_SECRET,
              signature(SANDBOX_SHARED_SECRET, APPROVED_SID), APPROVED_SID]
    errors: list[KYCBridgeError] = []
    with _sim_bridge(sandbox, sim) as bridge:
        bridge.status("veriff", session_id=APPROVED_SID)
    with _sim_bridge(sandbox, sim, shared_secret="wrong-secret-value") as bridge:
        with pytest.raises(AuthenticationError) as info:
            bridge.status("veriff", session_id=APPROVED_SID)
        errors.append(info.value)
    # an error page echoing every secret and the id
    replay.reset()
    echo = " ".join(hidden)
    replay.push(SimResponse.json(400, fail(1102, echo)), SimResponse(500, echo.encode(),
                                                                      content_type="text/plain"))
    with _bridge(sandbox.url("replay")) as bridge:
        for _ in range(2):
            with pytest.raises(KYCBridgeError) as info:
                bridge.status("veriff", session_id=APPROVED_SID)
            errors.append(info.value)
    # and a connection failure, whose text comes from the HTTP library
    with _bridge("http://127.0.0.1:9") as bridge:
        with pytest.raises(ProviderUnavailable) as info:
            bridge.status("veriff", session_id=APPROVED_SID)
        errors.append(info.value)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert any(r.levelno == logging.DEBUG and "/v1/sessions/" in r.getMessage()
               for r in caplog.records)  # the requests were logged at DEBUG
    for value in hidden:
        assert value not in logged
        for error in errors:
            text = f"{error} {error!r} {json.dumps(error.to_dict())}"
            assert value not in text, (value, text)


# -- any JSON over loopback: a report or a typed error --------------------------------------


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    status=st.sampled_from([200, 200, 200, 201, 400, 401, 404, 418, 500]),
    payload=st.one_of(
        json_values(),
        st.fixed_dictionaries(
            {"status": st.one_of(st.just("success"), json_values())},
            optional={"verification": st.one_of(
                st.none(),
                st.fixed_dictionaries({}, optional={
                    "status": st.one_of(st.sampled_from(
                        ["approved", "declined", "expired", "abandoned", "review"]),
                        json_values()),
                    "code": st.one_of(st.sampled_from([9001, 9104, 9121]), json_values()),
                    "reasonCode": json_values(),
                    "decisionTime": json_values(),
                }),
                json_values(),
            ), "code": json_values(), "message": json_values()},
        ),
    ),
)
def test_any_json_gives_a_report_or_a_typed_error(
    answer: Any, status: int, payload: Any
) -> None:
    try:
        report = answer(SimResponse.json(status, payload))
    except KYCBridgeError as error:
        assert error.provider == "veriff"
    else:
        assert isinstance(report.state, KYCState)
        assert report.details is None or isinstance(report.details, VeriffDetails)
