"""What one Onfido status question is (:class:`OnfidoQuery`) and how to reach Onfido.

A query names one workflow run by its ``workflow_run_id``. Onfido's ids are UUIDs, but the
check is tolerant (any printable id up to :data:`MAX_WORKFLOW_RUN_ID_LENGTH` characters): it
refuses only what cannot be one path segment (``/``, a backslash, ``.``/``..``, whitespace,
control characters). The id goes in the URL path; it is masked in reprs and in every message
built here.

Settings (:class:`OnfidoSettings`): the API token (a secret, env
``KYCBRIDGE_ONFIDO_API_TOKEN``) or an OAuth2 ``client_id``/``client_secret``, the
``region`` (``eu``, ``us``, ``ca``) and an optional ``base_url`` that wins over the region's.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import attrs

from kycbridge import secret, validators
from kycbridge.redact import mask

__all__ = [
    "API_TOKEN_ENV",
    "API_VERSION",
    "MAX_TOKEN_LENGTH",
    "MAX_WORKFLOW_RUN_ID_LENGTH",
    "REGIONS",
    "TOKEN_PREFIXES",
    "OnfidoQuery",
    "OnfidoSettings",
    "region_url",
    "token_environment",
]

log = logging.getLogger("kycbridge_onfido")

API_VERSION = "v3.6"
"""The Onfido API version this plugin speaks."""

REGIONS: tuple[str, ...] = ("eu", "us", "ca")
"""Onfido's regions (an account lives in one); ``eu`` is the default."""

API_TOKEN_ENV = "KYCBRIDGE_ONFIDO_API_TOKEN"  # noqa: S105 - a name, not a token
"""The env variable the API token is read from."""

MAX_WORKFLOW_RUN_ID_LENGTH = 100
"""Longest workflow run id accepted (Onfido's are UUIDs: 36 characters)."""

MAX_TOKEN_LENGTH = 4096
"""Longest API token accepted in a header."""

TOKEN_PREFIXES: Mapping[str, str] = {"api_sandbox": "sandbox", "api_live": "live"}
"""Onfido's token prefixes and the environment each belongs to."""

# One path segment: printable, no whitespace, no separator a server could split on.
_FORBIDDEN_IN_ID = re.compile(r"[/\\\s\x00-\x1f\x7f-\x9f]")
# A header value: printable ASCII without spaces (CR, LF or NUL would split the header).
_TOKEN = re.compile(r"[\x21-\x7e]+")


def region_url(region: str) -> str:
    """Onfido's API base URL for ``region``: ``https://api.{region}.onfido.com/v3.6``."""
    return f"https://api.{region}.onfido.com/{API_VERSION}"


def token_environment(token: str | None) -> str | None:
    """``"sandbox"`` or ``"live"`` from the token's prefix; ``None`` when it has neither."""
    if not token:
        return None
    for prefix, environment in TOKEN_PREFIXES.items():
        if token.startswith(prefix):
            return environment
    return None


def _validate_workflow_run_id(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{attribute.name} must be a string, not {type(value).__name__}")
    if not value:
        raise ValueError(f"{attribute.name} must not be empty")
    if len(value) > MAX_WORKFLOW_RUN_ID_LENGTH:
        raise ValueError(
            f"{attribute.name} is too long ({len(value)} characters, "
            f"at most {MAX_WORKFLOW_RUN_ID_LENGTH})"
        )
    if _FORBIDDEN_IN_ID.search(value) or not value.isprintable():
        raise ValueError(
            f"{attribute.name} {mask(value)!r} must not contain '/', '\\', whitespace or "
            "control characters (it is one URL path segment)"
        )
    if value in (".", ".."):
        raise ValueError(f"{attribute.name} must not be '.' or '..'")


@attrs.frozen
class OnfidoQuery:
    """One Onfido status question: the workflow run ``workflow_run_id``.

    >>> OnfidoQuery(workflow_run_id="f1a3c5e7-0000-4000-8000-1234567890ab")
    OnfidoQuery(workflow_run_id='f1a3c5…90ab')

    Raises :class:`TypeError` for a non-string and :class:`ValueError` for an invalid id;
    messages never show the id unmasked.
    """

    workflow_run_id: str = attrs.field(validator=_validate_workflow_run_id, repr=validators.masked)
    """The workflow run's id (a UUID), from Onfido's ``POST /workflow_runs``."""

    @property
    def subject(self) -> str:
        """Whom the query is about: the workflow run id."""
        return self.workflow_run_id


def _validate_api_token(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise TypeError(f"{attribute.name} must be a string, not {type(value).__name__}")
    if len(value) > MAX_TOKEN_LENGTH:
        raise ValueError(f"{attribute.name} is longer than {MAX_TOKEN_LENGTH} characters")
    if not _TOKEN.fullmatch(value):
        # Never shown: the value is a secret. "Token token=..." pasted whole lands here.
        raise ValueError(
            f"{attribute.name} must be the bare token (printable ASCII, no spaces or control "
            "characters; not 'Token token=...')"
        )


def _fold(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


def _validate_region(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value not in REGIONS:
        raise ValueError(f"{attribute.name} must be one of {', '.join(REGIONS)}")


def _clean_base_url(value: object) -> object:
    return validators.clean_base_url(validators.none_if_blank(value))


@attrs.frozen
class OnfidoSettings:
    """How to reach Onfido.

    Every field has a default; env ``KYCBRIDGE_ONFIDO_<FIELD>`` overrides it, and
    :class:`kycbridge.Bridge` settings override env.

    A token whose prefix is neither ``api_sandbox`` nor ``api_live`` is accepted (Onfido
    may issue other formats; a wrong token gets a 401 anyway) but logged as a warning, once
    per settings object, without its value.
    """

    api_token: str | None = secret(
        default=None, converter=validators.none_if_blank, validator=_validate_api_token
    )
    """The API token, sent as ``Authorization: Token token=<api_token>``. This or
    ``client_id``/``client_secret`` is required at fetch time; when set, it wins. Never shown."""
    client_id: str | None = secret(
        default=None, converter=validators.none_if_blank, validator=_validate_api_token
    )
    """OAuth2 client id: with ``client_secret`` (and no ``api_token``), the provider obtains
    a short-lived access token itself (client credentials grant) and refreshes it. Secret."""
    client_secret: str | None = secret(
        default=None, converter=validators.none_if_blank, validator=_validate_api_token
    )
    """OAuth2 client secret (see ``client_id``). Secret."""
    region: str = attrs.field(default="eu", converter=_fold, validator=_validate_region)
    """The account's region: ``eu`` (default), ``us`` or ``ca``; picks the base URL."""
    base_url: str | None = attrs.field(
        default=None,
        converter=_clean_base_url,
        validator=attrs.validators.optional(validators.base_url()),
    )
    """Send requests here instead of the region's API (a proxy, the sandbox); the version
    prefix (``/v3.6``) is part of it. A trailing ``/`` is dropped."""
    webhook_secret: str | None = secret(
        default=None,
        converter=validators.none_if_blank,
        validator=attrs.validators.optional(attrs.validators.instance_of(str)),
    )
    """The token Onfido shows when a webhook is created: deliveries' ``X-SHA2-Signature`` is
    checked with it (env ``KYCBRIDGE_ONFIDO_WEBHOOK_SECRET``). Never sent. Not the API token."""

    def __attrs_post_init__(self) -> None:
        if (self.client_id is None) != (self.client_secret is None):
            raise ValueError("client_id and client_secret go together: set both, or neither")
        if self.api_token is not None and token_environment(self.api_token) is None:
            log.warning(
                "onfido: the api_token starts with neither %s; is it an Onfido API token?",
                " nor ".join(TOKEN_PREFIXES),
            )

    @property
    def url(self) -> str:
        """Where requests go: :attr:`base_url` when set, else the region's API."""
        return self.base_url or region_url(self.region)

    @property
    def environment(self) -> str | None:
        """``"sandbox"`` or ``"live"`` by the token's prefix, ``None`` when unknown."""
        return token_environment(self.api_token)
