"""Didit's webhooks: :class:`DiditWebhooks`, two HMAC signatures and a signed timestamp.

Didit signs each delivery with the application's webhook secret (setting ``webhook_secret``,
env ``KYCBRIDGE_DIDIT_WEBHOOK_SECRET``), in two headers:

- ``X-Signature``: the hex HMAC-SHA256 of the **raw body** as sent (Didit sends it
  ASCII-escaped). Checked first, over the exact bytes received;
- ``X-Signature-V2``: the hex HMAC-SHA256 of the body **re-serialized**
  (:func:`canonical_body`): sorted keys, compact separators (``,`` ``:``), non-ASCII kept
  (UTF-8), and every whole-number float written as an integer (``1.0`` -> ``1``). It
  survives a proxy that re-encodes the JSON. The body is decoded by the core's strict JSON
  (no duplicate keys, depth and number length bounded) before it is re-serialized, so the
  work is bounded by the body cap.

``X-Signature-Simple`` (deprecated by Didit, an HMAC of four fields only: the rest of the body
is unsigned) is **never accepted**.

The signed time is the body's ``timestamp`` (Unix seconds; ``X-Timestamp`` repeats it, and a
header that disagrees with the body is refused): more than :data:`TOLERANCE` (300 s) from the
receiver's clock, either way, is refused.

Body: ``event_id``, ``webhook_type`` (``status.updated``, ``data.updated``...),
``timestamp``, ``session_id`` (the subject, as a polled report's), ``status`` (through the
provider's own status map), ``vendor_data`` (personal: never kept), ``decision``. Only
``status.updated`` is a status event; other types are acknowledged with no report. The
event time is ``timestamp``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from typing import Any, ClassVar

from kycbridge import MalformedResponse, StatusReport
from kycbridge.webhooks import (
    WebhookEvent,
    WebhookMalformed,
    WebhookNotConfigured,
    WebhookRejected,
    check_timestamp,
    derived_event_id,
    signature_matches,
    strict_json,
    timestamp_from,
)

from .details import parse_details, public_payload
from .mapping import STATUS_MAP
from .query import DiditSettings

__all__ = [
    "SIGNATURE_HEADER",
    "SIGNATURE_V2_HEADER",
    "STATUS_EVENTS",
    "TIMESTAMP_HEADER",
    "TOLERANCE",
    "DiditWebhooks",
    "canonical_body",
    "shorten_floats",
]

SIGNATURE_HEADER = "x-signature"
SIGNATURE_V2_HEADER = "x-signature-v2"
TIMESTAMP_HEADER = "x-timestamp"
TOLERANCE = 300.0
"""Seconds the body's signed ``timestamp`` may differ from the receiver's clock."""

STATUS_EVENTS = ("status.updated",)
"""Webhook types whose ``status`` is the session's new status."""

_MAX_ID = 200


def shorten_floats(value: Any) -> Any:
    """``value`` with every whole-number float as an int (``1.0`` -> ``1``), recursively.

    Depth is bounded by the strict JSON decoder (64) the value comes from.
    """
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else value
    if isinstance(value, dict):
        return {k: shorten_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shorten_floats(v) for v in value]
    return value


def canonical_body(payload: Any) -> bytes:
    """The bytes ``X-Signature-V2`` signs.

    Sorted keys, compact, non-ASCII kept (UTF-8), whole-number floats as ints.
    """
    return json.dumps(
        shorten_floats(payload),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode("utf-8")


def _short(value: object, limit: int = _MAX_ID) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


def _given(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    return value if value and len(value) <= 256 else None


class DiditWebhooks:
    """Verifies and parses Didit's webhook deliveries (see the module docstring)."""

    name: ClassVar[str] = "didit"
    scheme: ClassVar[str] = (
        "X-Signature (hex HMAC-SHA256 of the raw body) or X-Signature-V2 (of the canonical "
        "re-serialized JSON); X-Signature-Simple refused"
    )
    tolerance: ClassVar[float | None] = TOLERANCE
    """Seconds of clock difference accepted on the body's signed ``timestamp``."""

    def __repr__(self) -> str:
        return "<DiditWebhooks>"

    def verify(
        self, headers: Mapping[str, str], body: bytes, settings: DiditSettings, now: float
    ) -> None:
        """Check ``X-Signature`` (raw body), else ``X-Signature-V2``; then the timestamp.

        ``X-Signature-V2`` is checked over the canonical re-serialization.
        """
        secret = getattr(settings, "webhook_secret", None)
        if not secret:
            raise WebhookNotConfigured(
                "webhook_secret is not set (env KYCBRIDGE_DIDIT_WEBHOOK_SECRET)"
            )
        raw_signature = _given(headers, SIGNATURE_HEADER)
        v2_signature = _given(headers, SIGNATURE_V2_HEADER)
        if raw_signature is None and v2_signature is None:
            raise WebhookRejected("neither X-Signature nor X-Signature-V2 is present")
        payload: Any = None
        if raw_signature is not None and signature_matches(raw_signature, [secret], body):
            payload = strict_json(body, self.name)  # authentic: not JSON is malformed (400)
        elif v2_signature is not None:
            try:
                payload = strict_json(body, self.name)
            except WebhookMalformed:
                raise WebhookRejected("X-Signature-V2 cannot match a non-JSON body") from None
            if not signature_matches(v2_signature, [secret], canonical_body(payload)):
                raise WebhookRejected("X-Signature-V2 does not match the body")
        else:
            raise WebhookRejected("X-Signature does not match the body")
        if not isinstance(payload, dict) or "timestamp" not in payload:
            raise WebhookRejected("the body has no signed timestamp")
        signed = payload["timestamp"]
        check_timestamp(signed, now, TOLERANCE)
        header = headers.get(TIMESTAMP_HEADER)
        if header is not None and timestamp_from(header) != timestamp_from(signed):
            raise WebhookRejected("X-Timestamp differs from the body's timestamp")

    def parse(self, body: bytes, settings: DiditSettings) -> list[WebhookEvent]:
        """The one event of a delivery."""
        payload = strict_json(body, self.name)
        if not isinstance(payload, dict):
            raise WebhookMalformed("the body is not a JSON object")
        kind = _short(payload.get("webhook_type"), 100)
        session_id = _short(payload.get("session_id"))
        if kind is None or session_id is None:
            raise WebhookMalformed("'webhook_type' or 'session_id' is missing")
        timestamp = payload.get("timestamp")
        occurred = None
        if isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool):
            try:
                occurred = dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)
            except (ValueError, OverflowError, OSError):
                occurred = None
        event_id = _short(payload.get("event_id")) or derived_event_id(
            kind, session_id, payload.get("status"), timestamp
        )
        report = None
        raw: dict[str, Any] = {"webhook_type": kind, "event_id": event_id}
        if kind in STATUS_EVENTS:
            status = payload.get("status")
            if not isinstance(status, str):
                raise WebhookMalformed("a status event without a status string")
            decision = payload.get("decision")
            source = dict(decision) if isinstance(decision, dict) else {}
            source.update(session_id=session_id, status=status)
            if "workflow_id" in payload and "workflow_id" not in source:
                source["workflow_id"] = payload["workflow_id"]
            try:
                details = parse_details(source)
            except MalformedResponse as exc:
                raise WebhookMalformed(exc.message) from None
            raw.update(public_payload(details))
            report = StatusReport(
                provider=self.name,
                state=STATUS_MAP(status),
                raw_status=status,
                subject=session_id,
                details=details,
                raw=raw,
            )
        return [
            WebhookEvent(
                provider=self.name,
                event_id=event_id,
                event_type=kind,
                occurred_at=occurred,
                subject=session_id,
                report=report,
                raw=raw,
            )
        ]
