"""Persona's webhooks: :class:`PersonaWebhooks`, timestamped HMAC with secret rotation.

``Persona-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``. While
a webhook's secret is being rotated, Persona sends two ``t=...,v1=...`` sets separated by a
space (one per secret). The receiver holds up to two secrets: setting ``webhook_secret`` (env
``KYCBRIDGE_PERSONA_WEBHOOK_SECRET``) and, during a rotation, ``webhook_secret_previous``
(env ``KYCBRIDGE_PERSONA_WEBHOOK_SECRET_PREVIOUS``); a delivery is authentic when any set
matches either secret.

The signed time must be within :data:`TOLERANCE` (300 s) of the receiver's clock, both ways:
a captured delivery cannot be replayed after five minutes, and within them the event id
catches it.

The body is a JSON:API event ``{"data": {"type": "event", "id": "evt_...", "attributes":
{"name": "inquiry.approved", "created-at": ..., "payload": {"data": <inquiry>}}}}``:

- ``inquiry.*`` status events (:data:`STATUS_EVENTS`) carry the inquiry; its
  ``attributes.status`` goes through the provider's own status map, the subject is the
  inquiry id (as a polled report's), ``raw`` keeps only the inquiry's non-personal part;
- any other event (``inquiry.redacted``, ``report.*``, ``account.*``...) is acknowledged with
  no report;
- the event's ``created-at`` is its time: Persona does not promise order, and the receiver
  does not apply an event older than one already applied for the inquiry.

Keys are read in kebab, snake or camel case (Persona's ``Key-Inflection``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from kycbridge import MalformedResponse, StatusReport
from kycbridge.webhooks import (
    WebhookEvent,
    WebhookMalformed,
    WebhookNotConfigured,
    WebhookRejected,
    iso_time,
    signature_matches,
    strict_json,
    timestamp_from,
)

from .details import attribute, parse_inquiry, public_inquiry
from .mapping import STATUS_MAP
from .query import PersonaSettings

__all__ = ["SIGNATURE_HEADER", "STATUS_EVENTS", "TOLERANCE", "PersonaWebhooks", "signature_sets"]

SIGNATURE_HEADER = "persona-signature"
"""The header carrying the signature sets (lowercase, as the receiver reads headers)."""

TOLERANCE = 300.0
"""Seconds a signed ``t`` may differ from the receiver's clock."""

STATUS_EVENTS = frozenset(
    {
        "inquiry.created",
        "inquiry.started",
        "inquiry.completed",
        "inquiry.failed",
        "inquiry.expired",
        "inquiry.marked-for-review",
        "inquiry.approved",
        "inquiry.declined",
        "inquiry.transitioned",
    }
)
"""Events whose payload is an inquiry whose status they changed. ``inquiry.redacted`` is not
one: it removes personal data, the status is unchanged."""

_MAX_HEADER = 1024
_MAX_SETS = 4
_MAX_ID = 200


def signature_sets(value: str) -> list[tuple[str, list[str]]]:
    """The ``(t, [v1...])`` sets of a ``Persona-Signature`` value (at most 4; bounded)."""
    if len(value) > _MAX_HEADER:
        return []
    sets: list[tuple[str, list[str]]] = []
    for part in value.split()[:_MAX_SETS]:
        t: str | None = None
        signatures: list[str] = []
        for item in part.split(",")[:8]:
            key, _, val = item.strip().partition("=")
            if key == "t" and t is None:
                t = val
            elif key == "v1" and val:
                signatures.append(val)
        if t is not None and signatures:
            sets.append((t, signatures))
    return sets


def _short(value: object, limit: int = _MAX_ID) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


class PersonaWebhooks:
    """Verifies and parses Persona's webhook deliveries (see the module docstring)."""

    name: ClassVar[str] = "persona"
    scheme: ClassVar[str] = (
        "Persona-Signature t=..,v1=.., hex HMAC-SHA256 of the signed time, a dot and the raw "
        "body (two sets during a secret rotation)"
    )
    tolerance: ClassVar[float | None] = TOLERANCE
    """Seconds of clock difference accepted on the signed ``t``."""

    def __repr__(self) -> str:
        return "<PersonaWebhooks>"

    def verify(
        self, headers: Mapping[str, str], body: bytes, settings: PersonaSettings, now: float
    ) -> None:
        """Check the signed time, then any ``v1`` against either secret."""
        secrets = [settings.webhook_secret, settings.webhook_secret_previous]
        if not any(secrets):
            raise WebhookNotConfigured(
                "webhook_secret is not set (env KYCBRIDGE_PERSONA_WEBHOOK_SECRET)"
            )
        sets = signature_sets(headers.get(SIGNATURE_HEADER, ""))
        if not sets:
            raise WebhookRejected("Persona-Signature is missing or unreadable")
        in_time = False
        for t, signatures in sets:
            if not t.isascii():
                continue
            seconds = timestamp_from(t)
            if abs(now - seconds) > TOLERANCE:
                continue
            in_time = True
            if signature_matches(signatures, secrets, t.encode("ascii") + b"." + body):
                return
        if not in_time:
            raise WebhookRejected(f"the signed timestamp is more than {TOLERANCE:g} s from now")
        raise WebhookRejected("no Persona-Signature matches the body")

    def parse(self, body: bytes, settings: PersonaSettings) -> list[WebhookEvent]:
        """The one event of a delivery."""
        envelope = strict_json(body, self.name)
        data = envelope.get("data") if isinstance(envelope, dict) else None
        if not isinstance(data, dict) or data.get("type") != "event":
            raise WebhookMalformed('the body is not {"data": {"type": "event", ...}}')
        event_id = _short(data.get("id"))
        attributes = data.get("attributes")
        if event_id is None or not isinstance(attributes, dict):
            raise WebhookMalformed("the event has no id or no attributes")
        name = _short(attributes.get("name"), 100)
        if name is None:
            raise WebhookMalformed("the event has no name")
        occurred = iso_time(attribute(attributes, "created-at"))
        payload = attributes.get("payload")
        resource = payload.get("data") if isinstance(payload, dict) else None
        report = None
        subject = None
        raw: dict[str, Any] = {"type": "event", "id": event_id, "name": name}
        if name in STATUS_EVENTS:
            try:
                details = parse_inquiry(resource, "payload.data")
            except MalformedResponse as exc:
                raise WebhookMalformed(exc.message) from None
            assert isinstance(resource, dict)  # parse_inquiry refused anything else
            subject = details.inquiry_id
            raw["payload"] = {"data": public_inquiry(resource)}
            report = StatusReport(
                provider=self.name,
                state=STATUS_MAP(details.status),
                raw_status=details.status,
                subject=subject,
                details=details,
                raw=raw["payload"],
            )
        elif isinstance(resource, dict) and resource.get("type") == "inquiry":
            subject = _short(resource.get("id"))
        return [
            WebhookEvent(
                provider=self.name,
                event_id=event_id,
                event_type=name,
                occurred_at=occurred,
                subject=subject,
                report=report,
                raw=raw,
            )
        ]
