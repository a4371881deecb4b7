"""Didit over real HTTP on loopback: the exact request, both answer shapes, errors, privacy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

import kycbridge
from kycbridge import (
    AuthenticationError,
    Bridge,
    InvalidQuery,
    KYCBridgeError,
    KYCState,
    MalformedResponse,
    SubjectNotFound,
)
from kycbridge.report import report_to_dict
from kycbridge.sandbox import Replay, Sandbox, SimResponse
from kycbridge.testing import fast_transport
from kycbridge_didit.details import DiditDetails, FeatureCheck
from kycbridge_didit.provider import DiditProvider
from kycbridge_didit.simulator import (
    NAMES,
    OTHER_APP_API_KEY,
    REVOKED_API_KEY,
    SANDBOX_API_KEY,
    DiditSimulator,
)

S = KYCState
PERSONAL = ("partner-user-", "Jane", "Sandbox", "1990-01-01", "X1234567", "jane.sandbox",
            "+34600000000", "acct-")


class UnlimitedDidit(DiditProvider):
    """Didit without its 1.67/s client limit (the simulator here enforces none either)."""

    rate_limit = None


class unlimited_didit:
    @staticmethod
    @kycbridge.hookimpl
    def register_providers(register: Any) -> None:
        register(UnlimitedDidit())


@pytest.fixture(scope="module")
def box() -> Iterator[tuple[DiditSimulator, Sandbox]]:
    sim = DiditSimulator(rate_limit=None)
    with Sandbox([sim]) as sandbox:
        yield sim, sandbox


@pytest.fixture
def sandbox(box: tuple[DiditSimulator, Sandbox]) -> Sandbox:
    box[1].reset()
    return box[1]


def bridge(sandbox: Sandbox, **settings: Any) -> Bridge:
    base = {**sandbox.settings()["didit"], **settings}
    return Bridge([unlimited_didit], settings={"didit": base}, env={},
                  transport=fast_transport(read_timeout=5.0))


def walk(b: Bridge, name: str, calls: int) -> list[tuple[KYCState, str | None]]:
    return [(r.state, r.raw_status) for r in
            (b.status("didit", session_id=NAMES[name]) for _ in range(calls))]


def test_v3_decision_read(sandbox: Sandbox) -> None:
    with bridge(sandbox) as b:
        for _ in range(3):
            b.status("didit", session_id=NAMES["approved"])
        report = b.status("didit", session_id=NAMES["approved"])
    assert report.state is S.APPROVED and report.raw_status == "Approved"
    assert report.subject == NAMES["approved"]
    details = report.details
    assert isinstance(details, DiditDetails)
    assert details.api_version == "v3" and details.session_id == NAMES["approved"]
    assert details.features == ("ID_VERIFICATION", "LIVENESS", "FACE_MATCH", "AML")
    assert details.checks == (
        FeatureCheck("id_verification", "Approved"), FeatureCheck("liveness", "Approved"),
        FeatureCheck("face_match", "Approved"), FeatureCheck("aml", "Approved"),
    )
    assert details.session_number == 1001 and details.workflow_id


def test_v2_decision_read(sandbox: Sandbox) -> None:
    with bridge(sandbox, api_version="v2") as b:
        seen = walk(b, "declined", 4)
        report = b.status("didit", session_id=NAMES["declined"])
    assert [s for s, _ in seen] == [S.NOT_STARTED, S.IN_PROGRESS, S.IN_REVIEW, S.REJECTED]
    assert report.details.api_version == "v2"
    assert FeatureCheck("id_verification", "Declined") in report.details.checks


def test_no_personal_data_kept(sandbox: Sandbox) -> None:
    for version in ("v3", "v2"):
        sandbox.reset()
        with bridge(sandbox, api_version=version) as b:
            reports = [b.status("didit", session_id=NAMES["approved"]) for _ in range(4)]
        for report in reports:
            text = json.dumps(report_to_dict(report)) + repr(report) + repr(report.details)
            for value in PERSONAL:
                assert value not in text, (version, value)
            assert "vendor_data" not in report.raw and "contact_details" not in report.raw


def test_checks_are_null_until_run(sandbox: Sandbox) -> None:
    with bridge(sandbox) as b:
        first = b.status("didit", session_id=NAMES["approved"])
    assert first.state is S.NOT_STARTED and first.details.checks == ()


def test_exact_request() -> None:
    replay = Replay("didit", [SimResponse.json(200, {"session_id": "x", "status": "In Review"})],
                    settings={"api_key": "k-123"})
    sid = "ABCDEF01-2345-4789-8BCD-EF0123456789"
    with Sandbox([replay]) as sandbox, Bridge(
        [unlimited_didit], settings=sandbox.settings(), env={}, transport=fast_transport()
    ) as b:
        assert b.status("didit", session_id=sid).state is S.IN_REVIEW
        b.status("didit", session_id=sid)
    with Sandbox([replay]) as sandbox, Bridge(
        [unlimited_didit], settings={"didit": {**sandbox.settings()["didit"],
                                               "api_version": " V2 "}},
        env={}, transport=fast_transport()
    ) as b:
        b.status("didit", session_id=sid)
    first, _, v2 = replay.received
    assert first.method == "GET"
    assert first.path == f"/v3/session/{sid}/decision/"
    assert v2.path == f"/v2/session/{sid}/decision/"
    assert first.headers["x-api-key"] == "k-123"
    assert first.query == {}


def test_trailing_slash_required(box: tuple[DiditSimulator, Sandbox]) -> None:
    _, sandbox = box
    http = urllib3.PoolManager()
    url = f"{sandbox.url('didit')}/v3/session/{NAMES['approved']}/decision"
    headers = {"x-api-key": SANDBOX_API_KEY}
    bare = http.request("GET", url, headers=headers, retries=False, redirect=False)
    assert bare.status == 404 and bare.headers["Content-Type"] == "text/html"
    ok = http.request("GET", url + "/", headers=headers, retries=False)
    assert ok.status == 200
    http.clear()
    # that HTML 404 read by the client: a wrong URL, not "no such session"
    error = DiditProvider().error_for(
        kycbridge.transport.Response(404, {"content-type": "text/html"}, bare.data))
    assert isinstance(error, MalformedResponse) and "check base_url" in error.message


def test_base_url_without_prefix_says_check_base_url(sandbox: Sandbox) -> None:
    with pytest.raises(MalformedResponse, match="check base_url"), \
            bridge(sandbox, base_url=sandbox.base_url) as b:
        b.status("didit", session_id=NAMES["approved"])


@pytest.mark.parametrize(
    ("key", "status", "message"),
    [
        ("wrong-key", 401, "Invalid API key."),
        (REVOKED_API_KEY, 401, "API key has been revoked"),
        (OTHER_APP_API_KEY, 403, "You do not have permission to perform this action."),
    ],
)
def test_auth_failures(sandbox: Sandbox, key: str, status: int, message: str) -> None:
    with pytest.raises(AuthenticationError) as info, bridge(sandbox, api_key=key) as b:
        b.status("didit", session_id=NAMES["approved"])
    error = info.value
    assert error.http_status == status and error.provider_message == message
    assert key not in str(error) and NAMES["approved"] not in str(error)


def test_key_is_compared_exactly(box: tuple[DiditSimulator, Sandbox]) -> None:
    _, sandbox = box
    http = urllib3.PoolManager()
    url = f"{sandbox.url('didit')}/v3/session/{NAMES['approved']}/decision/"
    # (whitespace around a header value is not part of it in HTTP: not tried)
    for key in (SANDBOX_API_KEY.upper(), SANDBOX_API_KEY + "x", SANDBOX_API_KEY[:-1], ""):
        answer = http.request("GET", url, headers={"x-api-key": key}, retries=False)
        assert answer.status == 401, repr(key)
    wrong_header = http.request("GET", url, headers={"authorization": SANDBOX_API_KEY},
                                retries=False)
    assert wrong_header.status == 401
    assert json.loads(wrong_header.data) == {
        "detail": "Authentication credentials were not provided."}
    http.clear()


def test_missing_key_is_refused_before_sending(sandbox: Sandbox) -> None:
    before = sandbox.requests.get("didit", 0)
    with pytest.raises(InvalidQuery, match="KYCBRIDGE_DIDIT_API_KEY"), \
            Bridge([unlimited_didit], settings={"didit": {"base_url": sandbox.url("didit")}},
                   env={}) as b:
        b.status("didit", session_id=NAMES["approved"])
    assert sandbox.requests.get("didit", 0) == before


@pytest.mark.parametrize("version", ["v1", "v4", "3", "latest", "v3/../v2"])
def test_api_version_other_than_v2_v3_is_invalid(sandbox: Sandbox, version: str) -> None:
    with pytest.raises(InvalidQuery, match="api_version"), bridge(sandbox,
                                                                  api_version=version) as b:
        b.status("didit", session_id=NAMES["approved"])


def test_not_found_and_no_access(sandbox: Sandbox) -> None:
    with bridge(sandbox) as b:
        with pytest.raises(SubjectNotFound) as info:
            b.status("didit", session_id="99999999-9999-4999-8999-999999999999")
        assert info.value.provider_message == "Not found."
        assert "999999" not in str(info.value).replace("999999…9999", "")


@pytest.mark.parametrize(
    ("status", "body", "kind", "message"),
    [
        (401, {"detail": "Invalid API key."}, AuthenticationError, "Invalid API key."),
        (401, {"error": "API key has been revoked"}, AuthenticationError,
         "API key has been revoked"),
        (403, {"error": {"message": "No access", "code": "forbidden"}}, AuthenticationError,
         "No access"),
        (404, {"detail": "Not found."}, SubjectNotFound, "Not found."),
        (404, {"message": "nope"}, MalformedResponse, None),
        (404, ["Not found."], MalformedResponse, None),
        (401, {"detail": ["a", "b"]}, MalformedResponse, None),
        (418, {"detail": "teapot"}, kycbridge.RequestRejected, "teapot"),
    ],
)
def test_error_bodies(status: int, body: Any, kind: type[KYCBridgeError],
                      message: str | None) -> None:
    replay = Replay("didit", [SimResponse.json(status, body)], settings={"api_key": "k-123"})
    with pytest.raises(kind) as info, Sandbox([replay]) as sandbox, Bridge(
        [unlimited_didit], settings=sandbox.settings(), env={}, transport=fast_transport()
    ) as b:
        b.status("didit", session_id=NAMES["approved"])
    assert info.value.provider_message == message
    if kind is MalformedResponse and status == 404:
        assert "check base_url" in info.value.message


def test_an_echoed_session_id_is_masked_in_errors() -> None:
    sid = NAMES["approved"]
    replay = Replay("didit", [SimResponse.json(404, {"detail": f"Session {sid} not found"})],
                    settings={"api_key": "k-123"})
    with pytest.raises(SubjectNotFound) as info, Sandbox([replay]) as sandbox, Bridge(
        [unlimited_didit], settings=sandbox.settings(), env={}, transport=fast_transport()
    ) as b:
        b.status("didit", session_id=sid)
    error = info.value
    for text in (str(error), repr(error), json.dumps(error.to_dict())):
        assert sid not in text
    assert "d1d170…0001" in str(error)


def test_awaiting_user_then_approved(sandbox: Sandbox) -> None:
    with bridge(sandbox) as b:
        seen = walk(b, "awaiting-user", 5)
    assert seen == [
        (S.NOT_STARTED, "Not Started"), (S.ACTION_REQUIRED, "Awaiting User"),
        (S.IN_PROGRESS, "In Progress"), (S.IN_REVIEW, "In Review"), (S.APPROVED, "Approved"),
    ]


def test_resubmitted_loop(sandbox: Sandbox) -> None:
    with bridge(sandbox) as b:
        states = [s for s, _ in walk(b, "resubmitted-loop", 10)]
    cycle = [S.IN_PROGRESS, S.IN_REVIEW, S.ACTION_REQUIRED]
    assert states == cycle + cycle + [S.IN_PROGRESS, S.IN_REVIEW, S.APPROVED, S.APPROVED]


def test_kyc_expired_both_casings(sandbox: Sandbox) -> None:
    with bridge(sandbox) as b:
        assert walk(b, "kyc-expired", 2)[-1] == (S.EXPIRED, "Kyc Expired")
        assert walk(b, "kyc-expired-caps", 2)[-1] == (S.EXPIRED, "KYC Expired")
