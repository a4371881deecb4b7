"""The webhook core over real HTTP (waitress and wsgiref on loopback), with the toy provider
of ``webhooktoy.py``: HMAC over the raw body, a signed timestamp, secret rotation."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import waitress.server
from webhooktoy import (
    PREVIOUS,
    SECRET,
    TOLERANCE,
    HookToySimulator,
    body_for,
    hooktoy_plugin,
    sign,
)

import kycbridge
from kycbridge import KYCState
from kycbridge.plugins import PluginRegistry
from kycbridge.testing.webhooks import Recorder, WebhookContract, post, serve_wsgi
from kycbridge.webhooks import (
    MemorySeenStore,
    WebhookApp,
    WebhookEvent,
    WebhookHandler,
    check_timestamp,
    signature_matches,
)
from kycbridge.webhooks.push import push_simulators

NOW = 1_700_000_000.0


class TestToyWebhookContract(WebhookContract):
    plugin = hooktoy_plugin
    provider_name = "hooktoy"
    settings = {"webhook_secret": SECRET}
    wrong_settings = {"webhook_secret": "whsec-someone-else-0123"}
    statuses = [
        ("OK", KYCState.APPROVED),
        ("NO", KYCState.REJECTED),
        ("WORKING", KYCState.IN_PROGRESS),
    ]
    signature_headers = ("toy-signature",)
    now = NOW

    def delivery(self, *, status, subject, event_id, occurred_at, now, settings, padding=0):
        extra = {"pad": "x" * padding} if padding else {}
        body = body_for(event_id, subject, status, occurred_at, **extra)
        return {"toy-signature": sign(body, now, settings["webhook_secret"])}, body

    def sign(self, body, now, settings):
        return {"toy-signature": sign(body, now, settings["webhook_secret"])}


@contextlib.contextmanager
def waitress_app(app: Any, **options: Any) -> Iterator[str]:
    server = waitress.server.create_server(app, host="127.0.0.1", port=0, threads=2, **options)

    def run() -> None:
        with contextlib.suppress(OSError):  # closing the socket ends the loop's select
            server.run()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(timeout=5)


def make_app(
    settings: dict[str, Any] | None = None, **kwargs: Any
) -> tuple[WebhookApp, Recorder, list[WebhookEvent]]:
    recorder = Recorder()
    bridge = kycbridge.Bridge(
        [hooktoy_plugin],
        settings={"hooktoy": settings if settings is not None else {"webhook_secret": SECRET}},
        hooks=[recorder],
        env={},
    )
    events: list[WebhookEvent] = []
    kwargs.setdefault("on_event", events.append)
    app = WebhookApp(bridge, clock=lambda: NOW, **kwargs)
    return app, recorder, events


def signed(
    event_id: str, status: str | None = "OK", *secrets: str, at: float = NOW, subject: str = "s-1"
):
    body = body_for(event_id, subject, status, at - 1)
    return {"toy-signature": sign(body, at, *(secrets or (SECRET,)))}, body


# -- the handler protocol and the registry ----------------------------------------------------
def test_handlers_come_from_the_register_webhooks_hook():
    app, _, _ = make_app()
    assert list(app.handlers) == ["hooktoy"]
    assert isinstance(app.handlers["hooktoy"], WebhookHandler)


def test_a_broken_handler_is_a_broken_plugin_and_others_keep_working():
    class bad:
        @staticmethod
        @kycbridge.hookimpl
        def register_webhooks(register):
            register(object())

    registry = PluginRegistry([bad, hooktoy_plugin], entry_points=False, env={})
    assert [h.name for h in registry.webhooks()] == ["hooktoy"]
    assert any("webhook handler" in b.error for b in registry.broken)


# -- signatures: rotation, timestamps ----------------------------------------------------------
def test_rotation_two_signatures_in_the_header_or_two_secrets_at_the_receiver():
    both = make_app()[0]  # the receiver knows only the new secret
    headers, body = signed("evt-rot-1", "OK", PREVIOUS, SECRET)
    assert both.handle("hooktoy", headers, body) == "accepted"
    old_only = signed("evt-rot-2", "OK", PREVIOUS)
    with pytest.raises(Exception) as refused:
        both.handle("hooktoy", *old_only)
    assert refused.value.status == 401
    rotating = make_app({"webhook_secret": SECRET, "webhook_secret_previous": PREVIOUS})[0]
    assert rotating.handle("hooktoy", *old_only) == "accepted"


def test_signature_matches_is_exact_and_folds_hex_case():
    from kycbridge.webhooks import hmac_hex

    good = hmac_hex(SECRET, b"body")
    assert signature_matches(good.upper(), [SECRET], b"body")
    assert signature_matches(["nope", good], [None, SECRET], b"body")
    assert not signature_matches(good, [SECRET], b"body ")
    assert not signature_matches(good[:-1], [SECRET], b"body")
    assert not signature_matches("é" + good, [SECRET], b"body")
    assert not signature_matches(good, [], b"body")


def test_check_timestamp_both_directions():
    assert check_timestamp("1700000000", NOW + TOLERANCE, TOLERANCE) == NOW
    for bad in (NOW - TOLERANCE - 1, NOW + TOLERANCE + 1, "nan", "inf", "", "x", None, True, 1e400):
        with pytest.raises(Exception, match="timestamp"):
            check_timestamp(bad, NOW, TOLERANCE)


# -- over real HTTP with waitress ----------------------------------------------------------------
def test_accepted_events_fire_the_same_hooks_as_polled_ones():
    app, recorder, events = make_app()
    with waitress_app(app) as url:
        for n, status in enumerate(["WORKING", "OK"]):
            headers, body = signed(f"evt-h-{n}", status, at=NOW - 10 + n)
            assert post(f"{url}/webhooks/hooktoy", headers, body)[0] == 200
    assert recorder.changes == [
        (None, KYCState.IN_PROGRESS),
        (KYCState.IN_PROGRESS, KYCState.APPROVED),
    ]
    assert [e.report.state for e in events if e.report] == [KYCState.IN_PROGRESS, KYCState.APPROVED]


def test_a_non_status_event_is_acknowledged_and_moves_no_state():
    app, recorder, events = make_app()
    headers, body = signed("evt-redact", None)
    with waitress_app(app) as url:
        assert post(f"{url}/webhooks/hooktoy", headers, body) == (
            200,
            b'{"status": "acknowledged"}',
        )
    assert [e.event_type for e in events] == ["subject.redacted"]
    assert events[0].report is None and not recorder.observed


def _raw(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_size_cap_declared_length_chunked_and_waitress_limits():
    app, _, events = make_app(max_body=1024)
    headers, small = signed("evt-size-1")
    with waitress_app(app, max_request_body_size=1025) as url:
        # a declared length over the cap: 413 before the body is read (none is sent)
        head = b"POST /webhooks/hooktoy HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n"
        assert _raw(url, head).startswith(b"HTTP/1.1 413")
        # chunked under the cap: read to its end and accepted
        sig = headers["toy-signature"].encode()
        chunked = (
            b"POST /webhooks/hooktoy HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"toy-signature: "
            + sig
            + b"\r\nConnection: close\r\n\r\n"
            + f"{len(small):x}\r\n".encode()
            + small
            + b"\r\n0\r\n\r\n"
        )
        assert _raw(url, chunked).startswith(b"HTTP/1.1 200")
        # chunked over the cap: refused
        big = b"x" * 4000
        chunked_big = (
            b"POST /webhooks/hooktoy HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n" + f"{len(big):x}\r\n".encode() + big + b"\r\n0\r\n\r\n"
        )
        assert _raw(url, chunked_big).startswith(b"HTTP/1.1 413")
    assert len(events) == 1


def test_wsgi_input_without_length_is_read_at_most_cap_plus_one():
    app, _, _ = make_app(max_body=100)

    class Stream(io.BytesIO):
        asked = 0

        def read(self, n=-1):
            Stream.asked += n
            return super().read(n)

    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/webhooks/hooktoy",
        "wsgi.input": Stream(b"y" * 10_000),
        "wsgi.input_terminated": True,
    }
    statuses = []
    app(environ, lambda s, h: statuses.append(s))
    assert statuses == ["413 Content Too Large"] and Stream.asked == 101
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/webhooks/hooktoy",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(b""),
    }
    app(environ, lambda s, h: statuses.append(s))
    assert statuses[-1].startswith("411")


def test_routing_and_mounting_below_a_prefix():
    app, _, _ = make_app()
    headers, body = signed("evt-route")
    with waitress_app(app, url_prefix="/hooks") as url:
        assert post(f"{url}/hooks/webhooks/hooktoy", headers, body)[0] == 200
        assert post(f"{url}/hooks/webhooks/other", headers, body)[0] == 404
        assert post(f"{url}/hooks/webhooks/HOOKTOY", headers, body)[0] == 404
        assert post(f"{url}/hooks/webhooks/hooktoy", headers, body, method="PUT")[0] == 405


def test_401_body_says_nothing_useful_to_an_attacker(caplog):
    caplog.set_level(logging.DEBUG, logger="kycbridge")
    app, _, _ = make_app()
    headers, body = signed("evt-bad", "OK", "whsec-wrong-0123456")
    stale = signed("evt-stale", at=NOW - 3600)
    with waitress_app(app) as url:
        answers = {
            post(f"{url}/webhooks/hooktoy", h, b) for h, b in [(headers, body), stale, ({}, body)]
        }
    assert answers == {(401, b'{"error":"unauthorized"}')}
    assert all("s-1" not in r.getMessage() and SECRET not in r.getMessage() for r in caplog.records)


def test_not_configured_is_503_so_the_provider_retries():
    app, _, _ = make_app(settings={})
    headers, body = signed("evt-nc")
    with waitress_app(app) as url:
        assert post(f"{url}/webhooks/hooktoy", headers, body) == (
            503,
            b'{"error":"not_configured"}',
        )


class Exploding:
    name = "hooktoy"
    tolerance = None

    def __init__(self, where: str) -> None:
        self.where = where

    def verify(self, headers, body, settings, now):
        if self.where == "verify":
            raise RuntimeError("bug")

    def parse(self, body, settings):
        if self.where == "parse":
            raise KeyError("bug with s-1 in it")
        return "not a list"


@pytest.mark.parametrize(("where", "status"), [("verify", 401), ("parse", 400), ("result", 400)])
def test_handler_failures_on_sender_input_are_never_5xx(where, status, caplog):
    app, _, _ = make_app()
    app.handlers["hooktoy"] = Exploding(where)
    with serve_wsgi(app) as url:
        assert post(f"{url}/webhooks/hooktoy", {}, b"{}")[0] == status
    assert all("s-1" not in r.getMessage() for r in caplog.records)


def test_an_app_failure_is_500_and_the_retry_applies_the_event():
    calls = []

    def on_event(event):
        calls.append(event.event_id)
        if len(calls) == 1:
            raise RuntimeError("database down")

    app, _, _ = make_app(on_event=on_event)
    headers, body = signed("evt-retry")
    with serve_wsgi(app) as url:
        assert post(f"{url}/webhooks/hooktoy", headers, body)[0] == 500
        assert post(f"{url}/webhooks/hooktoy", headers, body) == (200, b'{"status": "accepted"}')
        assert post(f"{url}/webhooks/hooktoy", headers, body) == (200, b'{"status": "duplicate"}')
    assert calls == ["evt-retry", "evt-retry"]


def test_concurrent_duplicates_are_applied_once():
    app, recorder, events = make_app()
    headers, body = signed("evt-concurrent")
    with waitress_app(app) as url:
        threads = [
            threading.Thread(target=post, args=(f"{url}/webhooks/hooktoy", headers, body))
            for _ in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(events) == 1 and len(recorder.observed) == 1
    assert app.counts["accepted"] == 1 and app.counts["duplicate"] == 7


def test_memory_seen_store_is_bounded():
    store = MemorySeenStore(max_events=3, max_subjects=2)
    assert [store.claim("p", str(i)) for i in range(5)] == [True] * 5
    assert len(store) == 3 and store.claim("p", "0")  # forgotten: the oldest went first
    import datetime as dt

    t = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    assert store.advance("p", "a", t) and not store.advance("p", "a", t - dt.timedelta(seconds=1))
    assert store.advance("p", "a", t)  # the same time again is not older
    with pytest.raises(ValueError):
        MemorySeenStore(max_events=0)


def test_the_toy_simulator_pushes_a_stale_timestamp_and_the_rest():
    sim = HookToySimulator()
    app, _, _ = make_app(settings=dict(sim.webhook_settings))
    with serve_wsgi(app) as url:
        results = push_simulators(url, [sim], now=NOW, attempts=2, sleep=lambda s: None)["hooktoy"]
    assert [(r.label, r.status, r.outcome) for r in results if not r.ok] == []
    assert {r.expect for r in results} == {
        "accepted",
        "duplicate",
        "stale",
        "unauthorized",
        "acknowledged",
        "too_large",
    }
    stale_ts = next(r for r in results if r.label == "stale timestamp")
    assert (stale_ts.status, stale_ts.attempts) == (401, 2)


def test_http_client_chunked_sender_sanity():
    # http.client with a body of unknown length sends chunked: accepted under the cap
    app, _, events = make_app()
    headers, body = signed("evt-chunk-client")
    with waitress_app(app) as url:
        host, port = url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request(
            "POST", "/webhooks/hooktoy", body=iter([body[:10], body[10:]]), headers=headers
        )
        response = conn.getresponse()
        assert (response.status, json.loads(response.read())) == (200, {"status": "accepted"})
        conn.close()
    assert len(events) == 1
