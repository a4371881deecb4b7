"""A lost PostgreSQL connection is a typed error a worker survives, never a dead thread.

The server terminates the store's backends (as a restart or an administrator would); the
next store call raises :class:`StoreUnavailable` (not a raw driver error), the pool replaces
the broken connection, and a scheduler run carries on polling afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from tracking_support import FakeClock, pg_schema_url

from kycbridge.sandbox import Sandbox
from kycbridge.tracking import Policy, Scheduler, StoreUnavailable, open_store
from kycbridge.transport import Transport

FAST = Policy(jitter=0.0, lease=60)
APPROVED = "approved@sandbox.starkfi.test"


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from pg_schema_url()


def _terminate_backends_of(store: object, pg_url: str) -> int:
    with store._read() as cur:  # type: ignore[attr-defined]
        pids = {cur.execute("SELECT pg_backend_pid()").fetchone()[0]}
    with psycopg.connect(pg_url, autocommit=True) as admin:
        for pid in pids:
            # waits (up to 60 s) until the backend is gone, so the next call surely meets it
            admin.execute("SELECT pg_terminate_backend(%s, 60000)", (pid,))
            gone = admin.execute(
                "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone()
            assert gone is not None and gone[0]
    return len(pids)


def test_a_terminated_connection_is_store_unavailable_then_recovers(pg_url: str) -> None:
    store = open_store(pg_url)
    subject = store.add("starkfi", {"email": APPROVED}, APPROVED, now=1.0)
    assert _terminate_backends_of(store, pg_url) == 1
    with pytest.raises(StoreUnavailable) as info:
        store.get(subject.id)
    assert "lost the database" in str(info.value)
    assert store.get(subject.id).id == subject.id  # a fresh connection from the pool
    store.close()


def test_a_scheduler_run_survives_a_lost_connection(pg_url: str) -> None:
    store = open_store(pg_url)
    clock = FakeClock()
    subject = store.add("starkfi", {"email": APPROVED}, APPROVED, now=clock.now)
    with Sandbox.from_installed() as sandbox:
        transport = Transport(retries=0, read_timeout=5)
        with sandbox.bridge(transport=transport, env={}) as bridge:
            scheduler = Scheduler(store, bridge, policy=FAST, clock=clock)
            _terminate_backends_of(store, pg_url)
            assert scheduler.run(once=True) == 0  # the claim met the lost connection: logged
            assert scheduler.run(once=True) == 1  # and the next run polls as usual
    polled = store.get(subject.id)
    assert polled.last_observed is not None and polled.lease_owner is None
    assert len(store.history(subject.id)) == 1
    store.close()
