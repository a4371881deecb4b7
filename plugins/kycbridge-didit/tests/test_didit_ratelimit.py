"""The documented limit, 100 decision requests per sliding 60 s window per key.

The simulator enforces it (on a fake clock here: no waiting a minute), and the provider
declares it (1.67/s), which every Bridge's limiter holds to.
"""

from __future__ import annotations

import itertools
import json

import urllib3

import kycbridge_didit
from kycbridge import Bridge, RateLimited
from kycbridge.sandbox import Sandbox, SimRequest
from kycbridge.transport import Transport
from kycbridge_didit.provider import RATE_LIMIT, DiditProvider
from kycbridge_didit.simulator import NAMES, SANDBOX_API_KEY, DiditSimulator

SID = NAMES["approved"]


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def ask(sim: DiditSimulator, key: str = SANDBOX_API_KEY) -> tuple[int, dict[str, str], bytes]:
    request = SimRequest("GET", f"/v3/session/{SID}/decision/", {}, {"x-api-key": key})
    answer = sim.handle(request)
    return answer.status, dict(answer.headers), answer.body


def test_provider_declares_the_documented_limit() -> None:
    assert RATE_LIMIT == DiditProvider.rate_limit == 100 / 60


def test_sliding_window_on_a_fake_clock() -> None:
    clock, wall = Clock(), Clock(1_700_000_000.0)
    sim = DiditSimulator(clock=clock, wall=wall, tolerance=0.0)
    for i in range(100):
        status, headers, _ = ask(sim)
        assert status == 200
        assert headers["X-RateLimit-Limit"] == "100"
        assert headers["X-RateLimit-Remaining"] == str(99 - i)
        clock.now += 0.25  # 100 requests over 25 s (exact in binary)
        wall.now += 0.25
    status, headers, body = ask(sim)
    assert status == 429
    # the first request (at t=1000) leaves the window at t=1060; now is t=1025
    assert headers["Retry-After"] == "35"
    assert headers["X-RateLimit-Remaining"] == "0"
    assert int(headers["X-RateLimit-Reset"]) == 1_700_000_060
    assert json.loads(body) == {
        "detail": "Request was throttled. Expected available in 35 seconds."
    }
    clock.now += 34.9
    assert ask(sim)[0] == 429  # refused requests do not count, the window still holds 100
    clock.now += 0.2  # the first request left: one slot
    assert ask(sim)[0] == 200
    assert ask(sim)[0] == 429
    assert sim.answered == {200: 101, 429: 3}


def test_steady_documented_rate_is_fine() -> None:
    clock = Clock()
    sim = DiditSimulator(clock=clock)
    statuses = set()
    for _ in range(400):
        statuses.add(ask(sim)[0])
        clock.now += 0.6  # 100 per minute exactly
    assert statuses == {200}


def test_limit_is_per_key_and_after_auth() -> None:
    clock = Clock()
    sim = DiditSimulator(clock=clock, rate_limit=2)
    assert [ask(sim)[0] for _ in range(3)] == [200, 200, 429]
    assert ask(sim, "wrong")[0] == 401  # refused as unauthenticated, not throttled
    sim.reset()
    assert ask(sim)[0] == 200


def test_over_http_429_with_headers_and_rate_limited() -> None:
    sim = DiditSimulator(rate_limit=3)
    with Sandbox([sim]) as sandbox:
        http = urllib3.PoolManager()
        url = f"{sandbox.url('didit')}/v3/session/{SID}/decision/"
        answers = [http.request("GET", url, headers={"x-api-key": SANDBOX_API_KEY},
                                retries=False) for _ in range(4)]
        http.clear()
        assert [a.status for a in answers] == [200, 200, 200, 429]
        refused = answers[-1]
        for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
                     "Retry-After"):
            assert name in refused.headers
        assert 55 <= int(refused.headers["Retry-After"]) <= 60
        with Bridge([kycbridge_didit], settings=sandbox.settings(), env={},
                    transport=Transport(retries=0)) as bridge:
            try:
                bridge.status("didit", session_id=SID)
            except RateLimited as error:
                assert error.http_status == 429
                assert error.retry_after is not None and 55 <= error.retry_after <= 60
                assert error.provider_message and "throttled" in error.provider_message
            else:
                raise AssertionError("no RateLimited")


def test_bridge_limiter_spaces_calls_at_the_documented_rate() -> None:
    """The limiter's own record (no wall-clock assertion): slots 1.02 / (100/60) s apart."""
    sim = DiditSimulator()
    with Sandbox([sim]) as sandbox, Bridge(
        [kycbridge_didit], settings=sandbox.settings(), env={}, transport=Transport(retries=0)
    ) as bridge:
        limiter = bridge.rate_limiter("didit")
        assert limiter is not None and limiter.rate == RATE_LIMIT
        fake_now = [0.0]
        waits: list[float] = []
        limiter._clock = lambda: fake_now[0]  # a fake clock: the slots are the point
        limiter._sleep = waits.append
        for _ in range(5):
            bridge.status("didit", session_id=SID)
    slots = list(limiter.granted)[-5:]
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert all(abs(g - 1.02 * 60 / 100) < 1e-9 for g in gaps)
    assert sim.answered[429] == 0
