"""Every attempt is signed anew: a 429 whose Retry-After (90 s) outlasts Sumsub's 60 s
timestamp tolerance still ends in the answer.

One fake clock moves the signer (the provider's ``now``), the simulator's timestamp check and
the transport's waits (``transport.sleep``), so nothing here waits for real time. The control,
a provider that signs once per call and replays the signature on the retry, is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import kycbridge
from kycbridge import AuthenticationError, KYCState, Request
from kycbridge.sandbox import Sandbox
from kycbridge.transport import Transport
from kycbridge_sumsub.provider import SumsubProvider
from kycbridge_sumsub.query import SumsubQuery, SumsubSettings
from kycbridge_sumsub.signing import TOLERANCE
from kycbridge_sumsub.simulator import LONG_RETRY_AFTER, SumsubSimulator

SUBJECT = "sandbox-rate-limited-long"


class FakeClock:
    """Seconds since the epoch, moved only by :meth:`sleep`."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class ClockedProvider(SumsubProvider):
    """Signs with the fake clock; no client-side limiter (the fake clock is the point)."""

    rate_limit = None

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.signed_at: list[float] = []

    def now(self) -> float:
        return self.clock()

    def sign(self, request: Request, settings: SumsubSettings, now: float) -> Request:
        self.signed_at.append(now)
        return super().sign(request, settings, now)


class SignOnceProvider(ClockedProvider):
    """The mistake per-attempt signing exists for: signed once per call, replayed on retry."""

    def build_request(self, query: SumsubQuery, settings: SumsubSettings) -> Request:
        request = super().build_request(query, settings)
        return SumsubProvider.sign(self, request, settings, self.clock())

    def sign(self, request: Request, settings: SumsubSettings, now: float) -> Request:
        return request


class Plugin:
    def __init__(self, provider: SumsubProvider) -> None:
        self.provider = provider

    @kycbridge.hookimpl
    def register_providers(self, register: Any) -> None:
        register(self.provider)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def served(clock: FakeClock) -> Iterator[tuple[Sandbox, SumsubSimulator]]:
    simulator = SumsubSimulator(clock=clock)
    with Sandbox([simulator]) as sandbox:
        yield sandbox, simulator


def bridge_for(provider: SumsubProvider, sandbox: Sandbox, clock: FakeClock) -> kycbridge.Bridge:
    transport = Transport(max_retry_after=2 * LONG_RETRY_AFTER, call_timeout=None)
    transport.sleep = clock.sleep  # type: ignore[method-assign]  # waiting moves the fake clock
    return kycbridge.Bridge(
        [Plugin(provider)], settings=sandbox.settings(), transport=transport, env={}
    )


def test_a_wait_past_the_tolerance_still_ends_in_the_answer(
    served: tuple[Sandbox, SumsubSimulator], clock: FakeClock
) -> None:
    sandbox, simulator = served
    assert LONG_RETRY_AFTER > TOLERANCE  # the first signature is stale once the wait is over
    provider = ClockedProvider(clock)
    start = clock.now
    with bridge_for(provider, sandbox, clock) as bridge:
        report = bridge.status("sumsub", external_user_id=SUBJECT)
    assert report.state is KYCState.APPROVED and report.raw_status == "completed/GREEN"
    assert clock.slept == [LONG_RETRY_AFTER]
    assert provider.signed_at == [start, start + LONG_RETRY_AFTER]  # one signature per attempt
    first, second = simulator.received  # the 429 and the answer, both past the check
    assert int(first.headers["x-app-access-ts"]) == int(start)
    assert int(second.headers["x-app-access-ts"]) == int(clock.now)
    assert first.headers["x-app-access-sig"] != second.headers["x-app-access-sig"]
    assert simulator.answered == {429: 1, 200: 1}


def test_a_signature_made_once_is_refused_after_the_wait(
    served: tuple[Sandbox, SumsubSimulator], clock: FakeClock
) -> None:
    """The control: without a signature per attempt, the same scenario fails."""
    sandbox, simulator = served
    with bridge_for(SignOnceProvider(clock), sandbox, clock) as bridge:
        with pytest.raises(AuthenticationError) as info:
            bridge.status("sumsub", external_user_id=SUBJECT)
    assert info.value.http_status == 401 and info.value.provider_message == "Invalid signature"
    assert clock.slept == [LONG_RETRY_AFTER]
    assert simulator.answered == {429: 1, 401: 1}

