"""The status map, the details reader and the scrubbing helpers, without HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kycbridge import KYCState, MalformedResponse
from kycbridge_onfido.details import (
    HIDDEN_FIELDS,
    OnfidoDetails,
    parse_details,
    scrub_hidden,
    without_secrets,
)
from kycbridge_onfido.mapping import STATUS_MAP, STATUSES
from kycbridge_onfido.provider import OnfidoProvider
from kycbridge_onfido.simulator import Step, workflow_run

S = KYCState
PROVIDER = OnfidoProvider()

DOCUMENTED = {
    "awaiting_input": S.ACTION_REQUIRED,
    "processing": S.IN_PROGRESS,
    "awaiting_client_input": S.IN_REVIEW,
    "review": S.IN_REVIEW,
    "approved": S.APPROVED,
    "declined": S.REJECTED,
    "abandoned": S.ABANDONED,
    "error": S.UNKNOWN,
}


def test_every_documented_word_is_mapped_as_documented() -> None:
    assert dict(STATUS_MAP.rows()) == DOCUMENTED
    assert STATUSES == tuple(DOCUMENTED)
    for word, state in DOCUMENTED.items():
        assert PROVIDER.normalize(word) is state
        assert PROVIDER.normalize(word.upper().replace("_", "-")) is state
        assert STATUS_MAP.knows(word)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
    | st.sampled_from(list(DOCUMENTED)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_normalize_is_total_and_deterministic(value: Any) -> None:
    first = PROVIDER.normalize(value)
    assert isinstance(first, KYCState)
    assert PROVIDER.normalize(value) is first
    if not (isinstance(value, str) and STATUS_MAP.knows(value)):
        assert first is S.UNKNOWN


def test_details_of_a_full_run_keep_no_hidden_field() -> None:
    run = workflow_run("wfr-x", Step("error", reasons=("r1",),
                                     error={"type": "task_failed", "message": "boom"}))
    details = parse_details(run)
    assert details.status == "error" and details.reasons == ("r1",)
    assert (details.error_type, details.error_message) == ("task_failed", "boom")
    assert details.workflow_version_id == 3 and details.tags == ("kycbridge-sandbox",)
    assert details.link_url is not None and details.link_url.startswith("https://")
    shown = json.dumps([repr(details), vars(details)], default=str)
    for name in HIDDEN_FIELDS:
        assert str(run[name]) not in shown
    assert "wfr-x" not in repr(details)  # the id is masked in the repr


def test_details_are_optional_and_strict() -> None:
    assert parse_details({}) == OnfidoDetails()
    assert parse_details({"status": "review", "extra": [1], "error": None}).status == "review"
    for bad, field in [
        ({"workflow_version_id": "3"}, "workflow_version_id"),
        ({"workflow_version_id": True}, "workflow_version_id"),
        ({"reasons": "x"}, "reasons"),
        ({"tags": [1]}, "tags[0]"),
        ({"error": "boom"}, "error"),
        ({"error": {"type": 1}}, "error.type"),
        ({"link": {"url": 5}}, "link.url"),
        ({"created_at": 0}, "created_at"),
    ]:
        with pytest.raises(MalformedResponse) as info:
            parse_details(bad)
        assert field in info.value.message


def test_without_secrets() -> None:
    run = workflow_run("wfr-x", Step("approved"))
    clean = without_secrets(run)
    assert clean["sdk_token"] == "***" and clean["customer_user_id"] == "***"
    assert clean["status"] == "approved" and run["sdk_token"] != "***"  # a copy
    assert without_secrets({"sdk_token": None}) == {"sdk_token": None}
    assert without_secrets([run]) == [run]


@pytest.mark.parametrize(
    "text",
    [
        '{"sdk_token": "eyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ.sig", "id": "x"}',
        '{"sdk_token":"opaque-token-value","id":"x"}',
        "'customer_user_id': 'opaque-token-value'",
        '{"x": 1, "sdk_token": "opaque-token-val',  # cut short
        "token eyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ.sig in text",
    ],
)
def test_scrub_hidden(text: str) -> None:
    scrubbed = scrub_hidden(text)
    assert "opaque-token-val" not in scrubbed and "eyJhbGciOiJIUzI1NiJ9" not in scrubbed
    assert "***" in scrubbed
