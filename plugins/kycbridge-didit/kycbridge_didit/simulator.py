"""A Didit look-alike for the sandbox: :class:`DiditSimulator`.

It answers ``GET /{v3|v2}/session/{session_id}/decision/`` as Didit's documents say:

* routing first, like Didit's web framework: the path must end with ``/decision/``. Without the
  trailing slash, or on any other path, the answer is a 404 HTML page (not Didit's JSON
  error body), so the client reports a wrong URL ("check base_url"), never "no such session";
* then ``x-api-key``, compared exactly with :data:`SANDBOX_API_KEY` (401 ``{"detail": ...}``
  when missing or wrong; :data:`REVOKED_API_KEY` gives 401 with the ``{"error": ...}`` shape);
* then the rate limit: 100 requests per sliding 60 s window per key, every answer carrying
  ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (epoch seconds),
  and a 429 adding ``Retry-After``;
* then the session: scripted ids (:data:`SCENARIOS`, the sandbox's test cards) move one step
  per request; any other id answers 404 ``{"detail": "Not found."}``.

Answers come in the v3 shape (per-feature arrays) or the v2 one (one object per feature), by
the version in the path, with the personal fields a real decision has (``vendor_data``,
``contact_details``, names in the feature results) so that tests can check none is kept.
Where the documents are silent the simulator guesses, and says so: the error texts and the
429 body (``{"detail": "Request was throttled. ..."}``).
"""

from __future__ import annotations

import collections
import functools
import json
import math
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from kycbridge.sandbox import Scenario, SimRequest, SimResponse

__all__ = [
    "FAULTS",
    "NAMES",
    "OTHER_APP_API_KEY",
    "RATE_LIMIT_PER_MINUTE",
    "REVOKED_API_KEY",
    "SANDBOX_API_KEY",
    "SCENARIOS",
    "DiditSimulator",
    "Step",
    "session_id",
]

SANDBOX_WEBHOOK_SECRET = "sandbox-didit-webhook-secret"  # noqa: S105 - a sandbox value
"""The secret the simulator's webhook deliveries are signed with."""

SANDBOX_API_KEY = "sandbox-didit-key"
"""The API key the simulator accepts."""

REVOKED_API_KEY = "sandbox-didit-revoked-key"
"""A key the simulator knows as revoked: 401 with ``{"error": "..."}``."""

OTHER_APP_API_KEY = "sandbox-didit-other-app-key"
"""A valid key of another application: 403 for every session of this one."""

RATE_LIMIT_PER_MINUTE = 100
"""Decision requests allowed per key in any 60 s window."""

WINDOW = 60.0

BIG_BODY_BYTES = 10 * 1024 * 1024
"""Size of ``fault-big-body``'s answer: ten times the transport's default cap."""

_ROUTE = re.compile(r"/(v2|v3)/session/([^/]+)/decision(/?)")


def session_id(number: int) -> str:
    """The id of scripted session ``number``: ``d1d17000-0000-4000-8000-<number, 12 digits>``."""
    return f"d1d17000-0000-4000-8000-{number:012d}"


# -- answers -------------------------------------------------------------------------------


def detail(status: int, text: str, **kwargs: Any) -> SimResponse:
    """An error in Didit's usual shape, ``{"detail": "..."}``."""
    return SimResponse.json(status, {"detail": text}, **kwargs)


_HTML_404 = (
    b"<!doctype html><html lang=\"en\"><head><title>Not Found</title></head><body>"
    b"<h1>Not Found</h1><p>The requested resource was not found on this server.</p>"
    b"</body></html>"
)
_GATEWAY_502 = (
    b"<html><head><title>502 Bad Gateway</title></head><body>"
    b"<center><h1>502 Bad Gateway</h1></center><hr><center>cloudflare</center></body></html>"
)
_LOGIN_PAGE = (
    b"<!doctype html><html><head><title>Didit Business Console - Sign in</title></head>"
    b"<body><form action='/login'></form></body></html>"
)

_PERSON = {
    "first_name": "Jane",
    "last_name": "Sandbox",
    "date_of_birth": "1990-01-01",
    "document_number": "X1234567",
    "nationality": "ESP",
}

_V2_KEYS = {
    "id_verification": "id_verification",
    "liveness": "liveness",
    "face_match": "face_match",
    "aml": "aml",
}
_V3_KEYS = {
    "id_verification": "id_verifications",
    "liveness": "liveness_checks",
    "face_match": "face_matches",
    "aml": "aml_screenings",
}
FEATURES = ("ID_VERIFICATION", "LIVENESS", "FACE_MATCH", "AML")
"""The sandbox workflow's features, as ``features`` lists them."""


@attrs.frozen
class Step:
    """One scripted answer: a 200 decision with ``status``, or, with ``fault``, a fault."""

    status: str | None = None
    """The session's ``status``; ``None`` with a ``fault``."""
    checks: tuple[tuple[str, str], ...] = ()
    """Features that ran and their statuses (``("liveness", "Approved")``)."""
    fault: Callable[[str, str], SimResponse] | None = None
    """Answer this instead (given the session id and the API version)."""
    label: str | None = None
    """How the step shows in ``Scenario.played`` (default: ``status``)."""

    def answer(self, sid: str, version: str) -> SimResponse:
        """The simulated answer for session ``sid`` in API ``version``."""
        if self.fault is not None:
            return self.fault(sid, version)
        return SimResponse.json(200, decision(sid, version, self))


def decision(sid: str, version: str, step: Step) -> dict[str, Any]:
    """A decision body for ``step``, shaped like API ``version``'s."""
    number = int(sid[-12:]) if sid[-12:].isdigit() else 1
    body: dict[str, Any] = {
        "session_id": sid,
        "session_number": 1000 + number,
        "session_url": f"https://verify.didit.me/session/{sid.replace('-', '')[:20]}",
        "status": step.status,
        "workflow_id": "d1d17000-aaaa-4000-8000-00000000f10e",
        "features": list(FEATURES),
        "vendor_data": f"partner-user-{number}",
        "metadata": {"user_type": "retail", "account": f"acct-{number}"},
        "expected_details": {"first_name": "Jane", "last_name": "Sandbox"},
        "contact_details": {"email": "jane.sandbox@example.com", "phone": "+34600000000"},
        "created_at": "2025-01-15T10:00:00.000000Z",
    }
    ran = dict(step.checks)
    if version == "v2":
        for feature, key in _V2_KEYS.items():
            status = ran.get(feature)
            body[key] = None if status is None else {"status": status, **_PERSON}
        body["reviews"] = []
    else:
        for feature, key in _V3_KEYS.items():
            status = ran.get(feature)
            body[key] = None if status is None else [{"status": status, **_PERSON}]
    return body


def _fault(builder: Callable[[str, str], SimResponse], label: str) -> Step:
    return Step(fault=builder, label=label)


def _json_bytes(payload: Any) -> bytes:
    return json.dumps(payload).encode("utf-8")


IR_CHECKS = (("id_verification", "Approved"), ("liveness", "In Review"))
OK_CHECKS = (("id_verification", "Approved"), ("liveness", "Approved"),
             ("face_match", "Approved"), ("aml", "Approved"))
NO_CHECKS = (("id_verification", "Declined"), ("liveness", "Approved"),
             ("face_match", "Declined"), ("aml", "Approved"))

NS = Step("Not Started")
IP = Step("In Progress", (("id_verification", "In Progress"),))
IR = Step("In Review", IR_CHECKS)
OK = Step("Approved", OK_CHECKS)
NO = Step("Declined", NO_CHECKS)
AU = Step("Awaiting User")
RS = Step("Resubmitted", (("id_verification", "Resubmitted"), ("liveness", "Approved")))


@functools.lru_cache(maxsize=1)
def _big_body() -> bytes:
    body = decision(session_id(99), "v3", IR)
    head = _json_bytes({**body, "padding": ""})[:-2]  # drop the closing `"}`
    return head + b"x" * (BIG_BODY_BYTES - len(head) - 2) + b'"}'


def _truncated_json(sid: str, version: str) -> SimResponse:
    full = _json_bytes(decision(sid, version, IR))
    return SimResponse(200, full[: len(full) // 2])


def _extra_fields(sid: str, version: str) -> SimResponse:
    body = decision(sid, version, IR)
    body.update({"risk_score": 0.12, "region": "eu", "reviews": [{"user": "x", "note": "y"}]})
    checks = body.get("id_verifications") or []
    for check in checks:
        check.update({"warnings": [{"risk": "LOW_QUALITY"}], "score": 88.5})
    return SimResponse.json(200, body)


def _only(**fields: Any) -> Callable[[str, str], SimResponse]:
    return lambda sid, version: SimResponse.json(200, {"session_id": sid, **fields})


_NULLS = {
    "session_number": None, "session_url": None, "workflow_id": None, "features": None,
    "vendor_data": None, "metadata": None, "expected_details": None, "contact_details": None,
    "id_verifications": None, "liveness_checks": None, "face_matches": None,
    "aml_screenings": None,
}

_WRONG_TYPES = {
    "session_number": "1001",
    "status": ["In Review"],
    "features": "ID_VERIFICATION",
    "id_verifications": {"status": "Approved"},
}

F500 = _fault(lambda sid, v: detail(500, "A server error occurred."), "HTTP 500")
F502 = _fault(lambda sid, v: SimResponse(502, _GATEWAY_502, content_type="text/html"),
              "HTTP 502 (HTML)")
F503 = _fault(
    lambda sid, v: detail(503, "Service temporarily unavailable.", headers={"Retry-After": "1"}),
    "HTTP 503",
)
F504 = _fault(lambda sid, v: SimResponse(504, b"", content_type=""), "HTTP 504 (empty)")
F429 = _fault(
    lambda sid, v: detail(
        429, "Request was throttled. Expected available in 1 second.",
        headers={"Retry-After": "1", "X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0",
                 "X-RateLimit-Reset": str(int(time.time()) + 1)},
    ),
    "HTTP 429",
)

FAULTS: Mapping[str, tuple[Step, tuple[str, ...], str, str]] = {
    # name: (the step, played, outcome, description)
    "fault-500": (F500, (), "unavailable", "500 with Didit's body, every time"),
    "fault-502": (F502, (), "unavailable", "502 with a gateway's HTML page"),
    "fault-503": (F503, (), "unavailable", "503 with Retry-After: 1"),
    "fault-504": (F504, (), "unavailable", "504 with an empty body"),
    "fault-429": (F429, (), "rate_limited", "429 with Retry-After: 1 and X-RateLimit-* headers"),
    "fault-slow": (
        _fault(lambda sid, v: SimResponse.json(200, decision(sid, v, IR), delay=2.0),
               "In Review (after 2 s)"),
        ("In Review (after 2 s)",), "in_review",
        "answers after 2 s (a read timeout under 2 s makes it unavailable)",
    ),
    "fault-invalid-json": (
        _fault(lambda sid, v: SimResponse(200, b'{"session_id": "x", "status": In Review}'),
               "(invalid JSON)"),
        (), "malformed_response", "200 whose body is not JSON",
    ),
    "fault-truncated-json": (_fault(_truncated_json, "(truncated JSON)"), (),
                             "malformed_response", "200 with half a JSON document"),
    "fault-html": (
        _fault(lambda sid, v: SimResponse(200, _LOGIN_PAGE, content_type="text/html"),
               "(HTML)"),
        (), "malformed_response", "200 with an HTML sign-in page",
    ),
    "fault-wrong-content-type": (
        _fault(lambda sid, v: SimResponse(200, _json_bytes(decision(sid, v, IR)),
                                          content_type="text/plain"), "(text/plain)"),
        (), "malformed_response", "200 with a JSON decision served as text/plain",
    ),
    "fault-empty-body": (_fault(lambda sid, v: SimResponse(200, b""), "(empty)"), (),
                         "malformed_response", "200 with an empty body"),
    "fault-big-body": (_fault(lambda sid, v: SimResponse(200, _big_body()), "(10 MB)"), (),
                       "malformed_response", "200 with a 10 MB body (over the size cap)"),
    "fault-drop": (_fault(lambda sid, v: SimResponse(200, drop=True), "(dropped)"), (),
                   "unavailable", "the connection is closed without an answer"),
    "fault-drop-mid-body": (
        _fault(lambda sid, v: SimResponse.json(200, decision(sid, v, IR), truncate=40),
               "(dropped mid-body)"),
        (), "unavailable", "the connection is closed after 40 bytes",
    ),
    "fault-missing-fields": (
        _fault(_only(status="In Progress"), "In Progress (only session_id and status)"),
        ("In Progress (only session_id and status)",), "in_progress",
        "only session_id and status: still a report",
    ),
    "fault-extra-fields": (
        _fault(_extra_fields, "In Review (extra fields)"), ("In Review (extra fields)",),
        "in_review", "undocumented fields everywhere: ignored, still a report",
    ),
    "fault-nulls": (
        _fault(_only(status="In Review", **_NULLS), "In Review (nulls)"),
        ("In Review (nulls)",), "in_review", "every field null but status: nulls mean absent",
    ),
    "fault-wrong-types": (
        _fault(_only(**_WRONG_TYPES), "(wrong types)"), (),
        "malformed_response", "session_number a string, status an array...: malformed",
    ),
}
"""The fault sessions: one (repeating) answer each."""


# -- scenarios -----------------------------------------------------------------------------

_STORIES: Sequence[tuple[str, Sequence[Step], str, str, bool]] = (
    # (name, steps, outcome, description, demo)
    ("approved", (NS, IP, IR, OK), "approved",
     "the happy path: not started, in progress, in review, approved", True),
    ("declined", (NS, IP, IR, NO), "rejected", "declined after review", True),
    ("awaiting-user", (NS, AU, IP, IR, OK), "approved",
     "awaiting user (action_required), then in progress, in review, approved", True),
    ("resubmitted-loop", (IP, IR, RS, IP, IR, RS, IP, IR, OK), "approved",
     "a reviewer asks twice to redo a step (Resubmitted: action_required), then approved",
     False),
    ("resubmitted", (IR, RS), "action_required",
     "a reviewer asks the user to redo a step; the user has not yet", False),
    ("not-started", (NS,), "not_started", "the user never opened the link", False),
    ("in-progress", (NS, IP), "in_progress", "the user is in the flow", False),
    ("in-review", (IP, IR), "in_review", "waiting on a reviewer", False),
    ("expired", (NS, Step("Expired")), "expired",
     "the session timed out before the user opened it", False),
    ("kyc-expired", (OK, Step("Kyc Expired", OK_CHECKS)), "expired",
     "approved, then the verified document expired", False),
    ("kyc-expired-caps", (OK, Step("KYC Expired", OK_CHECKS)), "expired",
     "the same, spelled KYC Expired", False),
    ("abandoned", (NS, IP, Step("Abandoned")), "abandoned",
     "the user started but did not finish in time", False),
    ("unknown-status", (IP, Step("Pending Liveness")), "unknown",
     "a status nobody documented (kept as raw_status)", False),
    ("flaky-approved", (NS, F503, IP, F500, F429, IR, OK), "approved",
     "transient 503, 500 and 429 between the steps of the happy path", False),
)
"""The story sessions: numbered from 1 in this order."""

_ERRORS: Sequence[tuple[str, Step, str, str]] = (
    ("not-found", _fault(lambda sid, v: detail(404, "Not found."), "HTTP 404"), "not_found",
     "no session with this id: 404 {\"detail\": \"Not found.\"}"),
    ("other-application",
     _fault(lambda sid, v: detail(403, "You do not have permission to perform this action."),
            "HTTP 403"),
     "authentication", "a session of another application: 403"),
    ("key-revoked",
     _fault(lambda sid, v: SimResponse.json(401, {"error": "API key has been revoked"}),
            "HTTP 401"),
     "authentication", "the key was revoked meanwhile: 401 with the {\"error\"} shape"),
)
"""Sessions answering a Didit error, every time (numbered from 101)."""

NAMES: dict[str, str] = {}
"""Scenario name -> its session id."""


def _build() -> tuple[tuple[Scenario, ...], dict[str, tuple[Step, ...]]]:
    scenarios: list[Scenario] = []
    scripts: dict[str, tuple[Step, ...]] = {}

    def add(number: int, name: str, steps: Sequence[Step], played: tuple[str, ...],
            outcome: str, description: str, demo: bool = False) -> None:
        sid = session_id(number)
        NAMES[name] = sid
        scenarios.append(Scenario(sid, {"session_id": sid}, f"{name}: {description}",
                                  played, outcome, demo))
        scripts[sid] = tuple(steps)

    for number, (name, steps, outcome, description, demo) in enumerate(_STORIES, 1):
        played = tuple(s.label or s.status or "" for s in steps)
        add(number, name, steps, played, outcome, description, demo)
    for number, (name, step, outcome, description) in enumerate(_ERRORS, 101):
        add(number, name, (step,), (), outcome, description)
    for number, (name, (step, played, outcome, description)) in enumerate(FAULTS.items(), 201):
        add(number, name, (step,), played, outcome, description)
    return tuple(scenarios), scripts


SCENARIOS, _SCRIPTS = _build()
"""Every scripted session (also ``DiditSimulator().scenarios``)."""


# -- the simulator ---------------------------------------------------------------------------


class DiditSimulator:
    """Didit's decision endpoint on loopback; satisfies :class:`kycbridge.sandbox.Simulator`.

    ``rate_limit``: requests allowed per key in any 60 s window (``None``: no limit).
    ``tolerance``: seconds shaved off the window, so a client spacing its calls at exactly
    the documented rate is not refused for the jitter between its clock and this one.
    ``clock``: the monotonic time source; ``wall``: the epoch clock of ``X-RateLimit-Reset``
    (tests inject both). Thread-safe: the sandbox serves each request on its own thread.
    """

    name = "didit"
    settings: Mapping[str, str] = {"api_key": SANDBOX_API_KEY}
    scenarios: Sequence[Scenario] = SCENARIOS
    webhook_settings: Mapping[str, str] = {"webhook_secret": SANDBOX_WEBHOOK_SECRET}
    """What a webhook receiver needs to verify :meth:`webhook_deliveries`."""

    def webhook_deliveries(self, now: float) -> list[Any]:
        """Signed deliveries of every story's status changes, then the faults.

        See :func:`webhook_deliveries`.
        """
        return webhook_deliveries(now)

    def __init__(
        self,
        *,
        rate_limit: int | None = RATE_LIMIT_PER_MINUTE,
        tolerance: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if rate_limit is not None and rate_limit <= 0:
            raise ValueError("rate_limit must be positive or None")
        if not 0 <= tolerance < WINDOW:
            raise ValueError("tolerance must be in [0, 60)")
        self.rate_limit = rate_limit
        self.tolerance = tolerance
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._calls: dict[str, int] = {}
        self._accepted: dict[str, collections.deque[float]] = {}
        self.answered: collections.Counter[int] = collections.Counter()
        """How many answers of each HTTP status were given since the last reset."""

    def __repr__(self) -> str:
        return f"<DiditSimulator rate_limit={self.rate_limit}/min>"

    def reset(self) -> None:
        """Start every scenario over; forget the rate-limit windows and counts."""
        with self._lock:
            self._calls.clear()
            self._accepted.clear()
            self.answered.clear()

    def calls(self, sid: str) -> int:
        """How many requests reached session ``sid``'s script since the last reset."""
        with self._lock:
            return self._calls.get(sid.lower(), 0)

    def handle(self, request: SimRequest) -> SimResponse:
        """Answer one request, as Didit would."""
        response = self._answer(request)
        with self._lock:
            self.answered[response.status] += 1
        return response

    def _answer(self, request: SimRequest) -> SimResponse:
        route = _ROUTE.fullmatch(request.path)
        if route is None or not route.group(3):
            # Unrouted (a missing trailing slash included): the web server's HTML 404.
            return SimResponse(404, _HTML_404, content_type="text/html")
        if request.method != "GET":
            return detail(405, f'Method "{request.method[:10]}" not allowed.',
                          headers={"Allow": "GET"})
        key = request.headers.get("x-api-key")
        if not key:
            return detail(401, "Authentication credentials were not provided.")
        if key == REVOKED_API_KEY:
            return SimResponse.json(401, {"error": "API key has been revoked"})
        if key == OTHER_APP_API_KEY:
            return detail(403, "You do not have permission to perform this action.")
        if key != SANDBOX_API_KEY:
            return detail(401, "Invalid API key.")
        limit_headers, refused = self._admit(key)
        if refused is not None:
            return refused
        version, sid = route.group(1), route.group(2).lower()
        script = _SCRIPTS.get(sid)
        if script is None:
            return detail(404, "Not found.", headers=limit_headers)
        with self._lock:
            n = self._calls.get(sid, 0)
            self._calls[sid] = n + 1
        answer = script[min(n, len(script) - 1)].answer(sid, version)
        return attrs.evolve(answer, headers={**limit_headers, **answer.headers})

    def _admit(self, key: str) -> tuple[dict[str, str], SimResponse | None]:
        """Count this request in the key's sliding window, or refuse it with a 429."""
        if self.rate_limit is None:
            return {}, None
        window = WINDOW - self.tolerance
        with self._lock:
            now = self._clock()
            accepted = self._accepted.setdefault(key, collections.deque())
            while accepted and accepted[0] <= now - window:
                accepted.popleft()
            refused = len(accepted) >= self.rate_limit
            if not refused:
                accepted.append(now)
            # when the oldest request in the window leaves it, a slot frees up
            wait = max(0.0, accepted[0] + window - now) if refused else 0.0
            reset_in = (accepted[0] + window - now) if accepted else 0.0
            remaining = self.rate_limit - len(accepted)
        wall = self._wall()
        headers = {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(max(0, remaining)),
            "X-RateLimit-Reset": str(math.ceil(wall + max(0.0, reset_in))),
        }
        if not refused:
            return headers, None
        seconds = max(1, math.ceil(wait))
        headers["Retry-After"] = str(seconds)
        return headers, detail(
            429, f"Request was throttled. Expected available in {seconds} seconds.",
            headers=headers,
        )


# -- webhooks -------------------------------------------------------------------------------

WEBHOOK_FAULT_SESSION = session_id(999)
"""The session of the out-of-order and fault deliveries (no polled scenario has it)."""


def webhook_payload(event_id: str, sid: str, step: Step, at: float,
                    webhook_type: str = "status.updated", **extra: Any) -> dict[str, Any]:
    """A delivery's JSON: ``step``'s status for session ``sid``, sent at ``at`` (Unix s)."""
    payload: dict[str, Any] = {
        "event_id": event_id,
        "webhook_type": webhook_type,
        "timestamp": int(at),
        "created_at": int(at),
        "application_id": "d1d17000-bbbb-4000-8000-00000000a990",
        "environment": "sandbox",
        "session_id": sid,
        "status": step.status,
        "workflow_id": "d1d17000-aaaa-4000-8000-00000000f10e",
        "vendor_data": "partner-user-" + sid[-4:],
        "metadata": {"user_type": "retail"},
        **extra,
    }
    if step.status in ("Approved", "Declined", "In Review", "Abandoned"):
        payload["decision"] = decision(sid, "v3", step)
    return payload


def webhook_headers(payload: Any, body: bytes, secret: str = SANDBOX_WEBHOOK_SECRET,
                    *, v1: bool = True) -> dict[str, str]:
    """Didit's headers for ``body`` (the JSON of ``payload``).

    ``X-Signature`` over the raw body (unless ``v1`` is false), ``X-Signature-V2`` over the
    canonical form, and ``X-Timestamp``.
    """
    import hashlib
    import hmac

    def sign(data: bytes) -> str:
        return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()

    canonical = json.dumps(_shorten(payload), sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False).encode("utf-8")
    headers = {"content-type": "application/json", "x-signature-v2": sign(canonical),
               "x-timestamp": str(payload.get("timestamp") if isinstance(payload, dict) else "")}
    if v1:
        headers["x-signature"] = sign(body)
    return headers


def _shorten(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _shorten(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shorten(v) for v in value]
    return value


def webhook_deliveries(now: float, *, max_body: int = 256 * 1024) -> list[Any]:
    """Signed ``status.updated`` deliveries for every story's status changes, then faults.

    One second apart, in order; then the faults: a replay, an out-of-order pair, a re-encoded body
    (non-ASCII kept, whole-number floats: only ``X-Signature-V2`` holds), a bad signature, a
    stale timestamp, a ``data.updated`` event (acknowledged), a non-JSON body and a body
    over the receiver's cap.
    """
    from kycbridge.webhooks.push import Delivery, status_changes

    def signed(label: str, payload: dict[str, Any], expect: str = "accepted",
               secret: str = SANDBOX_WEBHOOK_SECRET) -> Delivery:
        body = json.dumps(payload).encode()  # ASCII-escaped, as Didit sends it
        return Delivery(label, webhook_headers(payload, body, secret), body, expect)

    words = {str(step.status): step for step in (NS, IP, IR, OK, NO, AU, RS)}
    words.update({w: Step(w) for w in ("Expired", "Kyc Expired", "KYC Expired", "Abandoned")})
    changes = [
        (session_id(number), words[word])
        for number, (_, steps, _, _, _) in enumerate(_STORIES, 1)
        for word in status_changes((s.status for s in steps if s.status), words)
    ]
    deliveries = [
        signed(f"session {sid[-4:]}: {step.status}",
               webhook_payload(f"evt-{i:05d}", sid, step, now - len(changes) + i))
        for i, (sid, step) in enumerate(changes)
    ]
    if deliveries:
        first = deliveries[0]
        deliveries.append(Delivery(f"replay of {first.label}", first.headers, first.body,
                                   "duplicate"))
    sid = WEBHOOK_FAULT_SESSION
    reencoded = webhook_payload("evt-reencoded", sid, IR, now - 30,
                                metadata={"name": "José Müller", "score": 97.0, "ratio": 0.5})
    body = json.dumps(reencoded, ensure_ascii=False, indent=1).encode("utf-8")
    deliveries += [
        signed("out of order: Approved (newer)", webhook_payload("evt-ooo-1", sid, OK, now - 10)),
        signed("out of order: In Review (older, arrives late)",
               webhook_payload("evt-ooo-2", sid, IR, now - 20), "stale"),
        Delivery("re-encoded by a proxy (non-ASCII, 97.0): X-Signature-V2 only",
                 webhook_headers(reencoded, body, v1=False), body,
                 "stale"),  # older than the Approved applied above: verified, not applied
        signed("bad signature (another secret)", webhook_payload("evt-bad", sid, NO, now),
               "unauthorized", "not-the-sandbox-webhook-secret"),
        signed("stale timestamp (an hour ago)",
               webhook_payload("evt-stale", sid, NO, now - 3600), "unauthorized"),
        signed("data.updated (no status change: acknowledged)",
               webhook_payload("evt-data", sid, OK, now, webhook_type="data.updated"),
               "acknowledged"),
        Delivery("not JSON", {"content-type": "application/json",
                              "x-signature": webhook_headers({}, b"<html>not json</html>")[
                                  "x-signature"]}, b"<html>not json</html>", "malformed"),
        signed("body over the receiver's cap",
               webhook_payload("evt-large", sid, OK, now, padding="x" * max_body), "too_large"),
    ]
    return deliveries
