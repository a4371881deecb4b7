"""What a provider is: the :class:`KYCStatusProvider` protocol and a base class for HTTP ones.

A provider plugin is mostly data: a query class (attrs, validated on construction), a settings
class (attrs, with defaults), a details class, a :class:`~kycbridge.mapping.StatusMap`, and
three small methods on :class:`HTTPStatusProvider`: ``build_request``, ``parse`` and
``error_for``. The core sends the request, enforces timeouts, retries and rate limits, and
builds the report.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

import attrs

from .errors import InvalidQuery, KYCBridgeError, MalformedResponse
from .mapping import StatusMap
from .redact import REDACTED, scrub
from .report import StatusReport, converter, utcnow
from .states import KYCState
from .transport import Request, Response, Transport

__all__ = [
    "HTTPStatusProvider",
    "KYCStatusProvider",
    "Parsed",
    "build_query",
    "env_name",
    "is_secret",
    "load_settings",
    "secret",
]

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
"""What a provider name looks like: lowercase, digits and underscores."""


@runtime_checkable
class KYCStatusProvider(Protocol):
    """What kycbridge needs of a provider. Register one through ``register_providers``."""

    @property
    def name(self) -> str:
        """Unique lowercase name: ``transak``, ``starkfi``."""

    @property
    def query_type(self) -> type[Any]:
        """Attrs class of one status question; raises ``ValueError``/``TypeError`` when invalid."""

    @property
    def settings_type(self) -> type[Any]:
        """Attrs class of settings, every field with a default; env can override each."""

    @property
    def details_type(self) -> type[Any]:
        """Attrs class of provider-specific details put on reports."""

    @property
    def status_map(self) -> StatusMap:
        """The documented raw words and their states (printed by docs and the CLI)."""

    @property
    def rate_limit(self) -> float | None:
        """Most requests per second the provider allows per key, or ``None``."""

    def subject(self, query: Any) -> str | None:
        """Whom ``query`` is about (email, wallet, id): shown masked in reprs and logs."""

    def normalize(self, raw: Any) -> KYCState:
        """Map raw status word(s) to a state. Total and pure: never raises."""

    def fetch(self, query: Any, settings: Any, transport: Transport) -> StatusReport:
        """Ask the provider once; return the report or raise a :class:`KYCBridgeError`."""


@attrs.frozen(slots=False)  # made on every call: a dict class is quicker to build frozen
class Parsed:
    """What :meth:`HTTPStatusProvider.parse` read out of a successful payload."""

    state: KYCState
    raw_status: str | None
    details: Any = None
    blocklisted: bool = False


class HTTPStatusProvider:
    """Base class for providers answering one GET with JSON. Subclass and fill in the data.

    Subclasses set the class attributes and implement :meth:`build_request`, :meth:`parse`
    and :meth:`error_for`; :meth:`fetch` does the rest.
    """

    name: ClassVar[str]
    query_type: ClassVar[type[Any]]
    settings_type: ClassVar[type[Any]]
    details_type: ClassVar[type[Any]]
    status_map: ClassVar[StatusMap]
    rate_limit: ClassVar[float | None] = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def subject(self, query: Any) -> str | None:
        """By default the query's ``subject`` attribute, when it has one."""
        value = getattr(query, "subject", None)
        return None if value is None else str(value)

    def normalize(self, raw: Any) -> KYCState:
        """By default: look the raw word up in :attr:`status_map`."""
        return self.status_map(raw)

    def build_request(self, query: Any, settings: Any) -> Request:
        """The request asking for ``query``'s status."""
        raise NotImplementedError

    def parse(self, payload: Any, response: Response) -> Parsed:
        """Read a 2xx JSON payload; raise :class:`MalformedResponse` when it is not the shape."""
        raise NotImplementedError

    def error_for(self, response: Response) -> KYCBridgeError:
        """The error for a non-2xx answer (its body may be anything)."""
        raise NotImplementedError

    def fetch(self, query: Any, settings: Any, transport: Transport) -> StatusReport:
        """Send :meth:`build_request`, then :meth:`parse` or :meth:`error_for` the answer."""
        request = self.build_request(query, settings)
        response = transport.send(request, provider=self.name)
        try:
            if not 200 <= response.status < 300:
                raise self.error_for(response)
            payload = response.json(provider=self.name)
            try:
                parsed = self.parse(payload, response)
            except KYCBridgeError:
                raise
            except Exception as exc:  # any JSON must give a report or a typed error
                raise MalformedResponse(
                    f"unexpected payload shape ({type(exc).__name__}): {response.excerpt()!r}",
                    provider=self.name,
                    http_status=response.status,
                ) from None
        except KYCBridgeError as exc:
            # Whatever a plugin put in an error, a secret never leaves it.
            secrets = request.secrets()
            exc.message = scrub(exc.message, secrets)
            exc.args = (exc.message,)  # args (its repr, pickles) held the unscrubbed text
            if exc.provider_message:
                exc.provider_message = scrub(exc.provider_message, secrets)
            if exc.provider_code:
                exc.provider_code = scrub(exc.provider_code, secrets)
            exc.provider = exc.provider or self.name
            raise
        return StatusReport(
            provider=self.name,
            state=parsed.state,
            raw_status=parsed.raw_status,
            observed_at=utcnow(),
            subject=self.subject(query),
            details=parsed.details,
            blocklisted=parsed.blocklisted,
            raw=payload,
        )


def _secret_repr(value: object) -> str:
    return "None" if value is None else repr(REDACTED)


def secret(**kwargs: Any) -> Any:
    """An attrs field for a secret: hidden in the repr, flagged for the CLI and env lookup."""
    metadata = dict(kwargs.pop("metadata", {}))
    metadata["secret"] = True
    return attrs.field(repr=_secret_repr, metadata=metadata, **kwargs)


def is_secret(field: attrs.Attribute[Any]) -> bool:
    """Whether an attrs field was declared with :func:`secret`."""
    return bool(field.metadata.get("secret"))


def env_name(provider: str, field: str) -> str:
    """The env variable for a provider's setting or secret field: ``KYCBRIDGE_<P>_<F>``."""
    return f"KYCBRIDGE_{provider}_{field}".upper()


def _secret_values(cls: type[Any], values: Mapping[str, Any]) -> list[str]:
    names = {f.name for f in attrs.fields(cls) if is_secret(f)}
    return [str(v) for k, v in values.items() if k in names and v]


def _clean(exc: BaseException, cls: type[Any], values: Mapping[str, Any]) -> str:
    return scrub(str(exc), _secret_values(cls, values))


def load_settings(
    provider: KYCStatusProvider,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Any:
    """Build ``provider.settings_type``: defaults < env ``KYCBRIDGE_<P>_<SETTING>`` < overrides.

    Raises :class:`InvalidQuery` naming the setting when a value is unknown or invalid.
    """
    env = os.environ if env is None else env
    cls = provider.settings_type
    attrs.resolve_types(cls)
    fields = {f.name: f for f in attrs.fields(cls)}
    unknown = set(overrides or {}) - set(fields)
    if unknown:
        raise InvalidQuery(
            f"unknown setting(s) {sorted(unknown)}; settings are {sorted(fields)}",
            provider=provider.name,
        )
    values: dict[str, Any] = {}
    for name, field in fields.items():
        raw: Any = None
        if overrides and name in overrides and overrides[name] is not None:
            raw = overrides[name]
        elif env.get(env_name(provider.name, name)):
            raw = env[env_name(provider.name, name)]
        else:
            continue
        try:
            values[name] = converter.structure(raw, field.type) if field.type else raw
        except Exception as exc:
            shown = REDACTED if is_secret(field) else repr(raw)
            raise InvalidQuery(
                f"setting {name!r} has an invalid value {shown}: {type(exc).__name__}",
                provider=provider.name,
            ) from None
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise InvalidQuery(
            f"invalid settings: {_clean(exc, cls, values)}", provider=provider.name
        ) from None


@functools.lru_cache(maxsize=64)
def _field_names(cls: type[Any]) -> tuple[frozenset[str], tuple[str, ...]]:
    """A query class's field names, and those of its secret fields (cached per class)."""
    fields = attrs.fields(cls)
    return frozenset(f.name for f in fields), tuple(f.name for f in fields if is_secret(f))


def build_query(
    provider: KYCStatusProvider,
    fields: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
) -> Any:
    """Build and validate ``provider.query_type`` from ``fields``.

    A secret query field left out of ``fields`` is taken from env
    ``KYCBRIDGE_<PROVIDER>_<FIELD>``. Raises :class:`InvalidQuery` (never with a secret in
    it) before any network I/O.
    """
    env = os.environ if env is None else env
    cls = provider.query_type
    known, secrets = _field_names(cls)  # type: ignore[arg-type]
    if not fields.keys() <= known:
        unknown = set(fields) - known
        raise InvalidQuery(
            f"unknown query field(s) {sorted(unknown)}; fields are {sorted(known)}",
            provider=provider.name,
        )
    values = fields
    for name in secrets:
        if values.get(name) is None:
            from_env = env.get(env_name(provider.name, name))
            if from_env:
                values = {**values, name: from_env}
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise InvalidQuery(
            f"invalid query: {_clean(exc, cls, values)}", provider=provider.name
        ) from None
