"""A StarkFi look-alike for the sandbox: :class:`StarkFiSimulator`.

It answers ``GET /kyc/status`` as StarkFi's documents say: header ``x-api-key`` (equal to
:data:`SANDBOX_API_KEY`), exactly one of ``email`` / ``wallet``, StarkFi's JSON envelope,
and the documented rate limit (10 requests/s and 600/min per key, 429 with ``{"code",
"message", "docs"}`` and ``Retry-After: 1``). Scripted subjects (:data:`SCENARIOS`, the
sandbox's test cards) move one step per request; any other email or wallet has no KYC record
and answers 404, as StarkFi does before ``prepare``.

Where the documents are silent the simulator guesses, and says so: the 401 and 404 bodies,
and ``data.status`` words other than ``pending`` (``approved``, ``rejected``).
"""

from __future__ import annotations

import collections
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from kycbridge import faults
from kycbridge.sandbox import Scenario, SimRequest, SimResponse

__all__ = [
    "DOCS_URL",
    "EVM_WALLET",
    "SANDBOX_API_KEY",
    "SANDBOX_DOMAIN",
    "SCENARIOS",
    "SOLANA_WALLET",
    "StarkFiSimulator",
    "Step",
]

SANDBOX_API_KEY = "sk_sandbox_starkfi"
"""The only API key the simulator accepts."""

SANDBOX_DOMAIN = "sandbox.starkfi.test"
"""The email domain of the scripted subjects."""

SOLANA_WALLET = "FmTGYpzX27fDqaiytXUdFVaphC5o68G61Q3uhVM2d8bm"
"""The scripted Solana wallet (the one in StarkFi's example)."""

EVM_WALLET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
"""The scripted EVM wallet."""

DOCS_URL = "https://docs.starkfi.io/rate-limits"
"""The ``docs`` link of the simulated 429 body."""

STATUS_PATH = "/kyc/status"

BIG_BODY_BYTES = faults.BIG_BODY_SIZE
"""Size of ``fault-big-body``'s answer: ten times the transport's default cap."""


# -- answers -------------------------------------------------------------------------------


def envelope(status_code: int, code: str, message: str, **extra: Any) -> dict[str, Any]:
    """StarkFi's envelope: ``{"statusCode", "success", "status", "message", ...}``."""
    return {
        "statusCode": status_code,
        "success": 200 <= status_code < 300,
        "status": code,
        "message": message,
        **extra,
    }


def error_answer(status_code: int, code: str, message: str, **kwargs: Any) -> SimResponse:
    """An error in StarkFi's envelope."""
    return SimResponse.json(status_code, envelope(status_code, code, message), **kwargs)


def rate_limited_answer(retry_after: bool = True) -> SimResponse:
    """StarkFi's 429: a different body, ``{"code": 429, "message", "docs"}``."""
    headers = {"Retry-After": "1"} if retry_after else {}
    body = {"code": 429, "message": "Too many requests, slow down", "docs": DOCS_URL}
    return SimResponse.json(429, body, headers=headers)


_IP_RECORD: Mapping[str, Any] = {
    "ip_address": "203.0.113.24",
    "ip_country": "ES",
    "ip_state": "Madrid",
    "ip_city": "Madrid",
    "platform": "mobile",
    "device_brand": "Apple",
    "device_model": "iPhone 15",
    "is_vpn_or_tor": False,
    "is_data_center": False,
}

_RISKY_IP_RECORD: Mapping[str, Any] = {
    "ip_address": "198.51.100.7",
    "ip_country": "NL",
    "ip_state": "North Holland",
    "ip_city": "Amsterdam",
    "platform": "desktop",
    "device_brand": "Unknown",
    "device_model": "Unknown",
    "is_vpn_or_tor": True,
    "is_data_center": True,
}


@attrs.frozen
class Step:
    """One scripted answer: a 200 with these ``data`` values, or, with ``fault``, a fault."""

    session_status: str | None = None
    """``data.session_status``; ``None`` leaves the session fields out (no session yet)."""
    status: str = "pending"
    """``data.status``."""
    approved: bool = False
    """``data.approved``."""
    blocklisted: bool = False
    """``data.is_blocklisted`` (and a risky second IP record)."""
    fault: Callable[[str], SimResponse] | None = None
    """Answer this instead (given the subject)."""

    def answer(self, subject: str) -> SimResponse:
        """The simulated answer for ``subject``."""
        if self.fault is not None:
            return self.fault(subject)
        return SimResponse.json(200, success_body(self, subject))


def success_body(step: Step, subject: str) -> dict[str, Any]:
    """The 200 envelope for ``step``."""
    data: dict[str, Any] = {"status": step.status, "approved": step.approved}
    if step.session_status is not None:
        session = uuid.uuid5(uuid.NAMESPACE_URL, f"starkfi-sandbox:{subject}")
        data["session_id"] = str(session)
        data["session_status"] = step.session_status
        data["session_url"] = f"https://verify.didit.me/session/{session.hex[:20]}"
        ips: list[Mapping[str, Any]] = []
        if step.session_status != "Not Started":
            ips.append(_IP_RECORD)
        if step.blocklisted:
            ips.append(_RISKY_IP_RECORD)
        data["ip_info"] = [dict(ip) for ip in ips]
    data["is_blocklisted"] = step.blocklisted
    return envelope(200, "kyc_status_retrieved", "KYC status retrieved", data=data)


def _fault(builder: Callable[[str], SimResponse]) -> Step:
    return Step(fault=builder)


def _json_bytes(payload: Any) -> bytes:
    return json.dumps(payload).encode("utf-8")


_STANDARD_200 = ("slow", "invalid-json", "truncated-json", "html", "wrong-content-type",
                 "empty-body", "big-body", "drop", "drop-mid-body")
"""The standard faults (:mod:`kycbridge.faults`) played after the status codes."""

F500 = _fault(lambda s: error_answer(500, "server_failed", "Server failed on KYC status"))
F503 = _fault(
    lambda s: error_answer(
        503, "service_unavailable", "Service temporarily unavailable",
        headers={"Retry-After": "1"},
    )
)
F429 = _fault(lambda s: rate_limited_answer())
F429_BARE = _fault(lambda s: rate_limited_answer(retry_after=False))


def _ok(data: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    return envelope(200, "kyc_status_retrieved", "KYC status retrieved", data=dict(data), **extra)


def _extra_fields(subject: str) -> SimResponse:
    body = success_body(Step("In Review"), subject)
    body["requestId"] = "req_0123456789"
    body["meta"] = {"apiVersion": "2024-01", "region": "eu"}
    data = body["data"]
    data.update({"risk_score": 0.12, "document_type": "passport", "provider": "didit"})
    for record in data["ip_info"]:
        record.update({"asn": 3352, "isp": "Example Telecom", "latitude": 40.4})
    return SimResponse.json(200, body)


_NULL_DATA = {
    "status": "pending",
    "approved": None,
    "session_id": None,
    "session_status": None,
    "session_url": None,
    "ip_info": None,
    "is_blocklisted": None,
}

_WRONG_TYPES_DATA = {
    "status": "pending",
    "approved": "false",
    "session_id": 12345,
    "session_status": ["In Review"],
    "ip_info": "203.0.113.24",
    "is_blocklisted": "no",
}


def _normal(subject: str) -> SimResponse:
    return SimResponse(200, _json_bytes(success_body(Step("In Review"), subject)))


def _standard(name: str) -> Step:
    """A standard fault (:mod:`kycbridge.faults`), made from an In Review answer."""
    return _fault(lambda s: faults.answer(name, _normal(s), title="StarkFi - Sign in"))


FAULT_STEPS: Mapping[str, Step] = {
    "fault-500": F500,
    "fault-502": _standard("502"),
    "fault-503": F503,
    "fault-504": _standard("504"),
    "fault-429": F429,
    "fault-429-no-retry-after": F429_BARE,
    **{f"fault-{name}": _standard(name) for name in _STANDARD_200},
    "fault-missing-fields": _fault(
        lambda s: SimResponse.json(200, _ok({"session_status": "In Progress"}))
    ),
    "fault-extra-fields": _fault(_extra_fields),
    "fault-nulls": _fault(lambda s: SimResponse.json(200, _ok(_NULL_DATA))),
    "fault-wrong-types": _fault(lambda s: SimResponse.json(200, _ok(_WRONG_TYPES_DATA))),
}
"""The fault subjects' single (repeating) answer, by the email's local part."""


# -- scenarios -----------------------------------------------------------------------------


def _email(local: str) -> str:
    return f"{local}@{SANDBOX_DOMAIN}"


NS = Step("Not Started")
IP = Step("In Progress")
IR = Step("In Review")
OK = Step("Approved", status="approved", approved=True)
NO = Step("Declined", status="rejected")

_STORIES: Sequence[tuple[str, str, Sequence[Step], str, str, bool]] = (
    # (local part or wallet, query field, steps, outcome, description, demo)
    ("approved", "email", (NS, IP, IR, OK), "approved",
     "the happy path: not started, in progress, in review, approved", True),
    ("declined", "email", (NS, IP, IR, NO), "rejected",
     "declined after review", True),
    ("blocklisted", "email",
     (NS, IP, Step("In Review", blocklisted=True), Step("Declined", status="rejected",
                                                        blocklisted=True)),
     "rejected", "blocklist signals from document/liveness checks, then declined", True),
    ("abandoned", "email", (NS, IP, Step("Abandoned")), "abandoned",
     "the user started but did not finish in time", False),
    ("expired", "email", (NS, Step("Expired")), "expired",
     "the session timed out before the user opened the link", False),
    ("kyc-expired", "email",
     (OK, Step("Kyc Expired", status="approved", approved=True)), "expired",
     "approved, then the verified document expired (approved stays true: rule 2)", False),
    ("resubmitted", "email", (IR, Step("Resubmitted"), IP, OK), "approved",
     "a reviewer asks the user to redo a step (action_required), then approved", False),
    ("awaiting-user", "email", (NS, Step("Awaiting User")), "action_required",
     "business verification waiting on its key people's own sessions", False),
    ("unknown-status", "email", (IP, Step("Liveness Queued", status="on_hold")), "unknown",
     "a session status nobody documented (kept as raw_status)", False),
    ("instant-approved", "email", (OK,), "approved", "approved on the first call", False),
    ("pending", "email", (Step(None),), "in_progress",
     "no session status yet: only data.status pending", False),
    (SOLANA_WALLET, "wallet", (NS, IP, OK), "approved",
     "a Solana wallet: not started, in progress, approved", True),
    (EVM_WALLET, "wallet", (IP, IR, NO), "rejected",
     "an EVM wallet: in progress, in review, declined", False),
    ("flaky-approved", "email",
     (NS, F503, IP, F500, IR, F429, OK), "approved",
     "transient 503, 500 and 429 between the steps of the happy path; a caller retrying "
     "transient errors sees not started, in progress, in review, approved", False),
)

_FAULT_STORIES: Mapping[str, tuple[tuple[str, ...], str, str]] = {
    # local part: (played, outcome, description)
    "fault-500": ((), "unavailable", "500 server_failed, every time"),
    "fault-502": faults.row("502"),
    "fault-503": ((), "unavailable", "503 with Retry-After: 1"),
    "fault-504": faults.row("504"),
    "fault-429": ((), "rate_limited", "429 with Retry-After: 1"),
    "fault-429-no-retry-after": ((), "rate_limited", "429 without Retry-After"),
    **{f"fault-{name}": row for name, row in faults.rows(
        _STANDARD_200, played=("In Review",), outcome="in_review").items()},
    "fault-missing-fields": (("In Progress",), "in_progress",
                             "data has only session_status: still a report"),
    "fault-extra-fields": (("In Review",), "in_review",
                           "undocumented fields everywhere: ignored, still a report"),
    "fault-nulls": (("pending",), "in_progress",
                    "every data field null but status pending: nulls mean absent"),
    "fault-wrong-types": ((), "malformed_response",
                          "approved is a string, ip_info a string...: malformed"),
}


def _build() -> tuple[tuple[Scenario, ...], dict[str, tuple[Step, ...]]]:
    scenarios: list[Scenario] = []
    scripts: dict[str, tuple[Step, ...]] = {}
    for subject, field, steps, outcome, description, demo in _STORIES:
        value = _email(subject) if field == "email" else subject
        played = tuple(s.session_status or s.status for s in steps if s.fault is None)
        scenarios.append(Scenario(value, {field: value}, description, played, outcome, demo))
        scripts[_key(value)] = tuple(steps)
    notfound = _email("notfound")
    scenarios.append(
        Scenario(notfound, {"email": notfound}, "no KYC record: 404, every time", (),
                 "not_found")
    )
    scripts[_key(notfound)] = (
        _fault(lambda s: error_answer(404, "kyc_not_found", "No KYC record or session found")),
    )
    for local, (played, outcome, description) in _FAULT_STORIES.items():
        value = _email(local)
        scenarios.append(Scenario(value, {"email": value}, description, played, outcome))
        scripts[_key(value)] = (FAULT_STEPS[local],)
    return tuple(scenarios), scripts


def _key(subject: str) -> str:
    """Emails and EVM addresses are case-insensitive; Solana addresses are not."""
    return subject.lower() if "@" in subject or subject.startswith("0x") else subject


SCENARIOS, _SCRIPTS = _build()
"""Every scripted subject (also ``StarkFiSimulator().scenarios``)."""


# -- the simulator ---------------------------------------------------------------------------


class StarkFiSimulator:
    """StarkFi's ``GET /kyc/status`` on loopback; satisfies :class:`kycbridge.sandbox.Simulator`.

    ``rate_limit``: requests per second allowed per key (and 60 times that per minute),
    ``None`` for no limit. ``latency``: seconds added to every answer (benchmarks).
    ``tolerance``: seconds shaved off each sliding window, so a client spacing its calls at
    exactly ``1 / rate_limit`` is not refused for the scheduling jitter between its clock
    and this one. ``clock``: the time source (tests).
    Thread-safe: the sandbox serves each request on its own thread.
    """

    name = "starkfi"
    settings: Mapping[str, str] = {"api_key": SANDBOX_API_KEY}
    scenarios: Sequence[Scenario] = SCENARIOS

    def __init__(
        self,
        *,
        rate_limit: float | None = 10.0,
        latency: float = 0.0,
        tolerance: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_limit is not None and rate_limit <= 0:
            raise ValueError("rate_limit must be positive or None")
        if latency < 0 or not 0 <= tolerance < 1:
            raise ValueError("latency must be >= 0 and tolerance in [0, 1)")
        self.rate_limit = rate_limit
        self.latency = latency
        self.tolerance = tolerance
        self._clock = clock
        self._lock = threading.Lock()
        self._calls: dict[str, int] = {}
        self._accepted: dict[str, collections.deque[float]] = {}
        self.answered: collections.Counter[int] = collections.Counter()
        """How many answers of each HTTP status were given since the last reset."""

    def __repr__(self) -> str:
        return f"<StarkFiSimulator rate_limit={self.rate_limit} latency={self.latency}>"

    def reset(self) -> None:
        """Start every scenario over; forget the rate-limit windows and counts."""
        with self._lock:
            self._calls.clear()
            self._accepted.clear()
            self.answered.clear()

    def calls(self, subject: str) -> int:
        """How many requests reached ``subject``'s script since the last reset."""
        with self._lock:
            return self._calls.get(_key(subject), 0)

    def handle(self, request: SimRequest) -> SimResponse:
        """Answer one request, as StarkFi would."""
        response = self._answer(request)
        if self.latency:
            response = attrs.evolve(response, delay=response.delay + self.latency)
        with self._lock:
            self.answered[response.status] += 1
        return response

    def _answer(self, request: SimRequest) -> SimResponse:
        if request.path != STATUS_PATH:
            return error_answer(404, "route_not_found", f"Cannot {request.method} this route")
        if request.method != "GET":
            return error_answer(
                405, "method_not_allowed", "Method not allowed", headers={"Allow": "GET"}
            )
        key = request.headers.get("x-api-key")
        if not key:
            return error_answer(401, "unauthorized", "x-api-key header is required")
        if key != SANDBOX_API_KEY:
            return error_answer(401, "unauthorized", "Invalid API key")
        if self._over_limit(key):
            return rate_limited_answer()
        email = request.param("email") or None
        wallet = request.param("wallet") or None
        if email is None and wallet is None:
            return error_answer(400, "missing_params", "email or wallet is required")
        if email is not None and wallet is not None:
            return error_answer(400, "invalid_params", "Provide either email or wallet, not both")
        subject = email if email is not None else wallet
        assert subject is not None
        key_ = _key(subject)
        script = _SCRIPTS.get(key_)
        if script is None:
            return error_answer(404, "kyc_not_found", "No KYC record or session found")
        with self._lock:
            n = self._calls.get(key_, 0)
            self._calls[key_] = n + 1
        return script[min(n, len(script) - 1)].answer(subject)

    def _over_limit(self, key: str) -> bool:
        """Whether this request breaks 10/s or 600/min (sliding windows); else count it."""
        if self.rate_limit is None:
            return False
        per_second = self.rate_limit
        per_minute = self.rate_limit * 60
        with self._lock:
            now = self._clock()
            accepted = self._accepted.setdefault(key, collections.deque())
            while accepted and accepted[0] <= now - (60.0 - self.tolerance):
                accepted.popleft()
            last_second = 0
            for stamp in reversed(accepted):
                if stamp <= now - (1.0 - self.tolerance):
                    break
                last_second += 1
            if last_second >= per_second or len(accepted) >= per_minute:
                return True
            accepted.append(now)
            return False
