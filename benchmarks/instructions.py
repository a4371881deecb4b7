"""Instructions per call, counted by callgrind: for deciding what to change, not a figure.

    python benchmarks/instructions.py overhead [--calls N] [--rounds R]
    python benchmarks/instructions.py normalize [--calls N] [--provider NAME ...]
    python benchmarks/instructions.py tracking [--calls N] [--rounds R]
    python benchmarks/instructions.py webhooks [--calls N] [--provider NAME ...]

Wall time on a shared 2-core machine moves by 10% from one run to the next; instruction
counts do not (about 0.5%). This runs a benchmark's loops in one process under
``valgrind --tool=callgrind --dump-before=os_getloadavg``: each loop of ``N`` calls is fenced
by calls of ``os.getloadavg()`` (which nothing else calls), so callgrind writes one profile
part per loop, and the instructions of a part divided by ``N`` are the loop's instructions per
call (start-up, imports and warm-up fall in parts of their own).

``overhead``
    ``bench_overhead``'s two sides: the same ``Bridge.status`` call and the same bare
    ``urllib3`` GET, against the same sandbox in its own, untraced process, ``R`` rounds
    each, alternating; medians printed, and their ratio.
``normalize``
    ``bench_normalize``'s three loops per provider: a report from the decoded payload, a
    report from the bytes, ``json.loads`` of the bytes (the baseline).
``tracking``
    The store's client side of a poll, no provider call: ``N`` fresh subjects claimed 10 at a
    time and each recorded as a worker records it (``expected=`` the claimed subject), on
    SQLite (a file) and on PostgreSQL (``KYCBRIDGE_TEST_POSTGRES_URL``, a schema of its own,
    dropped); ``R`` rounds each, alternating with the same recorded 10 to a transaction
    (``group 10``: a claimed batch in one ``Store.record_polls``, as a worker writes it).
    The server's work is not ours: its time is in wall-clock figures only.
``webhooks``
    ``bench_webhooks``'s two sides per provider (a delivery through ``WebhookApp``, the bare
    check), and the receiver's parts: the handler's ``verify``, its ``parse`` (strict JSON
    included), :func:`kycbridge.strictjson.loads` and ``json.loads`` of the same bodies.

Needs valgrind (``apt-get install valgrind``); takes a minute or two. Counts are of the
client process only (``--trace-children=no``); the sandbox's work and time spent waiting for
the network are not instructions of ours. Not part of ``run.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
MARK = "MARK"


def _fence(label: str) -> None:
    """End a callgrind part here; ``label`` names the part that starts ("-": not a loop)."""
    print(MARK, label, flush=True)
    os.getloadavg()  # the fence: nothing else calls it


def _loops(fns: list[tuple[str, Callable[[], object]]], calls: int) -> None:
    """Each ``fn`` warmed up, then run ``calls`` times alone in a part of its own."""
    for label, fn in fns:
        for _ in range(max(calls // 10, 20)):
            fn()
        _fence(label)
        for _ in range(calls):
            fn()
        _fence("-")


def inner_overhead(calls: int, rounds: int) -> None:
    """The traced process of ``overhead``."""
    import urllib3
    from common import sandbox_process, starkfi_bridge
    from sandbox_server import FIXED_SUBJECT

    from kycbridge_starkfi.simulator import SANDBOX_API_KEY

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

        order = [("kyc", kyc), ("bare", bare)]
        _loops([pair for i in range(rounds) for pair in order[:: 1 if i % 2 else -1]], calls)


def inner_normalize(calls: int, names: list[str]) -> None:
    """The traced process of ``normalize``."""
    import bench_normalize

    fns: list[tuple[str, Callable[[], object]]] = []
    for provider, _, (_, query, response) in bench_normalize.answers(names or None):
        body = response.body
        fns.append(
            (
                f"{provider.name}:report",
                bench_normalize.normalizer(provider, query, response, decode=False),
            )
        )
        fns.append(
            (
                f"{provider.name}:from-bytes",
                bench_normalize.normalizer(provider, query, response, decode=True),
            )
        )
        fns.append((f"{provider.name}:json.loads", lambda body=body: json.loads(body)))  # type: ignore[misc]
    _loops(fns, calls)


def inner_tracking(calls: int, rounds: int) -> None:
    """The traced process of ``tracking``."""
    import tempfile

    from bench_tracking import pg_schema

    from kycbridge.tracking import open_store
    from kycbridge.tracking.store import Poll

    report = {
        "provider": "starkfi",
        "state": "in_review",
        "raw_status": "In Review",
        "final": False,
        "approved": False,
        "observed_at": "2027-01-15T08:00:00Z",
        "blocklisted": False,
        "anomaly": False,
        "subject": "bench@x.test",
        "details": {"ip_info": {"ip": "203.0.113.77"}},
        "raw": {"status": "In Review"},
    }
    now = 1_800_000_000.0
    with tempfile.TemporaryDirectory() as tmp, pg_schema() as pg:
        for label, url in (("sqlite", f"sqlite:///{tmp}/bench.db"), ("postgresql", pg)):
            store = open_store(url)
            grouped = f"{label} group 10"
            for part in ["-", *[label, grouped] * rounds]:
                for i in range(calls):
                    store.add("starkfi", {"email": f"{i}@x.test"}, None, now=now)
                _fence(part)
                while claimed := store.claim("bench", now=now, lease=60, limit=10):
                    if part == grouped:  # as a worker writes a group (the default)
                        store.record_polls(
                            [
                                Poll(
                                    subject=s,
                                    report=report,
                                    now=now,
                                    owner="bench",
                                    next_check=lambda before, changed: None,
                                )
                                for s in claimed
                            ]
                        )
                        continue
                    for subject in claimed:
                        store.record(
                            subject.id,
                            report,
                            now=now,
                            owner="bench",
                            next_check=lambda before, changed: None,
                            expected=subject,
                        )
                _fence("-")
            store.close()


def inner_webhooks(calls: int, names: list[str]) -> None:
    """The traced process of ``webhooks``: each loop over ``calls`` distinct deliveries."""
    import bench_webhooks

    warm = max(calls // 10, 20)
    for make in bench_webhooks.CASES:
        case = make(calls + warm)
        if not names or case.provider in names:
            _loops(_webhook_loops(case), calls)


def _webhook_loops(case: Any) -> list[tuple[str, Callable[[], object]]]:
    """One provider's loops: the app and the bare check, then the app's parts."""
    import itertools
    import time

    import bench_webhooks

    import kycbridge
    from kycbridge import strictjson
    from kycbridge.webhooks import WebhookApp

    name = case.provider
    bridge = kycbridge.Bridge([case.plugin], settings={name: case.settings}, env={})
    app = WebhookApp(bridge)
    handler = app.handlers[name]
    settings = bridge.settings(name)
    deliveries = case.deliveries
    bodies = [b for _, b in deliveries]
    envs = iter([bench_webhooks.environ(name, h, b) for h, b in deliveries])
    now = time.time()
    verified = [handler.verify(h, b, settings, now) for h, b in deliveries]
    parse: Any = handler.parse
    items = itertools.cycle(range(len(deliveries)))

    def start_response(status: str, headers: object) -> None:
        pass

    def app_once() -> object:
        return app(next(envs), start_response)

    def bare() -> object:
        return case.baseline(*deliveries[next(items)])

    def verify() -> object:
        headers, body = deliveries[next(items)]
        return handler.verify(headers, body, settings, now)

    def parse_once() -> object:
        i = next(items)
        if verified[i] is None:
            return parse(bodies[i], settings)
        return parse(bodies[i], settings, verified[i])

    def strict() -> object:
        return strictjson.loads(bodies[next(items)])

    def loads() -> object:
        return json.loads(bodies[next(items)])

    return [
        (f"{name}:app", app_once),
        (f"{name}:bare", bare),
        (f"{name}:verify", verify),
        (f"{name}:parse", parse_once),
        (f"{name}:strictjson", strict),
        (f"{name}:json.loads", loads),
    ]


def traced(args: list[str], calls: int) -> dict[str, list[float]]:
    """Run this script's inner side under callgrind; instructions per call by loop label."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "cg.out")
        proc = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                "--dump-before=os_getloadavg",
                "--trace-children=no",
                sys.executable,
                __file__,
                "--inner",
                *args,
            ],
            check=True,
            capture_output=True,
            text=True,
            cwd=HERE,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        labels = [
            line.split(" ", 1)[1] for line in proc.stdout.splitlines() if line.startswith(MARK)
        ]
        parts = sorted(Path(tmp).glob("cg.out*"), key=_part_number)
        totals = [_total(p) for p in parts]
    if os.environ.get("INSTRUCTIONS_DEBUG"):
        print(labels, totals, file=sys.stderr)
    # A part ends where a fence begins: the first part is start-up, then one per fence.
    if len(totals) != len(labels) + 1:
        raise RuntimeError(f"{len(totals)} callgrind parts for {len(labels)} fences")
    result: dict[str, list[float]] = {}
    for label, total in zip(labels, totals[1:], strict=True):
        if label != "-":
            result.setdefault(label, []).append(total / calls)
    return result


def _part_number(path: Path) -> int:
    tail = path.name.rsplit(".", 1)[-1]
    return int(tail) if tail.isdigit() else 1_000_000  # the final dump has no number


def _total(path: Path) -> int:
    text = path.read_text(errors="replace")
    match = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.MULTILINE)
    if not match:
        raise RuntimeError(f"no totals in {path}")
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=("overhead", "normalize", "tracking", "webhooks"))
    parser.add_argument("--calls", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--provider", action="append", default=[])
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    calls = args.calls or {"overhead": 300, "tracking": 200}.get(args.what, 2000)
    if args.inner:
        if args.what == "overhead":
            inner_overhead(calls, args.rounds)
        elif args.what == "tracking":
            inner_tracking(calls, args.rounds)
        elif args.what == "webhooks":
            inner_webhooks(calls, args.provider)
        else:
            inner_normalize(calls, args.provider)
        return
    if not shutil.which("valgrind"):
        sys.exit("valgrind is not installed")
    forwarded = [args.what, "--calls", str(calls), "--rounds", str(args.rounds)]
    forwarded += [f"--provider={name}" for name in args.provider]
    per = traced(forwarded, calls)
    for label, values in per.items():
        spread = f" ({min(values):,.0f} to {max(values):,.0f})" if len(values) > 1 else ""
        print(f"{label:24} {statistics.median(values):>12,.0f} instructions per call{spread}")
    if args.what == "tracking":
        return
    if args.what == "overhead":
        ratio = statistics.median(per["kyc"]) / statistics.median(per["bare"])
        print(f"kyc / bare: {ratio:.3f}x")
    elif args.what == "webhooks":
        for label in per:
            name, kind = label.split(":")
            if kind == "app":
                base = statistics.median(per[f"{name}:bare"])
                own = statistics.median(per[label])
                print(f"{name:10} app / bare: {own / base:.2f}x (target 2.00x or less)")
    else:
        for label in per:
            name, kind = label.split(":")
            if kind == "report":
                base = statistics.median(per[f"{name}:json.loads"])
                own = statistics.median(per[label])
                print(f"{name:10} report / json.loads: {own / base:.2f}x")


if __name__ == "__main__":
    main()
