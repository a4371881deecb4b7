"""Instructions per call of the ``overhead`` benchmark's two sides, under callgrind.

    python benchmarks/instructions.py [--side kyc|bare|both] [--calls N] [--annotate]

Wall time on a shared 2-core machine moves by 10% from one run to the next; instruction
counts do not (about 0.5%). This runs the client loop of ``bench_overhead`` (the same
``Bridge.status`` call, the same bare ``urllib3`` GET, against the same sandbox in its own,
untraced process) under ``valgrind --tool=callgrind`` twice per side, with ``N`` and ``2N``
calls after the same warm-up, and prints the difference divided by ``N``: start-up, imports
and warm-up cancel out. ``--annotate`` keeps the ``2N`` profile and prints the functions with
the most inclusive instructions (``callgrind_annotate``). Needs valgrind; takes a minute or
two. Not part of ``run.py``: a tool for deciding what to change, not a figure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent


def inner(side: str, calls: int) -> None:
    """The traced process: warm up, then ``calls`` calls of one side."""
    import urllib3
    from common import per_call, sandbox_process, starkfi_bridge
    from sandbox_server import FIXED_SUBJECT

    from kycbridge_starkfi.simulator import SANDBOX_API_KEY

    with sandbox_process() as sandbox:
        base = sandbox.url("fixed")
        if side == "kyc":
            bridge = starkfi_bridge(base)

            def fn() -> object:
                return bridge.status("starkfi", email=FIXED_SUBJECT)

        else:
            pool = urllib3.PoolManager()
            url = f"{base}/kyc/status?{urlencode({'email': FIXED_SUBJECT})}"
            headers = {"x-api-key": SANDBOX_API_KEY}

            def fn() -> object:
                return json.loads(pool.request("GET", url, headers=headers).data)

        per_call(fn, 50)
        per_call(fn, calls)


def traced(side: str, calls: int, out: Path) -> int:
    """Total instructions of one traced run (callgrind's ``summary``)."""
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            "--trace-children=no",
            sys.executable,
            __file__,
            "--inner",
            side,
            "--calls",
            str(calls),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=HERE,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    match = re.search(r"^summary:\s*(\d+)", out.read_text(errors="replace"), re.MULTILINE)
    if not match:
        raise RuntimeError(f"no summary line in {out}")
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--side", choices=("kyc", "bare", "both"), default="both")
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--annotate", action="store_true")
    parser.add_argument("--inner", choices=("kyc", "bare"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        inner(args.inner, args.calls)
        return
    if not shutil.which("valgrind"):
        sys.exit("valgrind is not installed")
    sides = ("kyc", "bare") if args.side == "both" else (args.side,)
    per: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for side in sides:
            small = traced(side, args.calls, Path(tmp, f"{side}.1"))
            big = traced(side, 2 * args.calls, Path(tmp, f"{side}.2"))
            per[side] = (big - small) / args.calls
            print(f"{side}: {per[side]:,.0f} instructions per call", flush=True)
            if args.annotate:
                report = subprocess.run(
                    ["callgrind_annotate", "--inclusive=yes", str(Path(tmp, f"{side}.2"))],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                print("\n".join(report.splitlines()[:60]))
    if len(per) == 2:
        print(f"kyc / bare: {per['kyc'] / per['bare']:.3f}x")


if __name__ == "__main__":
    main()
