"""The scheduler and the Tracker API over the loopback sandbox, with an injected clock."""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from tracking_support import TEN_SUBJECTS, FakeClock, pg_schema_url

import kycbridge
from kycbridge.sandbox import Sandbox
from kycbridge.states import KYCState
from kycbridge.tracking import DuplicateSubject, Policy, Tracker, open_store
from kycbridge.transport import Transport

TOKEN_ENV = {"KYCBRIDGE_TRANSAK_ACCESS_TOKEN": "sandbox-user-token"}
FAST = Policy(jitter=0.0, backoff=2.0, failure_base=30.0, permanent_interval=7200.0, lease=60)
APPROVED = "approved@sandbox.starkfi.test"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.from_installed() as box:
        yield box


@pytest.fixture
def bridge(sandbox: Sandbox) -> Iterator[kycbridge.Bridge]:
    sandbox.reset()
    transport = Transport(retries=0, read_timeout=5)
    with sandbox.bridge(transport=transport, env=TOKEN_ENV) as made:
        yield made


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'track.sqlite3'}"
    else:
        yield from pg_schema_url()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tracker(db_url: str, bridge: kycbridge.Bridge, clock: FakeClock) -> Iterator[Tracker]:
    with Tracker(db_url, bridge, FAST, clock) as made:
        yield made


class Hooks:
    def __init__(self) -> None:
        self.changes: list[tuple[Any, Any, bool]] = []
        self.observed = 0
        self.lock = threading.Lock()

    @kycbridge.hookimpl
    def state_changed(self, old: Any, new: Any, report: Any, anomaly: bool) -> None:
        with self.lock:
            self.changes.append((old, new, anomaly))

    @kycbridge.hookimpl
    def status_observed(self, report: Any) -> None:
        with self.lock:
            self.observed += 1


def test_a_subject_is_followed_to_its_outcome(tracker: Tracker, clock: FakeClock) -> None:
    hooks = Hooks()
    tracker.bridge.plugin_manager.register(hooks)
    subject = tracker.add("starkfi", email=APPROVED)
    start = clock.now
    for _ in range(6):
        tracker.run_once()
        due = tracker.get(subject.id).next_check
        if due is None:
            break
        clock.now = due.timestamp()
    history = tracker.history(subject.id)
    assert [o.new_state.value for o in history] == [
        "not_started",
        "in_progress",
        "in_review",
        "approved",
    ]
    # recorded times are the injected clock's: not_started waits 3600 s, the others 600 s
    assert [o.at.timestamp() - start for o in history] == [0, 3600, 4200, 4800]
    done = tracker.get(subject.id)
    assert done.final and done.state is KYCState.APPROVED and done.next_check is None
    assert [(old, new) for old, new, _ in hooks.changes] == [
        (None, KYCState.NOT_STARTED),
        (KYCState.NOT_STARTED, KYCState.IN_PROGRESS),
        (KYCState.IN_PROGRESS, KYCState.IN_REVIEW),
        (KYCState.IN_REVIEW, KYCState.APPROVED),
    ]
    assert hooks.observed == 4  # final: never polled again
    assert tracker.run_once() == 0


def test_policy_intervals_and_backoff_while_nothing_changes(
    tracker: Tracker, clock: FakeClock
) -> None:
    # wfr-not-submitted answers NOT_SUBMITTED forever: not_started, base 3600 s, x2 each time
    s = tracker.add(
        "transak", work_flow_run_id="wfr-not-submitted", access_token="sandbox-user-token"
    )
    t0 = clock.now
    gaps = []
    for _ in range(4):
        assert tracker.run_once() == 1
        after = tracker.get(s.id)
        gaps.append(after.next_check.timestamp() - clock.now)
        clock.now = after.next_check.timestamp()
    assert gaps == [3600, 7200, 14400, 28800]
    assert len(tracker.history(s.id)) == 1  # unchanged polls write no history
    assert tracker.get(s.id).last_observed.timestamp() == t0 + 3600 + 7200 + 14400


def test_secret_query_fields_are_never_stored(tracker: Tracker) -> None:
    s = tracker.add("transak", work_flow_run_id="wfr-approved", access_token="sandbox-user-token")
    assert dict(s.query) == {"work_flow_run_id": "wfr-approved"}
    assert tracker.run_once() == 1  # the token came from env at poll time
    assert tracker.get(s.id).state is KYCState.NOT_STARTED
    with pytest.raises(DuplicateSubject):
        tracker.add("transak", work_flow_run_id="wfr-approved", access_token="x" * 20)
    with pytest.raises(kycbridge.InvalidQuery):
        tracker.add("starkfi", email="not an email")


def test_transient_errors_back_off_and_count(tracker: Tracker, clock: FakeClock) -> None:
    s = tracker.add("starkfi", email="fault-503@sandbox.starkfi.test")
    delays = []
    for _ in range(3):
        assert tracker.run_once() == 1
        after = tracker.get(s.id)
        delays.append(after.next_check.timestamp() - clock.now)
        clock.now = after.next_check.timestamp()
    assert delays == [30, 60, 120]
    assert after.failures == 3 and after.last_error == "unavailable" and after.state is None
    assert after.lease_owner is None


@pytest.mark.parametrize(
    ("provider", "fields", "kind"),
    [
        ("starkfi", {"email": "notfound@sandbox.starkfi.test"}, "not_found"),
        ("starkfi", {"email": "fault-html@sandbox.starkfi.test"}, "malformed_response"),
        ("transak", {"work_flow_run_id": "wfr-unauthorized"}, "authentication"),
    ],
)
def test_permanent_errors_are_recorded_never_raised(
    tracker: Tracker, clock: FakeClock, provider: str, fields: dict[str, str], kind: str
) -> None:
    token = {"access_token": "sandbox-user-token"} if provider == "transak" else {}
    s = tracker.add(provider, **fields, **token)
    assert tracker.run_once() == 1
    after = tracker.get(s.id)
    assert after.last_error == kind and after.failures == 1
    assert after.next_check.timestamp() == clock.now + 7200


def test_an_invalid_stored_query_is_a_permanent_error(
    db_url: str, bridge: kycbridge.Bridge, clock: FakeClock
) -> None:
    store = open_store(db_url)
    s = store.add("starkfi", {"email": "broken"}, "broken", now=clock.now)
    with Tracker(bridge=bridge, policy=FAST, clock=clock, store=store) as tracker:
        assert tracker.run_once() == 1
        assert tracker.get(s.id).last_error == "invalid_query"


def test_approved_is_rechecked_for_expiry_when_configured(
    db_url: str, bridge: kycbridge.Bridge, clock: FakeClock
) -> None:
    policy = Policy(jitter=0.0, recheck_approved=86400.0)
    with Tracker(db_url, bridge, policy, clock) as tracker:
        s = tracker.add("starkfi", email="kyc-expired@sandbox.starkfi.test")  # OK, then expired
        tracker.run_once()
        assert tracker.get(s.id).state is KYCState.APPROVED
        assert tracker.get(s.id).next_check.timestamp() == clock.now + 86400
        clock.advance(86400)
        tracker.run_once()
        assert tracker.get(s.id).state is KYCState.EXPIRED
        assert tracker.get(s.id).next_check is None


def test_jitter_spreads_within_bounds() -> None:
    policy = Policy(jitter=0.1)
    rng = random.Random(7)
    values = [policy.next_check(KYCState.IN_REVIEW, 0, 0.0, rng) for _ in range(200)]
    assert all(540 <= v <= 660 for v in values) and len(set(values)) > 100
    assert policy.retry_at(100, False, 0.0, rng) <= policy.failure_max
    with pytest.raises(ValueError):
        Policy(jitter=1.5)
    with pytest.raises(ValueError):
        Policy(intervals={"in_review": 0})
    assert Policy(intervals={"in_review": 5}).interval(KYCState.IN_REVIEW) == 5


def test_many_worker_threads_poll_each_due_subject_once(tracker: Tracker, clock: FakeClock) -> None:
    hooks = Hooks()
    tracker.bridge.plugin_manager.register(hooks)
    ids = [
        tracker.add("transak", work_flow_run_id=w, access_token="sandbox-user-token").id
        for w in (
            "wfr-approved",
            "wfr-rejected",
            "wfr-submitted",
            "wfr-forms-required",
            "wfr-unknown-status",
            "wfr-not-submitted",
        )
    ]
    assert tracker.run_once(workers=4) == len(ids)
    assert tracker.run_once(workers=4) == 0  # all rescheduled in the future
    assert len(hooks.changes) == len(ids)
    for i in ids:
        assert len(tracker.history(i)) == 1


def test_background_start_and_stop(tracker: Tracker) -> None:
    s = tracker.add("starkfi", email=APPROVED)
    done = threading.Event()

    class Seen:
        @kycbridge.hookimpl
        def status_observed(self, report: Any) -> None:
            done.set()

    tracker.bridge.plugin_manager.register(Seen())
    tracker.start(workers=2, idle=0.05)
    assert done.wait(30)
    tracker.stop(timeout=30)
    assert tracker.get(s.id).state is KYCState.NOT_STARTED
    assert tracker.get(s.id).lease_owner is None


def test_stop_releases_claims_not_yet_polled(
    db_url: str, bridge: kycbridge.Bridge, clock: FakeClock
) -> None:
    from kycbridge.tracking import Scheduler

    store = open_store(db_url)
    for local in ("approved", "declined", "blocklisted", "abandoned", "expired"):
        email = f"{local}@sandbox.starkfi.test"
        store.add("starkfi", {"email": email}, email, now=clock.now)
    stop = threading.Event()
    scheduler = Scheduler(store, bridge, policy=FAST, clock=clock, batch=5, group=1)

    class StopAfterOne:
        @kycbridge.hookimpl
        def status_observed(self, report: Any) -> None:
            stop.set()

    bridge.plugin_manager.register(StopAfterOne())
    assert scheduler.poll_due(stop=stop) == 1
    leased = [s for s in store.subjects() if s.lease_owner is not None]
    assert leased == []
    assert len(store.claim("other", now=clock.now, lease=60, limit=10)) == 4
    store.close()


# -- group commit -------------------------------------------------------------------------
GROUPED = ("approved", "declined", "blocklisted", "abandoned", "expired", "fault-503", "notfound")
"""Starkfi sandbox subjects (email local parts): transitions, a transient and a permanent error."""


class Seen:
    """Every hook call, in order: (hook, subject, state)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, Any]] = []

    @kycbridge.hookimpl
    def state_changed(self, old: Any, new: Any, report: Any, anomaly: bool) -> None:
        self.calls.append(("changed", report.subject, (old, new, anomaly)))

    @kycbridge.hookimpl
    def status_observed(self, report: Any) -> None:
        self.calls.append(("observed", report.subject, report.state))


def polled_by(
    group: int, url: str, sandbox: Sandbox, bridge: kycbridge.Bridge
) -> tuple[list[Any], list[Any], Seen]:
    """Subjects, histories, hooks (and polls per round) of 4 rounds at ``group``, on a new db."""
    from kycbridge.tracking import Scheduler

    sandbox.reset()
    seen = Seen()
    bridge.plugin_manager.register(seen)
    store, clock = open_store(url), FakeClock()
    try:
        for local in GROUPED:
            email = f"{local}@sandbox.starkfi.test"
            store.add("starkfi", {"email": email}, email, now=clock.now)
        scheduler = Scheduler(store, bridge, policy=FAST, clock=clock, batch=10, group=group)
        for _ in range(4):
            seen.calls.append(("polled", None, scheduler.poll_due()))
            clock.advance(10**6)  # everything not final due again
        drop = ("id", "subject_id", "query", "subject_hash")
        subjects = [
            {k: v for k, v in attrs.asdict(s).items() if k not in drop} for s in store.subjects()
        ]
        histories = [
            [
                {k: v for k, v in attrs.asdict(o).items() if k not in drop}
                | {"report": {k: v for k, v in o.report.items() if k != "observed_at"}}
                for o in store.history(i)
            ]
            for i in range(1, len(GROUPED) + 1)
        ]  # observed_at: the wall clock's time of the answer
    finally:
        bridge.plugin_manager.unregister(seen)
        store.close()
    return subjects, histories, seen


@pytest.mark.parametrize("group", [3, 10])
def test_a_group_records_and_fires_as_polls_one_by_one(
    db_urls: tuple[str, str], sandbox: Sandbox, bridge: kycbridge.Bridge, group: int
) -> None:
    alone = polled_by(1, db_urls[0], sandbox, bridge)
    grouped = polled_by(group, db_urls[1], sandbox, bridge)
    assert grouped[0] == alone[0] and grouped[1] == alone[1]
    assert grouped[2].calls == alone[2].calls
    assert sum(1 for c in alone[2].calls if c[0] == "changed") >= len(GROUPED) - 2
    assert {s["last_error"] for s in alone[0]} == {None, "unavailable", "not_found"}


@pytest.fixture
def db_urls(db_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two empty databases of ``db_url``'s kind."""
    if db_url.startswith("sqlite"):
        yield db_url, f"sqlite:///{tmp_path / 'other.sqlite3'}"
    else:
        yield from ((db_url, other) for other in pg_schema_url())


def test_a_failed_group_records_nothing_and_fires_no_hook(
    db_url: str, bridge: kycbridge.Bridge, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The group's commit fails: no record, no hook, no crash; polled again after the lease."""
    from kycbridge.tracking import Scheduler

    store = open_store(db_url)
    for local in GROUPED:
        email = f"{local}@sandbox.starkfi.test"
        store.add("starkfi", {"email": email}, email, now=clock.now)
    seen = Seen()
    bridge.plugin_manager.register(seen)
    real = store.group

    @contextlib.contextmanager
    def failing() -> Iterator[None]:
        with real():
            yield
            raise ConnectionError("the commit failed")  # inside: the transaction rolls back

    store.group = failing  # type: ignore[method-assign]
    scheduler = Scheduler(store, bridge, policy=FAST, clock=clock, batch=10, group=3)
    with caplog.at_level("WARNING", logger="kycbridge.tracking"):
        assert scheduler.poll_due(owner="w1") == 0
    assert "3 poll(s) not recorded (ConnectionError)" in caplog.text
    assert seen.calls == []
    subjects = store.subjects()
    assert all(s.state is None and s.failures == 0 and not store.history(s.id) for s in subjects)
    assert {s.lease_owner for s in subjects} == {"w1"}  # left to expire, as after a crash
    assert scheduler.poll_due(owner="w2") == 0  # nothing due until the leases expire
    clock.advance(FAST.lease)
    store.group = real  # type: ignore[method-assign]
    assert scheduler.poll_due(owner="w2") == len(GROUPED)
    assert len([c for c in seen.calls if c[0] == "observed"]) == len(GROUPED) - 2
    assert all(s.lease_owner is None and (s.last_observed or s.failures) for s in store.subjects())
    bridge.plugin_manager.unregister(seen)
    store.close()


def test_stop_writes_the_group_in_hand_then_releases_the_rest(
    db_url: str, bridge: kycbridge.Bridge, clock: FakeClock
) -> None:
    from kycbridge.tracking import Scheduler

    store = open_store(db_url)
    for local in GROUPED[:5]:
        email = f"{local}@sandbox.starkfi.test"
        store.add("starkfi", {"email": email}, email, now=clock.now)
    stop = threading.Event()
    seen = Seen()
    bridge.plugin_manager.register(seen)

    class StopAfterTwo(Scheduler):
        asked = 0

        def _ask(self, subject: Any) -> Any:
            self.asked += 1
            if self.asked == 2:
                stop.set()  # SIGTERM while the second answer is on its way
            return super()._ask(subject)

    scheduler = StopAfterTwo(store, bridge, policy=FAST, clock=clock, batch=5, group=5)
    assert scheduler.poll_due(owner="w1", stop=stop) == 2
    assert [c[0] for c in seen.calls] == ["observed", "changed"] * 2
    subjects = store.subjects()
    assert [len(store.history(s.id)) for s in subjects] == [1, 1, 0, 0, 0]
    assert all(s.lease_owner is None for s in subjects)
    assert len(store.claim("other", now=clock.now, lease=60, limit=10)) == 3
    bridge.plugin_manager.unregister(seen)
    store.close()


def test_group_sizes_are_checked(tracker: Tracker) -> None:
    from kycbridge.tracking import Scheduler

    for bad in (0, -1, 1001):
        with pytest.raises(ValueError, match="group"):
            Scheduler(tracker.store, tracker.bridge, group=bad)
    for wait in (-0.1, 60.5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="group_wait"):
            Scheduler(tracker.store, tracker.bridge, group_wait=wait)
    for good in (0.0, 60.0):
        assert Scheduler(tracker.store, tracker.bridge, group_wait=good).group_wait == good


class TickingClock(FakeClock):
    """A clock that moves ``tick`` seconds each time it is read (a provider call's time)."""

    def __init__(self, tick: float) -> None:
        super().__init__()
        self.tick = tick

    def __call__(self) -> float:
        self.advance(self.tick)
        return super().__call__()


@pytest.mark.parametrize(
    ("group", "group_wait", "tick", "sizes"),
    [
        (10, 0.1, 0.04, [4, 4, 2]),  # the 4th answer comes 0.12 s after the 1st: written
        (10, 0.1, 0.0, [10]),  # answers at once: the group fills
        (3, 0.1, 0.0, [3, 3, 3, 1]),  # ...up to its size
        (10, 0.0, 0.0, [1] * 10),  # no wait: each poll on its own
        (10, 0.1, 0.2, [2] * 5),  # a slow provider: the 2nd answer shows the 1st waited
    ],
)
def test_a_group_is_written_when_its_oldest_answer_has_waited(
    db_url: str, bridge: kycbridge.Bridge, group: int, group_wait: float, tick: float, sizes: Any
) -> None:
    from kycbridge.tracking import Scheduler

    store = open_store(db_url)
    for local in TEN_SUBJECTS:
        email = f"{local}@sandbox.starkfi.test"
        store.add("starkfi", {"email": email}, email, now=FakeClock().now)
    written: list[int] = []
    batched, alone = store.record_polls, store.record
    inside = threading.local()

    def record_polls(polls: Any) -> Any:
        written.append(len(polls))
        inside.batch = True
        try:
            return batched(polls)
        finally:
            inside.batch = False

    def record(*args: Any, **kwargs: Any) -> Any:
        if not getattr(inside, "batch", False):  # a poll written on its own
            written.append(1)
        return alone(*args, **kwargs)

    store.record_polls, store.record = record_polls, record  # type: ignore[method-assign]
    clock = TickingClock(tick)
    scheduler = Scheduler(
        store, bridge, policy=FAST, clock=clock, batch=10, group=group, group_wait=group_wait
    )
    assert scheduler.poll_due() == 10
    assert written == sizes
    assert all(len(store.history(s.id)) == 1 for s in store.subjects())
    store.close()


def test_the_default_is_a_group_of_ten_within_a_tenth_of_a_second(tracker: Tracker) -> None:
    from kycbridge.tracking import Scheduler

    scheduler = Scheduler(tracker.store, tracker.bridge)
    assert (scheduler.group, scheduler.group_wait) == (10, 0.1)
    assert (tracker.scheduler.group, tracker.scheduler.group_wait) == (10, 0.1)


def test_a_bad_group_size_opens_no_store(tmp_path: Path, bridge: kycbridge.Bridge) -> None:
    db = tmp_path / "never.sqlite3"
    with pytest.raises(ValueError, match="group"):
        Tracker(f"sqlite:///{db}", bridge, group=0)
    assert not db.exists()  # refused before the store was opened: nothing left open
