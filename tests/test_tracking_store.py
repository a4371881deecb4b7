"""One contract for both tracking stores: SQLite and PostgreSQL (the real server)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from tracking_support import pg_schema_url

from kycbridge.errors import InvalidQuery
from kycbridge.states import KYCState
from kycbridge.tracking import DuplicateSubject, Store, open_store
from kycbridge.tracking.postgres import PostgresStore
from kycbridge.tracking.schema import LATEST, MIGRATIONS
from kycbridge.tracking.sqlite import SQLiteStore, sqlite_path
from kycbridge.tracking.store import Poll, from_epoch

EMAIL = "jane.doe.private@example.com"
T0 = 1_800_000_000.0


def report(state: str, raw: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "provider": "starkfi",
        "state": state,
        "raw_status": raw or state,
        "final": KYCState(state).final,
        "approved": state == "approved",
        "observed_at": "2027-01-15T08:00:00Z",
        "subject": EMAIL,
        "blocklisted": extra.pop("blocklisted", False),
        "anomaly": False,
        "details": {"ip_info": {"ip": "203.0.113.77"}},
        "raw": {"data": {"email": EMAIL, "ip": "203.0.113.77"}},
        **extra,
    }


def later(seconds: float):  # a next_check callback: always `seconds` after the record
    return lambda before, changed: T0 + seconds


class StoreContract:
    """What every :class:`~kycbridge.tracking.Store` must do. Subclasses give ``url``."""

    @pytest.fixture
    def url(self) -> Iterator[str]:
        raise NotImplementedError

    @pytest.fixture
    def store(self, url: str) -> Iterator[Store]:
        store = open_store(url)
        yield store
        store.close()

    def make(self, url: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    # -- schema ---------------------------------------------------------------------------
    def test_new_database_is_at_the_latest_version(self, store: Store) -> None:
        assert isinstance(store, Store)
        assert store.schema_version() == LATEST

    def test_reopening_migrates_nothing_and_keeps_the_key(self, url: str, store: Store) -> None:
        store.add("starkfi", {"email": EMAIL}, EMAIL, now=T0)
        again = open_store(url)
        try:
            assert again.schema_version() == LATEST
            assert again.find("starkfi", EMAIL) is not None  # same HMAC key
        finally:
            again.close()

    def test_every_earlier_version_migrates_to_the_latest(self, url: str) -> None:
        for version in range(1, LATEST):
            old = self.make(url, upto=version)
            assert old.schema_version() == version
            old.close()
        opened = open_store(url)
        assert opened.schema_version() == LATEST
        opened.close()

    def test_a_further_version_is_applied_on_open(self, url: str) -> None:
        """The mechanism, with a test-only v2 on top of a database created at v1."""
        first = self.make(url, upto=1)
        first.add("starkfi", {"email": EMAIL}, EMAIL, now=T0)
        assert first.schema_version() == 1
        steps = {
            **MIGRATIONS[first.dialect],
            LATEST + 1: (
                "ALTER TABLE subjects ADD COLUMN note TEXT",
                "UPDATE subjects SET note = 'migrated'",
            ),
        }
        assert first.migrate(steps) == LATEST + 1
        assert first.migrate(steps) == LATEST + 1  # applied once
        with first._read() as cur:
            rows = first._exec(cur, "SELECT note FROM subjects").fetchall()
        assert [r[0] for r in rows] == ["migrated"]
        first.close()

    # -- subjects -------------------------------------------------------------------------
    def test_add_get_find(self, store: Store) -> None:
        added = store.add("starkfi", {"email": EMAIL}, EMAIL, now=T0)
        assert added.state is None and added.subject_masked != EMAIL
        assert added.next_check is not None and added.next_check.timestamp() == T0
        assert added.first_seen.timestamp() == T0
        assert dict(added.query) == {"email": EMAIL}
        assert EMAIL not in repr(added)
        assert store.get(added.id) == added
        assert store.find("starkfi", EMAIL) == added
        assert store.find("transak", EMAIL) is None
        assert store.get(added.id + 1000) is None
        assert store.count() == 1

    def test_duplicates_are_refused_by_keyed_hash(self, store: Store) -> None:
        first = store.add("starkfi", {"email": EMAIL}, EMAIL, now=T0)
        with pytest.raises(DuplicateSubject) as caught:
            store.add("starkfi", {"email": EMAIL}, EMAIL, now=T0)
        assert caught.value.existing == first.id and caught.value.exit_code == 2
        assert EMAIL not in str(caught.value)
        store.add("transak", {"work_flow_run_id": EMAIL}, EMAIL, now=T0)  # another provider
        assert store.count() == 2

    def test_list_filters(self, store: Store) -> None:
        a = store.add("starkfi", {"email": "a@example.com"}, "a@example.com", now=T0)
        b = store.add("starkfi", {"email": "b@example.com"}, "b@example.com", now=T0)
        c = store.add("transak", {"work_flow_run_id": "wfr-1"}, "wfr-1", now=T0)
        store.record(a.id, report("in_review"), now=T0 + 10)
        store.record(b.id, report("approved"), now=T0 + 100)
        assert [s.id for s in store.subjects()] == [a.id, b.id, c.id]
        assert [s.id for s in store.subjects(state=KYCState.IN_REVIEW)] == [a.id]
        assert [s.id for s in store.subjects(provider="transak")] == [c.id]
        assert [s.id for s in store.subjects(observed_before=T0 + 50)] == [a.id, c.id]
        assert len(store.subjects(limit=2)) == 2

    # -- claims ---------------------------------------------------------------------------
    def test_claim_leases_due_subjects_once(self, store: Store) -> None:
        ids = [
            store.add("starkfi", {"email": f"u{i}@example.com"}, f"u{i}@example.com", now=T0 + i).id
            for i in range(5)
        ]
        assert store.claim("w1", now=T0 - 1, lease=60, limit=10) == []  # none due yet
        first = store.claim("w1", now=T0 + 10, lease=60, limit=3)
        assert [s.id for s in first] == ids[:3]  # the most overdue first
        assert all(s.lease_owner == "w1" and s.lease_expires.timestamp() == T0 + 70 for s in first)
        second = store.claim("w2", now=T0 + 10, lease=60, limit=10)
        assert [s.id for s in second] == ids[3:]
        assert store.claim("w3", now=T0 + 69, lease=60, limit=10) == []  # all leased
        store.release([ids[0]], "someone-else")  # not theirs: kept
        store.release([ids[0]], "w1")
        assert [s.id for s in store.claim("w3", now=T0 + 20, lease=60, limit=10)] == [ids[0]]
        expired = store.claim("w4", now=T0 + 70, lease=60, limit=10)  # leases ran out
        assert sorted(s.id for s in expired) == ids[1:]

    def test_concurrent_claims_never_share_a_subject(self, store: Store) -> None:
        for i in range(40):
            store.add("starkfi", {"email": f"c{i}@example.com"}, f"c{i}@example.com", now=T0)
        got: dict[str, list[int]] = {}

        def claimer(name: str) -> None:
            mine: list[int] = []
            while batch := store.claim(name, now=T0, lease=600, limit=3):
                mine += [s.id for s in batch]
            got[name] = mine

        threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        everything = [i for ids in got.values() for i in ids]
        assert sorted(everything) == sorted(set(everything)) and len(everything) == 40

    # -- records --------------------------------------------------------------------------
    def test_record_history_and_schedule(self, store: Store) -> None:
        s = store.add("starkfi", {"email": EMAIL}, EMAIL, now=T0)
        store.claim("w1", now=T0, lease=60, limit=1)
        seen: list[tuple[int, bool]] = []

        def decide(before: Any, changed: bool) -> float:
            seen.append((before.unchanged_polls, changed))
            return T0 + 600

        first = store.record(
            s.id, report("in_review", "In Review"), now=T0 + 1, owner="w1", next_check=decide
        )
        assert first.transition and first.observation is not None
        assert first.observation.old_state is None
        assert first.observation.new_state is KYCState.IN_REVIEW
        assert first.observation.at.timestamp() == T0 + 1
        assert (
            first.subject.lease_owner is None and first.subject.next_check.timestamp() == T0 + 600
        )
        assert first.subject.last_changed.timestamp() == T0 + 1
        same = store.record(s.id, report("in_review", "In Review"), now=T0 + 2, next_check=decide)
        assert not same.transition and same.observation is None
        assert (
            same.subject.unchanged_polls == 1 and same.subject.last_observed.timestamp() == T0 + 2
        )
        assert same.subject.last_changed.timestamp() == T0 + 1
        word = store.record(s.id, report("in_review", "Under Review"), now=T0 + 3)
        assert not word.transition and word.observation is not None  # raw word changed
        back = store.record(s.id, report("not_started"), now=T0 + 4)
        assert back.transition and back.observation.anomaly and back.subject.anomaly
        assert back.observation.report["anomaly"] is True
        done = store.record(s.id, report("approved"), now=T0 + 5, next_check=lambda b, c: None)
        assert done.subject.final and done.subject.next_check is None
        states = [(o.old_state, o.new_state) for o in store.history(s.id)]
        assert states == [
            (None, KYCState.IN_REVIEW),
            (KYCState.IN_REVIEW, KYCState.IN_REVIEW),
            (KYCState.IN_REVIEW, KYCState.NOT_STARTED),
            (KYCState.NOT_STARTED, KYCState.APPROVED),
        ]
        assert seen == [(0, True), (0, False)]

    def test_a_worker_that_lost_its_lease_does_not_touch_the_schedule(self, store: Store) -> None:
        s = store.add("starkfi", {"email": EMAIL}, EMAIL, now=T0)
        store.claim("w1", now=T0, lease=10, limit=1)
        store.claim("w2", now=T0 + 20, lease=10, limit=1)  # w1's lease expired
        late = store.record(
            s.id, report("in_review"), now=T0 + 21, owner="w1", next_check=later(999)
        )
        assert late.transition  # the observation still counts...
        assert late.subject.lease_owner == "w2"  # ...but w2 keeps the lease and schedule
        assert late.subject.next_check.timestamp() == T0

    def test_a_transition_seen_by_many_workers_is_recorded_once(self, store: Store) -> None:
        s = store.add("starkfi", {"email": EMAIL}, EMAIL, now=T0)
        store.record(s.id, report("in_review"), now=T0)
        results: list[Any] = []
        lock = threading.Lock()
        start = threading.Barrier(6)

        def worker() -> None:
            start.wait()
            r = store.record(s.id, report("approved"), now=T0 + 1)
            with lock:
                results.append(r)

        threads = [threading.Thread(target=worker) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(r.transition for r in results) == 1
        assert sum(r.observation is not None for r in results) == 1
        assert [o.new_state for o in store.history(s.id)] == [KYCState.IN_REVIEW, KYCState.APPROVED]

    def test_records_as_claimed_end_as_locked_records_do(self, store: Store) -> None:
        """``expected`` (the subject as claimed) changes how a store writes, never what."""
        plain = store.add("starkfi", {"email": "a@x.test"}, "a@x.test", now=T0)
        fast = store.add("starkfi", {"email": "b@x.test"}, "b@x.test", now=T0)
        seen: dict[int, list[tuple[int, int, bool]]] = {plain.id: [], fast.id: []}

        def decide(before: Any, changed: bool) -> float:
            seen[before.id].append((before.unchanged_polls, before.failures, changed))
            return T0 + before.unchanged_polls  # due again at once

        steps = [
            report("in_review", "In Review"),
            report("in_review", "In Review"),
            report("in_review", "In Review"),
            report("in_review", "Under Review", blocklisted=True),
            report("not_started"),
            report("approved"),
        ]
        for n, step in enumerate(steps):
            now = T0 + 10 * (n + 1)
            if n == 2:  # a failure in between: failures counted, then reset
                for sid in (plain.id, fast.id):
                    store.record_failure(
                        sid, "unavailable", now=now - 1, owner=None, next_check=lambda b: now
                    )
            claimed = store.claim("w1", now=now, lease=60, limit=10)
            assert {c.id for c in claimed} == {plain.id, fast.id}
            ahead = next(c for c in claimed if c.id == fast.id)
            a = store.record(plain.id, step, now=now, owner="w1", next_check=decide)
            b = store.record(fast.id, step, now=now, owner="w1", next_check=decide, expected=ahead)
            assert a.transition == b.transition
            assert (a.observation is None) == (b.observation is None)
            assert b.subject == store.get(fast.id)
            if b.observation is not None:
                assert b.observation == store.history(fast.id)[-1]
            same = ("id", "provider", "query", "subject_masked", "subject_hash")
            assert {k: v for k, v in attrs.asdict(a.subject).items() if k not in same} == {
                k: v for k, v in attrs.asdict(b.subject).items() if k not in same
            }
        assert seen[plain.id] == seen[fast.id]
        drop = ("id", "subject_id")
        assert [
            {k: v for k, v in attrs.asdict(o).items() if k not in drop}
            for o in store.history(plain.id)
        ] == [
            {k: v for k, v in attrs.asdict(o).items() if k not in drop}
            for o in store.history(fast.id)
        ]

    def test_a_stale_expected_subject_is_read_again(self, store: Store) -> None:
        """A webhook recorded between claim and poll: the poll compares with what it wrote."""
        s = store.add("starkfi", {"email": EMAIL}, EMAIL, now=T0)
        (claimed,) = store.claim("w1", now=T0, lease=60, limit=1)
        store.record(s.id, report("in_review"), now=T0 + 1, source="webhook", event_id="e1")
        befores: list[Any] = []

        def decide(before: Any, changed: bool) -> float:
            befores.append(before)
            return T0 + 600

        late = store.record(
            s.id,
            report("not_started"),
            now=T0 + 2,
            owner="w1",
            next_check=decide,
            expected=claimed,
        )
        assert late.transition and late.observation is not None
        assert late.observation.old_state is KYCState.IN_REVIEW  # not the claimed None
        assert late.observation.anomaly and late.subject.anomaly
        assert befores[-1].state is KYCState.IN_REVIEW
        assert late.subject.lease_owner is None and late.subject.next_check.timestamp() == T0 + 600
        assert [o.new_state for o in store.history(s.id)] == [
            KYCState.IN_REVIEW,
            KYCState.NOT_STARTED,
        ]

    def test_a_transition_seen_by_many_claimants_is_recorded_once(self, store: Store) -> None:
        s = store.add("starkfi", {"email": EMAIL}, EMAIL, now=T0)
        store.record(s.id, report("in_review"), now=T0)
        (claimed,) = store.claim("w1", now=T0, lease=60, limit=1)
        results: list[Any] = []
        lock = threading.Lock()
        start = threading.Barrier(6)

        def worker() -> None:
            start.wait()
            r = store.record(
                s.id,
                report("approved"),
                now=T0 + 1,
                owner="w1",
                expected=claimed,
                next_check=later(600),
            )
            with lock:
                results.append(r)

        threads = [threading.Thread(target=worker) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(r.transition for r in results) == 1
        assert sum(r.observation is not None for r in results) == 1
        assert [o.new_state for o in store.history(s.id)] == [KYCState.IN_REVIEW, KYCState.APPROVED]
        assert store.get(s.id).unchanged_polls == 5  # the other five: unchanged polls

    def test_a_subject_forgotten_after_its_claim_is_not_written(self, store: Store) -> None:
        s = store.add("starkfi", {"email": EMAIL}, EMAIL, now=T0)
        (claimed,) = store.claim("w1", now=T0, lease=60, limit=1)
        assert store.forget(s.id)
        r = store.record(
            s.id,
            report("in_review"),
            now=T0 + 1,
            owner="w1",
            next_check=later(600),
            expected=claimed,
        )
        assert r.observation is None and not r.transition
        assert r.subject.forgotten and r.subject.state is None and r.subject.next_check is None
        assert store.history(s.id) == []

    def test_a_claimant_that_lost_its_lease_does_not_touch_the_schedule(self, store: Store) -> None:
        s = store.add("starkfi", {"email": EMAIL}, EMAIL, now=T0)
        (claimed,) = store.claim("w1", now=T0, lease=10, limit=1)
        store.claim("w2", now=T0 + 20, lease=10, limit=1)  # w1's lease expired
        late = store.record(
            s.id,
            report("in_review"),
            now=T0 + 21,
            owner="w1",
            next_check=later(999),
            expected=claimed,
        )
        assert late.transition and late.observation is not None
        assert late.subject.lease_owner == "w2"
        assert late.subject.next_check.timestamp() == T0

    # -- group commit ---------------------------------------------------------------------
    def test_records_in_a_group_end_as_standalone_records_do(self, store: Store) -> None:
        """Claimed polls, a stale claim, a failure: the same results, visible at the commit."""
        alone = [store.add("starkfi", {"n": i}, f"a{i}@x.test", now=T0) for i in range(4)]
        grouped = [store.add("starkfi", {"n": i}, f"g{i}@x.test", now=T0) for i in range(4)]
        for s in (alone[1], grouped[1]):  # seen before: the group's poll is unchanged
            store.record(s.id, report("in_review"), now=T0)
        claimed = {c.id: c for c in store.claim("w1", now=T0, lease=60, limit=10)}
        for s in (alone[2], grouped[2]):  # a webhook after the claim: the claim is stale
            store.record(
                s.id, report("in_review"), now=T0 + 1, source="webhook", event_id=str(s.id)
            )
        seen: list[tuple[int, bool]] = []

        def decide(before: Any, changed: bool) -> float:
            seen.append((before.unchanged_polls, changed))
            return T0 + 600

        def poll(subjects: list[Any]) -> list[Any]:
            done: list[Any] = []
            for s, state in zip(subjects[:3], ("in_review", "in_review", "approved")):
                done.append(
                    store.record(
                        s.id,
                        report(state),
                        now=T0 + 2,
                        owner="w1",
                        next_check=decide,
                        expected=claimed[s.id],
                    )
                )
            done.append(
                store.record_failure(
                    subjects[3].id,
                    "unavailable",
                    now=T0 + 2,
                    owner="w1",
                    next_check=lambda b: T0 + 30,
                )
            )
            return done

        a = poll(alone)
        others: list[Any] = []
        with store.group():
            b = poll(grouped)
            # another thread (another connection) sees nothing of the group yet
            reader = threading.Thread(
                target=lambda: others.extend(store.get(s.id) for s in grouped)
            )
            reader.start()
            reader.join()
        assert [o.lease_owner for o in others] == ["w1"] * 4
        assert [o.last_observed for o in others][2:] == [from_epoch(T0 + 1), None]
        assert seen[: len(seen) // 2] == seen[len(seen) // 2 :]
        for x, y, s in zip(a, b, grouped):
            if hasattr(x, "transition"):
                assert (x.transition, x.observation is None) == (
                    y.transition,
                    y.observation is None,
                )
                assert y.subject == store.get(s.id)
                x, y = x.subject, y.subject
            else:
                assert y == store.get(s.id)
            same = ("id", "provider", "query", "subject_masked", "subject_hash")
            assert {k: v for k, v in attrs.asdict(x).items() if k not in same} == {
                k: v for k, v in attrs.asdict(y).items() if k not in same
            }
        drop = ("id", "subject_id", "event_id", "report")
        for x, y in zip(alone, grouped):
            assert [
                {k: v for k, v in attrs.asdict(o).items() if k not in drop}
                for o in store.history(x.id)
            ] == [
                {k: v for k, v in attrs.asdict(o).items() if k not in drop}
                for o in store.history(y.id)
            ]

    def test_a_transition_racing_a_group_is_recorded_once(self, store: Store) -> None:
        """A webhook while a worker's group holds the subject: one of the two records it."""
        s = store.add("starkfi", {"email": EMAIL}, EMAIL, now=T0)
        store.record(s.id, report("in_review"), now=T0)
        (claimed,) = store.claim("w1", now=T0, lease=60, limit=1)
        results: list[Any] = []
        recorded = threading.Event()

        def webhook() -> None:
            recorded.wait()
            results.append(
                store.record(s.id, report("approved"), now=T0 + 1, source="webhook", event_id="e")
            )

        racer = threading.Thread(target=webhook)
        racer.start()
        with store.group():
            results.append(
                store.record(
                    s.id,
                    report("approved"),
                    now=T0 + 1,
                    owner="w1",
                    next_check=later(600),
                    expected=claimed,
                )
            )
            recorded.set()  # the webhook now waits for the group's commit (or comes after it)
        racer.join()
        assert sum(r.transition for r in results) == 1
        assert [o.new_state for o in store.history(s.id) if o.old_state != o.new_state] == [
            KYCState.IN_REVIEW,
            KYCState.APPROVED,
        ]
        # ...and a webhook recorded between the claim and the group's record wins instead
        t = store.add("starkfi", {"email": "t@x.test"}, "t@x.test", now=T0)
        (claimed,) = store.claim("w1", now=T0, lease=60, limit=1)
        hook = store.record(t.id, report("approved"), now=T0 + 1, source="webhook", event_id="f")
        with store.group():
            late = store.record(t.id, report("approved"), now=T0 + 2, owner="w1", expected=claimed)
        assert hook.transition and not late.transition and late.observation is None
        assert len(store.history(t.id)) == 1

    def test_a_failed_group_writes_nothing(self, store: Store) -> None:
        subjects = [store.add("starkfi", {"n": i}, f"s{i}@x.test", now=T0) for i in range(3)]
        claimed = store.claim("w1", now=T0, lease=60, limit=10)
        before = [store.get(s.id) for s in subjects]

        def poll(c: Any) -> None:
            store.record(c.id, report("in_review"), now=T0 + 1, owner="w1", expected=c)

        with pytest.raises(ZeroDivisionError), store.group():
            for c in claimed[:2]:
                poll(c)
            store.record_failure(
                claimed[2].id, "unavailable", now=T0 + 1, owner="w1", next_check=lambda b: T0
            )
            raise ZeroDivisionError  # the block fails: the group is rolled back
        assert [store.get(s.id) for s in subjects] == before
        assert all(store.history(s.id) == [] for s in subjects)
        # a record that raised inside the group fails the group, even if the error was caught
        with pytest.raises(RuntimeError), store.group():
            poll(claimed[0])
            with pytest.raises(InvalidQuery):
                store.record(10**9, report("in_review"), now=T0 + 1)
        assert store.get(subjects[0].id) == before[0] and store.history(subjects[0].id) == []
        # the store is usable after both, groups do not nest, and a good group commits
        with pytest.raises(InvalidQuery), store.group(), store.group():
            pass
        with store.group():
            for c in claimed:
                poll(c)
        assert all(len(store.history(s.id)) == 1 for s in subjects)
        assert all(store.get(s.id).lease_owner is None for s in subjects)

    # -- a batch of polls (record_polls) ------------------------------------------------
    def _five_cases(self, store: Store) -> tuple[list[Poll], list[Poll]]:
        """Two like sets of five polls: new, unchanged, stale (a webhook after the claim),
        forgotten, and one that lost its lease."""
        sets = [
            [store.add("starkfi", {"n": i}, f"{tag}{i}@x.test", now=T0) for i in range(5)]
            for tag in "ab"
        ]
        for subjects in sets:
            store.record(subjects[1].id, report("in_review"), now=T0)
        claimed = {c.id: c for c in store.claim("w1", now=T0, lease=10, limit=10)}
        assert len(claimed) == 10
        for subjects in sets:
            store.record(
                subjects[2].id,
                report("in_review"),
                now=T0 + 1,
                source="webhook",
                event_id=str(subjects[2].id),
            )
            store.forget(subjects[3].id)
        store.claim("thief", now=T0 + 11, lease=10, limit=10)  # every lease expired: taken
        store.release([s.id for subjects in sets for s in subjects[:4]], "thief")  # 8 back
        states = ("in_review", "in_review", "approved", "in_review", "rejected")
        a, b = (
            [
                Poll(
                    subject=claimed[s.id],
                    report=report(state),
                    now=T0 + 12,
                    owner="w1",
                    next_check=later(600),
                )
                for s, state in zip(subjects, states, strict=True)
            ]
            for subjects in sets
        )
        return a, b

    def _outcome(self, store: Store, recorded: Any) -> Any:
        """What a record did and left, without the ids that differ between two subjects."""
        subject = attrs.asdict(
            recorded.subject,
            filter=lambda a, v: a.name not in ("id", "query", "subject_masked", "subject_hash"),
        )
        subject["lease_owner"] = subject["lease_owner"] and "owner"
        history = [
            {
                k: v
                for k, v in attrs.asdict(o).items()
                if k not in ("id", "subject_id", "event_id", "report")
            }
            for o in store.history(recorded.subject.id)
        ]
        assert recorded.subject == store.get(recorded.subject.id)
        return (recorded.transition, recorded.observation is None, subject, history)

    @pytest.mark.parametrize("in_group", [False, True])
    def test_record_polls_end_as_records_do(self, store: Store, in_group: bool) -> None:
        alone, batch = self._five_cases(store)
        one_by_one = [
            store.record(
                p.subject.id,
                p.report,
                now=p.now,
                owner=p.owner,
                next_check=p.next_check,
                expected=p.subject,
            )
            for p in alone
        ]
        if in_group:
            with store.group():
                together = store.record_polls(batch)
        else:
            together = store.record_polls(batch)
        assert [self._outcome(store, r) for r in together] == [
            self._outcome(store, r) for r in one_by_one
        ]
        # the cases are what they say: a transition, an unchanged poll, a stale claim whose
        # webhook recorded the transition, a forgotten subject, a poll that lost its lease
        assert [r.transition for r in together] == [True, False, True, False, True]
        assert together[2].observation.old_state is KYCState.IN_REVIEW
        assert together[3].subject.forgotten and together[3].observation is None
        assert together[4].subject.lease_owner == "thief"
        assert store.record_polls([]) == []

    def test_record_polls_write_all_or_nothing(self, store: Store) -> None:
        subjects = [store.add("starkfi", {"n": i}, f"s{i}@x.test", now=T0) for i in range(3)]
        claimed = store.claim("w1", now=T0, lease=60, limit=10)
        before = [store.get(s.id) for s in subjects]
        polls = [
            Poll(subject=c, report=report("in_review"), now=T0 + 1, owner="w1") for c in claimed
        ]
        gone = attrs.evolve(claimed[0], id=10**9)
        bad_state = attrs.evolve(polls[2], report=report("in_review") | {"state": "nope"})
        with pytest.raises(ValueError, match="nope"):
            store.record_polls([*polls[:2], bad_state])
        with pytest.raises(InvalidQuery):  # a subject that is not tracked, after two good ones
            store.record_polls([*polls[:2], attrs.evolve(polls[0], subject=gone)])
        assert [store.get(s.id) for s in subjects] == before
        assert all(store.history(s.id) == [] for s in subjects)
        with pytest.raises(RuntimeError), store.group():  # inside a group: the group fails
            with pytest.raises(InvalidQuery):
                store.record_polls([*polls[:2], attrs.evolve(polls[0], subject=gone)])
        assert [store.get(s.id) for s in subjects] == before
        done = store.record_polls(polls)
        assert [r.transition for r in done] == [True] * 3
        assert all(len(store.history(s.id)) == 1 for s in subjects)

    def test_event_ids_make_webhook_records_idempotent(self, store: Store) -> None:
        s = store.add("starkfi", {"email": EMAIL}, EMAIL, now=T0)
        one = store.record(s.id, report("in_review"), now=T0, source="webhook", event_id="ev-1")
        assert one.observation is not None and one.observation.event_id == "ev-1"
        again = store.record(
            s.id, report("in_review"), now=T0 + 1, source="webhook", event_id="ev-1"
        )
        assert again.observation is None and not again.transition
        unchanged = store.record(
            s.id, report("in_review"), now=T0 + 2, source="webhook", event_id="ev-2"
        )
        assert unchanged.observation is not None  # a new event is kept even without change
        assert len(store.history(s.id)) == 2
        with pytest.raises(InvalidQuery):
            store.record(s.id, report("in_review"), now=T0, source="carrier-pigeon")

    def test_record_failure_counts_and_schedules(self, store: Store) -> None:
        s = store.add("starkfi", {"email": EMAIL}, EMAIL, now=T0)
        store.claim("w1", now=T0, lease=60, limit=1)
        failed = store.record_failure(
            s.id,
            "unavailable",
            now=T0 + 1,
            owner="w1",
            next_check=lambda b: T0 + 60 * (b.failures + 1),
        )
        assert failed.failures == 1 and failed.last_error == "unavailable"
        assert failed.next_check.timestamp() == T0 + 60 and failed.lease_owner is None
        again = store.record_failure(
            s.id,
            "not_found",
            now=T0 + 2,
            owner=None,
            next_check=lambda b: T0 + 60 * (b.failures + 1),
        )
        assert again.failures == 2 and again.next_check.timestamp() == T0 + 120
        ok = store.record(s.id, report("in_review"), now=T0 + 3)
        assert ok.subject.failures == 0 and ok.subject.last_error is None

    def test_observations_since_in_pages(self, store: Store) -> None:
        from kycbridge.tracking import _sql

        s = store.add("starkfi", {"email": EMAIL}, EMAIL, now=T0)
        states = ["in_progress", "in_review"] * ((_sql.PAGE // 2) + 5)
        for i, state in enumerate(states):
            store.record(s.id, report(state), now=T0 + i)
        every = list(store.observations())
        assert len(every) == len(states)
        assert next(store.observations(since=T0 + 10)).at.timestamp() == T0 + 10
        assert len(list(store.observations(since=T0 + 10))) == len(states) - 10

    # -- forget ---------------------------------------------------------------------------
    def dump(self, store: Any) -> str:
        """Every value of every table, as text."""
        out = []
        with store._read() as cur:
            for table in ("subjects", "observations", "meta", "schema_version"):
                out += [repr(r) for r in store._exec(cur, f"SELECT * FROM {table}").fetchall()]
        return "\n".join(out)

    def test_forget_erases_personal_data_and_keeps_an_anonymous_history(self, store: Store) -> None:
        s = store.add("starkfi", {"email": EMAIL}, EMAIL, now=T0)
        other = store.add("starkfi", {"email": "keep@example.com"}, "keep@example.com", now=T0)
        store.record(s.id, report("in_review"), now=T0 + 1)
        store.record(s.id, report("approved"), now=T0 + 2)
        assert EMAIL in self.dump(store) and "203.0.113.77" in self.dump(store)
        assert store.forget(s.id) is True
        text = self.dump(store)
        assert EMAIL not in text and "203.0.113.77" not in text
        assert store.subject_hash("starkfi", EMAIL) not in text
        gone = store.get(s.id)
        assert gone.forgotten and gone.subject_masked == "forgotten" and dict(gone.query) == {}
        assert gone.next_check is None and store.find("starkfi", EMAIL) is None
        history = store.history(s.id)
        assert [o.new_state for o in history] == [KYCState.IN_REVIEW, KYCState.APPROVED]
        assert history[-1].report["state"] == "approved"
        assert history[-1].report["raw"] is None and history[-1].report["subject"] is None
        assert store.claim("w", now=T0 + 10**6, lease=1, limit=10)[0].id == other.id
        assert store.record(s.id, report("rejected"), now=T0 + 3).observation is None
        assert store.forget(10**9) is False
        store.add("starkfi", {"email": EMAIL}, EMAIL, now=T0 + 5)  # may be tracked anew


class TestSQLiteStore(StoreContract):
    @pytest.fixture
    def url(self, tmp_path: Path) -> Iterator[str]:
        yield f"sqlite:///{tmp_path / 'tracking.sqlite3'}"

    def make(self, url: str, **kwargs: Any) -> Any:
        return SQLiteStore(sqlite_path(url), **kwargs)

    def test_pragmas_and_file_mode(self, store: Any) -> None:
        conn = store._conn()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
        assert (Path(store.path).stat().st_mode & 0o777) == 0o600

    def test_forgotten_values_are_absent_from_the_file_bytes(self, store: Any) -> None:
        s = store.add("starkfi", {"email": EMAIL}, EMAIL, now=T0)
        for i, state in enumerate(["in_progress", "in_review", "approved"]):
            store.record(s.id, report(state), now=T0 + i)
        store.forget(s.id)
        files = [Path(store.path)] + [Path(store.path + x) for x in ("-wal", "-journal")]
        raw = b"".join(f.read_bytes() for f in files if f.exists())
        assert raw and EMAIL.encode() not in raw and b"203.0.113.77" not in raw

    def test_urls(self, tmp_path: Path) -> None:
        assert sqlite_path("sqlite:///rel/t.db") == "rel/t.db"
        assert sqlite_path("sqlite:////abs/t.db") == "/abs/t.db"
        assert sqlite_path("/plain/t.db") == "/plain/t.db"
        for bad in ("sqlite://", "sqlite:///:memory:", "mysql://x/y"):
            with pytest.raises(InvalidQuery):
                open_store(bad)


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def url(self) -> Iterator[str]:
        yield from pg_schema_url()

    def make(self, url: str, **kwargs: Any) -> Any:
        return PostgresStore(url, **kwargs)

    def test_the_url_shown_has_no_password(self) -> None:
        from kycbridge.tracking.store import redact_url

        assert redact_url("postgresql://kyc:s3cret@db:5432/x") == "postgresql://kyc:***@db:5432/x"
        assert redact_url("postgresql://db/x") == "postgresql://db/x"

    def test_unreachable_server_is_a_typed_error(self) -> None:
        from kycbridge.tracking import StoreUnavailable

        with pytest.raises(StoreUnavailable) as caught:
            PostgresStore("postgresql://kyc:s3cret@127.0.0.1:1/none?connect_timeout=1")
        assert "s3cret" not in str(caught.value)


def test_report_json_round_trips(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "t.db"))
    s = store.add("starkfi", {"email": EMAIL}, EMAIL, now=T0)
    r = report("in_review")
    store.record(s.id, r, now=T0)
    assert json.loads(json.dumps(store.history(s.id)[0].to_dict()))["report"]["raw"] == r["raw"]
    store.close()
