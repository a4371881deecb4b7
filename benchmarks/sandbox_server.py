"""The benchmarks' sandbox: the project's :class:`kycbridge.sandbox.Sandbox` in its own process.

Run by the benchmarks, never by hand. It serves, on ``127.0.0.1`` (any free port):

``starkfi``
    :class:`StarkFiSimulator` with its rate limit lifted and ``--latency`` seconds per answer;
``transak``
    :class:`TransakSimulator`;
``fixed``
    a :class:`~kycbridge.sandbox.Replay` answering StarkFi's ``instant-approved`` payload to
    every request (the cheapest server side, for the per-call overhead);
``slow``
    the same answer after ``--latency`` seconds (any subject: the tracking benchmark's).

With ``--pace SECONDS`` the scripted simulators move one step per ``SECONDS`` of wall time
(from a subject's first request) instead of one step per request, like a real user does.

The one change to the project's sandbox: Nagle's algorithm is off (see below).

It prints ``READY <port>``, then answers commands read from stdin, one a line: ``stats``
(a JSON line: connections opened, requests per simulator, CPU seconds used) and ``reset``
(the scripted simulators start over; ``ok``). End of stdin stops it.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import threading
import time
from typing import Any

import attrs

import kycbridge.sandbox
from kycbridge.sandbox import Replay, Sandbox, SimRequest, SimResponse, Simulator
from kycbridge_starkfi.simulator import StarkFiSimulator
from kycbridge_transak.simulator import TransakSimulator

FIXED_SUBJECT = "instant-approved@sandbox.starkfi.test"

# The sandbox's handler writes the headers and the body in two send() calls; with Nagle's
# algorithm on, the body waits for the client's delayed ACK of the headers: ~40 ms on Linux,
# every request, for kycbridge and the baseline alike. Real APIs do not do that: lift it.
kycbridge.sandbox._Handler.disable_nagle_algorithm = True


class Paced:
    """Wraps a scripted simulator so each subject moves one step per ``step`` seconds.

    A subject's first request gets step 0 and starts its clock; later requests get the step
    due by then (the inner simulator is asked once per step, so its script advances) and
    otherwise the last answer again.
    """

    def __init__(self, inner: Simulator, step: float) -> None:
        self.inner = inner
        self.step = step
        self.name = inner.name
        self.settings = inner.settings
        self.scenarios = inner.scenarios
        self._lock = threading.Lock()
        self._started: dict[Any, float] = {}
        self._served: dict[Any, tuple[int, SimResponse]] = {}

    def handle(self, request: SimRequest) -> SimResponse:
        key = tuple(sorted((k, tuple(v)) for k, v in request.query.items()))
        now = time.monotonic()
        with self._lock:
            started = self._started.setdefault(key, now)
            due = int((now - started) / self.step)
            steps, answer = self._served.get(key, (0, None))
            while steps <= due:
                answer = self.inner.handle(request)
                steps += 1
            assert answer is not None
            self._served[key] = (steps, answer)
            return answer

    def reset(self) -> None:
        with self._lock:
            self._started.clear()
            self._served.clear()
        self.inner.reset()


def fixed_answer() -> SimResponse:
    """StarkFi's answer for an approved subject, as its simulator gives it."""
    sim = StarkFiSimulator(rate_limit=None)
    request = SimRequest(
        "GET", "/kyc/status", {"email": [FIXED_SUBJECT]}, {"x-api-key": sim.settings["api_key"]}
    )
    return sim.handle(request)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--pace", type=float, default=0.0)
    args = parser.parse_args()

    scripted: list[Simulator] = [
        StarkFiSimulator(rate_limit=None, latency=args.latency),
        TransakSimulator(),
    ]
    if args.pace:
        scripted = [Paced(sim, args.pace) for sim in scripted]
    slow = attrs.evolve(fixed_answer(), delay=args.latency)
    sandbox = Sandbox([*scripted, Replay("fixed", [fixed_answer()]), Replay("slow", [slow])])
    sandbox.start()
    print("READY", sandbox.base_url.rsplit(":", 1)[1], flush=True)
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "stats":
                usage = resource.getrusage(resource.RUSAGE_SELF)
                stats = {
                    "connections_opened": sandbox.connections_opened,
                    "requests": dict(sandbox.requests),
                    "cpu_s": usage.ru_utime + usage.ru_stime,
                }
                print(json.dumps(stats), flush=True)
            elif command == "reset":  # the scripted ones only: a reset Replay forgets its answer
                for sim in scripted:
                    sim.reset()
                print("ok", flush=True)
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
