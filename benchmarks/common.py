"""Shared pieces of the benchmarks: results, interleaved A/B timing, the sandbox subprocess.

Every figure is a comparison measured in one run: :func:`interleave` alternates rounds of
the kycbridge side (A) and the baseline side (B), A B B A A B ..., so drift (CPU frequency,
other load) hits both sides alike; each side is summarized by the median over its rounds.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import kycbridge
from kycbridge_starkfi.provider import StarkFiProvider
from kycbridge_starkfi.simulator import SANDBOX_API_KEY

HERE = Path(__file__).resolve().parent
SERVER_SCRIPT = HERE / "sandbox_server.py"


@dataclass
class Result:
    """One row of the table: a kycbridge figure against its baseline and a target."""

    name: str
    kycbridge: str
    """The kycbridge figure, formatted."""
    baseline: str
    """The baseline figure, formatted (``-`` when there is none)."""
    ratio: float | None
    """kycbridge / baseline (times: lower is better; rates: higher is better)."""
    target: str
    passed: bool | None
    """``None``: informational, no target."""
    target_ratio: float | None = None
    """The ratio the target allows (for the plot)."""
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    """Raw numbers for ``--json``."""

    @property
    def verdict(self) -> str:
        """``met``, ``MISSED`` or ``info``."""
        return "info" if self.passed is None else ("met" if self.passed else "MISSED")


@dataclass
class Options:
    """Command-line choices every benchmark sees."""

    quick: bool = False
    profile: bool = False


def median(values: list[float]) -> float:
    """The median (``nan`` for no values)."""
    return statistics.median(values) if values else float("nan")


def interleave(
    a: Callable[[], float],
    b: Callable[[], float],
    *,
    rounds: int,
    budget: float,
) -> tuple[list[float], list[float]]:
    """Run ``a`` and ``b`` alternately (A B, B A, ...), ``rounds`` each at most, ``budget`` s.

    Each call returns one sample (a time or a rate). At least one round of each always runs.
    """
    samples_a: list[float] = []
    samples_b: list[float] = []
    deadline = time.monotonic() + budget
    for i in range(rounds):
        order = ((a, samples_a), (b, samples_b))
        for fn, samples in order if i % 2 == 0 else reversed(order):
            samples.append(fn())
        if time.monotonic() > deadline:
            break
    return samples_a, samples_b


def per_call(fn: Callable[[], object], n: int) -> float:
    """Seconds per call of ``fn`` over ``n`` calls."""
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n


def fmt_time(seconds: float) -> str:
    """A duration with a sensible unit."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_rate(per_second: float) -> str:
    """A rate, in calls per second."""
    return f"{per_second:,.0f}/s"


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "kycbridge": kycbridge.__version__,
    }


# -- the provider without its client-side rate limit ---------------------------------------


class UnthrottledStarkFi(StarkFiProvider):
    """StarkFi with the client-side limiter lifted (the simulator's limit is lifted too)."""

    rate_limit = None


class LiftedStarkFi(StarkFiProvider):
    """StarkFi whose limit is set far above any rate a benchmark reaches: the limiter (a
    shared Redis one, say) is asked before every call, and never makes one wait."""

    rate_limit = 100_000.0


class UnthrottledPlugin:
    """A plugin object registering :class:`UnthrottledStarkFi` (or ``provider``) as ``starkfi``."""

    def __init__(self, provider: StarkFiProvider | None = None) -> None:
        self.provider = provider or UnthrottledStarkFi()

    @kycbridge.hookimpl
    def register_providers(self, register: Callable[[Any], None]) -> None:
        register(self.provider)


def starkfi_bridge(
    base_url: str, *, provider: StarkFiProvider | None = None, **kwargs: Any
) -> kycbridge.Bridge:
    """A bridge with only the unthrottled StarkFi (or ``provider``), talking to ``base_url``."""
    settings = {"starkfi": {"api_key": SANDBOX_API_KEY, "base_url": base_url}}
    return kycbridge.Bridge([UnthrottledPlugin(provider)], settings=settings, **kwargs)


# -- the sandbox, in its own process --------------------------------------------------------


class SandboxProcess:
    """A ``sandbox_server.py`` subprocess: the project's Sandbox, so its CPU is not ours."""

    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self.proc = proc
        self.base_url = f"http://127.0.0.1:{port}"

    def url(self, name: str) -> str:
        """The base URL of simulator ``name``."""
        return f"{self.base_url}/{name}"

    def _ask(self, command: str) -> str:
        stdin, stdout = self._pipes()
        stdin.write(command + "\n")
        stdin.flush()
        return stdout.readline().strip()

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        return self.proc.stdin, self.proc.stdout

    def stats(self) -> dict[str, Any]:
        """``{"connections_opened": n, "requests": {simulator: n}}`` since start."""
        result: dict[str, Any] = json.loads(self._ask("stats"))
        return result

    def reset(self) -> None:
        """Start every scenario over."""
        self._ask("reset")


@contextmanager
def sandbox_process(*args: str) -> Iterator[SandboxProcess]:
    """Start ``sandbox_server.py`` with ``args``; stop it on exit."""
    proc = subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "READY":
            raise RuntimeError(f"sandbox server did not start: {line!r}")
        yield SandboxProcess(proc, int(line[1]))
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
