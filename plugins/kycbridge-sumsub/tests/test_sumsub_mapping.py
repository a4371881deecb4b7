"""The review mapping: every documented combination as documented, total and deterministic
over anything, and ``raw_status`` re-normalizing to the same state."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kycbridge import KYCState
from kycbridge.testing.strategies import json_values
from kycbridge_sumsub.mapping import REVIEW_MAP, STATUS_MAP, normalize, raw_status_of

S = KYCState

DECISIONS = {
    ("init", None, None): S.NOT_STARTED,
    ("pending", None, None): S.SUBMITTED,
    ("queued", None, None): S.IN_REVIEW,
    ("prechecked", None, None): S.IN_REVIEW,
    ("onHold", None, None): S.IN_REVIEW,
    ("awaitingService", None, None): S.IN_REVIEW,
    ("awaitingUser", None, None): S.ACTION_REQUIRED,
    ("completed", "GREEN", None): S.APPROVED,
    ("completed", "GREEN", "RETRY"): S.APPROVED,
    ("completed", "RED", "RETRY"): S.ACTION_REQUIRED,
    ("completed", "RED", "FINAL"): S.REJECTED,
    ("completed", "RED", None): S.REJECTED,
    ("completed", "RED", "SOMETHING_NEW"): S.REJECTED,
    ("completed", None, None): S.UNKNOWN,
    ("completed", "YELLOW", None): S.UNKNOWN,
    ("underManualCheck", None, None): S.UNKNOWN,
    (None, "GREEN", None): S.UNKNOWN,
}

STATUSES = ["init", "pending", "queued", "prechecked", "onHold", "awaitingService",
            "awaitingUser", "completed"]


def applicant(status: object, answer: object = None, reject: object = None) -> dict:
    result = {k: v for k, v in (("reviewAnswer", answer), ("reviewRejectType", reject))
              if v is not None}
    review = {"reviewStatus": status} if status is not None else {}
    if result:
        review["reviewResult"] = result
    return {"id": "5b594ade0a975a36c9349e66", "review": review}


def test_every_decision() -> None:
    for (status, answer, reject), state in DECISIONS.items():
        payload = applicant(status, answer, reject)
        assert normalize(payload) is state, (status, answer, reject)
        assert normalize(payload["review"]) is state  # a review object (or webhook payload)
        raw = raw_status_of(payload)
        assert normalize(raw) is state, raw


def test_raw_status_form() -> None:
    assert raw_status_of(applicant("completed", "RED", "RETRY")) == "completed/RED/RETRY"
    assert raw_status_of(applicant("completed", "GREEN")) == "completed/GREEN"
    assert raw_status_of(applicant("pending", "RED", "RETRY")) == "pending"  # stale result
    assert raw_status_of(applicant(None)) is None
    assert raw_status_of({"id": "x"}) is None


def test_status_map_rows_agree_with_the_composite_map() -> None:
    for word, state in STATUS_MAP.rows():
        assert normalize(word) is state
        assert REVIEW_MAP.lookup(*(word.split("/") + [None] * 2)[:3]) is state
    documented = {word.split("/")[0] for word in STATUS_MAP}
    assert documented == set(STATUSES)
    assert len(REVIEW_MAP) == len(STATUS_MAP)


_WORD = st.one_of(st.sampled_from([*STATUSES, "GREEN", "RED", "RETRY", "FINAL"]), json_values())


@settings(max_examples=300, deadline=None)
@given(status=_WORD, answer=_WORD, reject=_WORD)
def test_total_deterministic_and_raw_status_renormalizes(
    status: object, answer: object, reject: object
) -> None:
    payload = {"review": {"reviewStatus": status,
                          "reviewResult": {"reviewAnswer": answer, "reviewRejectType": reject}}}
    state = normalize(payload)
    assert isinstance(state, KYCState) and normalize(payload) is state
    raw = raw_status_of(payload)
    words = [w for w in (status, answer, reject) if isinstance(w, str)]
    # The composite form leaves absent fields out, so a reject type without an answer moves
    # into the answer's place ("completed/GREEN" from a reject type "GREEN"): ambiguous by
    # design, and not a shape Sumsub sends. Words with "/" are ambiguous too.
    said = [isinstance(w, str) and bool(w.strip()) for w in (answer, reject)]
    if raw is not None and not any("/" in w for w in words) and said != [False, True]:
        assert normalize(raw) is state


@settings(max_examples=300, deadline=None)
@given(value=json_values())
def test_anything_normalizes(value: object) -> None:
    assert isinstance(normalize(value), KYCState)
    assert raw_status_of(value) is None or isinstance(raw_status_of(value), str)
