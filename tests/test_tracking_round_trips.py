"""Round trips to PostgreSQL per claim and per record, counted so they cannot creep back.

Each statement sent (and each BEGIN and COMMIT) is one round trip. The store is the real
:class:`PostgresStore` on the test server; only its cursors are wrapped to log what they send.
A worker's poll, given the subject as claimed, is one statement (``WITH s AS (UPDATE ...),
o AS (INSERT ...)``); a record without it (a webhook, a manual record) or whose subject
changed since the claim locks the row and reads it first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from tracking_support import TEN_SUBJECTS, FakeClock, pg_schema_url

from kycbridge.sandbox import Sandbox
from kycbridge.tracking import Policy, Subject, Tracker
from kycbridge.tracking.postgres import PostgresStore

T0 = 1_800_000_000.0


class LoggingCursor:
    """A cursor that appends the first words of each statement it runs to ``sent``."""

    def __init__(self, cur: Any, sent: list[str]) -> None:
        self._cur = cur
        self._sent = sent

    def execute(self, text: str, params: Any = None) -> Any:
        self._sent.append(" ".join(text.split()[:2]))
        self._cur.execute(text, params)
        return self

    def executemany(self, text: str, params: Any, **kwargs: Any) -> Any:
        params = list(params)
        self._sent.append(f"{len(params)} x {' '.join(text.split()[:2])}, pipelined")
        self._cur.executemany(text, params, **kwargs)
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)


class CountingStore(PostgresStore):
    """A PostgresStore that logs each round trip of its transactions and reads."""

    sent: list[str]

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Any]:
        self.sent.append("BEGIN")
        with super()._transaction() as cur:
            yield LoggingCursor(cur, self.sent)
        self.sent.append("COMMIT")

    @contextlib.contextmanager
    def _read(self) -> Iterator[Any]:
        with super()._read() as cur:
            yield LoggingCursor(cur, self.sent)


@pytest.fixture
def store() -> Iterator[CountingStore]:
    for url in pg_schema_url():
        CountingStore.sent = []
        s = CountingStore(url)
        try:
            yield s
        finally:
            s.close()


def report(state: str, raw: str | None = None) -> dict[str, Any]:
    return {"provider": "starkfi", "state": state, "raw_status": raw or state, "final": False}


def later(_before: Subject, _changed: bool) -> float:
    return T0 + 600


def sent_by(store: CountingStore, action: Any) -> list[str]:
    store.sent.clear()
    action()
    return list(store.sent)


def test_a_claim_is_one_statement(store: CountingStore) -> None:
    store.add("starkfi", {"user_id": "u-1"}, "u-1", now=T0)
    sent = sent_by(store, lambda: store.claim("w1", now=T0, lease=60, limit=10))
    assert sent == ["UPDATE subjects"]


def test_a_poll_as_claimed_is_one_statement(store: CountingStore) -> None:
    s = store.add("starkfi", {"user_id": "u-1"}, "u-1", now=T0)
    (claimed,) = store.claim("w1", now=T0, lease=60, limit=10)
    recorded: list[Any] = []
    sent = sent_by(
        store,
        lambda: recorded.append(
            store.record(
                s.id,
                report("in_review"),
                now=T0 + 1,
                owner="w1",
                next_check=later,
                expected=claimed,
            )
        ),
    )
    assert sent == ["WITH s"]
    # ...and what comes back is what the database holds.
    (done,) = recorded
    assert done.transition and done.observation is not None
    assert done.subject == store.get(s.id)
    assert done.observation == store.history(s.id)[-1]
    assert done.subject.lease_owner is None and done.subject.next_check.timestamp() == T0 + 600


def test_an_unchanged_poll_as_claimed_is_one_statement(store: CountingStore) -> None:
    s = store.add("starkfi", {"user_id": "u-1"}, "u-1", now=T0)
    store.record(s.id, report("in_review"), now=T0 + 1)
    (claimed,) = store.claim("w1", now=T0, lease=60, limit=10)
    recorded: list[Any] = []
    sent = sent_by(
        store,
        lambda: recorded.append(
            store.record(
                s.id,
                report("in_review"),
                now=T0 + 2,
                owner="w1",
                next_check=later,
                expected=claimed,
            )
        ),
    )
    assert sent == ["WITH s"]
    (done,) = recorded
    assert not done.transition and done.observation is None
    assert done.subject == store.get(s.id) and done.subject.unchanged_polls == 1
    assert len(store.history(s.id)) == 1


def test_a_poll_whose_subject_changed_since_its_claim_falls_back(store: CountingStore) -> None:
    s = store.add("starkfi", {"user_id": "u-1"}, "u-1", now=T0)
    (claimed,) = store.claim("w1", now=T0, lease=60, limit=10)
    store.record(s.id, report("in_review"), now=T0 + 1, source="webhook", event_id="e1")
    sent = sent_by(
        store,
        lambda: store.record(
            s.id, report("approved"), now=T0 + 2, owner="w1", next_check=later, expected=claimed
        ),
    )
    assert sent == ["WITH s", "BEGIN", "SELECT id,", "UPDATE subjects", "INSERT INTO", "COMMIT"]


def test_a_record_without_the_claimed_subject_takes_five_round_trips(
    store: CountingStore,
) -> None:
    s = store.add("starkfi", {"user_id": "u-1"}, "u-1", now=T0)
    store.claim("w1", now=T0, lease=60, limit=10)
    recorded: list[Any] = []
    sent = sent_by(
        store,
        lambda: recorded.append(
            store.record(s.id, report("in_review"), now=T0 + 1, owner="w1", next_check=later)
        ),
    )
    assert sent == ["BEGIN", "SELECT id,", "UPDATE subjects", "INSERT INTO", "COMMIT"]
    (done,) = recorded
    assert done.subject == store.get(s.id)
    assert done.observation == store.history(s.id)[-1]


def test_an_unchanged_record_without_it_takes_four(store: CountingStore) -> None:
    s = store.add("starkfi", {"user_id": "u-1"}, "u-1", now=T0)
    store.record(s.id, report("in_review"), now=T0 + 1)
    store.claim("w1", now=T0, lease=60, limit=10)
    sent = sent_by(
        store,
        lambda: store.record(s.id, report("in_review"), now=T0 + 2, owner="w1", next_check=later),
    )
    assert sent == ["BEGIN", "SELECT id,", "UPDATE subjects", "COMMIT"]


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        (1, ["UPDATE subjects", "WITH s", "WITH s", "WITH s", "UPDATE subjects"]),
        (None, ["UPDATE subjects", "BEGIN", "3 x WITH s, pipelined", "COMMIT", "UPDATE subjects"]),
    ],
)
def test_a_worker_sends_one_statement_per_poll(
    store: CountingStore, group: int | None, expected: list[str]
) -> None:
    """Through the scheduler: a claim, one statement per subject, then an empty claim.

    Each in autocommit with ``group=1``; by default, the three in one transaction, together.
    """
    policy = Policy(jitter=0.0, lease=60)
    options = {} if group is None else {"group": group}
    with Sandbox.from_installed() as sandbox, sandbox.bridge() as bridge:
        tracker = Tracker(bridge=bridge, policy=policy, clock=FakeClock(), store=store, **options)
        for name in ("approved", "declined", "abandoned"):
            tracker.add("starkfi", email=f"{name}@sandbox.starkfi.test")
        sent = sent_by(store, lambda: tracker.run_once())
    assert sent == expected
    polled = store.subjects()
    assert len(polled) == 3 and all(len(store.history(s.id)) == 1 for s in polled)
    assert all(s.state is not None and s.lease_owner is None and not s.failures for s in polled)


def test_an_event_adds_its_duplicate_check(store: CountingStore) -> None:
    s = store.add("starkfi", {"user_id": "u-1"}, "u-1", now=T0)
    sent = sent_by(
        store,
        lambda: store.record(
            s.id, report("in_review"), now=T0 + 1, source="webhook", event_id="e1"
        ),
    )
    assert sent == ["BEGIN", "SELECT id,", "SELECT 1", "UPDATE subjects", "INSERT INTO", "COMMIT"]
    again = sent_by(
        store,
        lambda: store.record(s.id, report("approved"), now=T0 + 2, source="webhook", event_id="e1"),
    )
    assert again == ["BEGIN", "SELECT id,", "SELECT 1", "COMMIT"]


def test_the_schedule_folded_into_the_update_keeps_its_rules(store: CountingStore) -> None:
    """No owner: next_check set, lease kept; a stale owner: neither touched; no next_check: kept."""
    s = store.add("starkfi", {"user_id": "u-1"}, "u-1", now=T0)
    store.claim("w1", now=T0, lease=60, limit=1)
    webhook = store.record(s.id, report("in_review"), now=T0 + 1, next_check=later)
    assert webhook.subject.next_check.timestamp() == T0 + 600
    assert webhook.subject.lease_owner == "w1"
    stale = store.record(
        s.id, report("approved"), now=T0 + 2, owner="w2", next_check=lambda b, c: T0 + 9
    )
    assert stale.transition and stale.subject.next_check.timestamp() == T0 + 600
    assert stale.subject.lease_owner == "w1"
    released = store.record(s.id, report("approved"), now=T0 + 3, owner="w1")
    assert released.subject.lease_owner is None and released.subject.lease_expires is None
    assert released.subject.next_check.timestamp() == T0 + 600


def test_a_group_of_ten_polls_is_one_commit(store: CountingStore) -> None:
    """``group=10``: the claim, then BEGIN, the ten polls' statements together, one COMMIT."""
    from kycbridge.tracking import Scheduler

    policy = Policy(jitter=0.0, lease=60)
    with Sandbox.from_installed() as sandbox, sandbox.bridge() as bridge:
        for local in TEN_SUBJECTS:
            email = f"{local}@sandbox.starkfi.test"
            store.add("starkfi", {"email": email}, email, now=T0)
        scheduler = Scheduler(store, bridge, policy=policy, clock=FakeClock(T0), group=10)
        sent = sent_by(store, lambda: scheduler.poll_due())
    assert sent == ["UPDATE subjects", "BEGIN", "10 x WITH s, pipelined", "COMMIT"]
    polled = store.subjects()
    assert len(polled) == 10 and all(len(store.history(s.id)) == 1 for s in polled)
    assert all(s.state is not None and s.lease_owner is None and not s.failures for s in polled)


def test_a_group_sends_its_ten_statements_without_waiting_between_them(tmp_path: Any) -> None:
    """On the wire (libpq's trace): the ten statements go out before any result comes back.

    Every ``Sync`` (extended protocol) or ``Query`` (BEGIN, COMMIT) is a point where the
    client waits for the server to be ready again: the claim, BEGIN, the ten polls, COMMIT.
    One record at a time would make it 13.
    """
    import psycopg

    from kycbridge.tracking import Scheduler

    trace = tmp_path / "libpq.trace"
    policy = Policy(jitter=0.0, lease=60)
    for url in pg_schema_url():
        store = PostgresStore(url, max_connections=1)  # one connection: all of it is traced
        try:
            for local in TEN_SUBJECTS:
                email = f"{local}@sandbox.starkfi.test"
                store.add("starkfi", {"email": email}, email, now=T0)
            with (
                Sandbox.from_installed() as sandbox,
                sandbox.bridge() as bridge,
                trace.open("w") as out,
            ):
                scheduler = Scheduler(store, bridge, policy=policy, clock=FakeClock(T0), group=10)
                with store._pool.connection() as conn:
                    conn.pgconn.trace(out.fileno())
                    conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
                try:
                    assert scheduler.poll_due() == 10
                finally:
                    with store._pool.connection() as conn:
                        conn.pgconn.untrace()
            assert all(len(store.history(s.id)) == 1 for s in store.subjects())
        finally:
            store.close()
    sent = [line.split()[2] for line in trace.read_text().splitlines() if line.startswith("F")]
    assert sent.count("Execute") == 11  # the claim and ten polls
    waits = [m for m in sent if m in ("Sync", "Query")]
    assert len(waits) == 4, sent
    last_poll = len(sent) - 1 - sent[::-1].index("Execute")
    assert "Sync" not in sent[sent.index("Query") : last_poll]  # nothing awaited in between
