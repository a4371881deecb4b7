"""Per-attempt signing: the transport signs every attempt anew, retries included.

Sumsub-like APIs sign ``ts + METHOD + path?query + body`` and refuse a timestamp older than a
minute. A 429 asking to wait longer than that must still end in the answer, never in an
authentication error. One fake clock moves the signer, the simulator and the transport's
waits, so nothing here waits for real time.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pathtoy import (
    RETRY_AFTER,
    TOLERANCE,
    ClockedPathProvider,
    FakeClock,
    PathSimulator,
    SignOncePathProvider,
)

import kycbridge
from kycbridge.errors import RequestRejected
from kycbridge.sandbox import Sandbox
from kycbridge.transport import Transport


class Plugin:
    def __init__(self, provider: object) -> None:
        self.provider = provider

    @kycbridge.hookimpl
    def register_providers(self, register):  # type: ignore[no-untyped-def]
        register(self.provider)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[tuple[Sandbox, PathSimulator]]:
    simulator = PathSimulator(clock)
    with Sandbox([simulator]) as sandbox:
        yield sandbox, simulator


def bridge_for(provider: object, sandbox: Sandbox, clock: FakeClock) -> kycbridge.Bridge:
    transport = Transport(max_retry_after=2 * RETRY_AFTER, call_timeout=None)
    transport.sleep = clock.sleep  # waiting moves the fake clock, nothing else
    return kycbridge.Bridge(
        [Plugin(provider)],
        settings={"pathtoy": {"base_url": sandbox.base_urls["pathtoy"]}},
        transport=transport,
        env={},
    )


def test_a_wait_past_the_tolerance_still_ends_in_the_answer(
    sandbox: tuple[Sandbox, PathSimulator], clock: FakeClock
) -> None:
    server, simulator = sandbox
    assert RETRY_AFTER > TOLERANCE  # the first signature is stale once the wait is over
    with bridge_for(ClockedPathProvider(clock), server, clock) as bridge:
        report = bridge.status("pathtoy", user_id="rate-limited-1")
    assert report.state is kycbridge.KYCState.APPROVED
    assert clock.slept == [RETRY_AFTER]
    first, second = simulator.requests  # the 429 and the answer, both past the check
    assert float(first.headers["x-ts"]) == clock.now - RETRY_AFTER
    assert float(second.headers["x-ts"]) == clock.now  # signed after the wait, not before


def test_a_signature_made_once_is_refused_after_the_wait(
    sandbox: tuple[Sandbox, PathSimulator], clock: FakeClock
) -> None:
    """The control: without a signature per attempt, the same scenario fails."""
    server, _ = sandbox
    with bridge_for(SignOncePathProvider(clock), server, clock) as bridge:
        with pytest.raises(RequestRejected) as info:
            bridge.status("pathtoy", user_id="rate-limited-2")
    assert info.value.http_status == 401
    assert clock.slept == [RETRY_AFTER]


def test_every_attempt_is_signed_with_its_own_time(
    sandbox: tuple[Sandbox, PathSimulator], clock: FakeClock
) -> None:
    server, _ = sandbox
    provider = ClockedPathProvider(clock)
    signed_at: list[float] = []
    original = provider.sign

    def recording_sign(request, settings, now):  # type: ignore[no-untyped-def]
        signed_at.append(now)
        return original(request, settings, now)

    provider.sign = recording_sign  # type: ignore[method-assign]
    with bridge_for(provider, server, clock) as bridge:
        bridge.status("pathtoy", user_id="rate-limited-3")
    start = clock.now - RETRY_AFTER
    assert signed_at == [start, start + RETRY_AFTER]
