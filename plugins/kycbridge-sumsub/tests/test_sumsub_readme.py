"""The README documents every decision and every scenario."""

from __future__ import annotations

from pathlib import Path

from kycbridge_sumsub.mapping import STATUS_MAP
from kycbridge_sumsub.simulator import SCENARIOS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_readme_documents_every_decision_and_scenario() -> None:
    for word, state in STATUS_MAP.rows():
        assert f"| `{word}` | `{state.value}` |" in README, word
    for scenario in SCENARIOS:
        row = f"| `{scenario.subject}` | `{next(iter(scenario.query))}` |"
        assert row in README, scenario.subject
        assert f"| `{scenario.outcome}` |" in README
        assert (", ".join(scenario.played) or "-") in README
