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
