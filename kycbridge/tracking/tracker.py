"""The Python API for apps: :class:`Tracker`."""

from __future__ import annotations

import builtins
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ..bridge import Bridge
from ..errors import InvalidQuery
from ..provider import is_secret
from ..report import converter, report_from_dict
from ..states import KYCState
from .policy import Policy
from .scheduler import GROUP, GROUP_WAIT, Scheduler, check_group, fire
from .store import Observation, Recorded, Store, Subject, open_store

__all__ = ["Tracker", "stored_fields"]


def stored_fields(query: Any) -> dict[str, Any]:
    """The fields of a built query that may be stored: every non-secret one that is set.

    Secret fields (a user token) are never stored; at poll time they come from env
    ``KYCBRIDGE_<PROVIDER>_<FIELD>``, as for the CLI.
    """
    if not attrs.has(type(query)):
        raise InvalidQuery("this provider's query is not an attrs class: it cannot be tracked")
    fields: dict[str, Any] = {}
    for field in attrs.fields(type(query)):
        value = getattr(query, field.name)
        if is_secret(field) or value is None:
            continue
        fields[field.name] = converter.unstructure(value)
    return fields


class Tracker:
    """Subjects followed to their outcome, in the database at ``db_url``.

    ``db_url``: see :func:`~kycbridge.tracking.open_store` (``None``: env ``KYCBRIDGE_DB``,
    else the default SQLite file). ``bridge``: the providers and their settings (default: a
    new :class:`~kycbridge.Bridge`); its event hooks fire for recorded transitions only.
    ``clock``: seconds since the epoch, for every recorded time. ``group``, ``group_wait``:
    polls recorded in one transaction by the scheduler, and how long its oldest answer may
    wait for more (see :class:`~kycbridge.tracking.Scheduler`; default 10 and 0.1 s;
    ``group=1``: each poll on its own).
    """

    def __init__(
        self,
        db_url: str | None = None,
        bridge: Bridge | None = None,
        policy: Policy | None = None,
        clock: Callable[[], float] = time.time,
        *,
        store: Store | None = None,
        env: Mapping[str, str] | None = None,
        group: int = GROUP,
        group_wait: float = GROUP_WAIT,
    ) -> None:
        check_group(group, group_wait)  # before opening anything: nothing is left open
        self.store = store if store is not None else open_store(db_url, env=env)
        self.bridge = bridge if bridge is not None else Bridge(env=env)
        self.policy = policy or Policy()
        self.clock = clock
        self.scheduler = Scheduler(
            self.store,
            self.bridge,
            policy=self.policy,
            clock=clock,
            group=group,
            group_wait=group_wait,
        )
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def __repr__(self) -> str:
        return f"<Tracker {self.store.url}>"

    def add(self, provider: str, /, **fields: Any) -> Subject:
        """Track a subject: validate the query (nothing is sent) and store it, due at once.

        Raises :class:`~kycbridge.errors.InvalidQuery` for invalid fields and
        :class:`~kycbridge.tracking.DuplicateSubject` when the subject is already tracked.
        """
        query = self.bridge.query(provider, **fields)
        subject = self.bridge.provider(provider).subject(query)
        return self.store.add(provider, stored_fields(query), subject, now=self.clock())

    def get(self, subject_id: int) -> Subject | None:
        """The tracked subject with this id, or ``None``."""
        return self.store.get(subject_id)

    def find(self, provider: str, subject: str) -> Subject | None:
        """The subject tracked for ``provider`` whose subject is ``subject``, or ``None``.

        ``subject`` is the provider's own id as a report has it (a webhook event's
        ``subject``); it is matched through the store's keyed hash, never stored in clear.
        """
        return self.store.find(provider, subject)

    def list(
        self,
        *,
        state: KYCState | str | None = None,
        provider: str | None = None,
        stale: float | None = None,
        limit: int | None = None,
    ) -> builtins.list[Subject]:
        """Tracked subjects, filtered; ``stale``: not observed for that many seconds."""
        before = None if stale is None else self.clock() - stale
        return self.store.subjects(
            state=None if state is None else KYCState(state),
            provider=provider,
            observed_before=before,
            limit=limit,
        )

    def history(self, subject_id: int) -> builtins.list[Observation]:
        """A subject's recorded changes, oldest first."""
        return self.store.history(subject_id)

    def forget(self, subject_id: int) -> bool:
        """Erase a subject's personal data (see ``docs/tracking.md``); ``False`` if unknown."""
        return self.store.forget(subject_id)

    def record(
        self,
        subject_id: int,
        report: Mapping[str, Any],
        *,
        source: str = "manual",
        event_id: str | None = None,
    ) -> Recorded:
        """Record a report's JSON form seen elsewhere (a webhook: give its ``event_id``).

        The hooks fire as for a poll; an event id already recorded changes nothing.
        """
        recorded = self.store.record(
            subject_id, report, now=self.clock(), source=source, event_id=event_id
        )
        if recorded.observation is not None or recorded.transition:
            fire(self.bridge, report_from_dict(dict(report)), recorded)
        return recorded

    def run_once(self, workers: int = 1) -> int:
        """Poll every subject due now, in this thread (or ``workers`` threads); return polls."""
        return self.scheduler.run(workers, once=True)

    def start(self, workers: int = 1, *, idle: float = 1.0) -> None:
        """Run the scheduler in a background thread of the app until :meth:`stop`."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self.scheduler.run,
            args=(workers,),
            kwargs={"stop_event": self._stop, "idle": idle},
            name="kycbridge-tracker",
            daemon=True,
        )
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the background scheduler: work in hand finishes, other claims are released."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def close(self) -> None:
        """Stop, then close the database."""
        self.stop()
        self.store.close()

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
