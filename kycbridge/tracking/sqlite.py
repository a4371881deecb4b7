"""The SQLite store: one file, one machine, stdlib :mod:`sqlite3`.

WAL journal (readers never wait for the writer), ``secure_delete=ON`` (erased values are
overwritten with zeros, not left in free pages), one connection per thread, and every write
in a ``BEGIN IMMEDIATE`` transaction: writers queue on SQLite's lock (``busy_timeout``
30 s), so a claim or a record is atomic across threads and processes on the machine.
"""

# ruff: noqa: S608 - SQL text is built from constants only; values are always parameters

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import InvalidQuery
from ._sql import SUBJECT_COLUMNS, SQLStore

__all__ = ["SQLiteStore", "sqlite_path"]

BUSY_TIMEOUT = 30.0
"""Seconds a writer waits for another's transaction before giving up."""


def sqlite_path(url: str) -> str:
    """The file of a SQLite URL: ``sqlite:///relative.db``, ``sqlite:////abs/t.db`` or a path.

    As in SQLAlchemy, three slashes start a relative path and four an absolute one.
    In-memory databases are refused: workers and the CLI share the file.
    """
    path = url
    for prefix in ("sqlite:///", "file://"):
        if url.lower().startswith(prefix):
            path = url[len(prefix) :]
            break
    else:
        if "://" in url:
            raise InvalidQuery("a SQLite URL is sqlite:///PATH (or give a plain path)")
    if not path or path == ":memory:":
        raise InvalidQuery("an in-memory SQLite database cannot be shared: give a file path")
    return os.path.expanduser(path)


class SQLiteStore(SQLStore):
    """A :class:`~kycbridge.tracking.store.Store` in a SQLite file (created, mode 0600).

    ``upto``: migrate no further than this schema version (tests of migrations).
    """

    dialect = "sqlite"

    def __init__(self, path: str, *, upto: int | None = None) -> None:
        super().__init__()
        self.path = os.path.abspath(path)
        self.url = f"sqlite:///{self.path}"
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        directory = os.path.dirname(self.path)
        if directory:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        if not os.path.exists(self.path):
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        self._conn().execute("PRAGMA journal_mode=WAL")
        self.migrate(upto=upto)
        self._load_key()

    def __repr__(self) -> str:
        return f"<SQLiteStore {self.path}>"

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self._closed:
            raise InvalidQuery("the tracking store is closed")
        try:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise InvalidQuery(f"cannot open the SQLite database {self.path}: {exc}") from None
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
        conn.execute("PRAGMA synchronous=NORMAL")
        self._local.conn = conn
        with self._lock:
            self._all.append(conn)
        return conn

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        conn = self._conn()
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            conn.rollback()
            raise
        else:
            conn.commit()
        finally:
            cur.close()

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Cursor]:
        cur = self._conn().cursor()
        try:
            yield cur
        finally:
            cur.close()

    def _insert(self, cur: Any, text: str, params: Sequence[Any]) -> int:
        cur.execute(text, tuple(params))
        return int(cur.lastrowid)

    def _claim_rows(
        self, cur: Any, owner: str, now: float, expires: float, limit: int
    ) -> list[Sequence[Any]]:
        ids = [
            row[0]
            for row in cur.execute(
                "SELECT id FROM subjects WHERE next_check IS NOT NULL AND next_check <= ?"
                " AND (lease_expires IS NULL OR lease_expires <= ?)"
                " ORDER BY next_check, id LIMIT ?",
                (now, now, limit),
            ).fetchall()
        ]
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        cur.execute(
            f"UPDATE subjects SET lease_owner = ?, lease_expires = ? WHERE id IN ({marks})",
            (owner, expires, *ids),
        )
        rows: list[Sequence[Any]] = cur.execute(
            f"SELECT {SUBJECT_COLUMNS} FROM subjects WHERE id IN ({marks})", tuple(ids)
        ).fetchall()
        return rows

    def _after_forget(self) -> None:
        """VACUUM, then fold the WAL into the file and truncate it: no copy of the old pages."""
        conn = self._conn()
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        """Close every thread's connection."""
        self._closed = True
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()
