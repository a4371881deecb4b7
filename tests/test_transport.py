"""The transport against real HTTP servers on loopback (the sandbox serving scripted answers)."""

from __future__ import annotations

import datetime
import email.utils
import logging
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
import urllib3
from hypothesis import given
from hypothesis import strategies as st

from kycbridge import __version__
from kycbridge.errors import MalformedResponse, ProviderUnavailable
from kycbridge.sandbox import Replay, Sandbox, SimResponse
from kycbridge.transport import Request, Response, Transport, encode_query, is_loopback_host

SECRET = "sk_live_canary_5f2b9c"


@pytest.fixture
def replay() -> Replay:
    return Replay("api")


@pytest.fixture
def server(replay: Replay) -> Iterator[Sandbox]:
    with Sandbox([replay]) as sandbox:
        yield sandbox


def fast(**kw) -> Transport:
    kw.setdefault("retries", 2)
    kw.setdefault("backoff_factor", 0.01)
    kw.setdefault("read_timeout", 2)
    return Transport(**kw)


def req(server: Sandbox, **kw) -> Request:
    return Request(url=server.url("api") + "/x", **kw)


def ok(payload=None) -> SimResponse:
    return SimResponse.json(200, payload if payload is not None else {"ok": True})


def test_get_json_and_user_agent(server, replay):
    replay.push(ok({"a": 1}))
    response = fast().send(req(server, params={"q": "v w"}))
    assert response.status == 200
    assert response.json() == {"a": 1}
    assert response.content_type == "application/json"
    sent = replay.received[0]
    assert sent.headers["user-agent"] == f"kycbridge/{__version__}"
    assert sent.param("q") == "v w"


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retryable_statuses_are_retried(server, replay, status):
    replay.push(SimResponse.json(status, {}), ok())
    response = fast().send(req(server))
    assert response.status == 200
    assert len(replay.received) == 2


def test_500_is_not_retried(server, replay):
    replay.push(SimResponse.json(500, {"e": 1}), ok())
    assert fast().send(req(server)).status == 500
    assert len(replay.received) == 1


def test_non_idempotent_methods_are_not_retried(server, replay):
    replay.push(SimResponse.json(503, {}), ok())
    assert fast().send(req(server, method="POST")).status == 503
    assert len(replay.received) == 1


def test_retries_exhausted_return_the_last_answer(server, replay):
    replay.push(SimResponse.json(503, {"busy": True}))
    response = fast(retries=2).send(req(server))
    assert response.status == 503
    assert len(replay.received) == 3


def test_retry_after_is_honoured(server, replay):
    replay.push(SimResponse.json(429, {}, headers={"Retry-After": "1"}), ok())
    started = time.monotonic()
    assert fast(max_retry_after=5).send(req(server)).status == 200
    assert time.monotonic() - started >= 0.95


def test_unreadable_retry_after_falls_back_to_backoff(server, replay):
    replay.push(SimResponse.json(503, {}, headers={"Retry-After": "soon-ish"}), ok())
    assert fast().send(req(server)).status == 200


def test_retry_after_is_capped(server, replay):
    replay.push(SimResponse.json(503, {}, headers={"Retry-After": "120"}), ok())
    started = time.monotonic()
    assert fast(max_retry_after=0.2).send(req(server)).status == 200
    assert time.monotonic() - started < 20  # vs 120 s uncapped


def test_backoff_grows_exponentially_with_jitter():
    policy = Transport(backoff_factor=1, max_backoff=100).retry
    for _ in range(3):
        policy = policy.increment(
            method="GET", url="/", error=urllib3.exceptions.ConnectTimeoutError()
        )
    # third consecutive error: factor * 2**2 = 4 s, jitter takes up to half away
    values = {policy.get_backoff_time() for _ in range(50)}
    assert all(2.0 <= v <= 4.0 for v in values)
    assert len(values) > 1
    assert policy.max_backoff == 100  # carried across new()


def test_read_timeout_is_retried_then_unavailable(server, replay):
    replay.push(SimResponse.json(200, {}, delay=30))  # far past the timeout, never a race
    transport = fast(retries=1, read_timeout=0.2)
    with pytest.raises(ProviderUnavailable) as info:
        transport.send(req(server), provider="api")
    assert info.value.provider == "api"
    assert len(replay.received) == 2


def test_connection_refused_is_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ProviderUnavailable):
        fast(retries=1).send(Request(url=f"http://127.0.0.1:{port}/x"))


def test_dropped_connection_is_retried(server, replay):
    replay.push(SimResponse(200, drop=True), ok())
    assert fast().send(req(server)).status == 200


def test_dropped_mid_body_is_unavailable(server, replay):
    replay.push(SimResponse.json(200, {"long": "x" * 500}, truncate=20))
    with pytest.raises((ProviderUnavailable, MalformedResponse)):
        fast(retries=0).send(req(server))


def test_size_cap(server, replay):
    replay.push(SimResponse(200, b"x" * 5000))
    with pytest.raises(MalformedResponse, match="cap"):
        fast(max_body=1000).send(req(server))
    # the pool is still usable afterwards
    replay.push(ok())
    assert fast(max_body=1000).send(req(server)).status == 200


def test_non_json_body_is_a_clear_error(server, replay):
    replay.push(SimResponse(200, b"<html>oops</html>", content_type="text/html"))
    response = fast().send(req(server))
    with pytest.raises(MalformedResponse, match="not JSON") as info:
        response.json(provider="api")
    assert info.value.http_status == 200
    assert "<html>oops" in info.value.message


def test_plain_http_refused_except_loopback(server, replay):
    with pytest.raises(ValueError, match="loopback"):
        fast().send(Request(url="http://example.com/x"))
    with pytest.raises(ValueError, match="scheme"):
        fast().send(Request(url="ftp://127.0.0.1/x"))
    assert replay.received == []
    assert is_loopback_host("127.0.0.5") and is_loopback_host("::1")
    assert is_loopback_host("localhost") and not is_loopback_host("10.0.0.1")
    assert not is_loopback_host(None)


def test_tls_verification_is_on_by_default():
    assert Transport().pool.connection_pool_kw["cert_reqs"] == "CERT_REQUIRED"


def test_secrets_redacted_and_personal_data_masked_in_logs(server, replay, caplog):
    replay.push(SimResponse.json(503, {}), SimResponse.json(200, {}))
    caplog.set_level(logging.DEBUG)
    request = req(
        server,
        params={"email": "jane.doe@example.com"},
        headers={"x-api-key": SECRET},
        secret_headers=frozenset({"x-api-key"}),
        personal_params=frozenset({"email"}),
    )
    fast().send(request)
    assert replay.received[0].headers["x-api-key"] == SECRET
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("kycbridge"))
    assert "***" in ours and "j%2A%2A%2A%40e%2A%2A%2A.com" in ours
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert SECRET not in everything
    assert "urllib3" in {r.name.split(".")[0] for r in caplog.records}  # its lines are there...
    assert "jane.doe" not in everything and "jane.doe%40example.com" not in everything  # ...masked
    assert SECRET not in repr(request)


def test_errors_never_carry_secrets(caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ProviderUnavailable) as info:
        fast(retries=0).send(
            Request(
                url="http://127.0.0.1:9/x",
                headers={"x-api-key": SECRET},
                secret_headers=frozenset({"x-api-key"}),
            )
        )
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)
    assert SECRET not in caplog.text


def test_apps_can_hand_in_their_own_pool(server, replay):
    pool = urllib3.PoolManager(headers={"x-app": "mine"})
    replay.push(ok())
    transport = Transport(pool)
    assert transport.pool is pool
    assert transport.send(req(server)).status == 200
    assert replay.received[0].headers["x-app"] == "mine"


@pytest.mark.parametrize("how", ["constructor", "assigned later"])
def test_a_proxy_manager_routes_requests_itself(server, replay, how):
    """An app's ProxyManager is asked to send (absolute-form URL to the proxy), not bypassed."""
    replay.push(ok())
    proxy = urllib3.ProxyManager(server.base_url)
    if how == "constructor":
        transport = Transport(proxy)
    else:
        transport = fast()
        transport.send(req(server))  # used once with its own pool first
        transport.pool = proxy
    # Nothing listens on port 9: only a request sent through the proxy can succeed.
    request = Request(url="http://127.0.0.1:9/api/x", params={"q": "v"})
    assert transport.send(request).status == 200
    assert replay.received[-1].param("q") == "v"


def test_a_pool_manager_subclass_keeps_its_urlopen(server, replay):
    calls: list[str] = []

    class Audited(urllib3.PoolManager):
        def urlopen(self, method, url, redirect=True, **kw):  # type: ignore[no-untyped-def]
            calls.append(url)
            return super().urlopen(method, url, redirect=redirect, **kw)

    replay.push(ok())
    assert Transport(Audited()).send(req(server, params={"q": "v"})).status == 200
    assert calls == [server.url("api") + "/x?q=v"]


@pytest.mark.parametrize("pool", ["plain", "subclass"])
def test_a_url_with_its_own_query_keeps_it(server, replay, pool):
    class Subclass(urllib3.PoolManager):
        def urlopen(self, method, url, redirect=True, **kw):  # type: ignore[no-untyped-def]
            return super().urlopen(method, url, redirect=redirect, **kw)

    replay.push(ok())
    url = server.url("api") + "/x?fixed=1"
    transport = fast() if pool == "plain" else Transport(Subclass())
    assert transport.send(Request(url=url, params={"q": "v w@x"})).status == 200
    assert replay.received[0].param("fixed") == "1"
    assert replay.received[0].param("q") == "v w@x"


@given(st.dictionaries(st.text(), st.text(), max_size=4))
def test_encode_query_is_urlencode(params):
    try:
        expected = urlencode(params)
    except UnicodeEncodeError:  # lone surrogates: both refuse them
        with pytest.raises(UnicodeEncodeError):
            encode_query(params)
        return
    assert encode_query(params) == expected


def test_thread_safe_shared_pool(server, replay):
    replay.push(ok())
    transport = fast()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(10):
                assert transport.send(req(server)).status == 200
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert transport.requests_sent == 80
    assert server.connections_opened <= 32


def test_host_pool_is_reused_and_asked_for_again_once_closed(server, replay):
    """The transport keeps the manager's pool for a host; a cleared manager gives a new one."""
    replay.push(ok())
    transport = fast()
    for _ in range(3):
        assert transport.send(req(server)).status == 200
    assert server.connections_opened == 1  # one keep-alive connection, one pool
    transport.pool.clear()  # what Bridge.close() does: every pool closed
    for _ in range(2):
        assert transport.send(req(server)).status == 200
    assert server.connections_opened == 2
    clone = transport.until(time.monotonic() + 30)  # a call's copy shares the pool
    assert clone.send(req(server)).status == 200
    assert server.connections_opened == 2


def test_bad_construction():
    with pytest.raises(ValueError):
        Transport(read_timeout=0)
    with pytest.raises(ValueError):
        Transport(max_body=0)


def test_bodiless_statuses_keep_the_connection_usable(server, replay):
    replay.push(SimResponse(204, b"ignored"), ok())
    transport = fast()
    first = transport.send(req(server))
    assert (first.status, first.body) == (204, b"")
    assert transport.send(req(server)).status == 200


def test_retry_after_must_be_finite(server, replay):
    replay.push(SimResponse.json(429, {}, headers={"Retry-After": "inf"}))
    response = fast(retries=0).send(req(server))
    assert response.retry_after() is None


@pytest.mark.parametrize(
    ("header", "low", "high"),
    [("7", 7, 7), ("2.5", 2.5, 2.5), ("-3", 0, 0), (None, None, None), ("soon", None, None),
     ("Wed, 21 Oct 2015 07:28:00 GMT", 0, 0)],  # a past date: retry now
)
def test_retry_after_reads_seconds_and_dates(header, low, high):
    headers = {"retry-after": header} if header is not None else {}
    value = Response(status=429, headers=headers, body=b"").retry_after()
    assert value == low if low is None else low <= value <= high


def test_retry_after_as_an_http_date_over_http(server, replay):
    when = email.utils.format_datetime(
        datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=30),
        usegmt=True,
    )
    replay.push(SimResponse.json(429, {}, headers={"Retry-After": when}))
    response = fast(retries=0).send(req(server))
    assert 25 <= response.retry_after() <= 30


def test_an_encoded_body_is_capped_after_decoding(server, replay):
    import gzip

    bomb = gzip.compress(b"x" * 50_000)  # small on the wire, 50 kB decoded
    replay.push(SimResponse(200, bomb, headers={"Content-Encoding": "gzip"}))
    with pytest.raises(MalformedResponse, match="cap"):
        fast(max_body=10_000).send(req(server))
