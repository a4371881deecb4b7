"""Docs generated from the code, so they cannot drift.

On ``builder-inited`` this writes, under ``docs/_generated/``:

- ``states.svg``: the lifecycle diagram (:data:`DIAGRAM_GRID`, :data:`DIAGRAM_EDGES`);
- ``transitions.md``: the expected transitions not drawn, and the anomalies, from
  :data:`kycbridge.TRANSITIONS`;
- ``providers/<name>.md``: one page per installed provider, from the plugin's own data
  (query and settings classes, env variables, mapping tables, simple or composite, the error
  table, sandbox scenarios).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import attrs

from kycbridge import ANY, FINAL_STATES, TRANSITIONS, CompositeStatusMap, KYCState
from kycbridge.plugins import PluginRegistry
from kycbridge.provider import env_name, is_secret

_S = KYCState

DIAGRAM_GRID: tuple[tuple[KYCState | None, ...], ...] = (
    (None, None, None, None, _S.APPROVED, _S.EXPIRED),
    (_S.NOT_STARTED, _S.IN_PROGRESS, _S.SUBMITTED, _S.IN_REVIEW, None, None),
    (None, None, None, None, _S.REJECTED, None),
    (None, _S.ABANDONED, None, _S.ACTION_REQUIRED, None, _S.UNKNOWN),
)
"""Where each state sits in the diagram: rows top to bottom, columns left to right.

The usual path is the second row, read left to right (``not_started`` to ``in_review``), its
outcomes in the column after it (``approved`` above, ``rejected`` below, ``expired`` beside
``approved``, which it follows); the ``action_required`` loop and the ``abandoned`` exit sit
in the bottom row, ``unknown`` apart in the corner. Pixel positions are computed from this
grid only; a test checks that every state appears exactly once.
"""

DIAGRAM_EDGES: tuple[tuple[KYCState, KYCState, str, str], ...] = (
    (_S.NOT_STARTED, _S.IN_PROGRESS, "path", ""),
    (_S.IN_PROGRESS, _S.SUBMITTED, "path", ""),
    (_S.SUBMITTED, _S.IN_REVIEW, "path", ""),
    (_S.IN_REVIEW, _S.APPROVED, "path", ""),
    (_S.IN_REVIEW, _S.REJECTED, "path", ""),
    (_S.IN_REVIEW, _S.ACTION_REQUIRED, "loop", "asks more"),
    (_S.ACTION_REQUIRED, _S.SUBMITTED, "loop", "resubmitted"),
    (_S.IN_PROGRESS, _S.ABANDONED, "exit", "user left"),
    (_S.ACTION_REQUIRED, _S.ABANDONED, "exit", "never came back"),
    (_S.APPROVED, _S.EXPIRED, "exit", "went stale"),
)
"""The transitions drawn as arrows: ``(from, to, kind, label)``, kind ``path`` (the usual
way to an outcome), ``loop`` (back into the path) or ``exit`` (a side way out).

Every other transition in :data:`kycbridge.TRANSITIONS` is printed in the table of other
expected transitions (:func:`transition_tables`); a test checks that arrows and table together
are exactly ``TRANSITIONS``, and that every arrow is in it.
"""

_CELL_W, _CELL_H = 134, 66
_BOX_W, _BOX_H = 108, 32
_MARGIN_X, _MARGIN_Y = 16, 18
_LEGEND_H = 58
_EDGE_STYLE = {
    "path": ("#1f4e99", ""),
    "loop": ("#b35c00", ""),
    "exit": ("#6b6b6b", ' stroke-dasharray="5 3"'),
}


def diagram_positions() -> dict[KYCState, tuple[float, float]]:
    """The centre of each state's box, from :data:`DIAGRAM_GRID`."""
    pos: dict[KYCState, tuple[float, float]] = {}
    for row, states in enumerate(DIAGRAM_GRID):
        for col, state in enumerate(states):
            if state is not None:
                pos[state] = (
                    _MARGIN_X + _CELL_W * col + _CELL_W / 2,
                    _MARGIN_Y + _CELL_H * row + _CELL_H / 2,
                )
    return pos


def _border_point(
    centre: tuple[float, float], towards: tuple[float, float], gap: float = 0.0
) -> tuple[float, float]:
    """Where the segment from ``centre`` to ``towards`` leaves the box (plus ``gap``)."""
    (x, y), (tx, ty) = centre, towards
    dx, dy = tx - x, ty - y
    half_w, half_h = _BOX_W / 2 + gap, _BOX_H / 2 + gap
    t = min(half_w / abs(dx) if dx else math.inf, half_h / abs(dy) if dy else math.inf)
    return x + dx * t, y + dy * t


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def state_diagram_svg() -> str:
    """The lifecycle: the usual path left to right, its loop and exits, finals marked.

    Only :data:`DIAGRAM_EDGES` are drawn; every edge carries ``data-from``/``data-to`` so
    tests can read them back. The background is light in both the light and the dark theme.
    """
    pos = diagram_positions()
    cols = max(len(r) for r in DIAGRAM_GRID)
    width = int(2 * _MARGIN_X + _CELL_W * cols)
    grid_h = _MARGIN_Y + _CELL_H * len(DIAGRAM_GRID)
    height = int(grid_h + _LEGEND_H)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Verdana, sans-serif" '
        'font-size="12">',
        "<title>KYC state lifecycle</title>",
        "<defs>",
    ]
    for kind, (colour, _) in _EDGE_STYLE.items():
        parts.append(
            f'<marker id="arrow-{kind}" viewBox="0 0 10 10" refX="9" refY="5" '
            'markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        )
    parts.append("</defs>")
    parts.append(
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" rx="10" '
        'fill="#ffffff" stroke="#d0d0d0"/>'
    )
    for src, dst, kind, label in DIAGRAM_EDGES:
        colour, dash = _EDGE_STYLE[kind]
        x1, y1 = _border_point(pos[src], pos[dst], 2)
        x2, y2 = _border_point(pos[dst], pos[src], 3)
        parts.append(
            f'<g class="edge {kind}" data-from="{src.value}" data-to="{dst.value}">'
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" '
            f'stroke-width="{2 if kind == "path" else 1.5}"{dash} '
            f'marker-end="url(#arrow-{kind})"/>'
        )
        if label:
            lx, ly, anchor = _label_place(x1, y1, x2, y2)
            parts.append(
                f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="{anchor}" font-size="11" '
                f'font-style="italic" fill="{colour}">{_esc(label)}</text>'
            )
        parts.append("</g>")
    for state, (x, y) in pos.items():
        parts.append(_state_box(state, x, y))
    ux, uy = pos[_S.UNKNOWN]
    parts.append(
        f'<text x="{ux:.1f}" y="{uy - _BOX_H / 2 - 18:.1f}" text-anchor="middle" font-size="11" '
        'fill="#555">any state may be</text>'
        f'<text x="{ux:.1f}" y="{uy - _BOX_H / 2 - 5:.1f}" text-anchor="middle" font-size="11" '
        'fill="#555">reported as unknown</text>'
    )
    parts.append(_legend(grid_h + 8))
    parts.append("</svg>")
    return "\n".join(parts)


def _label_place(x1: float, y1: float, x2: float, y2: float) -> tuple[float, float, str]:
    """Where an arrow's label goes, and its anchor.

    Right of a vertical arrow, above a horizontal one (above the boxes when the arrow is
    short), left of a diagonal one.
    """
    mx, my = (x1 + x2) / 2, (y1 + y2) / 2
    if abs(x2 - x1) < 1:
        return mx + 6, my + 4, "start"
    if abs(y2 - y1) < 1:
        return mx, (my - 6 if abs(x2 - x1) > 90 else my - _BOX_H / 2 - 6), "middle"
    return mx - 8, my + 4, "end"


def _state_box(state: KYCState, x: float, y: float, w: float = _BOX_W, h: float = _BOX_H) -> str:
    left, top = x - w / 2, y - h / 2
    if state is _S.UNKNOWN:
        box = (
            f'<rect x="{left:.1f}" y="{top:.1f}" width="{w}" height="{h}" rx="8" '
            'fill="#f2f2f2" stroke="#777" stroke-dasharray="4 3"/>'
        )
    elif state in FINAL_STATES:
        box = (
            f'<rect x="{left - 3:.1f}" y="{top - 3:.1f}" width="{w + 6}" height="{h + 6}" '
            'rx="10" fill="none" stroke="#a12622" stroke-width="1.2"/>'
            f'<rect x="{left:.1f}" y="{top:.1f}" width="{w}" height="{h}" rx="7" '
            'fill="#fbe0df" stroke="#a12622" stroke-width="1.2"/>'
        )
    else:
        box = (
            f'<rect x="{left:.1f}" y="{top:.1f}" width="{w}" height="{h}" rx="8" '
            'fill="#e3ecfa" stroke="#1f4e99" stroke-width="1.2"/>'
        )
    return (
        f'<g class="state" data-state="{state.value}">{box}'
        f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle" fill="#111">'
        f"{state.value}</text></g>"
    )


def _legend(top: float) -> str:
    """Box shapes and arrow kinds, in one row at the bottom."""
    y = top + 14
    out = ['<g class="legend" font-size="11" fill="#333">']
    x = float(_MARGIN_X + 8)
    for colour, fill, text, final in (
        ("#1f4e99", "#e3ecfa", "not final: keep polling", False),
        ("#a12622", "#fbe0df", "final: an outcome, polling stops", True),
    ):
        if final:
            out.append(
                f'<rect x="{x - 2}" y="{y - 9}" width="26" height="18" rx="5" fill="none" '
                f'stroke="{colour}"/>'
            )
        out.append(
            f'<rect x="{x + 1}" y="{y - 6}" width="20" height="12" rx="3" fill="{fill}" '
            f'stroke="{colour}"/><text x="{x + 30}" y="{y + 4}">{text}</text>'
        )
        x += 30 + 6 * len(text) + 18
    for kind, text in (("path", "usual path"), ("loop", "loop back"), ("exit", "side exit")):
        colour, dash = _EDGE_STYLE[kind]
        out.append(
            f'<line x1="{x}" y1="{y}" x2="{x + 28}" y2="{y}" stroke="{colour}" '
            f'stroke-width="{2 if kind == "path" else 1.5}"{dash} '
            f'marker-end="url(#arrow-{kind})"/><text x="{x + 36}" y="{y + 4}">{text}</text>'
        )
        x += 36 + 6 * len(text) + 18
    out.append(
        f'<text x="{_MARGIN_X + 8}" y="{y + 24}" fill="#555">Not drawn: the other expected '
        "transitions (skipped states, new attempts) and the anomalies, in the tables below."
        "</text>"
    )
    out.append("</g>")
    return "".join(out)


def drawn_transitions() -> set[tuple[KYCState, KYCState]]:
    """The transitions drawn as arrows."""
    return {(src, dst) for src, dst, _, _ in DIAGRAM_EDGES}


def other_transitions() -> dict[KYCState, list[KYCState]]:
    """For each state, the expected next states not drawn as arrows (in state order)."""
    drawn = drawn_transitions()
    return {
        src: [dst for dst in KYCState if dst in TRANSITIONS[src] and (src, dst) not in drawn]
        for src in KYCState
    }


def anomalies() -> dict[KYCState, list[KYCState]]:
    """For each state, the next states :mod:`kycbridge.states` flags as anomalies."""
    return {
        src: [dst for dst in KYCState if dst is not src and dst not in TRANSITIONS[src]]
        for src in KYCState
    }


def _states_cell(states: list[KYCState]) -> str:
    return ", ".join(f"`{s.value}`" for s in states)


def transition_tables() -> str:
    """Markdown: the expected transitions not drawn, then the anomalies, from the code."""
    out = [
        "Expected, but not drawn (polling skips states; an outcome may be followed by a new "
        "attempt; `unknown` tells nothing about order):",
        "",
        "| from | final | also expected next |",
        "|---|---|---|",
    ]
    for src, dsts in other_transitions().items():
        final = "yes" if src in FINAL_STATES else "no"
        out.append(f"| `{src.value}` | {final} | {_states_cell(dsts) or 'nothing else'} |")
    out += [
        "",
        "Flagged as an **anomaly** (`anomaly=True`; reported, never dropped):",
        "",
        "| from | anomaly if observed next |",
        "|---|---|",
    ]
    quiet = []
    for src, dsts in anomalies().items():
        if dsts:
            out.append(f"| `{src.value}` | {_states_cell(dsts)} |")
        else:
            quiet.append(src)
    if quiet:
        out += ["", f"After {_states_cell(quiet).replace(', ', ' or ')} nothing is an anomaly."]
    return "\n".join(out) + "\n"


def _type_name(tp: Any) -> str:
    return str(getattr(tp, "__name__", tp)).replace("typing.", "").replace("|", "\\|")


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _cell_text(cell: object) -> str:
    if cell is ANY:
        return "any"
    if isinstance(cell, bool):
        return "`true`" if cell else "`false`"
    return f"`{_cell(cell)}`"


def mapping_table(status_map: Any) -> list[str]:
    """A ``StatusMap`` or ``CompositeStatusMap`` as Markdown table lines, row by row."""
    if isinstance(status_map, CompositeStatusMap):
        fields = [f"`{_cell(f)}`" for f in status_map.fields]
        out = ["| " + " | ".join([*fields, "state"]) + " |"]
        out.append("|" + "---|" * (len(fields) + 1))
        for cells, state in status_map.rows():
            out.append("| " + " | ".join([*map(_cell_text, cells), f"`{state.value}`"]) + " |")
        out += [
            "",
            "The most specific matching row wins (most fixed cells, then the earliest fixed "
            "field); no matching row gives `unknown`.",
            "",
        ]
        return out
    out = ["| provider word | state |", "|---|---|"]
    for word, state in status_map.rows():
        out.append(f"| `{_cell(word)}` | `{state.value}` |")
    return [*out, "", "Any other word: `unknown`, with the word kept in `raw_status`.", ""]


def credentials_line(provider: Any) -> list[str]:
    """The "Credentials" line of a provider page, from its ``credential_info`` (if declared)."""
    info = getattr(provider, "credential_info", None)
    if info is None:
        return []
    needs = " or ".join(f"`{n}`" for n in info.static) or "none"
    line = f"**Credentials**: {needs}"
    if info.exchanged_from:
        given = " and ".join(f"`{n}`" for n in info.exchanged_from)
        line += (
            f"; or {given}, from which it obtains {_cell(info.obtains) or 'a token'} itself, "
            "cached and refreshed ([Credentials](../../credentials.md))"
        )
    return [line + ". A secret may also come from a file: `KYCBRIDGE_<P>_<SETTING>_FILE`.", ""]


def webhooks_line(handler: Any | None) -> str:
    """The page's "Webhooks" line, from the registered handler (``None``: there is none).

    The scheme is the handler's ``scheme`` attribute, else its class docstring's first line.
    """
    if handler is None:
        return "Webhooks: not documented by the provider."
    scheme = getattr(handler, "scheme", None) or (type(handler).__doc__ or "").strip()
    scheme = scheme.splitlines()[0].rstrip(".") if scheme else "verified deliveries"
    tolerance = getattr(handler, "tolerance", None)
    signed = (
        f"; signed time within {tolerance:g} s" if tolerance else "; no signed time (replays "
        "caught by event id)"
    )
    return (
        f"Webhooks: yes, signature scheme: {_cell(scheme)}{signed}. Receive them at "
        f"`/webhooks/{name_of(handler)}` ([Webhooks](../../webhooks.md))."
    )


def name_of(handler: Any) -> str:
    """A handler's provider name."""
    return str(getattr(handler, "name", ""))


def provider_page(
    name: str, info: Any, simulator: Any | None, webhooks: Any | None = None
) -> str:
    """One provider's page: query, settings, env, webhooks, mapping, scenarios."""
    provider = info.provider
    out = [f"# {name}", ""]
    doc = (provider.__class__.__doc__ or "").strip()
    if doc:
        out += [doc, ""]
    out += [f"Distribution: `{info.distribution}` {info.version or ''}", ""]
    if getattr(provider, "rate_limit", None):
        out += [f"Rate limit enforced across threads: {provider.rate_limit:g} requests/s.", ""]
    out += credentials_line(provider)
    out += [webhooks_line(webhooks), ""]
    out += ["## Query fields", "", "| field | type | required | secret | env |"]
    out += ["|---|---|---|---|---|"]
    attrs.resolve_types(provider.query_type)
    for f in attrs.fields(provider.query_type):
        required = "yes" if f.default is attrs.NOTHING else "no"
        env = f"`{env_name(name, f.name)}`" if is_secret(f) else ""
        out.append(
            f"| `{f.name}` | `{_type_name(f.type)}` | {required} | "
            f"{'yes' if is_secret(f) else 'no'} | {env} |"
        )
    out += ["", "## Settings", "", "| setting | type | default | env |", "|---|---|---|---|"]
    attrs.resolve_types(provider.settings_type)
    for f in attrs.fields(provider.settings_type):
        default = "(secret)" if is_secret(f) else repr(f.default)
        out.append(
            f"| `{f.name}` | `{_type_name(f.type)}` | `{_cell(default)}` | "
            f"`{env_name(name, f.name)}` |"
        )
    out += ["", "## Mapping", ""]
    out += mapping_table(provider.status_map)
    composite = getattr(provider, "composite_map", None)
    if isinstance(composite, CompositeStatusMap) and composite is not provider.status_map:
        out += ["### Combined fields", ""]
        out += mapping_table(composite)
    table = getattr(provider, "error_table", None)
    if table is not None:
        out += ["## Errors", "", "| HTTP status | error | CLI exit | summary |"]
        out.append("|---|---|---|---|")
        for status, cls, summary in table.rows():
            out.append(f"| {status} | `{cls.__name__}` | {cls.exit_code} | {_cell(summary)} |")
        out += [
            "",
            "Other 4xx: `RequestRejected`; other 5xx: `ProviderUnavailable`; a body that is not "
            "the provider's own error body: `MalformedResponse` (429 and 5xx keep their type). "
            "See [Writing a provider](../../writing-a-provider.md#error-tables).",
            "",
        ]
    if simulator is not None:
        out += [
            "## Sandbox scenarios",
            "",
            "Start the sandbox with `kycbridge sandbox`; the subject chooses the scenario.",
            "",
            "| subject | what it plays | outcome |",
            "|---|---|---|",
        ]
        for sc in simulator.scenarios:
            played = " → ".join(map(str, sc.played))
            out.append(
                f"| `{_cell(sc.subject)}` | {_cell(sc.description)}"
                f"{' (' + _cell(played) + ')' if played else ''} | {_cell(sc.outcome or '')} |"
            )
        out.append("")
    return "\n".join(out) + "\n"


def generate(docs: Path) -> None:
    """Write every generated page under ``docs/_generated``."""
    target = docs / "_generated"
    (target / "providers").mkdir(parents=True, exist_ok=True)
    (target / "states.svg").write_text(state_diagram_svg())
    (target / "transitions.md").write_text(transition_tables())
    registry = PluginRegistry()
    sims = {s.name: s.simulator for s in registry.simulators()}
    hooks = {h.name: h for h in registry.webhooks()}
    names = []
    for info in registry.providers():
        names.append(info.name)
        page = provider_page(info.name, info, sims.get(info.name), hooks.get(info.name))
        (target / "providers" / f"{info.name}.md").write_text(page)
    index = ["# Providers", "", "Generated from each installed plugin's own data.", ""]
    index += ["```{toctree}", ":maxdepth: 1", ""] + [f"{n}" for n in names] + ["```", ""]
    (target / "providers" / "index.md").write_text("\n".join(index))


def _on_init(app: Any) -> None:
    generate(Path(app.srcdir))


def setup(app: Any) -> dict[str, Any]:
    """Sphinx entry point."""
    app.connect("builder-inited", _on_init)
    return {"parallel_read_safe": True, "version": "1"}
