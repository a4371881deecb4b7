"""Fixtures and helpers shared by the ``test_tracking_*`` modules.

PostgreSQL and Redis are the real servers: ``KYCBRIDGE_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``) and ``KYCBRIDGE_TEST_REDIS_URL`` (default
``redis://127.0.0.1:6379/0``). Each test gets a PostgreSQL schema and a Redis key prefix of
its own, dropped afterwards, so tests can run in parallel. An unreachable server FAILS the
test with a message saying which URL to fix (a skip would hide it).
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from urllib.parse import quote

import pytest

PG_URL = os.environ.get("KYCBRIDGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("KYCBRIDGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def with_search_path(url: str, schema: str) -> str:
    """``url`` whose connections use ``schema`` (libpq ``options=-csearch_path=...``)."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote('-csearch_path=' + schema)}"


def pg_schema_url() -> Iterator[str]:
    """A URL on a fresh schema of the test PostgreSQL, dropped when the generator closes."""
    import psycopg

    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except Exception as exc:
        pytest.fail(
            f"PostgreSQL is unreachable at KYCBRIDGE_TEST_POSTGRES_URL={PG_URL} "
            f"({type(exc).__name__}: {exc}); start it or point the variable at one",
            pytrace=False,
        )
    name = "t_" + secrets.token_hex(6)
    admin.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield with_search_path(PG_URL, name)
    finally:
        admin.execute(f'DROP SCHEMA "{name}" CASCADE')
        admin.close()


def redis_key_prefix() -> Iterator[str]:
    """A key prefix of its own on the test Redis; its keys are deleted when it closes."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        client.ping()
    except Exception as exc:
        pytest.fail(
            f"Redis is unreachable at KYCBRIDGE_TEST_REDIS_URL={REDIS_URL} "
            f"({type(exc).__name__}: {exc}); start it or point the variable at one",
            pytrace=False,
        )
    prefix = f"kycbridge-test-{secrets.token_hex(6)}:"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()


class FakeClock:
    """Seconds since the epoch, moved only by the test; thread-safe."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


TEN_SUBJECTS = (
    "approved",
    "declined",
    "blocklisted",
    "abandoned",
    "expired",
    "kyc-expired",
    "resubmitted",
    "awaiting-user",
    "unknown-status",
    "instant-approved",
)
"""Ten StarkFi sandbox subjects (``<name>@sandbox.starkfi.test``), each answered at once."""
