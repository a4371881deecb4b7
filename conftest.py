"""Session-wide test policy for the whole repository (core and plugin test directories).

With ``KYCBRIDGE_NO_SKIP=1`` in the environment (CI sets it, through tox), a skipped test, or
a test module skipped at collection, fails the session: a skip in CI is a test that silently
stopped running. ``xfail`` stays strict (``xfail_strict`` in pyproject.toml); an expected
failure is not counted as a skip here.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

NO_SKIP_VAR = "KYCBRIDGE_NO_SKIP"

# Hypothesis profiles. ``ci`` (what tox, hence ``.ci/run``, selects through
# ``HYPOTHESIS_PROFILE``) makes every property test deterministic and free of wall-clock
# luck: the examples derive from each test alone (``derandomize``), no example database
# replays another run's finds, and neither a per-example deadline nor the "too slow" health
# check can fail a test because a busy machine paused it. ``default`` (a plain ``pytest``)
# explores new examples on every run, which is how new bugs are found.
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


class NoSkip:
    """Collects the skips of one session and fails it when there is any."""

    def __init__(self) -> None:
        self.skips: list[tuple[str, str]] = []

    def _record(self, report: pytest.CollectReport | pytest.TestReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):
            longrepr = report.longrepr
            reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
            self.skips.append((report.nodeid, reason))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """Note modules skipped while collecting (``importorskip``, module-level ``skip``)."""
        self._record(report)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Note tests skipped at setup or in their body."""
        self._record(report)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Fail the session when a test was skipped."""
        if self.skips and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """Say which tests were skipped and why the session failed."""
        if not self.skips:
            return
        terminalreporter.section(f"{NO_SKIP_VAR}: skipped tests fail this run", red=True)
        for nodeid, reason in self.skips:
            terminalreporter.line(f"SKIPPED {nodeid}: {reason}", red=True)
        terminalreporter.line(
            f"{len(self.skips)} skipped with {NO_SKIP_VAR}=1 set: every test must run in CI "
            "(install what it needs, or remove the skip).",
            red=True,
        )


def pytest_configure(config: pytest.Config) -> None:
    """Turn the no-skip policy on when ``KYCBRIDGE_NO_SKIP`` is set (not empty, not ``0``)."""
    if os.environ.get(NO_SKIP_VAR, "").strip() not in {"", "0"}:
        config.pluginmanager.register(NoSkip(), "kycbridge-no-skip")
