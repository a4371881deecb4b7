from __future__ import annotations

import datetime as dt
import json

import attrs
import hypothesis.strategies as st
import pytest
from hypothesis import given

from kycbridge import KYCState, StatusReport, report_from_dict, report_to_dict
from kycbridge.report import converter


@attrs.frozen
class Rec:
    ip: str | None = None
    vpn: bool = False


@attrs.frozen
class Details:
    kind: str | None = None
    count: int = 0
    records: list[Rec] = attrs.field(factory=list)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)
details = st.builds(
    Details,
    kind=st.none() | st.text(),
    count=st.integers(),
    records=st.lists(st.builds(Rec, ip=st.none() | st.text(), vpn=st.booleans()), max_size=3),
)
times = st.datetimes(
    min_value=dt.datetime(1970, 1, 2),
    max_value=dt.datetime(9999, 1, 1),
    timezones=st.sampled_from([dt.timezone.utc, dt.timezone(dt.timedelta(hours=5, minutes=30))]),
)
reports = st.builds(
    StatusReport,
    provider=st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
    state=st.sampled_from(KYCState),
    raw_status=st.none() | st.text(),
    observed_at=times,
    subject=st.none() | st.text(),
    details=st.none() | details,
    blocklisted=st.booleans(),
    anomaly=st.booleans(),
    raw=json_values,
)


@given(reports)
def test_round_trip_through_json_is_lossless(report):
    data = report_to_dict(report)
    text = json.dumps(data)
    back = report_from_dict(json.loads(text), details_type=Details)
    assert back == report
    assert converter.structure(data, StatusReport).state is report.state


@given(reports)
def test_json_form_keys_and_utc(report):
    data = report_to_dict(report)
    for key in ("provider", "state", "raw_status", "final", "approved", "observed_at", "details"):
        assert key in data
    assert data["observed_at"].endswith("Z")
    assert data["final"] == (
        report.state in {KYCState.APPROVED, KYCState.REJECTED, KYCState.EXPIRED, KYCState.ABANDONED}
    )
    assert data["approved"] == (report.state is KYCState.APPROVED)


def test_observed_at_is_utc_and_naive_times_are_refused():
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    r = StatusReport(
        provider="p",
        state="approved",
        raw_status="OK",
        observed_at=dt.datetime(2026, 1, 1, 5, 30, tzinfo=ist),
    )
    assert r.observed_at == dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    assert r.observed_at.utcoffset() == dt.timedelta(0)
    assert report_to_dict(r)["observed_at"] == "2026-01-01T00:00:00Z"
    with pytest.raises(ValueError):
        StatusReport(
            provider="p", state="approved", raw_status=None, observed_at=dt.datetime(2026, 1, 1)
        )


def test_repr_masks_subject_and_hides_raw():
    r = StatusReport(
        provider="p",
        state="in_review",
        raw_status="R",
        subject="jane.doe@example.com",
        raw={"email": "jane.doe@example.com"},
    )
    text = repr(r)
    assert "jane.doe@example.com" not in text
    assert "j***@e***.com" in text
    assert r.final is False and r.approved is False


def test_unknown_provider_details_stay_plain():
    r = StatusReport(provider="nobody", state="unknown", raw_status="??", details=Details("x"))
    back = report_from_dict(report_to_dict(r))
    assert back.details == {"kind": "x", "count": 0, "records": []}


def test_bad_json_forms_are_clear():
    with pytest.raises(ValueError, match="provider"):
        report_from_dict({"state": "approved"})
    with pytest.raises(ValueError):
        report_from_dict({"provider": "p", "state": "nope", "observed_at": "2026-01-01T00:00:00Z"})
