"""The receive path's shortcuts do what the long way did (issue #13).

A ``verify`` that returns what it decoded hands it to ``parse`` (decoded once) while
two-argument handlers keep working; :meth:`MemorySeenStore.admit` is ``claim`` then
``advance`` under one lock (and a store without it, or a subclass refining ``claim``, is
driven the long way); headers are read from the environ without a copy; the webhook strict
JSON accepts and refuses exactly what :meth:`Response.json` does.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from webhooktoy import SECRET, HookToyWebhooks, body_for, hooktoy_plugin, sign

import kycbridge
from kycbridge.errors import MalformedResponse
from kycbridge.transport import Response
from kycbridge.webhooks import (
    EnvironHeaders,
    MemorySeenStore,
    WebhookApp,
    WebhookEvent,
    WebhookMalformed,
    derived_event_id,
    iso_time,
    parse_verified,
    strict_json,
)

NOW = 1_700_000_000.0
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def _app(handler: Any = None, **kwargs: Any) -> tuple[WebhookApp, list[WebhookEvent]]:
    bridge = kycbridge.Bridge(
        [hooktoy_plugin], settings={"hooktoy": {"webhook_secret": SECRET}}, env={}
    )
    events: list[WebhookEvent] = []
    app = WebhookApp(bridge, clock=lambda: NOW, on_event=events.append, **kwargs)
    if handler is not None:
        app.handlers["hooktoy"] = handler
    return app, events


def _delivery(event_id: str, status: str = "OK", subject: str = "s-1", at: float = NOW - 1):
    body = body_for(event_id, subject, status, at)
    return {"toy-signature": sign(body, NOW, SECRET)}, body


class DecodingOnce(HookToyWebhooks):
    """The toy handler, its ``verify`` returning the body it decoded."""

    def __init__(self) -> None:
        self.handed: list[object] = []

    def verify(self, headers: Any, body: bytes, settings: Any, now: float) -> object:
        super().verify(headers, body, settings, now)
        return {"decoded": json.loads(body)}

    def parse(self, body: bytes, settings: Any, verified: object = None) -> list[WebhookEvent]:
        self.handed.append(verified)
        return super().parse(body, settings)


def test_what_verify_returns_is_handed_to_parse_and_old_handlers_keep_working():
    handler = DecodingOnce()
    app, _ = _app(handler)
    headers, body = _delivery("evt_1")
    assert app.handle("hooktoy", headers, body) == "accepted"
    assert handler.handed == [{"decoded": json.loads(body)}]
    # a direct call (the CLI, a test) without it: parse decodes itself
    assert parse_verified(handler, body, None, None)[0].event_id == "evt_1"
    assert handler.handed[-1] is None

    old, old_events = _app()  # the toy's own handler: verify returns None, parse takes two
    assert old.handle("hooktoy", headers, body) == "accepted"
    assert [e.event_id for e in old_events] == ["evt_1"]


def test_admit_is_claim_then_advance():
    store = MemorySeenStore()
    assert store.admit("p", "e1", "s", T0) == "new"
    assert store.admit("p", "e1", "s", T0) == "duplicate"
    assert store.admit("p", "e0", "s", T0 - dt.timedelta(seconds=1)) == "stale"
    assert store.admit("p", "e0", "s", T0) == "duplicate"  # a stale event stays seen
    assert store.admit("p", "e2", None, None) == "new"  # no time: never stale
    assert store.admit("p", "e3", "s", T0 + dt.timedelta(seconds=1)) == "new"
    assert not store.advance("p", "s", T0)  # the time moved with e3
    store.release("p", "e3")
    assert store.claim("p", "e3")


class ClaimCounting(MemorySeenStore):
    def __init__(self) -> None:
        super().__init__()
        self.claims = 0

    def claim(self, provider: str, event_id: str) -> bool:
        self.claims += 1
        return super().claim(provider, event_id)


class Plain:
    """A store with only the protocol's three methods."""

    def __init__(self) -> None:
        self.inner = MemorySeenStore()

    def claim(self, provider: str, event_id: str) -> bool:
        return self.inner.claim(provider, event_id)

    def release(self, provider: str, event_id: str) -> None:
        self.inner.release(provider, event_id)

    def advance(self, provider: str, subject: str, occurred_at: dt.datetime) -> bool:
        return self.inner.advance(provider, subject, occurred_at)


@pytest.mark.parametrize("store", [MemorySeenStore, ClaimCounting, Plain])
def test_every_store_gives_the_same_outcomes(store):
    seen = store()
    app, events = _app(seen=seen)
    outcomes = [
        app.handle("hooktoy", *_delivery("evt_2", "OK", at=NOW - 1)),
        app.handle("hooktoy", *_delivery("evt_2", "OK", at=NOW - 1)),
        app.handle("hooktoy", *_delivery("evt_1", "NO", at=NOW - 5)),  # older than evt_2
        app.handle("hooktoy", *_delivery("evt_3", "NO", at=NOW)),
    ]
    assert outcomes == ["accepted", "duplicate", "stale", "accepted"]
    assert [e.event_id for e in events] == ["evt_2", "evt_3"]
    if isinstance(seen, ClaimCounting):  # its refinement ran: not bypassed by admit
        assert seen.claims == 4


def test_a_failing_on_event_releases_the_event_for_the_retry():
    calls: list[str] = []

    def failing(event: WebhookEvent) -> None:
        calls.append(event.event_id)
        if len(calls) == 1:
            raise RuntimeError("the app's own failure")

    app, _ = _app()
    app.on_event = failing
    headers, body = _delivery("evt_9")
    with pytest.raises(RuntimeError):
        app.handle("hooktoy", headers, body)
    assert app.handle("hooktoy", headers, body) == "accepted"  # the retry applies it
    assert calls == ["evt_9", "evt_9"]


def test_the_seen_store_can_be_replaced_on_a_running_app():
    app, _ = _app()
    headers, body = _delivery("evt_4")
    assert app.handle("hooktoy", headers, body) == "accepted"
    app.seen = Plain()
    assert app.handle("hooktoy", headers, body) == "accepted"  # the new store never saw it
    assert app.handle("hooktoy", headers, body) == "duplicate"


def test_environ_headers_read_like_a_lowercase_dict():
    environ = {
        "HTTP_X_SIGNATURE": "abc",
        "HTTP_X_EMPTY": "",
        "HTTP_X_NOT_TEXT": b"bytes",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": "",
        "PATH_INFO": "/webhooks/x",
    }
    headers = EnvironHeaders(environ)
    assert headers.get("x-signature") == "abc"
    assert headers["x-empty"] == ""
    assert headers.get("x-not-text") is None
    assert headers.get("content-type") == "application/json"
    assert "content-length" not in headers  # empty: absent, as servers mean it
    for other in ("X-Signature", "x_signature", "HTTP_X_SIGNATURE", "", "path-info"):
        assert headers.get(other, "-") == "-"
    with pytest.raises(KeyError):
        headers["x-missing"]
    assert dict(headers) == {"x-signature": "abc", "x-empty": "", "content-type":
                             "application/json"}
    assert "abc" not in repr(headers)


def test_wsgi_delivery_through_the_environ_view():
    app, events = _app()
    headers, body = _delivery("evt_5")
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/webhooks/hooktoy",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "HTTP_TOY_SIGNATURE": headers["toy-signature"],
    }
    answers: list[str] = []
    assert app(environ, lambda status, _: answers.append(status)) == [b'{"status": "accepted"}']
    assert answers == ["200 OK"] and [e.event_id for e in events] == ["evt_5"]


def _reference(body: bytes) -> tuple[bool, Any]:
    try:
        return True, Response(200, {}, body).json()
    except MalformedResponse:
        return False, None


def _ours(body: bytes) -> tuple[bool, Any]:
    try:
        return True, strict_json(body)
    except WebhookMalformed:
        return False, None


_PIECES = st.sampled_from(
    ['{"a":', '"a"', '"b"', "1", "-", "1" * 99, "1" * 100, "1" * 150, ".5", "e400", "e5",
     "1e999", "NaN", "[", "]", "{", "}", ",", ":", '"\\u00e9"', " ", "true", "null", '"x":1',
     '{"k":1,"k":2}', "[" * 70, "]" * 70, '"[[[["']
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join))
def test_strict_json_refuses_and_accepts_exactly_what_response_json_does(text):
    body = text.encode()
    assert _ours(body) == _reference(body)


@settings(max_examples=200, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=30,
))
def test_strict_json_round_trips_like_response_json(value):
    body = json.dumps(value).encode()
    assert _ours(body) == _reference(body)


def test_long_numbers_and_deep_nesting_are_still_refused():
    for body in (b"[" + b"1" * 101 + b"]", b"-" + b"1" * 100, b"[1e999]", b"[" * 65 + b"]" * 65,
                 b'{"a":1,"a":2}', b"[NaN]", b"\xef\xbb\xbf{}", b"\xff"):
        with pytest.raises(WebhookMalformed):
            strict_json(body)
    assert strict_json(b"[" + b"1" * 100 + b"]") == [int("1" * 100)]
    assert strict_json(b"[" * 64 + b"]" * 64) is not None


def _iso_time_long_way(value: object) -> dt.datetime | None:
    """:func:`iso_time` as it was written before its shortcuts (replace, then astimezone)."""
    if not isinstance(value, str) or not 0 < len(value) <= 40:
        return None
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return iso_time(value)  # the fraction-trimming fallback is shared, not a shortcut
    try:
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        return when.astimezone(dt.timezone.utc)
    except (ValueError, OverflowError):
        return None


_ZONES = st.sampled_from(["", "Z", "z", "+00:00", "-00:00", "+05:30", "-08:00", "+14:00"])


@settings(max_examples=400, deadline=None)
@given(
    st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)),
    st.sampled_from(["T", " "]),
    st.sampled_from(["seconds", "milliseconds", "microseconds", "minutes"]),
    _ZONES,
    st.sampled_from(["", " "]),
)
def test_iso_time_gives_what_replace_then_astimezone_gave(when, sep, spec, zone, pad):
    text = pad + when.isoformat(sep=sep, timespec=spec) + zone + pad
    got = iso_time(text)
    assert got == _iso_time_long_way(text)
    assert got is not None and got.tzinfo is dt.timezone.utc
    assert got.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize("text", ["2024-01-01", "9999-12-31T23:59:59", "0001-01-01T00:00:00",
                                  "2024-01-01T00:00:00+00:00", "not a time", "", "2024-13-01"])
def test_iso_time_edges_agree_with_the_long_way(text):
    assert iso_time(text) == _iso_time_long_way(text)


class _Text(str):
    """A text that is not exactly ``str`` (joined by its text, as ``str()`` gives it)."""


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(), st.integers(), st.floats(allow_nan=False),
                          st.booleans(), st.text().map(_Text), st.binary()), max_size=6))
def test_derived_event_id_joins_parts_as_before(parts):
    """All texts take the one-join path, anything else the long way: the same id."""
    import hashlib

    text = "\x1f".join("" if p is None else p if type(p) is str else str(p) for p in parts)
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    assert derived_event_id("kind", *parts) == f"kind:{digest}"


class _Trickle(io.RawIOBase):
    """A ``wsgi.input`` giving at most ``step`` bytes per read (0: nothing at all)."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step, self.sizes = data, step, []

    def read(self, size: int = -1) -> bytes:
        self.sizes.append(size)
        taken, self.data = self.data[: min(size, self.step)], self.data[min(size, self.step):]
        return taken


@pytest.mark.parametrize("step", [0, 1, 7, 10_000, 70_000])
@pytest.mark.parametrize("extra", [0, -3, 5])
def test_body_read_by_declared_length_as_the_long_way(step, extra):
    """A body read by its declared length: the reads ``_read`` makes, 400 when it stops short."""
    from kycbridge.webhooks.app import _read

    for size in (1, 5_000, 64 * 1024, 64 * 1024 + 1, 100_000):
        body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
        sent = body[: size + extra] if extra < 0 else body + b"y" * extra
        ours, theirs = _Trickle(sent, step or size + extra), _Trickle(sent, step or size + extra)
        if step == 0:
            ours.data = theirs.data = b""
        environ = {"CONTENT_LENGTH": str(size), "wsgi.input": ours}
        app, _ = _app()
        try:
            got: Any = app._read_body(environ)
        except Exception as exc:  # compared with the long way's outcome
            got = type(exc), getattr(exc, "status", None)
        expected: Any = _read(theirs, size)
        if len(expected) != size:
            expected = kycbridge.webhooks.DeliveryRefused, 400
        assert got == expected
        assert ours.sizes == theirs.sizes  # the same reads, of the same sizes
