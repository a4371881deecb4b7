"""The normalizer: total, deterministic, every documented word as documented; the README."""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kycbridge import KYCState
from kycbridge.testing.strategies import json_values
from kycbridge_veriff.mapping import (
    DECISION_MAP,
    DOCUMENTED_CODES,
    STATUS_MAP,
    normalize,
    raw_status_of,
)
from kycbridge_veriff.simulator import SCENARIOS

S = KYCState
EXPECTED = {
    "approved": S.APPROVED, "declined": S.REJECTED, "resubmission_requested": S.ACTION_REQUIRED,
    "expired": S.EXPIRED, "abandoned": S.ABANDONED, "review": S.IN_REVIEW,
    "started": S.IN_PROGRESS, "submitted": S.SUBMITTED,
}
README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_documented_word_and_code() -> None:
    assert dict(STATUS_MAP.rows()) == EXPECTED
    assert set(DOCUMENTED_CODES) == set(EXPECTED)
    for word, codes in DOCUMENTED_CODES.items():
        for code in (*codes, None, 1, "x"):
            raw = {"status": word, "code": code}
            assert normalize(raw) is EXPECTED[word]
        assert raw_status_of({"status": word, "code": codes[0]}) == f"{word}/{codes[0]}"
    assert DOCUMENTED_CODES["expired"] == DOCUMENTED_CODES["abandoned"] == (9104,)


def test_raw_status_normalizes_to_the_reports_state() -> None:
    assert normalize(None) is S.IN_PROGRESS and raw_status_of(None) == "null"
    assert normalize("null") is normalize(" NULL ") is S.IN_PROGRESS
    for word, codes in DOCUMENTED_CODES.items():
        raw = {"status": word, "code": codes[0]}
        assert normalize(raw_status_of(raw)) is normalize(raw) is EXPECTED[word]
    assert normalize("9104") is S.UNKNOWN and normalize("on_hold/9001") is S.UNKNOWN


def test_code_alone_decides_nothing() -> None:
    for code in (9001, 9102, 9103, 9104, 9121, 7001, 7002):
        assert normalize({"code": code}) is S.UNKNOWN
        assert normalize({"status": "nope", "code": code}) is S.UNKNOWN
        assert raw_status_of({"code": code}) == str(code)


words = st.one_of(st.sampled_from(sorted(EXPECTED)), st.text(max_size=12), json_values())
verifications = st.one_of(
    json_values(),
    st.fixed_dictionaries({}, optional={"status": words, "code": json_values() | st.integers()}),
)


@settings(max_examples=300, deadline=None, database=None)
@given(verifications)
def test_normalizer_total_and_deterministic(raw: Any) -> None:
    before = json.dumps(raw, default=repr)
    first = normalize(raw)
    assert isinstance(first, KYCState)
    assert normalize(copy.deepcopy(raw)) is first
    assert json.dumps(raw, default=repr) == before
    shown = raw_status_of(raw)
    assert shown is None or isinstance(shown, str)
    if isinstance(raw, dict) and isinstance(raw.get("status"), str):
        assert first is STATUS_MAP(raw["status"])  # the word decides


def test_readme_documents_every_word_row_and_scenario() -> None:
    text = README.read_text(encoding="utf-8")
    for word in EXPECTED:
        assert f"`{word}`" in text, word
    for cells, _ in DECISION_MAP.rows():
        if all(isinstance(c, str) for c in cells):
            assert f"`{cells[1]}`" in text, cells
    for scenario in SCENARIOS:
        assert f"`{scenario.subject}`" in text, scenario.subject
        assert scenario.description.split(":")[0] in text


def test_package_data() -> None:
    assert resources.files("kycbridge_veriff").joinpath("py.typed").is_file()
