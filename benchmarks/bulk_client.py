"""One side of the bulk benchmark, in a fresh process so its peak RSS is its own.

    python bulk_client.py BASE_URL {bulk,seq} N [--workers W]

``bulk``: ``kycbridge.bulk.bulk_status`` over N StarkFi subjects with W workers; ``seq``: a
plain loop of ``Bridge.status`` over the first N. Prints one JSON line: seconds, reports,
errors (by kind), CPU seconds and peak RSS (``ru_maxrss``, KiB on Linux).

The StarkFi simulator knows only its scripted subjects (any other answers 404), and treats
emails case-insensitively: the N subjects are distinct spellings of the scripted emails,
distinct to kycbridge (which tracks each subject's last state), one script each to the
simulator.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import resource
import time
from collections.abc import Iterator

from common import starkfi_bridge

from kycbridge.bulk import bulk_status
from kycbridge.states import KYCState
from kycbridge_starkfi.simulator import SCENARIOS


def subjects() -> list[str]:
    """The scripted emails that answer 200 every time (no faults, no 404)."""
    states = {s.value for s in KYCState}
    return [
        s.subject
        for s in SCENARIOS
        if "@" in s.subject
        and s.outcome in states
        and not s.subject.startswith(("fault-", "flaky-"))
    ]


def spellings(email: str) -> Iterator[str]:
    """Distinct spellings of ``email`` differing only in letter case."""
    letters = [i for i, c in enumerate(email) if c.isalpha()]
    for n in range(2 ** len(letters)):
        chars = list(email)
        for bit, i in enumerate(letters):
            if n >> bit & 1:
                chars[i] = chars[i].upper()
        yield "".join(chars)


def queries(n: int) -> Iterator[dict[str, str]]:
    """``n`` queries, round-robin over the scripted subjects, every email spelled differently."""
    streams = [spellings(s) for s in subjects()]
    for stream in itertools.islice(itertools.cycle(streams), n):
        yield {"email": next(stream)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base_url")
    parser.add_argument("mode", choices=("bulk", "seq"))
    parser.add_argument("n", type=int)
    parser.add_argument("--workers", type=int, default=32)
    args = parser.parse_args()

    bridge = starkfi_bridge(args.base_url)
    bridge.provider("starkfi")  # load plugins before the clock starts
    outcomes: collections.Counter[str] = collections.Counter()
    cpu = time.process_time()
    started = time.perf_counter()
    if args.mode == "bulk":
        for result in bulk_status(bridge, "starkfi", queries(args.n), workers=args.workers):
            outcomes[result.error.kind if result.error else "report"] += 1
    else:
        for fields in queries(args.n):
            bridge.status("starkfi", **fields)
            outcomes["report"] += 1
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    bridge.close()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_s": cpu,
                "reports": outcomes.pop("report", 0),
                "errors": dict(outcomes),
                "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            }
        )
    )


if __name__ == "__main__":
    main()
