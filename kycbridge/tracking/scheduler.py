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

Group commit (``group=N``, default 10): a worker asks the provider about up to ``N``
subjects of its claimed batch, then writes their records in one transaction
(:meth:`Store.group <kycbridge.tracking.store.Store.group>`: one durable commit instead of
``N``; :meth:`Store.record_polls <kycbridge.tracking.store.Store.record_polls>`), then fires
their hooks in poll order. A group is written as soon as its oldest answer has waited
``group_wait`` seconds (default 0.1, by the scheduler's clock; checked as each answer
comes), so a hook fires at most that long plus one provider call late; against a provider
slower than that, groups are of two.
A group never outlives its batch's lease: it is written at the end of the batch at the
latest, and on stop before the rest of the claim is released. If its transaction fails,
none of its polls is recorded and no hook fires; the subjects are polled again when their
leases expire, as after a worker's crash. ``group=1`` writes each poll on its own.
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
from .store import Poll, Recorded, Store, Subject

__all__ = ["GROUP", "GROUP_WAIT", "TRANSIENT", "Outcome", "Scheduler", "check_group", "worker_id"]

log = logging.getLogger("kycbridge.tracking")

TRANSIENT: tuple[type[KYCBridgeError], ...] = (ProviderUnavailable, RateLimited)
"""Errors retried with a growing backoff; every other :class:`KYCBridgeError` is permanent."""
MAX_WORKERS = 256
"""Most worker threads one scheduler runs."""
MAX_GROUP = 1000
"""Most polls one group commit writes (a claim leases at most as many subjects)."""
GROUP = 10
"""Polls recorded in one transaction by default (``group``)."""
GROUP_WAIT = 0.1
"""Seconds a group's oldest answer waits for more, by default (``group_wait``)."""
MAX_GROUP_WAIT = 60.0
"""Longest ``group_wait`` accepted."""


def check_group(group: int, group_wait: float) -> None:
    """Raise ``ValueError`` unless ``group`` and ``group_wait`` are in range."""
    if not 1 <= group <= MAX_GROUP:
        raise ValueError(f"group must be between 1 and {MAX_GROUP}")
    if not 0 <= group_wait <= MAX_GROUP_WAIT:  # NaN fails this too
        raise ValueError(f"group_wait must be between 0 and {MAX_GROUP_WAIT:g} seconds")


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


@attrs.frozen
class _Answer:
    """What the provider said about one subject (a report, or an error), not yet recorded."""

    subject: Subject
    now: float
    """When the answer came (the record's time)."""
    report: StatusReport | None = None
    error: str | None = None
    permanent: bool = False


class Scheduler:
    """Polls due subjects of ``store`` through ``bridge``.

    ``clock``: seconds since the epoch (every recorded time comes from it); ``rng``: the
    jitter's source; ``batch``: subjects one claim leases; ``owner``: this process's worker
    id prefix (each thread appends ``/N``); ``group``: polls of a batch recorded in one
    transaction (default 10; 1: each on its own), ``group_wait``: seconds after which a
    group's oldest answer is written without waiting for more (see the module's docstring).
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
        group: int = GROUP,
        group_wait: float = GROUP_WAIT,
    ) -> None:
        check_group(group, group_wait)
        self.store = store
        self.bridge = bridge
        self.policy = policy or Policy()
        self.clock = clock
        self.rng = rng or random.Random()
        self.batch = max(1, batch)
        self.owner = owner or worker_id()
        self.group = group
        self.group_wait = group_wait
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Scheduler owner={self.owner!r}>"

    # -- one subject ----------------------------------------------------------------------
    def poll(self, subject: Subject, owner: str | None = None) -> Outcome:
        """Ask about ``subject`` once and record the answer (or the error).

        Never raises for a provider's answer; the lease held by ``owner`` is released
        either way.
        """
        answer = self._ask(subject)
        outcome = self._write(answer, owner)
        self._fire(answer, outcome)
        return outcome

    def _ask(self, subject: Subject) -> _Answer:
        try:
            query = self.bridge.query(subject.provider, **dict(subject.query))
            # observe=False: no hook fires from the bridge's per-process memory; they fire
            # from what the database recorded (once across every worker).
            report = self.bridge.fetch(subject.provider, query, observe=False)
        except KYCBridgeError as exc:
            permanent = not isinstance(exc, TRANSIENT)
            return _Answer(subject, self.clock(), error=exc.kind, permanent=permanent)
        except Exception as exc:  # a bug in a plugin: never the worker's end
            log.warning("poll of subject %d failed: %s", subject.id, type(exc).__name__)
            return _Answer(subject, self.clock(), error="internal", permanent=True)
        return _Answer(subject, self.clock(), report=report)

    def _write(self, answer: _Answer, owner: str | None) -> Outcome:
        if answer.report is not None:
            return self._record(answer.subject, owner, answer.report, answer.now)
        kind = answer.error or "internal"
        return self._failed(answer.subject, owner, kind, answer.permanent, answer.now)

    def _fire(self, answer: _Answer, outcome: Outcome) -> None:
        if answer.report is not None and outcome.recorded is not None:
            fire(self.bridge, answer.report, outcome.recorded)

    def _failed(
        self, subject: Subject, owner: str | None, kind: str, permanent: bool, now: float
    ) -> Outcome:
        policy, rng = self.policy, self.rng

        def retry(before: Subject) -> float:
            with self._lock:
                return policy.retry_at(before.failures + 1, permanent, now, rng)

        self.store.record_failure(subject.id, kind, now=now, owner=owner, next_check=retry)
        log.info("subject %d: %s", subject.id, kind)
        return Outcome(subject.id, error=kind)

    def _record(
        self, subject: Subject, owner: str | None, report: StatusReport, now: float
    ) -> Outcome:
        poll = self._as_poll(subject, owner, report, now)
        recorded = self.store.record(
            subject.id,
            poll.report,
            now=now,
            owner=owner,
            next_check=poll.next_check,
            expected=subject,
        )
        return Outcome(subject.id, recorded=recorded)

    def _as_poll(
        self, subject: Subject, owner: str | None, report: StatusReport, now: float
    ) -> Poll:
        """The store's view of a poll's answer, with the policy deciding its next check."""
        policy, rng, state = self.policy, self.rng, report.state

        def schedule(before: Subject, changed: bool) -> float | None:
            unchanged = 0 if changed else before.unchanged_polls + 1
            with self._lock:
                return policy.next_check(state, unchanged, now, rng)

        return Poll(
            subject=subject,
            report=report_to_dict(report),
            now=now,
            owner=owner,
            next_check=schedule,
        )

    def _poll_group(self, answers: list[_Answer], owner: str) -> bool:
        """Record ``answers`` in one transaction, then fire their hooks; ``False`` if it failed."""
        try:
            if len(answers) == 1:  # one poll: its own transaction is as short
                outcomes = [self._write(answers[0], owner)]
            else:
                with self.store.group():
                    outcomes = self._write_group(answers, owner)
        except Exception as exc:  # the database went away, or a bug: nothing was written
            log.warning(
                "tracking worker %s: %d poll(s) not recorded (%s); polled again after the lease",
                owner,
                len(answers),
                type(exc).__name__,
            )
            return False
        for answer, outcome in zip(answers, outcomes, strict=True):
            self._fire(answer, outcome)
        return True

    def _write_group(self, answers: list[_Answer], owner: str) -> list[Outcome]:
        """Write a group's answers (in its transaction): the reports in one batch, in order."""
        polls = [
            self._as_poll(a.subject, owner, a.report, a.now)
            for a in answers
            if a.report is not None
        ]
        recorded = iter(self.store.record_polls(polls))
        return [
            Outcome(a.subject.id, recorded=next(recorded))
            if a.report is not None
            else self._write(a, owner)
            for a in answers
        ]

    # -- batches and workers --------------------------------------------------------------
    def poll_due(self, *, owner: str | None = None, stop: threading.Event | None = None) -> int:
        """Claim up to ``batch`` due subjects and poll them; return how many were polled.

        When ``stop`` is set midway, the subjects not yet polled are released at once (after
        the group in hand is written). Polls of a group that failed to commit are not counted.
        """
        owner = owner or self.owner
        claimed = self.store.claim(
            owner, now=self.clock(), lease=self.policy.lease, limit=self.batch
        )
        done = 0
        while done < len(claimed):
            if stop is not None and stop.is_set():
                self.store.release([s.id for s in claimed[done:]], owner)
                break
            if self.group == 1:
                self.poll(claimed[done], owner)
                done += 1
                continue
            answers: list[_Answer] = []
            for subject in claimed[done : done + self.group]:
                if answers and stop is not None and stop.is_set():
                    break  # write what is in hand; the loop then releases the rest
                answers.append(self._ask(subject))
                if answers[-1].now - answers[0].now >= self.group_wait:
                    break  # the oldest answer has waited long enough: write what is in hand
            if not self._poll_group(answers, owner):
                break  # the rest of the claim is left to its lease, as after a crash
            done += len(answers)
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
