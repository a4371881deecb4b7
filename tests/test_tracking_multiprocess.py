"""Worker PROCESSES sharing PostgreSQL and Redis, judged on what the servers RECORDED.

* Four ``kycbridge track run`` processes on one database: the sandbox records every request
  (which process, which subject) and a test-only trigger records every claim; each due
  subject is asked exactly once, claimed exactly once, by the process that asked.
* Four processes' bridges share one Redis rate limit: the slots Redis granted are spaced by
  the limiter's interval, and what the sandbox received stays within the limit.
* ``Bridge.fetch(observe=False)`` fires no hook and leaves the bridge's memory alone (the
  scheduler fires hooks from what the database recorded instead).

No assertion depends on how fast the machine is: every wait is bounded by a generous
deadline, and the checks are on recorded slots, requests and rows.
"""

from __future__ import annotations

import collections
import itertools
import json
import math
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import IO, Any

import pytest
from tracking_support import REDIS_URL, pg_schema_url, redis_key_prefix

import kycbridge
from kycbridge.sandbox import Sandbox, SimRequest, SimResponse

DEADLINE = 120.0
"""Seconds any one wait may take before the test fails (the work takes a few)."""
PROCESSES = 4


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from pg_schema_url()


@pytest.fixture
def prefix() -> Iterator[str]:
    yield from redis_key_prefix()


class Child:
    """A subprocess whose stdout and stderr lines are read by threads (never a blocked pipe)."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            args,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: dict[str, queue.Queue[str | None]] = {
            "out": queue.Queue(),
            "err": queue.Queue(),
        }
        self.seen: dict[str, list[str]] = {"out": [], "err": []}
        self._threads = [
            threading.Thread(target=self._pump, args=(name, stream), daemon=True)
            for name, stream in (("out", self.proc.stdout), ("err", self.proc.stderr))
        ]
        for thread in self._threads:
            thread.start()

    def _pump(self, name: str, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            self.seen[name].append(line)
            self.lines[name].put(line)
        self.lines[name].put(None)

    def expect(self, name: str, start: str) -> str:
        """The next line of stream ``name`` starting with ``start`` (fails past the deadline)."""
        end = time.monotonic() + DEADLINE
        while True:
            try:
                line = self.lines[name].get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {start!r} line within {DEADLINE} s") from None
            if line is None:
                raise AssertionError(f"exited before a {start!r} line: {self.diagnostics()}")
            if line.startswith(start):
                return line

    def finish(self) -> int:
        """Wait for the exit (bounded) and for both streams to end; return the exit code."""
        code = self.proc.wait(DEADLINE)
        for thread in self._threads:
            thread.join(DEADLINE)
        return code

    def diagnostics(self) -> str:
        return "".join(self.seen["err"][-20:])

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(DEADLINE)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def _wait(condition: Any, what: str) -> None:
    end = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


# -- 1. no subject polled twice by different processes -------------------------------------


class Door:
    """A StarkFi look-alike under its own path prefix, one per worker process.

    Every process gets its own door (its ``base_url``), so each recorded request names the
    process that sent it. Each door's first request is held by the :class:`Gate` until every
    process has sent one: all the processes are at work at once before anything is answered.
    """

    def __init__(self, name: str, log: list[tuple[str, str]], gate: Gate) -> None:
        self.name = name
        self.settings: dict[str, str] = {}
        self.scenarios = ()
        self._log = log
        self._gate = gate

    def handle(self, request: SimRequest) -> SimResponse:
        from kycbridge_starkfi.simulator import SANDBOX_API_KEY, Step, success_body

        email = request.param("email") or ""
        self._log.append((self.name, email))  # list.append is atomic
        self._gate.first(self.name)
        if request.path != "/kyc/status" or request.headers.get("x-api-key") != SANDBOX_API_KEY:
            return SimResponse.json(401, {"message": "wrong path or key"})
        return SimResponse.json(200, success_body(Step(session_status="In Review"), email))

    def reset(self) -> None:
        pass


class Gate:
    """Holds each door's first request until every door has one (bounded: GATE seconds)."""

    GATE = 5.0
    """Below the CLI transport's 10 s read timeout: a held request is never sent twice."""

    def __init__(self, parties: int) -> None:
        self._barrier = threading.Barrier(parties)
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def first(self, door: str) -> None:
        with self._lock:
            if door in self._seen:
                return
            self._seen.add(door)
        try:
            self._barrier.wait(self.GATE)
        except threading.BrokenBarrierError:
            pass  # a process is slow to start: answer anyway (the assertions will tell)


CLAIM_LOG = """
CREATE TABLE claim_log (subject_id BIGINT NOT NULL, owner TEXT NOT NULL);
CREATE FUNCTION log_claim() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO claim_log VALUES (NEW.id, NEW.lease_owner);
  RETURN NEW;
END $$;
CREATE TRIGGER log_claim AFTER UPDATE OF lease_owner ON subjects FOR EACH ROW
  WHEN (NEW.lease_owner IS NOT NULL AND NEW.lease_owner IS DISTINCT FROM OLD.lease_owner)
  EXECUTE FUNCTION log_claim();
"""
"""Test-only: every lease taken on a subject, by whom (the store itself keeps only the last)."""


def test_four_processes_poll_each_due_subject_exactly_once(pg_url: str) -> None:
    import psycopg

    from kycbridge.tracking import open_store

    subjects = 300
    store = open_store(pg_url)
    not_yet = time.time() + 10 * 86400.0  # added not due: due only once every process is up
    emails = [f"user{i}@many.example.com" for i in range(subjects)]
    ids = {store.add("starkfi", {"email": e}, e, now=not_yet).id: e for e in emails}
    store.close()
    conn = psycopg.connect(pg_url, autocommit=True)
    conn.execute(CLAIM_LOG)

    log: list[tuple[str, str]] = []
    gate = Gate(PROCESSES)
    doors = [Door(f"w{n}", log, gate) for n in range(PROCESSES)]
    children: list[Child] = []
    with Sandbox(doors) as sandbox:
        try:
            for door in doors:
                env = {k: v for k, v in os.environ.items() if not k.startswith("KYCBRIDGE_")}
                env["KYCBRIDGE_STARKFI_BASE_URL"] = sandbox.url(door.name)
                env["KYCBRIDGE_STARKFI_API_KEY"] = "sk_sandbox_starkfi"
                command = [sys.executable, "-m", "kycbridge.tracking.cli", "run", "--db", pg_url]
                command += ["--workers", "2", "--batch", "5", "--idle", "0.1"]
                children.append(Child(command, env))
            # "kycbridge track run: URL, 2 worker(s), owner HOST:PID:RANDOM": up and polling
            owners = [
                c.expect("err", "kycbridge track run:").split("owner ")[1].strip() for c in children
            ]
            conn.execute("UPDATE subjects SET next_check = %s", (time.time() - 1.0,))

            def all_observed() -> bool:
                row = conn.execute(
                    "SELECT count(*) FROM subjects WHERE last_observed IS NULL"
                ).fetchone()
                return row is not None and row[0] == 0

            _wait(all_observed, "every subject to be polled")
            for child in children:
                child.proc.send_signal(signal.SIGTERM)
            for child in children:
                assert child.finish() == 0, child.diagnostics()
        finally:
            for child in children:
                child.kill()

    # The sandbox: every subject asked exactly once, and every process asked some.
    asked = collections.Counter(email for _, email in log)
    assert set(asked) == set(emails)
    assert [e for e, n in asked.items() if n != 1] == []
    door_of = {email: door for door, email in log}
    assert {door for door, _ in log} == {d.name for d in doors}

    # The store: every subject leased exactly once, to the process that asked the sandbox.
    claims = conn.execute("SELECT subject_id, owner FROM claim_log").fetchall()
    claimed = collections.Counter(subject_id for subject_id, _ in claims)
    assert set(claimed) == set(ids) and [i for i, n in claimed.items() if n != 1] == []
    process_of = {owner: f"w{n}" for n, owner in enumerate(owners)}
    for subject_id, owner in claims:
        assert process_of[owner.rsplit("/", 1)[0]] == door_of[ids[subject_id]]

    # One recorded transition each (None -> in_review); every lease released, no failure.
    rows = conn.execute("SELECT subject_id, old_state, new_state FROM observations").fetchall()
    assert sorted(r[0] for r in rows) == sorted(ids)
    assert {(r[1], r[2]) for r in rows} == {(None, "in_review")}
    left = conn.execute(
        "SELECT count(*) FROM subjects WHERE lease_owner IS NOT NULL OR failures > 0"
        " OR next_check <= %s",
        (time.time(),),
    ).fetchone()
    assert left is not None and left[0] == 0
    conn.close()


# -- 2. the shared rate limit holds across processes ---------------------------------------

RATE = 20.0
"""Calls per second the child processes' provider declares (its ``rate_limit``)."""
CALLS = 20
"""Calls per child process: 80 in all, about 4 s at the limit."""


class Arrivals:
    """The toy API, recording each request's subject and arrival (the sandbox's monotonic clock)."""

    name = "toy"
    settings: dict[str, str] = {}
    scenarios = ()

    def __init__(self) -> None:
        self.log: list[tuple[str, float]] = []

    def handle(self, request: SimRequest) -> SimResponse:
        self.log.append((request.param("subject") or "", time.monotonic()))
        return SimResponse.json(200, {"state": "REVIEW"})

    def reset(self) -> None:
        pass


def test_the_shared_rate_limit_holds_across_processes(prefix: str) -> None:
    sim = Arrivals()
    children: list[Child] = []
    with Sandbox([sim]) as sandbox:
        try:
            for n in range(PROCESSES):
                args = [sys.executable, __file__, "limit-child", sandbox.url("toy")]
                args += [REDIS_URL, prefix, str(CALLS), f"p{n}"]
                children.append(Child(args))
            ready = [json.loads(c.expect("out", "{")) for c in children]
            for child in children:  # all at once: the processes compete for the same slots
                assert child.proc.stdin is not None
                child.proc.stdin.write("go\n")
                child.proc.stdin.flush()
            results = [json.loads(c.expect("out", "{")) for c in children]
            for child in children:
                assert child.finish() == 0, child.diagnostics()
        finally:
            for child in children:
                child.kill()

    # One Redis key for all: same provider, same credentials fingerprint.
    keys = {r["key"] for r in ready}
    assert len(keys) == 1 and keys.pop().startswith(prefix + "ratelimit:toy:")

    # (a) The slots Redis granted, merged: never closer than the interval; and exactly one
    # interval apart whenever the slot was queued (wait > 0: GCRA took the next free slot).
    # A slot granted at once (wait 0: nobody was queued) may follow a longer idle gap.
    interval = 1.02 / RATE
    grants = sorted((slot, wait) for r in results for slot, wait in r["grants"])
    slots = [slot for slot, _ in grants]
    assert len(slots) == PROCESSES * CALLS and len(set(slots)) == len(slots)
    gaps = [(b - a, wait) for (a, _), (b, wait) in itertools.pairwise(grants)]
    assert min(gap for gap, _ in gaps) >= interval - 2e-6  # µs rounding in Redis
    queued = [gap for gap, wait in gaps if wait > 0]
    assert queued, "no slot was ever queued: the processes never competed"
    assert max(abs(gap - interval) for gap in queued) <= 2e-6
    queued_rate = len(queued) / sum(queued)
    assert abs(queued_rate - RATE) / RATE <= 0.02  # 1.02 / rate apart: 1.96 % below the rate
    assert (len(slots) - 1) / (slots[-1] - slots[0]) <= RATE  # overall: never above it

    # (b) What the sandbox received: each call once, and in any 1-second window no more than
    # the slots a window can hold plus ONE PER PROCESS. The tolerance: a process sends after
    # its slot, possibly late (the machine is busy), so a send may land in a later window
    # than its slot; but a process sends one call at a time and asks for its next slot only
    # after the answer, so at most one late send per process lands in any window.
    subjects = collections.Counter(subject for subject, _ in sim.log)
    assert len(subjects) == PROCESSES * CALLS and set(subjects.values()) == {1}
    arrivals = sorted(at for _, at in sim.log)
    per_window = math.floor(1.0 / interval) + 1  # 20 slots fit in 1 s at 1.02 / 20 apart
    assert per_window == RATE
    busiest = max(
        sum(1 for later in arrivals[i:] if later < start + 1.0) for i, start in enumerate(arrivals)
    )
    assert busiest <= per_window + PROCESSES, busiest


def _limit_child(base_url: str, redis_url: str, prefix: str, calls: int, tag: str) -> int:
    """One process of the rate-limit test: a bridge on the shared Redis limiter.

    Prints ``{"key": ...}`` when ready, waits for a line on stdin, makes ``calls`` calls one
    after the other, then prints ``{"grants": [[slot, wait], ...]}`` (Redis's clock).
    """
    import redis
    from toy import TOY_TOKEN, ToyProvider

    from kycbridge.ratelimit import Limiter
    from kycbridge.tracking.limiters import RedisLimiter, RedisLimiterFactory, settings_fingerprint
    from kycbridge.transport import Transport

    class LimitedToy(ToyProvider):
        rate_limit = RATE

    class plugin:
        @staticmethod
        @kycbridge.hookimpl
        def register_providers(register: Any) -> None:
            register(LimitedToy())

    grants: list[tuple[float, float]] = []

    class Recorded:
        """The Redis limiter, noting each grant's slot and wait (one call at a time here)."""

        def __init__(self, inner: RedisLimiter) -> None:
            self.inner = inner

        def acquire(self, max_wait: float | None = None) -> float:
            wait = self.inner.acquire(max_wait)
            grants.append((self.inner.granted[-1], wait))
            return wait

        def defer(self, seconds: float) -> None:
            self.inner.defer(seconds)

    factory = RedisLimiterFactory(redis.Redis.from_url(redis_url), prefix=prefix)

    def limiter(name: str, rate: float) -> Limiter:
        inner = factory(name, rate)
        assert isinstance(inner, RedisLimiter)
        return Recorded(inner)

    bridge = kycbridge.Bridge(
        [plugin],
        settings={"toy": {"base_url": base_url}},
        transport=Transport(retries=0, read_timeout=60),
        env={},
        limiter_factory=limiter,
    )
    factory.identity = lambda name: settings_fingerprint(bridge.settings(name))
    bridge.rate_limiter("toy")  # route and limiter made before the start
    print(json.dumps({"key": factory.key("toy")}), flush=True)
    sys.stdin.readline()
    for n in range(calls):
        bridge.status("toy", subject=f"{tag}-{n}", token=TOY_TOKEN)
    print(json.dumps({"grants": grants}), flush=True)
    bridge.close()
    return 0


# -- 3. observe=False ------------------------------------------------------------------------


def test_fetch_without_observe_fires_no_hook_and_keeps_no_memory() -> None:
    from toy import TOY_TOKEN, ToySimulator, toy_plugin

    changes: list[tuple[Any, Any]] = []

    class Hooks:
        @kycbridge.hookimpl
        def state_changed(self, old: Any, new: Any, report: Any, anomaly: bool) -> None:
            changes.append((old, new))

        @kycbridge.hookimpl
        def status_observed(self, report: Any) -> None:
            changes.append(("observed", report.state))

    sim = ToySimulator()
    sim.scripts["s1"] = ["REVIEW", "OK"]
    with Sandbox([sim]) as sandbox:
        bridge = sandbox.bridge([toy_plugin], env={}, hooks=[Hooks()])
        query = bridge.query("toy", subject="s1", token=TOY_TOKEN)
        quiet = bridge.fetch("toy", query, observe=False)
        assert quiet.state is kycbridge.KYCState.IN_REVIEW and changes == []
        # REVIEW -> OK is expected, but the bridge never saw REVIEW: None -> approved
        loud = bridge.fetch("toy", query)
        assert loud.state is kycbridge.KYCState.APPROVED
        assert changes == [("observed", loud.state), (None, loud.state)]
        bridge.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["limit-child"]:
        base, url, key_prefix, count, name = sys.argv[2:7]
        sys.exit(_limit_child(base, url, key_prefix, int(count), name))
    sys.exit(f"usage: {sys.argv[0]} limit-child BASE_URL REDIS_URL PREFIX CALLS TAG")
