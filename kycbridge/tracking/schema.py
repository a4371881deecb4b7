"""The tracking schema, as data: each version's SQL, per backend.

A database records the versions applied in ``schema_version``. Opening a store applies the
missing versions in order, each in its own transaction (PostgreSQL: under an advisory lock,
so workers starting together migrate once). A new version is a new entry in
:data:`MIGRATIONS` for every backend; released versions are never edited.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["LATEST", "MIGRATIONS", "VERSION_TABLE"]

VERSION_TABLE = {
    "sqlite": (
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
    ),
    "postgresql": (
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version integer PRIMARY KEY, applied_at double precision NOT NULL)"
    ),
}
"""The table holding the applied versions, created before any migration."""

_SQLITE_V1: Sequence[str] = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE subjects (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        provider TEXT NOT NULL,
        query_json TEXT NOT NULL,
        subject_masked TEXT,
        subject_hash TEXT,
        state TEXT,
        raw_status TEXT,
        final INTEGER NOT NULL DEFAULT 0,
        anomaly INTEGER NOT NULL DEFAULT 0,
        blocklisted INTEGER NOT NULL DEFAULT 0,
        first_seen REAL NOT NULL,
        last_observed REAL,
        last_changed REAL,
        next_check REAL,
        failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        unchanged_polls INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_expires REAL,
        forgotten INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE UNIQUE INDEX subjects_hash ON subjects (provider, subject_hash)"
    " WHERE subject_hash IS NOT NULL",
    "CREATE INDEX subjects_due ON subjects (next_check) WHERE next_check IS NOT NULL",
    "CREATE INDEX subjects_state ON subjects (state)",
    """CREATE TABLE observations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        subject_id INTEGER NOT NULL REFERENCES subjects (id),
        provider TEXT NOT NULL,
        at REAL NOT NULL,
        source TEXT NOT NULL,
        old_state TEXT,
        new_state TEXT NOT NULL,
        raw_status TEXT,
        anomaly INTEGER NOT NULL DEFAULT 0,
        blocklisted INTEGER NOT NULL DEFAULT 0,
        event_id TEXT,
        report_json TEXT
    )""",
    "CREATE UNIQUE INDEX observations_event ON observations (provider, event_id)"
    " WHERE event_id IS NOT NULL",
    "CREATE INDEX observations_subject ON observations (subject_id, id)",
    "CREATE INDEX observations_at ON observations (at)",
)

_POSTGRES_V1: Sequence[str] = (
    "CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL)",
    """CREATE TABLE subjects (
        id bigserial PRIMARY KEY,
        provider text NOT NULL,
        query_json text NOT NULL,
        subject_masked text,
        subject_hash text,
        state text,
        raw_status text,
        final boolean NOT NULL DEFAULT false,
        anomaly boolean NOT NULL DEFAULT false,
        blocklisted boolean NOT NULL DEFAULT false,
        first_seen double precision NOT NULL,
        last_observed double precision,
        last_changed double precision,
        next_check double precision,
        failures integer NOT NULL DEFAULT 0,
        last_error text,
        unchanged_polls integer NOT NULL DEFAULT 0,
        lease_owner text,
        lease_expires double precision,
        forgotten boolean NOT NULL DEFAULT false
    )""",
    "CREATE UNIQUE INDEX subjects_hash ON subjects (provider, subject_hash)"
    " WHERE subject_hash IS NOT NULL",
    "CREATE INDEX subjects_due ON subjects (next_check) WHERE next_check IS NOT NULL",
    "CREATE INDEX subjects_state ON subjects (state)",
    """CREATE TABLE observations (
        id bigserial PRIMARY KEY,
        subject_id bigint NOT NULL REFERENCES subjects (id),
        provider text NOT NULL,
        at double precision NOT NULL,
        source text NOT NULL,
        old_state text,
        new_state text NOT NULL,
        raw_status text,
        anomaly boolean NOT NULL DEFAULT false,
        blocklisted boolean NOT NULL DEFAULT false,
        event_id text,
        report_json text
    )""",
    "CREATE UNIQUE INDEX observations_event ON observations (provider, event_id)"
    " WHERE event_id IS NOT NULL",
    "CREATE INDEX observations_subject ON observations (subject_id, id)",
    "CREATE INDEX observations_at ON observations (at)",
)

MIGRATIONS: Mapping[str, Mapping[int, Sequence[str]]] = {
    "sqlite": {1: _SQLITE_V1},
    "postgresql": {1: _POSTGRES_V1},
}
"""Backend -> version -> the statements that bring a database from the version before."""

LATEST = max(MIGRATIONS["sqlite"])
"""The schema version this code writes."""

assert set(MIGRATIONS["sqlite"]) == set(MIGRATIONS["postgresql"])
