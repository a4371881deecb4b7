"""Whatever Onfido (or a proxy in front of it) answers, the caller gets a report or a
KYCBridgeError, never another exception; and never the sdk_token."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kycbridge
import kycbridge_onfido
from kycbridge.errors import KYCBridgeError
from kycbridge.sandbox import Replay, Sandbox, SimResponse
from kycbridge.transport import Transport
from kycbridge_onfido.errors import MAX_RETRY_AFTER
from kycbridge_onfido.mapping import STATUSES
from kycbridge_onfido.provider import OnfidoProvider
from kycbridge_onfido.simulator import SANDBOX_API_TOKEN

STATUS_CODES = [200, 201, 301, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504, 520]
CONTENT_TYPES = ["application/json", "application/json; charset=utf-8", "text/plain",
                 "text/html", ""]
SDK_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJmdXp6Ijp0cnVlfQ.ZnV6ei1zaWduYXR1cmU"

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
           | st.text(max_size=20) | st.sampled_from([*STATUSES, "on_hold"]))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=10,
)
runs = st.fixed_dictionaries(
    {"sdk_token": st.just(SDK_TOKEN)},
    optional={
        "id": st.text(max_size=10) | scalars,
        "status": st.sampled_from(STATUSES) | scalars,
        "applicant_id": scalars, "workflow_id": scalars,
        "workflow_version_id": st.integers() | scalars,
        "reasons": st.lists(st.text(max_size=5) | scalars, max_size=3) | scalars,
        "error": st.fixed_dictionaries({}, optional={"type": scalars, "message": scalars})
        | json_values,
        "tags": st.lists(scalars, max_size=3), "link": json_values, "output": json_values,
        "customer_user_id": scalars, "created_at": scalars,
    },
)
errors = st.fixed_dictionaries({"error": st.fixed_dictionaries(
    {}, optional={"type": scalars, "message": scalars, "fields": json_values})})
json_bodies = (runs | errors | json_values).map(lambda v: json.dumps(v).encode())
bodies = json_bodies | st.binary(max_size=64) | json_bodies.map(lambda b: b[: len(b) // 2])
retry_afters = st.sampled_from([None, "1", "0", "2.5", "-3", "abc", "1e9", "inf", "nan"])


@pytest.fixture(scope="module")
def replay() -> Replay:
    return Replay("onfido", settings={"api_token": SANDBOX_API_TOKEN})


@pytest.fixture(scope="module")
def bridge(replay: Replay) -> Iterator[kycbridge.Bridge]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(OnfidoProvider, "rate_limit", None)
        with Sandbox([replay]) as sandbox, kycbridge.Bridge(
            [kycbridge_onfido], settings=sandbox.settings(), env={},
            transport=Transport(retries=0, read_timeout=2.0),
        ) as bridge:
            yield bridge


@settings(max_examples=60, deadline=None)
@given(status=st.sampled_from(STATUS_CODES), content_type=st.sampled_from(CONTENT_TYPES),
       body=bodies, retry=retry_afters)
def test_any_answer_over_http(
    bridge: kycbridge.Bridge, replay: Replay, status: int, content_type: str, body: bytes,
    retry: str | None,
) -> None:
    replay.reset()
    headers = {"Retry-After": retry} if retry is not None else {}
    replay.push(SimResponse(status, body, content_type=content_type, headers=headers))
    try:
        outcome: Any = bridge.status("onfido", workflow_run_id="wfr-fuzzed-run")
    except KYCBridgeError as exc:
        outcome = exc
    assert len(replay.received) == 1
    if isinstance(outcome, kycbridge.StatusReport):
        assert 200 <= status < 300
        assert isinstance(outcome.state, kycbridge.KYCState)
        assert SDK_TOKEN not in json.dumps(kycbridge.report_to_dict(outcome), default=str)
    else:
        assert isinstance(outcome, KYCBridgeError), repr(outcome)
        assert outcome.provider == "onfido" and outcome.http_status == status
        text = " ".join([str(outcome), repr(outcome), json.dumps(outcome.to_dict())])
        assert SDK_TOKEN[:20] not in text
        assert "wfr-fuzzed-run" not in text
        if outcome.retry_after is not None:
            assert 0 <= outcome.retry_after <= MAX_RETRY_AFTER
            assert math.isfinite(outcome.retry_after)
