"""Whatever StarkFi (or a proxy in front of it) answers, the caller gets a report or a
KYCBridgeError, never another exception."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kycbridge
import kycbridge_starkfi
from kycbridge.errors import KYCBridgeError
from kycbridge.sandbox import Replay, Sandbox, SimResponse
from kycbridge.transport import Response, Transport
from kycbridge_starkfi.details import DATA_FIELDS, IP_INFO_FIELDS
from kycbridge_starkfi.errors import MAX_RETRY_AFTER
from kycbridge_starkfi.mapping import normalize, raw_status_of
from kycbridge_starkfi.provider import StarkFiProvider
from kycbridge_starkfi.query import StarkFiQuery, StarkFiSettings
from kycbridge_starkfi.simulator import SANDBOX_API_KEY

STATUSES = [200, 201, 301, 400, 401, 403, 404, 409, 418, 422, 429, 500, 502, 503, 504, 520]
CONTENT_TYPES = ["application/json", "application/json; charset=utf-8", "application/problem+json",
                 "text/plain", "text/html", ""]
WORDS = ["Not Started", "In Progress", "In Review", "Approved", "Declined", "Resubmitted",
         "Expired", "Abandoned", "Kyc Expired", "Awaiting User", "pending", "approved", "x"]

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
           | st.text(max_size=20) | st.sampled_from(WORDS))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=10,
)
ip_records = st.dictionaries(
    st.sampled_from(["ip_address", "ip_country", "ip_city", "platform", "is_vpn_or_tor",
                     "is_data_center", "extra"]),
    scalars | st.text(max_size=10), max_size=5,
)
data_objects = st.dictionaries(
    st.sampled_from(["status", "approved", "session_id", "session_status", "session_url",
                     "ip_info", "is_blocklisted", "extra"]),
    scalars | st.lists(ip_records | scalars, max_size=3) | json_values,
    max_size=8,
)
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "statusCode": st.integers(100, 599) | scalars,
        "success": st.booleans() | scalars,
        "status": st.sampled_from(["kyc_status_retrieved", "missing_params", "server_failed"])
        | scalars,
        "message": st.text(max_size=30) | scalars,
        "data": data_objects | json_values,
        "code": st.integers() | scalars,
        "docs": st.text(max_size=10),
    },
)
json_bodies = (envelopes | json_values).map(lambda v: json.dumps(v).encode())
bodies = json_bodies | st.binary(max_size=64) | json_bodies.map(lambda b: b[: len(b) // 2])
retry_afters = st.sampled_from([None, "1", "0", "2.5", "-3", "abc", "1e9", "inf", "nan"])


@pytest.fixture(scope="module")
def replay() -> Replay:
    return Replay("starkfi", settings={"api_key": SANDBOX_API_KEY})


@pytest.fixture(scope="module")
def bridge(replay: Replay) -> Iterator[kycbridge.Bridge]:
    with pytest.MonkeyPatch.context() as patch:
        # no client limiter: a Retry-After would otherwise hold it back between examples
        patch.setattr(StarkFiProvider, "rate_limit", None)
        with Sandbox([replay]) as sandbox, kycbridge.Bridge(
            [kycbridge_starkfi], settings=sandbox.settings(), env={},
            transport=Transport(retries=0, read_timeout=2.0),
        ) as bridge:
            yield bridge


def check(outcome: Any, status: int) -> None:
    if isinstance(outcome, kycbridge.StatusReport):
        assert 200 <= status < 300
        assert isinstance(outcome.state, kycbridge.KYCState)
        assert outcome.provider == "starkfi"
    else:
        assert isinstance(outcome, KYCBridgeError), repr(outcome)
        assert outcome.provider == "starkfi"
        assert outcome.http_status == status
        if outcome.retry_after is not None:
            assert 0 <= outcome.retry_after <= MAX_RETRY_AFTER
            assert math.isfinite(outcome.retry_after)


@settings(max_examples=50, deadline=None)
@given(status=st.sampled_from(STATUSES), content_type=st.sampled_from(CONTENT_TYPES),
       body=bodies, retry=retry_afters)
def test_any_answer_over_http(
    bridge: kycbridge.Bridge, replay: Replay, status: int, content_type: str, body: bytes,
    retry: str | None,
) -> None:
    replay.reset()
    headers = {"Retry-After": retry} if retry is not None else {}
    replay.push(SimResponse(status, body, content_type=content_type, headers=headers))
    try:
        outcome: Any = bridge.status("starkfi", email="jane@example.com")
    except KYCBridgeError as exc:
        outcome = exc
    check(outcome, status)
    assert len(replay.received) == 1


class StubTransport:
    """Answers every request with one canned response (no network: many more examples)."""

    def __init__(self, response: Response) -> None:
        self.response = response

    def send(self, request: Any, *, provider: str | None = None) -> Response:
        return self.response


@settings(max_examples=300, deadline=None)
@given(status=st.sampled_from([*STATUSES, 204]), content_type=st.sampled_from(CONTENT_TYPES),
       body=bodies, retry=retry_afters)
def test_any_answer_in_process(
    status: int, content_type: str, body: bytes, retry: str | None
) -> None:
    headers = {"content-type": content_type}
    if retry is not None:
        headers["retry-after"] = retry
    response = Response(status=status, headers=headers, body=body)
    provider = StarkFiProvider()
    query = StarkFiQuery(email="jane@example.com")
    try:
        outcome: Any = provider.fetch(query, StarkFiSettings(api_key="k" * 8),
                                      StubTransport(response))  # type: ignore[arg-type]
    except KYCBridgeError as exc:
        outcome = exc
    check(outcome, status)


data_with_ip_info = st.builds(
    lambda data, ip_info: {**data, "ip_info": ip_info},
    data_objects,
    st.lists(ip_records | ip_records | scalars, max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(data=data_objects | data_with_ip_info)
def test_documented_envelope_with_any_data(data: dict[str, Any]) -> None:
    body = json.dumps({"statusCode": 200, "success": True, "status": "kyc_status_retrieved",
                       "message": "KYC status retrieved", "data": data}).encode()
    response = Response(200, {"content-type": "application/json"}, body)
    ip_info = data.get("ip_info")
    wrong_types = mistyped(data, DATA_FIELDS) or (
        type(ip_info) is list
        and any(type(item) is not dict or mistyped(item, IP_INFO_FIELDS) for item in ip_info)
    )
    try:
        report = StarkFiProvider().fetch(
            StarkFiQuery(wallet="1" * 40), StarkFiSettings(api_key="k" * 8),
            StubTransport(response),  # type: ignore[arg-type]
        )
    except kycbridge.MalformedResponse:
        assert wrong_types, "refused a data object whose documented fields are well typed"
        return
    assert not wrong_types, "accepted a documented field of the wrong JSON type"
    assert report.state is normalize(data)
    assert report.raw_status == raw_status_of(data)


def mistyped(obj: dict[str, Any], spec: Any) -> bool:
    """Whether a documented field of ``obj`` is present, not null, and not exactly its type."""
    return any(obj.get(name) is not None and type(obj[name]) is not kind
               for name, kind in spec.items())
