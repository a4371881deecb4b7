"""The documented limit, 400 requests/minute per token: the simulator enforces it (on a fake
clock, and once over HTTP with a small limit), and the provider declares it."""

from __future__ import annotations

import json

import urllib3

import kycbridge
import kycbridge_onfido
from kycbridge.sandbox import Sandbox, SimRequest
from kycbridge.transport import Transport
from kycbridge_onfido.provider import RATE_LIMIT, OnfidoProvider
from kycbridge_onfido.simulator import SANDBOX_API_TOKEN, OnfidoSimulator

RUN = "wfr-instant-approved"
AUTH = {"authorization": f"Token token={SANDBOX_API_TOKEN}"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ask(sim: OnfidoSimulator, headers: dict[str, str] = AUTH) -> tuple[int, str | None]:
    request = SimRequest("GET", f"/workflow_runs/{RUN}", {}, headers)
    answer = sim.handle(request)
    return answer.status, answer.headers.get("Retry-After")


def test_provider_declares_the_documented_limit() -> None:
    assert OnfidoProvider.rate_limit == RATE_LIMIT == 400 / 60


def test_sliding_minute_window() -> None:
    clock = Clock()
    sim = OnfidoSimulator(clock=clock, tolerance=0.05)
    assert [ask(sim)[0] for _ in range(400)] == [200] * 400
    assert ask(sim) == (429, "60")  # the oldest leaves the window in 59.95 s
    clock.now += 30
    assert ask(sim) == (429, "30")
    assert ask(sim, {"authorization": "Token token=other"})[0] == 401  # auth comes first
    clock.now += 29.96  # 59.96 s after the first 400: past the (tolerant) window
    assert ask(sim) == (200, None)
    assert sim.answered == {200: 401, 429: 2, 401: 1}


def test_steady_pace_is_fine() -> None:
    clock = Clock()
    sim = OnfidoSimulator(clock=clock)
    statuses = []
    for _ in range(1000):
        statuses.append(ask(sim)[0])
        clock.now += 60 / 400
    assert statuses == [200] * 1000


def test_limit_is_configurable_and_reset_forgets() -> None:
    clock = Clock()
    assert {ask(OnfidoSimulator(rate_limit=None, clock=clock))[0] for _ in range(500)} == {200}
    three = OnfidoSimulator(rate_limit=3, clock=clock)
    assert [ask(three)[0] for _ in range(4)] == [200, 200, 200, 429]
    three.reset()
    assert ask(three)[0] == 200


def test_over_http_429_in_onfidos_shape_and_rate_limited() -> None:
    sim = OnfidoSimulator(rate_limit=3)
    with Sandbox([sim]) as sandbox:
        http = urllib3.PoolManager()
        url = sandbox.url("onfido") + f"/workflow_runs/{RUN}"
        answers = [http.request("GET", url, headers=AUTH, retries=False) for _ in range(4)]
        http.clear()
        assert [a.status for a in answers] == [200, 200, 200, 429]
        limited = answers[-1]
        assert limited.headers["Content-Type"] == "application/json"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert json.loads(limited.data)["error"]["type"] == "rate_limit"
        with kycbridge.Bridge([kycbridge_onfido], settings=sandbox.settings(), env={},
                              transport=Transport(retries=0)) as bridge:
            try:
                bridge.status("onfido", workflow_run_id=RUN)
            except kycbridge.RateLimited as exc:
                error = exc
    assert error.http_status == 429 and error.provider_code == "rate_limit"
    assert error.retry_after is not None and 1 <= error.retry_after <= 60
