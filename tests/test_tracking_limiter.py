"""The Redis rate limiter, against the real Redis: atomic slots, shared by every client."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from tracking_support import REDIS_URL, redis_key_prefix

import kycbridge
from kycbridge.ratelimit import Limiter, RateLimiter
from kycbridge.sandbox import Sandbox
from kycbridge.tracking.limiters import (
    RedisLimiter,
    RedisLimiterFactory,
    limiter_factory,
    settings_fingerprint,
)

US = 1e-6


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    yield from redis_key_prefix()


def client() -> Any:
    return redis.Redis.from_url(REDIS_URL)


def test_concurrent_acquires_get_distinct_evenly_spaced_slots(redis_prefix: str) -> None:
    waits: list[float] = []
    # no real sleeping: the slots Redis hands out are what is checked
    limiters = [
        RedisLimiter(client(), redis_prefix + "k", rate=50.0, sleep=waits.append)
        for _ in range(4)  # four clients, as four processes would have
    ]
    start = threading.Barrier(8)

    def worker(limiter: RedisLimiter) -> None:
        start.wait()
        for _ in range(25):
            limiter.acquire()

    threads = [threading.Thread(target=worker, args=(limiters[i % 4],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    slots = sorted(s for lim in limiters for s in lim.granted)
    assert len(slots) == 200 and len(set(slots)) == 200
    interval = 1.02 / 50.0
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert min(gaps) >= interval - 2 * US  # never two calls closer than the interval


def test_waits_follow_the_injected_clock(redis_prefix: str) -> None:
    now = [1000.0]
    slept: list[float] = []
    lim = RedisLimiter(
        client(), redis_prefix + "k", rate=10.0, clock=lambda: now[0], sleep=slept.append
    )
    waits = [lim.acquire() for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.102, 0.204, 0.306], abs=2 * US)
    assert slept == pytest.approx([0.102, 0.204, 0.306], abs=2 * US)
    lim.defer(10.0)
    assert lim.acquire() == pytest.approx(10.0, abs=2 * US)
    now[0] += 100.0  # idle for long: no debt, no burst beyond one slot
    assert lim.acquire() == 0.0
    assert lim.acquire() == pytest.approx(0.102, abs=2 * US)
    lim.defer(0.01)  # shorter than the queue already there: changes nothing
    assert lim.acquire() == pytest.approx(0.204, abs=2 * US)


def test_keys_are_per_provider_and_credentials(redis_prefix: str) -> None:
    now = [5.0]
    factory = RedisLimiterFactory(
        client(),
        prefix=redis_prefix,
        clock=lambda: now[0],
        sleep=lambda s: None,
        identity=lambda p: f"id-{p}",
    )
    a1, a2 = factory("starkfi", 10.0), factory("starkfi", 10.0)
    b = factory("transak", 10.0)
    assert isinstance(a1, Limiter)
    assert a1.acquire() == 0.0
    assert a2.acquire() == pytest.approx(0.102, abs=2 * US)  # same key: shared
    assert b.acquire() == 0.0  # another provider: its own limit
    assert factory.key("starkfi") == f"{redis_prefix}ratelimit:starkfi:id-starkfi"
    keys = {k.decode() for k in client().scan_iter(match=redis_prefix + "*")}
    assert keys == {factory.key("starkfi"), factory.key("transak")}


def test_fingerprint_names_the_key_not_the_secret() -> None:
    from kycbridge_starkfi.query import StarkFiSettings

    one = settings_fingerprint(StarkFiSettings(api_key="sk_live_aaaaaaaa"))
    two = settings_fingerprint(StarkFiSettings(api_key="sk_live_bbbbbbbb"))
    assert one != two and len(one) == 16 and "sk_live" not in one
    assert settings_fingerprint(StarkFiSettings(api_key="sk_live_aaaaaaaa")) == one


def test_urls_select_the_backend(redis_prefix: str) -> None:
    assert isinstance(limiter_factory(None)("p", 5.0), RateLimiter)
    assert isinstance(limiter_factory("memory://")("p", 5.0), RateLimiter)
    made = limiter_factory(f"{REDIS_URL}?prefix={redis_prefix}")
    assert isinstance(made, RedisLimiterFactory) and made.prefix == redis_prefix
    assert isinstance(made("p", 5.0), RedisLimiter)
    with pytest.raises(kycbridge.InvalidQuery):
        limiter_factory("memcached://x")
    with pytest.raises(kycbridge.InvalidQuery) as caught:
        limiter_factory("ftp://user:s3cret@host/")
    assert "s3cret" not in str(caught.value)


def test_a_bridge_calls_through_the_shared_limiter(redis_prefix: str) -> None:
    factory = limiter_factory(f"{REDIS_URL}?prefix={redis_prefix}")
    with Sandbox.from_installed() as sandbox:
        bridge = sandbox.bridge(limiter_factory=factory, env={})
        limiter = bridge.rate_limiter("starkfi")
        assert isinstance(limiter, RedisLimiter)
        report = bridge.status("starkfi", email="approved@sandbox.starkfi.test")
        assert report.state is kycbridge.KYCState.NOT_STARTED
        assert limiter.grants == 1
        bridge.close()


def test_a_slot_too_far_away_is_refused_and_not_taken(redis_prefix: str) -> None:
    """A caller's deadline reaches the shared limiter: the script refuses, atomically."""
    now = [1_000.0]
    limiter = RedisLimiter(
        client(), redis_prefix + "maxwait", 1.0, clock=lambda: now[0], sleep=lambda s: None
    )
    assert limiter.acquire(max_wait=0.5) == 0  # free now
    with pytest.raises(TimeoutError):
        limiter.acquire(max_wait=0.5)  # the next slot is 1.02 s away
    assert limiter.grants == 1  # the refused slot was not taken...
    assert limiter.acquire() == pytest.approx(1.02)  # ...so the next caller gets it
