"""Watch efficiency: polls spent, and lag behind the final state, vs a fixed 1 s poll loop.

The demo scenarios of StarkFi and Transak are played in wall time: the sandbox (its own
process, ``--pace``) moves each subject one scripted step every 5 s from its first request,
like a user clicking through, instead of one step per request. One request starts a
subject's clock; the watch starts a random 0-5 s later (the same offsets for both sides), so
polls are not in phase with the steps. The final step is due at ``start + (steps - 1) * 5
s``; the lag is the time from then until the watch reports the target state.

kycbridge: :class:`kycbridge.watch.Watcher` with its defaults (2 s first wait, doubling
while nothing changes, 30 s at most, jitter). Baseline: poll, sleep 1 s, poll... until a
target state. StarkFi's client-side rate limit is lifted so that it does not stagger the
concurrent watches (it is far from reached at these rates). All scenarios of one side run
concurrently; the sides alternate (A B B A), the simulators starting over before each.
``--quick`` scales every time (pace, waits, the 1 s loop) by 0.05.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from common import (
    Options,
    Result,
    SandboxProcess,
    UnthrottledPlugin,
    fmt_time,
    median,
    sandbox_process,
)

import kycbridge_transak
from kycbridge import Bridge, KYCState
from kycbridge.plugins import PluginRegistry
from kycbridge.sandbox import Scenario
from kycbridge.states import FINAL_STATES
from kycbridge.watch import DEFAULT_INTERVAL, DEFAULT_MAX_INTERVAL, Watcher

NAME = "watch"
PACE = 5.0
LOOP = 1.0

Case = tuple[str, Scenario]


def until(scenario: Scenario) -> frozenset[KYCState]:
    """What the demo watches a scenario until: final states, and its outcome."""
    states = {s.value for s in KYCState}
    return FINAL_STATES | ({KYCState(scenario.outcome)} if scenario.outcome in states else set())


def with_watcher(bridge: Bridge, provider: str, scenario: Scenario, scale: float) -> int:
    """Watch with kycbridge's defaults (scaled); return the polls spent."""
    watcher = Watcher(
        bridge,
        provider,
        dict(scenario.query),
        until=until(scenario),
        interval=DEFAULT_INTERVAL * scale,
        max_interval=DEFAULT_MAX_INTERVAL * scale,
        timeout=120 * scale,
    )
    for _ in watcher:
        pass
    return watcher.polls


def with_loop(bridge: Bridge, provider: str, scenario: Scenario, scale: float) -> int:
    """Poll every ``LOOP`` seconds (scaled) until a target state; return the polls spent."""
    query = bridge.query(provider, **scenario.query)
    targets = until(scenario)
    deadline = time.monotonic() + 120 * scale
    polls = 0
    while time.monotonic() < deadline:
        polls += 1
        if bridge.fetch(provider, query).state in targets:
            return polls
        time.sleep(LOOP * scale)
    raise TimeoutError(f"{scenario.subject}: no target state")


Method = Callable[[Bridge, str, Scenario, float], int]


def play(
    sandbox: SandboxProcess,
    cases: list[Case],
    offsets: list[float],
    credentials: dict[str, Any],
    method: Method,
    scale: float,
) -> list[tuple[int, float]]:
    """Every case at once with ``method``, from the start: ``(polls, lag)`` each.

    One request starts each subject's clock; the watch starts ``offset`` seconds later, so
    that polls are not in phase with the script's steps.
    """
    sandbox.reset()
    settings = {
        name: {**values, "base_url": sandbox.url(name)} for name, values in credentials.items()
    }
    bridge = Bridge([UnthrottledPlugin(), kycbridge_transak], settings=settings)

    def one(case: Case, offset: float) -> tuple[int, float]:
        provider, scenario = case
        started = time.monotonic()
        bridge.status(provider, **scenario.query)  # the user starts: step 0
        time.sleep(offset)
        polls = method(bridge, provider, scenario, scale)
        due = started + (len(scenario.played) - 1) * PACE * scale
        return polls, time.monotonic() - due

    with ThreadPoolExecutor(len(cases)) as pool:
        results = list(pool.map(one, cases, offsets))
    bridge.close()
    return results


def run(opts: Options) -> list[Result]:
    scale, rounds = (0.05, 1) if opts.quick else (1.0, 2)
    simulators = [s for s in PluginRegistry().simulators() if s.name in ("starkfi", "transak")]
    cases = [(info.name, s) for info in simulators for s in info.simulator.scenarios if s.demo]
    credentials = {info.name: dict(info.simulator.settings) for info in simulators}
    samples: dict[str, list[tuple[int, float]]] = {"watch": [], "loop": []}
    with sandbox_process("--pace", str(PACE * scale)) as sandbox:
        for i in range(rounds):
            rng = random.Random(i)  # the same offsets for both sides of a round
            offsets = [rng.uniform(0, PACE * scale) for _ in cases]
            order = [("watch", with_watcher), ("loop", with_loop)]
            for side, method in order if i % 2 == 0 else reversed(order):
                samples[side].extend(play(sandbox, cases, offsets, credentials, method, scale))
    w_polls, l_polls = (median([float(p) for p, _ in samples[k]]) for k in ("watch", "loop"))
    w_lag, l_lag = (median([lag for _, lag in samples[k]]) for k in ("watch", "loop"))
    worst = max(lag for _, lag in samples["watch"])
    where = (
        f"{len(cases)} demo scenarios x {rounds} round(s) per side, one step every "
        f"{PACE * scale:g} s" + (f" (times scaled by {scale:g})" if opts.quick else "")
    )
    return [
        Result(
            name=f"{NAME}[polls]",
            kycbridge=f"{w_polls:g}",
            baseline=f"{l_polls:g}",
            ratio=w_polls / l_polls,
            target="info",
            passed=None,
            notes=[
                f"median polls per scenario; {where}",
                f"Watcher: {DEFAULT_INTERVAL * scale:g} s first wait, doubling to "
                f"{DEFAULT_MAX_INTERVAL * scale:g} s; baseline: every {LOOP * scale:g} s",
            ],
            data={"watch": samples["watch"], "loop": samples["loop"], "scale": scale},
        ),
        Result(
            name=f"{NAME}[lag]",
            kycbridge=fmt_time(w_lag),
            baseline=fmt_time(l_lag),
            ratio=w_lag / l_lag,
            target="info",
            passed=None,
            notes=[f"median time from the final state to its report; worst {fmt_time(worst)}"],
        ),
    ]
