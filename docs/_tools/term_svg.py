"""Render a terminal capture (``tmux capture-pane -p -e``) as a small SVG.

Usage: ``python docs/_tools/term_svg.py CAPTURE.ans OUT.svg [TITLE]``. Handles the SGR
colours and bold a capture holds; trailing blank lines are dropped. No dependency.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_SGR = re.compile(r"\x1b\[([0-9;]*)m")
_OTHER_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_COLOURS = ["#3b3b3b", "#c0392b", "#2e8b57", "#b8860b", "#2f6fb3", "#8e44ad", "#16a2a8", "#d0d0d0"]
_BRIGHT = ["#777777", "#e74c3c", "#3cb371", "#daa520", "#4a90e2", "#b06fcf", "#1fc3c9", "#ffffff"]
_BOLD = ' font-weight="bold"'
_FG, _BG, _CHAR_W, _LINE_H, _PAD = "#e8e8e8", "#1e1f22", 8.4, 18, 14


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def spans(line: str) -> list[tuple[str, str, bool]]:
    """``(text, colour, bold)`` runs of one captured line."""
    out: list[tuple[str, str, bool]] = []
    colour, bold, pos = _FG, False, 0
    line = _OTHER_ESCAPE.sub(lambda m: m.group(0) if m.group(0).endswith("m") else "", line)
    for match in _SGR.finditer(line):
        if match.start() > pos:
            out.append((line[pos : match.start()], colour, bold))
        for code in [int(c) for c in (match.group(1) or "0").split(";") if c]:
            if code == 0:
                colour, bold = _FG, False
            elif code == 1:
                bold = True
            elif code == 22:
                bold = False
            elif 30 <= code <= 37:
                colour = _COLOURS[code - 30]
            elif 90 <= code <= 97:
                colour = _BRIGHT[code - 90]
            elif code == 39:
                colour = _FG
        pos = match.end()
    if pos < len(line):
        out.append((line[pos:], colour, bold))
    return out


def render(capture: str, title: str = "") -> str:
    """The SVG for a capture's text."""
    lines = capture.rstrip("\n").split("\n")
    while lines and not _SGR.sub("", lines[-1]).strip():
        lines.pop()
    cols = max((len(_SGR.sub("", line)) for line in lines), default=0)
    top = 30 if title else _PAD
    width = int(cols * _CHAR_W + 2 * _PAD)
    height = int(top + len(lines) * _LINE_H + _PAD)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans Mono, Menlo, Consolas, '
        'monospace" font-size="14">',
        f"<title>{_esc(title or 'terminal')}</title>",
        f'<rect width="{width}" height="{height}" rx="8" fill="{_BG}"/>',
    ]
    if title:
        parts.append(
            f'<text x="{width / 2:.0f}" y="20" text-anchor="middle" fill="#9a9a9a" '
            f'font-size="12">{_esc(title)}</text>'
        )
    for row, line in enumerate(lines):
        y = top + (row + 1) * _LINE_H - 5
        tspans = "".join(
            f'<tspan fill="{colour}"{_BOLD if bold else ""}>{_esc(text)}</tspan>'
            for text, colour, bold in spans(line)
        )
        if tspans:
            parts.append(f'<text x="{_PAD}" y="{y}" xml:space="preserve">{tspans}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    target.write_text(render(source.read_text(), sys.argv[3] if len(sys.argv) > 3 else ""))
