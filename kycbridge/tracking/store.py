"""What a tracking store is: the :class:`Store` protocol, its records, and :func:`open_store`.

A store keeps *tracked subjects* (one row each: the query needed to ask again, the last state
observed, the schedule, the lease) and an append-only *history* of observations. Two backends
implement it, chosen by URL: SQLite (``sqlite:///path``, or a plain path) and PostgreSQL
(``postgresql://...``, with the ``postgres`` extra installed).

Times are UTC: records carry aware :class:`datetime.datetime` objects, the database keeps
seconds since the epoch (``REAL`` / ``double precision``), and every time is given by the
caller (``now``), so a test's clock decides what is recorded.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

from ..errors import InvalidQuery, KYCBridgeError
from ..redact import mask
from ..states import KYCState

__all__ = [
    "SOURCES",
    "DuplicateSubject",
    "NextCheck",
    "Observation",
    "Poll",
    "Recorded",
    "Store",
    "StoreUnavailable",
    "Subject",
    "default_sqlite_path",
    "from_epoch",
    "open_store",
    "redact_url",
    "to_epoch",
]

SOURCES = ("poll", "webhook", "manual")
"""Where an observation came from."""

FORGOTTEN = "forgotten"
"""The masked subject of a forgotten subject."""


class DuplicateSubject(InvalidQuery):
    """``add`` was asked to track a subject that this database already tracks."""

    kind = "duplicate"

    def __init__(self, message: str, *, provider: str | None = None, existing: int) -> None:
        super().__init__(message, provider=provider)
        self.existing = existing
        """The id of the subject already tracked."""


class StoreUnavailable(KYCBridgeError):
    """The tracking database cannot be reached."""

    exit_code = 5
    kind = "store_unavailable"


def to_epoch(value: dt.datetime) -> float:
    """Seconds since the epoch of an aware datetime."""
    return value.timestamp()


def from_epoch(value: float | None) -> dt.datetime | None:
    """The UTC datetime of ``value`` seconds since the epoch (``None`` stays ``None``)."""
    if value is None:
        return None
    return dt.datetime.fromtimestamp(value, dt.timezone.utc)


def _state(value: Any) -> KYCState | None:
    return None if value is None else KYCState(value)


@attrs.frozen(kw_only=True)
class Subject:
    """One tracked subject, as stored. ``query`` (personal data) is left out of the repr."""

    id: int
    provider: str
    query: Mapping[str, Any] = attrs.field(repr=False)
    """The non-secret query fields needed to ask again (``{}`` once forgotten)."""
    subject_masked: str | None
    """Whom it is about, masked (``"forgotten"`` once forgotten)."""
    state: KYCState | None = attrs.field(converter=_state)
    """The last state observed, ``None`` before the first observation."""
    raw_status: str | None = None
    final: bool = False
    anomaly: bool = False
    """The last recorded transition was unexpected."""
    blocklisted: bool = False
    first_seen: dt.datetime
    last_observed: dt.datetime | None = None
    last_changed: dt.datetime | None = None
    next_check: dt.datetime | None = None
    """When the scheduler polls it next; ``None``: never again (final, or forgotten)."""
    failures: int = 0
    """Consecutive failed polls."""
    last_error: str | None = None
    """The kind of the last error (``unavailable``, ``not_found``...), ``None`` after a success."""
    unchanged_polls: int = 0
    """Consecutive polls that observed no change (drives the backoff)."""
    lease_owner: str | None = None
    lease_expires: dt.datetime | None = None
    forgotten: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``track list --json``): no query, times as ISO 8601."""
        return {
            "id": self.id,
            "provider": self.provider,
            "subject": self.subject_masked,
            "state": None if self.state is None else self.state.value,
            "raw_status": self.raw_status,
            "final": self.final,
            "anomaly": self.anomaly,
            "blocklisted": self.blocklisted,
            "first_seen": _iso(self.first_seen),
            "last_observed": _iso(self.last_observed),
            "last_changed": _iso(self.last_changed),
            "next_check": _iso(self.next_check),
            "failures": self.failures,
            "last_error": self.last_error,
            "forgotten": self.forgotten,
        }


@attrs.frozen(kw_only=True)
class Observation:
    """One entry of a subject's history: a change of what the provider said."""

    id: int
    subject_id: int
    provider: str
    at: dt.datetime
    source: str
    """``poll``, ``webhook`` or ``manual``."""
    old_state: KYCState | None = attrs.field(converter=_state)
    new_state: KYCState = attrs.field(converter=KYCState)
    raw_status: str | None = None
    anomaly: bool = False
    blocklisted: bool = False
    event_id: str | None = None
    report: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    """The report's JSON form (:func:`kycbridge.report_to_dict`); stripped once forgotten."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``track history --json``, ``track export``)."""
        return {
            "id": self.id,
            "subject_id": self.subject_id,
            "provider": self.provider,
            "at": _iso(self.at),
            "source": self.source,
            "old_state": None if self.old_state is None else self.old_state.value,
            "new_state": self.new_state.value,
            "raw_status": self.raw_status,
            "anomaly": self.anomaly,
            "blocklisted": self.blocklisted,
            "event_id": self.event_id,
            "report": None if self.report is None else dict(self.report),
        }


@attrs.frozen
class Recorded:
    """What :meth:`Store.record` did."""

    subject: Subject
    """The subject after the write."""
    observation: Observation | None
    """The history entry written, or ``None`` when nothing changed (or the event was known)."""
    transition: bool
    """The state changed and this call recorded it (once, whichever worker saw it first)."""


NextCheck = Callable[[Subject, bool], "float | None"]
"""Decides the next check inside :meth:`Store.record`'s transaction:
``next_check(subject_before, changed) -> epoch seconds or None``."""


@attrs.frozen(kw_only=True)
class Poll:
    """One poll's answer, to be recorded by :meth:`Store.record_polls`."""

    subject: Subject
    """The subject as the worker claimed it (the record's ``expected``)."""
    report: Mapping[str, Any] = attrs.field(repr=False)
    """The report's JSON form."""
    now: float
    """When the answer came."""
    owner: str | None = None
    """The worker holding the subject's lease."""
    next_check: NextCheck | None = attrs.field(default=None, repr=False)
    """Decides the next check (as in :meth:`Store.record`)."""


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


@runtime_checkable
class Store(Protocol):
    """A database of tracked subjects and their history (SQLite or PostgreSQL)."""

    url: str
    """The database URL, password removed."""

    def add(
        self, provider: str, query: Mapping[str, Any], subject: str | None, *, now: float
    ) -> Subject:
        """Track a new subject, due at once; raise :class:`DuplicateSubject` if tracked."""

    def get(self, subject_id: int) -> Subject | None:
        """The subject with this id, or ``None``."""

    def find(self, provider: str, subject: str) -> Subject | None:
        """The subject tracked for ``provider`` and this (unmasked) subject, or ``None``."""

    def subjects(
        self,
        *,
        state: KYCState | None = None,
        provider: str | None = None,
        observed_before: float | None = None,
        limit: int | None = None,
        after: int | None = None,
        final: bool | None = None,
        anomaly: bool | None = None,
        blocklisted: bool | None = None,
        changed_before: float | None = None,
    ) -> list[Subject]:
        """Subjects by id, filtered; ``observed_before``: last observed earlier, or never.

        ``after``: only ids greater (a page's cursor); ``final``, ``anomaly``,
        ``blocklisted``: only subjects with that flag; ``changed_before``: last changed
        (else first seen) earlier than that time, not forgotten (stuck subjects).
        """

    def count(self) -> int:
        """How many subjects are tracked."""

    def counts(self) -> list[tuple[str, KYCState | None, int]]:
        """How many subjects per ``(provider, state)`` (state ``None``: not observed yet)."""

    def recent(self, limit: int) -> list[Observation]:
        """The ``limit`` latest observations, newest first."""

    def history(self, subject_id: int) -> list[Observation]:
        """A subject's observations, oldest first."""

    def observations(self, *, since: float | None = None) -> Iterator[Observation]:
        """Every observation (at ``since`` or later), oldest first, read in pages."""

    def claim(self, owner: str, *, now: float, lease: float, limit: int) -> list[Subject]:
        """Lease up to ``limit`` due subjects to ``owner`` until ``now + lease``."""

    def release(self, subject_ids: Sequence[int], owner: str) -> None:
        """Give back leases ``owner`` holds on these subjects."""

    def record(
        self,
        subject_id: int,
        report: Mapping[str, Any],
        *,
        now: float,
        source: str = "poll",
        event_id: str | None = None,
        owner: str | None = None,
        next_check: NextCheck | None = None,
        expected: Subject | None = None,
    ) -> Recorded:
        """Write one observation, the new state and schedule, and release the lease, at once.

        ``report`` is a report's JSON form. The state is compared and set inside the
        transaction, so a transition seen by two workers is recorded once. A history entry
        is written when the state, raw status or blocklist flag changed (or on the first
        observation); an ``event_id`` already recorded for the provider writes nothing.
        The schedule and lease are written only when ``owner`` holds the lease (or is
        ``None``).

        ``expected``: the subject as the caller last read it (a worker: as claimed). A store
        may then skip reading the row again, writing only if the row still holds what
        ``expected`` says (compared and set in the same statement); otherwise, or without it,
        it reads the row under a lock. The outcome is the same either way.
        """

    def record_polls(self, polls: Sequence[Poll]) -> list[Recorded]:
        """Record several polls' answers in one transaction; what each :meth:`record` returns.

        Each poll is written as ``record(p.subject.id, p.report, now=p.now, owner=p.owner,
        next_check=p.next_check, expected=p.subject)`` would write it, with the same
        compare-and-set and the same result, in order. Inside a :meth:`group` they join the
        group's transaction; outside one they make a transaction of their own. Either way all
        of them are written, or (if one raises) none. A store may send them together:
        PostgreSQL sends every compare-and-set in one round trip (pipeline mode).
        """

    def record_failure(
        self,
        subject_id: int,
        error_kind: str,
        *,
        now: float,
        owner: str | None,
        next_check: Callable[[Subject], float],
    ) -> Subject | None:
        """Count a failed poll, keep its error kind, schedule the retry, release the lease."""

    def group(self) -> contextlib.AbstractContextManager[None]:
        """One transaction for the records and failure records this thread makes inside it.

        ``with store.group(): ...``: each :meth:`record` and :meth:`record_failure` made by
        this thread inside the block works and returns exactly as on its own (the same
        compare-and-set, the same result), but nothing it writes is durable or visible to
        others until the block ends and the group commits, all at once. If the block raises,
        or a record inside it raised, nothing of the group is written (a record that failed
        makes the commit raise :class:`RuntimeError`). Only records join a group: make no
        other call on the store from this thread inside it. Groups do not nest.

        Rows a group wrote stay locked until it commits (a webhook's record of one of them
        waits), so keep it short: the scheduler writes a group after the polls' answers are
        in, never across a provider call.
        """

    def forget(self, subject_id: int) -> bool:
        """Erase a subject's personal data, keeping an anonymised history; ``False`` if absent."""

    def schema_version(self) -> int:
        """The schema version of the database."""

    def close(self) -> None:
        """Close connections."""


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for output and errors)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    netloc, slash, tail = rest.partition("/")
    userinfo, _, host = netloc.rpartition("@")
    user, colon, _password = userinfo.partition(":")
    shown = f"{user}:***" if colon else user
    return f"{scheme}://{shown}@{host}{slash}{tail}"


def default_sqlite_path(env: Mapping[str, str] | None = None) -> str:
    """``$XDG_DATA_HOME/kycbridge/tracking.sqlite3`` (default ``~/.local/share/...``)."""
    env = os.environ if env is None else env
    base = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "kycbridge", "tracking.sqlite3")


def open_store(url: str | None = None, *, env: Mapping[str, str] | None = None) -> Store:
    """Open (creating and migrating) the store at ``url``.

    ``postgresql://`` / ``postgres://``: PostgreSQL (needs ``kycbridge[postgres]``).
    ``sqlite:///path``, ``sqlite://`` (in memory is refused: workers share a file) or a plain
    path: SQLite. ``None``: env ``KYCBRIDGE_DB``, else :func:`default_sqlite_path`.
    Raises :class:`~kycbridge.errors.InvalidQuery` for a URL it cannot use.
    """
    env = os.environ if env is None else env
    if not url:
        url = env.get("KYCBRIDGE_DB") or default_sqlite_path(env)
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme in ("postgresql", "postgres"):
        from .postgres import PostgresStore

        return PostgresStore(url)
    if scheme in ("", "sqlite", "file"):
        from .sqlite import SQLiteStore, sqlite_path

        return SQLiteStore(sqlite_path(url))
    raise InvalidQuery(
        f"unsupported database URL scheme {scheme!r} in {redact_url(url)!r} "
        "(use sqlite:///path, a path, or postgresql://...)"
    )


def masked(subject: str | None) -> str | None:
    """The masked form stored for a subject."""
    return None if subject is None else mask(subject)
