"""A container's entry point: re-check every tracked subject when due, until SIGTERM.

Configured by env only: ``KYCBRIDGE_DB`` (the tracking database), the providers' own
``KYCBRIDGE_<PROVIDER>_<SETTING>`` (API keys, base URLs). Subjects are added elsewhere
(``Tracker.add`` in the app, or ``kycbridge track add``/``import``).
"""

from __future__ import annotations

import argparse
import logging
import pathlib
import signal
import threading
from collections import Counter

from kycbridge.tracking import Tracker

log = logging.getLogger("recheck")


def run(
    tracker: Tracker,
    *,
    every: float,
    stop: threading.Event,
    workers: int = 1,
    rounds: int | None = None,
    heartbeat: pathlib.Path | None = None,
) -> int:
    """Poll what is due, then wait ``every`` seconds, until ``stop`` (or ``rounds``).

    After each round the states are logged and ``heartbeat`` is touched (a container health
    check reads its age). Returns the number of polls made.
    """
    polls = done = 0
    while not stop.is_set():
        polls += tracker.run_once(workers)
        done += 1
        states = Counter(s.state.value if s.state else "new" for s in tracker.list())
        log.info("round %d: %d polls so far; %s", done, polls, dict(sorted(states.items())))
        if heartbeat is not None:
            heartbeat.touch()
        if done == rounds or stop.wait(every):  # the wait ends early on stop
            break
    return polls


def main(argv: list[str] | None = None) -> int:
    """Parse the options, stop on SIGTERM or SIGINT, run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--every", type=float, default=60.0, help="seconds between rounds")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--once", action="store_true", help="one round, then exit")
    parser.add_argument("--heartbeat", type=pathlib.Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())  # finish the round in hand, then exit
    with Tracker() as tracker:  # KYCBRIDGE_DB, else the default SQLite file
        run(
            tracker,
            every=args.every,
            stop=stop,
            workers=args.workers,
            rounds=1 if args.once else None,
            heartbeat=args.heartbeat,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
