"""The PostgreSQL store: many workers on many machines, psycopg 3 and a connection pool.

Needs the ``postgres`` extra (``pip install 'kycbridge[postgres]'``). Claims take due rows
with ``FOR UPDATE SKIP LOCKED``, so workers never wait on each other's rows; a record locks
its subject's row (``SELECT ... FOR UPDATE``) for its compare-and-set. Migrations run under
a transaction-scoped advisory lock.
"""

# ruff: noqa: S608 - SQL text is built from constants only; values are always parameters

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..errors import InvalidQuery
from ..states import KYCState
from ._sql import (
    INSERT_OBSERVATION_COLUMNS,
    OBSERVATION_COLUMNS,
    SUBJECT_COLUMNS,
    UPDATE_RECORD,
    Change,
    SQLStore,
    observation_from_row,
    subject_from_row,
)
from .store import NextCheck, Poll, Recorded, StoreUnavailable, Subject, redact_url

__all__ = ["MIGRATION_LOCK", "PostgresStore"]

RECORD_AS_EXPECTED = (
    "WITH s AS ("
    + UPDATE_RECORD.replace("?", "%s")
    + " WHERE id = %s AND NOT forgotten AND state IS NOT DISTINCT FROM %s"
    " AND raw_status IS NOT DISTINCT FROM %s AND blocklisted = %s AND anomaly = %s"
    " AND (last_observed IS NULL) = %s AND unchanged_polls = %s AND failures = %s"
    f" RETURNING {SUBJECT_COLUMNS}"
    f"), o AS (INSERT INTO observations ({INSERT_OBSERVATION_COLUMNS})"
    " SELECT s.id, s.provider, %s, %s, %s, %s, %s, %s, %s, %s, %s FROM s WHERE %s"
    f" RETURNING {OBSERVATION_COLUMNS})"
    " SELECT s.*, o.* FROM s LEFT JOIN o ON true"
)
"""A poll's record in one statement: compare-and-set, schedule, lease, observation.

The ``UPDATE`` applies only if the row still holds what the worker read when it claimed
the subject (every field a record reads), the ``INSERT`` only if the ``UPDATE`` did (and
something changed). One statement in autocommit is one transaction: both or neither.
"""

MIGRATION_LOCK = 0x6B79_6362_7472
"""The advisory lock key held while migrating (``kycbtr``)."""
CONNECT_TIMEOUT = 10.0
"""Seconds to wait for the first connection when opening."""


_SUBJECT_WIDTH = SUBJECT_COLUMNS.count(",") + 1


def _as_expected_params(change: Change, next_check: NextCheck | None) -> tuple[Any, ...]:
    """The parameters of :data:`RECORD_AS_EXPECTED` for ``change``."""
    before = change.before
    when = None if next_check is None else next_check(before, change.changed)
    return (
        *change.update_params(next_check is not None, when),
        before.id,
        None if before.state is None else before.state.value,
        before.raw_status,
        before.blocklisted,
        before.anomaly,
        before.last_observed is None,
        before.unchanged_polls,
        before.failures,
        *change.insert_params(),
        change.changed,
    )


def _recorded(change: Change, row: Sequence[Any]) -> Recorded:
    """What a matched :data:`RECORD_AS_EXPECTED` wrote (its one row)."""
    width = _SUBJECT_WIDTH
    observation = None if row[width] is None else observation_from_row(row[width:])
    return Recorded(subject_from_row(row[:width]), observation, change.transition)


def _modules() -> tuple[Any, Any]:
    try:
        import psycopg
        import psycopg_pool
    except ImportError:
        raise InvalidQuery(
            "a postgresql:// database needs psycopg 3: install kycbridge[postgres]"
        ) from None
    return psycopg, psycopg_pool


class PostgresStore(SQLStore):
    """A :class:`~kycbridge.tracking.store.Store` in PostgreSQL (``postgresql://...``).

    ``max_connections``: the pool's size (one per worker thread is enough). The URL may
    carry libpq options, e.g. ``?options=-csearch_path%3Dkyc`` for a schema of its own.
    ``upto``: migrate no further than this schema version (tests of migrations).
    """

    dialect = "postgresql"
    lock_suffix = " FOR UPDATE"
    same_as = "IS NOT DISTINCT FROM"
    records_as_expected = True

    def __init__(self, url: str, *, max_connections: int = 16, upto: int | None = None) -> None:
        super().__init__()
        psycopg, psycopg_pool = _modules()
        self._psycopg = psycopg
        self.url = redact_url(url)
        self._pool = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=max(1, max_connections),
            kwargs={"autocommit": True},
            open=False,
            name="kycbridge-tracking",
        )
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        except Exception as exc:
            self._pool.close()
            raise StoreUnavailable(f"cannot connect to {self.url} ({type(exc).__name__})") from None
        self.migrate(upto=upto)
        self._load_key()

    def __repr__(self) -> str:
        return f"<PostgresStore {self.url}>"

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._unreachable(), self._pool.connection() as conn:
            with conn.transaction(), conn.cursor() as cur:
                yield cur

    @contextlib.contextmanager
    def _read(self) -> Iterator[Any]:
        with self._unreachable(), self._pool.connection() as conn, conn.cursor() as cur:
            yield cur

    @contextlib.contextmanager
    def _unreachable(self) -> Iterator[None]:
        """Map a lost server or connection to :class:`StoreUnavailable`, once, at the edge.

        A server restart, a terminated backend, a dropped connection or an exhausted pool
        (``OperationalError``, ``InterfaceError``; the pool discards a broken connection)
        become the typed error a worker waits on and retries; errors that are bugs (a
        constraint, bad SQL) stay as they are.
        """
        psycopg = self._psycopg
        try:
            yield
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise StoreUnavailable(f"lost the database {self.url} ({type(exc).__name__})") from None

    def _insert(self, cur: Any, text: str, params: Sequence[Any]) -> int:
        cur.execute(self._sql(text) + " RETURNING id", tuple(params))
        return int(cur.fetchone()[0])

    def _update_returning(
        self, cur: Any, text: str, params: Sequence[Any], subject_id: int
    ) -> Sequence[Any] | None:
        cur.execute(self._sql(text) + f" RETURNING {SUBJECT_COLUMNS}", tuple(params))
        row: Sequence[Any] | None = cur.fetchone()
        return row

    def _insert_returning(self, cur: Any, text: str, params: Sequence[Any]) -> Sequence[Any]:
        cur.execute(self._sql(text) + f" RETURNING {OBSERVATION_COLUMNS}", tuple(params))
        row: Sequence[Any] = cur.fetchone()
        return row

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
        """One round trip instead of five, when no one changed the row since it was claimed.

        Under READ COMMITTED an ``UPDATE`` that waits on a concurrent writer's row lock
        re-checks its ``WHERE`` against the committed row, so the compare-and-set holds as
        with ``SELECT ... FOR UPDATE``. A row that differs (a webhook recorded meanwhile,
        forgotten, gone) matches nothing, and the caller falls back to the locked path.
        """
        change = Change(expected, report, new_state, now, source, owner, None)
        with self._statement() as cur:
            cur.execute(RECORD_AS_EXPECTED, _as_expected_params(change, next_check))
            row = cur.fetchone()
        return None if row is None else _recorded(change, row)

    def _record_polls(self, polls: Sequence[Poll]) -> list[Recorded]:
        """Every poll's compare-and-set in one round trip (``executemany``, pipeline mode).

        A poll whose row changed since its claim matched nothing; it is then recorded on
        the locked path, in the same transaction, as :meth:`record` would.
        """
        if len(polls) < 2 or not self._psycopg.Pipeline.is_supported():
            return super()._record_polls(polls)
        changes = [
            Change(p.subject, p.report, KYCState(p.report["state"]), p.now, "poll", p.owner, None)
            for p in polls
        ]
        params = [
            _as_expected_params(change, poll.next_check)
            for change, poll in zip(changes, polls, strict=True)
        ]
        rows: list[Sequence[Any] | None] = []
        with self._statement() as cur:
            cur.executemany(RECORD_AS_EXPECTED, params, returning=True)
            while True:
                rows.append(cur.fetchone())
                if not cur.nextset():
                    break
        if len(rows) != len(polls):  # pragma: no cover - one result per statement
            raise RuntimeError("a pipelined record returned no result")
        return [
            _recorded(change, row) if row is not None else self._record_poll(poll, as_claimed=False)
            for poll, change, row in zip(polls, changes, rows, strict=True)
        ]

    def _lock_migrations(self, cur: Any) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))

    def _claim_transaction(self) -> contextlib.AbstractContextManager[Any]:
        # The claim is one UPDATE ... RETURNING: atomic on its own, no BEGIN/COMMIT needed.
        return self._read()

    def _claim_rows(
        self, cur: Any, owner: str, now: float, expires: float, limit: int
    ) -> list[Sequence[Any]]:
        cur.execute(
            "UPDATE subjects SET lease_owner = %s, lease_expires = %s WHERE id IN ("
            " SELECT id FROM subjects WHERE next_check IS NOT NULL AND next_check <= %s"
            " AND (lease_expires IS NULL OR lease_expires <= %s)"
            " ORDER BY next_check, id LIMIT %s FOR UPDATE SKIP LOCKED)"
            f" RETURNING {SUBJECT_COLUMNS}",
            (owner, expires, now, now, limit),
        )
        rows: list[Sequence[Any]] = cur.fetchall()
        return rows

    def _after_forget(self) -> None:
        """VACUUM both tables: the old row versions' space is reclaimed for reuse.

        PostgreSQL does not zero freed space; see ``docs/tracking.md`` ("Forget").
        """
        with self._pool.connection() as conn:
            conn.execute("VACUUM subjects, observations")

    def close(self) -> None:
        """Close the pool."""
        self._pool.close()
