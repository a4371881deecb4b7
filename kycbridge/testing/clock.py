"""A fake clock for tests of time-dependent code (signatures, waits), moved only by ``sleep``.

>>> clock = FakeClock(1_800_000_000.0)
>>> clock()
1800000000.0
>>> clock.sleep(90)
>>> clock(), clock.slept
(1800000090.0, [90])

Give ``clock.sleep`` to a :class:`~kycbridge.Transport` (its ``sleep`` attribute) and
``clock`` to whatever reads the time (a provider's ``now``): a ``Retry-After: 90`` then
moves the signer's time by 90 seconds without waiting for real time.
"""

from __future__ import annotations

__all__ = ["FakeClock"]


class FakeClock:
    """Seconds since the epoch that move only when :meth:`sleep` is called."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        """The current time, in seconds since the epoch."""
        self.slept: list[float] = []
        """Every duration given to :meth:`sleep`, in order."""

    def __call__(self) -> float:
        """The current time."""
        return self.now

    def __repr__(self) -> str:
        return f"<FakeClock {self.now} slept={self.slept}>"

    def sleep(self, seconds: float) -> None:
        """Record ``seconds`` and move the clock by them, at once."""
        self.slept.append(seconds)
        self.now += seconds
