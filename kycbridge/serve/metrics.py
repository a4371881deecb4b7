"""What the service counts: :class:`Monitor` (Prometheus metrics and each provider's health).

Each :class:`Monitor` has its own :class:`prometheus_client.CollectorRegistry`, so two apps
in one process never share counters. Metric names:

=====================================================  =========================================
``kycbridge_provider_calls_total{provider,outcome}``   calls (API ``status`` and scheduler polls)
                                                       by outcome: ``ok`` or the error's ``kind``
``kycbridge_provider_call_seconds{provider}``          latency histogram of those calls
``kycbridge_rate_limit_wait_seconds{provider}``        time spent waiting for the rate limiter
``kycbridge_webhook_deliveries_total{provider,verdict}``  deliveries by verdict (``accepted``,
                                                       ``duplicate``, ``stale``, ``acknowledged``
                                                       or the HTTP status of a refusal)
``kycbridge_http_requests_total{route,status}``        requests the service answered
``kycbridge_tracked_subjects{provider,state}``         gauge read from the database on scrape
=====================================================  =========================================

No label ever holds a subject, a query value or a path with an id in it.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import attrs
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..ratelimit import Limiter, LimiterFactory
from ..tracking.scheduler import Scheduler, _Answer
from ..tracking.store import Store, Subject

__all__ = ["Monitor", "ObservedLimiter", "ObservedScheduler", "ProviderHealth"]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@attrs.define
class ProviderHealth:
    """What the service last saw of one provider."""

    last_ok: float | None = None
    """When a call last succeeded (epoch seconds)."""
    last_error: str | None = None
    """The ``kind`` of the last failed call."""
    last_error_at: float | None = None
    last_wait: float | None = None
    """Seconds the last call waited for the rate limiter."""
    last_wait_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (times as ISO 8601 UTC)."""
        return {
            "last_ok": _iso(self.last_ok),
            "last_error": self.last_error,
            "last_error_at": _iso(self.last_error_at),
            "rate_limit_wait": self.last_wait,
            "rate_limit_wait_at": _iso(self.last_wait_at),
        }


def _iso(value: float | None) -> str | None:
    if value is None:
        return None
    when = dt.datetime.fromtimestamp(value, dt.timezone.utc)
    return when.isoformat().replace("+00:00", "Z")


class _SubjectsCollector(Collector):
    """``kycbridge_tracked_subjects``, counted in the database at each scrape."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "kycbridge_tracked_subjects",
            "Tracked subjects by provider and state (read at scrape time)",
            labels=["provider", "state"],
        )
        try:
            counts = self.store.counts()
        except Exception:  # the database is away: /healthz says so; no gauge this scrape
            return
        for provider, state, count in counts:
            gauge.add_metric([provider, "unobserved" if state is None else state.value], count)
        yield gauge


class Monitor:
    """Counters, histograms and per-provider health for one service."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.registry = CollectorRegistry(auto_describe=True)
        self.calls = Counter(
            "kycbridge_provider_calls",
            "Provider calls by outcome (ok or the error kind)",
            ["provider", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kycbridge_provider_call_seconds",
            "Provider call latency, rate-limit wait included",
            ["provider"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.waits = Histogram(
            "kycbridge_rate_limit_wait_seconds",
            "Seconds calls waited for the provider's rate limiter",
            ["provider"],
            buckets=(0.0, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0),
            registry=self.registry,
        )
        self.webhooks = Counter(
            "kycbridge_webhook_deliveries",
            "Webhook deliveries by verdict",
            ["provider", "verdict"],
            registry=self.registry,
        )
        self.requests = Counter(
            "kycbridge_http_requests",
            "Requests answered by the service, by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.registry.register(_SubjectsCollector(store))
        self._health: dict[str, ProviderHealth] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "<Monitor>"

    def _entry(self, provider: str) -> ProviderHealth:
        entry = self._health.get(provider)
        if entry is None:
            entry = self._health[provider] = ProviderHealth()
        return entry

    def call(self, provider: str, seconds: float, error: str | None) -> None:
        """Count one provider call that took ``seconds`` and failed with ``error`` (a kind)."""
        self.calls.labels(provider, error or "ok").inc()
        self.latency.labels(provider).observe(max(0.0, seconds))
        now = self.clock()
        with self._lock:
            entry = self._entry(provider)
            if error is None:
                entry.last_ok = now
            else:
                entry.last_error, entry.last_error_at = error, now

    def waited(self, provider: str, seconds: float) -> None:
        """Count one rate-limiter wait."""
        self.waits.labels(provider).observe(max(0.0, seconds))
        with self._lock:
            entry = self._entry(provider)
            entry.last_wait, entry.last_wait_at = seconds, self.clock()

    def health(self, provider: str) -> ProviderHealth:
        """A copy of what was last seen of ``provider``."""
        with self._lock:
            return attrs.evolve(self._entry(provider))

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return bytes(generate_latest(self.registry))


class ObservedLimiter:
    """A :class:`~kycbridge.ratelimit.Limiter` that reports each wait to a :class:`Monitor`."""

    def __init__(self, inner: Limiter, provider: str, monitor: Monitor) -> None:
        self.inner = inner
        self.provider = provider
        self.monitor = monitor

    def __repr__(self) -> str:
        return f"ObservedLimiter({self.inner!r})"

    def acquire(self, max_wait: float | None = None) -> float:
        """Wait for the slot (see :meth:`Limiter.acquire <kycbridge.ratelimit.Limiter>`)."""
        waited = self.inner.acquire(max_wait)
        self.monitor.waited(self.provider, waited)
        return waited

    def defer(self, seconds: float) -> None:
        """Push every caller back (see the inner limiter)."""
        self.inner.defer(seconds)


def observed_factory(factory: LimiterFactory, monitor: Monitor) -> LimiterFactory:
    """A limiter factory whose limiters report their waits to ``monitor``."""

    def make(provider: str, rate: float) -> Limiter:
        return ObservedLimiter(factory(provider, rate), provider, monitor)

    make.inner = factory  # type: ignore[attr-defined]
    return make


class ObservedScheduler(Scheduler):
    """A :class:`~kycbridge.tracking.Scheduler` that reports each provider call to a monitor."""

    monitor: Monitor

    @classmethod
    def replacing(cls, scheduler: Scheduler, monitor: Monitor) -> ObservedScheduler:
        """The same scheduler (store, bridge, policy, clock, owner, group...), observed."""
        observed = cls(
            scheduler.store,
            scheduler.bridge,
            policy=scheduler.policy,
            clock=scheduler.clock,
            rng=scheduler.rng,
            batch=scheduler.batch,
            owner=scheduler.owner,
            group=scheduler.group,
            group_wait=scheduler.group_wait,
        )
        observed.monitor = monitor
        return observed

    def _ask(self, subject: Subject) -> _Answer:
        """Ask as the scheduler does (one poll, alone or in a group), then count the call."""
        start = time.monotonic()
        answer = super()._ask(subject)
        self.monitor.call(subject.provider, time.monotonic() - start, answer.error)
        return answer
