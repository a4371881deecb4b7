"""Worker processes share one token per credential through Redis: one exchange per expiry.

Four worker PROCESSES (``credentials_worker.py``) ask Transak's simulator at fake times the
test chooses; the simulator (in this process, on the same fake clock) counts exchanges.
Redis is the real server (``KYCBRIDGE_TEST_REDIS_URL``): unreachable fails, never skips.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tracking_support import REDIS_URL, FakeClock, redis_key_prefix

from kycbridge.credentials import CredentialCache, RedisTokenStore, Token
from kycbridge.sandbox import Sandbox
from kycbridge_transak.simulator import TOKEN_LIFETIME, TransakSimulator

WORKER = Path(__file__).with_name("credentials_worker.py")
WORKERS = 4


@pytest.fixture
def prefix() -> Iterator[str]:
    yield from redis_key_prefix()


class Workers:
    def __init__(self, sandbox_url: str, prefix: str) -> None:
        self.procs = [
            subprocess.Popen(
                [sys.executable, str(WORKER), sandbox_url, REDIS_URL, prefix],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(WORKERS)
        ]
        for proc in self.procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"

    def call_all(self, now: float) -> list[str]:
        """Every worker asks once at ``now``, all at the same time; their answers."""
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(f"call {now!r}\n")
            proc.stdin.flush()
        answers = []
        for proc in self.procs:
            assert proc.stdout is not None
            answers.append(proc.stdout.readline().strip())
        return answers

    def close(self) -> None:
        for proc in self.procs:
            if proc.stdin is not None:
                proc.stdin.close()
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_four_processes_one_exchange_per_expiry(prefix: str) -> None:
    clock = FakeClock()
    sim = TransakSimulator(clock=clock)
    with Sandbox([sim]) as sandbox:
        workers = Workers(sandbox.url("transak"), prefix)
        try:
            t0 = clock.now
            assert workers.call_all(t0) == ["ok submitted"] * WORKERS
            assert sim.exchanges == 1
            clock.now = t0 + TOKEN_LIFETIME / 2  # well within the lifetime: reused
            assert workers.call_all(clock.now) == ["ok submitted"] * WORKERS
            assert sim.exchanges == 1
            first_expiry = t0 + TOKEN_LIFETIME
            clock.now = first_expiry - 100  # inside every worker's (jittered) refresh margin
            assert workers.call_all(clock.now) == ["ok submitted"] * WORKERS
            assert sim.exchanges == 2
            clock.now = first_expiry + TOKEN_LIFETIME  # the second token has expired
            assert workers.call_all(clock.now) == ["ok submitted"] * WORKERS
            assert sim.exchanges == 3
            for _ in range(3):
                assert workers.call_all(clock.now) == ["ok submitted"] * WORKERS
            assert sim.exchanges == 3
        finally:
            workers.close()


def test_lock_holder_elsewhere_is_waited_for_then_its_token_used(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    clock = FakeClock()
    slept: list[float] = []
    store = RedisTokenStore(client, prefix=prefix, clock=clock, poll=0.01)
    lock = store.name("k") + ":lock"
    client.set(lock, "another-process", px=60_000)
    theirs = Token("their-token-0123456789", clock.now + 3600, clock.now)

    def sleep(seconds: float) -> None:  # the other process finishes while we wait
        slept.append(seconds)
        store._store(store.name("k"), theirs)
        client.delete(lock)

    store.sleep = sleep
    cache = CredentialCache(shared=store, clock=clock)

    def obtain() -> Token:
        raise AssertionError("must not exchange: another process holds the lock")

    assert cache.token("k", obtain).value == theirs.value
    assert slept
    client.close()


def test_redis_unreachable_falls_back_to_exchanging_here() -> None:
    import redis

    client = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    cache = CredentialCache(shared=RedisTokenStore(client), clock=FakeClock())
    token = Token("local-token-0123456789", 1_800_003_600.0, 1_800_000_000.0)
    assert cache.token("k", lambda: token) is token
