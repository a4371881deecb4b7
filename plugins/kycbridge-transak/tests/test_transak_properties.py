"""Property tests: the mapping is total; any answer gives a report or a typed error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

import kycbridge
import kycbridge_transak
from kycbridge import KYCBridgeError, KYCState, StatusReport, Transport
from kycbridge.sandbox import Replay, Sandbox, SimResponse
from kycbridge.transport import Request, Response
from kycbridge_transak import TransakProvider, TransakQuery, TransakSettings
from kycbridge_transak.mapping import STATUS_MAP
from kycbridge_transak.simulator import SANDBOX_ACCESS_TOKEN

PROVIDER = TransakProvider()
QUERY = {"work_flow_run_id": "wfr-prop", "access_token": SANDBOX_ACCESS_TOKEN}

anything = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.binary()
    | st.lists(st.text())
    | st.dictionaries(st.text(), st.text())
)


# -- (1) normalize is total and deterministic --------------------------------------------------
@given(anything)
def test_normalize_is_total_and_deterministic(raw: Any) -> None:
    state = PROVIDER.normalize(raw)
    assert isinstance(state, KYCState)
    assert PROVIDER.normalize(raw) is state
    if not isinstance(raw, str):
        assert state is KYCState.UNKNOWN


@given(st.sampled_from(sorted(STATUS_MAP)), st.data())
def test_documented_words_in_any_case_and_spacing(word: str, data: st.DataObject) -> None:
    mangled = "".join(data.draw(st.sampled_from([c.upper(), c.lower()])) for c in word)
    mangled = mangled.replace("_", data.draw(st.sampled_from(["_", " ", "-", "__", " _ "])))
    before = data.draw(st.sampled_from(["", " ", "\t", "\n "]))
    after = data.draw(st.sampled_from(["", " ", "\r\n"]))
    assert PROVIDER.normalize(before + mangled + after) is STATUS_MAP.table[word]


@given(st.text())
def test_undocumented_words_are_unknown(raw: str) -> None:
    folded = " ".join(raw.replace("_", " ").replace("-", " ").split()).casefold()
    documented = {w.replace("_", " ").casefold() for w in STATUS_MAP}
    if folded not in documented:
        assert PROVIDER.normalize(raw) is KYCState.UNKNOWN


# -- (2) any answer gives a report or a KYCBridgeError ------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
status_words = st.sampled_from([*STATUS_MAP, "submitted", "ON_HOLD", ""]) | json_values
shaped = st.one_of(
    st.fixed_dictionaries(
        {"data": st.fixed_dictionaries({"status": status_words}, optional={"kycType": json_values})}
    ),
    st.fixed_dictionaries(
        {"data": st.dictionaries(st.sampled_from(["status", "kycType", "x"]), json_values)}
    ),
    st.fixed_dictionaries(
        {
            "error": st.fixed_dictionaries(
                {},
                optional={
                    "statusCode": json_values,
                    "message": st.text() | json_values,
                    "errorCode": json_values,
                },
            )
        }
    ),
    json_values,
)
bodies = shaped.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=64)
statuses = st.sampled_from([200, 400, 401, 403, 404, 429, 500, 502, 503, 504]) | st.integers(
    200, 599
).filter(lambda s: s not in (204, 205, 304))
content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/plain", "text/html", ""]
)


def check(outcome: Any) -> None:
    assert isinstance(outcome, (StatusReport, KYCBridgeError)), outcome
    if isinstance(outcome, StatusReport):
        assert outcome.state is STATUS_MAP(outcome.raw_status)
    else:
        assert outcome.provider == "transak"


class FakeTransport:
    """Hands ``fetch`` a canned response: the same code path as HTTP, minus the socket."""

    def __init__(self, response: Response) -> None:
        self.response = response

    def send(self, request: Request, *, provider: str | None = None) -> Response:
        return self.response


@settings(max_examples=300, deadline=None)
@given(statuses, bodies, content_types)
def test_fetch_never_raises_anything_else(status: int, body: bytes, content_type: str) -> None:
    headers = {"content-type": content_type} if content_type else {}
    transport: Any = FakeTransport(Response(status=status, headers=headers, body=body))
    query = TransakQuery(**QUERY)
    try:
        outcome: Any = PROVIDER.fetch(query, TransakSettings(), transport)
    except KYCBridgeError as exc:
        outcome = exc
    check(outcome)


@pytest.fixture(scope="module")
def replay() -> Replay:
    return Replay("transak")


@pytest.fixture(scope="module")
def replay_bridge(replay: Replay) -> Iterator[kycbridge.Bridge]:
    with Sandbox([replay]) as sandbox:
        transport = Transport(retries=0, read_timeout=2)
        with kycbridge.Bridge(
            [kycbridge_transak], settings=sandbox.settings(), transport=transport, env={}
        ) as bridge:
            yield bridge


@settings(max_examples=50, deadline=None)
@given(statuses, bodies, content_types)
def test_any_answer_over_http_gives_a_report_or_a_typed_error(
    replay: Replay,
    replay_bridge: kycbridge.Bridge,
    status: int,
    body: bytes,
    content_type: str,
) -> None:
    replay.reset()
    replay.push(SimResponse(status, body, content_type))
    try:
        outcome: Any = replay_bridge.status("transak", **QUERY)
    except KYCBridgeError as exc:
        outcome = exc
    check(outcome)
    assert len(replay.received) == 1
