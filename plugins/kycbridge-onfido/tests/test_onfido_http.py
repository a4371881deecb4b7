"""Onfido over real HTTP on loopback: the exact request, authentication, answers, errors,
and what never leaves a report, an error or a log line (the token, the sdk_token, the
customer_user_id, the run id)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import urllib3

import kycbridge
import kycbridge_onfido
from kycbridge import KYCBridgeError, KYCState
from kycbridge.report import report_to_dict
from kycbridge.sandbox import Replay, Sandbox, SimResponse
from kycbridge.testing import fast_transport
from kycbridge_onfido.provider import OnfidoProvider
from kycbridge_onfido.simulator import SANDBOX_API_TOKEN, OnfidoSimulator, Step, workflow_run

S = KYCState
RUN_ID = "f1a3c5e7-0000-4000-8000-1234567890ab"


@pytest.fixture(autouse=True)
def _no_client_limiter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(OnfidoProvider, "rate_limit", None)


@pytest.fixture(scope="module")
def sim_sandbox() -> Iterator[tuple[OnfidoSimulator, Sandbox]]:
    sim = OnfidoSimulator(rate_limit=None)
    with Sandbox([sim]) as sandbox:
        yield sim, sandbox


@pytest.fixture
def sandbox(sim_sandbox: tuple[OnfidoSimulator, Sandbox]) -> Sandbox:
    sim_sandbox[0].reset()
    return sim_sandbox[1]


def bridge(sandbox: Sandbox, **settings: str) -> kycbridge.Bridge:
    merged = {**sandbox.settings()["onfido"], **settings}
    return kycbridge.Bridge([kycbridge_onfido], settings={"onfido": merged}, env={},
                            transport=fast_transport(read_timeout=3.0))


def states(sandbox: Sandbox, run_id: str, calls: int) -> list[tuple[KYCState, str | None]]:
    with bridge(sandbox) as b:
        return [(r.state, r.raw_status) for r in
                (b.status("onfido", workflow_run_id=run_id) for _ in range(calls))]


def test_transitions_as_scripted(sandbox: Sandbox) -> None:
    assert states(sandbox, "wfr-approved", 5) == [
        (S.ACTION_REQUIRED, "awaiting_input"), (S.IN_PROGRESS, "processing"),
        (S.IN_REVIEW, "review"), (S.APPROVED, "approved"), (S.APPROVED, "approved")]
    assert states(sandbox, "wfr-declined", 3) == [
        (S.ACTION_REQUIRED, "awaiting_input"), (S.IN_PROGRESS, "processing"),
        (S.REJECTED, "declined")]
    assert [s for s, _ in states(sandbox, "wfr-more-input", 5)] == [
        S.ACTION_REQUIRED, S.IN_PROGRESS, S.ACTION_REQUIRED, S.IN_PROGRESS, S.APPROVED]
    assert states(sandbox, "wfr-client-input", 3)[-1] == (S.IN_REVIEW, "awaiting_client_input")


def test_error_status_keeps_its_error_object(sandbox: Sandbox) -> None:
    with bridge(sandbox) as b:
        b.status("onfido", workflow_run_id="wfr-error")
        report = b.status("onfido", workflow_run_id="wfr-error")
    assert (report.state, report.raw_status, report.final) == (S.UNKNOWN, "error", False)
    assert report.details.error_type == "task_failed"
    assert report.details.error_message == "A task in the workflow failed to complete"
    declined = states(sandbox, "wfr-declined", 3)
    assert declined[-1][0] is S.REJECTED


def test_sdk_token_and_customer_user_id_never_kept(sandbox: Sandbox) -> None:
    full = workflow_run("wfr-instant-approved", Step("approved"))
    hidden = [full["sdk_token"], full["customer_user_id"]]
    with bridge(sandbox) as b:
        report = b.status("onfido", workflow_run_id="wfr-instant-approved")
        try:
            b.status("onfido", workflow_run_id="wfr-fault-wrong-content-type")
        except KYCBridgeError as exc:
            error = exc
    assert report.raw["sdk_token"] == "***" and report.raw["customer_user_id"] == "***"
    assert report.raw["status"] == "approved"
    shown = json.dumps(report_to_dict(report)) + repr(report)
    error_text = " ".join([str(error), repr(error), json.dumps(error.to_dict())])
    for value in hidden:
        assert value not in shown
        assert value not in error_text


def test_request_is_exactly_onfidos() -> None:
    replay = Replay("onfido", [SimResponse.json(200, workflow_run(RUN_ID, Step("review")))],
                    settings={"api_token": SANDBOX_API_TOKEN})
    odd = "run:42;v=1%/?"[:-2]  # "run:42;v=1%": kept in one segment, encoded
    with Sandbox([replay]) as sandbox:
        with bridge(sandbox, base_url=sandbox.url("onfido") + "/v3.6") as b:
            report = b.status("onfido", workflow_run_id=RUN_ID)
            b.status("onfido", workflow_run_id=odd)
    assert report.state is S.IN_REVIEW and report.subject == RUN_ID
    first, second = replay.received
    assert first.method == "GET" and first.body == b""
    assert first.raw_path == f"/onfido/v3.6/workflow_runs/{RUN_ID}" and first.raw_query == ""
    assert first.headers["authorization"] == f"Token token={SANDBOX_API_TOKEN}"
    assert first.headers["accept"] == "application/json"
    assert second.raw_path == "/onfido/v3.6/workflow_runs/" + quote(odd, safe="")
    assert second.segments() == ["v3.6", "workflow_runs", odd]


def test_sandbox_serves_with_or_without_version_prefix(sandbox: Sandbox) -> None:
    with bridge(sandbox, base_url=sandbox.url("onfido") + "/v3.6") as b:
        assert b.status("onfido", workflow_run_id="wfr-instant-approved").state is S.APPROVED


@pytest.mark.parametrize(
    "header",
    [None, f"Bearer {SANDBOX_API_TOKEN}", SANDBOX_API_TOKEN, f"token token={SANDBOX_API_TOKEN}",
     f"Token token={SANDBOX_API_TOKEN}x", f"Token token={SANDBOX_API_TOKEN} ",
     f"Token  token={SANDBOX_API_TOKEN}", "Token token=api_sandbox.other"],
)
def test_simulator_authenticates_exactly(sandbox: Sandbox, header: str | None) -> None:
    http = urllib3.PoolManager()
    url = sandbox.url("onfido") + "/workflow_runs/wfr-instant-approved"
    headers = {} if header is None else {"Authorization": header}
    answer = http.request("GET", url, headers=headers, retries=False)
    assert answer.status == 401
    assert answer.headers["Content-Type"] == "application/json"
    assert json.loads(answer.data)["error"]["type"] == "authorization_error"
    good = http.request("GET", url, retries=False,
                        headers={"Authorization": f"Token token={SANDBOX_API_TOKEN}"})
    assert good.status == 200 and json.loads(good.data)["status"] == "approved"
    http.clear()


def test_wrong_token_is_authentication_error(sandbox: Sandbox) -> None:
    with bridge(sandbox, api_token="api_live.wrong-token-123") as b:
        with pytest.raises(kycbridge.AuthenticationError) as info:
            b.status("onfido", workflow_run_id="wfr-approved")
    error = info.value
    assert error.http_status == 401 and error.provider_code == "authorization_error"
    assert "wrong-token-123" not in str(error) + repr(error) + json.dumps(error.to_dict())


def test_documented_errors(sandbox: Sandbox) -> None:
    with bridge(sandbox) as b:
        with pytest.raises(kycbridge.SubjectNotFound) as missing:
            b.status("onfido", workflow_run_id=RUN_ID)
        with pytest.raises(kycbridge.RequestRejected) as invalid:
            b.status("onfido", workflow_run_id="wfr-invalid-id")
    assert missing.value.provider_code == "resource_not_found"
    assert missing.value.http_status == 404
    assert invalid.value.provider_code == "validation_error"
    assert invalid.value.http_status == 422
    assert RUN_ID not in str(missing.value)


def test_base_url_without_prefix_says_check_base_url(sandbox: Sandbox) -> None:
    with bridge(sandbox, base_url=sandbox.base_url) as b:
        with pytest.raises(kycbridge.MalformedResponse) as info:
            b.status("onfido", workflow_run_id="wfr-approved")
    assert "check base_url" in str(info.value)


def test_region_default_url_is_onfidos() -> None:
    settings = kycbridge.Bridge([kycbridge_onfido], env={}).settings("onfido")
    request = OnfidoProvider().build_request(
        kycbridge_onfido.OnfidoQuery(RUN_ID),
        type(settings)(api_token="api_sandbox.x", region="us"),
    )
    assert request.full_url == f"https://api.us.onfido.com/v3.6/workflow_runs/{RUN_ID}"
    assert "workflow_run_id" in request.personal_params
    assert RUN_ID not in request.loggable_url() and RUN_ID not in repr(request)


FAULTS = ["wfr-fault-500", "wfr-fault-502", "wfr-fault-503", "wfr-fault-429", "wfr-fault-drop",
          "wfr-fault-drop-mid-body", "wfr-fault-html", "wfr-fault-truncated-json",
          "wfr-not-found", "wfr-invalid-id", "wfr-fault-wrong-types"]


def test_nothing_private_in_debug_logs_or_errors(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hidden = workflow_run("x", Step())["sdk_token"]
    errors: list[KYCBridgeError] = []
    with bridge(sandbox) as b:
        for run_id in ["wfr-approved", "wfr-error", *FAULTS]:
            try:
                b.status("onfido", workflow_run_id=run_id)
            except KYCBridgeError as exc:
                errors.append(exc)
    assert {e.kind for e in errors} >= {"unavailable", "rate_limited", "malformed_response",
                                       "not_found", "request_rejected"}
    records = list(caplog.records)
    assert {r.name for r in records} >= {"kycbridge.transport", "urllib3.connectionpool"}
    shown = [r.getMessage() for r in records]
    shown += [" ".join([str(e), repr(e), json.dumps(e.to_dict())]) for e in errors]
    for line in shown:
        assert SANDBOX_API_TOKEN not in line
        assert hidden not in line
        for run_id in ["wfr-approved", "wfr-error", *FAULTS]:
            assert run_id not in line, line
