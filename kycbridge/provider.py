"""What a provider is: the :class:`KYCStatusProvider` protocol and a base class for HTTP ones.

A provider plugin is mostly data: a query class (attrs, validated on construction), a settings
class (attrs, with defaults), a details class, a :class:`~kycbridge.mapping.StatusMap`, an
:class:`~kycbridge.errortable.ErrorTable`, and two small methods on
:class:`HTTPStatusProvider`: ``build_request`` and ``parse``. The core sends the request,
enforces timeouts, retries and rate limits, picks the error, and builds the report.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import stat
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Final, Protocol, runtime_checkable
from urllib.parse import quote, quote_plus

import attrs
from urllib3._collections import HTTPHeaderDict

from . import credentials as _creds
from .errors import InvalidQuery, KYCBridgeError, MalformedResponse
from .errortable import ErrorTable
from .mapping import StatusMap
from .redact import MIN_SECRET_LENGTH, REDACTED, mask, scrub, scrub_bytes, secret_forms
from .report import StatusReport, converter, utcnow
from .states import KYCState
from .transport import Request, Response, Transport, is_sendable_text

__all__ = [
    "KEEP",
    "MAX_SECRET_FILE",
    "PROVIDER_MEMBERS",
    "HTTPStatusProvider",
    "KYCStatusProvider",
    "Parsed",
    "build_query",
    "env_name",
    "is_secret",
    "load_settings",
    "mask_personal_values",
    "scrub_response",
    "secret",
]

log = logging.getLogger("kycbridge.provider")

MAX_SECRET_FILE = 64 * 1024
"""The largest file a ``KYCBRIDGE_<PROVIDER>_<SECRET>_FILE`` variable may name, in bytes."""

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

    @property
    def watch_interval(self) -> float | None:
        """Seconds a watch waits before its second poll (``None``: the watch default)."""

    @property
    def watch_max_interval(self) -> float | None:
        """Longest wait between a watch's polls, in seconds (``None``: the watch default)."""

    def subject(self, query: Any) -> str | None:
        """Whom ``query`` is about (email, wallet, id): shown masked in reprs and logs."""

    def normalize(self, raw: Any) -> KYCState:
        """Map raw status word(s) to a state. Total and pure: never raises."""

    def fetch(self, query: Any, settings: Any, transport: Transport) -> StatusReport:
        """Ask the provider once; return the report or raise a :class:`KYCBridgeError`."""


def _protocol_members(protocol: type[Any]) -> tuple[str, ...]:
    """The public attributes, properties and methods ``protocol`` declares, in order."""
    names = [n for n in getattr(protocol, "__annotations__", {}) if not n.startswith("_")]
    for name, value in vars(protocol).items():
        if name.startswith("_") or name in names:
            continue
        if isinstance(value, property) or callable(value):
            names.append(name)
    return tuple(names)


PROVIDER_MEMBERS: tuple[str, ...] = _protocol_members(KYCStatusProvider)
"""Every member :class:`KYCStatusProvider` declares: what plugin validation checks."""


class _Keep:
    """The type of :data:`KEEP` (one instance)."""

    _instance: ClassVar[_Keep | None] = None

    def __new__(cls) -> _Keep:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "KEEP"

    def __reduce__(self) -> str:
        return "KEEP"  # unpickles as this module's KEEP: the one instance


KEEP: Final = _Keep()
"""The default of :attr:`Parsed.raw`: the report keeps the payload as received."""


@attrs.frozen(slots=False)  # made on every call: a dict class is quicker to build frozen
class Parsed:
    """What :meth:`HTTPStatusProvider.parse` read out of a successful payload.

    ``raw`` is what the report keeps as :attr:`StatusReport.raw <kycbridge.StatusReport.raw>`:
    by default (:data:`KEEP`) the payload as received (secrets already replaced by ``***``).
    A provider whose payload carries personal data the app did not ask for (names, birth
    dates, addresses, document numbers, other ids) returns here only what may be kept, for
    example an allow-list of non-personal fields; ``None`` keeps nothing. Whatever it is must
    be JSON-ready (it is written by :func:`~kycbridge.report_to_dict`).
    """

    state: KYCState
    raw_status: str | None
    details: Any = None
    blocklisted: bool = False
    raw: Any = KEEP


class HTTPStatusProvider:
    """Base class for providers answering one GET with JSON. Subclass and fill in the data.

    Subclasses set the class attributes (``error_table`` included) and implement
    :meth:`build_request` and :meth:`parse`; :meth:`fetch` does the rest.
    """

    name: ClassVar[str]
    query_type: ClassVar[type[Any]]
    settings_type: ClassVar[type[Any]]
    details_type: ClassVar[type[Any]]
    status_map: ClassVar[StatusMap]
    rate_limit: ClassVar[float | None] = None
    error_table: ClassVar[ErrorTable | None] = None
    """The provider's error answers as data; the default :meth:`error_for` applies it."""
    watch_interval: ClassVar[float | None] = None
    watch_max_interval: ClassVar[float | None] = None
    credential_info: ClassVar[_creds.CredentialInfo | None] = None
    """Which credential settings it needs, and which it can exchange (docs show it)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def credential(self, settings: Any) -> _creds.TokenExchange | None:
        """The exchange giving this call a short-lived token, or ``None`` (static credentials).

        Return ``None`` when a static token is configured. The core obtains, caches,
        refreshes and applies the token (:mod:`kycbridge.credentials`).
        """
        return None

    def token_expired(self, response: Response) -> bool:
        """Whether a non-2xx answer to a call carrying an exchanged token means it expired.

        Then :meth:`fetch` drops the token, obtains a new one and retries the call once.
        ``response`` has secrets already scrubbed. The default: never.
        """
        return False

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

    def sign(self, request: Request, settings: Any, now: float) -> Request:
        """The request as sent at ``now`` (seconds since the epoch): add signature headers.

        For providers that sign each request, typically an HMAC over
        ``str(int(now)) + request.method + request.path_with_query + (request.body or b"")``
        with a secret from ``settings``. The transport calls it before *every* attempt
        (retries included), so a timestamp in the signature stays fresh: keep it pure and
        quick, and return ``request.with_headers({...}, secret=True)``. The default signs
        nothing.
        """
        return request

    def now(self) -> float:
        """The time :meth:`sign` is given, in seconds since the epoch (a test may override it)."""
        return time.time()

    def parse(self, payload: Any, response: Response) -> Parsed:
        """Read a 2xx JSON payload; raise :class:`MalformedResponse` when it is not the shape."""
        raise NotImplementedError

    def mask_text(self, text: str) -> str:
        """``text`` with personal data masked that only this provider knows how to spot.

        :meth:`fetch` masks the request's personal values and :meth:`subject` in every error
        it raises; it also passes each of the error's texts through this method, for what
        the request did not name (another id of the same user that an answer carries). The
        default returns ``text`` unchanged. Keep it pure, quick and total.
        """
        return text

    def error_for(self, response: Response) -> KYCBridgeError:
        """The error for a non-2xx answer (its body may be anything).

        By default :meth:`ErrorTable.error_for <kycbridge.errortable.ErrorTable.error_for>`
        of :attr:`error_table`; override it only for what a table cannot say.
        """
        if self.error_table is None:
            raise NotImplementedError(f"{type(self).__name__} sets no error_table")
        return self.error_table.error_for(response, provider=self.name)

    def fetch(self, query: Any, settings: Any, transport: Transport) -> StatusReport:
        """Send :meth:`build_request`, then :meth:`parse` or :meth:`error_for` the answer.

        The request's secrets (its secret headers, and the query's and settings' fields
        declared with :func:`secret`, sent or not) are replaced by ``***`` in the answer
        (:func:`scrub_response`) before ``parse`` or ``error_for`` see it, and in every error
        raised here. The request's personal values (its ``personal_params``, in the path or
        the query string) and :meth:`subject` are masked in every such error's text too,
        as they are, percent-encoded and JSON-escaped, in any case
        (:func:`mask_personal_values`), then passed through :meth:`mask_text`. The report
        keeps :attr:`Parsed.raw` as ``raw``.
        """
        request: Request | None = None
        tokens: list[str] = []  # exchanged tokens this call carried: secrets too
        try:
            request = self.build_request(query, settings)
            exchange = self.credential(settings)
            if exchange is None:
                response = self._send(request, settings, transport)
            else:
                response = self._send_with_token(request, exchange, settings, transport, tokens)
            # A provider may echo a secret: gone before any plugin code cuts or keeps the text.
            secrets = _known_secrets(request, query, settings) + tokens
            response = scrub_response(response, secrets)
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
            exc.scrub(tokens)
            self._clean_error(exc, query, settings, request)
            raise
        raw = parsed.raw
        return StatusReport(
            provider=self.name,
            state=parsed.state,
            raw_status=parsed.raw_status,
            observed_at=utcnow(),
            subject=self.subject(query),
            details=parsed.details,
            blocklisted=parsed.blocklisted,
            raw=payload if raw is KEEP else raw,
        )

    def _send(self, request: Request, settings: Any, transport: Transport) -> Response:
        if type(self).sign is HTTPStatusProvider.sign:  # nothing to sign
            return transport.send(request, provider=self.name)

        def sign(attempt: Request) -> Request:  # signed anew for every attempt, retries too
            return self.sign(attempt, settings, self.now())

        return transport.send(request, provider=self.name, sign=sign)

    def _send_with_token(
        self,
        request: Request,
        exchange: _creds.TokenExchange,
        settings: Any,
        transport: Transport,
        tokens: list[str],
    ) -> Response:
        """Send with the cached token; on a "token expired" answer, refresh once and resend."""
        cache = _creds.current_cache()

        def obtain() -> _creds.Token:
            return exchange.exchange(
                transport,
                provider=self.name,
                now=cache.clock(),
                secrets=_known_secrets(None, settings),
                error_for=self.error_for,
            )

        token = cache.token(exchange.key, obtain)
        tokens.append(token.value)
        response = self._send(exchange.apply(request, token), settings, transport)
        if 200 <= response.status < 300:
            return response
        if not self.token_expired(scrub_response(response, tokens)):
            return response
        log.info("%s: the provider says the token expired: refreshing it once", self.name)
        cache.invalidate(exchange.key, token)
        token = cache.token(exchange.key, obtain)
        tokens.append(token.value)
        return self._send(exchange.apply(request, token), settings, transport)

    def _clean_error(
        self, exc: KYCBridgeError, query: Any, settings: Any, request: Request | None
    ) -> None:
        """Secrets out of ``exc``'s text, personal values masked (see :meth:`fetch`)."""
        exc.scrub(_known_secrets(request, query, settings))
        personal = [] if request is None else request.personal_values()
        try:
            subject = self.subject(query)
        except Exception:  # a broken subject() must not hide the error being raised
            subject = None
        if subject:
            personal.append(subject)
        if personal:
            exc.rewrite(lambda text: mask_personal_values(text, personal))
        if type(self).mask_text is not HTTPStatusProvider.mask_text:
            exc.rewrite(self.mask_text)
        if exc.__suppress_context__:
            # Raised "from None": the exception it replaced (a partial body in an
            # IncompleteRead, a parser's KeyError quoting a value) is never shown; dropped, so
            # nothing that reads the error's chain finds what it held.
            exc.__context__ = None
        exc.provider = exc.provider or self.name


@functools.lru_cache(maxsize=64)
def _secret_names(cls: type[Any]) -> tuple[str, ...]:
    """The names of a class's fields declared with :func:`secret` (none if not attrs)."""
    return tuple(f.name for f in attrs.fields(cls) if is_secret(f)) if attrs.has(cls) else ()


def _known_secrets(request: Request | None, *objects: Any) -> list[str]:
    """The request's secret header values, and the secret field values of ``objects``."""
    secrets = [] if request is None else request.secrets()
    for obj in objects:
        for name in _secret_names(type(obj)):  # type: ignore[arg-type]
            value = getattr(obj, name, None)
            if isinstance(value, str) and value and value not in secrets:
                secrets.append(value)
    return secrets


def _personal_forms(value: str) -> list[str]:
    """The spellings of a personal value a provider or a library may echo, longest first.

    The value, in lower and upper case too (a provider may fold it); each as is,
    percent-encoded (path segment, query value), JSON-escaped; and each of those as a
    ``repr`` shows it (an error message quoting an excerpt with ``!r``).
    """
    forms: set[str] = set()
    for v in {value, value.lower(), value.upper()}:
        escaped = json.dumps(v)[1:-1]
        for form in (
            v,
            quote(v, safe="", errors="surrogatepass"),
            quote(v, errors="surrogatepass"),  # "/" kept: as a URL's path shows it
            quote_plus(v, safe="", errors="surrogatepass"),
            quote_plus(v, errors="surrogatepass"),
            escaped,
            escaped.replace("/", "\\/"),
            json.dumps(v, ensure_ascii=False)[1:-1],
        ):
            forms.add(form)
            forms.add(repr(form)[1:-1])
    return sorted(forms, key=len, reverse=True)


def _personal_pattern(values: tuple[str, ...]) -> re.Pattern[str]:
    # Not cached: only errors are masked, and no cache is to hold anyone's personal data.
    alternatives = [re.escape(f) for v in values for f in _personal_forms(v)]
    return re.compile("|".join(sorted(set(alternatives), key=len, reverse=True)), re.IGNORECASE)


def mask_personal_values(text: str, values: Iterable[str | None]) -> str:
    """``text`` with each of ``values`` masked (:func:`~kycbridge.redact.mask`).

    Each value is found as it is, percent-encoded (as a path segment or a query value,
    ``%2F`` or ``%2f``) and JSON-escaped, ignoring case (``Jane@Example.com`` and a
    provider's ``jane@example.com`` are one person). Values shorter than 3 characters are
    left alone (masking them would garble text without hiding anyone). Returns ``text``
    itself when nothing is found.
    """
    kept = tuple(dict.fromkeys(v for v in values if v and len(v) >= MIN_SECRET_LENGTH))
    if not kept or not text:
        return text
    shown = {f.lower(): mask(v) for v in kept for f in _personal_forms(v)}
    try:
        pattern = _personal_pattern(kept)
    except re.error:  # not reachable with escaped text; never fail while masking
        return text
    return pattern.sub(lambda m: shown.get(m.group(0).lower(), REDACTED), text)


def scrub_response(response: Response, secrets: Sequence[str]) -> Response:
    """``response`` with each secret replaced by ``***`` in its body and header values.

    JSON-escaped and URL-encoded spellings are replaced too (:func:`~kycbridge.redact.scrub`).
    Returns ``response`` itself, uncopied, when no secret occurs in it. Changed headers come
    back as a plain dict with lowercase names.
    """
    forms = [f for s in secrets if len(s) >= MIN_SECRET_LENGTH for f in secret_forms(s)]
    if not forms:
        return response  # no secret to look for
    body = response.body
    for form in forms:
        if form.encode("utf-8", "surrogatepass") in body:
            body = scrub_bytes(body, secrets)
            break
    headers = response.headers
    # Every value in one text, one line each: a form in a value is a form in the text (one
    # that spans two lines only costs the exact pass below, which scrubs value by value).
    values = _header_text(headers)
    for form in forms:
        if form in values:
            headers = {k.lower(): scrub(headers[k], secrets) for k in headers}
            break
    if body is response.body and headers is response.headers:
        return response
    return attrs.evolve(response, body=body, headers=headers)


def _header_text(headers: Mapping[str, str]) -> str:
    """Every header value (and maybe name) of ``headers``, one a line, to search for a secret.

    urllib3's :class:`~urllib3.HTTPHeaderDict` keeps, per lowercase name, a list of the name
    as received and its values (``_container``, so in urllib3 1.26 and 2.x alike): read
    directly, several times quicker than walking the mapping, which builds each merged value
    in Python. Anything else, or a container not of that shape, is walked as a mapping.
    """
    if type(headers) is HTTPHeaderDict:
        container = getattr(headers, "_container", None)
        if isinstance(container, dict):
            lines: list[str] = []
            for entry in container.values():
                if type(entry) is not list:
                    break
                lines += entry
            else:
                try:
                    return "\n".join(lines)
                except TypeError:  # not all text: walked below
                    pass
    # urllib3's header dict: one (name, joined values) pair per name, the quickest walk.
    merged = getattr(headers, "itermerged", None)
    pairs = merged() if merged is not None else headers.items()
    return "\n".join([value for _, value in pairs])


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


def _from_file(provider: str, name: str, env: Mapping[str, str]) -> str | None:
    """The secret named by env ``KYCBRIDGE_<P>_<NAME>_FILE``, or ``None`` when it is not set.

    The file's content, less one trailing newline (the container-secrets convention), read
    up to :data:`MAX_SECRET_FILE` bytes. Raises :class:`InvalidQuery` naming the variable
    (never the content) when both it and ``KYCBRIDGE_<P>_<NAME>`` are set, or when the file
    is unreadable, not a regular file, too large, not UTF-8 or empty.
    """
    plain = env_name(provider, name)
    variable = plain + "_FILE"
    path = env.get(variable)
    if not path:
        return None

    def refuse(why: str) -> InvalidQuery:
        return InvalidQuery(f"{variable}: {why}", provider=provider)

    if env.get(plain):
        raise refuse(f"{plain} is set too; set only one of them")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise refuse(f"cannot read the file ({exc.strerror or type(exc).__name__})") from None
    try:
        with os.fdopen(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise refuse("not a regular file")
            data = file.read(MAX_SECRET_FILE + 1)
    except OSError as exc:
        raise refuse(f"cannot read the file ({exc.strerror or type(exc).__name__})") from None
    if len(data) > MAX_SECRET_FILE:
        raise refuse(f"the file is larger than {MAX_SECRET_FILE // 1024} KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise refuse("the file is not UTF-8 text") from None
    text = text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
    if not text:
        raise refuse("the file is empty")
    return text


def _secret_values(cls: type[Any], values: Mapping[str, Any]) -> list[str]:
    names = {f.name for f in attrs.fields(cls) if is_secret(f)}
    return [str(v) for k, v in values.items() if k in names and v]


def _type_name(tp: Any) -> str:
    """A type as a user reads it: ``str``, ``float``, ``str | None``."""
    if isinstance(tp, tuple):
        return " or ".join(_type_name(t) for t in tp)
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _missing(provider: str, kind: str, flag: str, names: list[str], env_ok: set[str]) -> str:
    """``missing query field 'x' (give -p x=... or set KYCBRIDGE_P_X)``, for each name."""
    parts = []
    for name in names:
        hint = f"give {flag} {name}=..."
        if name in env_ok:
            hint += f" or set {env_name(provider, name)}"
        parts.append(f"missing {kind} {name!r} ({hint})")
    return "; ".join(parts)


def _invalid(exc: Exception, kind: str, cls: type[Any], values: Mapping[str, Any]) -> str:
    """What a validator's or converter's error says, naming the field when attrs tells it.

    attrs' own validators pass the field (``exc.args[1]``) and show the value in their
    message: the value is masked (or ``***`` for a secret) and a type check is reworded.
    Any other message is kept, with the secrets given in ``values`` scrubbed. ``kind`` is
    ``"query field"`` or ``"setting"``.
    """
    secrets = _secret_values(cls, values)
    args = exc.args
    if len(args) >= 2 and isinstance(args[1], attrs.Attribute):
        field: attrs.Attribute[Any] = args[1]
        value = values.get(field.name)
        if isinstance(exc, TypeError) and len(args) >= 3:
            expected = _type_name(args[2])
            return f"{kind} {field.name!r} must be {expected}, not {type(value).__name__}"
        text = str(args[0])
        if value is not None:
            text = text.replace(repr(value), REDACTED if is_secret(field) else repr(mask(value)))
        text = scrub(text, secrets)
        own = f"{field.name!r} "  # attrs' messages start with the field's name: said once
        return f"{kind} {text}" if text.startswith(own) else f"{kind} {field.name!r}: {text}"
    text = str(args[0]) if len(args) == 1 else str(exc)
    what = "settings" if kind == "setting" else "query"
    return f"invalid {what}: {scrub(text, secrets)}"


def load_settings(
    provider: KYCStatusProvider,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Any:
    """Build ``provider.settings_type``: defaults < env ``KYCBRIDGE_<P>_<SETTING>`` < overrides.

    A secret setting may also come from a file named by ``KYCBRIDGE_<P>_<SETTING>_FILE``
    (its content less one trailing newline; setting both variables is an error).

    Raises :class:`InvalidQuery` naming the setting (and how to give it: ``-s NAME=...`` or
    the env variable) when a value is unknown, missing or invalid; never with a secret in it.
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
        elif is_secret(field) and (from_file := _from_file(provider.name, name, env)):
            raw = from_file
        elif env.get(env_name(provider.name, name)):
            raw = env[env_name(provider.name, name)]
        else:
            continue
        try:
            values[name] = converter.structure(raw, field.type) if field.type else raw
        except Exception:
            shown = REDACTED if is_secret(field) else repr(raw)
            raise InvalidQuery(
                f"setting {name!r} has an invalid value {shown} "
                f"(expected {_type_name(field.type)})",
                provider=provider.name,
            ) from None
    missing = [n for n, f in fields.items() if f.default is attrs.NOTHING and n not in values]
    if missing:
        message = _missing(provider.name, "setting", "-s", missing, set(fields))
        raise InvalidQuery(message, provider=provider.name)
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise InvalidQuery(_invalid(exc, "setting", cls, values), provider=provider.name) from None


@functools.lru_cache(maxsize=64)
def _field_names(cls: type[Any]) -> tuple[frozenset[str], tuple[str, ...], tuple[str, ...]]:
    """A query class's field names, its secret fields', its required (no default) fields'."""
    fields = attrs.fields(cls)
    return (
        frozenset(f.name for f in fields),
        tuple(f.name for f in fields if is_secret(f)),
        tuple(f.name for f in fields if f.default is attrs.NOTHING),
    )


def build_query(
    provider: KYCStatusProvider,
    fields: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
) -> Any:
    """Build and validate ``provider.query_type`` from ``fields``.

    A secret query field left out of ``fields`` is taken from env
    ``KYCBRIDGE_<PROVIDER>_<FIELD>``, or from the file ``KYCBRIDGE_<PROVIDER>_<FIELD>_FILE``
    names. Raises :class:`InvalidQuery` (never with a secret in
    it) before any network I/O: a missing field is named with how to give it
    (``-p NAME=...``, or the env variable for a secret field), an invalid one by the
    validator's message.
    """
    env = os.environ if env is None else env
    cls = provider.query_type
    known, secrets, required = _field_names(cls)  # type: ignore[arg-type]
    if not fields.keys() <= known:
        unknown = set(fields) - known
        raise InvalidQuery(
            f"unknown query field(s) {sorted(unknown)}; fields are {sorted(known)}",
            provider=provider.name,
        )
    for name, value in fields.items():
        if type(value) is str and not is_sendable_text(value):
            raise InvalidQuery(
                f"query field {name!r} is not valid text (it holds a lone surrogate); "
                f"give it again with -p {name}=...",
                provider=provider.name,
            )
    values = fields
    for name in secrets:
        if values.get(name) is None:
            from_env = _from_file(provider.name, name, env)
            from_env = from_env or env.get(env_name(provider.name, name))
            if from_env:
                values = {**values, name: from_env}
    for name in required:
        if values.get(name) is None:
            missing = [n for n in required if values.get(n) is None]
            message = _missing(provider.name, "query field", "-p", missing, set(secrets))
            raise InvalidQuery(message, provider=provider.name)
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise InvalidQuery(
            _invalid(exc, "query field", cls, values), provider=provider.name
        ) from None
