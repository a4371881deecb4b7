"""Credentials that expire: a long-lived secret traded for a short-lived token, and cached.

A provider whose API wants a short-lived token (an OAuth2 client-credentials grant, a partner
"refresh token" endpoint) declares the exchange as data: its
:meth:`~kycbridge.HTTPStatusProvider.credential` returns a :class:`TokenExchange` (``None``
when a static token is configured). The core then, for every call:

* obtains the token on first use (an HTTP request through the call's own transport: retries,
  deadlines, URL rules and redaction apply) and caches it per credential
  (:attr:`TokenExchange.key`, a hash of the long-lived secret, never the secret);
* refreshes it ahead of expiry: :data:`MARGIN_FRACTION` of its lifetime, at most
  :data:`MAX_MARGIN` seconds, plus up to :data:`JITTER` more of that margin at random, so
  that many workers do not refresh at once. While one thread refreshes a token that is still
  valid, the others keep using it;
* exchanges at most once at a time per credential in a process (single flight: one thread
  exchanges, the others wait for its result, or its error);
* when the provider says an answer means "token expired"
  (:meth:`~kycbridge.HTTPStatusProvider.token_expired`), drops the token, obtains a new one
  and retries the call once (never more);
* with a shared store (:class:`RedisTokenStore`, ``KYCBRIDGE_CREDENTIAL_CACHE=redis://...``),
  worker processes share one token per credential, and a Redis lock lets one process
  exchange per expiry.

Tokens and long-lived secrets are secrets: :class:`Token`'s repr hides the value, and the
core scrubs both from every answer, error and log line. See ``docs/credentials.md``.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import hashlib
import json
import logging
import os
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs

from .errors import (
    AuthenticationError,
    InvalidQuery,
    KYCBridgeError,
    MalformedResponse,
    ProviderUnavailable,
    RequestRejected,
)
from .transport import Request, Response, Transport

__all__ = [
    "CACHE_ENV",
    "JITTER",
    "MARGIN_FRACTION",
    "MAX_MARGIN",
    "CredentialCache",
    "CredentialInfo",
    "RedisTokenStore",
    "Token",
    "TokenExchange",
    "TokenStore",
    "credential_cache",
    "credential_key",
    "current_cache",
    "default_cache",
    "using",
]

log = logging.getLogger("kycbridge.credentials")

CACHE_ENV = "KYCBRIDGE_CREDENTIAL_CACHE"
"""Env variable a :class:`~kycbridge.Bridge` reads its cache URL from (``memory://`` or
``redis://HOST:PORT/DB?prefix=P``)."""

MARGIN_FRACTION = 0.1
"""A token is refreshed this fraction of its lifetime before it expires..."""
MAX_MARGIN = 300.0
"""... but at most this many seconds before."""
JITTER = 0.5
"""Up to this fraction of the margin is added at random, per process and token."""

_MIN_SCRUBBED = 8  # strings of an exchange's answer this long or longer are scrubbed from errors


@attrs.frozen(repr=False)
class Token:
    """A short-lived token and its lifetime, in seconds since the epoch. A secret."""

    value: str
    """The token (a secret: never shown)."""
    expires_at: float
    """When it stops working."""
    issued_at: float
    """When it was obtained (the cache's clock)."""

    @property
    def lifetime(self) -> float:
        """Seconds between :attr:`issued_at` and :attr:`expires_at`."""
        return self.expires_at - self.issued_at

    def __repr__(self) -> str:
        return f"<Token *** expires_at={self.expires_at:.0f}>"


@attrs.frozen
class CredentialInfo:
    """Which credentials a provider needs, and which it can obtain itself (data for docs)."""

    static: tuple[str, ...] = ()
    """Settings used as they are (an API token)."""
    exchanged_from: tuple[str, ...] = ()
    """Settings the provider can trade for a short-lived token (a client id and secret)."""
    obtains: str = ""
    """What the exchange gives, in words (``"a partner access token, valid 7 days"``)."""


def credential_key(provider: str, *parts: str | None) -> str:
    """A cache key naming a credential: ``provider:`` and a SHA-256 of ``parts``.

    Pass the long-lived secret and what else tells credentials apart (the exchange URL, a
    client id): the key never contains them.
    """
    digest = hashlib.sha256(provider.encode("utf-8"))
    for part in parts:
        digest.update(b"\x00" + (part or "").encode("utf-8", "surrogatepass"))
    return f"{provider}:{digest.hexdigest()[:40]}"


def _strings(value: Any, depth: int = 0) -> Iterator[str]:
    """The strings in a JSON value (bounded depth): what an answer may carry that is secret."""
    if depth > 20:
        return
    if isinstance(value, str):
        if len(value) >= _MIN_SCRUBBED:
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, depth + 1)


@attrs.frozen(repr=False)
class TokenExchange:
    """How a provider trades a long-lived secret for a short-lived token: data and two functions.

    ``request`` is sent through the call's transport; a 2xx JSON answer goes to
    ``read(payload, now)``, which returns the :class:`Token` (raise ``ValueError``, ``KeyError``
    or ``TypeError`` for another shape: that is a :class:`~kycbridge.MalformedResponse`).
    ``apply(request, token)`` returns the status request carrying the token (use
    ``request.with_headers({...}, secret=True)``).
    """

    key: str
    """Names the credential in caches (:func:`credential_key`): never the secret itself."""
    request: Request
    """The exchange request (its secret headers marked; a secret body is scrubbed too)."""
    read: Callable[[Any, float], Token]
    """``read(payload, now)``: the token in a 2xx JSON answer."""
    apply: Callable[[Request, Token], Request]
    """``apply(request, token)``: ``request`` with the token in its header (marked secret)."""
    settings: tuple[str, ...]
    """The settings the exchange uses, named when it is refused (never their values)."""
    refused: frozenset[int] = frozenset({400, 401, 403})
    """HTTP statuses meaning "this secret is refused": an :class:`AuthenticationError`."""

    def __repr__(self) -> str:
        return f"<TokenExchange {self.key}>"

    def exchange(
        self,
        transport: Transport,
        *,
        provider: str,
        now: float,
        secrets: Sequence[str] = (),
        error_for: Callable[[Response], KYCBridgeError] | None = None,
    ) -> Token:
        """Send :attr:`request` once (the transport's retries aside); return the token.

        A status in :attr:`refused` raises :class:`AuthenticationError` naming
        :attr:`settings`; another non-2xx answer the error ``error_for`` picks (default:
        :class:`ProviderUnavailable` for 5xx, else :class:`RequestRejected`). ``secrets``
        (and the request's own) and every long string of the answer are scrubbed from errors.
        """
        from .provider import scrub_response  # the provider module imports this one

        known = [*self.request.secrets(), *(s for s in secrets if s)]
        body = self.request.body.decode("utf-8", "replace") if self.request.body else ""
        known += [v for _, v in parse_qsl(body) if len(v) >= 3]  # a form body's secrets
        try:
            response = scrub_response(transport.send(self.request, provider=provider), known)
            if not 200 <= response.status < 300:
                raise self._error(response, provider, error_for)
            payload = response.json(provider=provider)
            known += _strings(payload)
            try:
                token = self.read(payload, now)
            except KYCBridgeError:
                raise
            except Exception as exc:
                raise MalformedResponse(
                    f"the credential exchange answered an unexpected shape ({type(exc).__name__})",
                    provider=provider,
                    http_status=response.status,
                ) from None
            if not token.value or not token.expires_at > now:
                raise MalformedResponse(
                    "the credential exchange answered an empty or already expired token "
                    "(is this machine's clock right?)",
                    provider=provider,
                    http_status=response.status,
                )
            return token
        except KYCBridgeError as exc:
            exc.scrub(known)
            exc.provider = exc.provider or provider
            raise

    def _error(
        self,
        response: Response,
        provider: str,
        error_for: Callable[[Response], KYCBridgeError] | None,
    ) -> KYCBridgeError:
        found: KYCBridgeError | None = None
        if error_for is not None:
            try:
                found = error_for(response)
            except Exception:  # not the provider's error shape: the status decides
                found = None
        if response.status in self.refused:
            names = ", ".join(self.settings)
            return AuthenticationError(
                f"the credential exchange was refused: check the settings {names}",
                provider=provider,
                http_status=response.status,
                provider_code=found.provider_code if found else None,
                provider_message=found.provider_message if found else None,
                request_id=found.request_id if found else None,
            )
        if found is not None:
            return found
        kind = ProviderUnavailable if response.status >= 500 else RequestRejected
        return kind(
            "the credential exchange failed", provider=provider, http_status=response.status
        )


# -- caches ------------------------------------------------------------------------------------


class TokenStore(Protocol):
    """A token store shared by processes (:class:`RedisTokenStore`), behind a cache."""

    def token(
        self,
        key: str,
        obtain: Callable[[], Token],
        stale: Token | None,
        usable: Callable[[Token], bool],
    ) -> Token:
        """The shared token if ``usable`` and not ``stale``; else exchange (one process)."""

    def peek(self, key: str) -> Token | None:
        """The shared token, if any, without exchanging."""


@attrs.define
class _Entry:
    token: Token
    refresh_at: float


class CredentialCache:
    """Tokens of one process, by credential key: refresh ahead, single flight, optional sharing.

    ``shared``: a :class:`TokenStore` shared by processes (``None``: this process only).
    ``clock``: seconds since the epoch (tests inject one). ``margin``, ``max_margin``,
    ``jitter``: the refresh rule (see the module docstring). ``rng``: the jitter's source.
    Thread-safe.
    """

    def __init__(
        self,
        *,
        shared: TokenStore | None = None,
        clock: Callable[[], float] = time.time,
        margin: float = MARGIN_FRACTION,
        max_margin: float = MAX_MARGIN,
        jitter: float = JITTER,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 <= margin < 1 or max_margin < 0 or not 0 <= jitter <= 1:
            raise ValueError("margin must be in [0, 1), max_margin >= 0, jitter in [0, 1]")
        self.shared = shared
        self.clock = clock
        self.margin = margin
        self.max_margin = max_margin
        self.jitter = jitter
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._stale: dict[str, Token] = {}
        self._flights: dict[str, Future[Token]] = {}
        self.exchanges = 0
        """Tokens this cache obtained (from the provider or the shared store)."""

    def __repr__(self) -> str:
        shared = f" shared={self.shared!r}" if self.shared is not None else ""
        return f"<CredentialCache {len(self._entries)} tokens{shared}>"

    def _margin(self, token: Token) -> float:
        return min(self.margin * max(token.lifetime, 0.0), self.max_margin)

    def refresh_at(self, token: Token) -> float:
        """When this process refreshes ``token``: before expiry by the margin and a jitter."""
        margin = self._margin(token)
        return token.expires_at - margin * (1 + self.jitter * self._rng.random())

    def fresh(self, token: Token, now: float | None = None) -> bool:
        """Whether ``token`` is before its refresh margin (no jitter) at ``now``."""
        now = self.clock() if now is None else now
        return now < token.expires_at - self._margin(token)

    def peek(self, key: str) -> Token | None:
        """The token held for ``key`` if it has not expired (no exchange), else the shared one."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and self.clock() < entry.token.expires_at:
            return entry.token
        if self.shared is not None:
            token = self.shared.peek(key)
            if token is not None and self.clock() < token.expires_at:
                return token
        return None

    def token(self, key: str, obtain: Callable[[], Token]) -> Token:
        """The token for ``key``: cached, or ``obtain()`` by one thread while the others wait.

        A token past its refresh point but not expired is handed out while another thread
        refreshes it. The error of a failed exchange is raised in every waiting thread (a
        copy each).
        """
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and now < entry.refresh_at:
                return entry.token
            flight = self._flights.get(key)
            if flight is not None and entry is not None and now < entry.token.expires_at:
                return entry.token  # another thread refreshes it; it still works meanwhile
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = Future()
            stale = entry.token if entry is not None else self._stale.get(key)
        if not leader:
            try:
                return flight.result()
            except KYCBridgeError as exc:
                raise copy.copy(exc) from None
        try:
            token = self._obtain(key, obtain, stale)
        except BaseException as exc:
            with self._lock:
                self._flights.pop(key, None)
            flight.set_exception(exc)
            raise
        with self._lock:
            self._entries[key] = _Entry(token, self.refresh_at(token))
            self._stale.pop(key, None)
            self._flights.pop(key, None)
            self.exchanges += 1
        flight.set_result(token)
        return token

    def _obtain(self, key: str, obtain: Callable[[], Token], stale: Token | None) -> Token:
        if self.shared is None:
            return obtain()
        return self.shared.token(key, obtain, stale, self.fresh)

    def invalidate(self, key: str, token: Token) -> None:
        """Drop ``token`` (the provider said it expired) unless it was replaced meanwhile."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.token.value == token.value:
                del self._entries[key]
                self._stale[key] = token

    def clear(self) -> None:
        """Forget every token."""
        with self._lock:
            self._entries.clear()
            self._stale.clear()


_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisTokenStore:
    """Tokens shared by worker processes through Redis: one exchange per expiry.

    The token is kept under ``{prefix}credential:{key}`` as JSON, **in plain text**, with a
    TTL ending when it expires (see ``docs/credentials.md`` for the risk). A process that
    needs a new token takes the lock ``...:lock`` (``SET NX PX lock_ttl``), checks again,
    exchanges, stores, releases; the others poll every ``poll`` seconds for at most
    ``wait`` seconds, then use the stored token. When Redis cannot be reached the process
    exchanges on its own (logged as a warning): a Redis outage does not stop status calls.
    """

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "kycbridge:",
        lock_ttl: float = 30.0,
        wait: float = 60.0,
        poll: float = 0.05,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], object] = time.sleep,
        url: str = "redis://",
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.lock_ttl = lock_ttl
        self.wait = wait
        self.poll = poll
        self.clock = clock
        self.sleep = sleep
        self.url = url
        self._release = client.register_script(_RELEASE)

    def __repr__(self) -> str:
        return f"<RedisTokenStore {self.url} prefix={self.prefix!r}>"

    def name(self, key: str) -> str:
        """The Redis key holding ``key``'s token."""
        return f"{self.prefix}credential:{key}"

    def peek(self, key: str) -> Token | None:
        """The stored token, or ``None`` (also when Redis cannot be reached)."""
        try:
            raw = self.client.get(self.name(key))
        except Exception as exc:
            log.warning("credential store %s unreachable (%s)", self.url, type(exc).__name__)
            return None
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return Token(str(data["value"]), float(data["expires_at"]), float(data["issued_at"]))
        except (ValueError, KeyError, TypeError):
            return None

    def token(
        self,
        key: str,
        obtain: Callable[[], Token],
        stale: Token | None,
        usable: Callable[[Token], bool],
    ) -> Token:
        """The shared token when ``usable`` and not ``stale``; else one process exchanges."""

        def good(token: Token | None) -> bool:
            return (
                token is not None
                and usable(token)
                and (stale is None or token.value != stale.value)
            )

        name, lock = self.name(key), self.name(key) + ":lock"
        give_up = time.monotonic() + self.wait
        while True:
            current = self.peek(key)
            if current is not None and good(current):
                return current
            me = secrets.token_hex(16)
            try:
                locked = self.client.set(lock, me, nx=True, px=max(1, int(self.lock_ttl * 1000)))
            except Exception as exc:
                log.warning(
                    "credential store %s unreachable (%s): exchanging in this process",
                    self.url,
                    type(exc).__name__,
                )
                return obtain()
            if locked:
                try:
                    current = self.peek(key)  # stored between our look and our lock
                    if current is not None and good(current):
                        return current
                    token = obtain()
                    self._store(name, token)
                    return token
                finally:
                    with contextlib.suppress(Exception):
                        self._release(keys=[lock], args=[me])
            if time.monotonic() >= give_up:
                raise ProviderUnavailable(
                    f"no credential after {self.wait:g} s: another process holds the exchange lock"
                )
            self.sleep(self.poll)

    def _store(self, name: str, token: Token) -> None:
        ttl = int((token.expires_at - self.clock()) * 1000)
        if ttl <= 0:
            return
        data = {"value": token.value, "expires_at": token.expires_at, "issued_at": token.issued_at}
        try:
            self.client.set(name, json.dumps(data), px=ttl)
        except Exception as exc:
            log.warning("credential store %s unreachable (%s)", self.url, type(exc).__name__)


def _redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[2]}"))


def credential_cache(
    url: str | None, *, clock: Callable[[], float] = time.time
) -> CredentialCache:
    """A cache for ``url``: ``memory://`` / ``None`` (this process) or ``redis://...?prefix=P``.

    Raises :class:`InvalidQuery` for another scheme, or for Redis without redis-py installed.
    """
    if not url or url.lower() in ("memory", "memory://"):
        return CredentialCache(clock=clock)
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("redis", "rediss", "unix"):
        raise InvalidQuery(
            f"unsupported credential cache URL {_redact_url(url)!r} "
            "(use memory:// or redis://HOST:PORT/DB)"
        )
    try:
        import redis
    except ImportError:
        raise InvalidQuery(
            "a redis:// credential cache needs redis-py: install kycbridge[redis]"
        ) from None
    prefix, kept = "kycbridge:", []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name == "prefix":
            prefix = value
        else:
            kept.append((name, value))
    plain = urlunsplit(parts._replace(query=urlencode(kept)))
    client = redis.Redis.from_url(plain, socket_timeout=10, socket_connect_timeout=10)
    store = RedisTokenStore(client, prefix=prefix, clock=clock, url=_redact_url(plain))
    return CredentialCache(shared=store, clock=clock)


_default: CredentialCache | None = None
_default_lock = threading.Lock()
_current: contextvars.ContextVar[CredentialCache | None] = contextvars.ContextVar(
    "kycbridge_credential_cache", default=None
)


def default_cache() -> CredentialCache:
    """The process-wide cache (what a bare ``provider.fetch`` uses).

    Made on first use from env ``KYCBRIDGE_CREDENTIAL_CACHE`` (:func:`credential_cache`),
    in memory when it is not set.
    """
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = credential_cache(os.environ.get(CACHE_ENV) or None)
    return _default


def current_cache() -> CredentialCache:
    """The cache of the call in progress: the one set by :func:`using`, else the default."""
    return _current.get() or default_cache()


@contextlib.contextmanager
def using(cache: CredentialCache | None) -> Iterator[CredentialCache]:
    """Make ``cache`` the one provider calls in this context use (``None``: the default)."""
    reset = _current.set(cache)
    try:
        yield current_cache()
    finally:
        _current.reset(reset)
