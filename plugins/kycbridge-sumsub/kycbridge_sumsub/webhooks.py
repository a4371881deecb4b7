"""Sumsub's webhooks: :class:`SumsubWebhooks`, verified with the webhook's own secret.

``X-Payload-Digest`` is the hex HMAC of the *raw body* keyed with the secret set on the
webhook in Sumsub's dashboard (setting ``webhook_secret``, env
``KYCBRIDGE_SUMSUB_WEBHOOK_SECRET``; not the app token's secret key). ``X-Payload-Digest-Alg``
names the digest: ``HMAC_SHA256_HEX`` (Sumsub's default, also assumed when the header is
absent), ``HMAC_SHA512_HEX`` or ``HMAC_SHA1_HEX`` (legacy, still accepted because Sumsub
documents it); any other value is refused.

The body carries the review fields at its top level (``applicantId``, ``type`` (the event),
``reviewStatus``, ``reviewResult``, ``createdAtMs`` ``yyyy-MM-dd HH:mm:ss.fff`` UTC,
``externalUserId``...): an event with a ``reviewStatus`` is a status event, normalized by the
provider's own :data:`~kycbridge_sumsub.mapping.REVIEW_MAP` (``completed/RED/RETRY`` ->
``action_required``...). ``applicantDeleted`` and events without a ``reviewStatus`` are
acknowledged with no report.

- The subject is ``applicantId`` (always sent): track Sumsub subjects by ``applicant_id`` for
  webhooks to reach them in the tracker. ``externalUserId`` (the partner's own user id:
  personal) is never kept.
- No time is signed: replays are caught by event id only. Sumsub documents no event id: it is
  derived from the event type, the applicant, ``correlationId``, ``reviewStatus`` and
  ``createdAtMs`` (hashed). The event time is ``createdAtMs``.
- Sumsub counts a reply slower than 5 s as a timeout (and retries after 5 min, 1 h, 5 h,
  18 h): keep ``on_event`` and hooks quick.
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

from .details import parse_details, safe_review
from .mapping import normalize, raw_status_of
from .query import SumsubSettings

__all__ = ["ALGORITHMS", "DIGEST_HEADER", "SumsubWebhooks"]

DIGEST_HEADER = "x-payload-digest"
ALGORITHM_HEADER = "x-payload-digest-alg"
ALGORITHMS: Mapping[str, str] = {
    "HMAC_SHA256_HEX": "sha256",
    "HMAC_SHA512_HEX": "sha512",
    "HMAC_SHA1_HEX": "sha1",
}
"""``X-Payload-Digest-Alg`` values and their :mod:`hashlib` digests."""
DEFAULT_ALGORITHM = "HMAC_SHA256_HEX"
NON_STATUS_EVENTS = frozenset({"applicantDeleted"})
_REVIEW_KEYS = ("reviewStatus", "reviewResult", "attemptCnt", "levelName", "reviewId",
                "attemptId", "createDate", "reviewDate", "priority")
_MAX_ID = 200


def _short(value: object, limit: int = _MAX_ID) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


_MAX_WORD = 100
_STATES: dict[tuple[object, ...], tuple[KYCState, str | None]] = {}
"""The review words -> ``(state, raw_status)``: the mapping's answers, remembered (bounded)."""


def _word(value: object) -> bool:
    return value is None or (type(value) is str and len(value) <= _MAX_WORD)


def _state_of(review: dict[str, Any]) -> tuple[KYCState, str | None]:
    """:func:`.mapping.normalize` and :func:`.mapping.raw_status_of`, remembered per words.

    Keyed by exactly what they read (``reviewStatus`` and ``reviewResult``'s answer and
    reject type, absent told from ``null``); anything else is not remembered.
    """
    status = review.get("reviewStatus")
    result = review.get("reviewResult", _ABSENT)
    key: tuple[object, ...] | None = None
    if type(status) is str and len(status) <= _MAX_WORD:
        if result is _ABSENT or result is None:
            key = (status, result is None)
        elif type(result) is dict:
            answer = result.get("reviewAnswer", _ABSENT)
            reject = result.get("reviewRejectType", _ABSENT)
            if (answer is _ABSENT or _word(answer)) and (reject is _ABSENT or _word(reject)):
                key = (status, answer, reject)
    if key is None:
        return normalize(review), raw_status_of(review)
    known = _STATES.get(key)
    if known is None:
        known = (normalize(review), raw_status_of(review))
        if len(_STATES) < 256:  # senders choose words: never an unbounded cache
            _STATES[key] = known
    return known


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


_ABSENT: Any = _Absent()


class SumsubWebhooks:
    """Verifies and parses Sumsub's webhook deliveries (see the module docstring)."""

    name: ClassVar[str] = "sumsub"
    scheme: ClassVar[str] = (
        "X-Payload-Digest, hex HMAC of the raw body (SHA-256, SHA-512 or SHA-1 by "
        "X-Payload-Digest-Alg)"
    )
    tolerance: ClassVar[float | None] = None
    """Sumsub signs no time: replays are caught by the derived event id only."""

    def __repr__(self) -> str:
        return "<SumsubWebhooks>"

    def verify(
        self, headers: Mapping[str, str], body: bytes, settings: SumsubSettings, now: float
    ) -> None:
        """Check ``X-Payload-Digest`` with the digest ``X-Payload-Digest-Alg`` names."""
        secret = getattr(settings, "webhook_secret", None)
        if not secret:
            raise WebhookNotConfigured(
                "webhook_secret is not set (env KYCBRIDGE_SUMSUB_WEBHOOK_SECRET): the secret "
                "set on the webhook in Sumsub's dashboard"
            )
        algorithm = headers.get(ALGORITHM_HEADER, DEFAULT_ALGORITHM).strip().upper()
        digest = ALGORITHMS.get(algorithm)
        if digest is None:
            raise WebhookRejected("X-Payload-Digest-Alg is not a documented algorithm")
        given = headers.get(DIGEST_HEADER)
        if not given or len(given) > 256:
            raise WebhookRejected("X-Payload-Digest is missing")
        if not signature_matches(given, [secret], body, digest):
            raise WebhookRejected("X-Payload-Digest does not match the body")

    def parse(self, body: bytes, settings: SumsubSettings) -> list[WebhookEvent]:
        """The one event of a delivery."""
        payload = strict_json(body, self.name)
        if not isinstance(payload, dict):
            raise WebhookMalformed("the body is not a JSON object")
        kind = _short(payload.get("type"), 100)
        applicant = _short(payload.get("applicantId"))
        if kind is None or applicant is None:
            raise WebhookMalformed("'type' or 'applicantId' is missing")
        created = payload.get("createdAtMs")
        status = payload.get("reviewStatus")
        report = None
        review = {k: payload[k] for k in _REVIEW_KEYS if k in payload}
        applicant_view = {"type": payload.get("applicantType"), "review": review}
        raw: dict[str, Any] = {"type": kind, "review": safe_review(review)}  # as safe_raw's
        if kind not in NON_STATUS_EVENTS and status is not None:
            if not isinstance(status, str):
                raise WebhookMalformed("'reviewStatus' is not a string")
            try:
                details = parse_details(applicant_view)
            except MalformedResponse as exc:
                raise WebhookMalformed(exc.message) from None
            state, raw_status = _state_of(review)
            report = StatusReport(
                provider=self.name,
                state=state,
                raw_status=raw_status,
                subject=applicant,
                details=details,
                raw=raw,
            )
        return [
            WebhookEvent(
                provider=self.name,
                event_id=derived_event_id(
                    kind, applicant, payload.get("correlationId"), status, created
                ),
                event_type=kind,
                occurred_at=iso_time(created),
                subject=applicant,
                report=report,
                raw=raw,
            )
        ]
