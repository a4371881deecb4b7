"""Validators, converters and reprs for a plugin's query and settings classes (attrs).

Small pieces every provider plugin needs, written once so that each plugin applies the same
rule with the same message::

    from kycbridge import validators

    @attrs.frozen
    @validators.exactly_one_of("email", "wallet")
    class AcmeQuery:
        email: str | None = attrs.field(default=None, validator=..., repr=validators.masked)
        wallet: str | None = attrs.field(default=None, validator=..., repr=validators.masked)

    @attrs.frozen
    class AcmeSettings:
        api_key: str | None = kycbridge.secret(default=None,
                                              converter=validators.none_if_blank)
        base_url: str = attrs.field(default="https://api.acme.test",
                                    converter=validators.clean_base_url,
                                    validator=validators.base_url())

Messages name the field and never quote a personal value unmasked, nor a URL (which might
carry a password).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from .errors import InvalidQuery
from .redact import mask
from .transport import check_base_url

__all__ = [
    "CONTROL_OR_SPACE",
    "base_url",
    "check_text",
    "clean_base_url",
    "exactly_one_of",
    "masked",
    "none_if_blank",
]

CONTROL_OR_SPACE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
"""Whitespace, C0 and C1 control characters: never part of an id, a key or a URL."""

_T = TypeVar("_T")

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def none_if_blank(value: object) -> object:
    """Converter: ``None`` for an empty or all-whitespace string (an unset env variable)."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def clean_base_url(value: object) -> object:
    """Converter: a base URL without surrounding whitespace or trailing ``/``."""
    return value.strip().rstrip("/") if isinstance(value, str) else value


def base_url(*, refuse_fragment: bool = False) -> Validator:
    """Validator for a ``base_url`` setting: the core's rule, and no query string.

    Applies :func:`kycbridge.transport.check_base_url` (``https://``, or ``http://`` to
    loopback; no credentials, whitespace, control characters or fragment...), so a bad URL
    fails when the settings are made; the transport checks every request URL again. A ``?``
    is refused too (``refuse_fragment``: a ``#`` as well, in the same message).

    :class:`TypeError` for a non-string, :class:`ValueError` otherwise, messages naming the
    field (``base_url: ...``) and never quoting the URL. Wrap it in
    ``attrs.validators.optional`` for a setting that may be ``None``.
    """
    refused = ("?", "#") if refuse_fragment else ("?",)
    what = "a query string or fragment" if refuse_fragment else "a query string"

    def validate(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, str):
            raise TypeError(f"{attribute.name} must be a string, not {type(value).__name__}")
        try:
            check_base_url(value)
        except InvalidQuery as exc:
            raise ValueError(f"{attribute.name}: {exc.message}") from None
        if any(char in value for char in refused):
            raise ValueError(f"{attribute.name} must not have {what}")

    return validate


def check_text(
    name: str, value: object, *, max_length: int, allow_whitespace: bool = False
) -> str:
    """The checks every subject id starts with; returns ``value``.

    :class:`TypeError` unless ``value`` is a string; :class:`ValueError` when it is empty,
    longer than ``max_length`` characters, or (unless ``allow_whitespace``) contains whitespace or
    a control character. The messages name ``name``; the value is shown masked only.
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, not {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    if len(value) > max_length:
        raise ValueError(f"{name} is too long ({len(value)} characters, at most {max_length})")
    if not allow_whitespace and CONTROL_OR_SPACE.search(value):
        raise ValueError(f"{name} {mask(value)!r} contains whitespace or control characters")
    return value


def masked(value: object) -> str:
    """``repr`` for a personal field (``attrs.field(repr=masked)``): masked, ``None`` as is.

    >>> masked("jane.doe@example.com")
    "'j***@e***.com'"
    >>> masked(None)
    'None'
    """
    return "None" if value is None else repr(mask(value))


def exactly_one_of(*names: str) -> Callable[[type[_T]], type[_T]]:
    """Class decorator: exactly one of the fields ``names`` is given (not ``None``).

    Put it below ``@attrs.frozen`` (it must run first). It appends ``names`` to the class's
    ``one_of`` rules (a tuple of field-name tuples, which the generated docs print) and checks
    them after the field validators, in ``__attrs_post_init__`` (a class's own
    ``__attrs_post_init__`` runs after the check). Neither or both raise
    :class:`ValueError`: ``give exactly one of email or wallet (neither given)``.
    """
    if len(names) < 2 or len(set(names)) != len(names):
        raise ValueError("exactly_one_of needs two or more distinct field names")
    listed = f"{', '.join(names[:-1])} or {names[-1]}"

    def decorate(cls: type[_T]) -> type[_T]:
        rules: tuple[tuple[str, ...], ...] = tuple(getattr(cls, "one_of", ()))
        then = getattr(cls, "__attrs_post_init__", None)

        def __attrs_post_init__(self: Any) -> None:
            count = sum(getattr(self, name) is not None for name in names)
            if count != 1:
                given = "neither" if count == 0 else "both" if len(names) == 2 else str(count)
                raise ValueError(f"give exactly one of {listed} ({given} given)")
            if then is not None:
                then(self)

        setattr(cls, "one_of", (*rules, tuple(names)))  # noqa: B010
        setattr(cls, "__attrs_post_init__", __attrs_post_init__)  # noqa: B010
        return cls

    return decorate
