"""``kycbridge status``: one subject (:func:`run`), or many with ``--input`` (:func:`run_bulk`).

The many-subjects form reads JSON lines (one query object per line, ``-`` for stdin), checks
them with :func:`kycbridge.bulk.bulk_status` and prints one line per input line, then a
summary; exit 0 when every line got a report, 9 when some failed.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import threading
from collections.abc import Iterator
from typing import IO, Any

from ..bridge import Bridge
from ..bulk import MAX_WORKERS, BulkResult, bulk_status
from ..errors import InvalidQuery
from ..exitcodes import ExitCode
from ..report import report_to_dict
from ..terminal import ERROR_LINE_LIMIT, json_line, safe_text
from .options import add_call_options, settings_overrides
from .output import LiveLine, describe, interrupted, say, write_json

__all__ = ["add_parser", "run", "run_bulk"]


def add_parser(subparsers: Any) -> None:
    """Add ``status`` to ``subparsers``."""
    p = subparsers.add_parser("status", help="fetch a subject's status once")
    add_call_options(p)
    p.add_argument(
        "--timeout",
        dest="timeout",
        type=float,
        metavar="S",
        help="overall deadline of the call, retries and waits included (exit 5 past it); "
        "with --input, of each line's call",
    )
    p.add_argument("--input", metavar="FILE", help="JSON lines of queries ('-': stdin)")
    p.add_argument("--workers", type=int, default=8, help="concurrent workers with --input")


def run(args: argparse.Namespace, bridge: Bridge, out: IO[str], err: IO[str]) -> int:
    """``kycbridge status`` (one subject; ``--input`` hands over to :func:`run_bulk`)."""
    if args.input is not None:
        return run_bulk(args, bridge, out, err)
    query = bridge.query(args.provider, **dict(args.params))
    settings = bridge.settings(args.provider, **settings_overrides(args))
    report = bridge.fetch(args.provider, query, settings=settings)
    if args.json:
        write_json(report_to_dict(report), out)
    else:
        say(describe(report), out)
    return ExitCode.OK


# -- many subjects ---------------------------------------------------------------------------
def _read_lines(stream: IO[str], provider: str) -> Iterator[tuple[int, Any]]:
    """``(line number, fields or InvalidQuery)`` for each non-blank line of JSON lines."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, InvalidQuery(f"not JSON: {exc.msg}", provider=provider)
            continue
        if not isinstance(value, dict):
            yield (
                number,
                InvalidQuery(
                    f"not a JSON object (got {type(value).__name__})",
                    provider=provider,
                ),
            )
            continue
        yield number, value


def _count_lines(path: str) -> int | None:
    try:
        with open(path, "rb") as handle:
            return sum(1 for line in handle if line.strip())
    except OSError:
        return None


class _Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.states: collections.Counter[str] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()

    def add(self, result: BulkResult) -> None:
        with self.lock:
            if result.report is not None:
                self.states[result.report.state.value] += 1
            elif result.error is not None:
                self.errors[result.error.kind] += 1

    @property
    def done(self) -> int:
        return sum(self.states.values()) + sum(self.errors.values())

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    def summary(self) -> str:
        with self.lock:
            ok, failed = self.done - self.failed, self.failed
            parts = [
                f"{_plural(self.done, 'line')}: {_plural(ok, 'report')}, {_plural(failed, 'error')}"
            ]
            if self.states:
                parts.append(
                    "states: " + ", ".join(f"{k} {v}" for k, v in sorted(self.states.items()))
                )
            if self.errors:
                parts.append(
                    "errors: " + ", ".join(f"{k} {v}" for k, v in sorted(self.errors.items()))
                )
        return "summary: " + "; ".join(parts)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _bar(done: int, total: int | None, width: int = 30) -> str:
    if not total:
        return f"checked {done} lines"
    filled = min(width, width * done // total)
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def run_bulk(args: argparse.Namespace, bridge: Bridge, out: IO[str], err: IO[str]) -> int:
    """``kycbridge status PROVIDER --input FILE``: one output line per input line.

    Exit 0 when every line got a report, 9 when some failed (their errors are printed).
    """
    if not 1 <= args.workers <= MAX_WORKERS:
        raise InvalidQuery(f"--workers must be between 1 and {MAX_WORKERS}")
    settings = bridge.settings(args.provider, **settings_overrides(args))
    if args.input == "-":
        stream: IO[str] = sys.stdin
        total = None
    else:
        try:
            stream = open(args.input, encoding="utf-8", errors="replace")
        except OSError as exc:
            raise InvalidQuery(f"cannot read --input {args.input}: {exc.strerror}") from None
        total = _count_lines(args.input) if os.path.isfile(args.input) else None
    tally = _Tally()
    stopped = False
    try:
        with LiveLine(err, lambda: _bar(tally.done, total)) as live:
            results = bulk_status(
                bridge,
                args.provider,
                _read_lines(stream, args.provider),
                workers=args.workers,
                settings=settings,
                defaults=dict(args.params),
            )
            try:
                for result in results:
                    tally.add(result)
                    live.print(_format(result, args.json), out)
            except KeyboardInterrupt:
                stopped = True
                results.close()  # cancel what is queued; requests in flight finish
    finally:
        if stream is not sys.stdin:
            stream.close()
    (err if args.json else out).write(safe_text(tally.summary()) + "\n")
    if stopped:
        return interrupted(err)
    return ExitCode.PARTIAL if tally.failed else ExitCode.OK


def _format(result: BulkResult, as_json: bool) -> str:
    if as_json:
        data: dict[str, Any] = {"line": result.index}
        if result.report is not None:
            data["report"] = report_to_dict(result.report)
        elif result.error is not None:
            data["error"] = result.error.to_dict()
        return json_line(data)
    if result.report is not None:
        return f"line {result.index}: {describe(result.report)}"
    return safe_text(f"line {result.index}: error: {result.error}", ERROR_LINE_LIMIT)
