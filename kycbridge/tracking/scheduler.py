"""Polling tracked subjects when they are due: :class:`Scheduler`.

A worker claims due subjects with a lease, asks the provider through a
:class:`~kycbridge.Bridge` (its rate limiter included), then writes the observation, the new
schedule and the lease's release in one transaction. Errors never stop a worker: transient
ones (:class:`~kycbridge.ProviderUnavailable`, :class:`~kycbridge.RateLimited`) back off and
count failures, permanent ones are kept as the subject's last error and retried rarely. A
worker that dies keeps its leases until they expire; then any other worker takes them.

The bridge's event hooks fire from here, after the write commits: ``status_observed`` for
every poll, ``state_changed`` only for a transition this worker recorded (exactly once
across every worker and process sharing the database).
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable

import attrs

from ..bridge import Bridge
from ..errors import KYCBridgeError, ProviderUnavailable, RateLimited
from ..report import StatusReport, report_to_dict
from ..states import KYCState
from .policy import Policy
from .store import Recorded, Store, Subject

__all__ = ["TRANSIENT", "Outcome", "Scheduler", "worker_id"]

log = logging.getLogger("kycbridge.tracking")

TRANSIENT: tuple[type[KYCBridgeError], ...] = (ProviderUnavailable, RateLimited)
"""Errors retried with a growing backoff; every other :class:`KYCBridgeError` is permanent."""
MAX_WORKERS = 256
"""Most worker threads one scheduler runs."""


def worker_id() -> str:
    """``host:pid:random``: who holds a lease (visible in ``lease_owner``)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@attrs.frozen
class Outcome:
    """What one poll did: a recorded report, or an error kind."""

    subject_id: int
    recorded: Recorded | None = None
    error: str | None = None
    """The error's ``kind`` when the poll failed."""


class Scheduler:
    """Polls due subjects of ``store`` through ``bridge``.

    ``clock``: seconds since the epoch (every recorded time comes from it); ``rng``: the
    jitter's source; ``batch``: subjects one claim leases; ``owner``: this process's worker
    id prefix (each thread appends ``/N``).
    """

    def __init__(
        self,
        store: Store,
        bridge: Bridge,
        *,
        policy: Policy | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        batch: int = 10,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.bridge = bridge
        self.policy = policy or Policy()
        self.clock = clock
        self.rng = rng or random.Random()
        self.batch = max(1, batch)
        self.owner = owner or worker_id()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Scheduler owner={self.owner!r}>"

    # -- one subject ----------------------------------------------------------------------
    def poll(self, subject: Subject, owner: str | None = None) -> Outcome:
        """Ask about ``subject`` once and record the answer (or the error).

        Never raises for a provider's answer; the lease held by ``owner`` is released
        either way.
        """
        try:
            query = self.bridge.query(subject.provider, **dict(subject.query))
            # observe=False: no hook fires from the bridge's per-process memory; they fire
            # below, from what the database recorded (once across every worker).
            report = self.bridge.fetch(subject.provider, query, observe=False)
        except KYCBridgeError as exc:
            return self._failed(subject, owner, exc.kind, not isinstance(exc, TRANSIENT))
        except Exception as exc:  # a bug in a plugin: never the worker's end
            log.warning("poll of subject %d failed: %s", subject.id, type(exc).__name__)
            return self._failed(subject, owner, "internal", True)
        return self._record(subject, owner, report)

    def _failed(self, subject: Subject, owner: str | None, kind: str, permanent: bool) -> Outcome:
        now = self.clock()
        policy, rng = self.policy, self.rng

        def retry(before: Subject) -> float:
            with self._lock:
                return policy.retry_at(before.failures + 1, permanent, now, rng)

        self.store.record_failure(subject.id, kind, now=now, owner=owner, next_check=retry)
        log.info("subject %d: %s", subject.id, kind)
        return Outcome(subject.id, error=kind)

    def _record(self, subject: Subject, owner: str | None, report: StatusReport) -> Outcome:
        now = self.clock()
        policy, rng, state = self.policy, self.rng, report.state

        def schedule(before: Subject, changed: bool) -> float | None:
            unchanged = 0 if changed else before.unchanged_polls + 1
            with self._lock:
                return policy.next_check(state, unchanged, now, rng)

        recorded = self.store.record(
            subject.id,
            report_to_dict(report),
            now=now,
            owner=owner,
            next_check=schedule,
            expected=subject,
        )
        fire(self.bridge, report, recorded)
        return Outcome(subject.id, recorded=recorded)

    # -- batches and workers --------------------------------------------------------------
    def poll_due(self, *, owner: str | None = None, stop: threading.Event | None = None) -> int:
        """Claim up to ``batch`` due subjects and poll them; return how many were polled.

        When ``stop`` is set midway, the subjects not yet polled are released at once.
        """
        owner = owner or self.owner
        claimed = self.store.claim(
            owner, now=self.clock(), lease=self.policy.lease, limit=self.batch
        )
        done = 0
        for index, subject in enumerate(claimed):
            if stop is not None and stop.is_set():
                self.store.release([s.id for s in claimed[index:]], owner)
                break
            self.poll(subject, owner)
            done += 1
        return done

    def run(
        self,
        workers: int = 1,
        *,
        once: bool = False,
        stop_event: threading.Event | None = None,
        idle: float = 1.0,
    ) -> int:
        """Poll with ``workers`` threads; return how many polls were made.

        ``once``: stop when nothing is due any more. Otherwise run until ``stop_event`` is
        set, waiting ``idle`` seconds whenever nothing is due. Setting ``stop_event`` lets
        each thread finish the subject in hand and release the rest of its claim.
        """
        if not 1 <= workers <= MAX_WORKERS:
            raise ValueError(f"workers must be between 1 and {MAX_WORKERS}")
        stop = stop_event or threading.Event()
        total = [0] * workers

        def work(n: int) -> None:
            owner = f"{self.owner}/{n}"
            while not stop.is_set():
                try:
                    polled = self.poll_due(owner=owner, stop=stop)
                except KYCBridgeError as exc:  # the database went away: wait, try again
                    log.warning("tracking worker %s: %s", owner, exc.kind)
                    polled = 0
                    if once:
                        return
                total[n] += polled
                if polled == 0:
                    if once:
                        return
                    stop.wait(idle)

        if workers == 1:
            work(0)
        else:
            threads = [
                threading.Thread(target=work, args=(n,), name=f"kycbridge-track-{n}", daemon=True)
                for n in range(workers)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        return sum(total)


def fire(bridge: Bridge, report: StatusReport, recorded: Recorded) -> None:
    """Call the bridge's event hooks for a recorded observation (after its commit)."""
    hook = bridge.plugin_manager.hook
    anomaly = recorded.observation.anomaly if recorded.observation is not None else False
    if anomaly != report.anomaly:
        report = attrs.evolve(report, anomaly=anomaly)
    if hook.status_observed.get_hookimpls():
        hook.status_observed(report=report)
    if recorded.transition and hook.state_changed.get_hookimpls():
        observation = recorded.observation
        old: KYCState | None = observation.old_state if observation is not None else None
        hook.state_changed(old=old, new=report.state, report=report, anomaly=anomaly)
