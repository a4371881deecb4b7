"""When to ask again: :class:`Policy`.

Each non-final state has a base interval. While nothing changes the interval grows by
``backoff`` per unchanged poll, up to ``max_interval``; any change starts over at the base.
A failed poll is retried after ``failure_base * failure_factor ** (failures - 1)`` seconds,
up to ``failure_max``, or after ``permanent_interval`` for an error that asking again soon
will not fix (not found, rejected credentials, an invalid stored query, a malformed answer).
Every delay is spread by ``jitter`` (a fraction: 0.1 is +-10 %) so that subjects added
together do not stay in step. Final states are not polled again, except ``approved`` every
``recheck_approved`` seconds when set (an approval can expire).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import attrs

from ..states import KYCState

__all__ = ["DEFAULT_INTERVALS", "Policy"]

DEFAULT_INTERVALS: Mapping[KYCState, float] = {
    KYCState.NOT_STARTED: 3600.0,
    KYCState.IN_PROGRESS: 600.0,
    KYCState.ACTION_REQUIRED: 3600.0,
    KYCState.SUBMITTED: 600.0,
    KYCState.IN_REVIEW: 600.0,
    KYCState.UNKNOWN: 3600.0,
}
"""Base seconds between polls, per non-final state."""


def _positive(_: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not value > 0:
        raise ValueError(f"{attribute.name} must be positive")


def _intervals(value: Mapping[Any, float]) -> Mapping[KYCState, float]:
    merged = dict(DEFAULT_INTERVALS)
    for state, seconds in value.items():
        if not float(seconds) > 0:
            raise ValueError(f"the interval of {state} must be positive")
        merged[KYCState(state)] = float(seconds)
    return merged


@attrs.frozen(kw_only=True)
class Policy:
    """How often each subject is polled; every field in seconds except the factors."""

    intervals: Mapping[KYCState, float] = attrs.field(
        default=DEFAULT_INTERVALS, converter=_intervals
    )
    """Base interval per state (``{"in_review": 600}``); states left out keep the default."""
    default_interval: float = attrs.field(default=600.0, validator=_positive)
    """For a state missing from :attr:`intervals`, and before the first observation."""
    backoff: float = attrs.field(default=1.5, validator=_positive)
    """Interval factor per consecutive unchanged poll (1: no backoff)."""
    max_interval: float = attrs.field(default=86400.0, validator=_positive)
    """Longest wait between two polls of a subject that is not final."""
    failure_base: float = attrs.field(default=60.0, validator=_positive)
    failure_factor: float = attrs.field(default=2.0, validator=_positive)
    failure_max: float = attrs.field(default=6 * 3600.0, validator=_positive)
    permanent_interval: float = attrs.field(default=6 * 3600.0, validator=_positive)
    """Retry delay after a permanent error (not found, authentication, invalid, malformed)."""
    jitter: float = attrs.field(default=0.1)
    """Spread of each delay, a fraction in ``[0, 1)``: 0.1 picks within +-10 %."""
    recheck_approved: float | None = attrs.field(default=None, validator=_positive)
    """Poll ``approved`` subjects again after this long (to see an expiry); ``None``: never."""
    lease: float = attrs.field(default=300.0, validator=_positive)
    """How long a worker holds a claimed subject; a killed worker's subjects return then."""

    @jitter.validator
    def _check_jitter(self, attribute: attrs.Attribute[Any], value: float) -> None:
        if not 0 <= value < 1:
            raise ValueError("jitter must be in [0, 1)")

    def _spread(self, delay: float, rng: random.Random | None) -> float:
        if self.jitter and rng is not None:
            delay *= 1 + self.jitter * (2 * rng.random() - 1)
        return delay

    def interval(self, state: KYCState | None, unchanged_polls: int = 0) -> float | None:
        """Seconds until the next poll, before jitter; ``None``: not polled again."""
        if state is not None and state.final:
            return self.recheck_approved if state is KYCState.APPROVED else None
        base = (
            self.default_interval
            if state is None
            else self.intervals.get(state, self.default_interval)
        )
        steps = min(max(unchanged_polls, 0), 64)
        return min(self.max_interval, base * self.backoff**steps)

    def next_check(
        self,
        state: KYCState | None,
        unchanged_polls: int,
        now: float,
        rng: random.Random | None = None,
    ) -> float | None:
        """When to poll after observing ``state`` (epoch seconds), or ``None``: never."""
        delay = self.interval(state, unchanged_polls)
        if delay is None:
            return None
        return now + min(self.max_interval, self._spread(delay, rng))

    def retry_delay(self, failures: int, permanent: bool) -> float:
        """Seconds until the retry after the ``failures``-th failure in a row, before jitter."""
        if permanent:
            return self.permanent_interval
        exponent = min(max(failures - 1, 0), 64)
        return min(self.failure_max, self.failure_base * self.failure_factor**exponent)

    def retry_at(
        self, failures: int, permanent: bool, now: float, rng: random.Random | None = None
    ) -> float:
        """When to retry after a failed poll (epoch seconds)."""
        cap = self.permanent_interval if permanent else self.failure_max
        return now + min(cap, self._spread(self.retry_delay(failures, permanent), rng))
