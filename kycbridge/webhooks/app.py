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
from collections.abc import Callable, Iterable, Iterator, Mapping
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
    "EnvironHeaders",
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
_NEW = "new"


@runtime_checkable
class SeenStore(Protocol):
    """Where :class:`WebhookApp` remembers events and the last applied time per subject.

    The default, :class:`MemorySeenStore`, is in memory and bounded; a durable store (a
    database table) implements the same three methods, each atomic. A store may also offer
    ``admit(provider, event_id, subject, occurred_at) -> str`` (see
    :meth:`MemorySeenStore.admit`): ``claim`` and ``advance`` in one step, which
    :class:`WebhookApp` then uses instead.
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

    def admit(
        self,
        provider: str,
        event_id: str,
        subject: str | None,
        occurred_at: dt.datetime | None,
    ) -> str:
        """:meth:`claim`, then :meth:`advance` when ``subject`` and ``occurred_at`` are given.

        Under one lock. Returns ``"duplicate"`` (seen before: nothing changed), ``"stale"``
        (now seen, but an event applied before happened later: the time is unchanged) or
        ``"new"`` (seen, and the subject's time advanced).
        """
        key = (provider, event_id)
        events = self._events
        with self._lock:
            if key in events:
                events.move_to_end(key)
                return DUPLICATE
            events[key] = None
            if len(events) > self.max_events:
                events.popitem(last=False)
            if subject is None or occurred_at is None:
                return _NEW
            times = self._times
            key = (provider, subject)
            last = times.get(key)
            if last is not None and occurred_at < last:
                return STALE
            times[key] = occurred_at
            times.move_to_end(key)
            if len(times) > self.max_subjects:
                times.popitem(last=False)
            return _NEW

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
        self.seen = seen if seen is not None else MemorySeenStore()
        self.max_body = max_body
        self.clock = clock
        self.handlers: dict[str, WebhookHandler] = {h.name: h for h in bridge.registry.webhooks()}
        self.counts: Counter[str] = Counter()
        """Answers given, by outcome (``accepted``, ``duplicate``...) or HTTP status."""
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<WebhookApp {sorted(self.handlers)}>"

    @property
    def seen(self) -> SeenStore:
        """The :class:`SeenStore` (assignable)."""
        return self._seen

    @seen.setter
    def seen(self, store: SeenStore) -> None:
        self._seen = store
        self._admit = _admit_of(store)

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
            status, payload = 200, _OK[self.handle(name, EnvironHeaders(environ), body)]
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
        if path[:_PREFIX_LENGTH] != PATH_PREFIX:
            raise DeliveryRefused(404)
        name = path[_PREFIX_LENGTH:]
        if name not in self.handlers or not (_VALID_NAMES.get(name) or _valid_name(name)):
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
            if len(declared) > _MAX_LENGTH_DIGITS:
                raise DeliveryRefused(413)
            length = int(declared)
            if length > self.max_body:
                raise DeliveryRefused(413)  # refused before reading a byte
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
            verified = handler.verify(headers, body, settings, self.clock())
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
            if verified is None:
                events = handler.parse(body, settings)
            else:  # what verify decoded: parse takes it as its third argument
                parse: Any = handler.parse
                events = parse(body, settings, verified)
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
        report = event.report
        # the subject's time moves only with a status: an event without one is never stale
        timed = report is not None and event.subject is not None and event.occurred_at is not None
        admit = self._admit
        if admit is not None:
            admitted = admit(
                event.provider,
                event.event_id,
                event.subject if timed else None,
                event.occurred_at if timed else None,
            )
            if admitted != _NEW:
                return admitted  # duplicate, or stale: acknowledged, not applied
        else:
            if not self._seen.claim(event.provider, event.event_id):
                return DUPLICATE
            try:
                if timed and not self._seen.advance(
                    event.provider,
                    event.subject,  # type: ignore[arg-type]  # timed: not None
                    event.occurred_at,  # type: ignore[arg-type]
                ):
                    return STALE  # acknowledged, not applied: a newer status is already known
            except BaseException:
                self._seen.release(event.provider, event.event_id)
                raise
        try:
            if report is not None:
                observed = self.bridge.observe(report)
                if observed is not report:  # the anomaly set: a new report
                    event = attrs.evolve(event, report=observed)
            if self.on_event is not None:
                self.on_event(event)
        except BaseException:
            self._seen.release(event.provider, event.event_id)
            raise
        return ACCEPTED if report is not None else ACKNOWLEDGED


class EnvironHeaders(Mapping[str, str]):
    """A WSGI ``environ``'s request headers, read-only, with lowercase names.

    ``headers.get("x-signature")`` reads ``environ["HTTP_X_SIGNATURE"]``: nothing is copied
    per request. ``content-type`` and ``content-length`` are ``CONTENT_TYPE`` and
    ``CONTENT_LENGTH`` (when not empty). Names are lowercase and hyphenated, as in
    :meth:`WebhookApp.handle`; any other spelling is not found.
    """

    __slots__ = ("_environ",)

    def __init__(self, environ: Mapping[str, Any]) -> None:
        self._environ = environ

    def __repr__(self) -> str:
        return f"<EnvironHeaders {sorted(self)}>"  # names only: values may be secrets

    def get(self, name: str, default: Any = None) -> Any:
        """The header's value, or ``default``."""
        key = _ENVIRON_KEYS.get(name)
        if key is None:
            key = _environ_key(name)
            if key is None:
                return default
        value = self._environ.get(key)
        if type(value) is not str or (not value and key[:5] != "HTTP_"):
            return default
        return value

    def __getitem__(self, name: str) -> str:
        value = self.get(name, _MISSING)
        if value is _MISSING:
            raise KeyError(name)
        result: str = value
        return result

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name, _MISSING) is not _MISSING

    def __iter__(self) -> Iterator[str]:
        return iter(_headers(self._environ))

    def __len__(self) -> int:
        return len(_headers(self._environ))


_MISSING: Any = object()
_PREFIX_LENGTH = len(PATH_PREFIX)
_ENVIRON_KEYS: dict[str, str] = {
    "content-type": "CONTENT_TYPE",
    "content-length": "CONTENT_LENGTH",
}
"""``x-signature`` -> ``HTTP_X_SIGNATURE``, remembered (bounded: see :func:`_environ_key`)."""


def _environ_key(name: str) -> str | None:
    """The environ key of a header name; ``None`` for a name no header has here.

    Header names here are lowercase, hyphenated (no ``_``), ASCII.
    """
    if not name or "_" in name or not name.isascii() or name != name.lower():
        return None
    key = "HTTP_" + name.upper().replace("-", "_")
    if len(_ENVIRON_KEYS) < 1024:  # handlers ask constant names; still never unbounded
        _ENVIRON_KEYS[name] = key
    return key


_VALID_NAMES: dict[str, bool] = {}
"""Handler names checked against :data:`~kycbridge.provider.NAME_PATTERN` (registered names
only: bounded by the handlers)."""


def _valid_name(name: str) -> bool:
    valid = _VALID_NAMES.get(name)
    if valid is None:
        valid = _VALID_NAMES[name] = NAME_PATTERN.fullmatch(name) is not None
    return valid


def _admit_of(store: SeenStore) -> Callable[[str, str, str | None, dt.datetime | None], str] | None:
    """The store's one-step ``admit``, unless it lacks one or it would bypass overrides.

    A :class:`MemorySeenStore` subclass that refines ``claim`` or ``advance`` but inherits
    ``admit`` is driven through the two, so that its refinements run.
    """
    admit = getattr(store, "admit", None)
    if admit is None or not callable(admit):
        return None
    cls: Any = type(store)
    if isinstance(store, MemorySeenStore) and cls.admit is MemorySeenStore.admit and (
        cls.claim is not MemorySeenStore.claim or cls.advance is not MemorySeenStore.advance
    ):
        return None
    result: Callable[[str, str, str | None, dt.datetime | None], str] = admit
    return result


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


_CHUNK = 64 * 1024
"""The most bytes asked of ``wsgi.input`` in one read."""


def _read(stream: Any, limit: int) -> bytes:
    """Up to ``limit`` bytes of ``stream``, fewer only at its end."""
    if stream is None or limit <= 0:
        return b""
    first: bytes = stream.read(min(limit, _CHUNK))
    if not first or len(first) >= limit:
        return first  # the common case: all of it in one read
    chunks: list[bytes] = [first]
    left = limit - len(first)
    while left > 0:
        chunk = stream.read(min(left, _CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
