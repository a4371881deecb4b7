"""What a provider's webhook support is, and the helpers most verifiers are made of.

A :class:`WebhookHandler` is mostly data plus one ``verify`` function: check the signature
over the *exact* raw bytes received (:func:`hmac_hex` and :func:`signature_matches`, a
constant-time compare), check the signed time when the provider signs one
(:func:`check_timestamp`), then ``parse`` the body (:func:`strict_json`) into
:class:`WebhookEvent` objects whose reports are normalized by the provider's own status map.
A ``verify`` that had to decode the body (a signed time inside it, a JWT) returns what it
decoded, and the receiver hands it to ``parse`` (:func:`parse_verified`): decoded once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

from .. import strictjson
from ..redact import mask
from ..report import StatusReport

__all__ = [
    "WebhookError",
    "WebhookEvent",
    "WebhookHandler",
    "WebhookMalformed",
    "WebhookNotConfigured",
    "WebhookRejected",
    "check_timestamp",
    "derived_event_id",
    "hmac_hex",
    "iso_time",
    "parse_verified",
    "signature_matches",
    "strict_json",
    "timestamp_from",
]


class WebhookError(Exception):
    """Base of the webhook errors.

    Messages name the rule broken, never a secret, a signature or personal data: they are
    logged, and never sent back to the sender.
    """


class WebhookRejected(WebhookError):
    """The delivery is not authentic: answered 401.

    A signature missing, wrong, or made with another secret; a signed time outside the
    tolerance.
    """


class WebhookMalformed(WebhookError):
    """The delivery is not the provider's documented shape: answered 400.

    Not JSON, a field missing or of the wrong type.
    """


class WebhookNotConfigured(WebhookError):
    """The receiver lacks what it needs to verify (no webhook secret set).

    Answered 503, so that the provider retries once the setting is fixed; logged as a
    configuration error.
    """


def _masked(value: str | None) -> str:
    return "None" if value is None else repr(mask(value))


# slots=False: a frozen dict class is built by writing its __dict__ (one per delivery)
@attrs.frozen(kw_only=True, slots=False)
class WebhookEvent:
    """One event from one verified delivery, normalized.

    ``report`` is ``None`` for an event that carries no status (a redaction, an order
    event): it is acknowledged and passed on, but moves no state. ``subject`` is masked in
    the repr; ``raw`` is left out of it.
    """

    provider: str
    """The provider's registered name."""
    event_id: str
    """The provider's id for the event (or one derived from its content, where the provider
    gives none): deliveries with the same ``(provider, event_id)`` are the same event."""
    event_type: str
    """The provider's event name (``KYC_APPROVED``, ``inquiry.approved``...)."""
    occurred_at: dt.datetime | None = None
    """When the provider says the event happened (UTC), ``None`` when it does not say.
    Used to refuse applying an event older than the last one applied for the subject."""
    subject: str | None = attrs.field(default=None, repr=_masked)
    """Whom the event is about (a user id, a session id). Masked in the repr."""
    report: StatusReport | None = None
    """The status the event carries, normalized through the provider's status map."""
    raw: Any = attrs.field(default=None, repr=False)
    """The decoded event payload."""


@runtime_checkable
class WebhookHandler(Protocol):
    """A provider's webhook verifier and parser. Register one through ``register_webhooks``.

    ``name`` is the provider's name (the handler reads that provider's settings, and answers
    at ``/webhooks/<name>``). ``tolerance`` is the most seconds a signed time may differ from
    the receiver's clock, or ``None`` when the provider signs no time.
    """

    name: str
    tolerance: float | None

    def verify(
        self, headers: Mapping[str, str], body: bytes, settings: Any, now: float
    ) -> object:
        """Return when the delivery is authentic, else raise :class:`WebhookRejected`.

        ``headers`` have lowercase names; ``body`` is the exact bytes received (verify over
        them, never over re-serialized JSON); ``settings`` are the provider's settings (the
        webhook secret is one of them); ``now`` is the receiver's clock in Unix seconds.
        Raises :class:`WebhookNotConfigured` when no secret is set, and may raise
        :class:`WebhookMalformed` when the signature lives in a body that cannot be read.

        Returns ``None``, or what it decoded to verify (the body's JSON, a JWT's claims):
        anything but ``None`` is passed to ``parse`` as its third argument, ``verified``
        (see :func:`parse_verified`), so that the body is decoded once.
        """

    def parse(self, body: bytes, settings: Any) -> list[WebhookEvent]:
        """The events of a verified body; raise :class:`WebhookMalformed` for another shape.

        A handler whose ``verify`` returns something also accepts it here, as an optional
        third argument: ``parse(body, settings, verified=None)``; ``None`` (a direct call)
        means "decode ``body`` yourself".
        """


def parse_verified(
    handler: WebhookHandler, body: bytes, settings: Any, verified: object
) -> list[WebhookEvent]:
    """``handler.parse`` with what ``handler.verify`` returned (nothing when ``None``).

    Handlers whose ``verify`` returns ``None`` keep their two-argument ``parse``.
    """
    if verified is None:
        return handler.parse(body, settings)
    parse: Any = handler.parse
    events: list[WebhookEvent] = parse(body, settings, verified)
    return events


# -- helpers -------------------------------------------------------------------------------------
def hmac_hex(secret: str | bytes, message: bytes, digest: str = "sha256") -> str:
    """The lowercase hex HMAC of ``message`` with ``secret`` (UTF-8 when a string).

    ``digest``: a :mod:`hashlib` name (``sha1``, ``sha256``, ``sha512``...).
    """
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.digest(key, message, digest).hex()  # one-shot: the C fast path


def signature_matches(
    given: str | Iterable[str],
    secrets: Sequence[str | bytes | None],
    message: bytes,
    digest: str = "sha256",
) -> bool:
    """Whether any signature in ``given`` is the hex HMAC of ``message`` under any secret.

    ``given`` may be one signature or several (a header listing one per secret during a
    rotation); ``secrets`` are the receiver's (the current one and, during a rotation, the
    previous one; ``None`` entries are skipped). Every comparison is constant-time
    (:func:`hmac.compare_digest`) and hex case is folded. Anything that is not ASCII never
    matches.
    """
    if isinstance(given, str):  # the common case: one signature, without a comprehension
        folded = [given.strip().lower().encode("ascii")] if given.isascii() else []
    else:
        folded = [
            c.strip().lower().encode("ascii") for c in tuple(given) if c.isascii()
        ]  # anything else never matches
    matched = False
    for secret in secrets:
        if not secret:
            continue
        key = secret.encode("utf-8") if isinstance(secret, str) else secret
        expected = _hmac_digest(key, message, digest).hex().encode("ascii")
        for candidate in folded:
            # no early exit: the time taken does not say which secret matched
            matched |= hmac.compare_digest(candidate, expected)
    return matched


_hmac_digest = hmac.digest


def timestamp_from(value: object) -> float:
    """A signed time (an int, a float or their text) as Unix seconds.

    Raises :class:`WebhookRejected` otherwise: a time the signature covers and we cannot read
    is a bad one.
    """
    if isinstance(value, bool):
        raise WebhookRejected("the signed timestamp is not a number")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and 0 < len(value) <= 20:
        try:
            seconds = float(value.strip())
        except ValueError:
            raise WebhookRejected("the signed timestamp is not a number") from None
    else:
        raise WebhookRejected("the signed timestamp is missing or not a number")
    if not math.isfinite(seconds):
        raise WebhookRejected("the signed timestamp is not a number")
    return seconds


def check_timestamp(signed: object, now: float, tolerance: float) -> float:
    """Refuse a signed time more than ``tolerance`` seconds from ``now``.

    In the past (a replay of an old capture) or the future; return it in Unix seconds.
    """
    seconds = timestamp_from(signed)
    if abs(now - seconds) > tolerance:
        raise WebhookRejected(f"the signed timestamp is more than {tolerance:g} s from now")
    return seconds


def iso_time(value: object) -> dt.datetime | None:
    """An ISO 8601 text (``Z`` or an offset; naive read as UTC) as an aware UTC datetime.

    ``None`` for anything else, or text longer than 40 characters: a provider's event time is
    an ordering hint, never a reason to refuse a verified delivery.
    """
    if not isinstance(value, str) or not 0 < len(value) <= 40:
        return None
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        # Python < 3.11 reads at most 6 fractional digits and no "T" variants: trim the fraction
        head, dot, rest = text.partition(".")
        if not dot:
            return None
        digits = len(rest) - len(rest.lstrip("0123456789"))
        try:
            when = dt.datetime.fromisoformat(head + "." + (rest[:digits] + "000000")[:6]
                                             + rest[digits:])
        except ValueError:
            return None
    zone = when.tzinfo
    if zone is None:  # naive: read as UTC (combine is several times cheaper than replace)
        return _combine(when.date(), when.time(), _UTC)
    if zone is _UTC:  # "Z" and "+00:00" parse to this zone: already what is returned
        return when
    try:
        return when.astimezone(_UTC)
    except (ValueError, OverflowError):
        return None


_UTC = dt.timezone.utc
_combine = dt.datetime.combine


def derived_event_id(kind: str, *parts: object) -> str:
    """An event id for a provider that sends none: ``<kind>:<32 hex of SHA-256 of parts>``.

    The same parts give the same id (a retried delivery is recognized); the parts (a session
    id, a time) are hashed, so the id carries no personal data.
    """
    try:
        text = "\x1f".join(parts)  # type: ignore[arg-type]  # every part a text: one C call
    except TypeError:  # a None or a number among them
        text = "\x1f".join([p if type(p) is str else _part(p) for p in parts])
    return f"{kind}:{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}"


def _part(value: object) -> str:
    return "" if value is None else value if type(value) is str else str(value)


def strict_json(body: bytes, provider: str | None = None) -> Any:
    """``body`` decoded as strict JSON, or raise :class:`WebhookMalformed`.

    Strict as provider answers are (:meth:`kycbridge.transport.Response.json`): no duplicate
    keys, no NaN, bounded depth and number length; UTF-8 only.
    """
    try:
        return strictjson.loads(body)
    except (ValueError, RecursionError):  # NotStrictJSON and UnicodeDecodeError too
        raise WebhookMalformed("the body is not acceptable JSON") from None
