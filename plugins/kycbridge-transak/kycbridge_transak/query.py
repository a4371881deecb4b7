"""The Transak query and settings: what to ask, and how to reach Transak.

:class:`TransakQuery` is one status question, :class:`TransakSettings` the connection; both
are validated on construction. Validation messages name the field and the rule, never the
value: a token or an email must not end up in a traceback or a log line because it was
mistyped.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

import kycbridge
from kycbridge import validators

__all__ = [
    "ENVIRONMENTS",
    "MAX_TOKEN_LENGTH",
    "MAX_WORK_FLOW_RUN_ID_LENGTH",
    "PARTNER_ENVIRONMENTS",
    "WEBHOOK_UNSIGNED",
    "TransakQuery",
    "TransakSettings",
]

ENVIRONMENTS: dict[str, str] = {
    "staging": "https://api-gateway-stg.transak.com",
    "production": "https://api-gateway.transak.com",
}
"""Transak's API gateways, by environment name."""

PARTNER_ENVIRONMENTS: dict[str, str] = {
    "staging": "https://api-stg.transak.com",
    "production": "https://api.transak.com",
}
"""Transak's partner API (where the partner access token is obtained), by environment name."""

MAX_WORK_FLOW_RUN_ID_LENGTH = 256
"""Longest workflow run id accepted (Transak's are UUIDs, 36 characters)."""

MAX_TOKEN_LENGTH = 8192
"""Longest token accepted in a header (user access tokens are JWTs of a few hundred bytes)."""

MAX_EMAIL_LENGTH = 254

# A header value: printable ASCII, no leading or trailing space (CR, LF, NUL and other control
# characters would split or corrupt the header; non-ASCII cannot be sent as latin-1 safely).
_HEADER_TOKEN = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")
# A pragmatic address check (RFC 5322 "dot-atom" local part, LDH domain labels, ASCII only,
# because the address travels in the ``x-user-identifier`` header).
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
)


def _require_str(attribute: attrs.Attribute[Any], value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{attribute.name} must be a string, not {type(value).__name__}")
    return value


def _work_flow_run_id(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    text = _require_str(attribute, value)
    if not text:
        raise ValueError(f"{attribute.name} must not be empty")
    if len(text) > MAX_WORK_FLOW_RUN_ID_LENGTH:
        raise ValueError(
            f"{attribute.name} is {len(text)} characters long; "
            f"at most {MAX_WORK_FLOW_RUN_ID_LENGTH} are accepted"
        )
    if not text.isprintable() or any(c.isspace() for c in text):
        raise ValueError(f"{attribute.name} must not contain whitespace or control characters")


def _header_token(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    text = _require_str(attribute, value)
    if not text:
        raise ValueError(f"{attribute.name} must not be empty")
    if len(text) > MAX_TOKEN_LENGTH:
        raise ValueError(f"{attribute.name} is longer than {MAX_TOKEN_LENGTH} characters")
    if not _HEADER_TOKEN.fullmatch(text):
        raise ValueError(
            f"{attribute.name} must be printable ASCII without line breaks, control "
            "characters or leading/trailing spaces (it is sent in a header)"
        )


def _email(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    text = _require_str(attribute, value)
    if len(text) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(text):
        raise ValueError(f"{attribute.name} must be an ASCII email address (user@example.com)")


@attrs.frozen(kw_only=True)
class TransakQuery:
    """One question to Transak: the id-proof status of one KYC workflow run.

    ``repr()`` shows the workflow run id and the email masked and the token as ``***``.
    """

    work_flow_run_id: str = attrs.field(validator=_work_flow_run_id, repr=validators.masked)
    """The ``workFlowRunId`` from Transak's *Get Additional Requirements* API."""
    access_token: str = kycbridge.secret(validator=_header_token)
    """The user's access token (from ``POST /api/v2/auth/verify``), sent as ``authorization``.
    Secret: may come from env ``KYCBRIDGE_TRANSAK_ACCESS_TOKEN``."""
    user_identifier: str | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(_email),
        repr=validators.masked,
    )
    """The user's email, sent as ``x-user-identifier`` (Auth Reliance flows only).
    Personal data: masked in reprs, never logged."""

    @property
    def subject(self) -> str:
        """Whom the query is about: the workflow run id."""
        return self.work_flow_run_id


def _strip_slash(value: object) -> object:
    return value.rstrip("/") if isinstance(value, str) else value


def _fold(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


def _environment(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    text = _require_str(attribute, value)
    if text not in ENVIRONMENTS:
        raise ValueError(f"{attribute.name} must be one of {sorted(ENVIRONMENTS)}")


WEBHOOK_UNSIGNED = ("reject", "accept")
"""Values of ``webhook_unsigned``: what to do with a webhook whose ``data`` is a plain object."""


def _webhook_unsigned(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    text = _require_str(attribute, value)
    if text not in WEBHOOK_UNSIGNED:
        raise ValueError(f"{attribute.name} must be one of {list(WEBHOOK_UNSIGNED)}")


@attrs.frozen(kw_only=True)
class TransakSettings:
    """How to reach Transak.

    Every field has a default; env ``KYCBRIDGE_TRANSAK_<FIELD>`` overrides it (for example
    ``KYCBRIDGE_TRANSAK_ENVIRONMENT=production``).
    """

    environment: str = attrs.field(default="staging", converter=_fold, validator=_environment)
    """``staging`` (default, ``https://api-gateway-stg.transak.com``) or ``production``
    (``https://api-gateway.transak.com``)."""
    base_url: str | None = attrs.field(
        default=None,
        converter=_strip_slash,
        validator=attrs.validators.optional(validators.base_url()),
    )
    """Send requests here instead of the environment's gateway (a proxy, the sandbox); may
    carry a path prefix. A trailing slash is dropped."""
    partner_access_token: str | None = kycbridge.secret(
        default=None, validator=attrs.validators.optional(_header_token)
    )
    """The partner access token, sent as ``x-access-token`` (Auth Reliance flows only).
    Secret: prefer env ``KYCBRIDGE_TRANSAK_PARTNER_ACCESS_TOKEN``. It is also the key Transak
    signs its webhooks with (HS256). When set, it wins over ``api_key``/``api_secret``."""
    api_key: str | None = kycbridge.secret(
        default=None, validator=attrs.validators.optional(_header_token)
    )
    """The partner API key. With ``api_secret`` (and no ``partner_access_token``), the
    provider obtains the partner access token itself, and refreshes it. Secret."""
    api_secret: str | None = kycbridge.secret(
        default=None, validator=attrs.validators.optional(_header_token)
    )
    """The partner API secret, sent as ``api-secret`` to the refresh-token endpoint. Secret."""
    partner_base_url: str | None = attrs.field(
        default=None,
        converter=_strip_slash,
        validator=attrs.validators.optional(validators.base_url()),
    )
    """Where the partner access token is obtained: default ``base_url`` when set (the
    sandbox, a proxy), else the environment's partner API (``https://api-stg.transak.com``,
    ``https://api.transak.com``)."""
    webhook_unsigned: str = attrs.field(
        default="reject", converter=_fold, validator=_webhook_unsigned
    )
    """``reject`` (default): a webhook whose ``data`` is a plain object, not a signed JWT, is
    refused (401). ``accept``: such a body is trusted unverified. Only for a receiver that
    authenticates Transak some other way: anybody can forge an unsigned body."""

    def __attrs_post_init__(self) -> None:
        if (self.api_key is None) != (self.api_secret is None):
            raise ValueError("api_key and api_secret go together: set both, or neither")

    @property
    def url(self) -> str:
        """The base URL requests go to: ``base_url`` when set, else the environment's."""
        return self.base_url or ENVIRONMENTS[self.environment]

    @property
    def partner_url(self) -> str:
        """Where the partner access token is obtained (see :attr:`partner_base_url`)."""
        return self.partner_base_url or self.base_url or PARTNER_ENVIRONMENTS[self.environment]
