"""The SQL both stores share; :mod:`.sqlite` and :mod:`.postgres` fill in the dialect."""

# ruff: noqa: S608 - SQL text is built from constants only; values are always parameters

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ..errors import InvalidQuery
from ..states import KYCState, is_expected
from . import schema
from .store import (
    FORGOTTEN,
    SOURCES,
    DuplicateSubject,
    NextCheck,
    Observation,
    Poll,
    Recorded,
    Subject,
    from_epoch,
    masked,
)

SUBJECT_COLUMNS = (
    "id, provider, query_json, subject_masked, subject_hash, state, raw_status, final, anomaly,"
    " blocklisted, first_seen, last_observed, last_changed, next_check, failures, last_error,"
    " unchanged_polls, lease_owner, lease_expires, forgotten"
)
OBSERVATION_COLUMNS = (
    "id, subject_id, provider, at, source, old_state, new_state, raw_status, anomaly,"
    " blocklisted, event_id, report_json"
)
SELECT_SUBJECT = f"SELECT {SUBJECT_COLUMNS} FROM subjects WHERE id = ?"
SELECT_OBSERVATION = f"SELECT {OBSERVATION_COLUMNS} FROM observations WHERE id = ?"
KEPT_REPORT_KEYS = (
    "provider",
    "state",
    "raw_status",
    "final",
    "approved",
    "observed_at",
    "blocklisted",
    "anomaly",
)
"""What a forgotten subject's reports keep; ``subject``, ``details`` and ``raw`` become null."""
PAGE = 500
"""Observations read per query by :meth:`SQLStore.observations`."""
MAX_CLAIM = 1000
"""Most subjects one claim leases."""


def subject_from_row(row: Sequence[Any]) -> Subject:
    """A :class:`Subject` from a row of :data:`SUBJECT_COLUMNS`."""
    return Subject(
        id=int(row[0]),
        provider=row[1],
        query=json.loads(row[2]) if row[2] else {},
        subject_masked=row[3],
        state=row[5],
        raw_status=row[6],
        final=bool(row[7]),
        anomaly=bool(row[8]),
        blocklisted=bool(row[9]),
        first_seen=from_epoch(row[10]),  # type: ignore[arg-type]
        last_observed=from_epoch(row[11]),
        last_changed=from_epoch(row[12]),
        next_check=from_epoch(row[13]),
        failures=int(row[14]),
        last_error=row[15],
        unchanged_polls=int(row[16]),
        lease_owner=row[17],
        lease_expires=from_epoch(row[18]),
        forgotten=bool(row[19]),
    )


def observation_from_row(row: Sequence[Any]) -> Observation:
    """An :class:`Observation` from a row of :data:`OBSERVATION_COLUMNS`."""
    return Observation(
        id=int(row[0]),
        subject_id=int(row[1]),
        provider=row[2],
        at=from_epoch(row[3]),  # type: ignore[arg-type]
        source=row[4],
        old_state=row[5],
        new_state=row[6],
        raw_status=row[7],
        anomaly=bool(row[8]),
        blocklisted=bool(row[9]),
        event_id=row[10],
        report=json.loads(row[11]) if row[11] else None,
    )


def strip_report(report: Mapping[str, Any]) -> dict[str, Any]:
    """A report's JSON form without personal data: subject, details and raw payload gone."""
    kept = {k: report.get(k) for k in KEPT_REPORT_KEYS if k in report}
    return {**kept, "subject": None, "details": None, "raw": None}


UPDATE_RECORD = (
    "UPDATE subjects SET state = ?, raw_status = ?, final = ?, blocklisted = ?,"
    " anomaly = COALESCE(?, anomaly), last_observed = ?,"
    " last_changed = COALESCE(?, last_changed), failures = 0,"
    " last_error = NULL, unchanged_polls = ?,"
    " next_check = CASE WHEN ? AND (? OR lease_owner = ?) THEN ? ELSE next_check END,"
    " lease_expires = CASE WHEN lease_owner = ? THEN NULL ELSE lease_expires END,"
    " lease_owner = CASE WHEN lease_owner = ? THEN NULL ELSE lease_owner END"
)
"""A record's ``UPDATE subjects`` up to its ``WHERE`` (parameters: :meth:`Change.update_params`)."""
INSERT_OBSERVATION_COLUMNS = (
    "subject_id, provider, at, source, old_state, new_state, raw_status, anomaly, blocklisted,"
    " event_id, report_json"
)
"""The columns a record writes into ``observations``."""
INSERT_OBSERVATION = (
    f"INSERT INTO observations ({INSERT_OBSERVATION_COLUMNS})"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class Change:
    """What recording ``report`` does to a subject that was ``before``: worked out once."""

    __slots__ = (
        "anomaly",
        "before",
        "blocklisted",
        "changed",
        "event_id",
        "new_state",
        "now",
        "owner",
        "raw_status",
        "report",
        "source",
        "transition",
    )

    def __init__(
        self,
        before: Subject,
        report: Mapping[str, Any],
        new_state: KYCState,
        now: float,
        source: str,
        owner: str | None,
        event_id: str | None,
    ) -> None:
        self.before = before
        self.new_state = new_state
        self.raw_status: str | None = report.get("raw_status")
        self.blocklisted = bool(report.get("blocklisted", False))
        self.now = now
        self.source = source
        self.owner = owner
        self.event_id = event_id
        self.transition = before.state is not new_state
        self.changed = (
            self.transition
            or before.last_observed is None
            or self.raw_status != before.raw_status
            or self.blocklisted != before.blocklisted
        )
        self.anomaly = self.transition and not is_expected(before.state, new_state)
        self.report = report

    def update_params(self, schedule: bool, when: float | None) -> tuple[Any, ...]:
        """The parameters of :data:`UPDATE_RECORD`; ``when`` is set if ``schedule``."""
        owner, transition = self.owner, self.transition
        return (
            self.new_state.value,
            self.raw_status,
            self.new_state.final,
            self.blocklisted,
            self.anomaly if transition else None,
            self.now,
            self.now if transition else None,
            0 if self.changed else self.before.unchanged_polls + 1,
            schedule,
            owner is None,
            owner,
            when,
            owner,
            owner,
        )

    def insert_params(self) -> tuple[Any, ...]:
        """The observation's values after ``subject_id, provider``."""
        stored = dict(self.report)
        stored["anomaly"] = self.anomaly
        before = self.before
        return (
            self.now,
            self.source,
            None if before.state is None else before.state.value,
            self.new_state.value,
            self.raw_status,
            self.anomaly,
            self.blocklisted,
            self.event_id,
            json.dumps(stored, sort_keys=True),
        )


class _Group:
    """A group's transaction (:meth:`SQLStore.group`): its cursor, and whether a record failed."""

    __slots__ = ("cur", "failed")

    def __init__(self, cur: Any) -> None:
        self.cur = cur
        self.failed = False

    @contextlib.contextmanager
    def joined(self) -> Iterator[Any]:
        """The group's cursor for one record; an error dooms the whole group."""
        try:
            yield self.cur
        except BaseException:
            self.failed = True
            raise


class SQLStore:
    """The store logic over a DB-API cursor; subclasses give the dialect and connections."""

    dialect: str = ""
    url: str = ""
    lock_suffix = ""
    """Appended to the SELECT that reads a row about to be changed (``FOR UPDATE``)."""
    same_as = "IS"
    """Null-safe equality (``IS`` in SQLite, ``IS NOT DISTINCT FROM`` in PostgreSQL)."""
    records_as_expected = False
    """Whether :meth:`_record_as_expected` can write a poll in one statement."""

    _key: bytes = b""

    def __init__(self) -> None:
        self._groups = threading.local()
        """This thread's open group (``open``: a :class:`_Group` or ``None``)."""

    # -- dialect ------------------------------------------------------------------------
    def _transaction(self) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    def _read(self) -> contextlib.AbstractContextManager[Any]:
        """A cursor for reads (no write lock)."""
        raise NotImplementedError

    def _sql(self, text: str) -> str:
        return text

    def _insert(self, cur: Any, text: str, params: Sequence[Any]) -> int:
        raise NotImplementedError

    def _lock_migrations(self, cur: Any) -> None:
        """Serialise concurrent migrations (inside the migration's transaction)."""

    def _claim_transaction(self) -> contextlib.AbstractContextManager[Any]:
        """The cursor a claim runs on: a transaction, unless the claim is one statement."""
        return self._transaction()

    def _claim_rows(
        self, cur: Any, owner: str, now: float, lease: float, limit: int
    ) -> list[Sequence[Any]]:
        raise NotImplementedError

    def _after_forget(self) -> None:
        """Make the erased values unrecoverable from the database's files, where it can."""

    def _update_returning(
        self, cur: Any, text: str, params: Sequence[Any], subject_id: int
    ) -> Sequence[Any] | None:
        """Run an ``UPDATE subjects`` of one row; that row after it (None if none matched).

        This form reads the row back with a second statement; a dialect with ``RETURNING``
        (PostgreSQL) overrides it to make one round trip.
        """
        if self._exec(cur, text, params).rowcount != 1:
            return None
        row: Sequence[Any] = self._exec(cur, SELECT_SUBJECT, (subject_id,)).fetchone()
        return row

    def _insert_returning(self, cur: Any, text: str, params: Sequence[Any]) -> Sequence[Any]:
        """Run an ``INSERT INTO observations``; the new row (:data:`OBSERVATION_COLUMNS`)."""
        observation_id = self._insert(cur, text, params)
        row: Sequence[Any] = self._exec(cur, SELECT_OBSERVATION, (observation_id,)).fetchone()
        return row

    # -- groups ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def group(self) -> Iterator[None]:
        """See :meth:`Store.group <kycbridge.tracking.store.Store.group>`."""
        if getattr(self._groups, "open", None) is not None:
            raise InvalidQuery("a group is already open in this thread (groups do not nest)")
        with self._transaction() as cur:
            group = _Group(cur)
            self._groups.open = group
            try:
                yield
            finally:
                self._groups.open = None
            if group.failed:  # a record raised and the caller went on: write nothing
                raise RuntimeError("a record of this group failed: the group was rolled back")

    def _writing(self) -> contextlib.AbstractContextManager[Any]:
        """The cursor a record writes with: the open group's, else a transaction of its own."""
        group: _Group | None = getattr(self._groups, "open", None)
        return self._transaction() if group is None else group.joined()

    def _statement(self) -> contextlib.AbstractContextManager[Any]:
        """The cursor for a write that is one statement: the open group's, else autocommit."""
        group: _Group | None = getattr(self._groups, "open", None)
        return self._read() if group is None else group.joined()

    # -- opening --------------------------------------------------------------------------
    def _exec(self, cur: Any, text: str, params: Sequence[Any] = ()) -> Any:
        cur.execute(self._sql(text), tuple(params))
        return cur

    def migrate(
        self,
        migrations: Mapping[int, Sequence[str]] | None = None,
        *,
        upto: int | None = None,
    ) -> int:
        """Apply the missing schema versions (up to ``upto``); return the version reached."""
        steps = schema.MIGRATIONS[self.dialect] if migrations is None else migrations
        with self._transaction() as cur:
            self._lock_migrations(cur)
            self._exec(cur, schema.VERSION_TABLE[self.dialect])
        current = self.schema_version()
        for version in sorted(steps):
            if version <= current or (upto is not None and version > upto):
                continue
            with self._transaction() as cur:
                self._lock_migrations(cur)
                done = self._exec(
                    cur, "SELECT 1 FROM schema_version WHERE version = ?", (version,)
                ).fetchone()
                if done:  # another process migrated meanwhile
                    continue
                for statement in steps[version]:
                    self._exec(cur, statement)
                self._exec(
                    cur,
                    "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                    (version, time.time()),
                )
            current = version
        return self.schema_version()

    def schema_version(self) -> int:
        """The highest schema version applied (0 for a new database)."""
        with self._read() as cur:
            row = self._exec(cur, "SELECT max(version) FROM schema_version").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def _load_key(self) -> None:
        with self._transaction() as cur:
            self._exec(
                cur,
                "INSERT INTO meta (key, value) VALUES ('subject_key', ?)"
                " ON CONFLICT (key) DO NOTHING",
                (secrets.token_hex(32),),
            )
            row = self._exec(cur, "SELECT value FROM meta WHERE key = 'subject_key'").fetchone()
        self._key = bytes.fromhex(row[0])

    def subject_hash(self, provider: str, subject: str) -> str:
        """The keyed hash (HMAC-SHA256, this database's key) of ``provider`` and ``subject``."""
        message = f"{provider}\x00{subject}".encode("utf-8", "surrogatepass")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    # -- subjects -------------------------------------------------------------------------
    def add(
        self, provider: str, query: Mapping[str, Any], subject: str | None, *, now: float
    ) -> Subject:
        """See :meth:`Store.add <kycbridge.tracking.store.Store.add>`."""
        digest = None if subject is None else self.subject_hash(provider, subject)
        with self._transaction() as cur:
            if digest is not None:
                row = self._exec(
                    cur,
                    "SELECT id FROM subjects WHERE provider = ? AND subject_hash = ?",
                    (provider, digest),
                ).fetchone()
                if row:
                    raise DuplicateSubject(
                        f"this subject is already tracked (id {row[0]})",
                        provider=provider,
                        existing=int(row[0]),
                    )
            new_id = self._insert(
                cur,
                "INSERT INTO subjects (provider, query_json, subject_masked, subject_hash,"
                " first_seen, next_check) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    provider,
                    json.dumps(dict(query), sort_keys=True),
                    masked(subject),
                    digest,
                    now,
                    now,
                ),
            )
            row = self._exec(
                cur, f"SELECT {SUBJECT_COLUMNS} FROM subjects WHERE id = ?", (new_id,)
            ).fetchone()
        return subject_from_row(row)

    def get(self, subject_id: int) -> Subject | None:
        """See :meth:`Store.get <kycbridge.tracking.store.Store.get>`."""
        with self._read() as cur:
            row = self._exec(
                cur, f"SELECT {SUBJECT_COLUMNS} FROM subjects WHERE id = ?", (subject_id,)
            ).fetchone()
        return None if row is None else subject_from_row(row)

    def find(self, provider: str, subject: str) -> Subject | None:
        """See :meth:`Store.find <kycbridge.tracking.store.Store.find>`."""
        with self._read() as cur:
            row = self._exec(
                cur,
                f"SELECT {SUBJECT_COLUMNS} FROM subjects WHERE provider = ? AND subject_hash = ?",
                (provider, self.subject_hash(provider, subject)),
            ).fetchone()
        return None if row is None else subject_from_row(row)

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
        """See :meth:`Store.subjects <kycbridge.tracking.store.Store.subjects>`."""
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        if after is not None:
            where.append("id > ?")
            params.append(int(after))
        for column, flag in (("final", final), ("anomaly", anomaly), ("blocklisted", blocklisted)):
            if flag is not None:
                where.append(f"{column} = ?")
                params.append(bool(flag))
        if changed_before is not None:
            where.append("forgotten = ? AND COALESCE(last_changed, first_seen) < ?")
            params.extend([False, changed_before])
        if state is not None:
            where.append("state = ?")
            params.append(KYCState(state).value)
        if provider is not None:
            where.append("provider = ?")
            params.append(provider)
        if observed_before is not None:
            where.append("(last_observed IS NULL OR last_observed < ?)")
            params.append(observed_before)
        text = f"SELECT {SUBJECT_COLUMNS} FROM subjects WHERE {' AND '.join(where)} ORDER BY id"
        if limit is not None:
            text += " LIMIT ?"
            params.append(int(limit))
        with self._read() as cur:
            rows = self._exec(cur, text, params).fetchall()
        return [subject_from_row(r) for r in rows]

    def count(self) -> int:
        """See :meth:`Store.count <kycbridge.tracking.store.Store.count>`."""
        with self._read() as cur:
            return int(self._exec(cur, "SELECT count(*) FROM subjects").fetchone()[0])

    def counts(self) -> list[tuple[str, KYCState | None, int]]:
        """See :meth:`Store.counts <kycbridge.tracking.store.Store.counts>`."""
        with self._read() as cur:
            rows = self._exec(
                cur,
                "SELECT provider, state, count(*) FROM subjects GROUP BY provider, state"
                " ORDER BY provider, state",
            ).fetchall()
        return [(r[0], None if r[1] is None else KYCState(r[1]), int(r[2])) for r in rows]

    def recent(self, limit: int) -> list[Observation]:
        """See :meth:`Store.recent <kycbridge.tracking.store.Store.recent>`."""
        with self._read() as cur:
            rows = self._exec(
                cur,
                f"SELECT {OBSERVATION_COLUMNS} FROM observations ORDER BY id DESC LIMIT ?",
                (max(0, int(limit)),),
            ).fetchall()
        return [observation_from_row(r) for r in rows]

    def history(self, subject_id: int) -> list[Observation]:
        """See :meth:`Store.history <kycbridge.tracking.store.Store.history>`."""
        with self._read() as cur:
            rows = self._exec(
                cur,
                f"SELECT {OBSERVATION_COLUMNS} FROM observations WHERE subject_id = ? ORDER BY id",
                (subject_id,),
            ).fetchall()
        return [observation_from_row(r) for r in rows]

    def observations(self, *, since: float | None = None) -> Iterator[Observation]:
        """See :meth:`Store.observations <kycbridge.tracking.store.Store.observations>`."""
        last = 0
        while True:
            params: list[Any] = [last]
            text = f"SELECT {OBSERVATION_COLUMNS} FROM observations WHERE id > ?"
            if since is not None:
                text += " AND at >= ?"
                params.append(since)
            text += " ORDER BY id LIMIT ?"
            params.append(PAGE)
            with self._read() as cur:
                rows = self._exec(cur, text, params).fetchall()
            for row in rows:
                yield observation_from_row(row)
            if len(rows) < PAGE:
                return
            last = int(rows[-1][0])

    # -- scheduling -----------------------------------------------------------------------
    def claim(self, owner: str, *, now: float, lease: float, limit: int) -> list[Subject]:
        """See :meth:`Store.claim <kycbridge.tracking.store.Store.claim>`."""
        if limit <= 0:
            return []
        with self._claim_transaction() as cur:
            rows = self._claim_rows(cur, owner, now, now + lease, min(limit, MAX_CLAIM))
        return sorted((subject_from_row(r) for r in rows), key=lambda s: (s.next_check, s.id))

    def release(self, subject_ids: Sequence[int], owner: str) -> None:
        """See :meth:`Store.release <kycbridge.tracking.store.Store.release>`."""
        if not subject_ids:
            return
        with self._transaction() as cur:
            for subject_id in subject_ids:
                self._exec(
                    cur,
                    "UPDATE subjects SET lease_owner = NULL, lease_expires = NULL"
                    " WHERE id = ? AND lease_owner = ?",
                    (subject_id, owner),
                )

    def _locked(self, cur: Any, subject_id: int) -> Subject | None:
        row = self._exec(
            cur,
            self._lock_select,
            (subject_id,),
        ).fetchone()
        return None if row is None else subject_from_row(row)

    def _schedule(
        self, cur: Any, subject_id: int, owner: str | None, next_check: float | None
    ) -> None:
        if owner is None:
            self._exec(
                cur, "UPDATE subjects SET next_check = ? WHERE id = ?", (next_check, subject_id)
            )
            return
        self._exec(
            cur,
            "UPDATE subjects SET next_check = ?, lease_owner = NULL, lease_expires = NULL"
            " WHERE id = ? AND lease_owner = ?",
            (next_check, subject_id, owner),
        )

    @functools.cached_property
    def _lock_select(self) -> str:
        """Read and lock one subject (built once: the driver's statement cache hashes it)."""
        return f"SELECT {SUBJECT_COLUMNS} FROM subjects WHERE id = ?{self.lock_suffix}"

    @functools.cached_property
    def _record_update(self) -> str:
        """A record's compare-and-set under the row lock (built once, as above)."""
        return f"{UPDATE_RECORD} WHERE id = ? AND state {self.same_as} ?"

    def _record_as_expected(
        self,
        expected: Subject,
        report: Mapping[str, Any],
        new_state: KYCState,
        *,
        now: float,
        source: str,
        owner: str | None,
        next_check: NextCheck | None,
    ) -> Recorded | None:
        """Record a poll in one statement if the row still is as ``expected``; else None.

        This form always declines (the caller then locks the row and reads it); a dialect
        that can compare, set and insert in one atomic statement (PostgreSQL) overrides it.
        """
        return None

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
        """See :meth:`Store.record <kycbridge.tracking.store.Store.record>`."""
        if source not in SOURCES:
            raise InvalidQuery(f"source must be one of {', '.join(SOURCES)}")
        new_state = KYCState(report["state"])
        if (
            expected is not None
            and self.records_as_expected
            and expected.id == subject_id
            and event_id is None
        ):
            done = self._record_as_expected(
                expected,
                report,
                new_state,
                now=now,
                source=source,
                owner=owner,
                next_check=next_check,
            )
            if done is not None:
                return done
        with self._writing() as cur:
            before = self._locked(cur, subject_id)
            if before is None:
                raise InvalidQuery(f"no tracked subject with id {subject_id}")
            if before.forgotten:
                return Recorded(before, None, False)
            if event_id is not None:
                known = self._exec(
                    cur,
                    "SELECT 1 FROM observations WHERE provider = ? AND event_id = ?",
                    (before.provider, event_id),
                ).fetchone()
                if known:
                    return Recorded(before, None, False)
            change = Change(before, report, new_state, now, source, owner, event_id)
            # Compare-and-set: the row is locked (FOR UPDATE / BEGIN IMMEDIATE), and the
            # update only applies to the state read above. The scheduling rides on the same
            # statement: a worker that holds no lease (any more) leaves next_check and the
            # lease alone, one without an owner (a webhook, a manual record) sets next_check.
            when = None if next_check is None else next_check(before, change.changed)
            after_row = self._update_returning(
                cur,
                self._record_update,
                (
                    *change.update_params(next_check is not None, when),
                    subject_id,
                    None if before.state is None else before.state.value,
                ),
                subject_id,
            )
            if after_row is None:  # pragma: no cover - the row lock makes this impossible
                raise RuntimeError("tracked subject changed under a lock")
            after = subject_from_row(after_row)
            observation = None
            if change.changed or event_id is not None:
                row = self._insert_returning(
                    cur, INSERT_OBSERVATION, (subject_id, before.provider, *change.insert_params())
                )
                observation = observation_from_row(row)
        return Recorded(after, observation, change.transition)

    def record_polls(self, polls: Sequence[Poll]) -> list[Recorded]:
        """See :meth:`Store.record_polls <kycbridge.tracking.store.Store.record_polls>`."""
        for poll in polls:  # refuse a bad one before anything is written
            KYCState(poll.report["state"])
        if not polls:
            return []
        if getattr(self._groups, "open", None) is None:
            with self.group():
                return self._record_polls(polls)
        return self._record_polls(polls)

    def _record_polls(self, polls: Sequence[Poll]) -> list[Recorded]:
        """Write ``polls`` in the open group, one :meth:`record` each (a dialect may batch)."""
        return [self._record_poll(poll, as_claimed=True) for poll in polls]

    def _record_poll(self, poll: Poll, *, as_claimed: bool) -> Recorded:
        """:meth:`record` of one poll; ``as_claimed=False``: on the locked path, read again."""
        return self.record(
            poll.subject.id,
            poll.report,
            now=poll.now,
            owner=poll.owner,
            next_check=poll.next_check,
            expected=poll.subject if as_claimed else None,
        )

    def record_failure(
        self,
        subject_id: int,
        error_kind: str,
        *,
        now: float,
        owner: str | None,
        next_check: Callable[[Subject], float],
    ) -> Subject | None:
        """See :meth:`Store.record_failure <kycbridge.tracking.store.Store.record_failure>`."""
        with self._writing() as cur:
            before = self._locked(cur, subject_id)
            if before is None:
                return None
            self._exec(
                cur,
                "UPDATE subjects SET failures = failures + 1, last_error = ? WHERE id = ?",
                (error_kind, subject_id),
            )
            when = None if before.forgotten else next_check(before)
            self._schedule(cur, subject_id, owner, when)
            return self._locked(cur, subject_id)

    # -- erasure --------------------------------------------------------------------------
    def forget(self, subject_id: int) -> bool:
        """See :meth:`Store.forget <kycbridge.tracking.store.Store.forget>`."""
        with self._transaction() as cur:
            before = self._locked(cur, subject_id)
            if before is None:
                return False
            self._exec(
                cur,
                "UPDATE subjects SET query_json = '{}', subject_hash = NULL,"
                " subject_masked = ?, forgotten = ?, next_check = NULL, lease_owner = NULL,"
                " lease_expires = NULL WHERE id = ?",
                (FORGOTTEN, True, subject_id),
            )
            rows = self._exec(
                cur,
                "SELECT id, report_json FROM observations WHERE subject_id = ?",
                (subject_id,),
            ).fetchall()
            for observation_id, text in rows:
                report = strip_report(json.loads(text)) if text else None
                self._exec(
                    cur,
                    "UPDATE observations SET report_json = ? WHERE id = ?",
                    (
                        None if report is None else json.dumps(report, sort_keys=True),
                        observation_id,
                    ),
                )
        self._after_forget()
        return True
