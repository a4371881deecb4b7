"""Watching one subject's verification until it reaches an outcome: :func:`watch`.

>>> for report in watch(bridge, "transak", {"work_flow_run_id": "wfr-1"},  # doctest: +SKIP
...                     until={"submitted"}, timeout=600):
...     print(report.state, report.raw_status)

A :class:`Watcher` polls through :meth:`Bridge.fetch <kycbridge.Bridge.fetch>` (so the
provider's rate limit and the event hooks apply) and yields a report each time the state, the
raw status or the blocklist flag changes, or the bridge flags an unexpected transition
(:meth:`Bridge.observe <kycbridge.Bridge.observe>` judges anomalies, for the watch and the
``state_changed`` hook alike). It stops when the state is in ``until`` (final
states by default), raises :class:`WatchTimeout` when ``timeout`` passes first, and ends
quietly when its ``stop`` event is set.

Polling policy: the first check is immediate; then the wait grows exponentially from
``interval`` to ``max_interval`` (doubling after each poll that saw no change, back to
``interval`` after a change), with jitter. A provider's ``Retry-After`` is a floor on the next
wait, and the bridge's rate limiter spaces calls whatever the watch wants. Transient errors
(:class:`~kycbridge.errors.ProviderUnavailable`, :class:`~kycbridge.errors.RateLimited`) are
logged, counted and retried within the timeout; they never produce a state. Every other
:class:`~kycbridge.errors.KYCBridgeError` ends the watch at once by propagating.

The timeout covers the requests too: each poll gets the time the watch has left as its
deadline (:meth:`Bridge.fetch <kycbridge.Bridge.fetch>`'s ``deadline``), so a provider that
answers slowly, or drips its answer, is cut at the watch's deadline (a last check made at the
deadline itself gets :data:`LAST_CHECK` seconds).

The ``kycbridge watch`` command is :mod:`kycbridge.cli.watch`.
"""

from __future__ import annotations

import collections
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from .bridge import Bridge
from .errors import (
    InvalidQuery,
    KYCBridgeError,
    ProviderUnavailable,
    RateLimited,
    WatchTimeout,
)
from .redact import mask
from .report import StatusReport
from .states import FINAL_STATES, KYCState, StateMachine
from .transport import Transport

__all__ = [
    "DEFAULT_INTERVAL",
    "DEFAULT_JITTER",
    "DEFAULT_MAX_INTERVAL",
    "LAST_CHECK",
    "TRANSIENT_ERRORS",
    "WatchTimeout",
    "Watcher",
    "parse_states",
    "watch",
]

log = logging.getLogger("kycbridge.watch")

DEFAULT_INTERVAL = 2.0
"""Seconds before the second poll, unless the provider sets ``watch_interval``."""

DEFAULT_MAX_INTERVAL = 30.0
"""Longest wait between polls, unless the provider sets ``watch_max_interval``."""

DEFAULT_JITTER = 0.2
"""Each wait is drawn from ``[(1 - jitter) * w, w]`` so that many watchers do not align."""

TRANSIENT_ERRORS: tuple[type[KYCBridgeError], ...] = (ProviderUnavailable, RateLimited)
"""Errors a watch retries (within its timeout). Any other error ends the watch."""

_KEEP_ERRORS = 100

LAST_CHECK = 1.0
"""Seconds a check made at the watch's deadline may take: a watch ends at most this long
after its timeout (every other check is cut at the deadline itself)."""


def parse_states(values: Iterable[KYCState | str] | str) -> frozenset[KYCState]:
    """Turn state names (or states) into a non-empty set; raise :class:`InvalidQuery` if bad.

    A single string may name several states separated by commas: ``"submitted,approved"``.
    """
    if isinstance(values, str):
        values = values.split(",")
    states: set[KYCState] = set()
    for value in values:
        try:
            states.add(KYCState(str(value).strip().lower()))
        except ValueError:
            known = ", ".join(s.value for s in KYCState)
            raise InvalidQuery(f"unknown state {str(value)!r} (states: {known})") from None
    if not states:
        raise InvalidQuery("at least one target state is needed")
    return frozenset(states)


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not value > 0:
        raise InvalidQuery(f"{name} must be a positive number of seconds")
    return value


class Watcher:
    """Polls one subject of one provider; iterate it for the reports that show a change.

    ``query``: the query fields (a mapping, validated with :meth:`Bridge.query`) or an already
    built query object. ``until``: target states (default: the final ones). ``interval`` /
    ``max_interval``: the backoff's first and longest wait, in seconds (defaults: the
    provider's ``watch_interval`` / ``watch_max_interval`` attributes, else
    :data:`DEFAULT_INTERVAL` / :data:`DEFAULT_MAX_INTERVAL`). ``timeout``: seconds before
    :class:`WatchTimeout` (``None``: no limit), in-flight requests included. ``stop``: set
    it (from any thread) to end the iteration quietly, also during a wait. ``settings`` /
    ``transport``: passed to :meth:`Bridge.fetch`. ``on_error``: called with each transient
    error before it is retried. ``clock``, ``sleep`` and ``rng`` are for tests.

    A watcher is iterated once. While and after it runs: :attr:`polls`, :attr:`last`,
    :attr:`reached`, :attr:`machine` (this watch's transitions), :attr:`anomalies`,
    :attr:`errors` / :attr:`error_count` (transient errors) and :attr:`waits`.
    """

    def __init__(
        self,
        bridge: Bridge,
        provider: str,
        query: Mapping[str, Any] | Any,
        *,
        until: Iterable[KYCState | str] | str = FINAL_STATES,
        interval: float | None = None,
        max_interval: float | None = None,
        timeout: float | None = None,
        stop: threading.Event | None = None,
        settings: Any = None,
        transport: Transport | None = None,
        on_error: Callable[[KYCBridgeError], None] | None = None,
        jitter: float = DEFAULT_JITTER,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.bridge = bridge
        self.provider = provider
        provider_obj = bridge.provider(provider)
        self.query: Any = bridge.query(provider, **query) if isinstance(query, Mapping) else query
        self.subject: str | None = provider_obj.subject(self.query)
        self.until: frozenset[KYCState] = parse_states(until)
        if interval is None:
            interval = provider_obj.watch_interval or DEFAULT_INTERVAL
        if max_interval is None:
            max_interval = provider_obj.watch_max_interval
            max_interval = max(max_interval or DEFAULT_MAX_INTERVAL, interval)
        self.interval = _positive("interval", interval)
        self.max_interval = _positive("max_interval", max_interval)
        if self.max_interval < self.interval:
            raise InvalidQuery("max_interval must not be shorter than interval")
        self.timeout = None if timeout is None else _positive("timeout", timeout)
        if not 0 <= jitter < 1:
            raise InvalidQuery("jitter must be in [0, 1)")
        self.jitter = jitter
        self.stop = stop if stop is not None else threading.Event()
        self.settings = settings
        self.transport = transport
        self.on_error = on_error
        self._clock = clock
        self._sleep: Callable[[float], object] = sleep if sleep is not None else self.stop.wait
        self._rng = rng
        self._started = False
        self._failing: KYCBridgeError | None = None
        self._deadline: float | None = None

        self.polls = 0
        """Calls made so far (failed ones included)."""
        self.last: StatusReport | None = None
        """The last report observed (yielded or not)."""
        self.reached = False
        """Whether a target state was reached."""
        self.machine = StateMachine()
        """This watch's own state machine: its history is the transitions this watch saw."""
        self.anomalies: list[StatusReport] = []
        """Yielded reports flagged ``anomaly`` by the bridge (as the ``state_changed`` hook)."""
        self.errors: collections.deque[KYCBridgeError] = collections.deque(maxlen=_KEEP_ERRORS)
        """The last transient errors retried (at most 100 kept)."""
        self.error_count = 0
        """How many transient errors were retried in all."""
        self.waits: list[float] = []
        """The waits scheduled between polls, in seconds (Retry-After included)."""

    def __repr__(self) -> str:
        state = self.last.state.value if self.last else None
        return (
            f"<Watcher {self.provider} {mask(self.subject)!r} state={state} "
            f"polls={self.polls} until={sorted(s.value for s in self.until)}>"
        )

    def __iter__(self) -> Iterator[StatusReport]:
        if self._started:
            raise RuntimeError("a Watcher can be iterated only once")
        self._started = True
        return self._run()

    # -- the loop ------------------------------------------------------------------------
    def _run(self) -> Iterator[StatusReport]:
        deadline = None if self.timeout is None else self._clock() + self.timeout
        self._deadline = deadline
        unchanged = 0  # polls since the last change: the backoff's exponent
        while not self.stop.is_set():
            floor = 0.0
            try:
                report = self._poll()
            except TRANSIENT_ERRORS as exc:
                self._transient(exc)
                floor = exc.retry_after or 0.0
                unchanged += 1
            else:
                self._failing = None
                if report.anomaly or _changed(self.last, report):
                    self.last = report = self._record(report)
                    yield report
                    unchanged = 0
                else:
                    self.last = report
                    unchanged += 1
                if report.state in self.until:
                    self.reached = True
                    return
            wait = max(self._backoff(unchanged), floor)
            if deadline is not None:
                remaining = deadline - self._clock()
                if remaining <= 0 or floor > remaining:
                    raise self._timeout()
                wait = min(wait, remaining)  # one last check at the deadline
            self.waits.append(wait)
            self._sleep(wait)

    def _poll(self) -> StatusReport:
        self.polls += 1
        until = None
        if self._deadline is not None:
            # the time left on this watch's clock, as a deadline on the transport's clock;
            # a check scheduled at the deadline itself still gets LAST_CHECK seconds
            remaining = max(self._deadline - self._clock(), LAST_CHECK)
            until = time.monotonic() + remaining
        return self.bridge.fetch(
            self.provider,
            self.query,
            settings=self.settings,
            transport=self.transport,
            deadline=until,
        )

    def _backoff(self, unchanged: int) -> float:
        base = min(self.max_interval, self.interval * 2.0 ** min(unchanged, 62))
        return base * (1.0 - self.jitter * self._rng())

    def _record(self, report: StatusReport) -> StatusReport:
        # The bridge judged (and logged) the anomaly in Bridge.observe, the same judgement
        # the state_changed hook got: the watch only lists it.
        self.machine.observe(report.state)
        if report.anomaly:
            self.anomalies.append(report)
        return report

    def _transient(self, exc: KYCBridgeError) -> None:
        self._failing = exc
        self.error_count += 1
        self.errors.append(exc)
        log.warning("%s %s: %s; will retry", self.provider, mask(self.subject), exc)
        if self.on_error is not None:
            self.on_error(exc)

    def _timeout(self) -> WatchTimeout:
        targets = "/".join(sorted(s.value for s in self.until))
        last = self.last.state.value if self.last else "none"
        failing = f", the last one failed: {self._failing.kind}" if self._failing else ""
        assert self.timeout is not None
        return WatchTimeout(
            f"no {targets} within {self.timeout:g} s "
            f"(last state: {last}; {self.polls} polls{failing})",
            provider=self.provider,
            report=self.last,
            last_error=self._failing,
            polls=self.polls,
        )


def _changed(previous: StatusReport | None, report: StatusReport) -> bool:
    if previous is None:
        return True
    return (previous.state, previous.raw_status, previous.blocklisted) != (
        report.state,
        report.raw_status,
        report.blocklisted,
    )


def watch(
    bridge: Bridge,
    provider: str,
    query: Mapping[str, Any] | Any,
    **options: Any,
) -> Iterator[StatusReport]:
    """Poll ``provider`` about ``query`` until a target state; yield each changed report.

    ``options`` are :class:`Watcher`'s keyword arguments (``until``, ``interval``,
    ``max_interval``, ``timeout``, ``stop``, ``settings``, ...). Raises :class:`WatchTimeout`
    when ``timeout`` passes first, and any non-transient
    :class:`~kycbridge.errors.KYCBridgeError` at once. Invalid arguments raise
    :class:`~kycbridge.errors.InvalidQuery` here, before any I/O.
    """
    return iter(Watcher(bridge, provider, query, **options))
