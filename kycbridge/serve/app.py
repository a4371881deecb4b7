"""The service: :class:`ServeApp`, one WSGI application for apps in any language and for people.

Routes (below wherever it is mounted):

==========================================  ==========  ===================================
``GET /api/v1/status/<provider>?f=v``       token       a live status through the bridge
``GET /api/v1/subjects``                    token       tracked subjects, filtered, paged
``POST /api/v1/subjects``                   token       track a subject
``GET /api/v1/subjects/<id>``               token       one tracked subject
``DELETE /api/v1/subjects/<id>``            token       forget it (erase its personal data)
``GET /api/v1/subjects/<id>/history``       token       its recorded changes
``GET /api/v1/providers``                   token       providers and their health
``GET /api/v1/openapi.json``                public      the OpenAPI 3.1 description
``POST /webhooks/<provider>``               signature   :class:`~kycbridge.webhooks.WebhookApp`
``GET /``, ``GET /subjects/<id>``           session     the dashboard (HTML)
``GET|POST /login``, ``POST /logout``       -           the session cookie
``GET /healthz``                            public      database and limiter reachable
``GET /metrics``                            token       Prometheus text format
==========================================  ==========  ===================================

"token": ``Authorization: Bearer <token>`` or the session cookie ``/login`` sets. With
``token=None`` nothing asks for one, and only requests whose ``Host`` is a loopback name are
served (so a web page cannot reach the service through DNS rebinding). See ``docs/serve.md``.
"""

from __future__ import annotations

import copy
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from ..bridge import Bridge
from ..errors import InvalidQuery, KYCBridgeError, PluginError
from ..provider import NAME_PATTERN
from ..report import StatusReport, report_to_dict
from ..states import KYCState
from ..tracking.cli import parse_duration
from ..tracking.limiters import RedisLimiterFactory
from ..tracking.scheduler import fire
from ..tracking.store import Subject
from ..tracking.tracker import Tracker
from ..transport import is_loopback_host
from ..webhooks.app import DEFAULT_MAX_BODY, PATH_PREFIX, SeenStore, WebhookApp
from ..webhooks.handler import WebhookEvent
from . import dashboard
from .auth import COOKIE_NAME, Sessions, bearer, token_matches
from .errors import ApiError, error_body, http_status
from .http import Reply, Request, json_reply
from .metrics import Monitor, ObservedScheduler, observed_factory
from .openapi import OPENAPI

__all__ = ["DEFAULT_MAX_BODY_API", "MAX_PAGE", "MIN_TOKEN_LENGTH", "ServeApp"]

log = logging.getLogger("kycbridge.serve")
"""Method, route name, status and milliseconds: never a path, a query, a body or a token."""

DEFAULT_MAX_BODY_API = 64 * 1024
"""The largest API or form body read, in bytes."""
MAX_PAGE = 500
"""The largest ``limit`` of a page of subjects."""
DEFAULT_PAGE = 50
MAX_HISTORY = 1000
"""The most observations one history answer holds (the newest)."""
MIN_TOKEN_LENGTH = 16
"""The shortest token accepted."""
DASHBOARD_LIST = 20
"""Rows in each dashboard panel."""

PUBLIC, API, PAGE, LOGIN = "public", "api", "page", "login"
_ID = r"(?P<id>[^/]+)"
_ROUTES: tuple[tuple[str, re.Pattern[str], str, str], ...] = tuple(
    (method, re.compile(pattern), name, access)
    for method, pattern, name, access in (
        ("GET", r"/healthz", "healthz", PUBLIC),
        ("GET", r"/metrics", "metrics", API),
        ("GET", r"/api/v1/openapi\.json", "openapi", PUBLIC),
        ("GET", r"/api/v1/status/(?P<provider>[^/]+)", "api_status", API),
        ("GET", r"/api/v1/subjects", "api_list", API),
        ("POST", r"/api/v1/subjects", "api_add", API),
        ("GET", rf"/api/v1/subjects/{_ID}", "api_get", API),
        ("DELETE", rf"/api/v1/subjects/{_ID}", "api_forget", API),
        ("GET", rf"/api/v1/subjects/{_ID}/history", "api_history", API),
        ("GET", r"/api/v1/providers", "api_providers", API),
        ("GET", r"/", "page_index", PAGE),
        ("GET", rf"/subjects/{_ID}", "page_subject", PAGE),
        ("POST", r"/subjects", "form_add", PAGE),
        ("POST", rf"/subjects/{_ID}/forget", "form_forget", PAGE),
        ("POST", r"/logout", "form_logout", PAGE),
        ("GET", r"/login", "page_login", LOGIN),
        ("POST", r"/login", "form_login", LOGIN),
    )
)
_LIST_FIELDS = frozenset(
    {"provider", "state", "stale", "limit", "cursor", "final", "anomaly", "blocklisted"}
)
_SCALARS = (str, int, float, bool)

StartResponse = Callable[..., Any]


def _quiet(bridge: Bridge) -> Bridge:
    """A view of ``bridge`` sharing everything but firing no hooks (the tracker fires them)."""
    view = copy.copy(bridge)
    view.observe = lambda report: report  # type: ignore[method-assign]
    return view


@attrs.frozen
class _Auth:
    """Who a request is: by bearer token, by session (``sid``), or open (no token set)."""

    sid: str | None
    by_bearer: bool
    new_cookie: str | None = None
    form: Mapping[str, str] = attrs.field(factory=dict)
    """A dashboard POST's form, read (and its CSRF token checked) before the handler runs."""


class ServeApp:
    """The ``kycbridge serve`` WSGI application over a tracker and a bridge.

    ``tracker``: the subjects and their database (its scheduler is replaced by an
    :class:`~kycbridge.serve.metrics.ObservedScheduler`, the same but counted).
    ``bridge``: the providers live status calls go to (default: the tracker's); its
    limiter factory is wrapped to count rate-limit waits. ``token``: the bearer token the
    API and the dashboard require (at least :data:`MIN_TOKEN_LENGTH` characters), or
    ``None`` for none (loopback only: see the module docs). ``secure_cookies``: mark the
    session cookie ``Secure`` (``None``: when the request came over https, as
    ``wsgi.url_scheme`` says). ``max_body``: the largest API or form body;
    ``webhook_max_body``: the largest webhook delivery. ``stuck_after``: the dashboard's
    default threshold (seconds) for subjects stuck in a non-final state. ``seen``: the
    webhook receiver's :class:`~kycbridge.webhooks.SeenStore`.
    """

    def __init__(
        self,
        tracker: Tracker,
        bridge: Bridge | None = None,
        *,
        token: str | None,
        secure_cookies: bool | None = None,
        max_body: int = DEFAULT_MAX_BODY_API,
        webhook_max_body: int = DEFAULT_MAX_BODY,
        stuck_after: float = 2 * 86400.0,
        session_ttl: float = 12 * 3600.0,
        seen: SeenStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if token is not None and (len(token) < MIN_TOKEN_LENGTH or not token.isprintable()):
            raise ValueError(f"the token must be at least {MIN_TOKEN_LENGTH} printable characters")
        if max_body < 1 or not stuck_after > 0:
            raise ValueError("max_body and stuck_after must be positive")
        self.tracker = tracker
        self.bridge = bridge if bridge is not None else tracker.bridge
        self._token = token
        self.secure_cookies = secure_cookies
        self.max_body = max_body
        self.stuck_after = stuck_after
        self.clock = clock
        self.monitor = Monitor(tracker.store, clock=clock)
        for each in {id(b): b for b in (self.bridge, tracker.bridge)}.values():
            if not getattr(each.limiter_factory, "inner", None):
                each.limiter_factory = observed_factory(each.limiter_factory, self.monitor)
        if not isinstance(tracker.scheduler, ObservedScheduler):
            tracker.scheduler = ObservedScheduler.replacing(tracker.scheduler, self.monitor)
        self.webhooks = WebhookApp(
            _quiet(tracker.bridge),
            on_event=self._on_webhook,
            seen=seen,
            max_body=webhook_max_body,
        )
        self.sessions = Sessions(session_ttl, clock=clock)
        self.pages = dashboard.Pages()
        self._rng = random.Random()
        self._rng_lock = threading.Lock()

    def __repr__(self) -> str:
        auth = "token" if self._token else "no token (loopback only)"
        return f"<ServeApp {self.tracker.store.url} {auth}>"

    @property
    def requires_token(self) -> bool:
        """Whether the API and the dashboard ask for the token."""
        return self._token is not None

    # -- WSGI ------------------------------------------------------------------------------
    def __call__(
        self, environ: Mapping[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        """Answer one request (WSGI)."""
        started = time.monotonic()
        request = Request(environ)
        if request.path.startswith(PATH_PREFIX):
            return self._webhook(environ, start_response)
        route, access = "-", PUBLIC
        try:
            request.check_size()
            route, access, params = _match(request)
            reply = self._serve(request, route, access, params)
        except Exception as exc:
            reply = self._failure(exc, request, access, route)
        self.monitor.requests.labels(route, str(reply.status)).inc()
        log.info(
            "%s %s -> %d (%.0f ms)",
            request.method,
            route,
            reply.status,
            (time.monotonic() - started) * 1000,
        )
        start_response(reply.status_line, reply.wsgi_headers())
        return [b""] if request.method == "HEAD" else [reply.body]

    def _serve(self, request: Request, route: str, access: str, params: dict[str, str]) -> Reply:
        if self._token is None and not is_loopback_host(_hostname(request.host)):
            raise ApiError(
                403, "forbidden", "without a token this service answers loopback names only"
            )
        auth = _Auth(None, False)
        if access == API:
            auth = self._api_auth(request)
        elif access == PAGE:
            found = self._page_auth(request)
            if isinstance(found, Reply):
                return found
            auth = found
        elif access == LOGIN and request.method == "POST":
            self._check_origin(request)
        handler: Callable[..., Reply] = getattr(self, "_" + route)
        reply = handler(request, auth, **params)
        if auth.new_cookie is not None:
            reply.headers.append(("Set-Cookie", auth.new_cookie))
        if access in (PAGE, LOGIN):
            reply.headers.extend(dashboard.PAGE_HEADERS)
        return reply

    def _failure(self, exc: Exception, request: Request, access: str, route: str) -> Reply:
        html = access in (PAGE, LOGIN) or (
            route == "-" and not request.path.startswith(("/api/", "/metrics", "/healthz"))
        )
        headers: list[tuple[str, str]] = []
        if isinstance(exc, ApiError):
            status, body, message = exc.status, error_body(exc), exc.message
            headers = list(exc.headers)
        elif isinstance(exc, KYCBridgeError):
            status, body, message = http_status(exc), error_body(exc), str(exc)
            if status in (429, 503):
                retry = exc.retry_after if exc.retry_after else (1.0 if status == 429 else None)
                if retry is not None and math.isfinite(retry):
                    headers.append(("Retry-After", str(max(1, math.ceil(retry)))))
        else:
            log.error("%s %s: internal error %s", request.method, route, type(exc).__name__)
            status, message = 500, "internal error (a bug: the log has its type)"
            body = error_body(ApiError(500, "internal", message))
        if html:
            reply = self.pages.error(status, message)
            reply.headers.extend(headers)
            reply.headers.extend(dashboard.PAGE_HEADERS)
            return reply
        return json_reply(status, body, headers)

    # -- access ----------------------------------------------------------------------------
    def _secure(self, request: Request) -> bool:
        if self.secure_cookies is not None:
            return self.secure_cookies
        return request.scheme == "https"

    def _session(self, request: Request) -> str | None:
        return self.sessions.check(request.cookies().get(COOKIE_NAME))

    def _api_auth(self, request: Request) -> _Auth:
        given = bearer(request.header("Authorization"))
        if self._token is not None and given is not None:
            if token_matches(given, self._token):
                return _Auth(None, True)
            raise _unauthorized("the token is wrong")
        sid = self._session(request)
        if self._token is not None and sid is None:
            raise _unauthorized("send Authorization: Bearer <token>")
        if request.method not in ("GET", "HEAD"):
            # a cookie rides along with any request a browser sends: prove it is ours
            self._check_origin(request)
            if sid is not None and not self.sessions.csrf_matches(
                sid, request.header("X-CSRF-Token")
            ):
                raise ApiError(403, "csrf", "a session's API writes need its X-CSRF-Token header")
        return _Auth(sid, False)

    def _page_auth(self, request: Request) -> _Auth | Reply:
        given = bearer(request.header("Authorization"))
        if self._token is not None and given is not None:
            if not token_matches(given, self._token):
                raise _unauthorized("the token is wrong")
            form = request.form(self.max_body) if request.method == "POST" else {}
            return _Auth(None, True, form=form)
        sid = self._session(request)
        if sid is None and self._token is not None:
            return _redirect(request, "/login")
        if request.method == "POST":
            self._check_origin(request)
            form = request.form(self.max_body)
            if sid is None or not self.sessions.csrf_matches(sid, form.get("csrf")):
                raise ApiError(403, "csrf", "the form is stale or not ours: reload the page")
            return _Auth(sid, False, form=form)
        if sid is None:  # open service: a session only to carry the CSRF token
            value = self.sessions.new()
            sid = self.sessions.check(value)
            return _Auth(sid, False, self.sessions.cookie(value, secure=self._secure(request)))
        return _Auth(sid, False)

    def _check_origin(self, request: Request) -> None:
        origin = request.header("Origin")
        if origin is not None and origin.rstrip("/") != request.origin:
            raise ApiError(403, "cross_origin", "cross-origin requests are refused")
        site = request.header("Sec-Fetch-Site")
        if site is not None and site not in ("same-origin", "none"):
            raise ApiError(403, "cross_origin", "cross-origin requests are refused")

    # -- public ----------------------------------------------------------------------------
    def _healthz(self, request: Request, auth: _Auth) -> Reply:
        checks = {"store": "ok", "limiter": "ok"}
        try:
            self.tracker.store.schema_version()
        except Exception:
            checks["store"] = "unreachable"
        factory = getattr(self.bridge.limiter_factory, "inner", self.bridge.limiter_factory)
        if isinstance(factory, RedisLimiterFactory):
            try:
                factory.client.ping()
            except Exception:
                checks["limiter"] = "unreachable"
        else:
            checks["limiter"] = "in_process"
        ok = "unreachable" not in checks.values()
        return json_reply(200 if ok else 503, {"status": "ok" if ok else "failing", **checks})

    def _metrics(self, request: Request, auth: _Auth) -> Reply:
        return Reply(
            200,
            self.monitor.exposition(),
            content_type="text/plain; version=0.0.4; charset=utf-8",
        )

    def _openapi(self, request: Request, auth: _Auth) -> Reply:
        return json_reply(200, OPENAPI)

    # -- API -------------------------------------------------------------------------------
    def _api_status(self, request: Request, auth: _Auth, provider: str) -> Reply:
        name = _provider_name(provider)
        fields = request.unique_query()
        start = time.monotonic()
        try:
            report = self.bridge.status(name, **fields)
        except KYCBridgeError as exc:
            if not isinstance(exc, (InvalidQuery, PluginError)):  # nothing was sent
                self.monitor.call(name, time.monotonic() - start, exc.kind)
            raise
        self.monitor.call(name, time.monotonic() - start, None)
        return json_reply(200, report_to_dict(report))

    def _api_list(self, request: Request, auth: _Auth) -> Reply:
        fields = request.unique_query()
        unknown = sorted(set(fields) - _LIST_FIELDS)
        if unknown:
            raise ApiError(400, "bad_request", f"unknown query field {unknown[0][:40]!r}")
        limit = _int_field(fields.get("limit"), "limit", DEFAULT_PAGE, 1, MAX_PAGE)
        after = _int_field(fields.get("cursor"), "cursor", 0, 0, 10**15)
        stale = fields.get("stale")
        before = None if stale is None else self.clock() - _duration(stale, "stale")
        provider = fields.get("provider")
        if provider is not None:
            provider = _provider_name(provider)
        found = self.tracker.store.subjects(
            state=_state_field(fields.get("state")),
            provider=provider,
            observed_before=before,
            limit=limit + 1,
            after=after or None,
            final=_bool_field(fields.get("final"), "final"),
            anomaly=_bool_field(fields.get("anomaly"), "anomaly"),
            blocklisted=_bool_field(fields.get("blocklisted"), "blocklisted"),
        )
        page = found[:limit]
        more = len(found) > limit
        return json_reply(
            200,
            {
                "subjects": [s.to_dict() for s in page],
                "next_cursor": str(page[-1].id) if more and page else None,
            },
        )

    def _api_add(self, request: Request, auth: _Auth) -> Reply:
        data = request.json_body(self.max_body)
        if not isinstance(data, dict):
            raise ApiError(400, "bad_request", "the body must be a JSON object")
        extra = sorted(set(data) - {"provider", "query"})
        if extra:
            raise ApiError(400, "bad_request", f"unknown field {extra[0][:40]!r}")
        provider, query = data.get("provider"), data.get("query")
        if not isinstance(provider, str):
            raise ApiError(400, "bad_request", "provider must be a string")
        if not isinstance(query, dict):
            raise ApiError(400, "bad_request", "query must be an object")
        for key, value in query.items():
            if not isinstance(value, _SCALARS) or (isinstance(value, str) and len(value) > 4096):
                raise ApiError(
                    400,
                    "bad_request",
                    f"query field {key[:40]!r} must be a short string or a number",
                )
        subject = self.tracker.add(_provider_name(provider), **query)
        location = f"{request.script_name}/api/v1/subjects/{subject.id}"
        return json_reply(201, subject.to_dict(), [("Location", location)])

    def _api_get(self, request: Request, auth: _Auth, id: str) -> Reply:
        return json_reply(200, self._subject(id).to_dict())

    def _api_forget(self, request: Request, auth: _Auth, id: str) -> Reply:
        subject_id = _subject_id(id)
        if not self.tracker.forget(subject_id):
            raise _no_subject()
        return json_reply(200, {"forgotten": subject_id})

    def _api_history(self, request: Request, auth: _Auth, id: str) -> Reply:
        subject = self._subject(id)
        history = self.tracker.history(subject.id)
        kept = history[-MAX_HISTORY:]
        return json_reply(
            200,
            {
                "subject_id": subject.id,
                "observations": [o.to_dict() for o in kept],
                "truncated": len(kept) < len(history),
            },
        )

    def _api_providers(self, request: Request, auth: _Auth) -> Reply:
        return json_reply(200, {"providers": self.provider_rows()})

    def provider_rows(self) -> list[dict[str, Any]]:
        """Every usable provider with its health (the ``/api/v1/providers`` items)."""
        rows = []
        for info in self.bridge.providers():
            rate = info.provider.rate_limit
            rows.append(
                {
                    "name": info.name,
                    "distribution": info.distribution,
                    "version": info.version,
                    "rate_limit": None if rate is None else float(rate),
                    "webhooks": info.name in self.webhooks.handlers,
                    **self.monitor.health(info.name).to_dict(),
                }
            )
        return rows

    def _subject(self, text: str) -> Subject:
        subject = self.tracker.get(_subject_id(text))
        if subject is None:
            raise _no_subject()
        return subject

    # -- dashboard -------------------------------------------------------------------------
    def _context(self, request: Request, auth: _Auth) -> dict[str, Any]:
        return {
            "base": request.script_name,
            "csrf": self.sessions.csrf(auth.sid) if auth.sid else "",
            "logout": self.requires_token and auth.sid is not None,
        }

    def _page_index(self, request: Request, auth: _Auth) -> Reply:
        fields = request.unique_query()
        store, now = self.tracker.store, self.clock()
        state = _state_field(fields.get("state") or None)
        provider = fields.get("provider") or None
        if provider is not None:
            provider = _provider_name(provider)
        stuck_text = fields.get("stuck") or None
        stuck = self.stuck_after if stuck_text is None else _duration(stuck_text, "stuck")
        after = _int_field(fields.get("cursor") or None, "cursor", 0, 0, 10**15)
        listed = store.subjects(
            state=state, provider=provider, limit=DEFAULT_PAGE + 1, after=after or None
        )
        counts = store.counts()
        return self.pages.render(
            "index.html",
            **self._context(request, auth),
            counts=dashboard.pivot(counts),
            subjects=listed[:DEFAULT_PAGE],
            next_cursor=listed[DEFAULT_PAGE - 1].id if len(listed) > DEFAULT_PAGE else None,
            state=state.value if state else "",
            provider=provider or "",
            states=[s.value for s in KYCState],
            providers=[info.name for info in self.bridge.providers()],
            stuck=store.subjects(final=False, changed_before=now - stuck, limit=DASHBOARD_LIST),
            stuck_text=stuck_text or dashboard.duration_text(self.stuck_after),
            anomalies=store.subjects(anomaly=True, limit=DASHBOARD_LIST),
            blocklisted=store.subjects(blocklisted=True, limit=DASHBOARD_LIST),
            recent=store.recent(DASHBOARD_LIST),
            health=self.provider_rows(),
            error=None,
        )

    def _page_subject(self, request: Request, auth: _Auth, id: str) -> Reply:
        subject = self._subject(id)
        history = self.tracker.history(subject.id)[-MAX_HISTORY:]
        return self.pages.render(
            "subject.html", **self._context(request, auth), subject=subject, history=history
        )

    def _form_add(self, request: Request, auth: _Auth) -> Reply:
        form = auth.form
        provider = _provider_name(form.get("provider", ""))
        fields = dashboard.parse_fields(form.get("fields", ""))
        subject = self.tracker.add(provider, **fields)
        return _redirect(request, f"/subjects/{subject.id}")

    def _form_forget(self, request: Request, auth: _Auth, id: str) -> Reply:
        subject_id = _subject_id(id)
        if not self.tracker.forget(subject_id):
            raise _no_subject()
        return _redirect(request, f"/subjects/{subject_id}")

    def _form_logout(self, request: Request, auth: _Auth) -> Reply:
        reply = _redirect(request, "/login")
        reply.headers.append(
            ("Set-Cookie", self.sessions.cookie("", secure=self._secure(request), max_age=0))
        )
        return reply

    def _page_login(self, request: Request, auth: _Auth) -> Reply:
        if self._token is None:
            return _redirect(request, "/")
        return self.pages.render("login.html", base=request.script_name, error=None, status=200)

    def _form_login(self, request: Request, auth: _Auth) -> Reply:
        if self._token is None:
            return _redirect(request, "/")
        form = request.form(self.max_body)
        if not token_matches(form.get("token"), self._token):
            return self.pages.render(
                "login.html", base=request.script_name, error="That token is wrong.", status=401
            )
        reply = _redirect(request, "/")
        value = self.sessions.new()
        reply.headers.append(
            ("Set-Cookie", self.sessions.cookie(value, secure=self._secure(request)))
        )
        return reply

    # -- webhooks --------------------------------------------------------------------------
    def _webhook(
        self, environ: Mapping[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        name = str(environ.get("PATH_INFO") or "")[len(PATH_PREFIX) :]
        seen: list[str] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen.append(status)
            return start_response(status, headers, exc_info)

        parts = list(self.webhooks(environ, capture))
        status = seen[0].split(" ", 1)[0] if seen else "500"
        verdict = status
        if status == "200":
            verdict = dashboard.webhook_verdict(b"".join(parts))
        label = name if name in self.webhooks.handlers else "-"
        self.monitor.webhooks.labels(label, verdict).inc()
        self.monitor.requests.labels("webhook", status).inc()
        log.info("POST webhook %s -> %s (%s)", label, status, verdict)
        return parts

    def _on_webhook(self, event: WebhookEvent) -> None:
        """Record an accepted status event on its tracked subject, and move its next check."""
        report = event.report
        if report is None or event.subject is None:
            return
        subject = self.tracker.store.find(event.provider, event.subject)
        if subject is None:  # not tracked here: observed (hooks fire), nothing stored
            self.tracker.bridge.observe(report)
            return
        self.record_webhook(subject, report, event.event_id)

    def record_webhook(self, subject: Subject, report: StatusReport, event_id: str) -> None:
        """Record ``report`` from a webhook on ``subject``; reschedule it by the policy."""
        tracker, now, state = self.tracker, self.clock(), report.state
        policy = tracker.policy

        def schedule(before: Subject, changed: bool) -> float | None:
            unchanged = 0 if changed else before.unchanged_polls + 1
            with self._rng_lock:
                return policy.next_check(state, unchanged, now, self._rng)

        recorded = tracker.store.record(
            subject.id,
            report_to_dict(report),
            now=now,
            source="webhook",
            event_id=event_id,
            next_check=schedule,
        )
        fire(tracker.bridge, report, recorded)


# -- helpers ---------------------------------------------------------------------------------
def _match(request: Request) -> tuple[str, str, dict[str, str]]:
    allowed: list[str] = []
    method = "GET" if request.method == "HEAD" else request.method
    for route_method, pattern, name, access in _ROUTES:
        found = pattern.fullmatch(request.path)
        if found is None:
            continue
        if route_method == method:
            return name, access, found.groupdict()
        allowed.append(route_method)
    if allowed:
        raise ApiError(
            405,
            "method_not_allowed",
            "method not allowed here",
            headers=[("Allow", ", ".join(sorted(set(allowed))))],
        )
    raise ApiError(404, "not_found", "no such page")


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _redirect(request: Request, path: str) -> Reply:
    return Reply(
        303, b"", content_type="text/plain", headers=[("Location", request.script_name + path)]
    )


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers=[("WWW-Authenticate", "Bearer")])


def _no_subject() -> ApiError:
    return ApiError(404, "not_found", "no tracked subject with this id")


def _provider_name(text: str) -> str:
    if not NAME_PATTERN.fullmatch(text):
        raise ApiError(404, "not_installed", "no provider by that name")
    return text


def _subject_id(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 15 or int(text) <= 0:
        raise ApiError(404, "not_found", "no tracked subject with this id")
    return int(text)


def _int_field(text: str | None, name: str, default: int, low: int, high: int) -> int:
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > 16 or not low <= int(text) <= high:
        raise ApiError(400, "bad_request", f"{name} must be a whole number from {low} to {high}")
    return int(text)


def _bool_field(text: str | None, name: str) -> bool | None:
    if text is None:
        return None
    if text in ("true", "false"):
        return text == "true"
    raise ApiError(400, "bad_request", f"{name} must be true or false")


def _state_field(text: str | None) -> KYCState | None:
    if text is None:
        return None
    try:
        return KYCState(text)
    except ValueError:
        names = ", ".join(s.value for s in KYCState)
        raise ApiError(400, "bad_request", f"state must be one of {names}") from None


def _duration(text: str, name: str) -> float:
    try:
        return parse_duration(text)
    except ValueError:
        raise ApiError(
            400, "bad_request", f"{name} must be a duration such as 90s, 15m, 2h or 7d"
        ) from None
