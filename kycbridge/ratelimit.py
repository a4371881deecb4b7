"""A thread-safe rate limiter, so a provider's documented limit holds across threads."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["Limiter", "LimiterFactory", "RateLimiter"]

_KEEP_GRANTS = 1000


@runtime_checkable
class Limiter(Protocol):
    """What a :class:`~kycbridge.Bridge` needs of a rate limiter (:class:`RateLimiter` is one).

    A limiter shared by several processes (``kycbridge.tracking.limiters``) implements the
    same two methods.
    """

    def acquire(self, max_wait: float | None = None) -> float:
        """Wait for this caller's slot; return the seconds waited.

        ``max_wait``: when the next slot is more than this many seconds away, raise
        :class:`TimeoutError` at once, without taking the slot or waiting (the caller's
        deadline: any clock can measure a duration).
        """

    def defer(self, seconds: float) -> None:
        """Push every caller back by at least ``seconds`` (after a provider's Retry-After)."""


LimiterFactory = Callable[[str, float], Limiter]
"""Makes the limiter for a provider: ``factory(provider_name, rate_per_second)``."""


def default_limiter(provider: str, rate: float) -> Limiter:
    """The in-process default: a :class:`RateLimiter` of ``rate`` per second."""
    return RateLimiter(rate)


class RateLimiter:
    """Spaces calls ``1.02 / rate`` seconds apart, across every thread that shares it.

    A strict spacing (no bursts) keeps any one-second window at ``rate`` calls or fewer,
    which is what a "N requests per second" limit on the provider's side counts.

    ``clock`` (seconds, monotonic) and ``sleep`` are the time source and the wait; inject
    fakes in tests. :attr:`granted` keeps the slots handed out, so a test can check the
    spacing the limiter decided instead of measuring wall time.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        # 2% under the documented rate: a provider's sliding window never sees rate + 1.
        self.interval = 1.02 / rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0
        self.granted: collections.deque[float] = collections.deque(maxlen=_KEEP_GRANTS)
        """The last 1000 slots granted by :meth:`acquire` (``clock`` times), in grant order."""
        self.grants = 0
        """How many slots :meth:`acquire` granted in all."""

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self.rate})"

    def acquire(self, max_wait: float | None = None) -> float:
        """Wait for this caller's slot; return the seconds waited.

        ``max_wait``: when the next slot is more than this many seconds away, raise
        :class:`TimeoutError` at once, without taking the slot or waiting.
        """
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            if max_wait is not None and slot - now > max_wait:
                raise TimeoutError(f"the next slot is {slot - now:.3g} s away")
            self._next = slot + self.interval
            self.granted.append(slot)
            self.grants += 1
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
        return wait

    def defer(self, seconds: float) -> None:
        """Push every caller back by at least ``seconds`` (after a provider's Retry-After)."""
        with self._lock:
            self._next = max(self._next, self._clock() + seconds)
