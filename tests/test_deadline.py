"""One overall deadline per call, against the hostile server (kycbridge_hostile).

Each hostile case would hold a call for 120 s; a 1-2 s deadline must end it well under 20 s.
"""

from __future__ import annotations

import io
import time

import pytest
import urllib3
from toy import TOY_TOKEN, ToyProvider, toy_plugin

import kycbridge
from kycbridge.cli import main
from kycbridge.errors import ProviderUnavailable, WatchTimeout
from kycbridge.ratelimit import RateLimiter
from kycbridge.testing.hostile import HostileServer
from kycbridge.transport import Request, Transport
from kycbridge.watch import Watcher

BOUND = 20.0  # seconds; the hostile server would take 120
SLOW = ["drip-body", "drip-headers", "silent"]


def transport(pool=None, **kw) -> Transport:
    kw.setdefault("retries", 3)
    kw.setdefault("backoff_factor", 0.01)
    return Transport(pool, **kw)


def live_connections(t: Transport) -> int:
    """Pooled connections with an open socket (across the transport's host pools)."""
    count = 0
    for key in list(t.pool.pools.keys()):
        pool = t.pool.pools[key]
        count += sum(1 for conn in list(pool.pool.queue) if conn is not None and conn.sock)
    return count


@pytest.mark.parametrize("behaviour", SLOW)
def test_a_slow_server_ends_at_the_call_timeout(kycbridge_hostile: HostileServer, behaviour):
    t = transport(call_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match=r"no answer within the 1 s deadline"):
        t.send(Request(url=kycbridge_hostile.url(behaviour) + "/x"), provider="api")
    assert time.monotonic() - started < BOUND
    assert live_connections(t) == 0  # closed, never handed back live


@pytest.mark.parametrize("behaviour", SLOW)
def test_an_absolute_deadline_wins_over_long_timeouts(kycbridge_hostile, behaviour):
    t = transport(call_timeout=None, read_timeout=300, connect_timeout=300)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="deadline"):
        t.send(Request(url=kycbridge_hostile.url(behaviour) + "/x"), deadline=started + 1)
    assert time.monotonic() - started < BOUND


def test_a_body_drip_is_cut_through_an_apps_own_pool_too(kycbridge_hostile):
    # an app's pool: the body is read one recv at a time, the deadline checked between reads
    t = transport(urllib3.PoolManager(), call_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="deadline"):
        t.send(Request(url=kycbridge_hostile.url("drip-body") + "/x"))
    assert time.monotonic() - started < BOUND


def test_retry_after_past_the_deadline_is_not_waited_for(kycbridge_hostile):
    t = transport(call_timeout=1.0, max_retry_after=30)
    slept: list[float] = []
    t.sleep = slept.append
    response = t.send(Request(url=kycbridge_hostile.url("retry-after") + "/x"))
    assert response.status == 503 and response.retry_after() == 30
    assert slept == []  # a 30 s wait would end past the 1 s deadline: the answer is the answer
    assert len(kycbridge_hostile.requests) == 1


def test_retry_after_within_the_deadline_is_waited_for(kycbridge_hostile):
    t = transport(call_timeout=100.0, max_retry_after=30, retries=2)
    slept: list[float] = []
    t.sleep = slept.append
    assert t.send(Request(url=kycbridge_hostile.url("retry-after") + "/x")).status == 503
    assert slept == [30, 30]
    assert len(kycbridge_hostile.requests) == 3


def test_backoff_past_the_deadline_gives_up(kycbridge_hostile):
    # connection refused, retried with backoff: a wait past the deadline is not started
    t = transport(call_timeout=1.0, backoff_factor=5, retries=5)
    slept: list[float] = []
    t.sleep = slept.append
    with pytest.raises(ProviderUnavailable, match="deadline"):
        t.send(Request(url="http://127.0.0.1:9/x"))
    assert slept == [] or all(s < 1 for s in slept)


def test_per_attempt_timeouts_are_cut_to_what_remains(kycbridge_hostile):
    t = transport(call_timeout=None, read_timeout=60)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable):
        t.send(Request(url=kycbridge_hostile.url("silent") + "/x"), deadline=started + 1)
    assert time.monotonic() - started < BOUND


# -- through the bridge, the watcher and the CLI -----------------------------------------------
def toy_bridge(hostile: HostileServer, behaviour: str, **kw) -> kycbridge.Bridge:
    settings = {"toy": {"base_url": hostile.url(behaviour)}}
    return kycbridge.Bridge([toy_plugin], settings=settings, env={}, **kw)


@pytest.mark.parametrize("behaviour", [*SLOW, "retry-after"])
def test_bridge_fetch_deadline(kycbridge_hostile, behaviour):
    with toy_bridge(kycbridge_hostile, behaviour, transport=transport()) as bridge:
        query = bridge.query("toy", subject="s", token=TOY_TOKEN)
        started = time.monotonic()
        with pytest.raises(ProviderUnavailable):
            bridge.fetch("toy", query, deadline=started + 1)
        assert time.monotonic() - started < BOUND


def test_bridge_timeout_applies_to_status(kycbridge_hostile):
    with toy_bridge(kycbridge_hostile, "drip-body", timeout=1) as bridge:
        started = time.monotonic()
        with pytest.raises(ProviderUnavailable, match="deadline"):
            bridge.status("toy", subject="s", token=TOY_TOKEN)
        assert time.monotonic() - started < BOUND


def test_the_rate_limiters_wait_counts_against_the_deadline(kycbridge_hostile):
    class SlowToy(ToyProvider):
        rate_limit = 0.01  # one call per 102 s

    class plugin:
        @staticmethod
        @kycbridge.hookimpl
        def register_providers(register):
            register(SlowToy())

    settings = {"toy": {"base_url": kycbridge_hostile.url("not-found-foreign")}}
    with kycbridge.Bridge([plugin], settings=settings, env={}) as bridge:
        with pytest.raises(kycbridge.SubjectNotFound):  # the first call: its slot is now
            bridge.status("toy", subject="s", token=TOY_TOKEN)
        started = time.monotonic()
        with pytest.raises(ProviderUnavailable, match="rate limit"):
            bridge.fetch("toy", bridge.query("toy", subject="s"), deadline=started + 1)
        assert time.monotonic() - started < BOUND
    assert len(kycbridge_hostile.requests) == 1  # the second call was never sent


def test_rate_limiter_refuses_a_slot_past_the_deadline():
    now = [100.0]
    limiter = RateLimiter(1.0, clock=lambda: now[0], sleep=lambda s: None)
    assert limiter.acquire(max_wait=1) == 0
    with pytest.raises(TimeoutError):
        limiter.acquire(max_wait=0.5)  # the next slot is 1.02 s away
    assert limiter.acquire() == pytest.approx(1.02)  # the refused slot was not taken


def test_watch_timeout_cuts_a_request_in_flight(kycbridge_hostile):
    with toy_bridge(kycbridge_hostile, "drip-body", transport=transport()) as bridge:
        watcher = Watcher(bridge, "toy", {"subject": "s", "token": TOY_TOKEN}, timeout=2)
        started = time.monotonic()
        with pytest.raises(WatchTimeout):
            list(watcher)
        assert time.monotonic() - started < BOUND
        assert watcher.error_count >= 1


def run(bridge, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), bridge=bridge, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("behaviour", SLOW)
def test_cli_status_timeout_is_the_overall_deadline(kycbridge_hostile, behaviour):
    bridge = toy_bridge(kycbridge_hostile, behaviour, transport=transport())
    started = time.monotonic()
    code, _, err = run(
        bridge, "status", "toy", "-p", "subject=s", "-p", f"token={TOY_TOKEN}", "--timeout", "1"
    )
    assert code == 5, err
    assert "deadline" in err
    assert time.monotonic() - started < BOUND
    assert TOY_TOKEN not in err


def test_cli_watch_timeout_is_the_overall_deadline(kycbridge_hostile):
    bridge = toy_bridge(kycbridge_hostile, "drip-headers", transport=transport())
    started = time.monotonic()
    code, _, err = run(
        bridge, "watch", "toy", "-p", "subject=s", "-p", f"token={TOY_TOKEN}", "--timeout", "2"
    )
    assert code == 8, err
    assert time.monotonic() - started < BOUND


def test_cli_request_timeout_is_per_request(kycbridge_hostile):
    bridge = toy_bridge(kycbridge_hostile, "silent", transport=transport(retries=0))
    code, _, err = run(
        bridge,
        "status",
        "toy",
        "-p",
        "subject=s",
        "--request-timeout",
        "0.5",
        "--timeout",
        "30",
    )
    assert code == 5, err
    assert bridge.transport.timeout.read_timeout == 0.5
    assert "deadline" not in err  # the read timeout ended it, not the deadline


@pytest.mark.parametrize("flag", ["--timeout", "--request-timeout"])
def test_cli_timeouts_must_be_positive(kycbridge_hostile, flag):
    bridge = toy_bridge(kycbridge_hostile, "silent")
    code, _, err = run(bridge, "status", "toy", "-p", "subject=s", flag, "0")
    assert code == 2 and flag in err
