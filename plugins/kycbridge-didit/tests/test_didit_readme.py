"""The README documents every status word and every scenario."""

from __future__ import annotations

from pathlib import Path

from kycbridge_didit.mapping import STATUS_MAP
from kycbridge_didit.simulator import SCENARIOS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_readme_documents_every_word_and_scenario() -> None:
    for word, state in STATUS_MAP.table.items():
        assert f"| `{word}` | `{state.value}` |" in README, word
    for scenario in SCENARIOS:
        assert f"| `{scenario.subject}` |" in README, scenario.subject
        assert f"`{scenario.outcome}`" in README
