"""Run kycbridge's benchmarks and print one table (see ``docs/performance.md``).

    python benchmarks/run.py [--quick] [--only NAME] [--plot docs/performance.svg]
                             [--json FILE] [--profile]

Each benchmark measures kycbridge against a baseline in the same run, interleaved, and
reports medians and their ratio against a target. Everything talks to a sandbox the run
starts on loopback. Exit status: 0 when every target is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import bench_bulk
import bench_coldstart
import bench_normalize
import bench_overhead
import bench_tracking
import bench_watch
import bench_webhooks
import plot
from common import Options, Result, machine

BENCHMARKS: dict[str, Callable[[Options], list[Result]]] = {
    "overhead": bench_overhead.run,
    "bulk": bench_bulk.run,
    "coldstart": bench_coldstart.run,
    "normalize": bench_normalize.run,
    "watch": bench_watch.run,
    "tracking": bench_tracking.run,
    "webhooks": bench_webhooks.run,
}

COLUMNS = ("benchmark", "kycbridge", "baseline", "ratio", "target", "verdict")


def table(results: list[Result]) -> str:
    """The results as a Markdown table (readable as plain text too)."""
    rows = [
        (
            r.name,
            r.kycbridge,
            r.baseline,
            "-" if r.ratio is None else f"{r.ratio:.2f}x",
            r.target,
            r.verdict,
        )
        for r in results
    ]
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(COLUMNS)]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join(
        [line(COLUMNS), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (seconds)")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHMARKS),
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--plot", type=Path, metavar="FILE", help="write a chart (.svg or .png)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write raw numbers as JSON")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print a cProfile of the kycbridge side of the overhead benchmark",
    )
    args = parser.parse_args(argv)
    opts = Options(quick=args.quick, profile=args.profile)

    results: list[Result] = []
    started = time.monotonic()
    for name in args.only or BENCHMARKS:
        print(f"running {name}...", file=sys.stderr, flush=True)
        results.extend(BENCHMARKS[name](opts))
    elapsed = time.monotonic() - started

    info = machine()
    mode = "quick" if args.quick else "full"
    print(
        f"\nkycbridge {info['kycbridge']} on Python {info['python']}, {info['cpus']} CPUs, "
        f"{info['platform']} ({mode} run, {elapsed:.0f} s)\n"
    )
    print(table(results))
    notes = [(r.name, note) for r in results for note in r.notes]
    if notes:
        print()
        for name, note in notes:
            print(f"- {name}: {note}")
    if args.plot:
        plot.write(args.plot, results, f"kycbridge {info['kycbridge']}: ratios to baselines")
        print(f"\nplot written to {args.plot}")
    if args.json:
        data = {
            "machine": info,
            "mode": mode,
            "seconds": elapsed,
            "results": [
                {
                    "name": r.name,
                    "kycbridge": r.kycbridge,
                    "baseline": r.baseline,
                    "ratio": r.ratio,
                    "target": r.target,
                    "target_ratio": r.target_ratio,
                    "verdict": r.verdict,
                    "notes": r.notes,
                    "data": r.data,
                }
                for r in results
            ],
        }
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    return 0 if all(r.passed is not False for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
