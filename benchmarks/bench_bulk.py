"""Bulk: 10,000 StarkFi subjects through ``bulk_status`` (32 workers) vs a sequential loop.

The sandbox runs in its own process with StarkFi's simulator at 20 ms latency per answer and
its rate limit lifted (the client-side limiter is lifted too). Each side runs in a fresh
client process (``bulk_client.py``) so its peak RSS is its own. The sequential rate is
measured on a sample (200 calls) and extrapolated to 10,000. Rounds alternate A/B; medians.
The sandbox counts the TCP connections each bulk run opens.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from common import (
    HERE,
    Options,
    Result,
    SandboxProcess,
    fmt_rate,
    interleave,
    median,
    sandbox_process,
)

NAME = "bulk"
LATENCY = 0.020
WORKERS = 32
TARGET = 20.0
RSS_LIMIT_MB = 150.0


def client(sandbox: SandboxProcess, mode: str, n: int) -> dict[str, Any]:
    """Run ``bulk_client.py`` once; its JSON line, with the server's side of the run added."""
    before = sandbox.stats()
    out = subprocess.run(
        [
            sys.executable,
            str(HERE / "bulk_client.py"),
            sandbox.url("starkfi"),
            mode,
            str(n),
            "--workers",
            str(WORKERS),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    ).stdout
    after = sandbox.stats()
    result: dict[str, Any] = json.loads(out)
    result["connections"] = after["connections_opened"] - before["connections_opened"]
    result["server_cpu_s"] = after["cpu_s"] - before["cpu_s"]
    result["rate"] = n / result["seconds"]
    return result


def run(opts: Options) -> list[Result]:
    n, sample, rounds = (1_000, 30, 1) if opts.quick else (10_000, 200, 3)
    runs: dict[str, list[dict[str, Any]]] = {"bulk": [], "seq": []}

    def side(mode: str, count: int) -> float:
        result = client(sandbox, mode, count)
        runs[mode].append(result)
        return float(result["rate"])

    with sandbox_process("--latency", str(LATENCY)) as sandbox:
        a, b = interleave(
            lambda: side("bulk", n), lambda: side("seq", sample), rounds=rounds, budget=120
        )
    bulk_rate, seq_rate = median(a), median(b)
    ratio = bulk_rate / seq_rate
    rss = max(r["maxrss_kib"] for r in runs["bulk"]) / 1024
    seq_rss = max(r["maxrss_kib"] for r in runs["seq"]) / 1024
    connections = max(r["connections"] for r in runs["bulk"])
    errors = [r["errors"] for r in runs["bulk"] + runs["seq"] if r["errors"]]
    client_cpu = median([r["cpu_s"] / r["seconds"] for r in runs["bulk"]])
    server_cpu = median([r["server_cpu_s"] / r["seconds"] for r in runs["bulk"]])
    ideal = WORKERS / LATENCY
    notes = [
        f"{n:,} subjects, {WORKERS} workers, {LATENCY * 1e3:g} ms simulated latency: "
        f"{n / bulk_rate:.1f} s; sequential rate measured on {sample} calls and extrapolated "
        f"to {n:,}: {n / seq_rate:.0f} s; {len(a)} round(s)",
        f"during bulk runs the client used {client_cpu:.0%} of a core, the sandbox "
        f"{server_cpu:.0%}; {WORKERS} workers / {LATENCY * 1e3:g} ms caps it at "
        f"{ideal:,.0f}/s ({bulk_rate / ideal:.0%} reached)",
    ]
    if errors:
        notes.append(f"errors: {errors}")
    data = {"bulk": runs["bulk"], "seq": runs["seq"], "subjects": n, "sample": sample}
    return [
        Result(
            name=f"{NAME}[throughput]",
            kycbridge=fmt_rate(bulk_rate),
            baseline=fmt_rate(seq_rate),
            ratio=ratio,
            target=f">= {TARGET:g}x",
            passed=ratio >= TARGET and not errors,
            target_ratio=TARGET,
            notes=notes,
            data=data,
        ),
        Result(
            name=f"{NAME}[peak RSS]",
            kycbridge=f"{rss:.1f} MB",
            baseline=f"{seq_rss:.1f} MB",
            ratio=rss / seq_rss,
            target=f"< {RSS_LIMIT_MB:g} MB",
            passed=rss < RSS_LIMIT_MB,
            target_ratio=RSS_LIMIT_MB / seq_rss,
            notes=["client process peak RSS (ru_maxrss); baseline: the sequential client"],
        ),
        Result(
            name=f"{NAME}[connections]",
            kycbridge=str(connections),
            baseline="1",
            ratio=None,
            target=f"<= {WORKERS}",
            passed=connections <= WORKERS,
            notes=["TCP connections the sandbox accepted during one bulk run (most of any run)"],
        ),
    ]
