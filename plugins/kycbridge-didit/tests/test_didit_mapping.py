"""Didit's words -> states: as documented, total, deterministic, and the same as StarkFi's."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import kycbridge_starkfi.mapping as starkfi_mapping
from kycbridge import KYCState
from kycbridge.testing.strategies import json_values, raw_words
from kycbridge_didit.mapping import STATUS_MAP, WHY
from kycbridge_didit.provider import DiditProvider

S = KYCState
DOCUMENTED = {
    "Not Started": S.NOT_STARTED,
    "In Progress": S.IN_PROGRESS,
    "Awaiting User": S.ACTION_REQUIRED,
    "In Review": S.IN_REVIEW,
    "Approved": S.APPROVED,
    "Declined": S.REJECTED,
    "Resubmitted": S.ACTION_REQUIRED,
    "Expired": S.EXPIRED,
    "Kyc Expired": S.EXPIRED,
    "KYC Expired": S.EXPIRED,
    "Abandoned": S.ABANDONED,
}
PROVIDER = DiditProvider()


def test_every_documented_word_as_documented() -> None:
    assert dict(STATUS_MAP.table) == DOCUMENTED
    for word, state in DOCUMENTED.items():
        for variant in (word, word.upper(), word.lower(), f"  {word}\n", word.replace(" ", "_")):
            assert PROVIDER.normalize(variant) is state, variant


def test_every_word_has_a_reason() -> None:
    assert set(WHY) == set(DOCUMENTED)


def test_unknown_words_are_unknown() -> None:
    for raw in ("Pending Liveness", "approved!", "", None, 3, ["Approved"], {"status": "x"}):
        assert PROVIDER.normalize(raw) is S.UNKNOWN


def test_starkfi_agrees_on_every_didit_word() -> None:
    """StarkFi runs on Didit: its session-status map must give every Didit word our state."""
    theirs = starkfi_mapping.SESSION_STATUS_MAP
    for word, state in DOCUMENTED.items():
        assert theirs.knows(word), f"StarkFi does not know Didit's {word!r}"
        assert theirs(word) is state, f"{word!r}: Didit {state}, StarkFi {theirs(word)}"
    # and nothing StarkFi maps as a Didit session word is missing here
    for word, state in theirs.table.items():
        assert STATUS_MAP.knows(word), f"StarkFi maps {word!r}, Didit does not"
        assert STATUS_MAP(word) is state
    # through StarkFi's whole-payload normalizer too (no approval flag, no data.status)
    for word, state in DOCUMENTED.items():
        assert starkfi_mapping.normalize({"session_status": word}) is state


@settings(max_examples=300)
@given(st.one_of(raw_words(), json_values()))
def test_normalize_is_total_and_deterministic(raw: Any) -> None:
    first = PROVIDER.normalize(raw)
    assert isinstance(first, KYCState)
    assert PROVIDER.normalize(raw) is first


@given(st.sampled_from(sorted(DOCUMENTED)), st.sampled_from([str.upper, str.lower, str.title]),
       st.text(" \t\r\n", max_size=3), st.text(" \t", max_size=3))
def test_documented_words_survive_case_and_spacing(
    word: str, case: Any, before: str, after: str
) -> None:
    assert PROVIDER.normalize(before + case(word) + after) is DOCUMENTED[word]
