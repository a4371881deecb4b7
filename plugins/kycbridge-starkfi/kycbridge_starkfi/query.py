"""What one StarkFi status question is (:class:`StarkFiQuery`) and how to reach StarkFi.

A query names exactly one subject: an ``email`` or a ``wallet`` (Solana base58 or EVM
``0x``-hex). Both are validated on construction, before anything is sent, and both are
personal data: they are masked in reprs and in every error message built here.

Settings (:class:`StarkFiSettings`) carry the API key (a secret, env
``KYCBRIDGE_STARKFI_API_KEY``) and the base URL (env ``KYCBRIDGE_STARKFI_BASE_URL``).
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
    "EMAIL_MAX_LENGTH",
    "EMAIL_PATTERN",
    "EVM_WALLET_PATTERN",
    "SOLANA_WALLET_PATTERN",
    "StarkFiQuery",
    "StarkFiSettings",
    "is_wallet",
]

DEFAULT_BASE_URL = "https://api.starkfi.io"
"""StarkFi's production API. Some deployments put the API under a prefix such as ``/api``."""

API_KEY_ENV = "KYCBRIDGE_STARKFI_API_KEY"
"""The env variable the API key is read from."""

BASE_URL_ENV = "KYCBRIDGE_STARKFI_BASE_URL"
"""The env variable the base URL is read from."""

EMAIL_MAX_LENGTH = 254
"""Longest accepted email address (RFC 5321 path limit)."""

EMAIL_LOCAL_MAX_LENGTH = 64
"""Longest accepted part before the ``@``."""

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TLD = r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"

EMAIL_PATTERN = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+{_TLD}")
"""A sane ASCII email address: dot-atom local part, a dotted host name, a non-numeric TLD.

Matched with :func:`re.fullmatch`. Quoted local parts, IP-literal domains and non-ASCII
addresses are refused: StarkFi's flows collect ordinary addresses.
"""

SOLANA_WALLET_PATTERN = re.compile(r"[1-9A-HJ-NP-Za-km-z]{32,44}")
"""A Solana address: 32 to 44 characters of the base58 alphabet (no ``0``, ``O``, ``I``, ``l``)."""

EVM_WALLET_PATTERN = re.compile(r"0x[0-9a-fA-F]{40}")
"""An EVM address: ``0x`` and 40 hex digits (the EIP-55 checksum case is not checked)."""

_CONTROL_OR_SPACE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


def _validate_email(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is None:
        return
    validators.check_text("email", value, max_length=EMAIL_MAX_LENGTH)
    local = value.rpartition("@")[0]
    if len(local) > EMAIL_LOCAL_MAX_LENGTH or not EMAIL_PATTERN.fullmatch(value):
        raise ValueError(f"email {mask(value)!r} is not a valid email address")


def is_wallet(value: object) -> bool:
    """Whether ``value`` looks like a Solana (base58) or EVM (``0x``-hex) address."""
    return isinstance(value, str) and bool(
        SOLANA_WALLET_PATTERN.fullmatch(value) or EVM_WALLET_PATTERN.fullmatch(value)
    )


def _validate_wallet(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is None:
        return
    validators.check_text("wallet", value, max_length=64)
    if not is_wallet(value):
        raise ValueError(
            f"wallet {mask(value)!r} is neither a Solana address (32-44 base58 characters) "
            "nor an EVM address (0x and 40 hex digits)"
        )


@attrs.frozen
@validators.exactly_one_of("email", "wallet")
class StarkFiQuery:
    """One StarkFi status question: exactly one of ``email`` or ``wallet``.

    >>> StarkFiQuery(email="jane.doe@example.com")
    StarkFiQuery(email='j***@e***.com', wallet=None)

    Raises :class:`TypeError` for a non-string field and :class:`ValueError` for an invalid
    one, or when neither or both are given. Messages never show the value unmasked.
    """

    email: str | None = attrs.field(
        default=None, validator=_validate_email, repr=validators.masked
    )
    """The email the user went through StarkFi's email flow with."""
    wallet: str | None = attrs.field(
        default=None, validator=_validate_wallet, repr=validators.masked
    )
    """The wallet the user went through StarkFi's wallet flow with (Solana or EVM)."""

    @property
    def subject(self) -> str:
        """The email or wallet this query is about."""
        subject = self.email if self.email is not None else self.wallet
        assert subject is not None  # guaranteed by validators.exactly_one_of
        return subject

    @property
    def param(self) -> tuple[str, str]:
        """The query parameter StarkFi expects: ``("email", ...)`` or ``("wallet", ...)``."""
        return ("email", self.subject) if self.email is not None else ("wallet", self.subject)


def _validate_api_key(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise TypeError(f"api_key must be a string, not {type(value).__name__}")
    if _CONTROL_OR_SPACE.search(value):
        # Never shown: the value is a secret.
        raise ValueError("api_key contains whitespace or control characters")


@attrs.frozen
class StarkFiSettings:
    """How to reach StarkFi.

    Every field has a default; env ``KYCBRIDGE_STARKFI_<FIELD>`` overrides it, and
    :class:`kycbridge.Bridge` settings override env.
    """

    api_key: str | None = secret(
        default=None, converter=validators.none_if_blank, validator=_validate_api_key
    )
    """The partner API key, sent as ``x-api-key``. Required at fetch time. Never shown."""
    base_url: str = attrs.field(
        default=DEFAULT_BASE_URL,
        converter=validators.clean_base_url,
        validator=validators.base_url(),
    )
    """Where the API lives, path prefix included (``https://host/api``); trailing ``/`` dropped."""

    def url(self, path: str) -> str:
        """``path`` (``/kyc/status``) below :attr:`base_url`, prefix kept."""
        return f"{self.base_url}/{path.lstrip('/')}"
