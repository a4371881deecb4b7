"""Sumsub over real loopback HTTP: the exact signed request, both lookups, errors, auth,
the rate limit, personal data kept out of reports, and any JSON giving a report or a typed
error."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kycbridge
from kycbridge import (
    AuthenticationError,
    InvalidQuery,
    KYCBridgeError,
    KYCState,
    RateLimited,
    SubjectNotFound,
)
from kycbridge.provider import load_settings
from kycbridge.report import report_to_dict
from kycbridge.sandbox import Replay, Sandbox, SimRequest, SimResponse
from kycbridge.testing import fast_transport
from kycbridge.testing.strategies import json_values
from kycbridge_sumsub.details import SumsubDetails
from kycbridge_sumsub.provider import RATE_LIMIT, SumsubProvider
from kycbridge_sumsub.query import SumsubQuery
from kycbridge_sumsub.signing import signature
from kycbridge_sumsub.simulator import (
    GREEN,
    RETRY,
    SANDBOX_APP_TOKEN,
    SANDBOX_SECRET_KEY,
    WINDOW,
    WINDOW_LIMIT,
    SumsubSimulator,
    applicant,
    applicant_id,
)

PROVIDER = SumsubProvider()
TRANSPORT = fast_transport(retries=0)
SECRETS = {"app_token": SANDBOX_APP_TOKEN, "secret_key": SANDBOX_SECRET_KEY}
PERSONAL = ("SANDBOX", "PERSON", "1990-01-01", "sandbox.person@example.com", "+49 30")


@pytest.fixture(scope="module")
def sim_sandbox() -> Iterator[tuple[SumsubSimulator, Sandbox]]:
    sim = SumsubSimulator(rate_limit=None)
    with Sandbox([sim]) as sandbox:
        yield sim, sandbox


@pytest.fixture
def sim(sim_sandbox: tuple[SumsubSimulator, Sandbox]) -> tuple[SumsubSimulator, Sandbox]:
    sim_sandbox[0].reset()
    return sim_sandbox


@pytest.fixture(scope="module")
def replay_sandbox() -> Iterator[tuple[Replay, Sandbox]]:
    replay = Replay("sumsub")
    with Sandbox([replay]) as sandbox:
        yield replay, sandbox


@pytest.fixture
def replay(replay_sandbox: tuple[Replay, Sandbox]) -> tuple[Replay, Sandbox]:
    replay_sandbox[0].reset()
    return replay_sandbox


def fetch(sandbox: Sandbox, fields: dict[str, str], provider: SumsubProvider = PROVIDER,
          **overrides: str) -> kycbridge.StatusReport:
    values = {**SECRETS, "base_url": sandbox.url("sumsub"), **overrides}
    return provider.fetch(SumsubQuery(**fields), load_settings(provider, values, env={}),
                          TRANSPORT)


def expected_sig(request: SimRequest) -> str:
    message = (request.headers["x-app-access-ts"] + request.method + request.target).encode()
    return hmac.new(SANDBOX_SECRET_KEY.encode(), message + request.body,
                    hashlib.sha256).hexdigest()


# -- the exact request -------------------------------------------------------------------------


def test_the_exact_request_by_applicant_id(replay: tuple[Replay, Sandbox]) -> None:
    sim, sandbox = replay
    aid = "5b594ade0a975a36c9349e66"
    sim.push(SimResponse.json(200, applicant(GREEN, aid, "ext-1")))
    report = fetch(sandbox, {"applicant_id": aid})
    assert report.state is KYCState.APPROVED and report.raw_status == "completed/GREEN"
    (request,) = sim.received
    assert request.method == "GET" and request.body == b""
    assert request.raw_path == f"/sumsub/resources/applicants/{aid}/one"
    assert request.raw_query == ""
    headers = request.headers
    assert headers["x-app-token"] == SANDBOX_APP_TOKEN
    ts = headers["x-app-access-ts"]
    assert ts.isdigit() and len(ts) == 10
    sig = headers["x-app-access-sig"]
    assert sig == expected_sig(request) and sig == sig.lower() and len(sig) == 64
    assert SANDBOX_SECRET_KEY not in json.dumps(dict(headers))  # never sent


def test_the_exact_request_by_external_user_id(replay: tuple[Replay, Sandbox]) -> None:
    sim, sandbox = replay
    external = "jane+1/é;x=y?z#w"
    sim.push(SimResponse.json(200, applicant(RETRY, applicant_id(1), external)))
    report = fetch(sandbox, {"external_user_id": external})
    assert report.state is KYCState.ACTION_REQUIRED
    assert report.raw_status == "completed/RED/RETRY"
    (request,) = sim.received
    encoded = quote(external, safe="")
    # the literal "-;externalUserId=" stays as it is; only the id is encoded
    assert request.raw_path == f"/sumsub/resources/applicants/-;externalUserId={encoded}/one"
    assert request.raw_query == ""
    assert request.headers["x-app-access-sig"] == expected_sig(request)


def test_both_lookups_reach_the_same_applicant(sim: tuple[SumsubSimulator, Sandbox]) -> None:
    simulator, sandbox = sim
    seen = [
        fetch(sandbox, {"external_user_id": "sandbox-approved"}).raw_status,
        fetch(sandbox, {"applicant_id": applicant_id(1)}).raw_status,
        fetch(sandbox, {"external_user_id": "sandbox-approved"}).raw_status,
        fetch(sandbox, {"applicant_id": applicant_id(1)}).raw_status,
    ]
    assert seen == ["init", "pending", "queued", "completed/GREEN"]
    assert simulator.calls("sandbox-approved") == simulator.calls(applicant_id(1)) == 4


def test_resubmission_loop(sim: tuple[SumsubSimulator, Sandbox]) -> None:
    _, sandbox = sim
    reports = [fetch(sandbox, {"external_user_id": "sandbox-resubmission"}) for _ in range(5)]
    assert [r.state for r in reports] == [
        KYCState.SUBMITTED, KYCState.ACTION_REQUIRED, KYCState.ACTION_REQUIRED,
        KYCState.SUBMITTED, KYCState.APPROVED,
    ]
    retry = reports[1].details
    assert isinstance(retry, SumsubDetails)
    assert retry.reject_type == "RETRY" and retry.reject_labels == (
        "BAD_PROOF_OF_IDENTITY", "SELFIE_MISMATCH")
    assert retry.moderation_comment and "blurry" in retry.moderation_comment
    assert [r.details.attempt_count for r in reports] == [1, 1, 1, 2, 2]


def test_a_stale_result_on_pending_is_ignored(sim: tuple[SumsubSimulator, Sandbox]) -> None:
    _, sandbox = sim
    fetch(sandbox, {"external_user_id": "sandbox-stale-result"})
    report = fetch(sandbox, {"external_user_id": "sandbox-stale-result"})
    assert report.state is KYCState.SUBMITTED and report.raw_status == "pending"
    assert report.details.review_answer is None and report.details.reject_type is None
    assert report.raw["review"]["reviewResult"]["reviewAnswer"] == "RED"  # kept, not read


# -- personal data ------------------------------------------------------------------------------


def test_no_personal_field_reaches_the_report(sim: tuple[SumsubSimulator, Sandbox]) -> None:
    _, sandbox = sim
    for _ in range(3):
        report = fetch(sandbox, {"external_user_id": "sandbox-rejected"})
    assert report.state is KYCState.REJECTED
    data = report_to_dict(report)
    assert data.pop("subject") == "sandbox-rejected"  # the report's own subject, by design
    text = json.dumps(data) + repr(report)
    for value in (*PERSONAL, "sandbox-rejected", applicant_id(2)):  # not even Sumsub's id
        assert value not in text
    assert set(report.raw) == {"createdAt", "type", "review"}
    assert "clientComment" not in json.dumps(report.raw)  # internal, not kept
    assert report.raw["review"]["reviewResult"]["reviewRejectType"] == "FINAL"


# -- authentication -----------------------------------------------------------------------------


def test_wrong_secret_key_is_an_invalid_signature(sim: tuple[SumsubSimulator, Sandbox]) -> None:
    _, sandbox = sim
    with pytest.raises(AuthenticationError) as info:
        fetch(sandbox, {"external_user_id": "sandbox-approved"}, secret_key="not-the-key")
    error = info.value
    assert error.http_status == 401 and error.provider_message == "Invalid signature"
    assert error.request_id is not None and error.request_id.startswith("req-")
    assert "not-the-key" not in json.dumps(error.to_dict())


def test_wrong_app_token(sim: tuple[SumsubSimulator, Sandbox]) -> None:
    _, sandbox = sim
    for token in ("sbx:some-other-token", "prd:" + SANDBOX_APP_TOKEN[4:]):
        with pytest.raises(AuthenticationError) as info:
            fetch(sandbox, {"external_user_id": "sandbox-approved"}, app_token=token)
        assert info.value.http_status == 401
        assert token not in str(info.value) and token not in repr(info.value.to_dict())


class SkewedProvider(SumsubProvider):
    """Signs with a clock ``skew`` seconds off."""

    def __init__(self, skew: float) -> None:
        self.skew = skew

    def now(self) -> float:
        return super().now() + self.skew


@pytest.mark.parametrize(("skew", "ok"), [(-30, True), (30, True), (-120, False), (120, False)])
def test_timestamp_tolerance(sim: tuple[SumsubSimulator, Sandbox], skew: float, ok: bool) -> None:
    _, sandbox = sim
    provider = SkewedProvider(skew)
    if ok:
        assert fetch(sandbox, {"external_user_id": "sandbox-pending"}, provider).state is (
            KYCState.SUBMITTED)
        return
    with pytest.raises(AuthenticationError) as info:
        fetch(sandbox, {"external_user_id": "sandbox-pending"}, provider)
    assert info.value.provider_message == "Invalid signature"


def test_missing_credentials_send_nothing(replay: tuple[Replay, Sandbox]) -> None:
    sim, sandbox = replay
    for missing in ("app_token", "secret_key"):
        values = {**SECRETS, "base_url": sandbox.url("sumsub"), missing: None}
        with pytest.raises(InvalidQuery) as info:
            PROVIDER.fetch(SumsubQuery(applicant_id="abc123"),
                           load_settings(PROVIDER, values, env={}), TRANSPORT)
        assert missing in str(info.value)
    assert sim.received == []


def test_settings_validate_the_token_prefix_and_read_env() -> None:
    with pytest.raises(InvalidQuery) as info:
        load_settings(PROVIDER, {"app_token": "tok-without-prefix"}, env={})
    assert "sbx:" in str(info.value) and "tok-without-prefix" not in str(info.value)
    env = {"KYCBRIDGE_SUMSUB_APP_TOKEN": "prd:abc", "KYCBRIDGE_SUMSUB_SECRET_KEY": "k3y"}
    loaded = load_settings(PROVIDER, {}, env=env)
    assert loaded.app_token == "prd:abc" and loaded.secret_key == "k3y"
    assert loaded.sandbox is False and "prd:abc" not in repr(loaded) and "k3y" not in repr(loaded)
    with pytest.raises(InvalidQuery):
        load_settings(PROVIDER, {"base_url": "http://api.sumsub.com"}, env={})


# -- errors -------------------------------------------------------------------------------------


def test_not_found_by_either_lookup(sim: tuple[SumsubSimulator, Sandbox]) -> None:
    _, sandbox = sim
    for fields in ({"external_user_id": "jane@example.com"}, {"applicant_id": "ffffff0000"}):
        with pytest.raises(SubjectNotFound) as info:
            fetch(sandbox, fields)
        text = json.dumps(info.value.to_dict()) + str(info.value)
        assert "jane@example.com" not in text and "ffffff0000" not in text
        assert info.value.request_id and info.value.request_id.startswith("req-")


def test_error_body_fields(replay: tuple[Replay, Sandbox]) -> None:
    sim, sandbox = replay
    sim.push(SimResponse.json(400, {"description": "Bad thing", "code": 400,
                                    "correlationId": "req-abc", "errorCode": 1003,
                                    "errorName": "some-error"}))
    with pytest.raises(kycbridge.RequestRejected) as info:
        fetch(sandbox, {"applicant_id": "abc123"})
    error = info.value
    assert (error.provider_code, error.provider_message, error.request_id) == (
        "some-error", "Bad thing", "req-abc")


def test_a_body_that_is_not_sumsubs_says_check_base_url(replay: tuple[Replay, Sandbox]) -> None:
    sim, sandbox = replay
    sim.push(SimResponse.json(404, {"error": "no simulator"}))
    with pytest.raises(kycbridge.MalformedResponse) as info:
        fetch(sandbox, {"applicant_id": "abc123"})
    assert "base_url" in str(info.value)


# -- the rate limit -----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def signed(clock: Clock, path: str = "/resources/applicants/-;externalUserId=sandbox-init/one"
           ) -> SimRequest:
    ts = str(int(clock()))
    raw_path = "/sumsub" + path
    headers = {"x-app-token": SANDBOX_APP_TOKEN, "x-app-access-ts": ts,
               "x-app-access-sig": signature(SANDBOX_SECRET_KEY, ts, "GET", raw_path, b"")}
    return SimRequest("GET", path, {}, headers, raw_path=raw_path)


def test_provider_declares_sixty_per_second() -> None:
    assert RATE_LIMIT == WINDOW_LIMIT / WINDOW == 60.0
    assert SumsubProvider.rate_limit == 60.0


def test_sliding_window_of_300_per_5_s() -> None:
    clock = Clock()
    sim = SumsubSimulator(clock=clock)
    assert {sim.handle(signed(clock)).status for _ in range(WINDOW_LIMIT)} == {200}
    clock.now += 2.0
    over = sim.handle(signed(clock))
    assert over.status == 429 and over.headers["Retry-After"] == "3"
    body = json.loads(over.body)
    assert body["code"] == 429 and body["correlationId"].startswith("req-")
    clock.now += 3.0  # the first 300 leave the window
    assert sim.handle(signed(clock)).status == 200
    assert sim.answered == {200: 301, 429: 1}


def test_unauthenticated_requests_are_not_counted() -> None:
    clock = Clock()
    sim = SumsubSimulator(clock=clock, rate_limit=2)
    stale = signed(clock)
    clock.now += 61
    assert sim.handle(stale).status == 401
    assert [sim.handle(signed(clock)).status for _ in range(3)] == [200, 200, 429]
    sim.reset()
    assert sim.handle(signed(clock)).status == 200
    with pytest.raises(ValueError):
        SumsubSimulator(rate_limit=0)


def test_over_loopback_the_429_is_rate_limited() -> None:
    clock = Clock()
    sim = SumsubSimulator(rate_limit=2, clock=clock)

    class Clocked(SumsubProvider):
        rate_limit = None  # the simulator's window is the point here

        def now(self) -> float:
            return clock()

    with Sandbox([sim]) as sandbox:
        fetch(sandbox, {"external_user_id": "sandbox-init"}, Clocked())
        clock.now += 1.5
        fetch(sandbox, {"external_user_id": "sandbox-init"}, Clocked())
        clock.now += 1.0
        with pytest.raises(RateLimited) as info:
            fetch(sandbox, {"external_user_id": "sandbox-init"}, Clocked())
    assert info.value.http_status == 429 and info.value.retry_after == 3.0


# -- subjects and secrets out of logs -----------------------------------------------------------


def test_debug_logs_hide_subjects_and_secrets(
    sim: tuple[SumsubSimulator, Sandbox], caplog: pytest.LogCaptureFixture
) -> None:
    _, sandbox = sim
    caplog.set_level(logging.DEBUG)
    fetch(sandbox, {"external_user_id": "sandbox-approved"})
    fetch(sandbox, {"applicant_id": applicant_id(2)})
    with pytest.raises(SubjectNotFound):
        fetch(sandbox, {"external_user_id": "jane.doe@example.com"})
    lines = "\n".join(r.getMessage() for r in caplog.records)
    assert "applicants" in lines  # something was logged
    for value in ("sandbox-approved", applicant_id(2), "jane.doe@example.com",
                  quote("jane.doe@example.com", safe=""), SANDBOX_APP_TOKEN,
                  SANDBOX_SECRET_KEY):
        assert value not in lines


# -- any JSON: a report or a typed error --------------------------------------------------------

_WORDS = st.sampled_from(["init", "pending", "queued", "prechecked", "onHold", "awaitingUser",
                          "awaitingService", "completed", "GREEN", "RED", "RETRY", "FINAL"])
_VALUES = st.one_of(_WORDS, json_values())
_REVIEWS = st.fixed_dictionaries(
    {},
    optional={
        "reviewStatus": _VALUES,
        "attemptCnt": _VALUES,
        "levelName": _VALUES,
        "reviewResult": st.one_of(
            _VALUES,
            st.fixed_dictionaries({}, optional={"reviewAnswer": _VALUES,
                                                "reviewRejectType": _VALUES,
                                                "rejectLabels": _VALUES,
                                                "moderationComment": _VALUES}),
        ),
    },
)
_PAYLOADS = st.one_of(
    json_values(),
    st.fixed_dictionaries({"id": _VALUES}, optional={"review": st.one_of(_REVIEWS, _VALUES),
                                                     "type": _VALUES, "email": _VALUES}),
)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(payload=_PAYLOADS, status=st.sampled_from([200, 200, 200, 400, 401, 404, 429, 500]))
def test_any_json_gives_a_report_or_a_typed_error(
    replay: tuple[Replay, Sandbox], payload: object, status: int
) -> None:
    sim, sandbox = replay
    sim.reset()
    sim.push(SimResponse(status, json.dumps(payload).encode()))
    try:
        report = fetch(sandbox, {"applicant_id": "abc123"})
    except KYCBridgeError:
        return
    assert isinstance(report.state, KYCState)
    assert report.state is PROVIDER.normalize(payload)
    assert PROVIDER.normalize(report.raw_status) is report.state  # raw_status re-normalizes
    assert "email" not in (report.raw or {})


def test_a_long_retry_after_is_capped_at_the_window_on_the_error(
    sim: tuple[SumsubSimulator, Sandbox],
) -> None:
    _, sandbox = sim
    with pytest.raises(RateLimited) as info:  # retries=0: the 429 itself
        fetch(sandbox, {"external_user_id": "sandbox-rate-limited-long"})
    assert info.value.retry_after == WINDOW == 5.0
    report = fetch(sandbox, {"external_user_id": "sandbox-rate-limited-long"})
    assert report.state is KYCState.APPROVED
