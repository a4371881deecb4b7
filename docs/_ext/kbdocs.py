"""Docs generated from the code, so they cannot drift.

On ``builder-inited`` this writes, under ``docs/_generated/``:

- ``states.svg``: the state diagram, drawn from :data:`kycbridge.TRANSITIONS`;
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

_ORDER = list(KYCState)


def state_diagram_svg() -> str:
    """The states on a circle, an arrow for each expected transition (final states shaded)."""
    size, radius = 640, 250
    cx = cy = size / 2
    pos = {}
    for i, state in enumerate(_ORDER):
        angle = 2 * math.pi * i / len(_ORDER) - math.pi / 2
        pos[state] = (cx + radius * math.cos(angle), cy + radius * math.sin(angle))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}" font-family="sans-serif" font-size="12">',
        '<defs><marker id="a" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" '
        'markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#888"/></marker></defs>',
    ]
    for src in _ORDER:
        for dst in _ORDER:
            if dst in TRANSITIONS[src]:
                (x1, y1), (x2, y2) = pos[src], pos[dst]
                dx, dy = x2 - x1, y2 - y1
                d = math.hypot(dx, dy) or 1
                sx, sy = x1 + dx / d * 42, y1 + dy / d * 20
                ex, ey = x2 - dx / d * 42, y2 - dy / d * 20
                colour = "#c33" if src in FINAL_STATES else "#888"
                parts.append(
                    f'<line x1="{sx:.1f}" y1="{sy:.1f}" x2="{ex:.1f}" y2="{ey:.1f}" '
                    f'stroke="{colour}" stroke-opacity="0.35" marker-end="url(#a)"/>'
                )
    for state, (x, y) in pos.items():
        fill = "#fde2e2" if state in FINAL_STATES else "#e2ecfd"
        parts.append(
            f'<rect x="{x - 58:.1f}" y="{y - 16:.1f}" width="116" height="32" rx="8" '
            f'fill="{fill}" stroke="#333"/>'
            f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle">{state.value}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


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


def provider_page(name: str, info: Any, simulator: Any | None) -> str:
    """One provider's page: query, settings, env, mapping, scenarios."""
    provider = info.provider
    out = [f"# {name}", ""]
    doc = (provider.__class__.__doc__ or "").strip()
    if doc:
        out += [doc, ""]
    out += [f"Distribution: `{info.distribution}` {info.version or ''}", ""]
    if getattr(provider, "rate_limit", None):
        out += [f"Rate limit enforced across threads: {provider.rate_limit:g} requests/s.", ""]
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
    registry = PluginRegistry()
    sims = {s.name: s.simulator for s in registry.simulators()}
    names = []
    for info in registry.providers():
        names.append(info.name)
        page = provider_page(info.name, info, sims.get(info.name))
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
