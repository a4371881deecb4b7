"""Rate limiters chosen by URL, one of them shared by every worker process: :func:`limiter_factory`.

``memory://`` (or nothing): the in-process :class:`~kycbridge.ratelimit.RateLimiter`, one per
bridge. ``redis://host:port/db?prefix=kyc:`` (or ``rediss://``): :class:`RedisLimiter`, a
GCRA ("generic cell rate algorithm") in a Lua script that Redis runs atomically, keyed per
provider and API key, so every process using the same Redis and prefix shares one limit.
It spaces calls ``1.02 / rate`` seconds apart, like the in-process limiter, with Redis's
own clock (``TIME``) as the only clock: workers on several machines agree on the slots.
Needs the ``redis`` extra (``pip install 'kycbridge[redis]'``).
"""

from __future__ import annotations

import collections
import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs

from ..errors import InvalidQuery
from ..provider import is_secret
from ..ratelimit import Limiter, LimiterFactory, default_limiter
from .store import redact_url

__all__ = [
    "GCRA_SCRIPT",
    "RedisLimiter",
    "RedisLimiterFactory",
    "limiter_factory",
    "settings_fingerprint",
]

GCRA_SCRIPT = """
local key = KEYS[1]
local interval = tonumber(ARGV[1])
local defer = tonumber(ARGV[2])
local now
if ARGV[3] ~= '' then
  now = tonumber(ARGV[3])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local tat = tonumber(redis.call('GET', key) or '0')
if tat < now then tat = now end
local slot = tat
if defer == 0 and ARGV[4] ~= '' and slot - now > tonumber(ARGV[4]) then
  return {string.format('%.0f', now), string.format('%.0f', slot), '0'}
end
if defer > 0 then
  if now + defer > tat then tat = now + defer end
  slot = now
else
  tat = tat + interval
end
local ttl = math.floor((tat - now) / 1000) + 1000
redis.call('SET', key, string.format('%.0f', tat), 'PX', ttl)
return {string.format('%.0f', now), string.format('%.0f', slot), '1'}
"""
"""The limiter's one script. Times are microseconds since the epoch; ``TAT`` (the theoretical
arrival time) is the next free slot. ``acquire`` takes the slot ``max(now, TAT)`` and moves
``TAT`` one interval on; ``defer`` moves ``TAT`` to at least ``now + seconds``. ``ARGV[3]``
overrides Redis's clock (tests only). ``ARGV[4]``, when set, is the longest wait (µs) the
caller accepts: a slot further away is not taken (the third value returned is ``'0'``)."""

_KEEP_GRANTS = 1000


def settings_fingerprint(settings: Any) -> str:
    """A short SHA-256 of a provider settings object's secret fields (its API key).

    Processes using the same key share a limit; the key itself never reaches Redis.
    """
    digest = hashlib.sha256()
    if attrs.has(type(settings)):
        for field in attrs.fields(type(settings)):
            if is_secret(field):
                digest.update(f"{field.name}={getattr(settings, field.name)!s}\x00".encode())
    return digest.hexdigest()[:16]


class RedisLimiter:
    """One provider's limit, shared through Redis key ``key``; satisfies ``Limiter``.

    ``clock`` (seconds) replaces Redis's clock, and ``sleep`` the wait (tests).
    :attr:`granted` keeps the slots handed out (seconds since the epoch, Redis's clock).
    """

    def __init__(
        self,
        client: Any,
        key: str,
        rate: float,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.key = key
        self.rate = rate
        self.interval = 1.02 / rate
        self._script = client.register_script(GCRA_SCRIPT)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self.granted: collections.deque[float] = collections.deque(maxlen=_KEEP_GRANTS)
        """The last 1000 slots this process was granted, in grant order."""
        self.grants = 0

    def __repr__(self) -> str:
        return f"RedisLimiter(rate={self.rate})"

    def _call(self, defer_us: int, max_wait_us: int | None = None) -> tuple[int, int, bool]:
        now = "" if self._clock is None else str(round(self._clock() * 1_000_000))
        limit = "" if max_wait_us is None else str(max_wait_us)
        answer = self._script(
            keys=[self.key], args=[round(self.interval * 1_000_000), defer_us, now, limit]
        )
        return int(answer[0]), int(answer[1]), answer[2] in (b"1", "1")

    def acquire(self, max_wait: float | None = None) -> float:
        """Take the next shared slot, wait for it; return the seconds waited.

        ``max_wait``: when that slot is more than this many seconds away, raise
        :class:`TimeoutError` at once; the slot is not taken (checked inside the script).
        """
        limit = None if max_wait is None else max(0, int(max_wait * 1_000_000))
        now, slot, taken = self._call(0, limit)
        wait = max(0.0, (slot - now) / 1_000_000)
        if not taken:
            raise TimeoutError(f"the next shared slot is {wait:.3g} s away")
        with self._lock:
            self.granted.append(slot / 1_000_000)
            self.grants += 1
        if wait > 0:
            self._sleep(wait)
        return wait

    def defer(self, seconds: float) -> None:
        """Push every process's next slot back by at least ``seconds``."""
        if seconds > 0:
            self._call(max(1, round(seconds * 1_000_000)))


class RedisLimiterFactory:
    """Makes :class:`RedisLimiter` objects on one Redis: a ``Bridge(limiter_factory=...)``.

    Keys are ``{prefix}ratelimit:{provider}:{identity(provider)}``. ``identity`` names the
    credentials a limit applies to (default: ``"default"``); :class:`~kycbridge.tracking.
    Tracker` and ``kycbridge track run`` set it to a fingerprint of the provider's settings.
    """

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "kycbridge:",
        identity: Callable[[str], str] | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], object] = time.sleep,
        url: str = "redis://",
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.identity = identity
        self.clock = clock
        self.sleep = sleep
        self.url = url

    def __repr__(self) -> str:
        return f"<RedisLimiterFactory {self.url} prefix={self.prefix!r}>"

    def key(self, provider: str) -> str:
        """The Redis key of ``provider``'s limit."""
        who = "default"
        if self.identity is not None:
            try:
                who = self.identity(provider)
            except Exception:  # settings not loadable yet: one limit for the provider
                who = "default"
        return f"{self.prefix}ratelimit:{provider}:{who}"

    def __call__(self, provider: str, rate: float) -> Limiter:
        """The limiter for ``provider`` at ``rate`` calls per second."""
        return RedisLimiter(
            self.client, self.key(provider), rate, clock=self.clock, sleep=self.sleep
        )


def limiter_factory(url: str | None) -> LimiterFactory:
    """The limiter factory for ``url``: ``memory://`` / ``None`` or ``redis://...?prefix=P``.

    Raises :class:`~kycbridge.errors.InvalidQuery` for another scheme, or for a Redis URL
    without the ``redis`` extra installed.
    """
    if not url or url.lower() in ("memory", "memory://"):
        return default_limiter
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("redis", "rediss", "unix"):
        raise InvalidQuery(
            f"unsupported limiter URL {redact_url(url)!r} (use memory:// or redis://HOST:PORT/DB)"
        )
    try:
        import redis
    except ImportError:
        raise InvalidQuery("a redis:// limiter needs redis-py: install kycbridge[redis]") from None
    params = parse_qsl(parts.query, keep_blank_values=True)
    prefix = "kycbridge:"
    kept = []
    for name, value in params:
        if name == "prefix":
            prefix = value
        else:
            kept.append((name, value))
    plain = urlunsplit(parts._replace(query=urlencode(kept)))
    client = redis.Redis.from_url(plain, socket_timeout=10, socket_connect_timeout=10)
    return RedisLimiterFactory(client, prefix=prefix, url=redact_url(plain))
