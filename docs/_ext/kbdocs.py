"""Docs generated from the code, so they cannot drift.

On ``builder-inited`` this writes, under ``docs/_generated/``:

- ``states.svg``: the lifecycle diagram (:data:`DIAGRAM_GRID`, :data:`DIAGRAM_EDGES`);
- ``transitions.md``: the expected transitions not drawn, and the anomalies, from
  :data:`kycbridge.TRANSITIONS`;
- ``providers/<name>.md``: one page per installed provider, from the plugin's own data
  (query and settings classes and their "exactly one of" rules, env variables, mapping
  tables, simple or composite, the error table, sandbox credentials, a command to try and
  the scenarios);
- ``providers/compare.md``: every provider side by side (:func:`compare_page`).

Nothing here knows a provider: every word comes from what the plugins declare.
"""

from __future__ import annotations

import inspect
import math
import re
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from kycbridge import ANY, FINAL_STATES, TRANSITIONS, CompositeStatusMap, KYCState
from kycbridge.plugins import PluginRegistry
from kycbridge.provider import HTTPStatusProvider, env_name, is_secret

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
    return str(getattr(tp, "__name__", tp)).replace("typing.", "")


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def code(text: object) -> str:
    """``text`` as inline Markdown code, safe in a table cell.

    An empty text is shown as ``""`` (never an empty pair of backticks, which Markdown prints
    literally); a text holding a backtick is shown escaped, not as code.
    """
    shown = _cell(text)
    if not shown:
        return '`""`'
    if "`" in shown:
        return shown.replace("`", "\\`")
    return f"`{shown}`"


def _cell_text(cell: object) -> str:
    if cell is ANY:
        return "any"
    if isinstance(cell, bool):
        return "`true`" if cell else "`false`"
    return code(cell)


def _or(names: Iterable[str]) -> str:
    """Names as code, joined: ``a or b``, ``a, b or c``."""
    shown = [code(n) for n in names]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


_ROLE = re.compile(r":(?:py:)?[a-z]+:`(~?)\.?([^`<]+?)(?:\s*<[^>]+>)?`")
_DOUBLE = re.compile(r"``(.+?)``")


def _inline_rst(line: str) -> str:
    """Sphinx roles and ``double backticks`` of a docstring line as Markdown inline code."""

    def role(match: re.Match[str]) -> str:
        target = match.group(2).strip()
        return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"

    return _DOUBLE.sub(r"`\1`", _ROLE.sub(role, line))


def docstring_markdown(doc: str | None) -> list[str]:
    """A class docstring (reST as written in this project) as Markdown lines.

    Dedented (:func:`inspect.cleandoc`: an indented line would be a code block), roles and
    double backticks made single, doctest examples fenced as ``pycon`` (with tildes: the
    generated pages hold no two backticks in a row).
    """
    out: list[str] = []
    in_example = False
    for line in inspect.cleandoc(doc or "").splitlines():
        text = line.strip()
        if text.startswith(">>>") and not in_example:
            out.append("~~~pycon")
            in_example = True
        if in_example:
            if text:
                out.append(text)
                continue
            out.append("~~~")
            in_example = False
        out.append(_inline_rst(line))
    if in_example:
        out.append("~~~")
    while out and not out[-1].strip():
        out.pop()
    return [*out, ""] if out else []


def mapping_table(status_map: Any) -> list[str]:
    """A ``StatusMap`` or ``CompositeStatusMap`` as Markdown table lines, row by row."""
    if isinstance(status_map, CompositeStatusMap):
        fields = [code(f) for f in status_map.fields]
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
        out.append(f"| {code(word)} | `{state.value}` |")
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


def one_of_groups(query_type: type[Any]) -> tuple[tuple[str, ...], ...]:
    """The query class's ``one_of`` rules: groups of fields of which exactly one is given.

    A plugin declares them as a class attribute, ``one_of = (("email", "wallet"),)``; the
    class's own validation enforces them. A group naming a field the class does not have, or
    fewer than two fields, is an error (the docs build fails rather than print a wrong rule).
    """
    groups = tuple(tuple(group) for group in getattr(query_type, "one_of", ()))
    names = {f.name for f in attrs.fields(query_type)}
    for group in groups:
        if len(group) < 2 or not set(group) <= names:
            raise ValueError(f"{query_type.__name__}.one_of: bad group {group!r}")
    return groups


def query_section(name: str, query_type: type[Any]) -> list[str]:
    """The query fields table and the "exactly one of" rules under it."""
    attrs.resolve_types(query_type)
    groups = one_of_groups(query_type)
    in_group = {field for group in groups for field in group}
    out = ["## Query fields", "", "| field | type | required | secret | env |"]
    out += ["|---|---|---|---|---|"]
    for f in attrs.fields(query_type):
        if f.name in in_group:
            required = "one of"
        else:
            required = "yes" if f.default is attrs.NOTHING else "no"
        env = code(env_name(name, f.name)) if is_secret(f) else "-"
        out.append(
            f"| {code(f.name)} | {code(_type_name(f.type))} | {required} | "
            f"{'yes' if is_secret(f) else 'no'} | {env} |"
        )
    out.append("")
    for group in groups:
        out += [
            f"Give **exactly one of** {_or(group)}: neither or both is an invalid query "
            "(`InvalidQuery`, exit 2), refused before anything is sent.",
            "",
        ]
    return out


def settings_section(name: str, settings_type: type[Any]) -> list[str]:
    """The settings table: type, default (a secret's never shown), env variable."""
    out = ["## Settings", "", "| setting | type | default | env |", "|---|---|---|---|"]
    attrs.resolve_types(settings_type)
    for f in attrs.fields(settings_type):
        default = "(secret)" if is_secret(f) else repr(f.default)
        out.append(
            f"| {code(f.name)} | {code(_type_name(f.type))} | {code(default)} | "
            f"{code(env_name(name, f.name))} |"
        )
    return [*out, ""]


SANDBOX_PORT = 8700
"""The port the generated sandbox commands use (``kycbridge sandbox --port 8700``)."""


def demo_scenario(simulator: Any) -> Any | None:
    """The scenario a provider page shows a command for: the first ``demo=True`` one."""
    for scenario in simulator.scenarios:
        if scenario.demo:
            return scenario
    return None


def sandbox_credentials(name: str, provider: Any, simulator: Any) -> dict[str, tuple[str, str]]:
    """What authenticates against the simulator: ``{field: (value, env variable)}``.

    The simulator's ``settings`` and the secret query fields of its demo scenario (a
    per-user token); sandbox values only, worthless anywhere else.
    """
    found = {key: (str(value), env_name(name, key)) for key, value in simulator.settings.items()}
    scenario = demo_scenario(simulator)
    if scenario is not None:
        secret_fields = {f.name for f in attrs.fields(provider.query_type) if is_secret(f)}
        for key, value in scenario.query.items():
            if key in secret_fields:
                found[key] = (str(value), env_name(name, key))
    return found


def sandbox_commands(
    name: str, provider: Any, simulator: Any, *, port: int = SANDBOX_PORT
) -> list[str]:
    """Shell lines: start the sandbox, export the credentials, ask once, then watch.

    Secrets (secret settings and query fields) go in env variables, as the CLI recommends;
    the other fields and settings as ``-p`` and ``-s``. Empty when there is no demo scenario.
    """
    scenario = demo_scenario(simulator)
    if scenario is None:
        return []
    secrets = sandbox_credentials(name, provider, simulator)
    secret_settings = {f.name for f in attrs.fields(provider.settings_type) if is_secret(f)}
    args: list[str] = []
    for key, value in scenario.query.items():
        if key not in secrets:
            args += ["-p", f"{key}={value}"]
    for key, value in simulator.settings.items():
        if key not in secret_settings:
            args += ["-s", f"{key}={value}"]
    args += ["--base-url", f"http://127.0.0.1:{port}/{name}"]
    lines = [f"kycbridge sandbox --port {port} &"]
    lines += [f"export {env}={shlex.quote(value)}" for value, env in secrets.values()]
    joined = " ".join(shlex.quote(a) for a in args)
    lines.append(f"kycbridge status {name} {joined}")
    until = ""
    if scenario.outcome in {s.value for s in KYCState} and (
        KYCState(scenario.outcome) not in FINAL_STATES
    ):
        until = f" --until {scenario.outcome}"
    lines.append(f"kycbridge watch {name} {joined}{until} --interval 0.5")
    return lines


def sandbox_section(name: str, provider: Any, simulator: Any) -> list[str]:
    """Sandbox credentials, a command to try, and every scenario."""
    out = ["## Sandbox", ""]
    creds = sandbox_credentials(name, provider, simulator)
    if creds:
        out += [
            "The simulator's credentials (they work only against `kycbridge sandbox`):",
            "",
            "| field | sandbox value | env |",
            "|---|---|---|",
        ]
        out += [f"| {code(k)} | {code(v)} | {code(env)} |" for k, (v, env) in creds.items()]
        out.append("")
    else:
        out += ["The simulator needs no credentials.", ""]
    scenario = demo_scenario(simulator)
    lines = sandbox_commands(name, provider, simulator)
    if scenario is not None and lines:
        played = " → ".join(code(p) for p in scenario.played)
        out += [
            f"Try it: the subject {code(scenario.subject)} plays {played or 'one answer'}, "
            "one step per call (the last repeats), and ends "
            f"{code(scenario.outcome or 'unknown')}. Ask once, then watch it to the end:",
            "",
            "~~~sh",
            *lines,
            "~~~",
            "",
        ]
    out += [
        "### Scenarios",
        "",
        "The subject chooses the scenario.",
        "",
        "| subject | what it plays | outcome |",
        "|---|---|---|",
    ]
    for sc in simulator.scenarios:
        played_text = " → ".join(map(str, sc.played))
        out.append(
            f"| {code(sc.subject)} | {_cell(sc.description)}"
            f"{' (' + _cell(played_text) + ')' if played_text else ''} | "
            f"{_cell(sc.outcome or '-')} |"
        )
    return [*out, ""]


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
    """One provider's page: query, settings, env, webhooks, mapping, errors, sandbox."""
    provider = info.provider
    out = [f"# {name}", ""]
    out += docstring_markdown(provider.__class__.__doc__)
    out += [f"Distribution: `{info.distribution}`" + (f" {info.version}" if info.version else "")]
    out.append("")
    if getattr(provider, "rate_limit", None):
        out += [f"Rate limit enforced across threads: {provider.rate_limit:g} requests/s.", ""]
    out += credentials_line(provider)
    out += [webhooks_line(webhooks), ""]
    out += query_section(name, provider.query_type)
    out += settings_section(name, provider.settings_type)
    out += ["## Mapping", ""]
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
        out += sandbox_section(name, provider, simulator)
    out.append("See all providers side by side in [the comparison](compare.md).")
    return "\n".join(out) + "\n"


def subject_text(query_type: type[Any]) -> str:
    """What identifies a subject: the required fields, "one of" groups, optional extras."""
    groups = one_of_groups(query_type)
    in_group = {field for group in groups for field in group}
    fields = [f for f in attrs.fields(query_type) if not is_secret(f) and f.name not in in_group]
    parts = [code(f.name) for f in fields if f.default is attrs.NOTHING]
    parts += [f"one of {_or(group)}" for group in groups]
    optional = [f.name for f in fields if f.default is not attrs.NOTHING]
    text = " and ".join(parts) or "-"
    return text + (f" (optional: {', '.join(map(code, optional))})" if optional else "")


def auth_headers(provider: Any, simulator: Any | None) -> list[str]:
    """The secret headers a request carries, as sent: built for the sandbox's demo subject.

    Empty when the provider builds no :class:`~kycbridge.Request` or has no demo scenario.
    """
    scenario = demo_scenario(simulator) if simulator is not None else None
    if scenario is None or not hasattr(provider, "build_request"):
        return []
    settings = provider.settings_type(**simulator.settings)
    request = provider.build_request(provider.query_type(**scenario.query), settings)
    return [h for h in request.headers if h.lower() in request.secret_headers]


def auth_text(name: str, provider: Any, simulator: Any | None) -> str:
    """Which secrets authenticate, where they come from, and how they are sent."""
    secrets = [
        f"{code(f.name)} ({kind})"
        for cls, kind in ((provider.settings_type, "setting"), (provider.query_type, "query"))
        for f in attrs.fields(cls)
        if is_secret(f)
    ]
    text = ", ".join(secrets) or "none"
    headers = auth_headers(provider, simulator)
    if headers:
        text += "; sent as " + ", ".join(map(code, headers))
    sign = getattr(type(provider), "sign", None)
    if sign is not None and sign is not HTTPStatusProvider.sign:
        text += "; signed per request"
    return text


def rate_text(provider: Any) -> str:
    """The rate limit the bridge enforces for the provider."""
    rate = getattr(provider, "rate_limit", None)
    if not rate:
        return "none declared"
    per_minute = rate * 60
    if rate != round(rate) and abs(per_minute - round(per_minute)) < 1e-6:
        return f"{round(per_minute)}/min"
    return f"{rate:.3g}/s"


def webhook_text(handler: Any | None) -> str:
    """Whether deliveries are received, and the signature scheme where the handler says it."""
    if handler is None:
        return "no"
    scheme = getattr(handler, "scheme", None)
    return f"yes: {_cell(scheme)}" if scheme else "yes"


def words_by_state(
    status_maps: Mapping[str, Any],
) -> dict[KYCState, dict[str, list[str]]]:
    """For each state, each provider's words that mean it (in the map's own order)."""
    table: dict[KYCState, dict[str, list[str]]] = {
        s: {n: [] for n in status_maps} for s in KYCState
    }
    for name, status_map in status_maps.items():
        for word, state in status_map.rows():
            table[state][name].append(word)
    return table


def compare_page(infos: list[Any], sims: Mapping[str, Any], webhooks: Mapping[str, Any]) -> str:
    """Every installed provider side by side, from their own data."""
    out = [
        "# Providers compared",
        "",
        "Generated from each installed plugin's own data: the query class (what identifies a "
        "subject), secret fields and the headers a request carries, the declared rate "
        "limit, the registered webhook handlers and the status maps.",
        "",
        "| provider | identifies a subject | authentication | rate limit | webhooks |",
        "|---|---|---|---|---|",
    ]
    for info in infos:
        provider = info.provider
        out.append(
            f"| [{info.name}]({info.name}.md) | {subject_text(provider.query_type)} | "
            f"{auth_text(info.name, provider, sims.get(info.name))} | {rate_text(provider)} | "
            f"{webhook_text(webhooks.get(info.name))} |"
        )
    out += [
        "",
        "Secrets come from env `KYCBRIDGE_<PROVIDER>_<FIELD>` or settings and are never shown. "
        "The rate limit holds across threads of one bridge; see "
        "[Webhooks](../../webhooks.md) for the receiver.",
        "",
        "## Words and states",
        "",
        "Each provider's own words, by the state they normalize to; any other word is "
        "`unknown`, with the word kept in `raw_status`. A final state ends a watch.",
        "",
    ]
    names = [info.name for info in infos]
    out.append("| state | " + " | ".join(f"[{n}]({n}.md)" for n in names) + " |")
    out.append("|---|" + "---|" * len(names))
    table = words_by_state({info.name: info.provider.status_map for info in infos})
    for state, words in table.items():
        cells = [", ".join(map(code, words[n])) or "-" for n in names]
        final = " (final)" if state in FINAL_STATES else ""
        out.append(f"| `{state.value}`{final} | " + " | ".join(cells) + " |")
    combined = [
        info.name
        for info in infos
        if isinstance(getattr(info.provider, "composite_map", None), CompositeStatusMap)
    ]
    if combined:
        out += [
            "",
            "Some providers decide on several fields together, not on one word: "
            + ", ".join(f"[{n}]({n}.md#combined-fields)" for n in combined)
            + " (the table there wins over the words above).",
        ]
    return "\n".join(out) + "\n"


def generate(docs: Path) -> None:
    """Write every generated page under ``docs/_generated``."""
    target = docs / "_generated"
    (target / "providers").mkdir(parents=True, exist_ok=True)
    (target / "states.svg").write_text(state_diagram_svg())
    (target / "transitions.md").write_text(transition_tables())
    registry = PluginRegistry()
    sims = {s.name: s.simulator for s in registry.simulators()}
    infos = list(registry.providers())
    webhooks = {handler.name: handler for handler in registry.webhooks()}
    for info in infos:
        page = provider_page(
            info.name, info, sims.get(info.name), webhooks.get(info.name)
        )
        (target / "providers" / f"{info.name}.md").write_text(page)
    (target / "providers" / "compare.md").write_text(compare_page(infos, sims, webhooks))
    index = [
        "# Providers",
        "",
        "Generated from each installed plugin's own data. [All providers side by side]"
        "(compare.md): what identifies a subject, authentication, rate limits, webhooks and "
        "every provider word with its state.",
        "",
    ]
    index += ["~~~{toctree}", ":maxdepth: 1", "", "compare"]
    index += [info.name for info in infos] + ["~~~", ""]
    (target / "providers" / "index.md").write_text("\n".join(index))


def _on_init(app: Any) -> None:
    generate(Path(app.srcdir))


def setup(app: Any) -> dict[str, Any]:
    """Sphinx entry point."""
    app.connect("builder-inited", _on_init)
    return {"parallel_read_safe": True, "version": "1"}
