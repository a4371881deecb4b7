"""The demo: watch every installed simulator's demo scenarios to their outcomes.

``kycbridge demo`` starts the sandbox in-process on loopback, points the bridge's providers
at it (with the simulators' sandbox credentials), and watches every scenario marked
``demo=True`` concurrently, printing each transition as it happens and then one table per
provider. It needs no credentials and nothing beyond loopback, and exits 0 only when every
demo scenario reached its documented ``outcome``.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

import attrs

from .bridge import Bridge
from .errors import KYCBridgeError, PluginError
from .redact import mask
from .report import StatusReport, report_to_dict
from .sandbox import Sandbox, Scenario
from .states import FINAL_STATES, KYCState
from .terminal import ERROR_LINE_LIMIT, json_line, safe_text
from .watch import Watcher, clock_time

__all__ = [
    "DEMO_INTERVAL",
    "DEMO_MAX_INTERVAL",
    "DEMO_TIMEOUT",
    "DemoRun",
    "demo_scenarios",
    "run_demo",
    "run_demo_cli",
]

DEMO_INTERVAL = 0.2
"""First wait between polls in the demo (the sandbox answers at once)."""
DEMO_MAX_INTERVAL = 1.0
"""Longest wait between polls in the demo."""
DEMO_TIMEOUT = 30.0
"""Seconds each demo scenario may take before it counts as failed."""

EXIT_DEMO_FAILED = 1
DESCRIPTION_LIMIT = 100
"""Longest scenario description printed, in characters."""

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


# -- the command ---------------------------------------------------------------------------
def _change_line(run: DemoRun, report: StatusReport) -> str:
    old = run.last.state.value if run.last is not None else "start"
    raw = f" ({report.raw_status})" if report.raw_status is not None else ""
    flags = ""
    if report.blocklisted:
        flags += "  !! BLOCKLISTED"
    if report.anomaly:
        flags += "  !! unexpected transition"
    return (
        f"{clock_time(report)} {run.provider} {mask(run.scenario.subject)}: "
        f"{old} -> {report.state.value}{raw}{flags}"
    )


def _name(run: DemoRun) -> str:
    return f"{run.provider} {mask(run.scenario.subject)}"


def _description(run: DemoRun) -> str:
    return safe_text(run.scenario.description, DESCRIPTION_LIMIT)


def _table(runs: list[DemoRun]) -> list[str]:
    header = ("subject", "final state", "raw status", "polls", "result")
    lines: list[str] = []
    for provider in sorted({r.provider for r in runs}):
        rows = [header] + [
            (
                mask(r.scenario.subject),
                r.result,
                (r.last.raw_status or "-") if r.last is not None else "-",
                str(r.polls),
                "ok" if r.ok else f"FAILED (expected {r.scenario.outcome})",
            )
            for r in runs
            if r.provider == provider
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
        lines.append("")
        lines.append(provider)
        for row in rows:
            cells = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)] + [row[-1]]
            lines.append("  " + "  ".join(cells).rstrip())
    return lines


def _summary(run: DemoRun) -> dict[str, Any]:
    return {
        "provider": run.provider,
        "subject": run.scenario.subject,
        "description": run.scenario.description,
        "outcome": run.scenario.outcome,
        "result": run.result,
        "raw_status": run.last.raw_status if run.last is not None else None,
        "polls": run.polls,
        "ok": run.ok,
        "error": run.error.to_dict() if run.error is not None else None,
    }


def run_demo_cli(args: argparse.Namespace, bridge: Bridge, out: IO[str], err: IO[str]) -> int:
    """``kycbridge demo``: exit 0 when every demo scenario reached its outcome, else 1."""

    def write(line: str) -> None:
        out.write(safe_text(line) + "\n")
        out.flush()

    def on_start(sandbox: Sandbox, runs: list[DemoRun]) -> None:
        if args.json:
            return
        counts: dict[str, int] = {}
        for run in runs:
            counts[run.provider] = counts.get(run.provider, 0) + 1
        per = ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
        write(
            f"kycbridge demo: sandbox on {sandbox.base_url}; "
            f"watching {len(runs)} demo scenarios ({per})"
        )
        width = max(len(_name(run)) for run in runs)
        for run in runs:
            write(f"  {_name(run):<{width}}  {_description(run)}")
        write("")

    def on_change(run: DemoRun, report: StatusReport) -> None:
        if args.json:
            old = run.last.state.value if run.last is not None else None
            data = {"event": "change", "old": old, "report": report_to_dict(report)}
            write(json_line(data))
        else:
            write(_change_line(run, report))

    try:
        runs = run_demo(bridge, on_start=on_start, on_change=on_change)
    except KeyboardInterrupt:
        err.write("kycbridge: interrupted\n")
        return 130
    ok = all(run.ok for run in runs)
    passed = sum(run.ok for run in runs)
    if args.json:
        summary = {"event": "summary", "ok": ok, "scenarios": [_summary(r) for r in runs]}
        write(json_line(summary))
    else:
        for line in _table(runs):
            write(line)
        write("")
        write(f"{passed} of {len(runs)} demo scenarios reached their documented outcome.")
    for run in runs:
        if not run.ok:
            reason = f": {run.error}" if run.error is not None else ""
            line = (
                f"kycbridge: demo {_name(run)} ended in {run.result}, expected "
                f"{run.scenario.outcome}{reason} (scenario: {_description(run)})"
            )
            err.write(safe_text(line, ERROR_LINE_LIMIT) + "\n")
    return 0 if ok else EXIT_DEMO_FAILED
