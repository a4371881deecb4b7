"""What one Sumsub status question is (:class:`SumsubQuery`) and how to reach Sumsub.

A query names exactly one applicant:

``applicant_id``
    Sumsub's applicant id (24 hex digits in every example; the format is not documented, so
    1 to 64 ASCII letters, digits, ``_`` and ``-`` are accepted). It goes in the URL path:
    ``GET /resources/applicants/{applicantId}/one``.
``external_user_id``
    The partner's own id for the user (Sumsub's ``externalUserId``), set when the applicant
    was created. It goes in the URL path too, after the literal text ``-;externalUserId=``:
    ``GET /resources/applicants/-;externalUserId={externalUserId}/one``.

Both are personal data: masked in reprs, in logged URLs (the core encodes and masks path
parameters) and in every error message.

Settings (:class:`SumsubSettings`): the app token (a secret sent as ``X-App-Token``; sandbox
tokens start ``sbx:``, production tokens ``prd:``), the secret key (a secret that is never
sent: it signs each attempt, see :mod:`.signing`) and the base URL.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from kycbridge import secret, validators
from kycbridge.redact import mask

__all__ = [
    "APPLICANT_ID_PATTERN",
    "APP_TOKEN_ENV",
    "APP_TOKEN_PREFIXES",
    "DEFAULT_BASE_URL",
    "EXTERNAL_USER_ID_MAX_LENGTH",
    "SECRET_KEY_ENV",
    "SumsubQuery",
    "SumsubSettings",
]

DEFAULT_BASE_URL = "https://api.sumsub.com"
"""Sumsub's API, sandbox and production alike (the app token decides the mode)."""

APP_TOKEN_ENV = "KYCBRIDGE_SUMSUB_APP_TOKEN"  # noqa: S105 - a name
"""The env variable the app token is read from."""

SECRET_KEY_ENV = "KYCBRIDGE_SUMSUB_SECRET_KEY"  # noqa: S105 - a name
"""The env variable the secret key is read from."""

APP_TOKEN_PREFIXES = ("sbx:", "prd:")
"""How an app token starts: ``sbx:`` (sandbox) or ``prd:`` (production)."""

APPLICANT_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
"""An applicant id (matched in full): Sumsub's are 24 hex digits; wider is tolerated."""

EXTERNAL_USER_ID_MAX_LENGTH = 256
"""Longest accepted external user id (Sumsub documents no limit: a bound of our own)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_OR_SPACE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


def _validate_applicant_id(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is None:
        return
    validators.check_text("applicant_id", value, max_length=64, allow_whitespace=True)
    if not APPLICANT_ID_PATTERN.fullmatch(value):
        raise ValueError(
            f"applicant_id {mask(value)!r} is not a Sumsub applicant id "
            "(ASCII letters, digits, '_' or '-', starting with a letter or digit)"
        )


def _validate_external_user_id(
    _: Any, attribute: attrs.Attribute[Any], value: str | None
) -> None:
    if value is None:
        return
    validators.check_text(
        "external_user_id", value, max_length=EXTERNAL_USER_ID_MAX_LENGTH, allow_whitespace=True
    )
    if _CONTROL.search(value) or not value.isprintable():
        raise ValueError(
            f"external_user_id {mask(value)!r} contains control or unprintable characters"
        )
    if value != value.strip():
        raise ValueError(f"external_user_id {mask(value)!r} starts or ends with whitespace")
    if value in (".", ".."):
        raise ValueError("external_user_id must not be '.' or '..'")


@attrs.frozen
@validators.exactly_one_of("applicant_id", "external_user_id")
class SumsubQuery:
    """One Sumsub status question: exactly one of ``applicant_id`` or ``external_user_id``.

    >>> SumsubQuery(applicant_id="5b594ade0a975a36c9349e66")
    SumsubQuery(applicant_id='5b594a…9e66', external_user_id=None)

    Raises :class:`TypeError` for a non-string field and :class:`ValueError` for an invalid
    one, or when neither or both are given. Messages never show the value unmasked.
    """

    applicant_id: str | None = attrs.field(
        default=None, validator=_validate_applicant_id, repr=validators.masked
    )
    """Sumsub's applicant id: asks ``GET /resources/applicants/{applicantId}/one``."""
    external_user_id: str | None = attrs.field(
        default=None, validator=_validate_external_user_id, repr=validators.masked
    )
    """The partner's own user id: asks
    ``GET /resources/applicants/-;externalUserId={externalUserId}/one``."""

    @property
    def subject(self) -> str:
        """The applicant id or external user id this query is about."""
        subject = self.applicant_id if self.applicant_id is not None else self.external_user_id
        assert subject is not None  # guaranteed by validators.exactly_one_of
        return subject


def _check_secret(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, not {type(value).__name__}")
    # Never shown: the value is a secret.
    if _CONTROL_OR_SPACE.search(value) or not value.isascii():
        raise ValueError(f"{name} contains whitespace, control or non-ASCII characters")
    if len(value) > 512:
        raise ValueError(f"{name} is too long ({len(value)} characters, at most 512)")
    return value


def _validate_app_token(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is None:
        return
    _check_secret("app_token", value)
    if not value.startswith(APP_TOKEN_PREFIXES) or len(value) <= 4:
        raise ValueError(
            "app_token must start with 'sbx:' (sandbox) or 'prd:' (production), "
            "as Sumsub issues it"
        )


def _validate_secret_key(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None:
        _check_secret("secret_key", value)


def _validate_webhook_secret(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None:
        _check_secret("webhook_secret", value)


@attrs.frozen
class SumsubSettings:
    """How to reach Sumsub.

    Every field has a default; env ``KYCBRIDGE_SUMSUB_<FIELD>`` overrides it, and
    :class:`kycbridge.Bridge` settings override env.
    """

    app_token: str | None = secret(
        default=None, converter=validators.none_if_blank, validator=_validate_app_token
    )
    """The app token, sent as ``X-App-Token``; ``sbx:...`` (sandbox) or ``prd:...``
    (production). Required at fetch time."""
    secret_key: str | None = secret(
        default=None, converter=validators.none_if_blank, validator=_validate_secret_key
    )
    """The app token's secret key. Never sent: it signs every attempt
    (``X-App-Access-Sig``). Required at fetch time."""
    base_url: str = attrs.field(
        default=DEFAULT_BASE_URL,
        converter=validators.clean_base_url,
        validator=validators.base_url(refuse_fragment=True),
    )
    """Where the API lives (a path prefix is kept); a trailing ``/`` is dropped."""
    webhook_secret: str | None = secret(
        default=None, converter=validators.none_if_blank, validator=_validate_webhook_secret
    )
    """The secret set on the webhook in Sumsub's dashboard: ``X-Payload-Digest`` is checked
    with it (env ``KYCBRIDGE_SUMSUB_WEBHOOK_SECRET``). Not the secret key. Never sent."""

    @property
    def sandbox(self) -> bool | None:
        """Whether the app token is a sandbox one (``None``: no token)."""
        if self.app_token is None:
            return None
        return self.app_token.startswith("sbx:")
