"""Every sandbox scenario plays out as its table says; the simulator answers as documented.

The simulator's rate limit is off here, and so is the client's limiter (the provider's
``rate_limit`` is patched to ``None``) so that scripts play fast: both limits are tested in
``test_starkfi_ratelimit.py``.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

import kycbridge
import kycbridge.testing as kit
import kycbridge_starkfi
from kycbridge import KYCState
from kycbridge.errors import KYCBridgeError, ProviderUnavailable, RateLimited
from kycbridge.sandbox import Sandbox, Scenario, SimRequest, Simulator
from kycbridge.transport import Transport
from kycbridge_starkfi.provider import StarkFiProvider
from kycbridge_starkfi.simulator import (
    EVM_WALLET,
    SANDBOX_API_KEY,
    SANDBOX_DOMAIN,
    SCENARIOS,
    SOLANA_WALLET,
    StarkFiSimulator,
)

SCENARIO_IDS = [s.subject.split("@")[0] for s in SCENARIOS]
TRANSIENT = (ProviderUnavailable, RateLimited)
STATES = {s.value for s in KYCState}


fast_transport = functools.partial(kit.fast_transport, read_timeout=0.5)
"""The kit's quick test transport with these tests' timeouts."""


@pytest.fixture(autouse=True)
def _no_client_limiter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(StarkFiProvider, "rate_limit", None)


@pytest.fixture(scope="module")
def sim() -> StarkFiSimulator:
    return StarkFiSimulator(rate_limit=None)


@pytest.fixture(scope="module")
def sandbox(sim: StarkFiSimulator) -> Iterator[Sandbox]:
    with Sandbox([sim]) as sandbox:
        yield sandbox


def make_bridge(sandbox: Sandbox, transport: Transport) -> kycbridge.Bridge:
    return kycbridge.Bridge(
        [kycbridge_starkfi], settings=sandbox.settings(), transport=transport, env={}
    )


@pytest.fixture
def bridge(sim: StarkFiSimulator, sandbox: Sandbox) -> Iterator[kycbridge.Bridge]:
    sim.reset()
    with make_bridge(sandbox, fast_transport()) as bridge:
        yield bridge


def watch(bridge: kycbridge.Bridge, scenario: Scenario, steps: int) -> list[Any]:
    """Call ``steps`` times, retrying transient errors (as a watcher does) unless the
    scenario is about them; record each report, or the error that ended the scenario."""
    seen: list[Any] = []
    for _ in range(steps):
        for _attempt in range(4):
            try:
                seen.append(bridge.status("starkfi", **scenario.query))
                break
            except TRANSIENT as exc:
                if scenario.outcome == exc.kind:
                    seen.append(exc)
                    break
            except KYCBridgeError as exc:
                seen.append(exc)
                break
        else:
            pytest.fail(f"{scenario.subject}: still failing after retries")
    return seen


def test_scenario_table_is_sane() -> None:
    subjects = [s.subject for s in SCENARIOS]
    assert len(subjects) == len(set(subjects))
    assert StarkFiSimulator().scenarios == SCENARIOS
    kinds = {"not_found", "unavailable", "rate_limited", "malformed_response"}
    for scenario in SCENARIOS:
        assert scenario.outcome in STATES | kinds, scenario
        assert len(scenario.query) == 1
        (field, value), = scenario.query.items()
        assert value == scenario.subject
        # every scenario's query is valid
        kycbridge_starkfi.StarkFiQuery(**scenario.query)
        if field == "email":
            assert value.endswith("@" + SANDBOX_DOMAIN)
        if scenario.outcome in STATES:
            assert scenario.played, scenario
    demos = {s.subject for s in SCENARIOS if s.demo}
    assert {f"approved@{SANDBOX_DOMAIN}", f"declined@{SANDBOX_DOMAIN}",
            f"blocklisted@{SANDBOX_DOMAIN}", SOLANA_WALLET} == demos
    required = [
        "approved", "declined", "blocklisted", "notfound", "abandoned", "expired",
        "kyc-expired", "resubmitted", "awaiting-user", "unknown-status", "instant-approved",
        "fault-500", "fault-502", "fault-503", "fault-504", "fault-429",
        "fault-429-no-retry-after", "fault-slow", "fault-invalid-json", "fault-truncated-json",
        "fault-html", "fault-wrong-content-type", "fault-empty-body", "fault-big-body",
        "fault-drop", "fault-drop-mid-body", "fault-missing-fields", "fault-extra-fields",
        "fault-nulls", "fault-wrong-types", "flaky-approved",
    ]
    for local in required:
        assert f"{local}@{SANDBOX_DOMAIN}" in subjects
    assert SOLANA_WALLET in subjects and EVM_WALLET in subjects


def test_simulator_satisfies_the_protocol() -> None:
    sim = StarkFiSimulator()
    assert isinstance(sim, Simulator)
    assert sim.name == "starkfi"
    assert sim.settings == {"api_key": SANDBOX_API_KEY}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_every_scenario(
    scenario: Scenario, sim: StarkFiSimulator, sandbox: Sandbox
) -> None:
    sim.reset()
    # fault-slow answers after 2 s: give it a read timeout long enough to get the answer
    slow = "slow" in scenario.subject
    transport = fast_transport(read_timeout=3.0 if slow else 0.5)
    with make_bridge(sandbox, transport) as bridge:
        # one call per played step, and one more to see the last step repeat
        seen = watch(bridge, scenario, max(1, len(scenario.played)) + (0 if slow else 1))
    steps = seen[: max(1, len(scenario.played))]
    if scenario.outcome in STATES:
        assert all(isinstance(r, kycbridge.StatusReport) for r in seen), seen
        assert [r.raw_status for r in steps] == list(scenario.played)
        assert steps[-1].state.value == scenario.outcome
        again = seen[-1]
        assert again.state is steps[-1].state and again.raw_status == steps[-1].raw_status
        assert not any(r.anomaly for r in steps), "scripted stories follow the state model"
    else:
        assert all(isinstance(e, KYCBridgeError) for e in seen), seen
        assert {e.kind for e in seen} == {scenario.outcome}
        assert all(e.provider == "starkfi" for e in seen)


STORY_STATES = {
    "approved": ["not_started", "in_progress", "in_review", "approved"],
    "declined": ["not_started", "in_progress", "in_review", "rejected"],
    "blocklisted": ["not_started", "in_progress", "in_review", "rejected"],
    "abandoned": ["not_started", "in_progress", "abandoned"],
    "expired": ["not_started", "expired"],
    "kyc-expired": ["approved", "expired"],
    "resubmitted": ["in_review", "action_required", "in_progress", "approved"],
    "awaiting-user": ["not_started", "action_required"],
    "unknown-status": ["in_progress", "unknown"],
    "instant-approved": ["approved"],
    "flaky-approved": ["not_started", "in_progress", "in_review", "approved"],
}


@pytest.mark.parametrize(("local", "states"), STORY_STATES.items())
def test_story_state_sequences(bridge: kycbridge.Bridge, local: str, states: list[str]) -> None:
    scenario = next(s for s in SCENARIOS if s.subject == f"{local}@{SANDBOX_DOMAIN}")
    seen = watch(bridge, scenario, len(states))
    assert [r.state.value for r in seen] == states


def test_flaky_without_transport_retries_shows_the_faults(
    sim: StarkFiSimulator, sandbox: Sandbox
) -> None:
    sim.reset()
    kinds = []
    with make_bridge(sandbox, fast_transport(retries=0)) as bridge:
        for _ in range(7):
            try:
                kinds.append(bridge.status("starkfi", email=f"flaky-approved@{SANDBOX_DOMAIN}")
                             .state.value)
            except KYCBridgeError as exc:
                kinds.append(exc.kind)
    assert kinds == ["not_started", "unavailable", "in_progress", "unavailable", "in_review",
                     "rate_limited", "approved"]


def test_blocklisted_flag_and_ip_info(bridge: kycbridge.Bridge) -> None:
    email = f"blocklisted@{SANDBOX_DOMAIN}"
    reports = [bridge.status("starkfi", email=email) for _ in range(4)]
    assert [r.blocklisted for r in reports] == [False, False, True, True]
    assert reports[0].details.ip_info == ()
    assert len(reports[1].details.ip_info) == 1
    risky = reports[3].details.ip_info[-1]
    assert risky.is_vpn_or_tor is True and risky.is_data_center is True
    assert reports[3].details.session_id == reports[0].details.session_id


def test_kyc_expired_keeps_approved_flag(bridge: kycbridge.Bridge) -> None:
    email = f"kyc-expired@{SANDBOX_DOMAIN}"
    bridge.status("starkfi", email=email)
    report = bridge.status("starkfi", email=email)
    assert report.details.approved is True  # rule 2: the session word wins
    assert report.state is KYCState.EXPIRED


def test_slow_answer_with_short_timeout_is_unavailable(
    sim: StarkFiSimulator, sandbox: Sandbox
) -> None:
    sim.reset()
    # the answer comes after 2 s: an error (not the report) proves the client gave up first
    with make_bridge(sandbox, fast_transport(retries=0, read_timeout=0.3)) as bridge:
        with pytest.raises(ProviderUnavailable):
            bridge.status("starkfi", email=f"fault-slow@{SANDBOX_DOMAIN}")


def test_emails_are_case_insensitive(bridge: kycbridge.Bridge) -> None:
    assert bridge.status("starkfi", email="Approved@Sandbox.StarkFi.test").state is \
        KYCState.NOT_STARTED
    assert bridge.status("starkfi", email="approved@sandbox.starkfi.test").state is \
        KYCState.IN_PROGRESS


def test_reset_starts_over(sim: StarkFiSimulator, bridge: kycbridge.Bridge) -> None:
    email = f"approved@{SANDBOX_DOMAIN}"
    bridge.status("starkfi", email=email)
    bridge.status("starkfi", email=email)
    assert sim.calls(email) == 2
    sim.reset()
    assert sim.calls(email) == 0
    assert bridge.status("starkfi", email=email).state is KYCState.NOT_STARTED


def test_scripts_progress_per_subject_across_threads(
    sim: StarkFiSimulator, sandbox: Sandbox
) -> None:
    sim.reset()
    subjects = [f"approved@{SANDBOX_DOMAIN}", f"declined@{SANDBOX_DOMAIN}"]
    seen: dict[str, list[str]] = {s: [] for s in subjects}
    lock = threading.Lock()
    transport = fast_transport()

    def work(email: str) -> None:
        bridge = make_bridge(sandbox, transport)
        for _ in range(4):
            state = bridge.status("starkfi", email=email).state.value
            with lock:
                seen[email].append(state)

    threads = [threading.Thread(target=work, args=(s,)) for s in subjects]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(seen[subjects[0]]) == sorted(STORY_STATES["approved"])
    assert sorted(seen[subjects[1]]) == sorted(STORY_STATES["declined"])
    assert sim.calls(subjects[0]) == 4 and sim.calls(subjects[1]) == 4


# -- the simulator's answers, directly -----------------------------------------------------


def direct(sim: StarkFiSimulator, path: str = "/kyc/status", method: str = "GET",
           key: str | None = SANDBOX_API_KEY, **params: str) -> tuple[int, dict[str, Any]]:
    headers = {"x-api-key": key} if key is not None else {}
    answer = sim.handle(SimRequest(method, path, {k: [v] for k, v in params.items()}, headers))
    assert answer.content_type == "application/json"
    return answer.status, json.loads(answer.body)


def test_simulator_protocol_answers() -> None:
    sim = StarkFiSimulator(rate_limit=None)
    email = f"approved@{SANDBOX_DOMAIN}"
    status, body = direct(sim, email=email)
    assert status == 200
    assert body["statusCode"] == 200 and body["success"] is True
    assert body["status"] == "kyc_status_retrieved" and body["message"] == "KYC status retrieved"
    assert body["data"]["session_status"] == "Not Started"

    assert direct(sim) == (400, {"statusCode": 400, "success": False,
                                 "status": "missing_params",
                                 "message": "email or wallet is required"})
    assert direct(sim, email="")[0] == 400
    assert direct(sim, email=email, wallet=EVM_WALLET)[0] == 400
    status, body = direct(sim, key=None, email=email)
    assert (status, body["status"], body["success"]) == (401, "unauthorized", False)
    assert direct(sim, key="sk_wrong", email=email)[0] == 401
    assert direct(sim, key="", email=email)[0] == 401
    assert direct(sim, method="POST", email=email)[0] == 405
    assert direct(sim, path="/kyc/status/", email=email)[0] == 404
    assert direct(sim, path="/kyc", email=email)[0] == 404
    status, body = direct(sim, email="someone@example.com")
    assert (status, body["status"]) == (404, "kyc_not_found")
    status, body = direct(sim, wallet="0x" + "2" * 40)
    assert status == 404
    # none of the refused requests advanced the script
    assert sim.calls(email) == 1
    assert sim.answered[200] == 1 and sim.answered[401] == 3


def test_simulator_http_details(sandbox: Sandbox, sim: StarkFiSimulator) -> None:
    sim.reset()
    http = urllib3.PoolManager()
    url = sandbox.url("starkfi") + "/kyc/status"
    answer = http.request("GET", url, fields={"email": f"fault-503@{SANDBOX_DOMAIN}"},
                          headers={"x-api-key": SANDBOX_API_KEY}, retries=False)
    assert answer.status == 503 and answer.headers["Retry-After"] == "1"
    answer = http.request("GET", url, fields={"email": f"fault-429@{SANDBOX_DOMAIN}"},
                          headers={"x-api-key": SANDBOX_API_KEY}, retries=False)
    assert answer.status == 429 and answer.headers["Retry-After"] == "1"
    assert set(json.loads(answer.data)) == {"code", "message", "docs"}
    answer = http.request("GET", url,
                          fields={"email": f"fault-429-no-retry-after@{SANDBOX_DOMAIN}"},
                          headers={"x-api-key": SANDBOX_API_KEY}, retries=False)
    assert answer.status == 429 and "Retry-After" not in answer.headers
    answer = http.request("GET", url, fields={"email": f"fault-big-body@{SANDBOX_DOMAIN}"},
                          headers={"x-api-key": SANDBOX_API_KEY}, retries=False)
    assert len(answer.data) == 10 * 1024 * 1024
    assert json.loads(answer.data)["data"]["session_status"] == "In Review"
    http.clear()


def test_latency_is_added(sandbox: Sandbox, sim: StarkFiSimulator) -> None:
    assert StarkFiSimulator(latency=0.2).latency == 0.2
    sim.reset()
    sim.latency = 0.2
    request = SimRequest("GET", "/kyc/status", {"email": [f"approved@{SANDBOX_DOMAIN}"]},
                         {"x-api-key": SANDBOX_API_KEY})
    assert sim.handle(request).delay == pytest.approx(0.2)
    request = SimRequest("GET", "/kyc/status", {"email": [f"fault-slow@{SANDBOX_DOMAIN}"]},
                         {"x-api-key": SANDBOX_API_KEY})
    assert sim.handle(request).delay == pytest.approx(2.2)
    try:
        with make_bridge(sandbox, fast_transport()) as bridge:
            started = time.monotonic()
            bridge.status("starkfi", email=f"approved@{SANDBOX_DOMAIN}")
            assert time.monotonic() - started >= 0.2
    finally:
        sim.latency = 0.0


def test_bad_constructor_arguments() -> None:
    with pytest.raises(ValueError):
        StarkFiSimulator(rate_limit=0)
    with pytest.raises(ValueError):
        StarkFiSimulator(latency=-1)
