"""Onfido's webhooks: :class:`OnfidoWebhooks`, verified with the webhook's token.

Onfido signs each delivery with ``X-SHA2-Signature``: the lowercase hex HMAC-SHA256 of the
*raw body*, keyed with the token Onfido shows when the webhook is created (setting
``webhook_secret``, env ``KYCBRIDGE_ONFIDO_WEBHOOK_SECRET``; not the API token). The body is
``{"payload": {"resource_type", "action", "object": {"id", "status",
"started_at_iso8601", "completed_at_iso8601", "href"}, "resource": {...}}}``.

What each action means here:

- ``workflow_run.completed``: a **status event**. ``object.status`` goes through the
  provider's own :data:`~kycbridge_onfido.mapping.STATUS_MAP` (``approved`` -> ``approved``,
  ``review`` -> ``in_review``...); the subject is the workflow run id (``object.id``), as a
  polled report's. Details come from ``resource`` when Onfido includes the run, else from
  ``object``.
- ``check.completed``: **no status** (acknowledged, ``report=None``). A check's ``result``
  (``clear``/``consider``) is one input of a workflow run, about a check id rather than the
  run the app tracks; the run's outcome arrives as its own ``workflow_run.completed``.
  Mapping ``consider`` to a KYC state would guess.
- ``workflow_task.completed`` and any other action: no status (acknowledged).

Onfido documents no event id: :attr:`WebhookEvent.event_id` is derived from the action, the
object's id and its ``completed_at_iso8601`` (hashed), so a retry of the same delivery is
recognized. The event time is ``completed_at_iso8601``. No time is signed (``tolerance`` is
``None``): replays are caught by that id only. Onfido wants an answer within 10 s: keep
``on_event`` and hooks quick (queue the work).
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
    derived_event_id,
    iso_time,
    signature_matches,
    strict_json,
)

from .details import OnfidoDetails, parse_details
from .mapping import STATUS_MAP
from .query import OnfidoSettings

__all__ = ["SIGNATURE_HEADER", "STATUS_ACTIONS", "OnfidoWebhooks", "event_id_for"]

SIGNATURE_HEADER = "x-sha2-signature"
"""The header carrying the signature (lowercase, as the receiver reads headers)."""

STATUS_ACTIONS = ("workflow_run.completed",)
"""The actions whose ``object.status`` is a workflow run's status."""

_MAX_WORD = 100
_MAX_ID = 200
_RAW_OBJECT_FIELDS = ("id", "status", "started_at_iso8601", "completed_at_iso8601")


def event_id_for(action: str, obj: Mapping[str, Any]) -> str:
    """``<action>:<32 hex of SHA-256 of (object id, completed_at_iso8601)>``."""
    return derived_event_id(action, obj.get("id"), obj.get("completed_at_iso8601"))


def _short(value: object, limit: int = _MAX_ID) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


class OnfidoWebhooks:
    """Verifies and parses Onfido's webhook deliveries (see the module docstring)."""

    name: ClassVar[str] = "onfido"
    scheme: ClassVar[str] = "X-SHA2-Signature, hex HMAC-SHA256 of the raw body (webhook token)"
    tolerance: ClassVar[float | None] = None
    """Onfido signs no time: replays are caught by the derived event id only."""

    def __repr__(self) -> str:
        return "<OnfidoWebhooks>"

    def verify(
        self, headers: Mapping[str, str], body: bytes, settings: OnfidoSettings, now: float
    ) -> None:
        """Check ``X-SHA2-Signature`` against the HMAC-SHA256 of the raw body."""
        secret = getattr(settings, "webhook_secret", None)
        if not secret:
            raise WebhookNotConfigured(
                "webhook_secret is not set (env KYCBRIDGE_ONFIDO_WEBHOOK_SECRET): the token "
                "Onfido showed when the webhook was created"
            )
        given = headers.get(SIGNATURE_HEADER)
        if not given or len(given) > 256:
            raise WebhookRejected("X-SHA2-Signature is missing")
        if not signature_matches(given, [secret], body):
            raise WebhookRejected("X-SHA2-Signature does not match the body")

    def parse(self, body: bytes, settings: OnfidoSettings) -> list[WebhookEvent]:
        """The one event of a delivery."""
        envelope = strict_json(body, self.name)
        payload = envelope.get("payload") if isinstance(envelope, dict) else None
        if not isinstance(payload, dict):
            raise WebhookMalformed('the body is not {"payload": {...}}')
        action = _short(payload.get("action"), _MAX_WORD)
        obj = payload.get("object")
        if action is None or not isinstance(obj, dict):
            raise WebhookMalformed("'payload.action' or 'payload.object' is missing")
        object_id = _short(obj.get("id"))
        if object_id is None:
            raise WebhookMalformed("'payload.object.id' is missing")
        resource_type = payload.get("resource_type")
        raw = {
            "resource_type": resource_type if isinstance(resource_type, str) else None,
            "action": action,
            "object": {k: obj[k] for k in _RAW_OBJECT_FIELDS if k in obj},
        }
        report = None
        if action in STATUS_ACTIONS:
            status = obj.get("status")
            if not isinstance(status, str):
                raise WebhookMalformed("a workflow run event without a status string")
            report = StatusReport(
                provider=self.name,
                state=STATUS_MAP(status),
                raw_status=status,
                subject=object_id,
                details=self._details(payload.get("resource"), object_id, status),
                raw=raw,
            )
        return [
            WebhookEvent(
                provider=self.name,
                event_id=event_id_for(action, obj),
                event_type=action,
                occurred_at=iso_time(obj.get("completed_at_iso8601")),
                subject=object_id if report is not None else None,
                report=report,
                raw=raw,
            )
        ]

    @staticmethod
    def _details(resource: object, run_id: str, status: str) -> OnfidoDetails:
        if isinstance(resource, dict) and resource.get("id") == run_id:
            try:
                return parse_details({**resource, "status": status})
            except MalformedResponse as exc:
                raise WebhookMalformed(exc.message) from None
        return OnfidoDetails(id=run_id, status=status)
