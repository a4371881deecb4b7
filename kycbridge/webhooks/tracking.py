"""Webhook events into a :class:`~kycbridge.tracking.Tracker`: recorded once, next check moved.

- :class:`TrackerSink` is an ``on_event`` for :class:`~kycbridge.webhooks.WebhookApp`: each
  accepted status event whose ``(provider, subject)`` is tracked (:meth:`Tracker.find`) is
  recorded as an observation with source ``webhook`` and its ``event_id`` (the database
  records an event id once per provider, whatever retries or restarts deliver it again), and
  the subject's next poll is rescheduled by the tracker's policy from the new state (a final
  state is not polled again). An event about an untracked subject is counted and skipped.
- :class:`TrackerSeenStore` is a :class:`~kycbridge.webhooks.SeenStore` remembering event ids
  in memory, warmed at start from the webhook observations the database recorded in the last
  :attr:`~TrackerSeenStore.window` seconds: a provider's retry after a receiver restart is
  answered ``duplicate``. The database's unique ``(provider, event_id)`` stays the final guard.

The app has already called :meth:`Bridge.observe <kycbridge.Bridge.observe>` (the hooks have
fired); recording does not fire them a second time. Imported only by ``kycbridge webhooks
serve --db`` and apps that use it: it needs nothing beyond the tracking module.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..report import report_to_dict
from .app import MemorySeenStore
from .handler import WebhookEvent

if TYPE_CHECKING:
    from ..tracking import Tracker
    from ..tracking.store import Recorded, Subject

__all__ = ["TrackerSeenStore", "TrackerSink"]


class TrackerSink:
    """Records accepted status events into ``tracker`` (see the module docstring).

    ``then``: called with each event after it is recorded (printing, a queue). ``clock``:
    Unix seconds (default: the tracker's).
    """

    def __init__(
        self,
        tracker: Tracker,
        *,
        then: Callable[[WebhookEvent], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.tracker = tracker
        self.then = then
        self.clock = clock or tracker.clock
        self.recorded = 0
        """Events written to the history."""
        self.untracked = 0
        """Status events about subjects the tracker does not follow (skipped)."""
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<TrackerSink recorded={self.recorded} untracked={self.untracked}>"

    def __call__(self, event: WebhookEvent) -> None:
        """Record one event (the ``on_event`` of a :class:`~kycbridge.webhooks.WebhookApp`)."""
        if event.report is not None and event.subject is not None:
            self.record(event)
        if self.then is not None:
            self.then(event)

    def record(self, event: WebhookEvent) -> Recorded | None:
        """Record ``event``'s report for its tracked subject; ``None`` when untracked."""
        assert event.report is not None and event.subject is not None
        subject = self.tracker.find(event.provider, event.subject)
        if subject is None:
            with self._lock:
                self.untracked += 1
            return None
        now = self.clock()
        policy, state = self.tracker.policy, event.report.state

        def schedule(before: Subject, changed: bool) -> float | None:
            # a webhook is an observation: the next poll follows from it, as after a poll
            unchanged = 0 if changed else before.unchanged_polls + 1
            return policy.next_check(state, unchanged, now)

        recorded = self.tracker.store.record(
            subject.id,
            report_to_dict(event.report),
            now=now,
            source="webhook",
            event_id=event.event_id,
            next_check=schedule,
        )
        if recorded.observation is not None:
            with self._lock:
                self.recorded += 1
        return recorded


class TrackerSeenStore(MemorySeenStore):
    """A :class:`MemorySeenStore` warmed from the tracker's recorded webhook event ids.

    ``window``: how far back (seconds) to read at start (default 7 days: providers retry for
    hours to days). Subjects' last applied times are not persisted: after a restart, an
    out-of-order event older than one applied before the restart is applied (and recorded
    with its anomaly judged by the tracker).
    """

    def __init__(
        self,
        tracker: Tracker,
        *,
        window: float = 7 * 86400.0,
        max_events: int = 100_000,
        max_subjects: int = 100_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(max_events=max_events, max_subjects=max_subjects)
        self.window = window
        self.loaded = 0
        """Event ids read from the database at start."""
        for observation in tracker.store.observations(since=clock() - window):
            if observation.source == "webhook" and observation.event_id is not None:
                if self.claim(observation.provider, observation.event_id):
                    self.loaded += 1

    def __repr__(self) -> str:
        return f"<TrackerSeenStore {len(self)} events, {self.loaded} from the database>"
