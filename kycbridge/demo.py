"""The demo: watch every installed simulator's demo scenarios to their outcomes.

``kycbridge demo`` starts the sandbox in-process on loopback, points the bridge's providers
at it (with the simulators' sandbox credentials), and watches every scenario marked
``demo=True`` concurrently, printing each transition as it happens and then one table per
provider. It needs no credentials and nothing beyond loopback, and exits 0 only when every
demo scenario reached its documented ``outcome``. Here is :func:`run_demo`; the command is
:mod:`kycbridge.cli.demo`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import attrs

from .bridge import Bridge
from .errors import KYCBridgeError, PluginError
from .report import StatusReport
from .sandbox import Sandbox, Scenario
from .states import FINAL_STATES, KYCState
from .watch import Watcher

__all__ = [
    "DEMO_INTERVAL",
    "DEMO_MAX_INTERVAL",
    "DEMO_TIMEOUT",
    "DemoRun",
    "demo_scenarios",
    "run_demo",
]

DEMO_INTERVAL = 0.2
"""First wait between polls in the demo (the sandbox answers at once)."""
DEMO_MAX_INTERVAL = 1.0
"""Longest wait between polls in the demo."""
DEMO_TIMEOUT = 30.0
"""Seconds each demo scenario may take before it counts as failed."""


_STATES = {s.value for s in KYCState}


@attrs.define(eq=False)
class DemoRun:
    """One demo scenario being (or having been) watched."""

    provider: str
    scenario: Scenario
    watcher: Watcher | None = None
    reports: list[StatusReport] = attrs.field(factory=list)
    """Every change observed, in order."""
    error: KYCBridgeError | None = None
    """What ended the watch, if not a target state (``WatchTimeout`` included)."""

    @property
    def last(self) -> StatusReport | None:
        """The last report observed."""
        return self.reports[-1] if self.reports else None

    @property
    def result(self) -> str:
        """The state reached, or the ``kind`` of the error that ended the watch."""
        if self.error is not None:
            return self.error.kind
        return self.last.state.value if self.last is not None else "-"

    @property
    def ok(self) -> bool:
        """Whether the scenario ended in its documented outcome."""
        return self.result == self.scenario.outcome

    @property
    def polls(self) -> int:
        """Calls made."""
        return self.watcher.polls if self.watcher is not None else 0


def demo_scenarios(sandbox: Sandbox) -> list[tuple[str, Scenario]]:
    """``(provider, scenario)`` for every ``demo=True`` scenario, by provider name."""
    return [
        (name, scenario)
        for name in sorted(sandbox.simulators)
        for scenario in sandbox.simulators[name].scenarios
        if scenario.demo
    ]


def _until(scenario: Scenario) -> frozenset[KYCState]:
    if scenario.outcome in _STATES:
        return FINAL_STATES | {KYCState(scenario.outcome)}
    return FINAL_STATES


def run_demo(
    bridge: Bridge,
    *,
    on_start: Callable[[Sandbox, list[DemoRun]], None] | None = None,
    on_change: Callable[[DemoRun, StatusReport], None] | None = None,
    interval: float = DEMO_INTERVAL,
    max_interval: float = DEMO_MAX_INTERVAL,
    timeout: float = DEMO_TIMEOUT,
    stop: threading.Event | None = None,
) -> list[DemoRun]:
    """Serve the installed simulators and watch their demo scenarios concurrently.

    Uses ``bridge``'s providers, rate limiters, hooks and transport, with each provider's
    settings pointed at the sandbox. ``on_start`` is called once the sandbox is up;
    ``on_change`` for each change, from the watching threads (one at a time). Raises
    :class:`~kycbridge.errors.PluginError` when no simulator (or no demo scenario) is
    installed.
    """
    sandbox = Sandbox.from_installed(bridge.registry)
    if not sandbox.simulators:
        raise PluginError(
            "no simulators installed: install a provider plugin with a sandbox simulator "
            "(e.g. kycbridge-starkfi, kycbridge-transak)"
        )
    runs = [DemoRun(name, scenario) for name, scenario in demo_scenarios(sandbox)]
    if not runs:
        names = ", ".join(sorted(sandbox.simulators))
        raise PluginError(f"the installed simulators ({names}) mark no scenario demo=True")
    stop = stop or threading.Event()
    lock = threading.Lock()

    def follow(run: DemoRun) -> None:
        try:
            overrides = sandbox.settings()[run.provider]
            run.watcher = Watcher(
                bridge,
                run.provider,
                dict(run.scenario.query),
                until=_until(run.scenario),
                interval=interval,
                max_interval=max_interval,
                timeout=timeout,
                stop=stop,
                settings=bridge.settings(run.provider, **overrides),
            )
            for report in run.watcher:
                with lock:
                    if on_change is not None:
                        on_change(run, report)
                    run.reports.append(report)
        except KYCBridgeError as exc:
            run.error = exc

    with sandbox:
        sandbox.reset()
        if on_start is not None:
            on_start(sandbox, runs)
        with ThreadPoolExecutor(len(runs), thread_name_prefix="kycbridge-demo") as pool:
            futures = [pool.submit(follow, run) for run in runs]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                stop.set()
                raise
    return runs
