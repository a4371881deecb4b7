"""What the CLI writes: report lines, JSON lines, error lines and the live line.

Every human line goes through :func:`kycbridge.terminal.safe_text` (provider text escaped),
every JSON line through :func:`kycbridge.terminal.json_line`.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import IO, Any

from ..exitcodes import ExitCode
from ..redact import mask
from ..report import StatusReport
from ..terminal import json_line, safe_text

__all__ = [
    "LIVE_LINE_LIMIT",
    "RAW_STATUS_LIMIT",
    "LiveLine",
    "clock_time",
    "describe",
    "interrupted",
    "say",
    "write_json",
]

RAW_STATUS_LIMIT = 200
"""Longest raw status shown in a human report line, in characters."""

LIVE_LINE_LIMIT = 200
"""Longest live line (spinner, progress bar), in characters."""


def write_json(data: Any, out: IO[str]) -> None:
    """Write ``data`` as one strict JSON line (see :func:`kycbridge.terminal.json_line`)."""
    out.write(json_line(data) + "\n")
    out.flush()


def say(line: str, out: IO[str], *, limit: int | None = None) -> None:
    """Write one human line, escaped (see :func:`kycbridge.terminal.safe_text`)."""
    out.write(safe_text(line, limit) + "\n")


def describe(report: StatusReport) -> str:
    """One human line for a report, safe on a terminal (provider text is escaped)."""
    final = "final" if report.final else "not final"
    raw = ""
    if report.raw_status is not None:
        raw = f" (raw: {safe_text(str(report.raw_status), RAW_STATUS_LIMIT)})"
    flags = ""
    if report.blocklisted:
        flags += "  !! BLOCKLISTED"
    if report.anomaly:
        flags += "  !! unexpected transition"
    subject = mask(report.subject) if report.subject else "-"
    return safe_text(f"{report.provider} {subject}: {report.state.value}{raw}, {final}{flags}")


def clock_time(report: StatusReport) -> str:
    """``HH:MM:SS`` (UTC) of a report's observation."""
    return report.observed_at.strftime("%H:%M:%S")


class LiveLine:
    """A line redrawn on ``stream`` every ``period`` seconds (a spinner, a progress bar).

    Does nothing unless ``stream`` is a terminal. :meth:`print` erases the line, writes a
    line to ``out`` and lets the next tick redraw it; :meth:`close` erases it for good.
    """

    FRAMES = "|/-\\"

    def __init__(self, stream: IO[str], text: Callable[[], str], *, period: float = 0.1) -> None:
        isatty = getattr(stream, "isatty", None)
        self.enabled = bool(isatty and isatty())
        self.stream = stream
        self.text = text
        self.period = period
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._frames = itertools.cycle(self.FRAMES)
        self._thread: threading.Thread | None = None
        self._shown = False

    def __enter__(self) -> LiveLine:
        if self.enabled:
            self.draw()
            self._thread = threading.Thread(target=self._loop, name="kycbridge-live", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _loop(self) -> None:
        while not self._done.wait(self.period):
            self.draw()

    def draw(self) -> None:
        """Redraw now."""
        if not self.enabled:
            return
        with self._lock:
            if self._done.is_set():
                return
            # the cursor goes back to the start: a log line written now overwrites this one
            text = safe_text(self.text(), LIVE_LINE_LIMIT)
            self.stream.write(f"\r\x1b[K{next(self._frames)} {text}\r")
            self.stream.flush()
            self._shown = True

    def _erase(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False

    def print(self, line: str, out: IO[str]) -> None:
        """Erase the live line, then write ``line`` (escaped, and a newline) to ``out``."""
        with self._lock:
            self._erase()
            out.write(safe_text(line) + "\n")
            out.flush()
        self.draw()

    def close(self) -> None:
        """Stop redrawing and erase the line."""
        with self._lock:
            self._done.set()
            self._erase()
        if self._thread is not None:
            self._thread.join()
            self._thread = None


def interrupted(err: IO[str]) -> int:
    """Say that Ctrl-C stopped the command; return :attr:`ExitCode.INTERRUPTED`."""
    err.write("kycbridge: interrupted\n")
    return ExitCode.INTERRUPTED
