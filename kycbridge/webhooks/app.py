"""The webhook receiver: :class:`WebhookApp`, a plain WSGI application.

``POST /webhooks/<provider>`` is verified by that provider's :class:`WebhookHandler`, parsed
into events, de-duplicated by ``(provider, event_id)``, and each new status goes through
:meth:`Bridge.observe <kycbridge.Bridge.observe>`, so ``status_observed`` and
``state_changed`` fire exactly as for a polled status. What each answer means to the sender
is in ``docs/webhooks.md``; in short:

=====  ============================================================================
200    accepted, or already seen, or older than what was applied (JSON ``status`` says)
400    not the provider's shape (not JSON, fields missing); never retried usefully
401    signature missing or wrong, signed time out of tolerance (fixed body)
404    no webhook handler at this path
405    not a POST
411    a body of unknown length (no Content-Length, the server cannot tell its end)
413    body over ``max_body``
500    the receiving app's own code failed (``on_event``, a hook); the event is not
       marked seen, so the provider's retry delivers it again
503    the receiver is not configured (no webhook secret)
=====  ============================================================================

Nothing the sender controls (body, headers, path) produces a 5xx.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from ..errors import KYCBridgeError
from ..provider import NAME_PATTERN
from .handler import (
    WebhookEvent,
    WebhookHandler,
    WebhookMalformed,
    WebhookNotConfigured,
    WebhookRejected,
)

if TYPE_CHECKING:
    from ..bridge import Bridge

__all__ = [
    "DEFAULT_MAX_BODY",
    "PATH_PREFIX",
    "DeliveryRefused",
    "MemorySeenStore",
    "SeenStore",
    "WebhookApp",
]

log = logging.getLogger("kycbridge.webhooks")
"""Provider, HTTP status and outcome only: never a body, a header, a subject or a path."""

DEFAULT_MAX_BODY = 256 * 1024
"""The largest body :class:`WebhookApp` reads, in bytes (256 KiB)."""

PATH_PREFIX = "/webhooks/"
"""Deliveries are posted to ``PATH_PREFIX + provider`` (below the app's mount point)."""

# Outcomes of one event, by precedence when a body holds several.
ACCEPTED, ACKNOWLEDGED, STALE, DUPLICATE = "accepted", "acknowledged", "stale", "duplicate"
_PRECEDENCE = (ACCEPTED, ACKNOWLEDGED, STALE, DUPLICATE)


@runtime_checkable
class SeenStore(Protocol):
    """Where :class:`WebhookApp` remembers events and the last applied time per subject.

    The default, :class:`MemorySeenStore`, is in memory and bounded; a durable store (a
    database table) implements the same three methods, each atomic.
    """

    def claim(self, provider: str, event_id: str) -> bool:
        """Record the event as seen; ``True`` when it was not seen before."""

    def release(self, provider: str, event_id: str) -> None:
        """Forget a claimed event (applying it failed: the provider's retry must apply it)."""

    def advance(self, provider: str, subject: str, occurred_at: dt.datetime) -> bool:
        """Record ``occurred_at`` as the subject's last applied event time.

        Unless an event applied before happened later: then change nothing and return ``False``.
        """


class MemorySeenStore:
    """A thread-safe, in-memory :class:`SeenStore`, least recently used entries dropped.

    At most ``max_events`` event ids and ``max_subjects`` subjects are kept, so memory is
    bounded; a replay older than that many events is applied again, which the state tracking
    of :meth:`Bridge.observe` sees as no change.
    """

    def __init__(self, max_events: int = 100_000, max_subjects: int = 100_000) -> None:
        if max_events < 1 or max_subjects < 1:
            raise ValueError("max_events and max_subjects must be positive")
        self.max_events = max_events
        self.max_subjects = max_subjects
        self._events: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._times: OrderedDict[tuple[str, str], dt.datetime] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<MemorySeenStore {len(self._events)} events, {len(self._times)} subjects>"

    def __len__(self) -> int:
        return len(self._events)

    def claim(self, provider: str, event_id: str) -> bool:
        """See :meth:`SeenStore.claim`."""
        key = (provider, event_id)
        with self._lock:
            if key in self._events:
                self._events.move_to_end(key)
                return False
            self._events[key] = None
            if len(self._events) > self.max_events:
                self._events.popitem(last=False)
            return True

    def release(self, provider: str, event_id: str) -> None:
        """See :meth:`SeenStore.release`."""
        with self._lock:
            self._events.pop((provider, event_id), None)

    def advance(self, provider: str, subject: str, occurred_at: dt.datetime) -> bool:
        """See :meth:`SeenStore.advance`."""
        key = (provider, subject)
        with self._lock:
            last = self._times.get(key)
            if last is not None and occurred_at < last:
                return False
            self._times[key] = occurred_at
            self._times.move_to_end(key)
            if len(self._times) > self.max_subjects:
                self._times.popitem(last=False)
            return True


_REASONS = {
    200: "200 OK",
    400: "400 Bad Request",
    401: "401 Unauthorized",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    411: "411 Length Required",
    413: "413 Content Too Large",
    500: "500 Internal Server Error",
    503: "503 Service Unavailable",
}
_ERRORS = {
    400: b'{"error":"malformed"}',
    401: b'{"error":"unauthorized"}',
    404: b'{"error":"not_found"}',
    405: b'{"error":"method_not_allowed"}',
    411: b'{"error":"length_required"}',
    413: b'{"error":"too_large"}',
    500: b'{"error":"internal"}',
    503: b'{"error":"not_configured"}',
}
_OK = {name: json.dumps({"status": name}).encode() for name in _PRECEDENCE}
_ANSWER_HEADERS = {
    payload: (("Content-Type", "application/json"), ("Content-Length", str(len(payload))))
    + ((("Allow", "POST"),) if payload == _ERRORS[405] else ())
    for payload in (*_OK.values(), *_ERRORS.values())
}
"""Each answer body's headers, made once."""
_MAX_LENGTH_DIGITS = 18

StartResponse = Callable[..., Any]


class DeliveryRefused(Exception):
    """A delivery answered with an HTTP error ``status`` (see the module docstring)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class WebhookApp:
    """A WSGI application receiving webhooks for every provider with a handler.

    ``bridge``: the :class:`~kycbridge.Bridge` whose providers, settings (the webhook
    secrets) and hooks are used; its installed plugins' ``register_webhooks`` hooks give the
    handlers. ``on_event``: called with each newly applied event (its report as observed,
    ``anomaly`` set), in the request's thread, before the 200 is sent. ``seen``: a
    :class:`SeenStore` (default: a new :class:`MemorySeenStore`). ``max_body``: the largest
    body read, in bytes. ``clock``: Unix seconds, for signed-time checks.
    """

    def __init__(
        self,
        bridge: Bridge,
        *,
        on_event: Callable[[WebhookEvent], None] | None = None,
        seen: SeenStore | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_body < 1:
            raise ValueError("max_body must be positive")
        self.bridge = bridge
        self.on_event = on_event
        self.seen: SeenStore = seen if seen is not None else MemorySeenStore()
        self.max_body = max_body
        self.clock = clock
        self.handlers: dict[str, WebhookHandler] = {h.name: h for h in bridge.registry.webhooks()}
        self.counts: Counter[str] = Counter()
        """Answers given, by outcome (``accepted``, ``duplicate``...) or HTTP status."""
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<WebhookApp {sorted(self.handlers)}>"

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    # -- WSGI --------------------------------------------------------------------------------
    def __call__(
        self, environ: Mapping[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        """Answer one request (WSGI)."""
        name = "-"
        try:
            name = self._route(environ)
            body = self._read_body(environ)
            status, payload = 200, _OK[self.handle(name, _headers(environ), body)]
        except DeliveryRefused as exc:
            status, payload = exc.status, _ERRORS[exc.status]
        except Exception:  # the app's own code (on_event, hooks) failed: not the sender's
            log.exception("webhook %s: the receiving app failed", name)
            status, payload = 500, _ERRORS[500]
        if status != 200:
            self._count(str(status))
        start_response(_REASONS[status], list(_ANSWER_HEADERS[payload]))
        return [payload]

    def _route(self, environ: Mapping[str, Any]) -> str:
        path = environ.get("PATH_INFO") or ""
        if not path.startswith(PATH_PREFIX):
            raise DeliveryRefused(404)
        name = path[len(PATH_PREFIX) :]
        if not NAME_PATTERN.fullmatch(name) or name not in self.handlers:
            raise DeliveryRefused(404)
        if environ.get("REQUEST_METHOD") != "POST":
            raise DeliveryRefused(405)
        return name

    def _read_body(self, environ: Mapping[str, Any]) -> bytes:
        stream = environ.get("wsgi.input")
        declared = (environ.get("CONTENT_LENGTH") or "").strip()
        if declared:
            if not declared.isdigit() or not declared.isascii():
                raise DeliveryRefused(400)
            if len(declared) > _MAX_LENGTH_DIGITS or int(declared) > self.max_body:
                raise DeliveryRefused(413)  # refused before reading a byte
            length = int(declared)
            body = _read(stream, length)
            if len(body) != length:
                raise DeliveryRefused(400)  # the sender stopped short of what it declared
            return body
        if environ.get("wsgi.input_terminated"):  # the server tells where the body ends
            body = _read(stream, self.max_body + 1)
            if len(body) > self.max_body:
                raise DeliveryRefused(413)
            return body
        if environ.get("HTTP_TRANSFER_ENCODING"):
            raise DeliveryRefused(411)
        return b""

    # -- the work, without HTTP -----------------------------------------------------------
    def handle(self, name: str, headers: Mapping[str, str], body: bytes) -> str:
        """Verify, parse and apply one delivery; return the outcome (``accepted``...).

        Raises :class:`DeliveryRefused` with the HTTP status to answer otherwise. The WSGI
        entry point calls it; call it directly to feed deliveries from another framework's
        request object (``headers`` with lowercase names, ``body`` the exact bytes).
        """
        handler = self.handlers.get(name)
        if handler is None:
            raise DeliveryRefused(404)
        if len(body) > self.max_body:
            raise DeliveryRefused(413)
        try:
            settings = self.bridge.settings(name)
        except KYCBridgeError as exc:
            log.error("webhook %s: settings are invalid (%s): answering 503", name, exc.kind)
            raise DeliveryRefused(503) from None
        try:
            handler.verify(headers, body, settings, self.clock())
        except WebhookRejected as exc:
            log.warning("webhook %s: refused (401): %s", name, exc)
            raise DeliveryRefused(401) from None
        except WebhookMalformed as exc:
            log.warning("webhook %s: malformed (400): %s", name, exc)
            raise DeliveryRefused(400) from None
        except WebhookNotConfigured as exc:
            log.error("webhook %s: not configured (503): %s", name, exc)
            raise DeliveryRefused(503) from None
        except Exception as exc:  # a verifier bug on odd input: unverified, never a 5xx
            log.warning("webhook %s: verifier failed (%s): answering 401", name, type(exc).__name__)
            raise DeliveryRefused(401) from None
        try:
            events = handler.parse(body, settings)
            if type(events) is not list:
                raise WebhookMalformed("the handler returned something other than its events")
            for e in events:
                if type(e) is not WebhookEvent or e.provider != name:
                    raise WebhookMalformed("the handler returned something other than its events")
        except WebhookNotConfigured as exc:
            log.error("webhook %s: not configured (503): %s", name, exc)
            raise DeliveryRefused(503) from None
        except WebhookMalformed as exc:
            log.warning("webhook %s: malformed (400): %s", name, exc)
            raise DeliveryRefused(400) from None
        except Exception as exc:  # any other failure to read it: the body's fault
            log.warning("webhook %s: unreadable body (%s): answering 400", name, type(exc).__name__)
            raise DeliveryRefused(400) from None
        if len(events) == 1:  # the common case, without the sets
            outcome = self._apply(events[0])
        else:
            outcomes = {self._apply(event) for event in events}
            outcome = next((o for o in _PRECEDENCE if o in outcomes), ACKNOWLEDGED)
        self._count(outcome)
        if log.isEnabledFor(logging.INFO):
            log.info("webhook %s: 200 %s (%d events)", name, outcome, len(events))
        return outcome

    def _apply(self, event: WebhookEvent) -> str:
        if not self.seen.claim(event.provider, event.event_id):
            return DUPLICATE
        try:
            report = event.report
            if (
                report is not None
                and event.subject is not None
                and event.occurred_at is not None
                and not self.seen.advance(event.provider, event.subject, event.occurred_at)
            ):
                return STALE  # acknowledged, not applied: a newer status is already known
            if report is not None:
                observed = self.bridge.observe(report)
                if observed is not report:  # the anomaly set: a new report
                    event = attrs.evolve(event, report=observed)
            if self.on_event is not None:
                self.on_event(event)
        except BaseException:
            self.seen.release(event.provider, event.event_id)
            raise
        return ACCEPTED if report is not None else ACKNOWLEDGED


_HEADER_NAMES: dict[str, str] = {}
"""``HTTP_X_SIGNATURE`` -> ``x-signature``, remembered (bounded: see :func:`_header_name`)."""


def _header_name(key: str) -> str:
    name = _HEADER_NAMES.get(key)
    if name is None:
        name = key[5:].replace("_", "-").lower()
        if len(_HEADER_NAMES) < 1024:  # senders choose names: never an unbounded cache
            _HEADER_NAMES[key] = name
    return name


def _headers(environ: Mapping[str, Any]) -> dict[str, str]:
    """The request headers with lowercase names (``HTTP_X_SIGNATURE`` is ``x-signature``)."""
    headers = {
        _header_name(key): value
        for key, value in environ.items()
        if key[:5] == "HTTP_" and type(value) is str
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        value = environ.get(key)
        if isinstance(value, str) and value:
            headers[key.replace("_", "-").lower()] = value
    return headers


def _read(stream: Any, limit: int) -> bytes:
    """Up to ``limit`` bytes of ``stream``, fewer only at its end."""
    if stream is None or limit <= 0:
        return b""
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = stream.read(min(left, 64 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
