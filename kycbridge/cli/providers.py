"""``kycbridge providers``: the installed providers, name conflicts and broken plugins."""

from __future__ import annotations

import argparse
from typing import IO, Any

from ..bridge import Bridge
from ..exitcodes import ExitCode
from ..terminal import ERROR_LINE_LIMIT
from .output import say, write_json

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Add ``providers`` to ``subparsers``."""
    p = subparsers.add_parser("providers", help="list installed providers and broken plugins")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")


def run(args: argparse.Namespace, bridge: Bridge, out: IO[str], err: IO[str]) -> int:
    """``kycbridge providers``."""
    registry = bridge.registry
    infos = registry.providers()
    conflicts = registry.conflicts()
    if args.json:
        write_json(
            {
                "providers": [
                    {"name": i.name, "distribution": i.distribution, "version": i.version}
                    for i in infos
                ],
                "broken": [
                    {
                        "name": b.name,
                        "distribution": b.distribution,
                        "version": b.version,
                        "error": b.error,
                    }
                    for b in registry.broken
                ],
                "warnings": [
                    {
                        "name": w.name,
                        "distribution": w.distribution,
                        "version": w.version,
                        "message": w.message,
                    }
                    for w in registry.warnings
                ],
                "conflicts": conflicts,
            },
            out,
        )
        return ExitCode.OK
    if not infos and conflicts:
        say("No usable providers: every installed one is withheld for a name conflict.", out)
    elif not infos and registry.broken:
        say("No usable providers: the installed plugins are broken (below).", out)
    elif not infos:
        say("No providers installed. Install one, e.g. `pip install kycbridge-starkfi`.", out)
    for info in infos:
        say(f"{info.name:<16} {info.distribution or '-'} {info.version or ''}".rstrip(), out)
    for name, dists in conflicts.items():
        say(f"{name:<16} CONFLICT: registered by {', '.join(map(str, dists))}", out)
    for broken in registry.broken:
        say(f"BROKEN {broken.describe()}", out, limit=ERROR_LINE_LIMIT)
    for warning in registry.warnings:
        say(f"WARNING {warning.describe()}", out, limit=ERROR_LINE_LIMIT)
    return ExitCode.OK
