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


# -- composite maps ------------------------------------------------------------------------------

from kycbridge import ANY, CompositeStatusMap  # noqa: E402

S = KYCState
ROWS = {
    ("completed", "GREEN", ANY): S.APPROVED,
    ("completed", "RED", "RETRY"): S.ACTION_REQUIRED,
    ("completed", "RED", "FINAL"): S.REJECTED,
    ("completed", "RED", ANY): S.REJECTED,
    ("completed", ANY, ANY): S.IN_REVIEW,
    ("pending", ANY, ANY): S.IN_REVIEW,
    ("init", ANY, ANY): S.NOT_STARTED,
    (ANY, ANY, "RETRY"): S.ACTION_REQUIRED,
    (True, ANY, ANY): S.APPROVED,
}
CMAP = CompositeStatusMap(fields=("reviewStatus", "reviewAnswer", "reviewRejectType"), rows=ROWS)
FIELDS = CMAP.fields
WORDS = ["completed", "GREEN", "RED", "RETRY", "FINAL", "pending", "init", "other"]
values = st.none() | st.booleans() | st.integers() | st.sampled_from(WORDS) | st.text(max_size=8)
values = values | st.lists(st.text(max_size=3), max_size=2)


def _absent(cell):
    return None if cell is ANY else cell


def _mangle(data, word):
    if not isinstance(word, str):
        return word
    word = "".join(data.draw(st.sampled_from([c.upper(), c.lower()])) for c in word)
    before = data.draw(st.sampled_from(["", " ", "\t"]))
    return before + word + data.draw(st.sampled_from(["", " "]))


@given(st.dictionaries(st.sampled_from([*FIELDS, "x"]), values) | anything)
def test_composite_total_and_deterministic(raw):
    state = CMAP(raw)
    assert isinstance(state, KYCState)
    assert CMAP(raw) is state
    assert CMAP.raw_status(raw) == CMAP.raw_status(raw)


@given(st.tuples(values, values, values), st.tuples(values, values))
def test_composite_lookup_total(three, two):
    assert isinstance(CMAP.lookup(*three), KYCState)
    assert CMAP.lookup(*two) is KYCState.UNKNOWN  # wrong arity: the default, no exception


@given(st.sampled_from(list(ROWS)), st.data())
def test_documented_rows_map_as_written_in_any_case(cells, data):
    raw = {f: _mangle(data, _absent(c)) for f, c in zip(FIELDS, cells) if c is not ANY}
    assert CMAP(raw) is ROWS[cells]
    assert CMAP.lookup(*(_absent(c) for c in cells)) is ROWS[cells]


@given(st.sampled_from(list(ROWS)), st.data())
def test_most_specific_row_wins(cells, data):
    """Filling a row's ANY cells with other words picks that row or a more specific one."""
    filled = [c if c is not ANY else data.draw(st.sampled_from([*WORDS, None])) for c in cells]
    got = CMAP.lookup(*filled)
    matching = [
        (key, state) for key, state in ROWS.items()
        if all(k is ANY or (isinstance(v, str) and isinstance(k, str) and k.lower() == v.lower())
               or (k is v) for k, v in zip(key, filled))
    ]
    best = max(
        matching,
        key=lambda item: (sum(k is not ANY for k in item[0]), [k is not ANY for k in item[0]]),
    )
    assert got is best[1]
    assert sum(k is not ANY for k in best[0]) >= sum(k is not ANY for k in cells)


def test_most_specific_examples():
    assert CMAP({"reviewStatus": "completed", "reviewAnswer": "RED", "reviewRejectType": "RETRY"}) \
        is S.ACTION_REQUIRED
    assert CMAP({"reviewStatus": "Completed", "reviewAnswer": "red"}) is S.REJECTED
    assert CMAP({"reviewStatus": "completed"}) is S.IN_REVIEW
    # a tie in fixed cells goes to the row whose fixed cell comes first
    assert CMAP({"reviewStatus": "pending", "reviewRejectType": "RETRY"}) is S.IN_REVIEW
    assert CMAP({"reviewRejectType": "RETRY"}) is S.ACTION_REQUIRED
    assert CMAP({"reviewStatus": "nope"}) is S.UNKNOWN
    assert CMAP({}) is S.UNKNOWN and CMAP(None) is S.UNKNOWN and CMAP(["completed"]) is S.UNKNOWN


def test_booleans_match_only_json_booleans():
    assert CMAP({"reviewStatus": True}) is S.APPROVED
    for value in ["true", "True", 1]:
        assert CMAP({"reviewStatus": value}) is S.UNKNOWN


def test_folding_of_each_field():
    m = CompositeStatusMap(fields=("a", "b"), rows={("IN_REVIEW", "kyc-expired"): S.EXPIRED})
    assert m({"a": " in review ", "b": "KYC EXPIRED"}) is S.EXPIRED
    assert m({"a": "In-Review", "b": "kyc_expired"}) is S.EXPIRED


def test_dotted_fields_and_raw_status():
    m = CompositeStatusMap(
        fields=("review.status", "review.result.answer"),
        rows={("completed", "GREEN"): S.APPROVED},
    )
    raw = {"review": {"status": "completed", "result": {"answer": "GREEN"}}}
    assert m(raw) is S.APPROVED
    assert m.raw_status(raw) == "completed/GREEN"
    assert CMAP.raw_status(
        {"reviewStatus": "completed", "reviewAnswer": "RED", "reviewRejectType": "RETRY"}
    ) == "completed/RED/RETRY"
    assert CMAP.raw_status({"reviewStatus": "completed", "reviewAnswer": None}) == "completed"
    assert CMAP.raw_status({"reviewStatus": True, "reviewAnswer": 3}) == "true"
    assert CMAP.raw_status({}) is None and CMAP.raw_status("x") is None


def test_composite_rows_are_data_in_documented_order():
    assert CMAP.rows() == list(ROWS.items())
    assert len(CMAP) == len(ROWS)
    assert repr(ANY) == "ANY"


def test_composite_rows_are_validated():
    with pytest.raises(ValueError, match="cells"):
        CompositeStatusMap(fields=("a", "b"), rows={("x",): S.APPROVED})
    with pytest.raises(ValueError, match="same key"):
        CompositeStatusMap(fields=("a",), rows={("IN_REVIEW",): S.IN_REVIEW,
                                                ("in review",): S.APPROVED})
    with pytest.raises(ValueError):
        CompositeStatusMap(fields=("a",), rows={(" ",): S.APPROVED})
    with pytest.raises(ValueError):
        CompositeStatusMap(fields=(), rows={})
    with pytest.raises(ValueError):
        CompositeStatusMap(fields=("a",), rows={("x",): "nope"})


def _scan(cmap, values):
    """The rule as written: the first row, most specific first, whose every cell matches."""
    folded = [
        v if isinstance(v, bool) else (canonical_word(v) or None) if isinstance(v, str) else None
        for v in values
    ]
    for key, state in cmap._index:
        if all(c is ANY or (f is not None and c == f) for c, f in zip(key, folded)):
            return state
    return cmap.default


@given(st.tuples(values, values, values) | st.tuples(*[st.sampled_from([*WORDS, None, True])] * 3))
def test_lookup_by_shape_is_the_most_specific_scan(three):
    assert CMAP.lookup(*three) is _scan(CMAP, three)


@given(st.text(max_size=12) | st.sampled_from(["approved", "Approved", "in review", "ß", "a_b"]))
def test_canonical_word_fast_path_folds_as_the_rule_says(raw):
    import re

    assert canonical_word(raw) == re.sub(r"[\s_\-]+", " ", raw.strip().casefold()).strip()
