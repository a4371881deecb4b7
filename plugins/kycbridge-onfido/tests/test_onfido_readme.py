"""The README documents every status word, its state, and every scenario."""

from __future__ import annotations

import re
from pathlib import Path

from kycbridge_onfido.mapping import STATUS_MAP
from kycbridge_onfido.simulator import SCENARIOS

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def test_decision_table_lists_every_word_with_its_state() -> None:
    for word, state in STATUS_MAP.rows():
        row = re.search(rf"^\| `{word}` \| `([a-z_]+)` \|", README, re.MULTILINE)
        assert row is not None, f"no decision-table row for {word!r}"
        assert row.group(1) == state.value, f"{word!r}: README says {row.group(1)}"


def test_scenario_table_lists_every_scenario() -> None:
    for scenario in SCENARIOS:
        row = re.search(rf"^\| `{re.escape(scenario.subject)}`( \(demo\))? \| .* \| "
                        rf"`{scenario.outcome}` \|", README, re.MULTILINE)
        assert row is not None, f"no scenario row for {scenario.subject!r}"
        assert bool(row.group(1)) == scenario.demo, scenario.subject
