"""Tracking: the store's cost per poll, worker processes scaling, claim cost against table size.

``tracking[<store> poll]``
    Polls per second of one worker as shipped (:meth:`Tracker.run_once <kycbridge.tracking.
    Tracker.run_once>`, one thread: claim a batch, poll each subject, record the answers in
    groups of up to 10 a transaction, ``group=10, group_wait=0.1``) against a sandbox
    answering at once, on SQLite (a file) and on PostgreSQL. Baseline: the same number of
    ``Bridge.fetch`` calls with no store. Each round tracks fresh subjects, all due; rounds
    alternate. Target: at least 1,000 polls a second per worker.
``tracking[<store> poll group 1]``
    The same, each poll recorded in a transaction of its own (``--group 1``), in the same
    rounds: what one durable commit per poll costs. Informational.
``tracking[<store> store per poll]``
    The store's overhead per poll as shipped (claim + write + release: the first line's time
    per poll less the baseline's, round by round, median). Target: at most 1 ms, i.e. the
    store alone makes at least 1,000 polls a second per worker.
``tracking[scaling xN]``
    Polls per second of N worker processes (1, 2, 4) on one PostgreSQL database, each
    asking a shared Redis rate limiter before every call (its limit set far above the rate
    reached), against a sandbox answering after 20 ms. A worker is I/O-bound, so N workers
    should come close to N times one. Each run tracks 600 fresh subjects (claimed 10 at a
    time: 60 claims, so the last claims do not leave 3 of 4 workers idle for long). Target:
    4 workers at least 3.5 times one.
``tracking[<store> claim]``
    The latency of one claim (lease 10 due subjects) in a table of 1,000,000 tracked
    subjects against one of 10,000 (``--quick``: 100,000 against 10,000): 70% final, 29%
    due later, 1% due. The claim reads the partial index on ``next_check`` (final subjects
    have none) in order and stops after 10 rows, so its cost should not grow with the
    table. Target: within 1.5 times.

Needs PostgreSQL (``KYCBRIDGE_TEST_POSTGRES_URL``, default
``postgresql://postgres@127.0.0.1:5432/test``) and Redis (``KYCBRIDGE_TEST_REDIS_URL``,
default ``redis://127.0.0.1:6379/0``); the benchmark works in a schema and a key prefix of
its own, dropped at the end, and SQLite files in a temporary directory.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from common import (
    HERE,
    Options,
    Result,
    fmt_rate,
    fmt_time,
    interleave,
    median,
    sandbox_process,
    starkfi_bridge,
)

from kycbridge.tracking import Tracker, open_store
from kycbridge.tracking.store import Store

NAME = "tracking"
POLL_TARGET = 1_000.0
SCALE_TARGET = 3.5
FLAT_TARGET = 1.5
LATENCY = 0.02
CLAIM_BATCH = 10
ALONE = 1
"""The group size measured beside the default: one transaction per poll (``--group 1``)."""

PG_URL = os.environ.get("KYCBRIDGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("KYCBRIDGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
WORKER_SCRIPT = HERE / "tracking_worker.py"


# -- the servers: a schema and a key prefix of our own ------------------------------------
@contextlib.contextmanager
def pg_schema() -> Iterator[str]:
    """A URL on a new PostgreSQL schema, dropped on exit."""
    import psycopg

    admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    name = "bench_" + secrets.token_hex(6)
    admin.execute(f'CREATE SCHEMA "{name}"')
    try:
        sep = "&" if "?" in PG_URL else "?"
        yield f"{PG_URL}{sep}options={quote('-csearch_path=' + name)}"
    finally:
        admin.execute(f'DROP SCHEMA "{name}" CASCADE')
        admin.close()


@contextlib.contextmanager
def redis_prefix() -> Iterator[str]:
    """A Redis limiter URL with a key prefix of its own; its keys are deleted on exit."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    client.ping()
    prefix = f"kycbridge-bench-{secrets.token_hex(6)}:"
    sep = "&" if "?" in REDIS_URL else "?"
    try:
        yield f"{REDIS_URL}{sep}prefix={quote(prefix)}"
    finally:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()


_EMAILS = itertools.count()


def add_subjects(tracker: Tracker, n: int) -> list[Any]:
    """``n`` new subjects, due at once (any email: the sandbox's Replay answers them all)."""
    queries = []
    for _ in range(n):
        email = f"bench-{next(_EMAILS)}@sandbox.starkfi.test"
        tracker.add("starkfi", email=email)
        queries.append(tracker.bridge.query("starkfi", email=email))
    return queries


# -- (a) the store's cost per poll --------------------------------------------------------
def per_poll(opts: Options) -> list[Result]:
    n, rounds = (100, 2) if opts.quick else (500, 6)
    results = []
    with sandbox_process() as sandbox, tempfile.TemporaryDirectory() as tmp, pg_schema() as pg:
        for label, url in (("sqlite", f"sqlite:///{tmp}/bench.db"), ("postgresql", pg)):
            tracker = Tracker(url, bridge=starkfi_bridge(sandbox.url("fixed")), env={})
            bridge = tracker.bridge
            alone = Tracker(bridge=bridge, store=tracker.store, env={}, group=ALONE)
            shipped = tracker.scheduler.group

            def tracked(by: Tracker) -> Callable[[], float]:
                def measure() -> float:
                    add_subjects(by, n)
                    started = time.perf_counter()
                    polls = by.run_once(workers=1)
                    elapsed = time.perf_counter() - started
                    assert polls == n, (polls, n)
                    return polls / elapsed

                return measure

            def bare() -> float:
                queries = [bridge.query("starkfi", email=f"bare-{i}@x.test") for i in range(n)]  # noqa: B023
                started = time.perf_counter()
                for query in queries:
                    bridge.fetch("starkfi", query)  # noqa: B023
                return n / (time.perf_counter() - started)

            fns = {shipped: tracked(tracker), ALONE: tracked(alone), 0: bare}
            for fn in fns.values():  # warm up: connections, caches
                fn()
            samples: dict[int, list[float]] = {key: [] for key in fns}
            deadline = time.monotonic() + 90
            for i in range(rounds):  # rotate the order: 1 G 0, 0 G 1, ...
                for key in list(fns) if i % 2 == 0 else list(fns)[::-1]:
                    samples[key].append(fns[key]())
                if time.monotonic() > deadline:
                    break
            tracker.close()
            b = samples[0]
            kb = median(b)
            for group in (shipped, ALONE):
                a = samples[group]
                ka = median(a)
                default = group == shipped
                how = (
                    f"the polls recorded up to {group} to a transaction (the default)"
                    if default
                    else "each poll recorded in its own transaction (--group 1)"
                )
                results.append(
                    Result(
                        name=f"{NAME}[{label} poll]"
                        if default
                        else f"{NAME}[{label} poll group 1]",
                        kycbridge=fmt_rate(ka),
                        baseline=fmt_rate(kb),
                        ratio=ka / kb,
                        target=f">= {POLL_TARGET:,.0f}/s" if default else "info",
                        passed=ka >= POLL_TARGET if default else None,
                        target_ratio=POLL_TARGET / kb if default else None,
                        notes=[
                            f"one worker, one thread, {n} due subjects a round, {len(a)} rounds, "
                            f"{how}; the store adds {fmt_time(1 / ka - 1 / kb)} per poll (claim "
                            f"in batches of {CLAIM_BATCH}, record, release) to "
                            f"{fmt_time(1 / kb)} for the call itself (baseline: Bridge.fetch)",
                            f"rounds: {', '.join(f'{x:,.0f}' for x in a)} polls/s",
                        ],
                        data={
                            "kycbridge_per_s": a,
                            "baseline_per_s": b,
                            "subjects_per_round": n,
                            "group": group,
                        },
                    )
                )
                if default:
                    results.append(store_overhead(label, a, b))
    return results


def store_overhead(label: str, tracked: list[float], bare: list[float]) -> Result:
    """The store's own time per poll (claim, record, release), round by round."""
    added = [1 / a - 1 / b for a, b in zip(tracked, bare, strict=True)]
    each = median(added)
    return Result(
        name=f"{NAME}[{label} store per poll]",
        kycbridge=fmt_time(each),
        baseline="-",
        ratio=None,
        target=f"<= {fmt_time(1 / POLL_TARGET)} ({POLL_TARGET:,.0f}/s)",
        passed=each <= 1 / POLL_TARGET,
        notes=[
            f"the store's overhead per poll of the line above (its time per poll less "
            f"Bridge.fetch's, round by round): {1 / each:,.0f} store polls/s; rounds: "
            + ", ".join(fmt_time(x) for x in added)
        ],
        data={"store_seconds_per_poll": added},
    )


# -- (b) worker processes -----------------------------------------------------------------
def run_workers(count: int, db_url: str, limiter_url: str, base_url: str) -> tuple[int, float]:
    """Start ``count`` worker processes, let them go together; polls made and seconds."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER_SCRIPT), db_url, limiter_url, base_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=HERE,
        )
        for _ in range(count)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            if line != "READY":
                raise RuntimeError(f"tracking worker did not start: {line!r}")
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        done = []
        for proc in procs:
            assert proc.stdout is not None
            done.append(json.loads(proc.stdout.readline()))
            proc.wait(timeout=60)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    polls = sum(d["polls"] for d in done)
    return polls, max(d["end"] for d in done) - min(d["start"] for d in done)


def scaling(opts: Options) -> list[Result]:
    n, rounds = (120, 1) if opts.quick else (600, 2)
    counts = (1, 2, 4)
    rates: dict[int, list[float]] = {c: [] for c in counts}
    with sandbox_process("--latency", str(LATENCY)) as sandbox, pg_schema() as pg:
        with redis_prefix() as limiter_url:
            tracker = Tracker(pg, bridge=starkfi_bridge(sandbox.url("slow")), env={})
            order = [c for r in range(rounds) for c in (counts if r % 2 == 0 else counts[::-1])]
            for count in order:
                add_subjects(tracker, n)
                polls, seconds = run_workers(count, pg, limiter_url, sandbox.url("slow"))
                if polls != n:
                    raise RuntimeError(f"{count} workers made {polls} polls of {n}")
                rates[count].append(polls / seconds)
            tracker.close()
    one = median(rates[1])
    results = []
    for count in counts:
        rate = median(rates[count])
        target = count == 4
        results.append(
            Result(
                name=f"{NAME}[scaling x{count}]",
                kycbridge=fmt_rate(rate),
                baseline=fmt_rate(one),
                ratio=rate / one,
                target=f">= {SCALE_TARGET}x one worker" if target else "info",
                passed=rate / one >= SCALE_TARGET if target else None,
                target_ratio=SCALE_TARGET if target else None,
                notes=[
                    f"{count} worker process(es) on PostgreSQL, a Redis rate limiter, "
                    f"{LATENCY * 1000:.0f} ms answers; {n} subjects a run, "
                    f"{len(rates[count])} run(s): "
                    + ", ".join(f"{x:,.1f}" for x in rates[count])
                    + f" polls/s; one process at most {1 / LATENCY:,.0f}/s"
                ],
                data={"per_s": rates[count], "subjects_per_run": n},
            )
        )
    return results


# -- (c) claim cost against table size ----------------------------------------------------
def rows(count: int, now: float, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """``count`` subjects: 70% final (no next check), 29% due later, 1% due (in the past)."""
    for i in range(count):
        kind = rng.random()
        if kind < 0.70:
            state, final, next_check = "approved", True, None
        elif kind < 0.99:
            state, final, next_check = "in_review", False, now + rng.uniform(60, 7 * 86400)
        else:
            state, final, next_check = "in_review", False, now - rng.uniform(1, 3600)
        yield (
            "starkfi",
            json.dumps({"email": f"fill-{i}@x.test"}),
            "f***@x.test",
            f"fill-{i}",
            state,
            state,
            final,
            now - 86400,
            now - 3600,
            next_check,
        )


FILL_COLUMNS = (
    "provider, query_json, subject_masked, subject_hash, state, raw_status, final, first_seen,"
    " last_observed, next_check"
)


def fill_postgres(url: str, count: int, now: float) -> None:
    """``count`` subjects into a migrated PostgreSQL store, by COPY; then ANALYZE."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        with conn.cursor() as cur, cur.copy(f"COPY subjects ({FILL_COLUMNS}) FROM STDIN") as copy:
            for row in rows(count, now, random.Random(count)):
                copy.write_row(row)
        conn.execute("ANALYZE subjects")


def fill_sqlite(path: str, count: int, now: float) -> None:
    """``count`` subjects into a migrated SQLite store, in batches; then ANALYZE."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        marks = ", ".join("?" * len(FILL_COLUMNS.split(",")))
        it = rows(count, now, random.Random(count))
        while batch := list(itertools.islice(it, 20_000)):
            conn.executemany(f"INSERT INTO subjects ({FILL_COLUMNS}) VALUES ({marks})", batch)
            conn.commit()
        conn.execute("ANALYZE")
        conn.commit()
    finally:
        conn.close()


def claim_latency(store: Store, now: float, samples: int) -> Callable[[], float]:
    """A round of ``samples`` claims (each released, untimed); the median seconds per claim."""

    def measure() -> float:
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            claimed = store.claim("bench", now=now, lease=300.0, limit=CLAIM_BATCH)
            times.append(time.perf_counter() - started)
            assert len(claimed) == CLAIM_BATCH
            store.release([s.id for s in claimed], "bench")
        return median(times)

    return measure


def postgres_plan(url: str, now: float) -> str:
    """The plan PostgreSQL chooses for the claim's row selection, on one line."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        plan = conn.execute(
            "EXPLAIN SELECT id FROM subjects WHERE next_check IS NOT NULL AND next_check <= %s"
            " AND (lease_expires IS NULL OR lease_expires <= %s)"
            " ORDER BY next_check, id LIMIT %s FOR UPDATE SKIP LOCKED",
            (now, now, CLAIM_BATCH),
        ).fetchall()
    return " / ".join(line[0].strip() for line in plan)


def claims(opts: Options) -> list[Result]:
    small, big = (10_000, 100_000) if opts.quick else (10_000, 1_000_000)
    samples, rounds = (50, 4) if opts.quick else (100, 10)
    now = time.time()
    results = []
    with tempfile.TemporaryDirectory() as tmp, pg_schema() as pg_small, pg_schema() as pg_big:
        for label in ("sqlite", "postgresql"):
            started = time.monotonic()
            if label == "sqlite":
                paths = (str(Path(tmp, "small.db")), str(Path(tmp, "big.db")))
                stores = [open_store(p) for p in paths]
                for path, count in zip(paths, (small, big), strict=True):
                    fill_sqlite(path, count, now)
                plan = ""
            else:
                stores = [open_store(pg_small), open_store(pg_big)]
                fill_postgres(pg_small, small, now)
                fill_postgres(pg_big, big, now)
                plan = postgres_plan(pg_big, now)
            filled = time.monotonic() - started
            a, b = interleave(
                claim_latency(stores[1], now, samples),
                claim_latency(stores[0], now, samples),
                rounds=rounds,
                budget=60,
            )
            for store in stores:
                store.close()
            ka, kb = median(a), median(b)
            notes = [
                f"median claim of {CLAIM_BATCH} due subjects: {fmt_time(ka)} among {big:,} "
                f"tracked (1% due) vs {fmt_time(kb)} among {small:,}; {len(a)} rounds x "
                f"{samples} claims; tables filled in {filled:.0f} s"
            ]
            if plan:
                notes.append(f"plan: {plan}")
            results.append(
                Result(
                    name=f"{NAME}[{label} claim]",
                    kycbridge=fmt_time(ka),
                    baseline=fmt_time(kb),
                    ratio=ka / kb,
                    target=f"<= {FLAT_TARGET}x ({big:,} vs {small:,})",
                    passed=ka / kb <= FLAT_TARGET,
                    target_ratio=FLAT_TARGET,
                    notes=notes,
                    data={"big_s": a, "small_s": b, "big": big, "small": small},
                )
            )
    return results


def run(opts: Options) -> list[Result]:
    return [*per_poll(opts), *scaling(opts), *claims(opts)]
