"""The webhook contract: a base test class every provider with webhooks runs against itself.

Subclass :class:`WebhookContract` as ``Test...``, set its class attributes and implement
:meth:`~WebhookContract.delivery` (a correctly signed delivery of one status event)::

    from kycbridge.testing.webhooks import WebhookContract

    class TestAcmeWebhooks(WebhookContract):
        plugin = kycbridge_acme
        provider_name = "acme"
        settings = {"webhook_secret": "whsec-test-0123456789"}
        wrong_settings = {"webhook_secret": "whsec-other-0123456789"}
        statuses = [("approved", KYCState.APPROVED), ("declined", KYCState.REJECTED)]
        signature_headers = ("acme-signature",)

        def delivery(self, *, status, subject, event_id, occurred_at, now, settings, padding=0):
            body = json.dumps({...}).encode()
            return {"acme-signature": hmac_hex(settings["webhook_secret"], body)}, body

The tests post over real HTTP to a :class:`~kycbridge.webhooks.WebhookApp` served by
:func:`serve_wsgi` on loopback (one server per subclass), with the app's clock fixed at
:attr:`~WebhookContract.now`. Needs Hypothesis. See ``docs/webhooks.md``.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import itertools
import json
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from socketserver import ThreadingMixIn
from typing import Any, ClassVar
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import attrs
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from kycbridge.bridge import Bridge
from kycbridge.hookspecs import hookimpl
from kycbridge.report import StatusReport
from kycbridge.states import KYCState
from kycbridge.webhooks import WebhookApp, WebhookEvent

__all__ = ["Recorder", "WebhookContract", "post", "serve_wsgi"]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # the path may be personal
        pass


@contextlib.contextmanager
def serve_wsgi(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve a WSGI ``app`` on loopback; yield its base URL; stop on exit.

    Stdlib :mod:`wsgiref`, one thread per request; the URL is ``http://127.0.0.1:<port>``.
    """
    server = make_server(host, 0, app, server_class=_ThreadingServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def post(
    url: str, headers: Mapping[str, str], body: bytes, *, method: str = "POST"
) -> tuple[int, bytes]:
    """Send one request with exactly these headers and body; return the status and body.

    ``Content-Length`` is added unless given. 10 s timeout.
    """
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.putrequest(method, parts.path or "/", skip_accept_encoding=True)
        names = {k.lower() for k in headers}
        for key, value in headers.items():
            connection.putheader(key, value)
        if "content-length" not in names and "transfer-encoding" not in names:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders()
        with contextlib.suppress(ConnectionError):  # a server refusing early may hang up
            connection.send(body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@attrs.define(eq=False)  # hashable: pluggy 1.0 keeps plugins in a set
class Recorder:
    """An event-hook object counting what :meth:`Bridge.observe` fired."""

    observed: list[StatusReport] = attrs.field(factory=list)
    changes: list[tuple[KYCState | None, KYCState]] = attrs.field(factory=list)

    @hookimpl
    def status_observed(self, report: StatusReport) -> None:
        """Record a report."""
        self.observed.append(report)

    @hookimpl
    def state_changed(
        self, old: KYCState | None, new: KYCState, report: StatusReport, anomaly: bool
    ) -> None:
        """Record a change."""
        self.changes.append((old, new))


@attrs.define
class _Env:
    url: str
    app: WebhookApp
    events: list[WebhookEvent]
    recorder: Recorder
    stop: Any


_ENV_KEY = pytest.StashKey[_Env]()
_serial = itertools.count(1)


class WebhookContract:
    """Tests every provider's webhook support must pass. Subclass it as ``Test<Something>``.

    Required: :attr:`plugin`, :attr:`provider_name`, :attr:`settings`,
    :attr:`wrong_settings`, :attr:`statuses` and :meth:`delivery`. Override :meth:`tamper`
    and :meth:`strip_signature` when the signature is not in :attr:`signature_headers`
    (a signed token in the body), and :meth:`sign` when the provider signs the raw body.
    """

    __test__: ClassVar[bool] = False

    plugin: ClassVar[object]
    """A plugin object registering the provider and its webhook handler."""
    provider_name: ClassVar[str]
    settings: ClassVar[Mapping[str, Any]]
    """The receiver's provider settings (the webhook secret)."""
    wrong_settings: ClassVar[Mapping[str, Any]]
    """The same with another secret: deliveries signed with them must be refused."""
    statuses: ClassVar[Sequence[tuple[str, KYCState]]]
    """Status words a delivery can carry, and the state each must be reported as."""
    signature_headers: ClassVar[Sequence[str]] = ()
    """Headers carrying the signature (removed by the default :meth:`strip_signature`)."""
    now: ClassVar[float] = 1_700_000_000.0
    """The receiver's clock (Unix seconds) during the tests."""
    max_body: ClassVar[int] = 16 * 1024
    """The receiver's body cap in these tests."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__test__" not in cls.__dict__:
            cls.__test__ = True

    # -- what an author implements ----------------------------------------------------------
    def delivery(
        self,
        *,
        status: str,
        subject: str,
        event_id: str,
        occurred_at: float,
        now: float,
        settings: Mapping[str, Any],
        padding: int = 0,
    ) -> tuple[dict[str, str], bytes]:
        """Headers and body of one delivery of ``status`` for ``subject``.

        As the provider would send it at ``now``, signed with ``settings``' secret.
        ``event_id``: the event's id (ignore it where the provider derives none);
        ``occurred_at``: the event time; ``padding``: about this many extra bytes in the body
        (an unknown field).
        """
        raise NotImplementedError(f"{type(self).__name__} must implement delivery()")

    def tamper(
        self, headers: dict[str, str], body: bytes, subject: str
    ) -> tuple[dict[str, str], bytes]:
        """The delivery with its signed content changed, signature kept.

        Default: the subject's last character replaced in the body.
        """
        changed = subject[:-1] + ("X" if subject[-1] != "X" else "Y")
        if subject.encode() not in body:
            raise NotImplementedError(f"{type(self).__name__} must implement tamper()")
        return headers, body.replace(subject.encode(), changed.encode(), 1)

    def strip_signature(self, headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
        """The delivery without its signature. Default: without :attr:`signature_headers`."""
        if not self.signature_headers:
            raise NotImplementedError(f"{type(self).__name__} must implement strip_signature()")
        names = {n.lower() for n in self.signature_headers}
        return {k: v for k, v in headers.items() if k.lower() not in names}, body

    def sign(self, body: bytes, now: float, settings: Mapping[str, Any]) -> dict[str, str] | None:
        """Headers signing arbitrary ``body`` bytes.

        Or ``None`` when the signature lives in the body (then a body that is not JSON cannot be
        signed, and is sent as is).
        """
        return None

    # -- plumbing ----------------------------------------------------------------------------
    @pytest.fixture(autouse=True)
    def _kycbridge_webhook_env(self, request: pytest.FixtureRequest) -> Iterator[None]:
        holder = request.node.getparent(pytest.Class) or request.node
        env = holder.stash.get(_ENV_KEY, None)
        if env is None:
            env = holder.stash[_ENV_KEY] = self._start()
            holder.addfinalizer(env.stop)
        self._env = env
        env.events.clear()
        env.recorder.observed.clear()
        env.recorder.changes.clear()
        yield

    def _start(self) -> _Env:
        recorder = Recorder()
        bridge = Bridge(
            [self.plugin],
            settings={self.provider_name: dict(self.settings)},
            hooks=[recorder],
            env={},
        )
        events: list[WebhookEvent] = []
        app = WebhookApp(
            bridge, on_event=events.append, max_body=self.max_body, clock=lambda: self.now
        )
        stack = contextlib.ExitStack()
        url = stack.enter_context(serve_wsgi(app))
        return _Env(url, app, events, recorder, stack.close)

    @property
    def url(self) -> str:
        """Where deliveries for the provider are posted."""
        return f"{self._env.url}/webhooks/{self.provider_name}"

    def make(
        self, status: str | None = None, **overrides: Any
    ) -> tuple[dict[str, str], bytes, str]:
        """A fresh delivery (unique subject and event id): headers, body, subject."""
        n = next(_serial)
        subject = overrides.pop("subject", f"contract-subject-{n:06d}")
        options: dict[str, Any] = {
            "status": status or self.statuses[0][0],
            "subject": subject,
            "event_id": f"contract-event-{n:06d}",
            "occurred_at": self.now - 60,
            "now": self.now,
            "settings": self.settings,
            **overrides,
        }
        headers, body = self.delivery(**options)
        return dict(headers), body, subject

    def send(self, headers: Mapping[str, str], body: bytes) -> tuple[int, Any]:
        """Post to the receiver; the status and the JSON answer."""
        status, answer = post(self.url, headers, body)
        assert status < 500, (status, answer)
        return status, json.loads(answer) if answer else None

    # -- the contract ------------------------------------------------------------------------
    def test_the_handler_is_registered(self) -> None:
        """The handler is registered."""
        assert self.provider_name in self._env.app.handlers
        handler = self._env.app.handlers[self.provider_name]
        assert handler.tolerance is None or handler.tolerance > 0

    @pytest.mark.parametrize("index", range(8))
    def test_a_valid_delivery_is_accepted_with_the_right_report(self, index: int) -> None:
        """A valid delivery is accepted with the right report."""
        if index >= len(self.statuses):
            return
        word, state = self.statuses[index]
        headers, body, subject = self.make(word)
        assert self.send(headers, body) == (200, {"status": "accepted"})
        [event] = self._env.events
        assert event.provider == self.provider_name
        assert event.report is not None
        assert event.report.state is state
        assert event.report.raw_status == word
        assert event.subject == subject == event.report.subject
        assert subject not in repr(event) and subject not in repr(event.report)
        assert [r.state for r in self._env.recorder.observed] == [state]
        assert self._env.recorder.changes == [(None, state)]

    def test_a_tampered_body_is_refused(self) -> None:
        """A tampered body is refused."""
        headers, body, subject = self.make()
        headers, body = self.tamper(headers, body, subject)
        assert self.send(headers, body) == (401, {"error": "unauthorized"})
        assert not self._env.events and not self._env.recorder.observed

    def test_another_secret_is_refused(self) -> None:
        """Another secret is refused."""
        headers, body, _ = self.make(settings=self.wrong_settings)
        assert self.send(headers, body) == (401, {"error": "unauthorized"})
        assert not self._env.events

    def test_a_missing_signature_is_refused(self) -> None:
        """A missing signature is refused."""
        headers, body, _ = self.make()
        headers, body = self.strip_signature(headers, body)
        assert self.send(headers, body) == (401, {"error": "unauthorized"})
        assert not self._env.events

    @pytest.mark.parametrize("direction", [-1, 1], ids=["stale", "future"])
    def test_a_signed_time_out_of_tolerance_is_refused(self, direction: int) -> None:
        """A signed time out of tolerance is refused."""
        tolerance = self._env.app.handlers[self.provider_name].tolerance
        if tolerance is None:
            return  # the provider signs no time
        at = self.now + direction * (tolerance + 60)
        headers, body, _ = self.make(now=at, occurred_at=at)
        assert self.send(headers, body) == (401, {"error": "unauthorized"})
        within = self.now + direction * (tolerance - 1)
        headers, body, _ = self.make(now=within, occurred_at=within)
        assert self.send(headers, body)[0] == 200

    def test_a_replayed_event_is_acknowledged_and_not_applied_twice(self) -> None:
        """A replayed event is acknowledged and not applied twice."""
        headers, body, _ = self.make()
        assert self.send(headers, body) == (200, {"status": "accepted"})
        assert self.send(headers, body) == (200, {"status": "duplicate"})
        assert len(self._env.events) == 1
        assert len(self._env.recorder.observed) == 1

    def test_an_older_event_is_acknowledged_and_not_applied(self) -> None:
        """An older event is acknowledged and not applied."""
        (new_word, new_state), (old_word, _) = self.statuses[0], self.statuses[-1]
        n = next(_serial)
        subject = f"contract-order-{n:06d}"
        newer = self.make(new_word, subject=subject, occurred_at=self.now - 10)
        older = self.make(old_word, subject=subject, occurred_at=self.now - 20)
        assert self.send(newer[0], newer[1]) == (200, {"status": "accepted"})
        assert self.send(older[0], older[1]) == (200, {"status": "stale"})
        assert [r.state for r in self._env.recorder.observed] == [new_state]

    def test_an_oversized_body_is_refused(self) -> None:
        """An oversized body is refused."""
        headers, body, _ = self.make(padding=self.max_body + 1)
        assert len(body) > self.max_body
        assert self.send(headers, body) == (413, {"error": "too_large"})

    def test_a_body_that_is_not_json_is_malformed(self) -> None:
        """A body that is not json is malformed."""
        body = b"<html>not json</html>"
        headers = self.sign(body, self.now, self.settings) or {}
        assert self.send(headers, body) == (400, {"error": "malformed"})

    def test_only_post_and_only_known_providers(self) -> None:
        """Only post and only known providers."""
        headers, body, _ = self.make()
        assert post(self.url, headers, body, method="GET")[0] == 405
        assert post(self.url + "x", headers, body)[0] == 404
        assert not self._env.events

    def test_nothing_personal_or_secret_is_logged(self, caplog: pytest.LogCaptureFixture) -> None:
        """Nothing personal or secret is logged."""
        caplog.set_level(logging.DEBUG, logger="kycbridge")
        headers, body, subject = self.make()
        self.send(headers, body)
        self.send(*self.tamper(dict(headers), body, subject))
        secrets = [str(v) for v in self.settings.values() if isinstance(v, str) and len(v) > 3]
        for record in caplog.records:
            text = record.getMessage()
            assert subject not in text
            assert all(secret not in text for secret in secrets)

    def _call(self, headers: Mapping[str, str], body: bytes) -> int:
        """The app called in-process (WSGI), for property tests; the status code."""
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": f"/webhooks/{self.provider_name}",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        }
        for key, value in headers.items():
            environ["HTTP_" + key.upper().replace("-", "_")] = value
        statuses: list[str] = []
        b"".join(self._env.app(environ, lambda status, _headers: statuses.append(status)))
        return int(statuses[0].split()[0])

    @hypothesis_settings(suppress_health_check=list(HealthCheck), deadline=None)
    @given(
        body=st.one_of(
            st.binary(max_size=512),
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                lambda children: (
                    st.lists(children, max_size=4)
                    | st.dictionaries(st.text(max_size=10), children, max_size=4)
                ),
                max_leaves=10,
            ).map(lambda v: json.dumps(v).encode()),
            st.dictionaries(
                st.sampled_from(["data", "payload", "type", "id", "status"]),
                st.text(max_size=40) | st.integers() | st.none(),
            ).map(lambda v: json.dumps(v).encode()),
        ),
        headers=st.dictionaries(
            st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
            st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=80),
            max_size=4,
        ),
    )
    def test_no_body_or_header_gives_a_server_error(
        self, body: bytes, headers: dict[str, str]
    ) -> None:
        """No body or header gives a server error."""
        assert self._call(headers, body) < 500

    @hypothesis_settings(suppress_health_check=list(HealthCheck), deadline=None)
    @given(data=st.data())
    def test_mutated_deliveries_never_give_a_server_error(self, data: st.DataObject) -> None:
        """Mutated deliveries never give a server error."""
        headers, body, _ = self.make()
        if body:
            i = data.draw(st.integers(0, len(body) - 1))
            byte = data.draw(st.integers(0, 255))
            body = body[:i] + bytes([byte]) + body[i + 1 :]
        for name in data.draw(st.lists(st.sampled_from(sorted(headers) or ["x"]), max_size=2)):
            headers[name] = data.draw(st.text(st.characters(min_codepoint=32, max_codepoint=126)))
        assert self._call(headers, body) < 500
