"""The normalization rules: documented words, the approved/session/status precedence, totality."""

from __future__ import annotations

import collections
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kycbridge import KYCState
from kycbridge_starkfi.mapping import (
    DATA_STATUS_MAP,
    SESSION_STATUS_MAP,
    STATUS_MAP,
    normalize,
    raw_status_of,
)
from kycbridge_starkfi.provider import StarkFiProvider

S = KYCState

SESSION_TABLE = {
    "Not Started": S.NOT_STARTED,
    "In Progress": S.IN_PROGRESS,
    "In Review": S.IN_REVIEW,
    "Approved": S.APPROVED,
    "Declined": S.REJECTED,
    "Resubmitted": S.ACTION_REQUIRED,
    "Expired": S.EXPIRED,
    "Abandoned": S.ABANDONED,
    "Kyc Expired": S.EXPIRED,
    "Awaiting User": S.ACTION_REQUIRED,
}

STATUS_TABLE = {
    "pending": S.IN_PROGRESS,
    "approved": S.APPROVED,
    "rejected": S.REJECTED,
    "declined": S.REJECTED,
}


def test_tables_are_exactly_the_documented_words() -> None:
    assert dict(SESSION_STATUS_MAP.rows()) == SESSION_TABLE
    assert dict(DATA_STATUS_MAP.rows()) == STATUS_TABLE
    # the combined table lists every word once (approved/declined fold to session words)
    assert set(STATUS_MAP) == set(SESSION_TABLE) | {"pending", "rejected"}
    for word, state in {**SESSION_TABLE, **STATUS_TABLE}.items():
        assert STATUS_MAP(word) is state
    assert StarkFiProvider.status_map is STATUS_MAP


@pytest.mark.parametrize(("word", "state"), SESSION_TABLE.items())
def test_every_session_status(word: str, state: KYCState) -> None:
    assert normalize({"session_status": word}) is state
    assert normalize({"session_status": word, "approved": False, "status": "pending"}) is state
    assert raw_status_of({"session_status": word, "status": "pending"}) == word


@pytest.mark.parametrize(("word", "state"), STATUS_TABLE.items())
def test_every_status_word_alone(word: str, state: KYCState) -> None:
    assert normalize({"status": word}) is state
    assert normalize({"status": word, "approved": False}) is state
    assert normalize({"status": word, "session_status": None}) is state
    assert raw_status_of({"status": word}) == word


# rule 2 and 3: approved: true wins, except over a negative final session state
@pytest.mark.parametrize(
    ("session", "state"),
    [
        (None, S.APPROVED),
        ("Approved", S.APPROVED),
        ("Not Started", S.APPROVED),
        ("In Progress", S.APPROVED),
        ("In Review", S.APPROVED),
        ("Resubmitted", S.APPROVED),
        ("Awaiting User", S.APPROVED),
        ("Abandoned", S.APPROVED),
        ("Something New", S.APPROVED),
        ("Declined", S.REJECTED),
        ("Expired", S.EXPIRED),
        ("Kyc Expired", S.EXPIRED),
        ("KYC_EXPIRED", S.EXPIRED),
    ],
)
def test_approved_flag_rules(session: str | None, state: KYCState) -> None:
    assert normalize({"approved": True, "session_status": session, "status": "pending"}) is state


def test_approved_false_never_vetoes_the_session() -> None:
    assert normalize({"approved": False, "session_status": "Approved"}) is S.APPROVED
    assert normalize({"approved": False, "status": "approved"}) is S.APPROVED


@pytest.mark.parametrize("truthy", ["true", "True", 1, 1.0, [True], {"x": True}])
def test_only_json_true_counts(truthy: object) -> None:
    assert normalize({"approved": truthy, "status": "pending"}) is S.IN_PROGRESS
    assert normalize({"approved": truthy}) is S.UNKNOWN


def test_session_beats_status_word() -> None:
    assert normalize({"status": "pending", "session_status": "In Review"}) is S.IN_REVIEW
    assert normalize({"status": "approved", "session_status": "Declined"}) is S.REJECTED


def test_unknown_session_falls_back_to_status_word() -> None:
    data = {"status": "pending", "session_status": "Liveness Queued"}
    assert normalize(data) is S.IN_PROGRESS
    assert raw_status_of(data) == "Liveness Queued"  # the raw word is kept


def test_unknown_everything() -> None:
    data = {"status": "on_hold", "session_status": "Liveness Queued", "approved": False}
    assert normalize(data) is S.UNKNOWN
    assert raw_status_of(data) == "Liveness Queued"
    assert normalize({}) is S.UNKNOWN
    assert raw_status_of({}) is None
    assert raw_status_of({"session_status": "  ", "status": 3}) is None


@pytest.mark.parametrize(
    "raw", [None, "Approved", "pending", 1, True, [], ["Approved"], ("approved",), b"Approved",
            object()]
)
def test_non_mappings_are_unknown(raw: object) -> None:
    assert normalize(raw) is S.UNKNOWN
    assert StarkFiProvider().normalize(raw) is S.UNKNOWN
    assert raw_status_of(raw) is None


def test_mapping_types_other_than_dict() -> None:
    data = collections.OrderedDict(session_status="In Review")
    assert normalize(data) is S.IN_REVIEW

    class Broken(collections.abc.Mapping[str, Any]):
        def __getitem__(self, key: str) -> Any:
            raise RuntimeError("boom")

        def __iter__(self) -> Any:
            raise RuntimeError("boom")

        def __len__(self) -> int:
            return 1

        def get(self, key: str, default: Any = None) -> Any:
            raise RuntimeError("boom")

    assert normalize(Broken()) is S.UNKNOWN


# -- property tests ------------------------------------------------------------------------

KEYS = ["status", "approved", "session_status", "session_id", "session_url", "ip_info",
        "is_blocklisted", "extra"]
WORDS = list(SESSION_TABLE) + list(STATUS_TABLE) + ["", " ", "Liveness Queued", "APPROVED "]
json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
    | st.sampled_from(WORDS)
)
values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=6,
)
data_objects = st.dictionaries(st.sampled_from(KEYS), values)
anything = data_objects | values | st.builds(object)


@given(anything)
def test_normalize_is_total_and_deterministic(raw: object) -> None:
    first = normalize(raw)
    assert isinstance(first, KYCState)
    assert normalize(raw) is first
    raw_status_of(raw)  # total too


def _fold(word: str, draw_case: int, pad: str) -> str:
    variants = [word, word.upper(), word.lower(), word.swapcase(), word.replace(" ", "_"),
                word.replace(" ", "-")]
    return pad + variants[draw_case % len(variants)] + pad


@given(st.sampled_from(sorted(SESSION_TABLE)), st.integers(0, 5),
       st.sampled_from(["", " ", "\t", "  \n"]),
       st.one_of(st.none(), st.sampled_from(sorted(STATUS_TABLE))))
def test_session_words_any_case_and_whitespace(
    word: str, case: int, pad: str, status: str | None
) -> None:
    raw = {"session_status": _fold(word, case, pad), "status": status, "approved": False}
    assert normalize(raw) is SESSION_TABLE[word]


@given(st.sampled_from(sorted(STATUS_TABLE)), st.integers(0, 5), st.sampled_from(["", " ", "\t"]))
def test_status_words_any_case_and_whitespace(word: str, case: int, pad: str) -> None:
    assert normalize({"status": _fold(word, case, pad)}) is STATUS_TABLE[word]


@given(data_objects)
def test_rules_hold_for_any_data(raw: dict[str, Any]) -> None:
    state = normalize(raw)
    session = SESSION_STATUS_MAP(raw.get("session_status"))
    if raw.get("approved") is True:
        if session in (S.REJECTED, S.EXPIRED):
            assert state is session
        else:
            assert state is S.APPROVED
    elif session is not S.UNKNOWN:
        assert state is session
    else:
        assert state is DATA_STATUS_MAP(raw.get("status"))
