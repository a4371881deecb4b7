"""A Veriff look-alike for the sandbox: :class:`VeriffSimulator`.

It answers ``GET /v1/sessions/{sessionId}/decision`` as Veriff's documents say. It
authenticates exactly like Veriff: ``X-AUTH-CLIENT`` must be :data:`SANDBOX_API_KEY`, and
``X-HMAC-SIGNATURE`` the lowercase hex HMAC-SHA256 of the session id in the path, keyed
with :data:`SANDBOX_SHARED_SECRET`. Failures answer 401 in Veriff's ``{"status": "fail",
"code", "message"}`` shape: 1801 (no ``X-AUTH-CLIENT``), 1803 (unknown API key), 1812 (the
signature is missing or not SHA-256 hex), 1818 (it does not match the session id).

Scripted sessions (:data:`SCENARIOS`, the sandbox's test cards) move one step per request;
any other well-formed session id answers 404, a malformed one 400. Veriff publishes no rate
limit, so none is enforced (``fault-429`` plays a gateway's 429).

Where the documents are silent the simulator guesses, and says so: the 400 and 404 bodies'
codes and messages, and whether ``code`` is a number (here: a number).
"""

from __future__ import annotations

import collections
import hmac
import json
import re
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote

import attrs

from kycbridge import faults
from kycbridge.sandbox import Scenario, SimRequest, SimResponse

from .signing import signature

__all__ = [
    "SANDBOX_API_KEY",
    "SANDBOX_SHARED_SECRET",
    "SCENARIOS",
    "Step",
    "VeriffSimulator",
    "session_id",
]

SANDBOX_API_KEY = "sandbox-veriff-key"
"""The only API key the simulator accepts."""

SANDBOX_SHARED_SECRET = "sandbox-veriff-shared-secret"  # noqa: S105 - a sandbox value
"""The shared secret the simulator checks signatures with."""

_ROUTE = re.compile(r"/v1/sessions/([^/]+)/decision")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def session_id(number: int) -> str:
    """The scripted session id number ``number``: ``5e551000-0000-4000-8000-<number>``."""
    return f"5e551000-0000-4000-8000-{number:012d}"


# -- answers -------------------------------------------------------------------------------


def fail(http_status: int, code: int | None, message: str, **kwargs: Any) -> SimResponse:
    """An error in Veriff's shape: ``{"status": "fail", "code", "message"}``."""
    body: dict[str, Any] = {"status": "fail"}
    if code is not None:
        body["code"] = code
    body["message"] = message
    return SimResponse.json(http_status, body, **kwargs)


@attrs.frozen
class Step:
    """One scripted answer: a decision (``status``/``code``), no decision, or a fault."""

    status: str | None = None
    """``verification.status``; ``None`` with no ``fault``: ``verification: null``."""
    code: int | None = None
    """``verification.code``."""
    reason: str | None = None
    """``verification.reason``."""
    reason_code: int | None = None
    """``verification.reasonCode``."""
    fault: Callable[[str], SimResponse] | None = None
    """Answer this instead (given the session id)."""

    @property
    def played(self) -> str:
        """How the README and the scenario list show this step."""
        if self.status is None:
            return "null"
        return f"{self.status}/{self.code}" if self.code is not None else self.status

    def answer(self, sid: str) -> SimResponse:
        """The simulated answer for session ``sid``."""
        if self.fault is not None:
            return self.fault(sid)
        return SimResponse.json(200, decision_body(self, sid))


def verification(step: Step, sid: str) -> dict[str, Any]:
    """The ``verification`` object of a decision (fake, non-personal person and document)."""
    attempt = uuid.uuid5(uuid.NAMESPACE_URL, f"veriff-sandbox:{sid}:{step.status}")
    decided = step.status not in ("started", "submitted")
    return {
        "id": sid,
        "attemptId": str(attempt),
        "vendorData": None,
        "endUserId": None,
        "status": step.status,
        "code": step.code,
        "reason": step.reason,
        "reasonCode": step.reason_code,
        "acceptanceTime": "2024-01-01T10:00:00.000Z",
        "decisionTime": "2024-01-01T10:05:00.000Z" if decided else None,
        "person": {"firstName": "SANDBOX", "lastName": "USER", "dateOfBirth": None,
                   "idNumber": None},
        "document": {"number": None, "type": "PASSPORT", "country": "EE", "validUntil": None},
        "additionalVerifiedData": {},
        "riskLabels": [],
    }


def decision_body(step: Step, sid: str) -> dict[str, Any]:
    """The 200 answer: ``{"status": "success", "verification": {...} | null}``."""
    if step.status is None:
        return {"status": "success", "verification": None}
    return {"status": "success", "verification": verification(step, sid)}


def _fault(builder: Callable[[str], SimResponse]) -> Step:
    return Step(fault=builder)


def _json_bytes(payload: Any) -> bytes:
    return json.dumps(payload).encode("utf-8")



NULL = Step()
OK = Step("approved", 9001)
NO = Step("declined", 9102, "Physical document not used", 102)
RESUBMIT = Step("resubmission_requested", 9103, "Video and/or photos missing", 201)
EXPIRED = Step("expired", 9104)
ABANDONED = Step("abandoned", 9104)
REVIEW = Step("review", 9121)
STARTED = Step("started", 7001)
SUBMITTED = Step("submitted", 7002)
F500 = _fault(lambda s: fail(500, None, "Something went wrong"))


def _review_extra(sid: str) -> SimResponse:
    body = decision_body(REVIEW, sid)
    body["technicalData"] = {"ip": "203.0.113.7"}
    body["verification"].update({"newField": {"x": 1}, "comments": [], "highRisk": False})
    return SimResponse.json(200, body)

def _standard(name: str) -> tuple[Step, tuple[str, ...], str, str]:
    """A standard fault (:mod:`kycbridge.faults`) and its row, made from the approved answer."""
    step = _fault(lambda s: faults.answer(
        name, SimResponse(200, _json_bytes(decision_body(OK, s))), delay=1.0, truncate=30,
        title="Veriff",
    ))
    row = faults.row(name, played=("approved/9001",), outcome="approved", delay=1.0, truncate=30)
    return (step, *row)


F503 = _standard("503")[0]

FAULTS: Mapping[str, tuple[Step, tuple[str, ...], str, str]] = {
    # name: (step, played, outcome, description)
    "fault-400": (_fault(lambda s: fail(400, 1102, "Mandatory parameters are missing")),
                  (), "request_rejected", "400 in Veriff's fail shape, every time"),
    "fault-500": (F500, (), "unavailable", "500 in Veriff's fail shape, every time"),
    "fault-502": _standard("502"),
    "fault-503": _standard("503"),
    "fault-429": (_fault(lambda s: SimResponse(429, b"Too Many Requests", content_type="text/plain",
                                               headers={"Retry-After": "1"})),
                  (), "rate_limited", "a gateway's 429 with Retry-After: 1 (no documented limit)"),
    "fault-slow": _standard("slow"),
    "fault-invalid-json": _standard("invalid-json"),
    "fault-truncated-json": _standard("truncated-json"),
    "fault-html": _standard("html"),
    "fault-wrong-content-type": _standard("wrong-content-type"),
    "fault-drop": _standard("drop"),
    "fault-drop-mid-body": _standard("drop-mid-body"),
    "fault-extra-fields": (_fault(_review_extra), ("review/9121",), "in_review",
                           "undocumented fields everywhere: ignored, still a report"),
    "fault-missing-fields": (
        _fault(lambda s: SimResponse.json(
            200, {"status": "success", "verification": {"status": "declined"}})),
        ("declined",), "rejected", "a verification with only its status: still a report"),
    "fault-wrong-types": (
        _fault(lambda s: SimResponse.json(
            200, {"status": "success", "verification": {"status": "approved", "code": "9001"}})),
        (), "malformed_response", "code is a string: malformed"),
}
"""Fault sessions: their single (repeating) answer, what it plays, its outcome."""

_STORIES: Sequence[tuple[str, Sequence[Step], str, str, bool]] = (
    # (name, steps, outcome, description, demo)
    ("approved", (NULL, NULL, OK), "approved",
     "no decision yet (null) twice, then approved 9001", True),
    ("declined", (NULL, NO), "rejected", "no decision yet, then declined 9102", True),
    ("resubmission", (NULL, RESUBMIT, RESUBMIT, OK), "approved",
     "resubmission requested 9103 (action_required) until the user redoes the flow, "
     "then approved", True),
    ("instant-approved", (OK,), "approved", "approved on the first call", False),
    ("expired", (NULL, EXPIRED), "expired", "the session expired 9104 unfinished", False),
    ("abandoned", (NULL, ABANDONED), "abandoned", "the user left the flow: abandoned 9104",
     False),
    ("review", (NULL, REVIEW), "in_review", "sent to manual review 9121, stays there", False),
    ("review-declined", (REVIEW, NO), "rejected", "manual review 9121, then declined", False),
    ("events", (STARTED, SUBMITTED, OK), "approved",
     "session events started 7001 and submitted 7002 (unconfirmed on this endpoint), "
     "then approved", False),
    ("unknown-status", (NULL, Step("on_hold", 9999)), "unknown",
     "a status nobody documented (kept as raw_status)", False),
    ("pending", (NULL,), "in_progress", "no decision, every time", False),
    ("flaky-approved", (NULL, F503, F500, OK), "approved",
     "transient 503 and 500 between no decision and approved", False),
)


def _build() -> tuple[tuple[Scenario, ...], dict[str, tuple[Step, ...]]]:
    scenarios: list[Scenario] = []
    scripts: dict[str, tuple[Step, ...]] = {}
    number = 0

    def add(steps: Sequence[Step], played: tuple[str, ...], outcome: str, description: str,
            demo: bool = False) -> None:
        nonlocal number
        number += 1
        sid = session_id(number)
        scenarios.append(Scenario(sid, {"session_id": sid}, description, played, outcome, demo))
        scripts[sid] = tuple(steps)

    for name, steps, outcome, description, demo in _STORIES:
        played = tuple(s.played for s in steps if s.fault is None)
        add(steps, played, outcome, f"{name}: {description}", demo)
    add((_fault(lambda s: fail(404, None, "Session not found")),), (), "not_found",
        "notfound: no such session, 404 every time")
    for name, (step, played, outcome, description) in FAULTS.items():
        add((step,), played, outcome, f"{name}: {description}")
    return tuple(scenarios), scripts


SCENARIOS, _SCRIPTS = _build()
"""Every scripted session (also ``VeriffSimulator().scenarios``); each description starts with
the scenario's name."""


# -- the simulator ---------------------------------------------------------------------------


class VeriffSimulator:
    """Veriff's decision endpoint on loopback; satisfies :class:`kycbridge.sandbox.Simulator`.

    Thread-safe: the sandbox serves each request on its own thread.
    """

    name = "veriff"
    settings: Mapping[str, str] = {
        "api_key": SANDBOX_API_KEY,
        "shared_secret": SANDBOX_SHARED_SECRET,
    }
    scenarios: Sequence[Scenario] = SCENARIOS
    webhook_settings: Mapping[str, str] = {"shared_secret": SANDBOX_SHARED_SECRET}
    """What a webhook receiver needs to verify :meth:`webhook_deliveries`: Veriff signs
    webhooks with the integration's shared secret."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, int] = {}
        self.answered: collections.Counter[int] = collections.Counter()
        """How many answers of each HTTP status were given since the last reset."""

    def __repr__(self) -> str:
        return "<VeriffSimulator>"

    def reset(self) -> None:
        """Start every scenario over."""
        with self._lock:
            self._calls.clear()
            self.answered.clear()

    def webhook_deliveries(self, now: float) -> list[Any]:
        """Signed deliveries of every story's status changes, then the faults.

        ``kycbridge.webhooks.push.Delivery`` objects: see :func:`webhook_deliveries`.
        """
        return webhook_deliveries(now)

    def calls(self, sid: str) -> int:
        """How many authenticated requests reached session ``sid``'s script."""
        with self._lock:
            return self._calls.get(sid, 0)

    def handle(self, request: SimRequest) -> SimResponse:
        """Answer one request, as Veriff would."""
        response = self._answer(request)
        with self._lock:
            self.answered[response.status] += 1
        return response

    def _answer(self, request: SimRequest) -> SimResponse:
        route = _ROUTE.fullmatch(request.path)
        if route is None:
            return fail(404, None, "Not found")
        if request.method != "GET":
            return fail(405, None, "Method not allowed", headers={"Allow": "GET"})
        sid = unquote(route.group(1))  # the session id the client signed
        key = request.headers.get("x-auth-client")
        if not key:
            return fail(401, 1801, "Mandatory X-AUTH-CLIENT header containing the API key is "
                                   "missing from the request.")
        if not hmac.compare_digest(key.encode(), SANDBOX_API_KEY.encode()):
            return fail(401, 1803, "Integration with the API key was not found.")
        sent = request.headers.get("x-hmac-signature") or ""
        if not _HEX64.fullmatch(sent):
            return fail(401, 1812, "Signature is not a valid SHA256 hex.")
        expected = signature(SANDBOX_SHARED_SECRET, sid)
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            return fail(401, 1818, "Signature does not match the HMAC-SHA256 of query ID and "
                                   "integration API secret.")
        if not _UUID.fullmatch(sid):
            return fail(400, 1102, "Mandatory parameters are missing from the request.")
        script = _SCRIPTS.get(sid)
        if script is None:
            return fail(404, None, "Session not found")
        with self._lock:
            n = self._calls.get(sid, 0)
            self._calls[sid] = n + 1
        return script[min(n, len(script) - 1)].answer(sid)


# -- webhooks -------------------------------------------------------------------------------

WEBHOOK_FAULT_SESSION = "5e551000-0000-4000-8000-00000000face"
"""The session of the out-of-order deliveries (no polled scenario has it)."""


def webhook_body(step: Step, sid: str, at: float | None = None) -> bytes:
    """A delivery body for ``step``.

    An event webhook for ``started``/``submitted``, else the decision shape with
    ``technicalData``; ``at`` (Unix seconds) is the decision's time.
    """
    if step.status in ("started", "submitted"):
        attempt = uuid.uuid5(uuid.NAMESPACE_URL, f"veriff-sandbox:{sid}:{step.status}")
        event = {
            "id": sid,
            "attemptId": str(attempt),
            "feature": "selfid",
            "code": step.code,
            "action": step.status,
            "vendorData": None,
            "endUserId": None,
        }
        return _json_bytes(event)
    body = decision_body(step, sid)
    body["technicalData"] = {"ip": "203.0.113.7"}
    if at is not None and body["verification"] is not None:
        body["verification"]["decisionTime"] = _iso(at)
    return _json_bytes(body)


def _iso(at: float) -> str:
    import datetime as dt

    when = dt.datetime.fromtimestamp(at, dt.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def webhook_deliveries(now: float, *, max_body: int = 256 * 1024) -> list[Any]:
    """Signed deliveries for every story's status changes, then the faults.

    Decisions at one-second steps before ``now`` (in order); the faults: a replay, an
    out-of-order pair, a bad signature, a non-JSON body and a body over the receiver's cap.
    Veriff signs no time, so there is no stale-timestamp fault.
    """
    from kycbridge.webhooks.push import Delivery, status_changes

    def signed(label: str, body: bytes, expect: str = "accepted",
               secret: str = SANDBOX_SHARED_SECRET) -> Delivery:
        headers = {"content-type": "application/json", "x-hmac-signature": signature(secret, body)}
        return Delivery(label, headers, body, expect)

    steps = {s.played: s for s in (OK, NO, RESUBMIT, EXPIRED, ABANDONED, REVIEW, STARTED,
                                   SUBMITTED)}
    changes = [
        (scenario.subject, steps[word])
        for scenario in SCENARIOS
        if not scenario.description.startswith(("fault-", "notfound"))
        for word in status_changes(scenario.played, steps)
    ]
    deliveries = [
        signed(f"{mask_sid(sid)}: {step.played}", webhook_body(step, sid, now - len(changes) + i))
        for i, (sid, step) in enumerate(changes)
    ]
    if deliveries:
        first = deliveries[0]
        deliveries.append(Delivery(f"replay of {first.label}", first.headers, first.body,
                                   "duplicate"))
    sid = WEBHOOK_FAULT_SESSION
    deliveries += [
        signed("out of order: approved (newer)", webhook_body(OK, sid, now - 10)),
        signed("out of order: review (older, arrives late)", webhook_body(REVIEW, sid, now - 20),
               "stale"),
        signed("bad signature (another secret)", webhook_body(NO, sid, now), "unauthorized",
               "not-the-sandbox-shared-secret"),
        signed("not JSON", b"<html>not json</html>", "malformed"),
        signed("body over the receiver's cap",
               webhook_body(OK, sid, now)[:-1] + b', "padding": "' + b"x" * max_body + b'"}',
               "too_large"),
    ]
    return deliveries


def mask_sid(sid: str) -> str:
    """A session id as delivery labels show it (its story number only)."""
    return f"session {sid[-4:]}"
