"""The Transak simulator: every scenario ends as documented; the simulator checks requests."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

import kycbridge
import kycbridge_transak
from kycbridge import KYCBridgeError, KYCState, ProviderUnavailable, RateLimited, Transport
from kycbridge.provider import build_query
from kycbridge.sandbox import Sandbox, Scenario, SimRequest, Simulator
from kycbridge_transak import TransakProvider, TransakSimulator
from kycbridge_transak.simulator import (
    SANDBOX_ACCESS_TOKEN,
    SANDBOX_PARTNER_TOKEN,
    SCRIPTS,
    SEED_CONFORMING,
)

README = Path(__file__).resolve().parents[1] / "README.md"
PATH = "/api/v2/kyc/id-proof-status"
STATES = {state.value for state in KYCState}
KINDS = {
    cls.kind
    for cls in vars(kycbridge.errors).values()
    if isinstance(cls, type) and issubclass(cls, KYCBridgeError)
}

REQUIRED_SUBJECTS = {
    "wfr-not-submitted", "wfr-submitted", "wfr-submits-after-3", "wfr-approved", "wfr-rejected",
    "wfr-forms-required", "wfr-session-expired", "wfr-unauthorized", "wfr-unknown-status",
    "wfr-null-kyctype", "wfr-fault-500", "wfr-fault-502", "wfr-fault-503", "wfr-fault-504",
    "wfr-fault-429", "wfr-fault-429-no-retry-after", "wfr-fault-slow", "wfr-fault-invalid-json",
    "wfr-fault-truncated-json", "wfr-fault-html", "wfr-fault-wrong-content-type",
    "wfr-fault-empty-body", "wfr-fault-big-body", "wfr-fault-drop", "wfr-fault-drop-mid-body",
    "wfr-fault-missing-fields", "wfr-fault-extra-fields", "wfr-fault-nulls",
    "wfr-fault-wrong-types", "wfr-flaky-submits",
}  # fmt: skip


# One server per module (stopping one costs up to half a second); scripts restart per test.
@pytest.fixture(scope="module")
def server() -> Iterator[tuple[TransakSimulator, Sandbox]]:
    sim = TransakSimulator()
    with Sandbox([sim]) as sandbox:
        yield sim, sandbox


@pytest.fixture
def sim(server: tuple[TransakSimulator, Sandbox]) -> TransakSimulator:
    server[0].reset()
    return server[0]


@pytest.fixture
def sandbox(server: tuple[TransakSimulator, Sandbox], sim: TransakSimulator) -> Sandbox:
    return server[1]


def make_bridge(sandbox: Sandbox, **transport: Any) -> kycbridge.Bridge:
    options: dict[str, Any] = {
        "retries": 1,
        "backoff_factor": 0.01,
        "max_retry_after": 0.05,
        "read_timeout": 0.5,
    }
    options.update(transport)
    return kycbridge.Bridge(
        [kycbridge_transak], settings=sandbox.settings(), transport=Transport(**options), env={}
    )


def outcome_of(bridge: kycbridge.Bridge, query: dict[str, str]) -> str:
    try:
        return bridge.status("transak", **query).state.value
    except KYCBridgeError as exc:
        return exc.kind


# -- the scenario list --------------------------------------------------------------------------
def test_simulator_satisfies_the_protocol(sim: TransakSimulator) -> None:
    assert isinstance(sim, Simulator)
    assert sim.name == TransakProvider.name
    assert sim.settings == {}
    assert all(isinstance(s, Scenario) for s in sim.scenarios)


def test_every_required_scenario_exists_once(sim: TransakSimulator) -> None:
    subjects = [s.subject for s in sim.scenarios]
    assert len(subjects) == len(set(subjects))
    assert set(subjects) == REQUIRED_SUBJECTS
    assert SEED_CONFORMING <= set(subjects)


@pytest.mark.parametrize("scenario", TransakSimulator().scenarios, ids=lambda s: s.subject)
def test_scenario_metadata(scenario: Scenario) -> None:
    assert scenario.outcome in STATES | KINDS
    assert scenario.played and scenario.description
    assert scenario.query == {
        "work_flow_run_id": scenario.subject,
        "access_token": SANDBOX_ACCESS_TOKEN,
    }
    provider: Any = TransakProvider()  # mypy: its ClassVars do not satisfy the Protocol
    build_query(provider, scenario.query, env={})  # valid, no InvalidQuery


def test_demo_scenarios_reach_a_state_a_demo_can_wait_for(sim: TransakSimulator) -> None:
    demos = [s for s in sim.scenarios if s.demo]
    assert 2 <= len(demos) <= 3
    for scenario in demos:
        state = KYCState(scenario.outcome)
        assert state.final or state is KYCState.SUBMITTED


# -- every scenario ends in its documented outcome ---------------------------------------------
@pytest.mark.parametrize("scenario", TransakSimulator().scenarios, ids=lambda s: s.subject)
def test_scenario_outcome(scenario: Scenario, sandbox: Sandbox, sim: TransakSimulator) -> None:
    # retries=0: one request per call, so call i is answered by step i of the script.
    with make_bridge(sandbox, retries=0) as bridge:
        seen = [outcome_of(bridge, dict(scenario.query)) for _ in scenario.played]
    assert seen[-1] == scenario.outcome, seen
    assert sim.calls(scenario.subject) == len(scenario.played)
    for label, outcome in zip(scenario.played, seen):
        if outcome in STATES and outcome != KYCState.UNKNOWN.value:
            # a played word shows up as the state the mapping gives it
            word = label.split(" (")[0]
            assert kycbridge_transak.STATUS_MAP(word).value == outcome, (label, outcome)


@pytest.mark.parametrize("scenario", TransakSimulator().scenarios, ids=lambda s: s.subject)
def test_scenario_outcome_with_retries(
    scenario: Scenario, sandbox: Sandbox, sim: TransakSimulator
) -> None:
    # With the transport retrying, calls move faster through a script, never past its end.
    with make_bridge(sandbox) as bridge:
        seen = [outcome_of(bridge, dict(scenario.query)) for _ in scenario.played]
    assert seen[-1] == scenario.outcome, seen


def test_slow_scenario_answers_with_a_patient_client(sandbox: Sandbox) -> None:
    with make_bridge(sandbox, read_timeout=5) as bridge:
        report = bridge.status(
            "transak", work_flow_run_id="wfr-fault-slow", access_token=SANDBOX_ACCESS_TOKEN
        )
    assert report.state is KYCState.NOT_STARTED


def test_scripts_progress_one_step_per_call(sandbox: Sandbox, sim: TransakSimulator) -> None:
    query = {"work_flow_run_id": "wfr-submits-after-3", "access_token": SANDBOX_ACCESS_TOKEN}
    with make_bridge(sandbox) as bridge:
        words = [bridge.status("transak", **query).raw_status for _ in range(6)]
        assert words == ["NOT_SUBMITTED"] * 3 + ["SUBMITTED"] * 3
        sim.reset()
        assert sim.calls("wfr-submits-after-3") == 0
        assert bridge.status("transak", **query).raw_status == "NOT_SUBMITTED"


def test_subjects_progress_independently(sandbox: Sandbox) -> None:
    with make_bridge(sandbox) as bridge:
        a = {"work_flow_run_id": "wfr-approved", "access_token": SANDBOX_ACCESS_TOKEN}
        b = {"work_flow_run_id": "wfr-rejected", "access_token": SANDBOX_ACCESS_TOKEN}
        assert bridge.status("transak", **a).raw_status == "NOT_SUBMITTED"
        assert bridge.status("transak", **a).raw_status == "SUBMITTED"
        assert bridge.status("transak", **b).raw_status == "NOT_SUBMITTED"
        assert bridge.status("transak", **a).raw_status == "APPROVED"


def test_flaky_script_seen_by_a_watcher_that_retries_transient_faults(
    sandbox: Sandbox, sim: TransakSimulator
) -> None:
    query = {"work_flow_run_id": "wfr-flaky-submits", "access_token": SANDBOX_ACCESS_TOKEN}
    states: list[KYCState] = []
    faults = 0
    with make_bridge(sandbox) as bridge:
        for _ in range(10):
            try:
                report = bridge.status("transak", **query)
            except (ProviderUnavailable, RateLimited):
                faults += 1
                continue
            if not states or states[-1] is not report.state:
                states.append(report.state)
            if report.state is KYCState.SUBMITTED:
                break
    assert states == [KYCState.NOT_STARTED, KYCState.SUBMITTED]
    assert faults == 1  # the 503 is retried by the transport; the 500 is not
    assert sim.calls("wfr-flaky-submits") == 5


def test_concurrent_calls_advance_the_counter_exactly(
    sandbox: Sandbox, sim: TransakSimulator
) -> None:
    query = {"work_flow_run_id": "wfr-submits-after-3", "access_token": SANDBOX_ACCESS_TOKEN}
    words: list[str | None] = []
    lock = threading.Lock()
    with make_bridge(sandbox) as bridge:

        def worker() -> None:
            for _ in range(5):
                word = bridge.status("transak", **query).raw_status
                with lock:
                    words.append(word)

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sim.calls("wfr-submits-after-3") == 20
    assert sorted(words, key=str) == sorted(["NOT_SUBMITTED"] * 3 + ["SUBMITTED"] * 17)


# -- the simulator checks requests as the document says --------------------------------------
def raw_get(sandbox: Sandbox, path: str, headers: dict[str, str], method: str = "GET") -> Any:
    with urllib3.PoolManager() as pool:
        return pool.request(method, sandbox.url("transak") + path, headers=headers, retries=False)


OK_HEADERS = {"authorization": SANDBOX_ACCESS_TOKEN}


@pytest.mark.parametrize(
    ("path", "headers", "method", "status", "message"),
    [
        (f"{PATH}?workFlowRunId=x", OK_HEADERS, "GET", 200, None),
        (f"{PATH}?workFlowRunId=x", {}, "GET", 401, "Unauthorized"),
        (f"{PATH}?workFlowRunId=x", {"authorization": "wrong"}, "GET", 401, "Unauthorized"),
        (
            f"{PATH}?workFlowRunId=x",
            {**OK_HEADERS, "x-access-token": "bad"},
            "GET",
            401,
            "Unauthorized",
        ),
        (
            f"{PATH}?workFlowRunId=x",
            {**OK_HEADERS, "x-access-token": SANDBOX_PARTNER_TOKEN, "x-user-identifier": "a@b.co"},
            "GET",
            200,
            None,
        ),
        (PATH, OK_HEADERS, "GET", 400, "workFlowRunId is required"),
        (f"{PATH}?workFlowRunId=", OK_HEADERS, "GET", 400, "workFlowRunId is required"),
        (f"{PATH}?other=1", OK_HEADERS, "GET", 400, "workFlowRunId is required"),
        (
            "/api/v2/kyc/other?workFlowRunId=x",
            OK_HEADERS,
            "GET",
            404,
            "Cannot GET /api/v2/kyc/other",
        ),
        (f"{PATH}/?workFlowRunId=x", OK_HEADERS, "GET", 404, None),
        (f"{PATH}?workFlowRunId=x", OK_HEADERS, "POST", 405, "Method Not Allowed"),
    ],
)
def test_simulator_request_checks(
    sandbox: Sandbox,
    path: str,
    headers: dict[str, str],
    method: str,
    status: int,
    message: str | None,
) -> None:
    response = raw_get(sandbox, path, headers, method)
    assert response.status == status
    assert response.headers["content-type"] == "application/json"
    body = json.loads(response.data.decode())
    if status == 200:
        assert body == {"data": {"status": "NOT_SUBMITTED", "kycType": "STANDARD"}}
    else:
        assert body["error"]["statusCode"] == status
        if message is not None:
            assert body["error"]["message"] == message


def test_rejected_requests_do_not_advance_scripts(sandbox: Sandbox, sim: TransakSimulator) -> None:
    raw_get(sandbox, f"{PATH}?workFlowRunId=wfr-submits-after-3", {"authorization": "bad"})
    raw_get(sandbox, f"{PATH}?workFlowRunId=wfr-submits-after-3", OK_HEADERS, "POST")
    assert sim.calls("wfr-submits-after-3") == 0


def test_unknown_ids_are_not_tracked(sim: TransakSimulator) -> None:
    request = SimRequest("GET", PATH, {"workFlowRunId": ["fresh-run"]}, OK_HEADERS)
    for _ in range(3):
        assert sim.handle(request).status == 200
    assert sim.calls("fresh-run") == 0
    assert sim._calls == {}


def test_retry_after_headers(sim: TransakSimulator) -> None:
    def answer(subject: str) -> Any:
        return sim.handle(SimRequest("GET", PATH, {"workFlowRunId": [subject]}, OK_HEADERS))

    assert answer("wfr-fault-429").headers == {"Retry-After": "1"}
    assert answer("wfr-fault-503").headers == {"Retry-After": "1"}
    assert answer("wfr-fault-429-no-retry-after").headers == {}
    big = answer("wfr-fault-big-body")
    assert len(big.body) >= 10 * 1024 * 1024


# -- the README documents every scenario, the mapping and the env variables ------------------
def readme_rows() -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells and re.fullmatch(r"`wfr-[a-z0-9-]+`", cells[0]):
            rows[cells[0].strip("`")] = cells
    return rows


def test_readme_scenario_table_matches_the_simulator() -> None:
    rows = readme_rows()
    assert set(rows) == {script.subject for script in SCRIPTS}
    for script in SCRIPTS:
        cells = rows[script.subject]
        assert f"`{script.outcome}`" in cells, (script.subject, cells)
        for step in script.steps:
            assert step.label in " ".join(cells), (script.subject, step.label)


def test_readme_documents_mapping_settings_and_env() -> None:
    text = README.read_text(encoding="utf-8")
    for word, state in kycbridge_transak.STATUS_MAP.rows():
        assert re.search(rf"\|\s*`{word}`\s*\|\s*`{state.value}`", text), word
    for name in [
        "KYCBRIDGE_TRANSAK_ENVIRONMENT",
        "KYCBRIDGE_TRANSAK_BASE_URL",
        "KYCBRIDGE_TRANSAK_PARTNER_ACCESS_TOKEN",
        "KYCBRIDGE_TRANSAK_ACCESS_TOKEN",
        SANDBOX_ACCESS_TOKEN,
        SANDBOX_PARTNER_TOKEN,
    ]:
        assert name in text, name
