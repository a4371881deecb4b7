"""``kycbridge watch``: poll one subject and print each change until a target state.

Exit 0 at a target state, 8 when ``--timeout`` passes first (see :mod:`kycbridge.watch`).
"""

from __future__ import annotations

import argparse
import time
from typing import IO, Any

from ..bridge import Bridge
from ..exitcodes import ExitCode
from ..redact import mask
from ..report import report_to_dict
from ..states import FINAL_STATES
from ..terminal import json_line
from ..watch import Watcher, parse_states
from .options import add_call_options, seconds, settings_overrides
from .output import LiveLine, clock_time, describe, interrupted

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Add ``watch`` to ``subparsers``."""
    p = subparsers.add_parser("watch", help="poll a subject until a final (or chosen) state")
    add_call_options(p)
    p.add_argument(
        "--until",
        metavar="STATE[,STATE...]",
        help="stop at these states (default: the final ones: approved, rejected, ...)",
    )
    p.add_argument("--interval", type=seconds, metavar="S", help="first wait between polls")
    p.add_argument("--max-interval", type=seconds, metavar="S", help="longest wait between polls")
    p.add_argument(
        "--timeout",
        dest="watch_timeout",
        type=float,
        metavar="S",
        help="overall deadline: give up after S seconds, a request in flight included "
        "(exit 8); default: no limit",
    )


def run(args: argparse.Namespace, bridge: Bridge, out: IO[str], err: IO[str]) -> int:
    """``kycbridge watch``: print each change; exit 0 at a target state, 8 on timeout."""
    until = parse_states(args.until) if args.until else FINAL_STATES
    settings = bridge.settings(args.provider, **settings_overrides(args))
    watcher = Watcher(
        bridge,
        args.provider,
        dict(args.params),
        until=until,
        interval=args.interval,
        max_interval=args.max_interval,
        timeout=args.watch_timeout,
        settings=settings,
    )
    started = time.monotonic()

    def status() -> str:
        state = watcher.last.state.value if watcher.last else "…"
        return (
            f"watching {args.provider} {mask(watcher.subject)}: {state}, "
            f"{watcher.polls} polls, {time.monotonic() - started:.0f} s"
        )

    with LiveLine(err, status) as live:
        try:
            for report in watcher:
                if args.json:
                    live.print(json_line(report_to_dict(report)), out)
                else:
                    live.print(f"{clock_time(report)} {describe(report)}", out)
        except KeyboardInterrupt:
            live.close()
            return interrupted(err)
    return ExitCode.OK
