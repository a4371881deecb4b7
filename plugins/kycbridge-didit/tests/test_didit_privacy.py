"""The API key and the session id never appear in DEBUG logs or error text; any JSON over
loopback gives a report or a typed error."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kycbridge
from kycbridge import Bridge, KYCBridgeError, StatusReport
from kycbridge.redact import mask
from kycbridge.sandbox import Replay, Sandbox, SimRequest, SimResponse
from kycbridge.testing import fast_transport
from kycbridge.testing.strategies import json_values
from kycbridge_didit.provider import DiditProvider
from kycbridge_didit.simulator import FAULTS, NAMES, SANDBOX_API_KEY, DiditSimulator

API_KEY = "didit_live_0123456789abcdefSECRET"


class UnlimitedDidit(DiditProvider):
    rate_limit = None


class unlimited_didit:
    @staticmethod
    @kycbridge.hookimpl
    def register_providers(register: Any) -> None:
        register(UnlimitedDidit())


class KeyGate:
    """The simulator, accepting :data:`API_KEY` in place of the sandbox key."""

    name = "didit"
    settings: dict[str, str] = {}
    scenarios = ()

    def __init__(self) -> None:
        self.inner = DiditSimulator(rate_limit=None)

    def handle(self, request: SimRequest) -> SimResponse:
        headers = dict(request.headers)
        if headers.get("x-api-key") == API_KEY:
            headers["x-api-key"] = SANDBOX_API_KEY
        return self.inner.handle(SimRequest(request.method, request.path, request.query, headers))

    def reset(self) -> None:
        self.inner.reset()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox([KeyGate()]) as box:
        yield box


CASES = ["approved", "not-found", "other-application", "key-revoked", "fault-500",
         "fault-503", "fault-429", "fault-drop", "fault-drop-mid-body", "fault-html",
         "fault-wrong-types", "fault-invalid-json"]


@pytest.mark.parametrize("name", CASES)
def test_no_key_or_session_id_in_logs_or_errors(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    sandbox.reset()
    caplog.set_level(logging.DEBUG)
    sid = NAMES[name]
    settings = {"didit": {"base_url": sandbox.url("didit"), "api_key": API_KEY}}
    shown: list[str] = []
    with Bridge([unlimited_didit], settings=settings, env={},
                transport=fast_transport(read_timeout=0.5)) as b:
        try:
            report = b.status("didit", session_id=sid)
            shown += [repr(report), str(report)]
        except KYCBridgeError as exc:
            shown += [str(exc), repr(exc), repr(exc.to_dict())]
    for record in caplog.records:
        shown.append(record.getMessage())
    assert any(mask(sid) in text for text in shown) or name != "approved"
    for text in shown:
        assert API_KEY not in text
        assert sid not in text, text
        assert sid.upper() not in text


def test_logs_name_the_masked_session(sandbox: Sandbox,
                                      caplog: pytest.LogCaptureFixture) -> None:
    sandbox.reset()
    caplog.set_level(logging.DEBUG)
    settings = {"didit": {"base_url": sandbox.url("didit"), "api_key": API_KEY}}
    with Bridge([unlimited_didit], settings=settings, env={}, transport=fast_transport()) as b:
        b.status("didit", session_id=NAMES["approved"])
    transport_lines = [r.getMessage() for r in caplog.records if r.name == "kycbridge.transport"]
    assert transport_lines and all("/session/d1d170%E2%80%A60001/decision/" in line
                                   for line in transport_lines)


_REPLAY = Replay("didit", settings={"api_key": "k-123"})


@pytest.fixture(scope="module")
def replay_box() -> Iterator[Sandbox]:
    with Sandbox([_REPLAY]) as box:
        yield box


decisions = st.fixed_dictionaries(
    {},
    optional={
        "session_id": json_values(),
        "session_number": json_values(),
        "status": st.one_of(st.sampled_from(["Approved", "KYC Expired", "x"]), json_values()),
        "features": json_values(),
        "id_verifications": json_values(),
        "liveness_checks": st.lists(st.dictionaries(st.sampled_from(["status", "x"]),
                                                    json_values(max_leaves=3))),
        "vendor_data": json_values(),
    },
)


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.one_of(decisions, json_values()),
       status=st.sampled_from([200, 200, 404, 401, 429, 500]))
def test_any_json_gives_a_report_or_a_typed_error(
    replay_box: Sandbox, payload: Any, status: int
) -> None:
    _REPLAY.reset()
    _REPLAY.push(SimResponse.json(status, payload))
    with Bridge([unlimited_didit], settings=replay_box.settings(), env={},
                transport=fast_transport(retries=0)) as b:
        try:
            report = b.status("didit", session_id=NAMES["approved"])
        except KYCBridgeError:
            return
    assert isinstance(report, StatusReport)
    assert status == 200


def test_fault_table_is_complete() -> None:
    for name in ("fault-500", "fault-502", "fault-503", "fault-504", "fault-429", "fault-slow",
                 "fault-invalid-json", "fault-html", "fault-wrong-content-type", "fault-drop"):
        assert name in FAULTS
