"""The documented limit, 10 requests/s and 600/min per key: the simulator enforces it, and
the Bridge's shared limiter keeps many threads under it."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator

import pytest
import urllib3

import kycbridge
import kycbridge_starkfi
from kycbridge import KYCState
from kycbridge.sandbox import Sandbox, SimRequest
from kycbridge.transport import Transport
from kycbridge_starkfi.simulator import DOCS_URL, SANDBOX_API_KEY, StarkFiSimulator

EMAIL = "instant-approved@sandbox.starkfi.test"


@pytest.fixture(scope="module")
def limited_sandbox() -> Iterator[tuple[StarkFiSimulator, Sandbox]]:
    sim = StarkFiSimulator()  # the documented limit, on
    with Sandbox([sim]) as sandbox:
        yield sim, sandbox


@pytest.fixture
def limited(
    limited_sandbox: tuple[StarkFiSimulator, Sandbox],
) -> tuple[StarkFiSimulator, Sandbox]:
    limited_sandbox[0].reset()  # forget earlier tests' windows
    return limited_sandbox


def test_threads_through_one_bridge_never_hit_429(
    limited: tuple[StarkFiSimulator, Sandbox],
) -> None:
    sim, sandbox = limited
    # no transport retries: a 429 would surface as RateLimited
    transport = Transport(retries=0, read_timeout=5)
    bridge = kycbridge.Bridge(
        [kycbridge_starkfi], settings=sandbox.settings(), transport=transport, env={}
    )
    calls = 15  # more than the 10 a one-second window allows
    todo = list(range(calls))
    lock = threading.Lock()
    states: list[KYCState] = []
    errors: list[BaseException] = []

    def work() -> None:
        while True:
            with lock:
                if not todo:
                    return
                todo.pop()
            try:
                report = bridge.status("starkfi", email=EMAIL)
            except BaseException as exc:  # recorded, asserted below
                with lock:
                    errors.append(exc)
            else:
                with lock:
                    states.append(report.state)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    bridge.close()
    assert errors == []
    assert states == [KYCState.APPROVED] * calls
    assert sim.answered[429] == 0
    assert sim.answered[200] == calls
    # the limiter's own record: every slot >= 1.02 / 10 s after the previous one
    limiter = bridge.rate_limiter("starkfi")
    assert limiter is not None and limiter.grants == calls
    slots = list(limiter.granted)
    assert all(b - a >= limiter.interval * (1 - 1e-9) for a, b in itertools.pairwise(slots))


def test_direct_burst_gets_429(limited: tuple[StarkFiSimulator, Sandbox]) -> None:
    _, sandbox = limited
    http = urllib3.PoolManager()
    url = sandbox.url("starkfi") + "/kyc/status"
    answers = [
        http.request("GET", url, fields={"email": EMAIL}, retries=False,
                     headers={"x-api-key": SANDBOX_API_KEY})
        for _ in range(15)
    ]
    statuses = [a.status for a in answers]
    assert statuses[:10] == [200] * 10
    assert 429 in statuses[10:]
    for answer in answers:
        if answer.status == 429:
            assert answer.headers["Retry-After"] == "1"
            assert answer.headers["Content-Type"] == "application/json"
            body = json.loads(answer.data)
            assert set(body) == {"code", "message", "docs"}
            assert body["code"] == 429 and body["docs"] == DOCS_URL
            assert isinstance(body["message"], str) and body["message"]
    # the limit is per key: an unauthenticated request is refused as such, not as 429
    wrong = http.request("GET", url, fields={"email": EMAIL}, retries=False)
    assert wrong.status == 401
    http.clear()


def test_bridge_gives_rate_limited_after_retries(
    limited: tuple[StarkFiSimulator, Sandbox],
) -> None:
    _, sandbox = limited
    http = urllib3.PoolManager()
    url = sandbox.url("starkfi") + "/kyc/status"
    for _ in range(12):  # use up this second's allowance from elsewhere
        http.request("GET", url, fields={"email": EMAIL}, retries=False,
                     headers={"x-api-key": SANDBOX_API_KEY})
    http.clear()
    transport = Transport(retries=0)
    with kycbridge.Bridge([kycbridge_starkfi], settings=sandbox.settings(),
                          transport=transport, env={}) as bridge:
        with pytest.raises(kycbridge.RateLimited) as info:
            bridge.status("starkfi", email=EMAIL)
    error = info.value
    assert error.http_status == 429 and error.retry_after == 1.0
    assert error.provider_code == "429" and error.provider_message
    assert error.kind == "rate_limited"


# -- the windows, on a fake clock -----------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ask(sim: StarkFiSimulator) -> int:
    request = SimRequest("GET", "/kyc/status", {"email": [EMAIL]},
                         {"x-api-key": SANDBOX_API_KEY})
    return sim.handle(request).status


def test_sliding_second_window() -> None:
    clock = Clock()
    sim = StarkFiSimulator(clock=clock, tolerance=0.05)
    assert [ask(sim) for _ in range(10)] == [200] * 10
    assert ask(sim) == 429
    clock.now += 0.9
    assert ask(sim) == 429  # refused requests do not count, but the ten are still recent
    clock.now += 0.06  # 0.96 s after the ten: past the window (1 s less the tolerance)
    assert ask(sim) == 200
    assert sim.answered == {200: 11, 429: 2}


def test_steady_ten_per_second_is_fine() -> None:
    clock = Clock()
    sim = StarkFiSimulator(clock=clock)
    statuses = []
    for _ in range(100):
        statuses.append(ask(sim))
        clock.now += 0.1
    assert statuses == [200] * 100


def test_minute_window() -> None:
    clock = Clock()
    # bursts of ten just past each (tolerant) second window: 10/s holds, 600/min binds
    sim = StarkFiSimulator(clock=clock, tolerance=0.05)
    accepted = 0
    refused_at = None
    for burst in range(70):
        for _ in range(10):
            if ask(sim) == 200:
                accepted += 1
            elif refused_at is None:
                refused_at = burst
        clock.now += 0.951
    assert refused_at is not None and refused_at >= 60
    assert accepted >= 600
    # any 60 s window (less tolerance) holds 600 accepted requests at most
    assert sim.answered[200] == accepted


def test_limit_is_configurable() -> None:
    clock = Clock()
    unlimited = StarkFiSimulator(rate_limit=None, clock=clock)
    assert {ask(unlimited) for _ in range(50)} == {200}
    two = StarkFiSimulator(rate_limit=2, clock=clock)
    assert [ask(two) for _ in range(3)] == [200, 200, 429]
    two.reset()
    assert ask(two) == 200
