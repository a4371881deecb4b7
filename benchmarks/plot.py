"""The results as a picture: each ratio against its target, on a log scale.

Written by hand as SVG (no dependency). A ``.png`` path needs matplotlib, if it is installed.
"""

from __future__ import annotations

import math
from pathlib import Path
from xml.sax.saxutils import escape

from common import Result

WIDTH, ROW, LEFT, RIGHT, TOP = 760, 34, 230, 40, 50
LOW, HIGH = 0.1, 100.0  # the ratio axis (log scale)
COLORS = {"met": "#2e7d32", "MISSED": "#c62828", "info": "#1565c0"}


def _x(ratio: float) -> float:
    ratio = min(max(ratio, LOW), HIGH)
    span = math.log10(HIGH) - math.log10(LOW)
    return LEFT + (WIDTH - LEFT - RIGHT) * (math.log10(ratio) - math.log10(LOW)) / span


def svg(results: list[Result], title: str) -> str:
    """An SVG bar chart of every result with a ratio."""
    rows = [r for r in results if r.ratio is not None]
    height = TOP + ROW * len(rows) + 50
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" font-size="15">{escape(title)}</text>',
    ]
    bottom = TOP + ROW * len(rows)
    for tick in (0.1, 0.5, 1, 2, 5, 10, 20, 50, 100):
        x = _x(tick)
        out.append(f'<line x1="{x:.1f}" y1="{TOP - 6}" x2="{x:.1f}" y2="{bottom}" stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">{tick:g}x</text>')
    out.append(f'<text x="{LEFT}" y="{bottom + 40}">kycbridge / baseline (log scale)</text>')
    x = LEFT + 200
    for verdict, label in (("met", "target met"), ("MISSED", "missed"), ("info", "no target")):
        out.append(
            f'<rect x="{x}" y="{bottom + 30}" width="12" height="12" fill="{COLORS[verdict]}"/>'
        )
        out.append(f'<text x="{x + 16}" y="{bottom + 40}">{label}</text>')
        x += 84
    out.append(
        f'<line x1="{x + 4}" y1="{bottom + 28}" x2="{x + 4}" y2="{bottom + 44}" stroke="black" '
        f'stroke-width="3"/><text x="{x + 12}" y="{bottom + 40}">target</text>'
    )
    for i, r in enumerate(rows):
        assert r.ratio is not None
        y = TOP + ROW * i
        x0, x1 = _x(1.0), _x(r.ratio)
        out.append(f'<text x="{LEFT - 8}" y="{y + 18}" text-anchor="end">{escape(r.name)}</text>')
        out.append(
            f'<rect x="{min(x0, x1):.1f}" y="{y + 6}" width="{max(abs(x1 - x0), 1):.1f}" '
            f'height="{ROW - 12}" fill="{COLORS[r.verdict]}"/>'
        )
        label_x = max(x0, x1) + 4
        out.append(f'<text x="{label_x:.1f}" y="{y + 18}">{r.ratio:.2f}x</text>')
        if r.target_ratio is not None:
            xt = _x(r.target_ratio)
            out.append(
                f'<line x1="{xt:.1f}" y1="{y + 2}" x2="{xt:.1f}" y2="{y + ROW - 2}" '
                'stroke="black" stroke-width="3"/>'
            )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write(path: Path, results: list[Result], title: str) -> None:
    """Write the chart: SVG by hand, or PNG through matplotlib when asked for ``.png``."""
    if path.suffix.lower() != ".png":
        path.write_text(svg(results, title))
        return
    try:
        import matplotlib  # type: ignore[import-not-found]

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # type: ignore[import-not-found]
    except ImportError:
        raise SystemExit("a .png plot needs matplotlib; ask for a .svg instead") from None
    rows = [r for r in results if r.ratio is not None]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.2))
    names = [r.name for r in rows]
    ax.barh(names, [r.ratio or 0 for r in rows], color=[COLORS[r.verdict] for r in rows])
    for i, r in enumerate(rows):
        if r.target_ratio is not None:
            ax.plot([r.target_ratio] * 2, [i - 0.4, i + 0.4], color="black", linewidth=3)
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("kycbridge / baseline (log scale); black tick: target")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
