"""Veriff's webhooks: :class:`VeriffWebhooks`, verified with the integration's shared secret.

Veriff signs every webhook the way the API signs requests: ``X-HMAC-SIGNATURE`` is the
lowercase hex HMAC-SHA256 of the *raw body*, keyed with the integration's shared secret
(setting ``webhook_secret``, env ``KYCBRIDGE_VERIFF_WEBHOOK_SECRET``; when it is not set, the
API's ``shared_secret`` is used, which is what Veriff signs with).

Two shapes are read:

- a **decision webhook**, the decision answer's shape ``{"status": "success",
  "verification": {...}, "technicalData": {...}}``: the state comes from the plugin's own
  mapping (:func:`.mapping.normalize`: the word decides, the code is kept), details from
  :func:`.details.parse_details`, ``raw`` from :func:`.details.public_payload` (no person,
  document, vendor data or ``technicalData``, which holds the user's IP address);
- an **event webhook** ``{"id", "attemptId", "feature", "code": 7002, "action":
  "submitted", "vendorData", "endUserId"}`` (``started`` 7001 too): the action is the
  status word (``submitted`` -> ``submitted``).

The subject is the session id (``verification.id`` / ``id``), lowercase, as a polled report's.

Rules users must know:

- **No time is signed** (:attr:`VeriffWebhooks.tolerance` is ``None``): a captured delivery
  stays valid forever. Replays are recognized by event id only (the receiver's seen store):
  Veriff sends no event id, so :func:`event_id_for` derives one from the session, the
  attempt, the decision and its time (hashed: no personal data in it).
- The decision's time is ``decisionTime`` (else ``acceptanceTime``); event webhooks carry no
  time, so they are always applied (a late ``submitted`` after a decision is then flagged as
  an anomaly by :meth:`kycbridge.Bridge.observe`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from kycbridge import KYCState, MalformedResponse, StatusReport
from kycbridge.webhooks import (
    WebhookEvent,
    WebhookMalformed,
    WebhookNotConfigured,
    WebhookRejected,
    derived_event_id,
    iso_time,
    signature_matches,
    strict_json,
)

from .details import VeriffDetails, parse_details, public_payload
from .mapping import code_text, normalize, raw_status_of
from .query import VeriffSettings

__all__ = ["EVENT_ACTIONS", "SIGNATURE_HEADER", "VeriffWebhooks", "event_id_for"]

SIGNATURE_HEADER = "x-hmac-signature"
"""The header carrying the signature (lowercase, as the receiver reads headers)."""

EVENT_ACTIONS = ("started", "submitted")
"""The session events' actions (codes 7001, 7002) Veriff documents."""

_MAX_WORD = 100
_MAX_ID = 200
_RAW_EVENT_FIELDS = ("id", "attemptId", "feature", "code", "action")


def _secrets(settings: VeriffSettings) -> list[str | None]:
    secret = settings.webhook_secret or settings.shared_secret
    if not secret:
        raise WebhookNotConfigured(
            "neither webhook_secret nor shared_secret is set "
            "(env KYCBRIDGE_VERIFF_WEBHOOK_SECRET or KYCBRIDGE_VERIFF_SHARED_SECRET)"
        )
    return [secret]


def _short(value: object, limit: int = _MAX_ID) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


_STATES: dict[tuple[str, str | None], tuple[KYCState, str | None]] = {}
"""``(status, code)`` -> ``(state, raw_status)``: the mapping's answers, remembered (bounded)."""


def _state_of(verification: Mapping[str, Any]) -> tuple[KYCState, str | None]:
    """:func:`.mapping.normalize` and :func:`.mapping.raw_status_of`, remembered per word."""
    status = verification.get("status")
    if type(status) is not str or len(status) > _MAX_WORD:
        return normalize(verification), raw_status_of(verification)
    key = (status, code_text(verification.get("code")))
    known = _STATES.get(key)
    if known is None:
        known = (normalize(verification), raw_status_of(verification))
        if len(_STATES) < 256:  # senders choose words: never an unbounded cache
            _STATES[key] = known
    return known


def event_id_for(kind: str, body: Mapping[str, Any]) -> str:
    """The derived id of a decision or an event (Veriff sends none).

    ``kind="decision"`` with ``body`` the ``verification``, or ``kind="event"`` with the
    event body.
    """
    if kind == "decision":
        code = body.get("code")
        return derived_event_id(
            "decision",
            body.get("id"),
            body.get("attemptId"),
            body.get("status"),
            str(code) if type(code) is int else code_text(code),  # the text the id hashes
            body.get("decisionTime"),
        )
    return derived_event_id(
        f"event.{body.get('action')}",
        body.get("id"),
        body.get("attemptId"),
        code_text(body.get("code")),
    )


class VeriffWebhooks:
    """Verifies and parses Veriff's decision and event webhooks (see the module docstring)."""

    name: ClassVar[str] = "veriff"
    scheme: ClassVar[str] = "X-HMAC-SIGNATURE, hex HMAC-SHA256 of the raw body (shared secret)"
    tolerance: ClassVar[float | None] = None
    """Veriff signs no time: replays are caught by event id only."""

    def __repr__(self) -> str:
        return "<VeriffWebhooks>"

    def verify(
        self, headers: Mapping[str, str], body: bytes, settings: VeriffSettings, now: float
    ) -> None:
        """Check ``X-HMAC-SIGNATURE`` against the HMAC-SHA256 of the raw body."""
        secrets = _secrets(settings)
        given = headers.get(SIGNATURE_HEADER)
        if not given or len(given) > 256:
            raise WebhookRejected("X-HMAC-SIGNATURE is missing")
        if not signature_matches(given, secrets, body):
            raise WebhookRejected("X-HMAC-SIGNATURE does not match the body")

    def parse(self, body: bytes, settings: VeriffSettings) -> list[WebhookEvent]:
        """The one event of a decision or event webhook."""
        payload = strict_json(body, self.name)
        if not isinstance(payload, dict):
            raise WebhookMalformed("the body is not a JSON object")
        if "verification" in payload:
            return [self._decision(payload)]
        if "action" in payload:
            return [self._event(payload)]
        raise WebhookMalformed("neither a decision (verification) nor an event (action)")

    def _decision(self, payload: dict[str, Any]) -> WebhookEvent:
        verification = payload["verification"]
        if not isinstance(verification, dict):
            raise WebhookMalformed("'verification' is not an object")
        subject = _short(verification.get("id"))
        if subject is None:
            raise WebhookMalformed("'verification.id' (the session id) is missing")
        subject = subject.lower()
        try:
            details = parse_details(verification)
        except MalformedResponse as exc:
            raise WebhookMalformed(exc.message) from None
        state, raw_status = _state_of(verification)
        report = StatusReport(
            provider=self.name,
            state=state,
            raw_status=raw_status,
            subject=subject,
            details=details,
            raw=public_payload(payload),
        )
        occurred = iso_time(verification.get("decisionTime")) or iso_time(
            verification.get("acceptanceTime")
        )
        return WebhookEvent(
            provider=self.name,
            event_id=event_id_for("decision", verification),
            event_type="decision",
            occurred_at=occurred,
            subject=subject,
            report=report,
            raw=report.raw,
        )

    def _event(self, payload: dict[str, Any]) -> WebhookEvent:
        action = _short(payload.get("action"), _MAX_WORD)
        subject = _short(payload.get("id"))
        if action is None or subject is None:
            raise WebhookMalformed("an event needs an 'action' and an 'id' (the session id)")
        subject = subject.lower()
        code = payload.get("code")
        if code is not None and code_text(code) is None:
            raise WebhookMalformed("'code' is not a number")
        attempt = payload.get("attemptId")
        raw = {k: payload[k] for k in _RAW_EVENT_FIELDS if k in payload}
        report = None
        if action in EVENT_ACTIONS:
            cells = {"status": action, "code": code}
            report = StatusReport(
                provider=self.name,
                state=normalize(cells),
                raw_status=raw_status_of(cells),
                subject=subject,
                details=VeriffDetails(
                    decided=False,
                    status=action,
                    code=code if isinstance(code, int) and not isinstance(code, bool) else None,
                    attempt_id=attempt if isinstance(attempt, str) else None,
                ),
                raw=raw,
            )
        return WebhookEvent(
            provider=self.name,
            event_id=event_id_for("event", payload),
            event_type=f"event.{action}",
            occurred_at=None,
            subject=subject,
            report=report,
            raw=raw,
        )
