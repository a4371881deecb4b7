"""The docs say what the code does."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from kycbridge import FINAL_STATES, TRANSITIONS, KYCState, Transition

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.fixture
def kbdocs(monkeypatch):
    monkeypatch.syspath_prepend(str(DOCS / "_ext"))
    import kbdocs

    yield kbdocs
    sys.modules.pop("kbdocs", None)


def _table(text: str, header: str) -> dict[KYCState, tuple[str, ...]]:
    """The rows of the Markdown table under ``header``: first cell -> the other cells."""
    lines = text[text.index(header) :].splitlines()[2:]
    rows = {}
    for line in lines:
        if not line.startswith("|"):
            break
        first, *rest = (cell.strip() for cell in line.strip("|").split("|"))
        rows[KYCState(first.strip("`"))] = tuple(rest)
    return rows


def _states(cell: str) -> set[KYCState]:
    return {KYCState(w) for w in re.findall(r"`(\w+)`", cell)}


def test_every_state_is_placed_once_in_the_diagram(kbdocs):
    placed = [s for row in kbdocs.DIAGRAM_GRID for s in row if s is not None]
    assert sorted(placed) == sorted(KYCState)
    assert set(kbdocs.diagram_positions()) == set(KYCState)
    assert len(set(kbdocs.diagram_positions().values())) == len(KYCState)


def test_diagram_edges_and_tables_are_exactly_the_transitions(kbdocs):
    svg = kbdocs.state_diagram_svg()
    drawn = {
        (KYCState(a), KYCState(b))
        for a, b in re.findall(r'class="edge \w+" data-from="(\w+)" data-to="(\w+)"', svg)
    }
    assert drawn == kbdocs.drawn_transitions()
    assert all(b in TRANSITIONS[a] for a, b in drawn), "an arrow the code does not expect"
    assert all(f'data-state="{s.value}"' in svg and f">{s.value}<" in svg for s in KYCState)

    text = kbdocs.transition_tables()
    other = _table(text, "| from | final | also expected next |")
    assert set(other) == set(KYCState)
    table = {(a, b) for a, (final, nxt) in other.items() for b in _states(nxt)}
    for state, (final, _) in other.items():
        assert final == ("yes" if state in FINAL_STATES else "no"), state
    assert not table & drawn, "a transition both drawn and in the table"
    expected = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert drawn | table == expected

    flagged = {
        (a, b)
        for a, (cell,) in _table(text, "| from | anomaly if observed next |").items()
        for b in _states(cell)
    }
    every_change = {(a, b) for a in KYCState for b in KYCState if a is not b}
    assert flagged == every_change - expected
    assert all(Transition(a, b).anomaly for a, b in flagged)
    assert not any(Transition(a, b).anomaly for a, b in expected)


def test_concepts_shows_the_generated_diagram_and_tables():
    text = (DOCS / "concepts.md").read_text()
    assert "](_generated/states.svg)" in text
    assert "```{include} _generated/transitions.md" in text


def test_generated_pages_come_from_the_code(tmp_path, kbdocs):
    import shutil

    svg = kbdocs.state_diagram_svg()
    assert all(f">{state.value}<" in svg for state in KYCState)
    docs = tmp_path / "docs"
    docs.mkdir()
    kbdocs.generate(docs)
    from kycbridge.plugins import PluginRegistry

    registry = PluginRegistry()
    sims = {s.name: s.simulator for s in registry.simulators()}
    for info in registry.providers():
        page = (docs / "_generated" / "providers" / f"{info.name}.md").read_text()
        for word, state in info.provider.status_map.rows():
            assert f"| `{word}` | `{state.value}` |" in page
        for scenario in getattr(sims.get(info.name), "scenarios", ()):
            assert scenario.subject.replace("|", "\\|") in page
    tables = (docs / "_generated" / "transitions.md").read_text()
    assert tables == kbdocs.transition_tables()
    shutil.rmtree(docs)
