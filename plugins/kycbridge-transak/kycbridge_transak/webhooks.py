"""Transak's webhooks: :class:`TransakWebhooks`, verified with the partner access token.

A delivery is ``{"data": "<JWT>"}``; the JWT is HS256-signed with the partner access token
(setting ``partner_access_token``, env ``KYCBRIDGE_TRANSAK_PARTNER_ACCESS_TOKEN``; with
``api_key``/``api_secret`` instead, the token last obtained from them, read from the
credential cache: see the README) and its
claims are ``{"eventID": "KYC_APPROVED", "webhookData": {...}}``. KYC events carry
``webhookData.kycStatus`` (``SUBMITTED``, ``APPROVED``, ``REJECTED``), mapped through the
provider's own :data:`~kycbridge_transak.mapping.STATUS_MAP`, and ``partnerUserId`` (the
event's subject: personal data, masked in reprs).

Rules:

- only HS256 is accepted (``algorithms=["HS256"]``, never ``none`` nor the token's own
  ``alg``); a JWT that does not verify is a 401;
- the signed claims are read as strict JSON, as the body is (no key twice, no NaN, bounded
  depth): claims that break a rule are a 400;
- ``exp`` and ``nbf``, when the token has them, are checked against the receiver's clock
  with :attr:`TransakWebhooks.leeway` seconds of slack (Transak documents neither: no
  tolerance is declared);
- a plain ``data`` object (unsigned) is refused unless setting ``webhook_unsigned`` is
  ``accept``;
- ``eventID`` is the event's *name*, as in Transak's order webhooks; Transak documents no
  unique delivery id, so :attr:`WebhookEvent.event_id` is derived from the event: its name
  and a SHA-256 of ``webhookData`` (a retry of the same event has the same id);
- the event time is ``webhookData.updatedAt``, else ``createdAt`` (ISO 8601), else the JWT's
  ``iat`` (all unconfirmed: ``None`` when none is readable);
- an event without ``kycStatus`` (an order event) is acknowledged with no report.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any, ClassVar

from kycbridge import StatusReport
from kycbridge.webhooks import (
    WebhookEvent,
    WebhookMalformed,
    WebhookNotConfigured,
    WebhookRejected,
    strict_json,
)

from .mapping import STATUS_MAP
from .provider import TransakDetails
from .query import TransakSettings

__all__ = ["KYC_EVENTS", "TransakWebhooks", "event_id_for"]

KYC_EVENTS = ("KYC_SUBMITTED", "KYC_APPROVED", "KYC_REJECTED")
"""The KYC event names Transak documents (whitelabel partners only)."""

MAX_EVENT_NAME = 100
_UTC = dt.timezone.utc


def _jwt() -> Any:
    try:
        import jwt
    except ImportError:
        raise WebhookNotConfigured(
            "PyJWT is not installed: pip install kycbridge-transak (it depends on PyJWT>=2.6) "
            "or 'kycbridge[webhooks]'"
        ) from None
    return jwt


def event_id_for(event_type: str, webhook_data: Mapping[str, Any]) -> str:
    """``<event name>:<first 32 hex of SHA-256 of webhookData as sorted, compact JSON>``."""
    canonical = json.dumps(
        webhook_data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str
    )
    return f"{event_type}:{hashlib.sha256(canonical.encode()).hexdigest()[:32]}"


def _when(value: object) -> dt.datetime | None:
    """An ISO 8601 text or Unix seconds as an aware UTC datetime; ``None`` when unreadable."""
    try:
        if isinstance(value, str) and 0 < len(value) <= 40:
            text = value.strip()
            if text[-1:] in ("Z", "z"):
                text = text[:-1] + "+00:00"
            when = dt.datetime.fromisoformat(text)
            if when.tzinfo is None:
                when = when.replace(tzinfo=_UTC)
            return when.astimezone(_UTC)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if math.isfinite(value):
                return dt.datetime.fromtimestamp(value, _UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def _exchanged_token(settings: TransakSettings) -> str | None:
    """The partner access token last obtained from ``api_key``/``api_secret``, if any.

    Looked up in the credential cache (shared through Redis with
    ``KYCBRIDGE_CREDENTIAL_CACHE``); a webhook never triggers an exchange.
    """
    from kycbridge.credentials import current_cache

    from .provider import TransakProvider

    exchange = TransakProvider().credential(settings)
    if exchange is None:
        return None
    token = current_cache().peek(exchange.key)
    return None if token is None else token.value


class TransakWebhooks:
    """Verifies and parses Transak's webhook deliveries (see the module docstring)."""

    name: ClassVar[str] = "transak"
    scheme: ClassVar[str] = "a JWT (HS256, the partner access token) in the body's data"
    tolerance: ClassVar[float | None] = None
    """Transak signs no delivery time."""
    leeway: ClassVar[float] = 300.0
    """Seconds of slack on a JWT's ``exp`` and ``nbf``, when it has them."""

    def __repr__(self) -> str:
        return "<TransakWebhooks>"

    def claims(self, body: bytes, settings: TransakSettings, now: float | None) -> dict[str, Any]:
        """The verified claims of a delivery (``now``: check ``exp``/``nbf`` at this time)."""
        payload = strict_json(body, self.name)
        if not isinstance(payload, dict) or "data" not in payload:
            raise WebhookMalformed('the body is not {"data": ...}')
        data = payload["data"]
        if isinstance(data, dict):
            if settings.webhook_unsigned != "accept":
                raise WebhookRejected(
                    "an unsigned data object (accepted only with webhook_unsigned=accept)"
                )
            return data
        if not isinstance(data, str):
            raise WebhookMalformed("'data' is neither a JWT nor an object")
        key = settings.partner_access_token or _exchanged_token(settings)
        if not key:
            raise WebhookNotConfigured(
                "partner_access_token is not set (env KYCBRIDGE_TRANSAK_PARTNER_ACCESS_TOKEN), "
                "nor has a token been obtained from api_key/api_secret (share the pollers' "
                "KYCBRIDGE_CREDENTIAL_CACHE): Transak signs its webhooks with it"
            )
        jwt = _jwt()
        try:
            # PyJWS checks the token's form, its algorithm and its signature, and returns the
            # signed payload's bytes: the claims are then read as strictly as the body
            signed = jwt.api_jws.decode(data, key, algorithms=["HS256"])
        except jwt.InvalidSignatureError:
            raise WebhookRejected("the JWT is not signed with the partner access token") from None
        except jwt.InvalidAlgorithmError:
            raise WebhookRejected("the JWT is not signed with HS256") from None
        except (jwt.PyJWTError, ValueError, TypeError):
            raise WebhookRejected("'data' is not a valid JWT") from None
        claims = strict_json(signed, self.name)
        if not isinstance(claims, dict):
            raise WebhookMalformed("the JWT's claims are not an object")
        if now is not None:
            self._check_times(claims, now)
        return claims

    def _check_times(self, claims: Mapping[str, Any], now: float) -> None:
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if exp is not None:
            if not isinstance(exp, (int, float)) or isinstance(exp, bool) or not exp == exp:
                raise WebhookRejected("the JWT's exp is not a number")
            if now > exp + self.leeway:
                raise WebhookRejected("the JWT has expired")
        if nbf is not None:
            if not isinstance(nbf, (int, float)) or isinstance(nbf, bool) or not nbf == nbf:
                raise WebhookRejected("the JWT's nbf is not a number")
            if now < nbf - self.leeway:
                raise WebhookRejected("the JWT is not valid yet")

    def verify(
        self, headers: Mapping[str, str], body: bytes, settings: TransakSettings, now: float
    ) -> dict[str, Any]:
        """Check the JWT in ``data`` (the headers carry nothing Transak signs).

        Returns its verified claims, which :meth:`parse` takes as ``verified``: the token is
        decoded once per delivery.
        """
        return self.claims(body, settings, now)

    def parse(
        self, body: bytes, settings: TransakSettings, verified: object = None
    ) -> list[WebhookEvent]:
        """The one event of a delivery.

        ``verified``: what :meth:`verify` returned for ``body`` (the claims), or ``None`` to
        verify and decode the JWT here (without the time checks: a direct call).
        """
        claims = self.claims(body, settings, None) if verified is None else verified
        if not isinstance(claims, dict):
            raise WebhookMalformed("the JWT's claims are not an object")
        event_type = claims.get("eventID")
        if not isinstance(event_type, str) or not 0 < len(event_type) <= MAX_EVENT_NAME:
            raise WebhookMalformed("'eventID' is missing or not a short string")
        data = claims.get("webhookData")
        if not isinstance(data, dict):
            raise WebhookMalformed("'webhookData' is missing or not an object")
        subject = data.get("partnerUserId")
        if subject is not None and not isinstance(subject, str):
            subject = str(subject) if isinstance(subject, int) else None
        occurred = _when(data.get("updatedAt")) or _when(data.get("createdAt"))
        occurred = occurred or _when(claims.get("iat"))
        status = data.get("kycStatus")
        report = None
        if status is not None:
            if not isinstance(status, str):
                raise WebhookMalformed("'webhookData.kycStatus' is not a string")
            kyc_type = data.get("kycType")
            report = StatusReport(
                provider=self.name,
                state=STATUS_MAP(status),
                raw_status=status,
                subject=subject,
                details=TransakDetails(
                    status=status, kyc_type=kyc_type if isinstance(kyc_type, str) else None
                ),
                raw=data,
            )
        return [
            WebhookEvent(
                provider=self.name,
                event_id=event_id_for(event_type, data),
                event_type=event_type,
                occurred_at=occurred,
                subject=subject,
                report=report,
                raw=claims,
            )
        ]
