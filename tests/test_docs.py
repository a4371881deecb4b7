"""The docs say what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from kycbridge import FINAL_STATES, TRANSITIONS, KYCState

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_transition_table_in_concepts_matches_the_code():
    text = (DOCS / "concepts.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| (yes|no) \| ((?:`\w+`(?:, )?)+) \|$", text, flags=re.M)
    table = {
        KYCState(state): (
            final == "yes",
            frozenset(KYCState(w) for w in re.findall(r"`(\w+)`", nxt)),
        )
        for state, final, nxt in rows
    }
    assert set(table) == set(KYCState)
    for state, (final, targets) in table.items():
        assert final == (state in FINAL_STATES), state
        assert targets == TRANSITIONS[state], state


def test_generated_pages_come_from_the_code(tmp_path, monkeypatch):
    import shutil
    import sys

    monkeypatch.syspath_prepend(str(DOCS / "_ext"))
    import kbdocs

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
    shutil.rmtree(docs)
    sys.modules.pop("kbdocs", None)
