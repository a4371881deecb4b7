"""What one Veriff status question is (:class:`VeriffQuery`) and how to reach Veriff.

A query names one verification session by its ``session_id``, the UUID Veriff returned when
the session was created. It is validated on construction, before anything is sent, and it is
treated as personal data (it identifies a user's verification): masked in reprs and in every
error message built here.

Settings (:class:`VeriffSettings`) carry the integration's API key (sent as
``X-AUTH-CLIENT``), its shared secret (never sent: it signs each request, see
:mod:`.signing`) and the base URL. Both credentials are secrets (:func:`kycbridge.secret`):
env ``KYCBRIDGE_VERIFF_API_KEY`` / ``KYCBRIDGE_VERIFF_SHARED_SECRET``, never shown.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from kycbridge import secret, validators
from kycbridge.redact import mask

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "SESSION_ID_PATTERN",
    "SHARED_SECRET_ENV",
    "VeriffQuery",
    "VeriffSettings",
]

DEFAULT_BASE_URL = "https://stationapi.veriff.com"
"""Veriff's API (the integration's "API URL"); paths live under ``/v1``."""

API_KEY_ENV = "KYCBRIDGE_VERIFF_API_KEY"
"""The env variable the API key is read from."""

SHARED_SECRET_ENV = "KYCBRIDGE_VERIFF_SHARED_SECRET"  # noqa: S105 - a name
"""The env variable the shared secret is read from."""

BASE_URL_ENV = "KYCBRIDGE_VERIFF_BASE_URL"
"""The env variable the base URL is read from."""

SESSION_ID_PATTERN = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
"""A session id: a UUID in its canonical hyphenated form (lowercase after conversion)."""

_CONTROL_OR_SPACE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


def _lower(value: object) -> object:
    # Veriff's ids are lowercase UUIDs, and the id is what the request signs: one spelling.
    return value.lower() if isinstance(value, str) else value


def _validate_session_id(_: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"session_id must be a string, not {type(value).__name__}")
    if not value:
        raise ValueError("session_id must not be empty")
    if len(value) != 36 or not SESSION_ID_PATTERN.fullmatch(value):
        shown = mask(value[:64])
        raise ValueError(
            f"session_id {shown!r} is not a UUID (8-4-4-4-12 hex digits, as Veriff returns it)"
        )


@attrs.frozen
class VeriffQuery:
    """One Veriff status question: the ``session_id`` of a verification session.

    >>> VeriffQuery(session_id="AAB2F4C8-0E4B-4D4F-9F31-3F6A1B2C3D4E")  # doctest: +ELLIPSIS
    VeriffQuery(session_id='...')

    The id is kept lowercase. Raises :class:`TypeError` for a non-string and
    :class:`ValueError` for anything but a UUID; messages never show it unmasked.
    """

    session_id: str = attrs.field(
        converter=_lower, validator=_validate_session_id, repr=validators.masked
    )
    """The verification session's id (a UUID), as returned when the session was created."""

    @property
    def subject(self) -> str:
        """The session id this query is about."""
        return self.session_id


def _validate_secret(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise TypeError(f"{attribute.name} must be a string, not {type(value).__name__}")
    if _CONTROL_OR_SPACE.search(value):
        # Never shown: the value is a secret.
        raise ValueError(f"{attribute.name} contains whitespace or control characters")


@attrs.frozen
class VeriffSettings:
    """How to reach Veriff.

    Every field has a default; env ``KYCBRIDGE_VERIFF_<FIELD>`` overrides it, and
    :class:`kycbridge.Bridge` settings override env.
    """

    api_key: str | None = secret(
        default=None, converter=validators.none_if_blank, validator=_validate_secret
    )
    """The integration's API key, sent as ``X-AUTH-CLIENT``. Required at fetch time."""
    shared_secret: str | None = secret(
        default=None, converter=validators.none_if_blank, validator=_validate_secret
    )
    """The integration's shared secret key. Never sent: it signs each request
    (``X-HMAC-SIGNATURE``). Required at fetch time."""
    base_url: str = attrs.field(
        default=DEFAULT_BASE_URL,
        converter=validators.clean_base_url,
        validator=validators.base_url(),
    )
    """Where the API lives (a path prefix is kept); a trailing ``/`` is dropped."""
    webhook_secret: str | None = secret(
        default=None, converter=validators.none_if_blank, validator=_validate_secret
    )
    """The key webhooks are verified with (``X-HMAC-SIGNATURE``), env
    ``KYCBRIDGE_VERIFF_WEBHOOK_SECRET``. Unset: :attr:`shared_secret`, which is what Veriff
    signs webhooks with; set it only for a receiver that must not hold the API credentials."""
