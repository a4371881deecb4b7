"""Persona's documented limit, 300 requests per fixed one-minute window: the simulator
enforces it (on a fake clock here), answers 429 with the RateLimit-* headers, and the
provider declares 5 requests/s for the Bridge's limiter."""

from __future__ import annotations

import json

import pytest

import kycbridge
from kycbridge.sandbox import Sandbox, SimRequest
from kycbridge.testing import fast_transport
from kycbridge_persona.provider import RATE_LIMIT, PersonaProvider
from kycbridge_persona.simulator import SANDBOX_API_KEY, PersonaSimulator

AUTH = {"authorization": f"Bearer {SANDBOX_API_KEY}"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ask(sim: PersonaSimulator, headers: dict[str, str] = AUTH) -> tuple[int, dict[str, str]]:
    answer = sim.handle(SimRequest("GET", "/inquiries/inq_SandboxCreated", {}, headers))
    return answer.status, dict(answer.headers)


def test_provider_declares_five_per_second() -> None:
    assert RATE_LIMIT == 5.0 and PersonaProvider.rate_limit == 5.0


def test_fixed_window_of_300() -> None:
    clock = Clock()
    sim = PersonaSimulator(clock=clock, tolerance=0.0)
    first = [ask(sim) for _ in range(300)]
    assert {status for status, _ in first} == {200}
    assert first[0][1] == {"RateLimit-Limit": "300", "RateLimit-Remaining": "299",
                           "RateLimit-Reset": "60"}
    assert first[-1][1]["RateLimit-Remaining"] == "0"
    clock.now += 20.5
    status, headers = ask(sim)
    assert status == 429
    assert headers == {"RateLimit-Limit": "300", "RateLimit-Remaining": "0",
                       "RateLimit-Reset": "40"}
    assert "Retry-After" not in headers
    clock.now += 39.5  # the window (fixed, from its first request) is over
    status, headers = ask(sim)
    assert status == 200 and headers["RateLimit-Remaining"] == "299"
    assert sim.answered == {200: 301, 429: 1}


def test_unauthenticated_requests_are_not_counted() -> None:
    sim = PersonaSimulator(clock=Clock(), rate_limit=2)
    assert ask(sim, {})[0] == 401
    assert [ask(sim)[0] for _ in range(3)] == [200, 200, 429]
    sim.reset()
    assert ask(sim)[0] == 200


def test_limit_is_configurable_and_validated() -> None:
    assert {ask(PersonaSimulator(rate_limit=None))[0] for _ in range(5)} == {200}
    with pytest.raises(ValueError):
        PersonaSimulator(rate_limit=0)


def test_over_loopback_the_429_is_rate_limited_with_the_reset_hint() -> None:
    clock = Clock()
    sim = PersonaSimulator(rate_limit=3, clock=clock)
    with Sandbox([sim]) as sandbox:
        settings = {"persona": {**sim.settings, "base_url": sandbox.url("persona")}}
        transport = fast_transport(retries=0)

        class Unlimited(PersonaProvider):
            rate_limit = None  # the simulator's window is the point here

        with kycbridge.Bridge([_Plugin(Unlimited())], settings=settings, env={},
                              transport=transport) as bridge:
            for _ in range(3):
                bridge.status("persona", inquiry_id="inq_SandboxCreated")
            clock.now += 15.2
            with pytest.raises(kycbridge.RateLimited) as info:
                bridge.status("persona", inquiry_id="inq_SandboxCreated")
    error = info.value
    assert error.http_status == 429 and error.retry_after == 45.0
    assert error.provider_code == "Too Many Requests"
    assert json.dumps(error.to_dict())


class _Plugin:
    def __init__(self, provider: PersonaProvider) -> None:
        self.provider = provider

    @kycbridge.hookimpl
    def register_providers(self, register: object) -> None:
        register(self.provider)  # type: ignore[operator]
