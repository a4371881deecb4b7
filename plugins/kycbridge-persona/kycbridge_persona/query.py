"""What one Persona status question is (:class:`PersonaQuery`) and how to reach Persona.

A query names exactly one subject:

``inquiry_id``
    Persona's inquiry id, ``inq_`` then letters and digits. It goes in the URL path
    (``GET /inquiries/{inquiry-id}``).
``reference_id``
    The partner's own id for the user (Persona's ``reference-id``). It goes in the query
    string of the list call (``GET /inquiries?filter[reference-id]=...&page[size]=1``), which
    answers the newest inquiry first.

Both are treated as personal data: masked in reprs, in logged URLs and in every error
message built here.

Settings (:class:`PersonaSettings`): the API key (a secret, env ``KYCBRIDGE_PERSONA_API_KEY``),
an optional ``Persona-Version`` (a ``YYYY-MM-DD`` date) and the base URL.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import attrs

from kycbridge import secret, validators
from kycbridge.redact import mask

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_BASE_URL",
    "INQUIRY_ID_PATTERN",
    "REFERENCE_ID_MAX_LENGTH",
    "VERSION_PATTERN",
    "PersonaQuery",
    "PersonaSettings",
]

DEFAULT_BASE_URL = "https://api.withpersona.com/api/v1"
"""Persona's API (sandbox and production alike: the API key decides the environment)."""

API_KEY_ENV = "KYCBRIDGE_PERSONA_API_KEY"
"""The env variable the API key is read from."""

INQUIRY_ID_PATTERN = re.compile(r"inq_[A-Za-z0-9]{1,64}")
"""An inquiry id: ``inq_`` and 1 to 64 ASCII letters or digits (matched in full)."""

REFERENCE_ID_MAX_LENGTH = 255
"""Longest accepted reference id."""

VERSION_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
"""A ``Persona-Version`` value: a ``YYYY-MM-DD`` date (``2023-01-05``)."""

_CONTROL_OR_SPACE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


def _validate_inquiry_id(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is None:
        return
    validators.check_text("inquiry_id", value, max_length=68)
    if not INQUIRY_ID_PATTERN.fullmatch(value):
        raise ValueError(
            f"inquiry_id {mask(value)!r} is not a Persona inquiry id "
            "('inq_' and 1 to 64 ASCII letters or digits)"
        )


def _validate_reference_id(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is None:
        return
    validators.check_text("reference_id", value, max_length=REFERENCE_ID_MAX_LENGTH)
    if not value.isprintable():
        raise ValueError(f"reference_id {mask(value)!r} contains unprintable characters")


@attrs.frozen
@validators.exactly_one_of("inquiry_id", "reference_id")
class PersonaQuery:
    """One Persona status question: exactly one of ``inquiry_id`` or ``reference_id``.

    >>> PersonaQuery(inquiry_id="inq_1zMUUKMp5mijxJZhvXyX")
    PersonaQuery(inquiry_id='inq_1z…vXyX', reference_id=None)

    Raises :class:`TypeError` for a non-string field and :class:`ValueError` for an invalid
    one, or when neither or both are given. Messages never show the value unmasked.
    """

    inquiry_id: str | None = attrs.field(
        default=None, validator=_validate_inquiry_id, repr=validators.masked
    )
    """Persona's inquiry id (``inq_...``): asks ``GET /inquiries/{inquiry-id}``."""
    reference_id: str | None = attrs.field(
        default=None, validator=_validate_reference_id, repr=validators.masked
    )
    """The partner's own id for the user: asks for the newest inquiry with that reference."""

    @property
    def subject(self) -> str:
        """The inquiry id or reference id this query is about."""
        subject = self.inquiry_id if self.inquiry_id is not None else self.reference_id
        assert subject is not None  # guaranteed by validators.exactly_one_of
        return subject


def _validate_webhook_secret(_: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise TypeError(f"{attribute.name} must be a string, not {type(value).__name__}")
    if _CONTROL_OR_SPACE.search(value) or len(value) > 512:
        # Never shown: the value is a secret.
        raise ValueError(f"{attribute.name} contains whitespace or control characters, or is "
                         "longer than 512 characters")


def _validate_api_key(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise TypeError(f"api_key must be a string, not {type(value).__name__}")
    if _CONTROL_OR_SPACE.search(value) or not value.isascii():
        # Never shown: the value is a secret.
        raise ValueError("api_key contains whitespace, control or non-ASCII characters")
    if len(value) > 512:
        raise ValueError(f"api_key is too long ({len(value)} characters, at most 512)")


def _strip(value: object) -> object:
    value = validators.none_if_blank(value)
    return value.strip() if isinstance(value, str) else value


def _validate_version(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise TypeError(f"persona_version must be a string, not {type(value).__name__}")
    shown = value[:40]
    if not VERSION_PATTERN.fullmatch(value):
        raise ValueError(f"persona_version {shown!r} is not a YYYY-MM-DD date (2023-01-05)")
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"persona_version {shown!r} is not a calendar date") from None


@attrs.frozen
class PersonaSettings:
    """How to reach Persona.

    Every field has a default; env ``KYCBRIDGE_PERSONA_<FIELD>`` overrides it, and
    :class:`kycbridge.Bridge` settings override env.
    """

    api_key: str | None = secret(
        default=None, converter=validators.none_if_blank, validator=_validate_api_key
    )
    """The API key, sent as ``Authorization: Bearer <key>``. Required at fetch time."""
    persona_version: str | None = attrs.field(
        default=None, converter=_strip, validator=_validate_version
    )
    """The ``Persona-Version`` header (``2023-01-05``); ``None`` sends none (the account's
    default version applies)."""
    base_url: str = attrs.field(
        default=DEFAULT_BASE_URL,
        converter=validators.clean_base_url,
        validator=validators.base_url(refuse_fragment=True),
    )
    """Where the API lives, ``/api/v1`` included; a trailing ``/`` is dropped."""
    webhook_secret: str | None = secret(
        default=None, converter=validators.none_if_blank, validator=_validate_webhook_secret
    )
    """The webhook's secret: ``Persona-Signature`` is checked with it (env
    ``KYCBRIDGE_PERSONA_WEBHOOK_SECRET``). Never sent."""
    webhook_secret_previous: str | None = secret(
        default=None, converter=validators.none_if_blank, validator=_validate_webhook_secret
    )
    """During a secret rotation, the secret being replaced (env
    ``KYCBRIDGE_PERSONA_WEBHOOK_SECRET_PREVIOUS``): deliveries signed with either are
    accepted. Unset it once the rotation is over."""

    def url(self, path: str) -> str:
        """``path`` (``/inquiries``) below :attr:`base_url`, prefix kept."""
        return f"{self.base_url}/{path.lstrip('/')}"
