"""An Onfido look-alike for the sandbox: :class:`OnfidoSimulator`.

It answers ``GET /workflow_runs/{workflow_run_id}`` (below the base URL, which carries the
``/v3.6`` prefix in production; the simulator serves it with or without ``/v3.6``) as
Onfido's API v3.6 does:

* authentication: the header ``Authorization`` must be exactly
  ``Token token=<SANDBOX_API_TOKEN>``; anything else (missing, another scheme, another
  token) is a 401 ``authorization_error``;
* answers: the workflow run object (``id``, ``applicant_id``, ``workflow_id``,
  ``workflow_version_id``, ``dashboard_url``, ``status``, ``output``, ``reasons``, ``error``,
  ``sdk_token``, ``tags``, ``customer_user_id``, ``link``, ``created_at``, ``updated_at``),
  errors as ``{"error": {"type", "message", "fields"}}``;
* OAuth2 (RFC 6749 client credentials; unconfirmed for Onfido): ``POST /oauth/token`` with
  the form ``grant_type=client_credentials&client_id=...&client_secret=...`` (the
  :data:`SANDBOX_CLIENT_ID` and :data:`SANDBOX_CLIENT_SECRET`) answers ``{"access_token",
  "token_type": "Bearer", "expires_in"}``; ``Authorization: Bearer <access token>`` is then
  accepted until it expires on ``token_clock``, after which it is a 401 with
  ``WWW-Authenticate: Bearer error="invalid_token"``; a wrong client is a 401
  ``invalid_client``; :attr:`OnfidoSimulator.exchanges` counts the tokens issued;
* the rate limit: 400 requests per minute per token over a sliding window, 429 with a
  ``Retry-After`` (Onfido's 429 body and headers are unconfirmed: the simulator's are a
  guess in Onfido's error shape);
* scripted workflow runs (:data:`SCENARIOS`, the sandbox's test cards) move one step per
  request; any other id is a 404 ``resource_not_found``.
"""

from __future__ import annotations

import collections
import json
import math
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs

import attrs

from kycbridge import faults
from kycbridge.sandbox import Scenario, SimRequest, SimResponse

__all__ = [
    "RATE_LIMIT_PER_MINUTE",
    "SANDBOX_API_TOKEN",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "SCENARIOS",
    "TOKEN_LIFETIME",
    "OnfidoSimulator",
    "Step",
    "error_answer",
    "workflow_run",
]

SANDBOX_WEBHOOK_TOKEN = "sandbox-onfido-webhook-token"  # noqa: S105 - a sandbox value
"""The token the simulator's webhook deliveries are signed with (``X-SHA2-Signature``)."""

SANDBOX_API_TOKEN = "api_sandbox.kycbridge.sandbox-token"  # noqa: S105 - a sandbox value
"""The only API token the simulator accepts."""

SANDBOX_CLIENT_ID = "sandbox-onfido-client"
"""The OAuth2 client id the simulator's token endpoint accepts."""

SANDBOX_CLIENT_SECRET = "sandbox-onfido-client-secret-0123456789"  # noqa: S105 - a sandbox value
"""The OAuth2 client secret the simulator's token endpoint accepts."""

TOKEN_LIFETIME = 3600
"""``expires_in`` of an issued access token, in seconds (Onfido's is unconfirmed)."""

RATE_LIMIT_PER_MINUTE = 400
"""Onfido's documented limit, per token."""

WORKFLOW_ID = "5c2a7f1e-3b4d-4e6f-8a9b-0c1d2e3f4a5b"
"""The workflow every scripted run executes."""

VERSION_PREFIX = "v3.6"
"""An optional first path segment: ``<sandbox>/onfido`` and ``<sandbox>/onfido/v3.6`` both
work as the base URL."""

_CREATED_AT = "2026-01-15T10:00:00Z"


# -- answers -------------------------------------------------------------------------------


def error_answer(
    status: int, kind: str, message: str, fields: Any = None, **kwargs: Any
) -> SimResponse:
    """An error in Onfido's shape: ``{"error": {"type", "message", "fields"}}``."""
    body = {"error": {"type": kind, "message": message, "fields": fields or {}}}
    return SimResponse.json(status, body, **kwargs)


def _not_found() -> SimResponse:
    return error_answer(404, "resource_not_found", "The requested resource could not be found")


def _unauthorized() -> SimResponse:
    return error_answer(401, "authorization_error", "Authorization error: please re-check your "
                        "credentials")


def rate_limited_answer(retry_after: int | None = 1) -> SimResponse:
    """A 429 (unconfirmed shape: Onfido's error body, ``Retry-After`` in seconds)."""
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return error_answer(429, "rate_limit", "Rate limit exceeded, please try again later",
                        headers=headers)


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "onfido-sandbox:" + ":".join(parts)))


@attrs.frozen
class Step:
    """One scripted answer: a 200 with this ``status`` or, with ``fault``, a fault."""

    status: str = "processing"
    """The run's ``status``."""
    reasons: tuple[str, ...] = ()
    """Its ``reasons``."""
    error: Mapping[str, str] | None = None
    """Its ``error`` object (with ``status`` ``error``)."""
    fault: Callable[[str], SimResponse] | None = None
    """Answer this instead (given the run id)."""

    def answer(self, run_id: str, n: int) -> SimResponse:
        """The simulated answer for ``run_id``'s ``n``-th request."""
        if self.fault is not None:
            return self.fault(run_id)
        return SimResponse.json(200, workflow_run(run_id, self, n))


def workflow_run(run_id: str, step: Step, n: int = 0) -> dict[str, Any]:
    """A workflow run object, as ``GET /workflow_runs/{id}`` returns it."""
    done = step.status in ("approved", "declined", "review", "abandoned", "error")
    return {
        "id": run_id,
        "applicant_id": _uuid("applicant", run_id),
        "workflow_id": WORKFLOW_ID,
        "workflow_version_id": 3,
        "dashboard_url": f"https://dashboard.onfido.com/results/{run_id}",
        "status": step.status,
        "output": {"decision": step.status} if done else None,
        "reasons": list(step.reasons),
        "error": dict(step.error) if step.error is not None else None,
        "sdk_token": "eyJhbGciOiJIUzI1NiJ9.eyJzYW5kYm94Ijp0cnVlfQ.c2FuZGJveC1zaWduYXR1cmU",
        "tags": ["kycbridge-sandbox"],
        "customer_user_id": "sandbox-user-" + _uuid("user", run_id)[:8],
        "link": {
            "url": f"https://eu.onfido.app/l/{_uuid('link', run_id)[:12]}",
            "completed_redirect_url": None,
            "expired_redirect_url": None,
            "expires_at": None,
            "language": None,
        },
        "created_at": _CREATED_AT,
        "updated_at": f"2026-01-15T10:{min(n, 59):02d}:00Z",
    }


def _fault(builder: Callable[[str], SimResponse]) -> Step:
    return Step(fault=builder)


def _json_bytes(payload: Any) -> bytes:
    return json.dumps(payload).encode("utf-8")


F500 = _fault(lambda r: error_answer(500, "internal_server_error", "Something went wrong"))


def _standard(name: str) -> Step:
    """A standard fault (:mod:`kycbridge.faults`), made from a ``review`` run."""
    return _fault(lambda r: faults.answer(
        name, SimResponse(200, _json_bytes(workflow_run(r, Step("review")))),
        title="Onfido - Sign in",
    ))


F502 = _standard("502")
F503 = _standard("503")
F504 = _standard("504")
F429 = _fault(lambda r: rate_limited_answer(1))


def _extra_fields(run_id: str) -> SimResponse:
    body = workflow_run(run_id, Step("review"))
    body.update({"workflow_run_extra": {"a": 1}, "risk": 0.3})
    body["link"]["qr_code"] = "data:image/png;base64,AAAA"
    return SimResponse.json(200, body)


_NULLS = {
    "id": None, "applicant_id": None, "workflow_id": None, "workflow_version_id": None,
    "dashboard_url": None, "output": None, "reasons": None, "error": None, "sdk_token": None,
    "tags": None, "customer_user_id": None, "link": None, "created_at": None,
    "updated_at": None,
}

FAULT_STEPS: Mapping[str, Step] = {
    "wfr-fault-500": F500,
    "wfr-fault-502": F502,
    "wfr-fault-503": F503,
    "wfr-fault-504": F504,
    "wfr-fault-429": F429,
    "wfr-fault-429-no-retry-after": _fault(lambda r: rate_limited_answer(None)),
    "wfr-fault-slow": _standard("slow"),
    "wfr-fault-invalid-json": _standard("invalid-json"),
    "wfr-fault-truncated-json": _standard("truncated-json"),
    "wfr-fault-html": _standard("html"),
    "wfr-fault-wrong-content-type": _standard("wrong-content-type"),
    "wfr-fault-empty-body": _standard("empty-body"),
    "wfr-fault-array": _fault(
        lambda r: SimResponse.json(200, [workflow_run(r, Step("review"))])
    ),
    "wfr-fault-drop": _standard("drop"),
    "wfr-fault-drop-mid-body": _standard("drop-mid-body"),
    "wfr-fault-missing-fields": _fault(
        lambda r: SimResponse.json(200, {"id": r, "status": "processing"})
    ),
    "wfr-fault-extra-fields": _fault(_extra_fields),
    "wfr-fault-nulls": _fault(
        lambda r: SimResponse.json(200, {**_NULLS, "status": "awaiting_input"})
    ),
    "wfr-fault-no-status": _fault(
        lambda r: SimResponse.json(200, {**workflow_run(r, Step()), "status": None})
    ),
    "wfr-fault-wrong-types": _fault(
        lambda r: SimResponse.json(
            200, {**workflow_run(r, Step("approved")), "workflow_version_id": "3",
                  "reasons": "none", "tags": [1]}
        )
    ),
}
"""The fault runs' single (repeating) answer, by run id."""


# -- scenarios -----------------------------------------------------------------------------

AI, PR, ACI = Step("awaiting_input"), Step("processing"), Step("awaiting_client_input")
RV, OK = Step("review"), Step("approved")
NO = Step("declined", reasons=("document_expired",))
ERR = Step("error", error={"type": "task_failed",
                           "message": "A task in the workflow failed to complete"})

_STORIES: Sequence[tuple[str, Sequence[Step], str, str, bool]] = (
    # (run id, steps, outcome, description, demo)
    ("wfr-approved", (AI, PR, RV, OK), "approved",
     "the user submits, the checks run, a reviewer approves", True),
    ("wfr-declined", (AI, PR, NO), "rejected",
     "the user submits, the checks run, declined (reasons: document_expired)", True),
    ("wfr-more-input", (AI, PR, AI, PR, OK), "approved",
     "the workflow asks the user for more input (action_required again), then approves",
     True),
    ("wfr-awaiting-input", (AI,), "action_required",
     "waiting on the user, every time", False),
    ("wfr-processing", (PR,), "in_progress", "the checks are running, every time", False),
    ("wfr-client-input", (AI, PR, ACI), "in_review",
     "waiting on the partner (a manual task of the client), not on the user", False),
    ("wfr-review", (PR, RV), "in_review", "ended in review: a reviewer decides", False),
    ("wfr-abandoned", (AI, Step("abandoned")), "abandoned",
     "the user never finished", False),
    ("wfr-error", (PR, ERR), "unknown",
     "the run failed (status error, its error object in the details)", False),
    ("wfr-instant-approved", (OK,), "approved", "approved on the first call", False),
    ("wfr-unknown-status", (PR, Step("on_hold")), "unknown",
     "a status nobody documented (kept as raw_status)", False),
    ("wfr-flaky", (AI, F503, PR, F500, F429, OK), "approved",
     "transient 503, 500 and 429 between the steps; a caller retrying transient errors "
     "sees awaiting_input, processing, approved", False),
)

_FAULT_STORIES: Mapping[str, tuple[tuple[str, ...], str, str]] = {
    # run id: (played, outcome, description)
    "wfr-fault-500": ((), "unavailable", "500 in Onfido's error shape, every time"),
    "wfr-fault-502": faults.row("502"),
    "wfr-fault-503": faults.row("503"),
    "wfr-fault-504": faults.row("504"),
    "wfr-fault-429": ((), "rate_limited", "429 with Retry-After: 1"),
    "wfr-fault-429-no-retry-after": ((), "rate_limited", "429 without Retry-After"),
    "wfr-fault-slow": faults.row("slow", played=("review",), outcome="in_review"),
    "wfr-fault-invalid-json": faults.row("invalid-json"),
    "wfr-fault-truncated-json": faults.row("truncated-json"),
    "wfr-fault-html": faults.row("html"),
    "wfr-fault-wrong-content-type": faults.row("wrong-content-type"),
    "wfr-fault-empty-body": faults.row("empty-body"),
    "wfr-fault-array": ((), "malformed_response",
                        "200 with a JSON array (the list endpoint's shape)"),
    "wfr-fault-drop": faults.row("drop"),
    "wfr-fault-drop-mid-body": faults.row("drop-mid-body"),
    "wfr-fault-missing-fields": (("processing",), "in_progress",
                                 "only id and status: still a report"),
    "wfr-fault-extra-fields": (("review",), "in_review",
                               "undocumented fields: ignored, still a report"),
    "wfr-fault-nulls": (("awaiting_input",), "action_required",
                        "every field null but status: nulls mean absent"),
    "wfr-fault-no-status": ((), "malformed_response", "status is null: not a workflow run"),
    "wfr-fault-wrong-types": ((), "malformed_response",
                              "workflow_version_id a string, reasons a string: malformed"),
}


def _build() -> tuple[tuple[Scenario, ...], dict[str, tuple[Step, ...]]]:
    scenarios: list[Scenario] = []
    scripts: dict[str, tuple[Step, ...]] = {}
    for run_id, steps, outcome, description, demo in _STORIES:
        played = tuple(s.status for s in steps if s.fault is None)
        scenarios.append(
            Scenario(run_id, {"workflow_run_id": run_id}, description, played, outcome, demo)
        )
        scripts[run_id] = tuple(steps)
    scenarios.append(
        Scenario("wfr-not-found", {"workflow_run_id": "wfr-not-found"},
                 "no such run: 404 resource_not_found (as any unscripted id)", (), "not_found")
    )
    scripts["wfr-not-found"] = (_fault(lambda r: _not_found()),)
    scenarios.append(
        Scenario("wfr-invalid-id", {"workflow_run_id": "wfr-invalid-id"},
                 "422 validation_error (an id Onfido refuses)", (), "request_rejected")
    )
    scripts["wfr-invalid-id"] = (_fault(lambda r: error_answer(
        422, "validation_error", "There was a validation error on this request",
        {"workflow_run_id": ["must be a valid UUID"]})),)
    for run_id, (played, outcome, description) in _FAULT_STORIES.items():
        scenarios.append(
            Scenario(run_id, {"workflow_run_id": run_id}, description, played, outcome)
        )
        scripts[run_id] = (FAULT_STEPS[run_id],)
    return tuple(scenarios), scripts


SCENARIOS, _SCRIPTS = _build()
"""Every scripted workflow run (also ``OnfidoSimulator().scenarios``)."""


# -- the simulator ---------------------------------------------------------------------------


class OnfidoSimulator:
    """Onfido's ``GET /workflow_runs/{id}`` on loopback; a :class:`kycbridge.sandbox.Simulator`.

    ``rate_limit``: requests per minute allowed per token (a sliding 60 s window), ``None``
    for no limit. ``tolerance``: seconds shaved off the window, so a client spacing its calls
    at exactly the limit is not refused for scheduling jitter. ``clock``: the time source
    (tests). Thread-safe: the sandbox serves each request on its own thread.
    """

    name = "onfido"
    settings: Mapping[str, str] = {"api_token": SANDBOX_API_TOKEN}
    credential_settings: Mapping[str, str] = {
        "client_id": SANDBOX_CLIENT_ID,
        "client_secret": SANDBOX_CLIENT_SECRET,
    }
    """Settings that make the provider obtain OAuth2 access tokens from this simulator."""
    scenarios: Sequence[Scenario] = SCENARIOS
    webhook_settings: Mapping[str, str] = {"webhook_secret": SANDBOX_WEBHOOK_TOKEN}
    """What a webhook receiver needs to verify :meth:`webhook_deliveries`."""

    def webhook_deliveries(self, now: float) -> list[Any]:
        """Signed deliveries of every story's completed runs, then the faults.

        See :func:`webhook_deliveries`.
        """
        return webhook_deliveries(now)

    def __init__(
        self,
        *,
        rate_limit: int | None = RATE_LIMIT_PER_MINUTE,
        tolerance: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        token_clock: Callable[[], float] = time.time,
        token_lifetime: int = TOKEN_LIFETIME,
    ) -> None:
        if rate_limit is not None and rate_limit <= 0:
            raise ValueError("rate_limit must be positive or None")
        if not 0 <= tolerance < 1:
            raise ValueError("tolerance must be in [0, 1)")
        self.rate_limit = rate_limit
        self.tolerance = tolerance
        self._clock = clock
        self.token_clock = token_clock
        """Seconds since the epoch: when issued access tokens expire (tests inject one)."""
        self.token_lifetime = token_lifetime
        self.exchanges = 0
        """Access tokens issued since the last reset (issued tokens stay valid on reset)."""
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()
        self._calls: dict[str, int] = {}
        self._accepted: dict[str, collections.deque[float]] = {}
        self.answered: collections.Counter[int] = collections.Counter()
        """How many answers of each HTTP status were given since the last reset."""

    def __repr__(self) -> str:
        return f"<OnfidoSimulator rate_limit={self.rate_limit}/min>"

    def reset(self) -> None:
        """Start every scenario over; forget the rate-limit window and the counts."""
        with self._lock:
            self._calls.clear()
            self._accepted.clear()
            self.answered.clear()
            self.exchanges = 0

    def calls(self, run_id: str) -> int:
        """How many requests reached ``run_id``'s script since the last reset."""
        with self._lock:
            return self._calls.get(run_id, 0)

    def handle(self, request: SimRequest) -> SimResponse:
        """Answer one request, as Onfido would."""
        response = self._answer(request)
        with self._lock:
            self.answered[response.status] += 1
        return response

    def _answer(self, request: SimRequest) -> SimResponse:
        segments = request.segments()
        if segments[:1] == [VERSION_PREFIX]:  # a base_url ending in /v3.6, like Onfido's
            segments = segments[1:]
        if segments == ["oauth", "token"]:
            return self._issue(request)
        if len(segments) != 2 or segments[0] != "workflow_runs" or not segments[1]:
            return _not_found()
        run_id = segments[1]
        if request.method != "GET":
            return error_answer(405, "method_not_allowed", "Method not allowed",
                                headers={"Allow": "GET"})
        header = request.headers.get("authorization")
        token = _token(header)
        if token != SANDBOX_API_TOKEN:
            bearer = _bearer(header)
            with self._lock:
                expires = self._tokens.get(bearer or "")
            if bearer is None or expires is None:
                return _unauthorized()
            if self.token_clock() >= expires:
                return error_answer(
                    401, "authorization_error", "The access token expired",
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token", '
                             'error_description="The access token expired"'},
                )
            token = bearer
        retry_after = self._over_limit(token)
        if retry_after is not None:
            return rate_limited_answer(retry_after)
        script = _SCRIPTS.get(run_id)
        if script is None:
            return _not_found()
        with self._lock:
            n = self._calls.get(run_id, 0)
            self._calls[run_id] = n + 1
        return script[min(n, len(script) - 1)].answer(run_id, n)

    def _issue(self, request: SimRequest) -> SimResponse:
        """The OAuth2 token endpoint (RFC 6749 client credentials grant)."""
        if request.method != "POST":
            return error_answer(405, "method_not_allowed", "Method not allowed",
                                headers={"Allow": "POST"})
        form = parse_qs(request.body.decode("utf-8", "replace"))

        def one(name: str) -> str | None:
            values = form.get(name)
            return values[0] if values and len(values) == 1 else None

        if one("grant_type") != "client_credentials":
            return SimResponse.json(400, {"error": "unsupported_grant_type"})
        if one("client_id") != SANDBOX_CLIENT_ID or one("client_secret") != SANDBOX_CLIENT_SECRET:
            return SimResponse.json(401, {"error": "invalid_client",
                                          "error_description": "Client authentication failed"})
        with self._lock:
            self.exchanges += 1
            token = f"sandbox-oauth.{self.exchanges}.{secrets.token_hex(12)}"
            self._tokens[token] = self.token_clock() + self.token_lifetime
        return SimResponse.json(200, {"access_token": token, "token_type": "Bearer",
                                      "expires_in": self.token_lifetime})

    def _over_limit(self, token: str) -> int | None:
        """``None`` when this request fits the window (then it counts); else a Retry-After.

        That is the seconds until the oldest accepted request leaves the window.
        """
        if self.rate_limit is None:
            return None
        window = 60.0 - self.tolerance
        with self._lock:
            now = self._clock()
            accepted = self._accepted.setdefault(token, collections.deque())
            while accepted and accepted[0] <= now - window:
                accepted.popleft()
            if len(accepted) >= self.rate_limit:
                return max(1, math.ceil(accepted[0] + window - now))
            accepted.append(now)
            return None


def _token(header: str | None) -> str | None:
    """The token of an exact ``Token token=<token>`` header, else ``None``."""
    prefix = "Token token="
    if header is None or not header.startswith(prefix):
        return None
    return header[len(prefix):]


def _bearer(header: str | None) -> str | None:
    """The token of a ``Bearer <token>`` header, else ``None``."""
    prefix = "Bearer "
    if header is None or not header.startswith(prefix):
        return None
    return header[len(prefix):] or None


# -- webhooks -------------------------------------------------------------------------------

WEBHOOK_STATUSES = ("approved", "declined", "review", "abandoned", "error")
"""The statuses a run completes with: Onfido sends ``workflow_run.completed`` for them."""

WEBHOOK_FAULT_RUN = "wfr-webhook-out-of-order"
"""The run of the out-of-order deliveries (no polled scenario has it)."""


def _iso(at: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(at, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def webhook_body(action: str, object_id: str, status: str, at: float,
                 resource: Mapping[str, Any] | None = None, **extra: Any) -> bytes:
    """A delivery body ``{"payload": {...}}`` for ``action`` on ``object_id``.

    Completed at ``at`` (Unix seconds).
    """
    kind = action.split(".", 1)[0]
    payload: dict[str, Any] = {
        "resource_type": kind,
        "action": action,
        "object": {
            "id": object_id,
            "status": status,
            "started_at_iso8601": _iso(at - 60),
            "completed_at_iso8601": _iso(at),
            "href": f"https://api.eu.onfido.com/v3.6/{kind}s/{object_id}",
        },
        **extra,
    }
    if resource is not None:
        payload["resource"] = dict(resource)
    return json.dumps({"payload": payload}).encode()


def webhook_signature(body: bytes, token: str = SANDBOX_WEBHOOK_TOKEN) -> str:
    """``X-SHA2-Signature``: the hex HMAC-SHA256 of the raw body."""
    import hashlib
    import hmac

    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def webhook_deliveries(now: float, *, max_body: int = 256 * 1024) -> list[Any]:
    """Signed ``workflow_run.completed`` deliveries for the stories, then the faults.

    One per completed status of every story; the faults: a replay, an out-of-order pair,
    a bad signature, a ``check.completed`` and a ``workflow_task.completed``
    (acknowledged), a non-JSON body, a body over the cap.
    Onfido signs no time: no stale-timestamp fault.
    """
    from kycbridge.webhooks.push import Delivery, status_changes

    def signed(label: str, body: bytes, expect: str = "accepted",
               token: str = SANDBOX_WEBHOOK_TOKEN) -> Delivery:
        headers = {"content-type": "application/json",
                   "x-sha2-signature": webhook_signature(body, token)}
        return Delivery(label, headers, body, expect)

    def completed(run_id: str, status: str, at: float, **extra: Any) -> bytes:
        return webhook_body("workflow_run.completed", run_id, status, at,
                            workflow_run(run_id, Step(status)), **extra)

    changes = [
        (run_id, word)
        for run_id, steps, _, _, _ in _STORIES
        for word in status_changes((s.status for s in steps if s.fault is None),
                                   WEBHOOK_STATUSES)
    ]
    deliveries = [
        signed(f"{run_id}: workflow_run.completed {word}",
               completed(run_id, word, now - len(changes) + i))
        for i, (run_id, word) in enumerate(changes)
    ]
    if deliveries:
        first = deliveries[0]
        deliveries.append(Delivery(f"replay of {first.label}", first.headers, first.body,
                                   "duplicate"))
    run = WEBHOOK_FAULT_RUN
    deliveries += [
        signed("out of order: approved (newer)", completed(run, "approved", now - 10)),
        signed("out of order: review (older, arrives late)", completed(run, "review", now - 20),
               "stale"),
        signed("bad signature (another token)", completed(run, "declined", now), "unauthorized",
               "not-the-sandbox-webhook-token"),
        signed("check.completed (a check result: no run status)",
               webhook_body("check.completed", _uuid("check", run), "complete", now),
               "acknowledged"),
        signed("workflow_task.completed (no run status)",
               webhook_body("workflow_task.completed", "profile_data", "completed", now),
               "acknowledged"),
        signed("not JSON", b"<html>not json</html>", "malformed"),
        signed("body over the receiver's cap",
               completed(run, "approved", now, padding="x" * max_body), "too_large"),
    ]
    return deliveries
