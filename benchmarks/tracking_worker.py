"""One tracking worker process of ``bench_tracking``'s scaling benchmark. Run by it, not by hand.

    python tracking_worker.py DB_URL REDIS_LIMITER_URL BASE_URL

Builds a :class:`~kycbridge.tracking.Tracker` on the store at ``DB_URL`` whose StarkFi
(limit lifted: :class:`common.LiftedStarkFi`) talks to ``BASE_URL`` through the Redis rate
limiter at ``REDIS_LIMITER_URL``, prints ``READY``, waits for a line on stdin, polls until
nothing is due (one thread), and prints one JSON line: polls made, start and end times
(``time.time()``, comparable between the processes of one machine).
"""

from __future__ import annotations

import json
import sys
import time

from common import LiftedStarkFi, starkfi_bridge

from kycbridge.tracking import Tracker
from kycbridge.tracking.limiters import limiter_factory


def main() -> None:
    db_url, limiter_url, base_url = sys.argv[1:4]
    bridge = starkfi_bridge(
        base_url, provider=LiftedStarkFi(), limiter_factory=limiter_factory(limiter_url)
    )
    tracker = Tracker(db_url, bridge=bridge, env={})
    bridge.rate_limiter("starkfi")  # made now, not on the first poll
    print("READY", flush=True)
    sys.stdin.readline()
    started = time.time()
    polls = tracker.run_once(workers=1)
    ended = time.time()
    tracker.close()
    print(json.dumps({"polls": polls, "start": started, "end": ended}), flush=True)


if __name__ == "__main__":
    main()
