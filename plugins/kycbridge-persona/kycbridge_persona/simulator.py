"""A Persona look-alike for the sandbox: :class:`PersonaSimulator`.

It answers as Persona's API reference says:

- ``GET /inquiries/{inquiry-id}`` -> ``{"data": <inquiry>}`` (JSON:API);
- ``GET /inquiries?filter[reference-id]=<id>&page[size]=<n>`` -> ``{"data": [<inquiry>...],
  "links": {...}}``, newest first (an unknown reference id gives ``{"data": []}``);
- ``Authorization: Bearer <key>``: the key must be :data:`SANDBOX_API_KEY` (401 otherwise);
- ``Persona-Version``, when sent, must be a ``YYYY-MM-DD`` date (400 otherwise);
- ``Key-Inflection``: ``kebab`` (the default here), ``snake`` or ``camel`` attribute names
  (400 for another value);
- 300 requests per fixed one-minute window per API key: every authenticated answer carries
  ``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset`` (seconds); beyond the
  limit, 429 with those headers and no ``Retry-After`` (Persona documents none);
- errors as ``{"errors": [{"title", "details", "source": {"pointer"}}]}``.

Scripted inquiries (:data:`SCENARIOS`, the sandbox's test cards) move one step per request;
any other inquiry id answers 404. Where the documents are silent the simulator guesses: the
error titles and details, the extra attributes of an inquiry, the inquiry's lifetime.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote

import attrs

from kycbridge.sandbox import Scenario, SimRequest, SimResponse

__all__ = [
    "JSON_TYPE",
    "RATE_LIMIT_PER_MINUTE",
    "REFERENCES",
    "SANDBOX_API_KEY",
    "SCENARIOS",
    "PersonaSimulator",
    "Step",
    "error_body",
    "inquiry",
]

SANDBOX_WEBHOOK_SECRET = "wbhsec_sandbox_persona_0123456789"  # noqa: S105 - a sandbox value
"""The secret the simulator's webhook deliveries are signed with."""

SANDBOX_WEBHOOK_SECRET_PREVIOUS = "wbhsec_sandbox_persona_previous_01"  # noqa: S105
"""The secret being rotated out (the rotation delivery is signed with both)."""

SANDBOX_API_KEY = "sandbox-persona-key"
"""The only API key the simulator accepts (sent as ``Authorization: Bearer <key>``)."""

RATE_LIMIT_PER_MINUTE = 300
"""Persona's documented limit per environment, per fixed one-minute window."""

JSON_TYPE = "application/json; charset=utf-8"

_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")
_EPOCH = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.timezone.utc)
_TEMPLATE_ID = "itmpl_SandboxGovIdSelfie01"
_ACCOUNT_ID = "act_SandboxAccount0001"


# -- answers -------------------------------------------------------------------------------


def error_body(title: str, details: str, pointer: str | None = None) -> dict[str, Any]:
    """Persona's error body: ``{"errors": [{"title", "details", "source"?}]}``."""
    error: dict[str, Any] = {"title": title, "details": details}
    if pointer is not None:
        error["source"] = {"pointer": pointer}
    return {"errors": [error]}


def error_answer(status: int, title: str, details: str, pointer: str | None = None,
                 **kwargs: Any) -> SimResponse:
    """An error in Persona's shape."""
    return SimResponse.json(status, error_body(title, details, pointer),
                            content_type=JSON_TYPE, **kwargs)


def _stamp(minutes: int) -> str:
    return (_EPOCH + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def inquiry(inquiry_id: str, status: str, *, reference_id: str | None = None,
            age: int = 0) -> dict[str, Any]:
    """An inquiry resource object (kebab-case keys) in ``status``.

    ``age`` shifts its timestamps (minutes after the sandbox epoch: larger is newer).
    """
    started = status != "created"
    finished = status in ("completed", "needs_review", "approved", "declined")
    decided = status in ("approved", "declined")
    attributes: dict[str, Any] = {
        "status": status,
        "reference-id": reference_id,
        "note": None,
        "tags": [],
        "creator": "API",
        "reviewer-comment": None,
        "created-at": _stamp(age),
        "started-at": _stamp(age + 1) if started else None,
        "completed-at": _stamp(age + 5) if finished else None,
        "failed-at": _stamp(age + 5) if status == "failed" else None,
        "marked-for-review-at": _stamp(age + 6) if status == "needs_review" else None,
        "decisioned-at": _stamp(age + 7) if decided else None,
        "expired-at": _stamp(age + 24 * 60) if status == "expired" else None,
        "redacted-at": None,
        "previous-step-name": "start" if started else None,
        "next-step-name": "success" if finished else "selfie",
        # Personal attributes Persona returns: the provider must not copy them to details.
        "name-first": "Jane" if started else None,
        "name-middle": None,
        "name-last": "Sandbox" if started else None,
        "birthdate": "1990-01-01" if started else None,
        "address-street-1": None,
        "email-address": None,
        "phone-number": None,
        "fields": {"name-first": {"type": "string", "value": "Jane" if started else None}},
    }
    return {
        "type": "inquiry",
        "id": inquiry_id,
        "attributes": attributes,
        "relationships": {
            "account": {"data": {"type": "account", "id": _ACCOUNT_ID}},
            "template": {"data": None},
            "inquiry-template": {"data": {"type": "inquiry-template", "id": _TEMPLATE_ID}},
            "inquiry-template-version": {"data": None},
            "reports": {"data": []},
            "verifications": {"data": []},
            "sessions": {"data": []},
            "documents": {"data": []},
            "selfies": {"data": []},
        },
    }


def _inflect_key(key: str, inflection: str) -> str:
    if inflection == "snake":
        return key.replace("-", "_")
    if inflection == "camel":
        head, *rest = key.split("-")
        return head + "".join(p[:1].upper() + p[1:] for p in rest)
    return key


def inflect(value: Any, inflection: str) -> Any:
    """``value`` with every object key rewritten for ``Key-Inflection`` (kebab: unchanged)."""
    if inflection == "kebab":
        return value
    if isinstance(value, dict):
        return {_inflect_key(k, inflection): inflect(v, inflection) for k, v in value.items()}
    if isinstance(value, list):
        return [inflect(v, inflection) for v in value]
    return value


def _json(payload: Any, status: int = 200, **kwargs: Any) -> SimResponse:
    return SimResponse(status, json.dumps(payload).encode("utf-8"),
                       content_type=kwargs.pop("content_type", JSON_TYPE), **kwargs)


@attrs.frozen
class Step:
    """One scripted answer: an inquiry in ``status``, or, with ``fault``, something else."""

    status: str = "pending"
    fault: Callable[[str, str], SimResponse] | None = None
    """Answer this instead (given the inquiry id and the inflection)."""

    def answer(self, inquiry_id: str, inflection: str) -> SimResponse:
        """The simulated answer for ``inquiry_id``."""
        if self.fault is not None:
            return self.fault(inquiry_id, inflection)
        return _json({"data": inflect(inquiry(inquiry_id, self.status), inflection)})


def _fault(builder: Callable[[str, str], SimResponse]) -> Step:
    return Step(fault=builder)


def _ok(status: str) -> Callable[[str, str], dict[str, Any]]:
    return lambda i, inf: {"data": inflect(inquiry(i, status), inf)}


_GATEWAY_502 = (
    b"<html><head><title>502 Bad Gateway</title></head><body>"
    b"<center><h1>502 Bad Gateway</h1></center></body></html>"
)
_LOGIN_PAGE = b"<!doctype html><html><head><title>Persona</title></head><body></body></html>"


def _rate_headers(remaining: int = 0, reset: int = 30) -> dict[str, str]:
    return {"RateLimit-Limit": str(RATE_LIMIT_PER_MINUTE),
            "RateLimit-Remaining": str(remaining), "RateLimit-Reset": str(reset)}


def _too_many(headers: Mapping[str, str]) -> SimResponse:
    return error_answer(429, "Too Many Requests", "Rate limit exceeded. Try again later.",
                        headers=dict(headers))


def _missing(i: str, inf: str) -> SimResponse:
    resource = inquiry(i, "pending")
    attributes = resource["attributes"]
    resource["attributes"] = {"status": attributes["status"]}
    del resource["relationships"]
    return _json({"data": resource})


def _extra(i: str, inf: str) -> SimResponse:
    resource = inquiry(i, "needs_review")
    resource["attributes"].update({"risk-score": 12, "behaviors": {"bot-score": 1}})
    resource["meta"] = {"sandbox": True}
    return _json({"data": resource, "included": [{"type": "verification/selfie", "id": "x"}],
                  "meta": {"api-version": "2023-01-05"}})


def _wrong_types(i: str, inf: str) -> SimResponse:
    resource = inquiry(i, "approved")
    resource["attributes"]["status"] = 3
    resource["attributes"]["created-at"] = ["2024-05-01"]
    return _json({"data": resource})


def _truncated(i: str, inf: str) -> SimResponse:
    full = json.dumps({"data": inquiry(i, "pending")}).encode()
    return SimResponse(200, full[: len(full) // 2], content_type=JSON_TYPE)


FAULTS: Mapping[str, tuple[Step, str, str, tuple[str, ...]]] = {
    # inquiry id: (step, outcome, description, played)
    "inq_Fault400": (_fault(lambda i, f: error_answer(
        400, "Bad Request", "Invalid parameter", "/data/attributes")),
        "request_rejected", "400 Bad Request", ()),
    "inq_Fault403": (_fault(lambda i, f: error_answer(
        403, "Forbidden", "API key lacks the permission inquiry.read")),
        "authentication", "403: the key lacks the permission", ()),
    "inq_FaultQuota": (_fault(lambda i, f: error_answer(
        403, "Quota Exceeded", "Your organization has exceeded its quota")),
        "rate_limited", "403 quota exceeded (a rate limit, not a bad key)", ()),
    "inq_Fault409": (_fault(lambda i, f: error_answer(
        409, "Conflict", "Inquiry is being modified")),
        "request_rejected", "409 Conflict", ()),
    "inq_Fault422": (_fault(lambda i, f: error_answer(
        422, "Unprocessable Entity", "Inquiry cannot be read in its state")),
        "request_rejected", "422 Unprocessable Entity", ()),
    "inq_Fault500": (_fault(lambda i, f: error_answer(
        500, "Internal Server Error", "Something went wrong")),
        "unavailable", "500, every time", ()),
    "inq_Fault502": (_fault(lambda i, f: SimResponse(502, _GATEWAY_502, content_type="text/html")),
                     "unavailable", "502 with a gateway's HTML page", ()),
    "inq_Fault503": (_fault(lambda i, f: error_answer(
        503, "Service Unavailable", "Try again later", headers={"Retry-After": "1"})),
        "unavailable", "503 with Retry-After: 1", ()),
    "inq_Fault504": (_fault(lambda i, f: SimResponse(504, b"", content_type="")),
                     "unavailable", "504 with an empty body", ()),
    "inq_Fault429": (_fault(lambda i, f: _too_many(_rate_headers(0, 42))),
                     "rate_limited", "429 with RateLimit-Reset: 42 and no Retry-After", ()),
    "inq_Fault429RetryAfter": (_fault(lambda i, f: _too_many(
        {**_rate_headers(0, 42), "Retry-After": "1"})),
        "rate_limited", "429 with Retry-After: 1 (wins over RateLimit-Reset)", ()),
    "inq_FaultSlow": (_fault(lambda i, f: _json(_ok("pending")(i, f), delay=2.0)),
                      "in_progress", "answers after 2 s", ("pending",)),
    "inq_FaultInvalidJson": (_fault(lambda i, f: SimResponse(
        200, b'{"data": {"type": inquiry}}', content_type=JSON_TYPE)),
        "malformed_response", "200 whose body is not JSON", ()),
    "inq_FaultTruncatedJson": (_fault(_truncated), "malformed_response",
                               "200 with half a JSON document", ()),
    "inq_FaultHtml": (_fault(lambda i, f: SimResponse(200, _LOGIN_PAGE, content_type="text/html")),
                      "malformed_response", "200 with an HTML page", ()),
    "inq_FaultWrongContentType": (_fault(lambda i, f: SimResponse(
        200, json.dumps(_ok("pending")(i, f)).encode(), content_type="text/plain")),
        "malformed_response", "200 with a JSON body served as text/plain", ()),
    "inq_FaultEmptyBody": (_fault(lambda i, f: SimResponse(200, b"", content_type=JSON_TYPE)),
                           "malformed_response", "200 with an empty body", ()),
    "inq_FaultDrop": (_fault(lambda i, f: SimResponse(200, drop=True)),
                      "unavailable", "the connection is closed without an answer", ()),
    "inq_FaultDropMidBody": (_fault(lambda i, f: _json(_ok("pending")(i, f), truncate=40)),
                             "unavailable", "the connection is closed after 40 bytes", ()),
    "inq_FaultMissingFields": (_fault(_missing), "in_progress",
                               "only attributes.status, no relationships: still a report",
                               ("pending",)),
    "inq_FaultExtraFields": (_fault(_extra), "in_review",
                             "undocumented fields everywhere: ignored", ("needs_review",)),
    "inq_FaultWrongTypes": (_fault(_wrong_types), "malformed_response",
                            "status is a number, created-at an array: malformed", ()),
    "inq_FaultNotInquiry": (_fault(lambda i, f: _json(
        {"data": {"type": "account", "id": _ACCOUNT_ID, "attributes": {"status": "active"}}})),
        "malformed_response", "data is an account, not an inquiry", ()),
    "inq_FaultSnakeCase": (_fault(lambda i, f: _json(
        {"data": inflect(inquiry(i, "completed"), "snake")})),
        "submitted", "snake_case keys despite Key-Inflection: read too", ("completed",)),
}
"""The fault inquiries' single (repeating) answer."""


# -- scenarios -----------------------------------------------------------------------------

CR, PE, CO, NR = Step("created"), Step("pending"), Step("completed"), Step("needs_review")
OK, NO = Step("approved"), Step("declined")
F503 = FAULTS["inq_Fault503"][0]
F500 = FAULTS["inq_Fault500"][0]
F429 = _fault(lambda i, f: _too_many(_rate_headers(0, 1)))  # a short window left

_STORIES: Sequence[tuple[str, Sequence[Step], str, str, bool]] = (
    # (inquiry id, steps, outcome, description, demo)
    ("inq_SandboxApproved", (CR, PE, CO, OK), "approved",
     "the happy path: created, pending, completed, approved", True),
    ("inq_SandboxDeclined", (CR, PE, CO, NR, NO), "rejected",
     "completed, sent to manual review, declined", True),
    ("inq_SandboxReviewApproved", (PE, CO, NR, OK), "approved",
     "completed, manual review, approved", False),
    ("inq_SandboxFailed", (CR, PE, Step("failed")), "rejected",
     "the user used up the allowed attempts: failed (rejected)", False),
    ("inq_SandboxExpired", (CR, PE, Step("expired")), "expired",
     "the user did not finish in time: expired", False),
    ("inq_SandboxCreated", (CR,), "not_started", "created, never started", False),
    ("inq_SandboxCompleted", (PE, CO), "submitted",
     "completed with no decision (an account without decisioning stays here)", False),
    ("inq_SandboxUnknown", (PE, Step("under_investigation")), "unknown",
     "a status nobody documented (kept as raw_status)", False),
    ("inq_SandboxFlaky", (CR, F503, PE, F500, CO, F429, OK), "approved",
     "transient 503, 500 and 429 (RateLimit-Reset: 1) between the steps of the happy path",
     False),
)

REFERENCES: Mapping[str, Sequence[tuple[str, Sequence[Step]]]] = {
    # reference id: its inquiries, oldest first (each with its own script)
    "sandbox-user-approved": (
        ("inq_RefOldExpired", (Step("expired"),)),
        ("inq_RefOldDeclined", (Step("declined"),)),
        ("inq_RefNewest", (CR, PE, CO, OK)),
    ),
    "sandbox-user-review": (("inq_RefReview", (CO, NR)),),
}
"""Reference ids with inquiries: the list call answers them newest first."""

_REFERENCE_STORIES: Sequence[tuple[str, str, str, bool]] = (
    ("sandbox-user-approved", "approved",
     "three inquiries (expired, declined, then a new one): the newest wins, and is approved",
     True),
    ("sandbox-user-review", "in_review", "one inquiry: completed, then in review", False),
)


def _build() -> tuple[tuple[Scenario, ...], dict[str, tuple[Step, ...]]]:
    scenarios: list[Scenario] = []
    scripts: dict[str, tuple[Step, ...]] = {}
    for inquiry_id, steps, outcome, description, demo in _STORIES:
        played = tuple(s.status for s in steps if s.fault is None)
        scenarios.append(Scenario(inquiry_id, {"inquiry_id": inquiry_id}, description,
                                  played, outcome, demo))
        scripts[inquiry_id] = tuple(steps)
    for reference, outcome, description, demo in _REFERENCE_STORIES:
        newest_steps = REFERENCES[reference][-1][1]
        played = tuple(s.status for s in newest_steps if s.fault is None)
        scenarios.append(Scenario(reference, {"reference_id": reference}, description,
                                  played, outcome, demo))
    for inquiries in REFERENCES.values():
        for inquiry_id, steps in inquiries:
            scripts[inquiry_id] = tuple(steps)
    scenarios.append(Scenario("sandbox-user-none", {"reference_id": "sandbox-user-none"},
                              "no inquiry with this reference id: an empty list",
                              (), "not_found"))
    scenarios.append(Scenario("inq_SandboxNotFound", {"inquiry_id": "inq_SandboxNotFound"},
                              "no such inquiry: 404, every time", (), "not_found"))
    for inquiry_id, (step, outcome, description, played) in FAULTS.items():
        scenarios.append(Scenario(inquiry_id, {"inquiry_id": inquiry_id}, description,
                                  played, outcome))
        scripts[inquiry_id] = (step,)
    return tuple(scenarios), scripts


SCENARIOS, _SCRIPTS = _build()
"""Every scripted subject (also ``PersonaSimulator().scenarios``)."""

_AGES = {
    inquiry_id: index * 60 * 24
    for inquiries in REFERENCES.values()
    for index, (inquiry_id, _) in enumerate(inquiries)
}


# -- the simulator ---------------------------------------------------------------------------


class PersonaSimulator:
    """Persona's inquiry endpoints on loopback; a :class:`kycbridge.sandbox.Simulator`.

    ``rate_limit``: requests allowed per fixed one-minute window per API key (``None``: no
    limit). ``tolerance``: seconds shaved off each window's end, so a client spacing its
    calls at exactly the limit is not refused for the jitter between its clock and this one.
    ``clock``: the time source (tests). Thread-safe.
    """

    name = "persona"
    settings: Mapping[str, str] = {"api_key": SANDBOX_API_KEY}
    scenarios: Sequence[Scenario] = SCENARIOS
    webhook_settings: Mapping[str, str] = {"webhook_secret": SANDBOX_WEBHOOK_SECRET}
    """What a webhook receiver needs to verify :meth:`webhook_deliveries`."""

    def webhook_deliveries(self, now: float) -> list[Any]:
        """Signed deliveries of every story's status changes, then the faults.

        See :func:`webhook_deliveries`.
        """
        return webhook_deliveries(now)

    def __init__(self, *, rate_limit: int | None = RATE_LIMIT_PER_MINUTE,
                 tolerance: float = 0.1,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate_limit is not None and rate_limit <= 0:
            raise ValueError("rate_limit must be positive or None")
        if not 0 <= tolerance < 1:
            raise ValueError("tolerance must be in [0, 1)")
        self.rate_limit = rate_limit
        self.tolerance = tolerance
        self._clock = clock
        self._lock = threading.Lock()
        self._calls: dict[str, int] = {}
        self._windows: dict[str, tuple[float, int]] = {}
        self.answered: dict[int, int] = {}
        """How many answers of each HTTP status were given since the last reset."""

    def __repr__(self) -> str:
        return f"<PersonaSimulator rate_limit={self.rate_limit}>"

    def reset(self) -> None:
        """Start every scenario over; forget the rate-limit windows and counts."""
        with self._lock:
            self._calls.clear()
            self._windows.clear()
            self.answered.clear()

    def calls(self, inquiry_id: str) -> int:
        """How many requests reached ``inquiry_id``'s script since the last reset."""
        with self._lock:
            return self._calls.get(inquiry_id, 0)

    def handle(self, request: SimRequest) -> SimResponse:
        """Answer one request, as Persona would."""
        response = self._answer(request)
        with self._lock:
            self.answered[response.status] = self.answered.get(response.status, 0) + 1
        return response

    def _answer(self, request: SimRequest) -> SimResponse:
        segments = [unquote(s) for s in request.path.split("/")[1:]]
        if not segments or segments[0] != "inquiries" or len(segments) > 2:
            return error_answer(404, "Not Found", "Route not found")
        if request.method != "GET":
            return error_answer(405, "Method Not Allowed", "Method not allowed",
                                headers={"Allow": "GET"})
        auth = request.headers.get("authorization", "")
        scheme, _, key = auth.partition(" ")
        if not auth:
            return error_answer(401, "Unauthorized", "Must be authenticated to access")
        if scheme != "Bearer" or key != SANDBOX_API_KEY:
            return error_answer(401, "Unauthorized", "Invalid API key")
        version = request.headers.get("persona-version")
        if version is not None and not _valid_version(version):
            return error_answer(400, "Bad Request", "Persona-Version must be a YYYY-MM-DD date",
                                "/headers/Persona-Version")
        inflection = request.headers.get("key-inflection", "kebab")
        if inflection not in ("kebab", "snake", "camel"):
            return error_answer(400, "Bad Request", "Key-Inflection must be kebab, snake or "
                                "camel", "/headers/Key-Inflection")
        limited, headers = self._window(key)
        if limited:
            return _too_many(headers)
        if len(segments) == 2:
            answer = self._inquiry(segments[1], inflection)
        else:
            answer = self._list(request, inflection)
        if answer.status == 429:  # a scripted 429 keeps its own headers
            return answer
        return attrs.evolve(answer, headers={**headers, **answer.headers})

    def _step(self, inquiry_id: str) -> Step | None:
        script = _SCRIPTS.get(inquiry_id)
        if script is None:
            return None
        with self._lock:
            n = self._calls.get(inquiry_id, 0)
            self._calls[inquiry_id] = n + 1
        return script[min(n, len(script) - 1)]

    def _inquiry(self, inquiry_id: str, inflection: str) -> SimResponse:
        step = self._step(inquiry_id)
        if step is None:
            return error_answer(404, "Not Found", "Could not find Inquiry")
        return step.answer(inquiry_id, inflection)

    def _list(self, request: SimRequest, inflection: str) -> SimResponse:
        reference = request.param("filter[reference-id]")
        size_text = request.param("page[size]") or "10"
        if not size_text.isdigit() or not 1 <= int(size_text) <= 100:
            return error_answer(400, "Bad Request", "page[size] must be between 1 and 100",
                                "/page/size")
        size = int(size_text)
        found = [] if reference is None else list(REFERENCES.get(reference, ()))
        items: list[dict[str, Any]] = []
        for inquiry_id, _ in reversed(found):  # newest first
            if len(items) == size:
                break
            step = self._step(inquiry_id)
            assert step is not None
            resource = inquiry(inquiry_id, step.status, reference_id=reference,
                               age=_AGES.get(inquiry_id, 0))
            items.append(inflect(resource, inflection))
        links = {"prev": None, "next": None if len(found) <= size else
                 f"/api/v1/inquiries?page%5Bafter%5D={items[-1]['id']}"}
        return _json({"data": items, "links": links})

    def _window(self, key: str) -> tuple[bool, dict[str, str]]:
        """Count this request in ``key``'s fixed window: (over the limit?, RateLimit-*)."""
        if self.rate_limit is None:
            return False, {}
        with self._lock:
            now = self._clock()
            start, used = self._windows.get(key, (now, 0))
            if now >= start + 60.0 - self.tolerance:
                start, used = now, 0
            over = used >= self.rate_limit
            if not over:
                used += 1
            self._windows[key] = (start, used)
        reset = max(0, math.ceil(start + 60.0 - now))
        return over, {
            "RateLimit-Limit": str(self.rate_limit),
            "RateLimit-Remaining": str(max(0, self.rate_limit - used)),
            "RateLimit-Reset": str(reset),
        }


def _valid_version(value: str) -> bool:
    if not _VERSION.fullmatch(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


# -- webhooks -------------------------------------------------------------------------------

EVENT_NAMES: Mapping[str, str] = {
    "created": "inquiry.created",
    "pending": "inquiry.started",
    "completed": "inquiry.completed",
    "needs_review": "inquiry.marked-for-review",
    "approved": "inquiry.approved",
    "declined": "inquiry.declined",
    "failed": "inquiry.failed",
    "expired": "inquiry.expired",
}
"""The event Persona sends when an inquiry reaches each status."""

WEBHOOK_FAULT_INQUIRY = "inq_WebhookOutOfOrder"
"""The inquiry of the out-of-order deliveries (no polled scenario has it)."""


def _iso_at(at: float) -> str:
    when = dt.datetime.fromtimestamp(at, dt.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def webhook_body(event_id: str, name: str, inquiry_id: str, status: str | None, at: float,
                 **extra: Any) -> bytes:
    """An event body: ``name`` about ``inquiry_id`` (in ``status``) created at ``at``."""
    payload = {"data": inquiry(inquiry_id, status or "approved")}
    attributes: dict[str, Any] = {"name": name, "created-at": _iso_at(at), "payload": payload,
                                  **extra}
    return json.dumps({"data": {"type": "event", "id": event_id,
                                "attributes": attributes}}).encode()


def webhook_signature(body: bytes, t: float, *secrets: str) -> str:
    """``Persona-Signature``: one ``t=..,v1=..`` set per secret, space-separated."""
    import hashlib
    import hmac

    stamp = str(int(t))
    return " ".join(
        f"t={stamp},v1="
        + hmac.new(s.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        for s in secrets
    )


def webhook_deliveries(now: float, *, max_body: int = 256 * 1024) -> list[Any]:
    """Signed deliveries for every story's status changes, then the faults.

    Events ``created-at`` one second apart, in order; the faults: a replay, an
    out-of-order pair, a rotation (two signature sets), a bad signature, a stale
    timestamp, a redaction (acknowledged), a non-JSON body and a body over the cap.
    """
    from kycbridge.webhooks.push import Delivery, status_changes

    def signed(label: str, body: bytes, expect: str = "accepted", at: float = now,
               secrets: tuple[str, ...] = (SANDBOX_WEBHOOK_SECRET,)) -> Delivery:
        headers = {"content-type": "application/json",
                   "persona-signature": webhook_signature(body, at, *secrets)}
        return Delivery(label, headers, body, expect)

    changes = [
        (inquiry_id, word)
        for inquiry_id, steps, _, _, _ in _STORIES
        for word in status_changes((s.status for s in steps if s.fault is None), EVENT_NAMES)
    ]
    deliveries = [
        signed(f"{inquiry_id}: {EVENT_NAMES[word]}",
               webhook_body(f"evt_Sandbox{i:04d}", EVENT_NAMES[word], inquiry_id, word,
                            now - len(changes) + i))
        for i, (inquiry_id, word) in enumerate(changes)
    ]
    if deliveries:
        first = deliveries[0]
        deliveries.append(Delivery(f"replay of {first.label}", first.headers, first.body,
                                   "duplicate"))
    inq = WEBHOOK_FAULT_INQUIRY
    deliveries += [
        signed("out of order: inquiry.approved (newer)",
               webhook_body("evt_SandboxOoo1", "inquiry.approved", inq, "approved", now - 10)),
        signed("out of order: inquiry.completed (older, arrives late)",
               webhook_body("evt_SandboxOoo2", "inquiry.completed", inq, "completed", now - 20),
               "stale"),
        signed("secret rotation: two signature sets (the previous secret first)",
               webhook_body("evt_SandboxRotate", "inquiry.approved", inq, "approved", now - 5),
               secrets=(SANDBOX_WEBHOOK_SECRET_PREVIOUS, SANDBOX_WEBHOOK_SECRET)),
        signed("bad signature (another secret)",
               webhook_body("evt_SandboxBad", "inquiry.declined", inq, "declined", now),
               "unauthorized", secrets=("wbhsec_not_the_sandbox_secret",)),
        signed("stale timestamp (signed an hour ago)",
               webhook_body("evt_SandboxStale", "inquiry.declined", inq, "declined", now),
               "unauthorized", at=now - 3600),
        signed("inquiry.redacted (no status change: acknowledged)",
               webhook_body("evt_SandboxRedacted", "inquiry.redacted", inq, None, now),
               "acknowledged"),
        signed("not JSON", b"<html>not json</html>", "malformed"),
        signed("body over the receiver's cap",
               webhook_body("evt_SandboxLarge", "inquiry.approved", inq, "approved", now,
                            padding="x" * max_body), "too_large"),
    ]
    return deliveries
