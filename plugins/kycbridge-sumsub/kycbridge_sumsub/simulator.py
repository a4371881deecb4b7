"""A Sumsub simulator for the kycbridge sandbox: :class:`SumsubSimulator`.

It serves both applicant lookups,
``GET /resources/applicants/{applicantId}/one`` and
``GET /resources/applicants/-;externalUserId={externalUserId}/one``, and authenticates
exactly like Sumsub: ``X-App-Token`` must be the sandbox token, ``X-App-Access-Ts`` an
integer within :data:`~kycbridge_sumsub.signing.TOLERANCE` (60 s) of the simulator's clock
(injectable), and ``X-App-Access-Sig`` the HMAC-SHA256 over ``ts + METHOD + raw path?raw query
+ body`` exactly as received (:attr:`kycbridge.sandbox.SimRequest.target`, the simulator's
prefix included, which is what the client sent and signed). A failure answers 401
``{"description": "Invalid signature", "code": 401, "correlationId": "req-..."}``.

Sumsub's limit, 300 GET requests per 5 s per app token, is enforced as a sliding window
(429 with ``Retry-After``: the seconds until the window frees a slot). Only authenticated
requests count.

Every scripted applicant (:data:`SCENARIOS`) is reachable by both its applicant id and its
external user id (``sandbox-<name>``); both lookups advance the same script. Answers carry
fake personal fields (``info``, ``fixedInfo``, ``email``, ``externalUserId``) so tests can
check they never reach a report.

Where the documents are silent the simulator guesses, and says so: the 401 text for a missing
or unknown app token (``"App token is invalid"``), the 404 text (``"Applicant not found"``),
``errorCode``/``errorName`` values, and ``Retry-After`` on a 429 (not documented).
"""

from __future__ import annotations

import collections
import hmac
import itertools
import json
import math
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote

import attrs

from kycbridge import faults
from kycbridge.sandbox import Scenario, SimRequest, SimResponse

from .signing import TOLERANCE, signature

__all__ = [
    "EXTERNAL_PREFIX",
    "LONG_RETRY_AFTER",
    "SANDBOX_APP_TOKEN",
    "SANDBOX_SECRET_KEY",
    "SCENARIOS",
    "WINDOW",
    "WINDOW_LIMIT",
    "Step",
    "SumsubSimulator",
    "applicant_id",
    "error_body",
]

SANDBOX_WEBHOOK_SECRET = "sandbox-sumsub-webhook-secret"  # noqa: S105 - a sandbox value
"""The secret the simulator's webhook deliveries are signed with (``X-Payload-Digest``)."""

SANDBOX_APP_TOKEN = "sbx:sandbox-sumsub-app-token"  # noqa: S105 - a sandbox value
"""The only app token the simulator accepts."""

SANDBOX_SECRET_KEY = "sandbox-sumsub-secret-key"  # noqa: S105 - a sandbox value
"""The secret key the simulator checks signatures with."""

WINDOW = 5.0
"""Sumsub's rate-limit window, in seconds."""

WINDOW_LIMIT = 300
"""GET requests allowed per :data:`WINDOW` per app token."""

LONG_RETRY_AFTER = 90
"""The ``Retry-After`` of the ``rate-limited-long`` scenario: longer than the 60 s tolerance."""

EXTERNAL_PREFIX = "-;externalUserId="
"""The literal path text before an external user id."""


def applicant_id(number: int) -> str:
    """The scripted applicant id number ``number``: 24 hex digits, like Sumsub's."""
    return f"65f0a1b2c3d4e5f6a7{number:06x}"


def _correlation_id() -> str:
    return f"req-{uuid.uuid4()}"


def error_body(code: int, description: str, **extra: Any) -> dict[str, Any]:
    """An error in Sumsub's shape: ``{"description", "code", "correlationId", ...}``."""
    return {"description": description, "code": code, "correlationId": _correlation_id(),
            **extra}


def fail(code: int, description: str, headers: Mapping[str, str] | None = None,
         **extra: Any) -> SimResponse:
    """An error answer in Sumsub's shape."""
    return SimResponse.json(code, error_body(code, description, **extra),
                            headers=dict(headers or {}))


# -- applicants ------------------------------------------------------------------------------


@attrs.frozen
class Step:
    """One scripted answer: a review (status, answer, reject type), or a fault."""

    status: str | None = None
    """``review.reviewStatus``."""
    answer: str | None = None
    """``reviewResult.reviewAnswer`` (sent only with a status)."""
    reject: str | None = None
    """``reviewResult.reviewRejectType``."""
    labels: tuple[str, ...] = ()
    """``reviewResult.rejectLabels``."""
    comment: str | None = None
    """``reviewResult.moderationComment``."""
    stale_result: bool = False
    """Send ``reviewResult`` even though the status is not ``completed`` (tolerated)."""
    fault: Callable[[str, str], SimResponse] | None = None
    """Answer this instead (given the applicant id and the external user id)."""

    @property
    def played(self) -> str:
        """How the README and the scenario list show this step: the report's raw_status."""
        if self.status != "completed":
            return str(self.status)
        return "/".join(w for w in (self.status, self.answer, self.reject) if w)

    def respond(self, aid: str, external: str, attempt: int) -> SimResponse:
        """The simulated answer for the applicant."""
        if self.fault is not None:
            return self.fault(aid, external)
        return SimResponse.json(200, applicant(self, aid, external, attempt))


def review(step: Step, aid: str, attempt: int) -> dict[str, Any]:
    """The ``review`` object of ``step``."""
    body: dict[str, Any] = {
        "reviewId": f"rv{aid[-8:]}",
        "attemptId": f"at{aid[-6:]}{attempt:02d}",
        "attemptCnt": attempt,
        "levelName": "basic-kyc-level",
        "createDate": "2024-01-02 10:00:00+0000",
        "priority": 0,
        "reprocessing": False,
        "notificationFailureCnt": 0,
        "reviewStatus": step.status,
    }
    if step.status == "completed":
        body["reviewDate"] = "2024-01-02 10:05:00+0000"
    if step.status == "completed" or step.stale_result:
        result: dict[str, Any] = {"reviewAnswer": step.answer}
        if step.answer == "RED":
            result["rejectLabels"] = list(step.labels)
            if step.reject is not None:
                result["reviewRejectType"] = step.reject
            if step.comment is not None:
                result["moderationComment"] = step.comment
            result["clientComment"] = "internal note for the compliance team"
            result["buttonIds"] = []
        elif step.answer is None:
            del result["reviewAnswer"]
        body["reviewResult"] = result
    return body


def applicant(step: Step, aid: str, external: str, attempt: int = 1) -> dict[str, Any]:
    """A whole applicant, with fake personal fields (never to be kept by a report)."""
    return {
        "id": aid,
        "createdAt": "2024-01-02 09:59:00",
        "clientId": "sandbox-client",
        "inspectionId": f"in{aid[2:]}",
        "externalUserId": external,
        "info": {"firstName": "SANDBOX", "lastName": "PERSON", "dob": "1990-01-01",
                 "country": "DEU"},
        "fixedInfo": {"firstName": "SANDBOX", "lastName": "PERSON"},
        "email": "sandbox.person@example.com",
        "phone": "+49 30 1234567",
        "requiredIdDocs": {"docSets": [{"idDocSetType": "IDENTITY",
                                        "types": ["PASSPORT", "ID_CARD"]}]},
        "lang": "en",
        "type": "individual",
        "review": review(step, aid, attempt),
    }


def _fault(builder: Callable[[str, str], SimResponse]) -> Step:
    return Step(fault=builder)


def _json_bytes(payload: Any) -> bytes:
    return json.dumps(payload).encode("utf-8")



INIT = Step("init")
PENDING = Step("pending")
QUEUED = Step("queued")
PRECHECKED = Step("prechecked")
ON_HOLD = Step("onHold")
AWAITING_SERVICE = Step("awaitingService")
AWAITING_USER = Step("awaitingUser")
GREEN = Step("completed", "GREEN")
RETRY = Step("completed", "RED", "RETRY", ("BAD_PROOF_OF_IDENTITY", "SELFIE_MISMATCH"),
             "The photo of your document is blurry. Please upload a sharper one.")
FINAL = Step("completed", "RED", "FINAL", ("FORGERY",),
             "We could not verify your identity.")
RED_UNTYPED = Step("completed", "RED", None, ("UNSATISFACTORY_PHOTOS",))
COMPLETED_BARE = Step("completed")
F500 = _fault(lambda a, e: fail(500, "Internal server error"))
LONG_429 = _fault(lambda a, e: fail(429, "Too many requests",
                                    headers={"Retry-After": str(LONG_RETRY_AFTER)}))


def _extra_fields(aid: str, external: str) -> SimResponse:
    body = applicant(PRECHECKED, aid, external)
    body["newTopLevel"] = {"x": [1, 2, 3]}
    body["review"]["newReviewField"] = "whatever"
    body["review"]["elapsedSincePendingMs"] = 1234
    return SimResponse.json(200, body)

def _standard(name: str) -> tuple[Step, tuple[str, ...], str, str]:
    """A standard fault (:mod:`kycbridge.faults`) and its row, made from the approved answer."""
    step = _fault(lambda a, e: faults.answer(
        name, SimResponse(200, _json_bytes(applicant(GREEN, a, e))), delay=1.0, truncate=30,
        title="Sumsub",
    ))
    row = faults.row(name, played=("completed/GREEN",), outcome="approved", delay=1.0, truncate=30)
    return (step, *row)


F503 = _standard("503")[0]

FAULTS: Mapping[str, tuple[Step, tuple[str, ...], str, str]] = {
    # name: (step, played, outcome, description)
    "fault-400": (_fault(lambda a, e: fail(400, "Bad request", errorCode=1000,
                                           errorName="bad-request")),
                  (), "request_rejected", "400 in Sumsub's error shape, every time"),
    "fault-403": (_fault(lambda a, e: fail(403, "Forbidden: the token lacks the permission")),
                  (), "authentication", "403 in Sumsub's error shape"),
    "fault-500": (F500, (), "unavailable", "500 in Sumsub's error shape, every time"),
    "fault-502": _standard("502"),
    "fault-503": _standard("503"),
    "fault-429": (_fault(lambda a, e: fail(429, "Too many requests",
                                           headers={"Retry-After": "1"})),
                  (), "rate_limited", "429 in Sumsub's error shape with Retry-After: 1"),
    "fault-slow": _standard("slow"),
    "fault-invalid-json": _standard("invalid-json"),
    "fault-truncated-json": _standard("truncated-json"),
    "fault-html": _standard("html"),
    "fault-wrong-content-type": _standard("wrong-content-type"),
    "fault-drop": _standard("drop"),
    "fault-drop-mid-body": _standard("drop-mid-body"),
    "fault-extra-fields": (_fault(_extra_fields), ("prechecked",), "in_review",
                           "undocumented fields everywhere: ignored, still a report"),
    "fault-missing-fields": (
        _fault(lambda a, e: SimResponse.json(200, {"review": {"reviewStatus": "queued"}})),
        ("queued",), "in_review", "an applicant with only review.reviewStatus: still a report"),
    "fault-wrong-types": (
        _fault(lambda a, e: SimResponse.json(
            200, {"id": a, "review": {"reviewStatus": "completed", "attemptCnt": "2",
                                      "reviewResult": {"reviewAnswer": "GREEN"}}})),
        (), "malformed_response", "attemptCnt is a string: malformed"),
    "fault-not-applicant": (
        _fault(lambda a, e: SimResponse.json(200, [{"reviewStatus": "completed"}])),
        (), "malformed_response", "200 with a JSON array instead of an applicant"),
}
"""Fault applicants: their single (repeating) answer, what it plays, its outcome."""

_STORIES: Sequence[tuple[str, Sequence[Step], str, str, bool]] = (
    # (name, steps, outcome, description, demo)
    ("approved", (INIT, PENDING, QUEUED, GREEN), "approved",
     "init, pending, queued, then completed GREEN", True),
    ("rejected", (INIT, PENDING, FINAL), "rejected",
     "init, pending, then completed RED FINAL (no retry)", True),
    ("resubmission", (PENDING, RETRY, RETRY, PENDING, GREEN), "approved",
     "completed RED RETRY (action_required) until the user resubmits (pending), then GREEN",
     True),
    ("retry", (PENDING, RETRY), "action_required",
     "completed RED RETRY: the user may resubmit, and has not", False),
    ("red-untyped", (PENDING, RED_UNTYPED), "rejected",
     "completed RED without a reviewRejectType: no retry offered", False),
    ("prechecked", (PENDING, PRECHECKED, GREEN), "approved",
     "pending, prechecked, then GREEN", False),
    ("on-hold", (PENDING, ON_HOLD, ON_HOLD, GREEN), "approved",
     "held for a compliance officer (onHold), then GREEN", False),
    ("on-hold-final", (QUEUED, ON_HOLD, FINAL), "rejected",
     "queued, onHold, then RED FINAL", False),
    ("awaiting-service", (PENDING, AWAITING_SERVICE, GREEN), "approved",
     "waits on an external service (awaitingService), then GREEN", False),
    ("awaiting-user", (PENDING, AWAITING_USER), "action_required",
     "Sumsub waits on the user (awaitingUser)", False),
    ("init", (INIT,), "not_started", "created, nothing submitted, every time", False),
    ("pending", (PENDING,), "submitted", "pending, every time", False),
    ("queued", (QUEUED,), "in_review", "queued, every time", False),
    ("stale-result", (RETRY, Step("pending", "RED", "RETRY", stale_result=True), GREEN),
     "approved",
     "RED RETRY, then pending with the old reviewResult still attached (ignored), then GREEN",
     False),
    ("completed-no-answer", (PENDING, COMPLETED_BARE), "unknown",
     "completed without a reviewResult: not guessed", False),
    ("unknown-status", (PENDING, Step("underManualCheck")), "unknown",
     "a reviewStatus nobody documented (kept as raw_status)", False),
    ("flaky", (PENDING, F503, F500, GREEN), "approved",
     "transient 503 and 500 between pending and GREEN", False),
    ("rate-limited-long", (LONG_429, GREEN), "approved",
     f"429 with Retry-After: {LONG_RETRY_AFTER} (past the 60 s signature tolerance), then "
     "GREEN: each attempt must be signed anew", False),
)


@attrs.frozen
class _Script:
    number: int
    applicant_id: str
    external_user_id: str
    steps: tuple[Step, ...]


def _build() -> tuple[tuple[Scenario, ...], dict[str, _Script], dict[str, _Script]]:
    scenarios: list[Scenario] = []
    by_id: dict[str, _Script] = {}
    by_external: dict[str, _Script] = {}

    def add(name: str, steps: Sequence[Step], played: tuple[str, ...], outcome: str,
            description: str, demo: bool = False, by_applicant_id: bool = False) -> None:
        number = len(by_id) + 1
        script = _Script(number, applicant_id(number), f"sandbox-{name}", tuple(steps))
        by_id[script.applicant_id] = by_external[script.external_user_id] = script
        scenarios.append(Scenario(script.external_user_id,
                                  {"external_user_id": script.external_user_id},
                                  f"{name}: {description}", played, outcome, demo))
        if by_applicant_id:
            scenarios.append(Scenario(script.applicant_id,
                                      {"applicant_id": script.applicant_id},
                                      f"{name}, by applicant id: {description}", played,
                                      outcome))

    for name, steps, outcome, description, demo in _STORIES:
        played = tuple(s.played for s in steps if s.fault is None)
        add(name, steps, played, outcome, description, demo,
            by_applicant_id=name in ("approved", "rejected", "retry"))
    for name, (step, played, outcome, description) in FAULTS.items():
        add(name, (step,), played, outcome, description)
    scenarios.append(Scenario("sandbox-nobody", {"external_user_id": "sandbox-nobody"},
                              "notfound: no applicant with this external user id, 404",
                              (), "not_found"))
    missing = applicant_id(0xFFFFFF)
    scenarios.append(Scenario(missing, {"applicant_id": missing},
                              "notfound: no applicant with this id, 404", (), "not_found"))
    return tuple(scenarios), by_id, by_external


SCENARIOS, _BY_ID, _BY_EXTERNAL = _build()
"""Every scripted applicant (also ``SumsubSimulator().scenarios``); each description starts
with the scenario's name."""


# -- the simulator ---------------------------------------------------------------------------


def _invalid_signature() -> SimResponse:
    return fail(401, "Invalid signature")


class SumsubSimulator:
    """Sumsub's applicant lookups on loopback; satisfies :class:`kycbridge.sandbox.Simulator`.

    ``clock``: seconds since the epoch, for the timestamp check and the rate window (tests
    inject a fake one). ``tolerance``: how far a timestamp may be from it (Sumsub: 60 s).
    ``rate_limit``: requests per :data:`WINDOW` per app token (``None``: no limit).
    Thread-safe: the sandbox serves each request on its own thread.
    """

    name = "sumsub"
    settings: Mapping[str, str] = {
        "app_token": SANDBOX_APP_TOKEN,
        "secret_key": SANDBOX_SECRET_KEY,
    }
    scenarios: Sequence[Scenario] = SCENARIOS
    webhook_settings: Mapping[str, str] = {"webhook_secret": SANDBOX_WEBHOOK_SECRET}
    """What a webhook receiver needs to verify :meth:`webhook_deliveries`."""

    def webhook_deliveries(self, now: float) -> list[Any]:
        """Signed deliveries of every story's status changes, then the faults.

        See :func:`webhook_deliveries`.
        """
        return webhook_deliveries(now)

    def __init__(self, *, clock: Callable[[], float] = time.time,
                 tolerance: float = TOLERANCE,
                 rate_limit: int | None = WINDOW_LIMIT) -> None:
        if rate_limit is not None and rate_limit <= 0:
            raise ValueError("rate_limit must be positive or None")
        self.clock = clock
        self.tolerance = tolerance
        self.rate_limit = rate_limit
        self._lock = threading.Lock()
        self._calls: dict[str, int] = {}
        self._window: collections.deque[float] = collections.deque()
        self.answered: collections.Counter[int] = collections.Counter()
        """How many answers of each HTTP status were given since the last reset."""
        self.received: collections.deque[SimRequest] = collections.deque(maxlen=1000)
        """The last authenticated requests, as received."""

    def __repr__(self) -> str:
        return f"<SumsubSimulator rate_limit={self.rate_limit}>"

    def reset(self) -> None:
        """Start every scenario over; forget the rate window and the counts."""
        with self._lock:
            self._calls.clear()
            self._window.clear()
            self.answered.clear()
            self.received.clear()

    def calls(self, subject: str) -> int:
        """How many authenticated requests reached the script of ``subject`` (either id)."""
        script = _BY_ID.get(subject) or _BY_EXTERNAL.get(subject)
        if script is None:
            return 0
        with self._lock:
            return self._calls.get(script.applicant_id, 0)

    def handle(self, request: SimRequest) -> SimResponse:
        """Answer one request, as Sumsub would."""
        response = self._answer(request)
        with self._lock:
            self.answered[response.status] += 1
        return response

    def authenticate(self, request: SimRequest) -> SimResponse | None:
        """``None`` when the token, timestamp and signature are right; else the 401."""
        token = request.headers.get("x-app-token", "")
        if not token or not hmac.compare_digest(token.encode(), SANDBOX_APP_TOKEN.encode()):
            return fail(401, "App token is invalid")
        ts = request.headers.get("x-app-access-ts", "")
        if not ts.isascii() or not ts.isdigit():
            return _invalid_signature()
        if abs(self.clock() - int(ts)) > self.tolerance:
            return _invalid_signature()
        sent = request.headers.get("x-app-access-sig", "")
        expected = signature(SANDBOX_SECRET_KEY, ts, request.method, request.target,
                             request.body)
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            return _invalid_signature()
        return None

    def _answer(self, request: SimRequest) -> SimResponse:
        parts = request.path.split("/")
        if len(parts) != 5 or parts[1:3] != ["resources", "applicants"] or parts[4] != "one":
            return fail(404, "Not found")
        if request.method != "GET":
            return fail(405, "Method not allowed", headers={"Allow": "GET"})
        refused = self.authenticate(request)
        if refused is not None:
            return refused
        with self._lock:
            self.received.append(request)
        limited = self._over_limit()
        if limited is not None:
            return limited
        segment = parts[3]
        if segment.startswith(EXTERNAL_PREFIX):
            script = _BY_EXTERNAL.get(unquote(segment[len(EXTERNAL_PREFIX):]))
        else:
            script = _BY_ID.get(unquote(segment))
        if script is None:
            return fail(404, "Applicant not found")
        with self._lock:
            n = self._calls.get(script.applicant_id, 0)
            self._calls[script.applicant_id] = n + 1
        step = script.steps[min(n, len(script.steps) - 1)]
        steps = script.steps[: n + 1]  # a resubmission starts a new attempt
        attempt = 1 + sum(1 for a, b in itertools.pairwise(steps) if a is RETRY and b is not RETRY)
        return step.respond(script.applicant_id, script.external_user_id, attempt)

    def _over_limit(self) -> SimResponse | None:
        """Count this request in the sliding window; the 429 when it is full."""
        if self.rate_limit is None:
            return None
        with self._lock:
            now = self.clock()
            while self._window and self._window[0] <= now - WINDOW:
                self._window.popleft()
            if len(self._window) >= self.rate_limit:
                wait = max(1, math.ceil(self._window[0] + WINDOW - now))
                return fail(429, "Too many requests", headers={"Retry-After": str(wait)})
            self._window.append(now)
        return None


# -- webhooks -------------------------------------------------------------------------------

EVENT_TYPES: Mapping[str, str] = {
    "init": "applicantCreated",
    "pending": "applicantPending",
    "queued": "applicantPending",
    "prechecked": "applicantPrechecked",
    "onHold": "applicantOnHold",
    "awaitingService": "applicantPending",
    "awaitingUser": "applicantPending",
    "completed": "applicantReviewed",
}
"""The event Sumsub sends when a review reaches each status."""

WEBHOOK_FAULT_NUMBER = 0xFFFFF0
"""The applicant number of the out-of-order and fault deliveries (no scenario has it)."""


def _created_at_ms(at: float) -> str:
    import datetime as dt

    when = dt.datetime.fromtimestamp(at, dt.timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M:%S.") + f"{when.microsecond // 1000:03d}"


def webhook_body(step: Step, aid: str, external: str, at: float,
                 event: str | None = None, **extra: Any) -> bytes:
    """A delivery body for ``step`` of applicant ``aid`` at ``at`` (Unix seconds)."""
    payload: dict[str, Any] = {
        "applicantId": aid,
        "inspectionId": f"in{aid[2:]}",
        "correlationId": f"req-{aid[-6:]}-{int(at)}",
        "levelName": "basic-kyc-level",
        "externalUserId": external,
        "type": event or EVENT_TYPES.get(str(step.status), "applicantPending"),
        "sandboxMode": True,
        "reviewStatus": step.status,
        "createdAtMs": _created_at_ms(at),
        "applicantType": "individual",
        **extra,
    }
    result = review(step, aid, 1).get("reviewResult")
    if result is not None:
        payload["reviewResult"] = result
    return _json_bytes(payload)


def webhook_digest(body: bytes, secret: str = SANDBOX_WEBHOOK_SECRET,
                   algorithm: str = "sha256") -> str:
    """``X-Payload-Digest``: the hex HMAC of the raw body."""
    import hashlib
    import hmac

    return hmac.new(secret.encode(), body, getattr(hashlib, algorithm)).hexdigest()


def webhook_deliveries(now: float, *, max_body: int = 256 * 1024) -> list[Any]:
    """Signed deliveries for every story's status changes, then the faults.

    One second apart, in order; the faults: a replay, an out-of-order pair, SHA-512 and
    SHA-1 digests (accepted), a bad digest, an undocumented algorithm, ``applicantDeleted``
    (acknowledged), a non-JSON body, a body over the receiver's cap. Sumsub signs no time:
    no stale-timestamp fault.
    """
    from kycbridge.webhooks.push import Delivery, status_changes

    names = {"sha256": "HMAC_SHA256_HEX", "sha512": "HMAC_SHA512_HEX", "sha1": "HMAC_SHA1_HEX"}

    def signed(label: str, body: bytes, expect: str = "accepted", algorithm: str = "sha256",
               secret: str = SANDBOX_WEBHOOK_SECRET, alg_name: str | None = None) -> Delivery:
        headers = {"content-type": "application/json",
                   "x-payload-digest": webhook_digest(body, secret, algorithm),
                   "x-payload-digest-alg": alg_name or names[algorithm]}
        return Delivery(label, headers, body, expect)

    scripts = sorted({id(s): s for s in _BY_ID.values()}.values(), key=lambda s: s.number)
    changes = []
    for script in scripts:
        steps = {s.played: s for s in script.steps if s.fault is None and s.status}
        for word in status_changes((s.played for s in script.steps if s.fault is None), steps):
            changes.append((script, steps[word]))
    deliveries = [
        signed(f"{script.external_user_id}: {step.played}",
               webhook_body(step, script.applicant_id, script.external_user_id,
                            now - len(changes) + i))
        for i, (script, step) in enumerate(changes)
    ]
    if deliveries:
        first = deliveries[0]
        deliveries.append(Delivery(f"replay of {first.label}", first.headers, first.body,
                                   "duplicate"))
    aid, ext = applicant_id(WEBHOOK_FAULT_NUMBER), "sandbox-webhook-faults"
    deliveries += [
        signed("out of order: completed GREEN (newer)", webhook_body(GREEN, aid, ext, now - 10)),
        signed("out of order: pending (older, arrives late)",
               webhook_body(PENDING, aid, ext, now - 20), "stale"),
        signed("HMAC_SHA512_HEX digest", webhook_body(ON_HOLD, aid, ext, now - 25), "stale",
               "sha512"),
        signed("HMAC_SHA1_HEX digest (legacy)", webhook_body(QUEUED, aid, ext, now - 26),
               "stale", "sha1"),
        signed("bad digest (another secret)", webhook_body(FINAL, aid, ext, now),
               "unauthorized", secret="not-the-sandbox-webhook-secret"),  # noqa: S106
        signed("undocumented algorithm", webhook_body(FINAL, aid, ext, now), "unauthorized",
               alg_name="HMAC_MD5_HEX"),
        signed("applicantDeleted (no status: acknowledged)",
               webhook_body(GREEN, aid, ext, now, event="applicantDeleted"), "acknowledged"),
        signed("not JSON", b"<html>not json</html>", "malformed"),
        signed("body over the receiver's cap",
               webhook_body(GREEN, aid, ext, now, padding="x" * max_body), "too_large"),
    ]
    return deliveries
