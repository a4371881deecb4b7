from __future__ import annotations

import hypothesis.strategies as st
import pytest
from hypothesis import given

from kycbridge import KYCState, StatusMap
from kycbridge.mapping import canonical_word

MAP = StatusMap({"NOT_SUBMITTED": "not_started", "In Review": KYCState.IN_REVIEW, "ok": "approved"})

anything = st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary()
anything = anything | st.lists(st.text()) | st.dictionaries(st.text(), st.text())


@given(anything)
def test_total_and_deterministic(raw):
    state = MAP(raw)
    assert isinstance(state, KYCState)
    assert MAP(raw) is state


@given(st.sampled_from(["NOT_SUBMITTED", "In Review", "ok"]), st.data())
def test_documented_words_in_any_case_and_spacing(word, data):
    mangled = "".join(
        data.draw(st.sampled_from([c.upper(), c.lower()])) if c.isalpha() else c for c in word
    )
    mangled = mangled.replace("_", data.draw(st.sampled_from(["_", " ", "-", "  "])))
    mangled = mangled.replace(" ", data.draw(st.sampled_from(["_", " ", "-"])))
    padded = (
        data.draw(st.sampled_from(["", " ", "\t"]))
        + mangled
        + data.draw(st.sampled_from(["", " ", "\n"]))
    )
    assert MAP(padded) is MAP.table[word]


def test_unknown_words_and_non_strings_give_unknown():
    for raw in [None, "", "   ", "NOPE", 1, True, ["ok"], {"ok": 1}]:
        assert MAP(raw) is KYCState.UNKNOWN
    assert MAP["nope"] is KYCState.UNKNOWN  # never a KeyError
    assert "nope" not in MAP
    assert "not submitted" in MAP


def test_rows_are_data_in_documented_order():
    assert MAP.rows() == [
        ("NOT_SUBMITTED", KYCState.NOT_STARTED),
        ("In Review", KYCState.IN_REVIEW),
        ("ok", KYCState.APPROVED),
    ]
    assert len(MAP) == 3 and list(MAP) == ["NOT_SUBMITTED", "In Review", "ok"]


def test_words_folding_together_with_two_states_are_refused():
    with pytest.raises(ValueError, match="fold to the same key"):
        StatusMap({"IN_REVIEW": "in_review", "in review": "approved"})


def test_bad_state_in_table_is_refused():
    with pytest.raises(ValueError):
        StatusMap({"X": "not-a-state"})


def test_canonical_word():
    assert canonical_word("  Kyc__Expired ") == "kyc expired"
    assert canonical_word(None) == ""
    assert canonical_word(3) == ""
