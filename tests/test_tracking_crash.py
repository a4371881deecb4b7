"""Several worker PROCESSES on PostgreSQL + Redis; one is killed with SIGKILL mid-lease.

Every due subject must still be polled (the dead worker's leases expire and others take
them), and no transition may be lost or recorded twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import psycopg
import pytest
import redis
from tracking_support import REDIS_URL, TEN_SUBJECTS, pg_schema_url, redis_key_prefix

from kycbridge.sandbox import Sandbox
from kycbridge.tracking import open_store
from kycbridge_starkfi.simulator import StarkFiSimulator

GOOD = [*TEN_SUBJECTS, "pending"]
DEADLINE = 120.0  # seconds; the work takes a few


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from pg_schema_url()


@pytest.fixture
def prefix() -> Iterator[str]:
    yield from redis_key_prefix()


def _wait(condition, what: str, timeout: float = DEADLINE) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_killed_worker_loses_nothing(pg_url: str, prefix: str) -> None:
    store = open_store(pg_url)
    emails = [f"{g}@sandbox.starkfi.test" for g in GOOD]
    emails += [f"nobody{i}@sandbox.starkfi.test" for i in range(25)]  # 404: a failed poll
    now = time.time()
    ids = {store.add("starkfi", {"email": e}, e, now=now).id: e for e in emails}
    good_ids = [i for i, e in ids.items() if not e.startswith("nobody")]

    sim = StarkFiSimulator(latency=0.25, rate_limit=None)
    with Sandbox([sim]) as sandbox:
        env = {
            **os.environ,
            "KYCBRIDGE_STARKFI_BASE_URL": sandbox.url("starkfi"),
            "KYCBRIDGE_STARKFI_API_KEY": "sk_sandbox_starkfi",
        }
        command = [
            sys.executable,
            "-m",
            "kycbridge.tracking.cli",
            "run",
            "--db",
            pg_url,
            "--limiter",
            f"{REDIS_URL}?prefix={prefix}",
            "--workers",
            "2",
            "--batch",
            "3",
            "--lease",
            "3",
            "--idle",
            "0.2",
        ]
        procs = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(3)
        ]
        victim = procs[0]
        # The limiter's keys live about a second past their last use (the GCRA key's TTL), so
        # they are looked for while the workers poll, every time the leases are, not after.
        client = redis.Redis.from_url(REDIS_URL)
        seen_keys: set[str] = set()
        try:
            conn = psycopg.connect(pg_url, autocommit=True)

            def held() -> list[int]:
                seen_keys.update(k.decode() for k in client.scan_iter(match=prefix + "*"))
                rows = conn.execute(
                    "SELECT id FROM subjects WHERE lease_owner LIKE %s",
                    (f"%:{victim.pid}:%",),
                ).fetchall()
                return [r[0] for r in rows]

            def caught_holding() -> bool:
                # Freeze the victim, then look: a lease seen while it is stopped is still held
                # when SIGKILL lands (no race with the victim finishing its batch, however
                # slow or busy the machine). Not holding one: let it run and look again.
                victim.send_signal(signal.SIGSTOP)
                if held():
                    return True
                victim.send_signal(signal.SIGCONT)
                time.sleep(0.02)
                return False

            _wait(caught_holding, "the victim to hold a lease")
            orphaned = held()  # leased to a process that is stopped, then killed
            victim.send_signal(signal.SIGKILL)
            victim.wait(30)
            assert orphaned

            def all_polled() -> bool:
                seen_keys.update(k.decode() for k in client.scan_iter(match=prefix + "*"))
                row = conn.execute(
                    "SELECT count(*) FROM subjects WHERE last_observed IS NULL AND failures = 0"
                ).fetchone()
                return row[0] == 0

            _wait(all_polled, "every subject to be polled")
            for proc in procs[1:]:
                proc.send_signal(signal.SIGTERM)
            for proc in procs[1:]:
                assert proc.wait(60) == 0, proc.stderr.read().decode(errors="replace")
            left = conn.execute(
                "SELECT count(*) FROM subjects WHERE lease_owner IS NOT NULL"
                " AND lease_owner NOT LIKE %s",
                (f"%:{victim.pid}:%",),
            ).fetchone()[0]
            assert left == 0  # SIGTERM released what the survivors held
            conn.close()
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(30)
                proc.stdout.close()
                proc.stderr.close()

    for subject_id in orphaned:
        s = store.get(subject_id)
        assert s.last_observed is not None or s.failures > 0
        assert s.lease_owner is None or str(victim.pid) not in s.lease_owner
    for subject_id in good_ids:
        history = store.history(subject_id)
        # polled once (next check is far off): exactly one recorded transition, None -> state
        assert len(history) == 1 and history[0].old_state is None, (subject_id, history)
    for subject_id, email in ids.items():
        if email.startswith("nobody"):
            s = store.get(subject_id)
            assert s.last_error == "not_found" and store.history(subject_id) == []
    store.close()
    client.close()
    # the workers shared one limit through Redis, under the test's own key prefix
    assert seen_keys and all(k.startswith(prefix + "ratelimit:starkfi:") for k in seen_keys)
