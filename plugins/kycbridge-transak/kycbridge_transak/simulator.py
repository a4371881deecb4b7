"""A fake Transak id-proof status API for the kycbridge sandbox, with scripted workflow runs.

It answers as Transak's document says, and no more:

* only ``GET /api/v2/kyc/id-proof-status`` exists; other paths answer 404 and other methods
  405, with Transak's error envelope;
* header ``authorization`` must be :data:`SANDBOX_ACCESS_TOKEN` (missing or wrong: 401
  ``{"error": {"statusCode": 401, "message": "Unauthorized"}}``); ``x-access-token``, when
  sent, must be :data:`SANDBOX_PARTNER_TOKEN` (else the same 401); ``x-user-identifier`` is
  accepted as sent;
* ``POST /partners/api/v2/refresh-token`` with header ``api-secret`` =
  :data:`SANDBOX_API_SECRET` and body ``{"apiKey": SANDBOX_API_KEY}`` issues a partner
  access token, ``{"data": {"accessToken", "expiresAt"}}``, valid ``token_lifetime`` seconds
  on the simulator's ``clock`` (7 days by default); a wrong key or secret is a 401. An issued
  token is accepted as ``x-access-token`` until it expires, then answered 401 ``Access token
  expired`` (the sandbox plays "token expired mid-watch"); :attr:`TransakSimulator.exchanges`
  counts the tokens issued;
* query parameter ``workFlowRunId`` is required (missing or empty: 400);
* a workflow run id listed in :data:`SCRIPTS` plays its script, one step per request (retries
  included), the last step repeating; any other id is a fresh run: ``NOT_SUBMITTED``.

The scripts are the sandbox's "test cards": see the README's scenario table.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from kycbridge import (
    AuthenticationError,
    KYCState,
    MalformedResponse,
    ProviderUnavailable,
    RateLimited,
)
from kycbridge.sandbox import Scenario, SimRequest, SimResponse

__all__ = [
    "REFRESH_PATH",
    "SANDBOX_ACCESS_TOKEN",
    "SANDBOX_API_KEY",
    "SANDBOX_API_SECRET",
    "SANDBOX_KYC_TYPE",
    "SANDBOX_PARTNER_TOKEN",
    "SCRIPTS",
    "SEED_CONFORMING",
    "TOKEN_LIFETIME",
    "WEBHOOK_WORDS",
    "Script",
    "Step",
    "TransakSimulator",
    "webhook_body",
    "webhook_deliveries",
]

SANDBOX_ACCESS_TOKEN = "sandbox-user-token"  # noqa: S105 - a public sandbox value
"""The only user access token (``authorization`` header) the simulator accepts."""

SANDBOX_PARTNER_TOKEN = "sandbox-partner-token-0123456789abcdef"  # noqa: S105 - a public sandbox value
"""The only partner access token (``x-access-token`` header) the simulator accepts, and the
key its webhook deliveries are signed with (32 bytes or more, as HS256 keys should be)."""

SANDBOX_API_KEY = "sandbox-transak-api-key"
"""The partner API key the simulator's refresh-token endpoint accepts."""

SANDBOX_API_SECRET = "sandbox-transak-api-secret-0123456789"  # noqa: S105 - a public sandbox value
"""The partner API secret (header ``api-secret``) the refresh-token endpoint accepts."""

TOKEN_LIFETIME = 7 * 24 * 3600.0
"""Seconds an issued partner access token is valid (Transak's: 7 days)."""

REFRESH_PATH = "/partners/api/v2/refresh-token"

SANDBOX_KYC_TYPE = "STANDARD"
"""The ``kycType`` the simulator answers with (except where a script says otherwise)."""

PATH = "/api/v2/kyc/id-proof-status"
SLOW_DELAY = 2.0
"""Seconds ``wfr-fault-slow`` waits before answering."""
BIG_BODY_SIZE = 10 * 1024 * 1024
"""Bytes ``wfr-fault-big-body`` answers (over the transport's default 1 MiB cap)."""


def envelope(status: int, message: str, **headers: str) -> SimResponse:
    """Transak's error answer: ``{"error": {"statusCode": status, "message": message}}``."""
    payload = {"error": {"statusCode": status, "message": message}}
    return SimResponse.json(status, payload, headers=headers)


def status_body(status: Any, kyc_type: Any = SANDBOX_KYC_TYPE, **extra: Any) -> bytes:
    """A 200 body: ``{"data": {"status": ..., "kycType": ...}}`` plus ``extra`` in ``data``."""
    return json.dumps({"data": {"status": status, "kycType": kyc_type, **extra}}).encode()


@functools.lru_cache(maxsize=1)
def _big_body() -> SimResponse:
    padding = "x" * BIG_BODY_SIZE
    return SimResponse(200, status_body("SUBMITTED", padding=padding))


def _gateway_page(status: int, reason: str) -> bytes:
    return (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
    ).encode()


@attrs.frozen
class Step:
    """One scripted answer: its label in the scenario's ``played`` list and the response."""

    label: str
    """The raw status word it serves, or ``HTTP <code>`` / a short note for faults."""
    answer: SimResponse | Callable[[], SimResponse] = attrs.field(repr=False)
    """The response, or a function making it (for big bodies, made on first use)."""

    def response(self) -> SimResponse:
        """The response to send."""
        return self.answer() if callable(self.answer) else self.answer


def word(status: str, *, kyc_type: str | None = SANDBOX_KYC_TYPE) -> Step:
    """A 200 answer with ``data.status`` = ``status``."""
    return Step(status, SimResponse(200, status_body(status, kyc_type)))


def http_error(status: int, message: str, **headers: str) -> Step:
    """A non-2xx answer with Transak's error envelope."""
    return Step(f"HTTP {status}", envelope(status, message, **headers))


def raw(label: str, response: SimResponse | Callable[[], SimResponse]) -> Step:
    """Any answer (faults)."""
    return Step(label, response)


@attrs.frozen
class Script:
    """A scripted workflow run id: its steps and what a client should end up with."""

    subject: str
    """The ``workFlowRunId`` that selects it."""
    description: str
    steps: tuple[Step, ...]
    """One step per request, the last one repeating."""
    outcome: str
    """The final normalized state, or the ``kind`` of the error the script ends in."""
    demo: bool = False

    def step(self, call: int) -> Step:
        """The step served for the ``call``-th request (0-based)."""
        return self.steps[min(call, len(self.steps) - 1)]

    def scenario(self) -> Scenario:
        """The public description of the script."""
        return Scenario(
            subject=self.subject,
            query={"work_flow_run_id": self.subject, "access_token": SANDBOX_ACCESS_TOKEN},
            description=self.description,
            played=tuple(step.label for step in self.steps),
            outcome=self.outcome,
            demo=self.demo,
        )


_NS, _SUB = "NOT_SUBMITTED", "SUBMITTED"
_UNAVAILABLE = ProviderUnavailable.kind
_MALFORMED = MalformedResponse.kind

SCRIPTS: tuple[Script, ...] = (
    # -- documented words -----------------------------------------------------------------
    Script(
        "wfr-not-submitted",
        "The user never submits the document step: NOT_SUBMITTED forever.",
        (word(_NS),),
        KYCState.NOT_STARTED.value,
    ),
    Script("wfr-submitted", "Already submitted.", (word(_SUB),), KYCState.SUBMITTED.value),
    Script(
        "wfr-submits-after-3",
        "NOT_SUBMITTED for three calls, then SUBMITTED (watch it until submitted).",
        (word(_NS), word(_NS), word(_NS), word(_SUB)),
        KYCState.SUBMITTED.value,
        demo=True,
    ),
    Script(
        "wfr-approved",
        "The whole story: NOT_SUBMITTED, SUBMITTED, then the user-level APPROVED (final).",
        (word(_NS), word(_SUB), word("APPROVED")),
        KYCState.APPROVED.value,
        demo=True,
    ),
    Script(
        "wfr-rejected",
        "NOT_SUBMITTED, SUBMITTED, then the user-level REJECTED (final).",
        (word(_NS), word(_SUB), word("REJECTED")),
        KYCState.REJECTED.value,
    ),
    Script(
        "wfr-forms-required",
        "SUBMITTED, then ADDITIONAL_FORMS_REQUIRED: the user must fill in more forms.",
        (word(_SUB), word("ADDITIONAL_FORMS_REQUIRED")),
        KYCState.ACTION_REQUIRED.value,
    ),
    Script(
        "wfr-unknown-status",
        "A word nobody documented (ON_HOLD): unknown, the raw word kept.",
        (word("ON_HOLD"),),
        KYCState.UNKNOWN.value,
    ),
    Script(
        "wfr-null-kyctype",
        "SUBMITTED with kycType null (seen before the type is set; the seed schema says "
        "string): tolerated.",
        (word(_SUB, kyc_type=None),),
        KYCState.SUBMITTED.value,
    ),
    # -- documented errors ------------------------------------------------------------------
    Script(
        "wfr-session-expired",
        'The user\'s session expired: 400 "Session Expired" (an authentication error).',
        (http_error(400, "Session Expired"),),
        AuthenticationError.kind,
    ),
    Script(
        "wfr-unauthorized",
        "The token is refused (revoked) even though it is the sandbox token: 401.",
        (http_error(401, "Unauthorized"),),
        AuthenticationError.kind,
    ),
    # -- faults -----------------------------------------------------------------------------
    Script(
        "wfr-fault-500",
        "500 with Transak's error envelope.",
        (http_error(500, "Internal Server Error"),),
        _UNAVAILABLE,
    ),
    Script(
        "wfr-fault-502",
        "502 HTML page from a gateway (not JSON: still unavailable).",
        (raw("HTTP 502 (HTML)", SimResponse(502, _gateway_page(502, "Bad Gateway"), "text/html")),),
        _UNAVAILABLE,
    ),
    Script(
        "wfr-fault-503",
        "503 with the envelope and Retry-After: 1.",
        (http_error(503, "Service Unavailable", **{"Retry-After": "1"}),),
        _UNAVAILABLE,
    ),
    Script(
        "wfr-fault-504",
        "504 HTML page from a gateway.",
        (
            raw(
                "HTTP 504 (HTML)",
                SimResponse(504, _gateway_page(504, "Gateway Time-out"), "text/html"),
            ),
        ),
        _UNAVAILABLE,
    ),
    Script(
        "wfr-fault-429",
        "429 with the envelope and Retry-After: 1.",
        (http_error(429, "Too Many Requests", **{"Retry-After": "1"}),),
        RateLimited.kind,
    ),
    Script(
        "wfr-fault-429-no-retry-after",
        "429 as plain text, without Retry-After.",
        (raw("HTTP 429 (text)", SimResponse(429, b"Too Many Requests", "text/plain")),),
        RateLimited.kind,
    ),
    Script(
        "wfr-fault-slow",
        f"NOT_SUBMITTED after {SLOW_DELAY:g} s: unavailable with a shorter read timeout "
        "(not_started with a longer one).",
        (
            raw(
                f"{_NS} (after {SLOW_DELAY:g} s)",
                SimResponse(200, status_body(_NS), delay=SLOW_DELAY),
            ),
        ),
        _UNAVAILABLE,
    ),
    Script(
        "wfr-fault-invalid-json",
        "200 whose body is not JSON.",
        (raw("(invalid JSON)", SimResponse(200, b"{data: {status: SUBMITTED}}")),),
        _MALFORMED,
    ),
    Script(
        "wfr-fault-truncated-json",
        "200 whose JSON stops half-way (Content-Length matches: the server sent it so).",
        (raw("(truncated JSON)", SimResponse(200, status_body(_SUB)[:20])),),
        _MALFORMED,
    ),
    Script(
        "wfr-fault-html",
        "404 HTML page (as from a wrong base URL): malformed, not 'no such workflow run'.",
        (raw("HTTP 404 (HTML)", SimResponse(404, _gateway_page(404, "Not Found"), "text/html")),),
        _MALFORMED,
    ),
    Script(
        "wfr-fault-wrong-content-type",
        "200 with a valid SUBMITTED body served as text/plain.",
        (raw("SUBMITTED (text/plain)", SimResponse(200, status_body(_SUB), "text/plain")),),
        _MALFORMED,
    ),
    Script(
        "wfr-fault-empty-body",
        "200 with an empty body.",
        (raw("(empty body)", SimResponse(200, b"")),),
        _MALFORMED,
    ),
    Script(
        "wfr-fault-big-body",
        "200 with a 10 MiB body (over the transport's size cap).",
        (raw("(10 MiB body)", _big_body),),
        _MALFORMED,
    ),
    Script(
        "wfr-fault-drop",
        "The connection is closed without an answer.",
        (raw("(connection dropped)", SimResponse(200, drop=True)),),
        _UNAVAILABLE,
    ),
    Script(
        "wfr-fault-drop-mid-body",
        "The connection is closed after 10 bytes of a SUBMITTED body.",
        (raw("(dropped mid-body)", SimResponse(200, status_body(_SUB), truncate=10)),),
        _UNAVAILABLE,
    ),
    Script(
        "wfr-fault-missing-fields",
        "200 without data.status.",
        (raw("(no data.status)", SimResponse.json(200, {"data": {"kycType": SANDBOX_KYC_TYPE}})),),
        _MALFORMED,
    ),
    Script(
        "wfr-fault-extra-fields",
        "SUBMITTED with undocumented extra fields (ignored: a normal report).",
        (
            raw(
                "SUBMITTED (+ extra fields)",
                SimResponse(
                    200,
                    json.dumps(
                        {
                            "data": {
                                "status": _SUB,
                                "kycType": SANDBOX_KYC_TYPE,
                                "onfidoWorkflowRunId": "wfr-fault-extra-fields",
                                "updatedAt": "2024-01-01T00:00:00Z",
                            },
                            "meta": {"requestId": "sandbox"},
                        }
                    ).encode(),
                ),
            ),
        ),
        KYCState.SUBMITTED.value,
    ),
    Script(
        "wfr-fault-nulls",
        "200 with data.status and data.kycType null.",
        (raw("(null status)", SimResponse(200, status_body(None, None))),),
        _MALFORMED,
    ),
    Script(
        "wfr-fault-wrong-types",
        "200 with data.status a number and data.kycType a list.",
        (raw("(wrong types)", SimResponse(200, status_body(1, ["STANDARD"]))),),
        _MALFORMED,
    ),
    Script(
        "wfr-flaky-submits",
        "NOT_SUBMITTED, 503, NOT_SUBMITTED, 500, SUBMITTED: a watcher retrying transient "
        "faults sees NOT_SUBMITTED then SUBMITTED.",
        (
            word(_NS),
            http_error(503, "Service Unavailable"),
            word(_NS),
            http_error(500, "Internal Server Error"),
            word(_SUB),
        ),
        KYCState.SUBMITTED.value,
    ),
)
"""Every scripted workflow run id, in the README's order."""

SEED_CONFORMING: frozenset[str] = frozenset(
    {
        "wfr-not-submitted",
        "wfr-submitted",
        "wfr-submits-after-3",
        "wfr-approved",
        "wfr-rejected",
        "wfr-forms-required",
        "wfr-unknown-status",
        "wfr-session-expired",
        "wfr-unauthorized",
        "wfr-fault-500",
        "wfr-fault-extra-fields",
    }
)
"""Scripts whose every answer matches the seed OpenAPI document (status, media type, schema).

The others break it on purpose: undocumented statuses (429, 502, 503, 504), non-JSON bodies,
dropped connections, or ``kycType: null`` (``wfr-null-kyctype``, from PROVIDERS.md).
"""


class TransakSimulator:
    """The Transak simulator: thread-safe, one step per request and per workflow run id."""

    name = "transak"
    """The provider it imitates, and its path prefix in the sandbox."""

    def __init__(
        self,
        scripts: Iterable[Script] = SCRIPTS,
        *,
        clock: Callable[[], float] = time.time,
        token_lifetime: float = TOKEN_LIFETIME,
    ) -> None:
        if not token_lifetime > 0:
            raise ValueError("token_lifetime must be positive")
        self.scripts: dict[str, Script] = {s.subject: s for s in scripts}
        self.clock = clock
        """Seconds since the epoch: when issued tokens expire (tests inject a fake one)."""
        self.token_lifetime = token_lifetime
        self.exchanges = 0
        """Partner access tokens issued since the last reset (tokens stay valid on reset)."""
        self.credential_settings: Mapping[str, str] = {
            "api_key": SANDBOX_API_KEY,
            "api_secret": SANDBOX_API_SECRET,
        }
        """Settings that make the provider obtain its partner token from this simulator."""
        self._tokens: dict[str, float] = {}
        self.settings: Mapping[str, str] = {}
        """No settings needed: the user access token is a query field (in each scenario's
        ``query``), and the partner token is only for Auth Reliance flows."""
        self.scenarios: Sequence[Scenario] = tuple(s.scenario() for s in self.scripts.values())
        self.webhook_settings: Mapping[str, str] = {"partner_access_token": SANDBOX_PARTNER_TOKEN}
        """What a webhook receiver needs to verify :meth:`webhook_deliveries`: the sandbox
        partner token, Transak's webhook signing key."""
        self._calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<TransakSimulator {len(self.scripts)} scripts>"

    def calls(self, subject: str) -> int:
        """How many requests reached the script of ``subject`` since the last reset."""
        with self._lock:
            return self._calls.get(subject, 0)

    def reset(self) -> None:
        """Start every script over."""
        with self._lock:
            self._calls.clear()
            self.exchanges = 0

    def _refresh_token(self, request: SimRequest) -> SimResponse:
        if request.method != "POST":
            return envelope(405, "Method Not Allowed", Allow="POST")
        try:
            body = json.loads(request.body)
        except ValueError:
            return envelope(400, "Invalid JSON body")
        api_key = body.get("apiKey") if isinstance(body, dict) else None
        if request.headers.get("api-secret") != SANDBOX_API_SECRET or api_key != SANDBOX_API_KEY:
            return envelope(401, "Invalid API key or secret")
        with self._lock:
            self.exchanges += 1
            token = f"sandbox-partner-jwt.{self.exchanges}.{secrets.token_hex(12)}"
            expires = int(self.clock() + self.token_lifetime)
            self._tokens[token] = expires
        return SimResponse.json(200, {"data": {"accessToken": token, "expiresAt": expires}})

    def _partner_refusal(self, partner: str) -> SimResponse | None:
        if partner == SANDBOX_PARTNER_TOKEN:
            return None
        with self._lock:
            expires = self._tokens.get(partner)
        if expires is None:
            return envelope(401, "Unauthorized")
        if self.clock() >= expires:
            return envelope(401, "Access token expired")
        return None

    def webhook_deliveries(self, now: float) -> list[Any]:
        """Signed deliveries (``kycbridge.webhooks.push.Delivery``), then the faults.

        One per KYC status change of every script (``partnerUserId`` is the workflow run
        id), then a replay, out-of-order events, a bad signature, an unsigned body, an order
        event, a non-JSON body and a body over the receiver's 256 KiB cap.
        """
        return webhook_deliveries(self.scripts.values(), now)

    def handle(self, request: SimRequest) -> SimResponse:
        """Answer one request as Transak would (see the module docstring)."""
        if request.path == REFRESH_PATH:
            return self._refresh_token(request)
        if request.path != PATH:
            return envelope(404, f"Cannot {request.method} {request.path}")
        if request.method != "GET":
            return envelope(405, "Method Not Allowed", Allow="GET")
        if request.headers.get("authorization") != SANDBOX_ACCESS_TOKEN:
            return envelope(401, "Unauthorized")
        partner = request.headers.get("x-access-token")
        refusal = None if partner is None else self._partner_refusal(partner)
        if refusal is not None:
            return refusal
        run_id = request.param("workFlowRunId")
        if not run_id:
            return envelope(400, "workFlowRunId is required")
        script = self.scripts.get(run_id)
        if script is None:
            return word(_NS).response()
        with self._lock:
            call = self._calls.get(run_id, 0)
            self._calls[run_id] = call + 1
        return script.step(call).response()


# -- webhooks -----------------------------------------------------------------------------------
WEBHOOK_WORDS = ("SUBMITTED", "APPROVED", "REJECTED")
"""The statuses Transak sends a KYC webhook for (``KYC_<word>``)."""

WEBHOOK_FAULT_SUBJECT = "webhook-out-of-order"
"""The ``partnerUserId`` of the out-of-order deliveries (no polled scenario has it)."""


def webhook_body(
    event: str,
    webhook_data: Mapping[str, Any],
    *,
    key: str | None = SANDBOX_PARTNER_TOKEN,
    issued_at: float | None = None,
) -> bytes:
    """A delivery body ``{"data": "<JWT>"}`` signed HS256 with ``key``.

    ``key=None`` gives the plain, unsigned ``data`` object.
    """
    claims: dict[str, Any] = {"eventID": event, "webhookData": dict(webhook_data)}
    if key is None:
        return json.dumps({"data": claims}).encode()
    import jwt

    if issued_at is not None:
        claims["iat"] = int(issued_at)
    token = jwt.encode(claims, key, algorithm="HS256")
    return json.dumps({"data": token}).encode()


def _kyc_data(user: str, word: str, at: float, **extra: Any) -> dict[str, Any]:
    when = dt.datetime.fromtimestamp(at, dt.timezone.utc).isoformat().replace("+00:00", "Z")
    return {"partnerUserId": user, "kycStatus": word, "updatedAt": when, **extra}


def webhook_deliveries(
    scripts: Iterable[Script], now: float, *, max_body: int = 256 * 1024
) -> list[Any]:
    """Transak's deliveries for ``scripts``' status changes, then the fault deliveries."""
    from kycbridge.webhooks.push import Delivery, status_changes

    headers = {"content-type": "application/json"}
    deliveries: list[Delivery] = []
    changes = [
        (script.subject, word)
        for script in scripts
        for word in status_changes((s.label for s in script.steps), WEBHOOK_WORDS)
    ]
    for i, (subject, word) in enumerate(changes):
        at = now - len(changes) + i  # in order, one second apart, before now
        body = webhook_body(f"KYC_{word}", _kyc_data(subject, word, at), issued_at=now)
        deliveries.append(Delivery(f"{subject}: KYC_{word}", headers, body))
    if deliveries:
        first = deliveries[0]
        deliveries.append(Delivery(f"replay of {first.label}", headers, first.body, "duplicate"))
    user = WEBHOOK_FAULT_SUBJECT
    deliveries += [
        Delivery(
            "out of order: KYC_APPROVED (newer)",
            headers,
            webhook_body("KYC_APPROVED", _kyc_data(user, "APPROVED", now - 10)),
        ),
        Delivery(
            "out of order: KYC_SUBMITTED (older, arrives late)",
            headers,
            webhook_body("KYC_SUBMITTED", _kyc_data(user, "SUBMITTED", now - 20)),
            "stale",
        ),
        Delivery(
            "bad signature (signed with another key)",
            headers,
            webhook_body(
                "KYC_APPROVED",
                _kyc_data(user, "APPROVED", now),
                key="not-the-partner-token-0123456789abcdef",
            ),
            "unauthorized",
        ),
        Delivery(
            "unsigned data object (refused by default)",
            headers,
            webhook_body("KYC_APPROVED", _kyc_data(user, "APPROVED", now), key=None),
            "unauthorized",
        ),
        Delivery(
            "order event (no KYC status: acknowledged)",
            headers,
            webhook_body("ORDER_COMPLETED", {"id": "sandbox-order-1", "status": "COMPLETED"}),
            "acknowledged",
        ),
        Delivery("not JSON", headers, b"<html>not json</html>", "malformed"),
        Delivery(
            "body over the receiver's cap",
            headers,
            webhook_body(
                "KYC_SUBMITTED", _kyc_data(user, "SUBMITTED", now, padding="x" * max_body)
            ),
            "too_large",
        ),
    ]
    return deliveries
