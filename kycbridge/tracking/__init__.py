"""Tracking: every subject followed to its outcome, in a database that outlives the process.

>>> from kycbridge.tracking import Tracker                       # doctest: +SKIP
>>> tracker = Tracker("sqlite:///kyc.sqlite3")                     # doctest: +SKIP
>>> subject = tracker.add("starkfi", email="jane@example.com")     # doctest: +SKIP
>>> tracker.run_once()                                            # doctest: +SKIP

See ``docs/tracking.md``. The backends' drivers (psycopg, redis) are imported only when a
``postgresql://`` or ``redis://`` URL is used.
"""

from .policy import DEFAULT_INTERVALS, Policy
from .scheduler import Outcome, Scheduler
from .store import (
    DuplicateSubject,
    Observation,
    Poll,
    Recorded,
    Store,
    StoreUnavailable,
    Subject,
    default_sqlite_path,
    open_store,
)
from .tracker import Tracker, stored_fields

__all__ = [
    "DEFAULT_INTERVALS",
    "DuplicateSubject",
    "Observation",
    "Outcome",
    "Policy",
    "Poll",
    "Recorded",
    "Scheduler",
    "Store",
    "StoreUnavailable",
    "Subject",
    "Tracker",
    "default_sqlite_path",
    "open_store",
    "stored_fields",
]
