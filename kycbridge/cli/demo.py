"""``kycbridge demo``: watch the sandbox's demo scenarios and print each change, then tables.

Exit 0 only when every demo scenario reached its documented outcome, else 1 (see
:func:`kycbridge.demo.run_demo`).
"""

from __future__ import annotations

import argparse
from typing import IO, TYPE_CHECKING, Any

from ..bridge import Bridge
from ..exitcodes import ExitCode
from ..redact import mask
from ..report import StatusReport, report_to_dict
from ..terminal import ERROR_LINE_LIMIT, json_line, safe_text
from .output import clock_time, interrupted

if TYPE_CHECKING:
    from ..demo import DemoRun
    from ..sandbox import Sandbox

__all__ = ["DESCRIPTION_LIMIT", "add_parser", "run"]

DESCRIPTION_LIMIT = 100
"""Longest scenario description printed, in characters."""


def add_parser(subparsers: Any) -> None:
    """Add ``demo`` to ``subparsers``."""
    p = subparsers.add_parser("demo", help="watch the sandbox's demo scenarios to their outcomes")
    p.add_argument("--json", action="store_true", help="print JSON lines on stdout")


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


def run(args: argparse.Namespace, bridge: Bridge, out: IO[str], err: IO[str]) -> int:
    """``kycbridge demo``: exit 0 when every demo scenario reached its outcome, else 1."""
    from ..demo import run_demo  # the sandbox's HTTP server: imported only for this command

    def write(line: str) -> None:
        out.write(safe_text(line) + "\n")
        out.flush()

    def on_start(sandbox: Sandbox, runs: list[DemoRun]) -> None:
        if args.json:
            return
        counts: dict[str, int] = {}
        for one in runs:
            counts[one.provider] = counts.get(one.provider, 0) + 1
        per = ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
        write(
            f"kycbridge demo: sandbox on {sandbox.base_url}; "
            f"watching {len(runs)} demo scenarios ({per})"
        )
        width = max(len(_name(one)) for one in runs)
        for one in runs:
            write(f"  {_name(one):<{width}}  {_description(one)}")
        write("")

    def on_change(one: DemoRun, report: StatusReport) -> None:
        if args.json:
            old = one.last.state.value if one.last is not None else None
            data = {"event": "change", "old": old, "report": report_to_dict(report)}
            write(json_line(data))
        else:
            write(_change_line(one, report))

    try:
        runs = run_demo(bridge, on_start=on_start, on_change=on_change)
    except KeyboardInterrupt:
        return interrupted(err)
    ok = all(one.ok for one in runs)
    passed = sum(one.ok for one in runs)
    if args.json:
        summary = {"event": "summary", "ok": ok, "scenarios": [_summary(r) for r in runs]}
        write(json_line(summary))
    else:
        for line in _table(runs):
            write(line)
        write("")
        write(f"{passed} of {len(runs)} demo scenarios reached their documented outcome.")
    for one in runs:
        if not one.ok:
            reason = f": {one.error}" if one.error is not None else ""
            line = (
                f"kycbridge: demo {_name(one)} ended in {one.result}, expected "
                f"{one.scenario.outcome}{reason} (scenario: {_description(one)})"
            )
            err.write(safe_text(line, ERROR_LINE_LIMIT) + "\n")
    return ExitCode.OK if ok else ExitCode.DEMO_FAILED
