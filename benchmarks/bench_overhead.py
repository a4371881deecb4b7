"""Per-call overhead: one ``Bridge.status`` call vs the same GET with a bare urllib3 pool.

Both sides ask the sandbox's ``fixed`` simulator (StarkFi's approved payload, the cheapest
server side) over loopback, each on its own warm keep-alive connection. kycbridge validates
the query, builds the request, sends it through its transport (retry policy, size cap),
parses and normalizes the payload into a report and fires the hooks; the baseline is
``PoolManager.request`` + ``json.loads``. Rounds of ``n`` calls alternate A/B; each round
gives a time per call; medians of rounds are compared.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import time
from collections.abc import Callable
from urllib.parse import urlencode

import urllib3
from common import (
    Options,
    Result,
    fmt_time,
    interleave,
    median,
    per_call,
    sandbox_process,
    starkfi_bridge,
)
from sandbox_server import FIXED_SUBJECT

from kycbridge_starkfi.simulator import SANDBOX_API_KEY

NAME = "overhead"
TARGET = 1.10  # issue #11: within 1.10x of a bare urllib3 call, measured in the same run
GOAL = 1.05


def timed(fn: Callable[[], object], n: int, cpu: list[float]) -> float:
    """Wall seconds per call over ``n`` calls; CPU seconds per call appended to ``cpu``."""
    started = time.process_time()
    wall = per_call(fn, n)
    cpu.append((time.process_time() - started) / n)
    return wall


GROUPS = (  # (label, substring of the profiled function's file or name), first match wins
    ("", "of '_socket.socket'"),  # waiting for the server: left out
    ("kycbridge core", "/kycbridge/"),
    ("provider plugin", "/kycbridge_"),
    ("urllib3", "/urllib3/"),
    ("http.client + email", "/http/"),
    ("http.client + email", "/email/"),
    ("cattrs / attrs", "/cattrs/"),
    ("cattrs / attrs", "/attr/"),
    ("pluggy", "/pluggy/"),
    ("json", "/json/"),
    ("urllib.parse", "/urllib/parse"),
    ("ipaddress", "/ipaddress"),
    ("logging", "/logging/"),
    ("builtin functions", "~:"),
)


def profile(fn: Callable[[], object], calls: int) -> pstats.Stats:
    """A cProfile of ``calls`` calls of ``fn``."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        fn()
    profiler.disable()
    return pstats.Stats(profiler, stream=io.StringIO())


def breakdown(stats: pstats.Stats, calls: int) -> dict[str, float]:
    """Own time per call (seconds) by where the code lives (:data:`GROUPS`), socket waits out."""
    totals: dict[str, float] = {}
    for (filename, _, function), row in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{filename}:{function}"
        label = next((g for g, key in GROUPS if key in where), "other stdlib")
        if label:
            totals[label] = totals.get(label, 0.0) + row[2] / calls
    return totals


def where_time_goes(kyc: Callable[[], object], bare: Callable[[], object], calls: int) -> str:
    """A table of own time per call by group, both sides, under cProfile (which inflates it)."""
    a, b = breakdown(profile(kyc, calls), calls), breakdown(profile(bare, calls), calls)
    labels = sorted(set(a) | set(b), key=lambda k: -(a.get(k, 0) - b.get(k, 0)))
    lines = [f"  {'where':<26} {'kycbridge':>10} {'bare':>10} {'extra':>10}"]
    for label in labels:
        ka, kb = a.get(label, 0.0), b.get(label, 0.0)
        lines.append(f"  {label:<26} {ka * 1e6:8.1f}us {kb * 1e6:8.1f}us {(ka - kb) * 1e6:+8.1f}us")
    return "\n".join(lines)


def top_functions(fn: Callable[[], object], calls: int, limit: int = 15) -> str:
    """cProfile of ``fn``: the top functions by own time."""
    out = io.StringIO()
    stats = profile(fn, calls)
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(limit)
    return out.getvalue()


def run(opts: Options) -> list[Result]:
    n, rounds = (100, 6) if opts.quick else (1000, 20)
    with sandbox_process() as sandbox:
        base = sandbox.url("fixed")
        bridge = starkfi_bridge(base)
        pool = urllib3.PoolManager()
        url = f"{base}/kyc/status?{urlencode({'email': FIXED_SUBJECT})}"
        headers = {"x-api-key": SANDBOX_API_KEY}

        def kyc() -> object:
            return bridge.status("starkfi", email=FIXED_SUBJECT)

        def bare() -> object:
            return json.loads(pool.request("GET", url, headers=headers).data)

        per_call(kyc, 50)  # warm up: plugin load, connection, caches
        per_call(bare, 50)
        cpu_a: list[float] = []
        cpu_b: list[float] = []
        a, b = interleave(
            lambda: timed(kyc, n, cpu_a), lambda: timed(bare, n, cpu_b), rounds=rounds, budget=20
        )
        ratio = median(a) / median(b)
        explain = where_time_goes(kyc, bare, n) if opts.profile or ratio > TARGET else ""
        top = top_functions(kyc, n) if opts.profile else ""
        bridge.close()
        pool.clear()

    ka, kb = median(a), median(b)
    paired = median([x / y for x, y in zip(a, b, strict=True)])
    result = Result(
        name=NAME,
        kycbridge=fmt_time(ka),
        baseline=fmt_time(kb),
        ratio=ratio,
        target=f"<= {TARGET}x (goal {GOAL}x)",
        passed=ratio <= TARGET,
        target_ratio=TARGET,
        notes=[
            f"{fmt_time(ka - kb)} more per call; goal {GOAL}x "
            f"{'met' if ratio <= GOAL else 'missed'}; {len(a)} rounds x {n} calls per side; "
            f"median of the per-round ratios {paired:.2f}x",
            f"client CPU per call: {fmt_time(median(cpu_a))} vs {fmt_time(median(cpu_b))} "
            f"({median(cpu_a) / median(cpu_b):.2f}x)",
        ],
        data={
            "kycbridge_s": a,
            "baseline_s": b,
            "kycbridge_cpu_s": cpu_a,
            "baseline_cpu_s": cpu_b,
            "calls_per_round": n,
        },
    )
    if explain:
        result.notes.append(
            f"where the CPU time goes, per call, under cProfile (which inflates it; "
            f"socket waits left out):\n{explain}"
        )
    if top:
        result.notes.append(f"cProfile of kycbridge calls, by own time:\n{top}")
    return [result]
