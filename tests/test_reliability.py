"""The reliability matrix: faults, load, secrets and bad input, against both real plugins.

Everything runs over real HTTP against the plugins' own simulators on loopback.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

import kycbridge
import kycbridge.testing as kit
from kycbridge import Bridge, InvalidQuery, KYCBridgeError, KYCState, StatusReport
from kycbridge.cli import main
from kycbridge.sandbox import Sandbox, SimRequest, SimResponse
from kycbridge.transport import Transport

kycbridge_transak = pytest.importorskip("kycbridge_transak")
kycbridge_starkfi = pytest.importorskip("kycbridge_starkfi")
from kycbridge_starkfi.simulator import SANDBOX_API_KEY, StarkFiSimulator  # noqa: E402
from kycbridge_transak.simulator import (  # noqa: E402
    SANDBOX_ACCESS_TOKEN,
    SANDBOX_PARTNER_TOKEN,
    TransakSimulator,
)

CANARY = "canary-5ec7e7-a9f1c3d2"


class UnlimitedStarkFi(kycbridge_starkfi.StarkFiProvider):  # type: ignore[misc]
    """StarkFi without its 10/s limit: the simulator here enforces none, and these tests are
    not about it (the limit has its own tests). Saves ~0.1 s per call."""

    rate_limit = None


class unlimited_starkfi:
    @staticmethod
    @kycbridge.hookimpl
    def register_providers(register: Any) -> None:
        register(UnlimitedStarkFi())


PLUGINS = [kycbridge_transak, unlimited_starkfi]


class CanaryGate:
    """Lets the canary secret through to the real simulator, so every path is reachable.

    The wrapped simulator only knows its documented sandbox credentials; this swaps the canary
    for them on the way in, and nothing else.
    """

    SWAPS = {
        "authorization": SANDBOX_ACCESS_TOKEN,
        "x-access-token": SANDBOX_PARTNER_TOKEN,
        "x-api-key": SANDBOX_API_KEY,
    }

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.settings = inner.settings
        self.scenarios = inner.scenarios

    def handle(self, request: SimRequest) -> SimResponse:
        headers = {
            k: (self.SWAPS[k] if v == CANARY and k in self.SWAPS else v)
            for k, v in request.headers.items()
        }
        return self.inner.handle(SimRequest(request.method, request.path, request.query, headers))

    def reset(self) -> None:
        self.inner.reset()


fast_transport = functools.partial(kit.fast_transport, read_timeout=5.0, connect_timeout=5.0)
"""The kit's quick test transport with these tests' timeouts: generous, so that a loopback
answer on a busy machine never times out by chance."""

impatient_transport = functools.partial(kit.fast_transport, read_timeout=0.25)
"""For the slow scenarios (answers after 2 s): times out, 8x under the delay, without waiting
it out."""


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    sims = [CanaryGate(TransakSimulator()), CanaryGate(StarkFiSimulator(rate_limit=None))]
    with Sandbox(sims) as box:
        yield box


def canary_bridge(sandbox: Sandbox, *, transport: Transport | None = None, **kw: Any) -> Bridge:
    settings = {
        "transak": {"base_url": sandbox.url("transak"), "partner_access_token": CANARY},
        "starkfi": {"base_url": sandbox.url("starkfi"), "api_key": CANARY},
    }
    transport = transport or fast_transport()
    return Bridge(PLUGINS, settings=settings, env={}, transport=transport, **kw)


def canary_query(provider: str, query: dict[str, str]) -> dict[str, str]:
    if provider == "transak":
        return {**query, "access_token": CANARY}
    return dict(query)


def all_scenarios() -> list[tuple[str, Any]]:
    return [
        (sim.name, sc) for sim in (TransakSimulator(), StarkFiSimulator()) for sc in sim.scenarios
    ]


SCENARIOS = all_scenarios()
IDS = [f"{p}:{sc.subject}" for p, sc in SCENARIOS]
KINDS = {cls.kind for cls in KYCBridgeError.__subclasses__()} | {
    sub.kind for cls in KYCBridgeError.__subclasses__() for sub in cls.__subclasses__()
}


# -- faults ------------------------------------------------------------------------------
@pytest.mark.parametrize(("provider", "scenario"), SCENARIOS, ids=IDS)
def test_every_scenario_ends_in_a_report_or_its_documented_error(sandbox, provider, scenario):
    """Each call gives a report or a typed error; the last one is the documented outcome."""
    sandbox.reset()
    slow = "slow" in scenario.subject
    bridge = canary_bridge(sandbox, transport=impatient_transport() if slow else None)
    query = canary_query(provider, dict(scenario.query))
    outcome: StatusReport | KYCBridgeError | None = None
    for _ in range(max(1, len(scenario.played)) + 2):
        try:
            outcome = bridge.status(provider, **query)
        except KYCBridgeError as exc:
            outcome = exc
        except Exception as exc:  # pragma: no cover - this is what the test forbids
            pytest.fail(f"unexpected {type(exc).__name__}: {exc}")
    if slow:  # timed out: unavailable, whatever it would have answered
        assert isinstance(outcome, KYCBridgeError) and outcome.kind == "unavailable"
    elif scenario.outcome in {s.value for s in KYCState}:
        if isinstance(outcome, KYCBridgeError):
            # a scenario whose last played answer is a fault ends in that fault's kind
            assert outcome.kind in KINDS
        else:
            assert isinstance(outcome, StatusReport)
    elif scenario.outcome:
        assert isinstance(outcome, KYCBridgeError), scenario.subject
        assert outcome.kind == scenario.outcome, scenario.subject


@pytest.mark.parametrize("provider", ["transak", "starkfi"])
def test_connect_refused_is_unavailable(provider):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = {
        "transak": {"base_url": f"http://127.0.0.1:{port}"},
        "starkfi": {"base_url": f"http://127.0.0.1:{port}", "api_key": CANARY},
    }
    bridge = Bridge(PLUGINS, settings=settings, env={}, transport=fast_transport())
    query = {
        "transak": {"work_flow_run_id": "wfr-x", "access_token": CANARY},
        "starkfi": {"email": "someone@example.com"},
    }[provider]
    with pytest.raises(KYCBridgeError) as info:
        bridge.status(provider, **query)
    assert info.value.kind == "unavailable"
    assert CANARY not in str(info.value) + repr(info.value)


# -- load --------------------------------------------------------------------------------
def test_64_threads_no_errors_no_leaks_no_cross_talk(sandbox):
    """One facade shared by 64 threads; every answer belongs to the thread's own subject.

    64 threads on a pool of 64 connections, 50 calls each: every connection is reused many
    times over, which is where a leak or a cross-talk would show (20,000 calls proved nothing
    more, in 6 s).
    """
    sandbox.reset()
    bridge = canary_bridge(sandbox)
    bridge.transport = Transport(maxsize=64, retries=0, read_timeout=10)
    expected = {"wfr-submitted": KYCState.SUBMITTED, "wfr-not-submitted": KYCState.NOT_STARTED}
    subjects = list(expected)
    threads, per_thread = 64, 50
    errors: list[BaseException] = []
    mismatches: list[tuple[str, str | None]] = []
    opened_before = sandbox.connections_opened

    def work(i: int) -> None:
        subject = subjects[i % 2]
        query = {"work_flow_run_id": subject, "access_token": CANARY}
        try:
            for _ in range(per_thread):
                report = bridge.status("transak", **query)
                if report.subject != subject or report.state is not expected[subject]:
                    mismatches.append((subject, report.subject))
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    assert mismatches == []
    assert bridge.transport.requests_sent == threads * per_thread
    assert sandbox.connections_opened - opened_before <= 64


# -- secrets -----------------------------------------------------------------------------
def test_canary_secret_appears_nowhere(sandbox, caplog):
    """Every scenario, at debug level, through the API and the CLI: no canary anywhere."""
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    for provider, scenario in SCENARIOS:
        if "slow" in scenario.subject:
            continue  # covered by the timeout tests; keeps this one quick
        sandbox.reset()
        bridge = canary_bridge(sandbox)
        query = canary_query(provider, dict(scenario.query))
        seen.append(repr(bridge.query(provider, **query)))
        seen.append(repr(bridge.settings(provider)))
        try:
            seen.append(repr(bridge.status(provider, **query)))
        except KYCBridgeError as exc:
            seen += [str(exc), repr(exc), json.dumps(exc.to_dict())]
        sandbox.reset()
        out, err = io.StringIO(), io.StringIO()
        args = ["-vv", "status", provider, "--json"]
        args += [f"-p{k}={v}" for k, v in query.items()]
        main(args, bridge=canary_bridge(sandbox), stdout=out, stderr=err)
        seen += [out.getvalue(), err.getvalue()]
    seen.append(caplog.text)
    leaks = [text for text in seen if CANARY in text]
    assert leaks == []


# -- bad input ---------------------------------------------------------------------------
nasty = (
    st.text()
    | st.text(alphabet=st.sampled_from("\r\n\t\x00\u2028\u202e é漢"), min_size=1)
    | st.text(min_size=5000, max_size=6000)
    | st.integers()
    | st.floats()
    | st.binary()
    | st.lists(st.text(), max_size=2)
    | st.none()
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    provider=st.sampled_from(["transak", "starkfi"]),
    field=st.sampled_from(
        ["work_flow_run_id", "access_token", "user_identifier", "email", "wallet", "nope"]
    ),
    value=nasty,
)
def test_bad_queries_fail_before_any_request(sandbox, provider, field, value):
    base = {
        "transak": {"work_flow_run_id": "wfr-submitted", "access_token": CANARY},
        "starkfi": {"email": "approved@sandbox.starkfi.test"},
    }[provider]
    query = {**base, field: value}
    bridge = canary_bridge(sandbox)
    before = dict(sandbox.requests)
    try:
        bridge.status(provider, **query)
    except InvalidQuery as exc:
        assert sandbox.requests == before  # nothing was sent
        assert CANARY not in str(exc)
    except KYCBridgeError:
        pass  # a value that is valid after all can still be refused by the provider
    # a valid value gives a report: both are fine, nothing else is
