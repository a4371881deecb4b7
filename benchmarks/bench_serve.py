"""``kycbridge serve`` under load: N concurrent API clients for S seconds, on loopback.

    python benchmarks/bench_serve.py                      # 200 clients, 30 s
    python benchmarks/bench_serve.py --clients 50 --seconds 5 --json /tmp/serve.json

The service (``ServeApp`` on waitress, 16 threads, SQLite in a temporary directory, 200
tracked subjects) and the sandbox run in a child process; the clients (one thread and one
keep-alive connection each) run here, so the two do not share a GIL. Each client loops over
a mix: a page of subjects (20), one subject, its history, a live Transak status through the
bridge (the sandbox; Transak has no client-side rate limit), ``/healthz``. Any answer other
than 2xx, or a connection error, is an error. Prints requests/s, p50, p90, p99 and max
latency and the error count; exits 1 when there was any error. Nothing leaves loopback; the
run stops by itself after ``--seconds``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TOKEN = "bench-serve-token-0123456789abcdef"
SUBJECTS = 200


def serve(port_file: str) -> None:
    """Child process: the sandbox and the service; writes the port, serves until killed."""
    import logging

    import waitress.server

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth is N"

    import kycbridge
    from kycbridge.sandbox import Sandbox
    from kycbridge.serve import ServeApp
    from kycbridge.tracking import Tracker

    sandbox = Sandbox.from_installed().start()
    bridge = kycbridge.Bridge(
        settings=sandbox.settings(), env={"KYCBRIDGE_TRANSAK_ACCESS_TOKEN": "sandbox-user-token"}
    )
    db = Path(tempfile.mkdtemp()) / "bench.db"
    tracker = Tracker(f"sqlite:///{db}", bridge=bridge)
    for n in range(SUBJECTS):
        tracker.add("transak", work_flow_run_id=f"wfr-bench-{n}")
    tracker.run_once(workers=4)
    app = ServeApp(tracker, bridge, token=TOKEN)
    server = waitress.server.create_server(
        app, host="127.0.0.1", port=0, threads=16, connection_limit=1000, backlog=1024
    )
    Path(port_file).write_text(str(server.effective_port))
    server.run()


def client(url: str, stop: float, latencies: list[float], errors: list[str], n: int) -> None:
    import urllib3

    http = urllib3.HTTPConnectionPool(
        "127.0.0.1", int(url.rsplit(":", 1)[1]), maxsize=1, retries=False, timeout=30
    )
    headers = {"Authorization": f"Bearer {TOKEN}"}
    sid = 1 + n % SUBJECTS
    paths = [
        "/api/v1/subjects?limit=20",
        f"/api/v1/subjects/{sid}",
        f"/api/v1/subjects/{sid}/history",
        "/api/v1/status/transak?work_flow_run_id=wfr-submitted",
        "/healthz",
    ]
    i = n
    while time.monotonic() < stop:
        path = paths[i % len(paths)]
        i += 1
        start = time.perf_counter()
        try:
            response = http.request("GET", path, headers=headers)
        except Exception as exc:
            errors.append(type(exc).__name__)
            continue
        latencies.append(time.perf_counter() - start)
        if not 200 <= response.status < 300:
            errors.append(str(response.status))
    http.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--json", metavar="FILE", help="write the figures here too")
    parser.add_argument("--serve", metavar="PORT_FILE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    if not (1 <= args.clients <= 1000 and 0 < args.seconds <= 600):
        parser.error("--clients 1-1000 and --seconds up to 600")
    port_file = Path(tempfile.mkdtemp()) / "port"
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(port_file)])
    try:
        deadline = time.monotonic() + 120
        while not port_file.exists() or not port_file.read_text():
            if child.poll() is not None or time.monotonic() > deadline:
                print("the service did not start", file=sys.stderr)
                return 1
            time.sleep(0.1)
        url = f"http://127.0.0.1:{port_file.read_text()}"
        latencies: list[list[float]] = [[] for _ in range(args.clients)]
        errors: list[str] = []
        stop = time.monotonic() + args.seconds
        threads = [
            threading.Thread(target=client, args=(url, stop, latencies[n], errors, n))
            for n in range(args.clients)
        ]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - began
    finally:
        child.kill()
        child.wait(timeout=30)
    every = sorted(x for each in latencies for x in each)
    if not every:
        print("no request completed", file=sys.stderr)
        return 1
    quantiles = statistics.quantiles(every, n=100)
    figures = {
        "clients": args.clients,
        "seconds": round(elapsed, 1),
        "requests": len(every),
        "requests_per_second": round(len(every) / elapsed, 1),
        "p50_ms": round(quantiles[49] * 1000, 1),
        "p90_ms": round(quantiles[89] * 1000, 1),
        "p99_ms": round(quantiles[98] * 1000, 1),
        "max_ms": round(every[-1] * 1000, 1),
        "errors": len(errors),
        "cpus": os.cpu_count(),
    }
    for key, value in figures.items():
        print(f"{key:<20} {value}")
    if errors:
        print(f"error kinds: {sorted(set(errors))}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
