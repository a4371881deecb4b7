"""A toy provider with webhooks: HMAC-SHA256 over ``"<t>.<raw body>"``, a signed timestamp
with a tolerance, and two signatures during a secret rotation (the generic rules' tests).

Header ``toy-signature: t=<unix>,v1=<hex>[ t=<unix>,v1=<hex>]``; body
``{"id": "evt_...", "type": "status.updated" | "subject.redacted", "created": <unix>,
"subject": "...", "status": "OK" | ...}``. Settings ``webhook_secret`` and
``webhook_secret_previous`` (both secrets).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from toy import ToyDetails, ToyProvider, ToyQuery

import kycbridge
from kycbridge import StatusReport
from kycbridge.webhooks import (
    WebhookEvent,
    WebhookMalformed,
    WebhookNotConfigured,
    WebhookRejected,
    check_timestamp,
    hmac_hex,
    signature_matches,
    strict_json,
)
from kycbridge.webhooks.push import Delivery

SECRET = "whsec-toy-current-0123456789"
PREVIOUS = "whsec-toy-previous-0123456789"
TOLERANCE = 300.0


@attrs.frozen
class HookToySettings:
    base_url: str = "http://127.0.0.1:9"
    webhook_secret: str | None = kycbridge.secret(default=None)
    webhook_secret_previous: str | None = kycbridge.secret(default=None)


class HookToyProvider(ToyProvider):
    name = "hooktoy"
    query_type = ToyQuery
    settings_type = HookToySettings


def sign(body: bytes, t: float, *secrets: str) -> str:
    """The header value: one ``t=..,v1=..`` set per secret, space-separated."""
    return " ".join(f"t={int(t)},v1={hmac_hex(s, f'{int(t)}.'.encode() + body)}" for s in secrets)


def _parse_header(value: str) -> list[tuple[str, str]]:
    pairs = []
    for part in value.split(" ")[:4]:
        fields = dict(item.partition("=")[::2] for item in part.split(",")[:4])
        if "t" in fields and "v1" in fields:
            pairs.append((fields["t"], fields["v1"]))
    return pairs


class HookToyWebhooks:
    name = "hooktoy"
    tolerance: float | None = TOLERANCE

    def verify(self, headers: Mapping[str, str], body: bytes, settings: Any, now: float) -> None:
        secrets = [settings.webhook_secret, settings.webhook_secret_previous]
        if not any(secrets):
            raise WebhookNotConfigured("webhook_secret is not set")
        pairs = _parse_header(headers.get("toy-signature", ""))
        if not pairs:
            raise WebhookRejected("no toy-signature")
        for t, signature in pairs:
            check_timestamp(t, now, TOLERANCE)
            if signature_matches(signature, secrets, t.encode() + b"." + body):
                return
        raise WebhookRejected("no signature matches")

    def parse(self, body: bytes, settings: Any) -> list[WebhookEvent]:
        payload = strict_json(body, self.name)
        if not isinstance(payload, dict):
            raise WebhookMalformed("not an object")
        event_id, kind, subject = payload.get("id"), payload.get("type"), payload.get("subject")
        if not isinstance(event_id, str) or not isinstance(kind, str):
            raise WebhookMalformed("id or type missing")
        created = payload.get("created")
        occurred = (
            dt.datetime.fromtimestamp(created, dt.timezone.utc)
            if isinstance(created, int) and 0 <= created < 2**33
            else None
        )
        report = None
        status = payload.get("status")
        if kind == "status.updated":
            if not isinstance(status, str) or not isinstance(subject, str):
                raise WebhookMalformed("status or subject missing")
            provider = HookToyProvider()
            report = StatusReport(
                provider=self.name,
                state=provider.normalize(status),
                raw_status=status,
                subject=subject,
                details=ToyDetails(word=status),
                raw=payload,
            )
        return [
            WebhookEvent(
                provider=self.name,
                event_id=event_id,
                event_type=kind,
                occurred_at=occurred,
                subject=subject if isinstance(subject, str) else None,
                report=report,
                raw=payload,
            )
        ]


def body_for(
    event_id: str, subject: str, status: str | None, created: float, **extra: Any
) -> bytes:
    payload: dict[str, Any] = {
        "id": event_id,
        "type": "status.updated" if status else "subject.redacted",
        "created": int(created),
        "subject": subject,
        **extra,
    }
    if status:
        payload["status"] = status
    return json.dumps(payload).encode()


class HookToySimulator:
    """Pushes the toy's deliveries, including a stale timestamp (the toy signs time)."""

    name = "hooktoy"
    settings: Mapping[str, str] = {}
    scenarios: Sequence[Any] = ()
    webhook_settings: Mapping[str, str] = {"webhook_secret": SECRET}

    def handle(self, request: Any) -> Any:
        raise NotImplementedError

    def reset(self) -> None:
        pass

    def webhook_deliveries(self, now: float) -> list[Delivery]:
        def signed(label: str, body: bytes, expect: str = "accepted", at: float = now) -> Delivery:
            return Delivery(label, {"toy-signature": sign(body, at, SECRET)}, body, expect)

        first = body_for("evt_1", "s-1", "WORKING", now - 30)
        return [
            signed("s-1 WORKING", first),
            signed("s-1 OK", body_for("evt_2", "s-1", "OK", now - 20)),
            signed("replay", first, "duplicate"),
            signed("older", body_for("evt_3", "s-1", "REVIEW", now - 25), "stale"),
            signed(
                "stale timestamp", body_for("evt_4", "s-2", "OK", now), "unauthorized", now - 3600
            ),
            Delivery(
                "bad signature",
                {"toy-signature": sign(first, now, "nope-0123")},
                first,
                "unauthorized",
            ),
            signed("redaction", body_for("evt_5", "s-1", None, now), "acknowledged"),
            signed(
                "too large", body_for("evt_6", "s-3", "OK", now, pad="x" * 300_000), "too_large"
            ),
        ]


class hooktoy_plugin:
    @staticmethod
    @kycbridge.hookimpl
    def register_providers(register: Any) -> None:
        register(HookToyProvider())

    @staticmethod
    @kycbridge.hookimpl
    def register_webhooks(register: Any) -> None:
        register(HookToyWebhooks())
