"""What one Didit status question is (:class:`DiditQuery`) and how to reach Didit.

A query names one verification session by its ``session_id``, a UUID (Didit's session ids
are UUIDs: ``8-4-4-4-12`` hex digits, any case). It is validated on construction, before
anything is sent. The id identifies a person's verification, so it is treated as personal
data: masked in reprs and in every message built here.

Settings (:class:`DiditSettings`): the API key (a secret, env ``KYCBRIDGE_DIDIT_API_KEY``,
sent as ``x-api-key``), the API version (``v3`` by default, or ``v2``) and the base URL.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from kycbridge import secret, validators
from kycbridge.redact import mask

__all__ = [
    "API_KEY_ENV",
    "API_VERSIONS",
    "DEFAULT_API_VERSION",
    "DEFAULT_BASE_URL",
    "SESSION_ID_PATTERN",
    "DiditQuery",
    "DiditSettings",
]

DEFAULT_BASE_URL = "https://verification.didit.me"
"""Didit's verification API."""

API_KEY_ENV = "KYCBRIDGE_DIDIT_API_KEY"
"""The env variable the API key is read from."""

API_VERSIONS = ("v3", "v2")
"""The API versions this plugin reads (``v2`` is the previous one)."""

DEFAULT_API_VERSION = "v3"
"""The API version asked by default."""

SESSION_ID_PATTERN = re.compile(
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
)
"""A session id: a UUID in its canonical hyphenated form (matched with ``fullmatch``)."""

_CONTROL_OR_SPACE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


def _validate_session_id(_: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"session_id must be a string, not {type(value).__name__}")
    if not value:
        raise ValueError("session_id must not be empty")
    if len(value) > 64:
        raise ValueError(f"session_id is too long ({len(value)} characters; a UUID has 36)")
    if not SESSION_ID_PATTERN.fullmatch(value):
        raise ValueError(
            f"session_id {mask(value)!r} is not a UUID (8-4-4-4-12 hex digits)"
        )


@attrs.frozen
class DiditQuery:
    """One Didit status question: the verification session ``session_id``.

    >>> DiditQuery(session_id="11111111-2222-4333-8444-555555555555")
    DiditQuery(session_id='111111…5555')

    Raises :class:`TypeError` for a non-string id and :class:`ValueError` for one that is
    not a UUID. Messages never show the value unmasked.
    """

    session_id: str = attrs.field(validator=_validate_session_id, repr=validators.masked)
    """The verification session's id (a UUID), as Didit returned it when creating it."""

    @property
    def subject(self) -> str:
        """The session id this query is about."""
        return self.session_id


def _validate_api_key(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise TypeError(f"api_key must be a string, not {type(value).__name__}")
    if _CONTROL_OR_SPACE.search(value):
        # Never shown: the value is a secret.
        raise ValueError("api_key contains whitespace or control characters")


def _clean_version(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


def _validate_version(_: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"api_version must be a string, not {type(value).__name__}")
    if value not in API_VERSIONS:
        raise ValueError(f"api_version {value[:10]!r} is not one of {list(API_VERSIONS)}")


def _validate_webhook_secret(_: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise TypeError(f"webhook_secret must be a string, not {type(value).__name__}")
    if len(value) > 512 or any(c.isspace() or not c.isprintable() for c in value):
        # Never shown: the value is a secret.
        raise ValueError("webhook_secret contains whitespace or control characters, or is "
                         "longer than 512 characters")


@attrs.frozen
class DiditSettings:
    """How to reach Didit.

    Every field has a default; env ``KYCBRIDGE_DIDIT_<FIELD>`` overrides it, and
    :class:`kycbridge.Bridge` settings override env.
    """

    api_key: str | None = secret(
        default=None, converter=validators.none_if_blank, validator=_validate_api_key
    )
    """The application's API key, sent as ``x-api-key``. Required at fetch time. Never shown."""
    api_version: str = attrs.field(
        default=DEFAULT_API_VERSION, converter=_clean_version, validator=_validate_version
    )
    """``v3`` (default) or ``v2``: the decision endpoint's version, and its answer's shape."""
    base_url: str = attrs.field(
        default=DEFAULT_BASE_URL,
        converter=validators.clean_base_url,
        validator=validators.base_url(refuse_fragment=True),
    )
    """Where the API lives (a path prefix is kept); a trailing ``/`` is dropped."""
    webhook_secret: str | None = secret(
        default=None, converter=validators.none_if_blank, validator=_validate_webhook_secret
    )
    """The application's webhook secret: ``X-Signature`` and ``X-Signature-V2`` are checked
    with it (env ``KYCBRIDGE_DIDIT_WEBHOOK_SECRET``). Never sent."""
