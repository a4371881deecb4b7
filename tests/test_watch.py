"""Watching a subject to its outcome, against the toy provider over real HTTP."""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import time
from collections.abc import Iterator

import pytest
from toy import TOY_TOKEN, ToyProvider, toy_plugin

import kycbridge
from kycbridge import Bridge, KYCState
from kycbridge.cli import main
from kycbridge.errors import (
    AuthenticationError,
    InvalidQuery,
    MalformedResponse,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    SubjectNotFound,
)
from kycbridge.sandbox import Replay, Sandbox, SimResponse
from kycbridge.transport import Transport
from kycbridge.watch import Watcher, WatchTimeout, watch

S = KYCState
FAST = {"interval": 0.01, "max_interval": 0.02}


def q(subject: str) -> dict[str, str]:
    return {"subject": subject, "token": TOY_TOKEN}


def states(reports) -> list[KYCState]:
    return [r.state for r in reports]


class Recorder:
    def __init__(self) -> None:
        self.observed: list = []
        self.changes: list = []

    @kycbridge.hookimpl
    def status_observed(self, report):
        self.observed.append(report.state)

    @kycbridge.hookimpl
    def state_changed(self, old, new, report, anomaly):
        self.changes.append((old, new, anomaly))


@pytest.fixture
def replay() -> Iterator[tuple[Replay, Bridge]]:
    """A Replay posing as the toy API, and a bridge with no transport retries."""
    sim = Replay("toy")
    with (
        Sandbox([sim]) as sandbox,
        Bridge(
            [toy_plugin],
            settings=sandbox.settings(),
            transport=Transport(retries=0, read_timeout=2),
            env={},
        ) as bridge,
    ):
        yield sim, bridge


def ok(word: str) -> SimResponse:
    return SimResponse.json(200, {"state": word})


def fault(status: int, **headers: str) -> SimResponse:
    return SimResponse.json(status, {"code": status, "message": "fault"}, headers=headers)


# -- what is yielded -----------------------------------------------------------------------
def test_yields_each_change_exactly_as_played(toy_bridge, toy_sim):
    toy_sim.scripts["s"] = ["NEW", "NEW", "WORKING", "WORKING", "WORKING", "REVIEW", "OK"]
    watcher = Watcher(toy_bridge, "toy", q("s"), **FAST)
    reports = list(watcher)
    assert states(reports) == [S.NOT_STARTED, S.IN_PROGRESS, S.IN_REVIEW, S.APPROVED]
    assert [r.raw_status for r in reports] == ["NEW", "WORKING", "REVIEW", "OK"]
    assert watcher.reached and watcher.polls == 7 == toy_sim.calls["s"]
    assert watcher.last is reports[-1] and reports[-1].final
    assert [(t.old, t.new) for t in watcher.machine.history] == [
        (None, S.NOT_STARTED),
        (S.NOT_STARTED, S.IN_PROGRESS),
        (S.IN_PROGRESS, S.IN_REVIEW),
        (S.IN_REVIEW, S.APPROVED),
    ]
    assert not watcher.anomalies and watcher.error_count == 0


def test_a_new_raw_word_for_the_same_state_is_a_change(toy_bridge, toy_sim):
    toy_sim.scripts["s"] = ["NEW", "NEW", "new", "OK"]
    reports = list(watch(toy_bridge, "toy", q("s"), **FAST))
    assert [(r.state, r.raw_status) for r in reports] == [
        (S.NOT_STARTED, "NEW"),
        (S.NOT_STARTED, "new"),
        (S.APPROVED, "OK"),
    ]


def test_until_a_non_final_state(toy_bridge, toy_sim):
    toy_sim.scripts["s"] = ["NEW", "WORKING", "REVIEW", "OK"]
    reports = list(watch(toy_bridge, "toy", q("s"), until={"in_review"}, **FAST))
    assert states(reports)[-1] is S.IN_REVIEW
    assert toy_sim.calls["s"] == 3  # stopped there


def test_until_as_one_comma_separated_string(toy_bridge, toy_sim):
    toy_sim.scripts["s"] = ["NEW", "REVIEW", "OK"]
    watcher = Watcher(toy_bridge, "toy", q("s"), until="rejected, in_review", **FAST)
    assert watcher.until == {S.REJECTED, S.IN_REVIEW}
    assert states(watcher)[-1] is S.IN_REVIEW


def test_already_final_takes_one_call(toy_bridge, toy_sim):
    toy_sim.scripts["s"] = ["NO"]
    assert states(watch(toy_bridge, "toy", q("s"), **FAST)) == [S.REJECTED]
    assert toy_sim.calls["s"] == 1


def test_a_built_query_object_works_too(toy_bridge, toy_sim):
    toy_sim.scripts["s"] = ["OK"]
    query = toy_bridge.query("toy", **q("s"))
    assert states(watch(toy_bridge, "toy", query, **FAST)) == [S.APPROVED]


# -- ending ----------------------------------------------------------------------------------
def test_timeout_raises_watch_timeout_with_the_last_report(toy_bridge, toy_sim):
    toy_sim.scripts["s"] = ["REVIEW"]
    fake = FakeTime()
    watcher = Watcher(
        toy_bridge,
        "toy",
        q("s"),
        timeout=0.3,
        interval=0.02,
        max_interval=0.05,
        jitter=0,
        clock=fake.clock,
        sleep=fake.sleep,
    )
    seen = []
    with pytest.raises(WatchTimeout) as info:
        for report in watcher:
            seen.append(report)
    # 0.02, 0.04, then 0.05 until the deadline: the last wait is clamped to end exactly on it
    assert fake.sleeps[:3] == pytest.approx([0.02, 0.04, 0.05])
    assert sum(fake.sleeps) == pytest.approx(0.3)
    assert fake.now - 1000.0 == pytest.approx(0.3)
    exc = info.value
    assert exc.exit_code == 8 and exc.kind == "timeout"
    assert isinstance(exc, kycbridge.KYCBridgeError)
    assert exc.report is not None and exc.report.state is S.IN_REVIEW
    assert states(seen) == [S.IN_REVIEW]
    assert exc.polls == watcher.polls > 2
    data = exc.to_dict()
    assert data["type"] == "timeout" and data["last_state"] == "in_review"
    assert data["provider"] == "toy" and data["last_error"] is None
    assert "within 0.3 s" in str(exc)


def test_stop_event_ends_the_iteration_even_mid_wait(toy_bridge, toy_sim):
    toy_sim.scripts["s"] = ["REVIEW"]
    stop = threading.Event()
    # the wait is 8-10 minutes (jitter); being woken by the stop event ends it at once
    watcher = Watcher(toy_bridge, "toy", q("s"), stop=stop, interval=600, max_interval=600)
    threading.Timer(0.05, stop.set).start()
    started = time.monotonic()
    assert states(watcher) == [S.IN_REVIEW]
    assert time.monotonic() - started < 60
    assert len(watcher.waits) == 1 and watcher.waits[0] >= 480
    assert not watcher.reached and watcher.polls == 1


def test_stop_set_by_the_consumer(toy_bridge, toy_sim):
    toy_sim.scripts["s"] = ["NEW", "WORKING", "REVIEW", "OK"]
    stop = threading.Event()
    seen = []
    for report in watch(toy_bridge, "toy", q("s"), stop=stop, **FAST):
        seen.append(report)
        if report.state is S.IN_PROGRESS:
            stop.set()
    assert states(seen) == [S.NOT_STARTED, S.IN_PROGRESS]
    assert toy_sim.calls["s"] == 2


@pytest.mark.parametrize(
    ("subject", "error"),
    [
        ("err-401", AuthenticationError),
        ("err-404", SubjectNotFound),
        ("err-418", RequestRejected),
        ("junk", MalformedResponse),
    ],
)
def test_fatal_errors_end_the_watch_at_once(toy_bridge, toy_sandbox, subject, error):
    watcher = Watcher(toy_bridge, "toy", q(subject), timeout=5, **FAST)
    with pytest.raises(error):
        list(watcher)
    assert watcher.polls == 1 and toy_sandbox.requests["toy"] == 1


def test_fatal_error_after_some_changes(replay):
    sim, bridge = replay
    sim.push(ok("NEW"), ok("WORKING"), fault(401))
    seen = []
    with pytest.raises(AuthenticationError):
        for report in watch(bridge, "toy", q("s"), **FAST):
            seen.append(report)
    assert states(seen) == [S.NOT_STARTED, S.IN_PROGRESS]


def test_wrong_token_is_an_authentication_error(toy_bridge):
    with pytest.raises(AuthenticationError):
        list(watch(toy_bridge, "toy", {"subject": "s", "token": "wrong"}, **FAST))


# -- transient errors and Retry-After --------------------------------------------------------
def test_transient_faults_are_retried_without_losing_or_inventing_a_state(replay):
    sim, bridge = replay
    sim.push(
        ok("NEW"),
        fault(503),
        ok("NEW"),
        fault(500),
        fault(500),
        ok("REVIEW"),
        fault(503),
        ok("REVIEW"),
        fault(429),
        ok("OK"),
    )
    errors = []
    watcher = Watcher(bridge, "toy", q("s"), on_error=errors.append, timeout=10, **FAST)
    reports = list(watcher)
    assert states(reports) == [S.NOT_STARTED, S.IN_REVIEW, S.APPROVED]
    assert watcher.error_count == 5 == len(errors) == len(watcher.errors)
    assert [type(e) for e in errors] == [
        ProviderUnavailable,
        ProviderUnavailable,
        ProviderUnavailable,
        ProviderUnavailable,
        RateLimited,
    ]
    assert len(sim.received) == 10 == watcher.polls


def test_retry_after_is_honoured(replay):
    sim, bridge = replay
    sim.push(fault(429, **{"Retry-After": "1"}), ok("OK"))
    fake = FakeTime()
    watcher = Watcher(bridge, "toy", q("s"), timeout=10, clock=fake.clock, sleep=fake.sleep, **FAST)
    assert states(watcher) == [S.APPROVED]
    assert fake.sleeps == [1.0]  # the Retry-After, not the 10 ms backoff
    assert watcher.waits == [1.0]
    assert isinstance(watcher.errors[0], RateLimited) and watcher.errors[0].retry_after == 1


def test_retry_after_on_503_is_honoured_too(replay):
    sim, bridge = replay
    sim.push(ok("NEW"), fault(503, **{"Retry-After": "5"}), ok("OK"))
    fake = FakeTime()
    reports = list(
        watch(bridge, "toy", q("s"), interval=0.5, jitter=0, clock=fake.clock, sleep=fake.sleep)
    )
    assert states(reports) == [S.NOT_STARTED, S.APPROVED]
    assert fake.sleeps == [0.5, 5]


def test_retry_after_past_the_deadline_times_out_at_once(replay):
    sim, bridge = replay
    sim.push(fault(429, **{"Retry-After": "30"}))
    fake = FakeTime()
    with pytest.raises(WatchTimeout) as info:
        list(watch(bridge, "toy", q("s"), timeout=2, clock=fake.clock, sleep=fake.sleep, **FAST))
    assert fake.sleeps == []  # no wait for a Retry-After that ends past the deadline
    assert isinstance(info.value.last_error, RateLimited)
    assert info.value.report is None and info.value.to_dict()["last_error"] == "rate_limited"


def test_transient_errors_until_the_timeout(replay):
    sim, bridge = replay
    sim.push(fault(503))
    fake = FakeTime()
    with pytest.raises(WatchTimeout) as info:
        list(watch(bridge, "toy", q("s"), timeout=0.3, clock=fake.clock, sleep=fake.sleep, **FAST))
    assert isinstance(info.value.last_error, ProviderUnavailable)
    assert info.value.polls > 2
    assert sum(fake.sleeps) == pytest.approx(0.3)
    assert "the last one failed: unavailable" in str(info.value)


def test_a_timeout_after_recovering_has_no_last_error(replay):
    sim, bridge = replay
    sim.push(fault(503), ok("REVIEW"))
    fake = FakeTime()
    watcher = Watcher(
        bridge, "toy", q("s"), timeout=0.2, clock=fake.clock, sleep=fake.sleep, **FAST
    )
    with pytest.raises(WatchTimeout) as info:
        list(watcher)
    assert info.value.last_error is None and watcher.error_count == 1
    assert info.value.report is not None and info.value.report.state is S.IN_REVIEW
    assert "failed" not in str(info.value)


# -- polling policy, with a fake clock ------------------------------------------------------
class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_backoff_doubles_up_to_max_interval_then_clamps_to_the_deadline(toy_bridge, toy_sim):
    toy_sim.scripts["s"] = ["REVIEW"]
    fake = FakeTime()
    watcher = Watcher(
        toy_bridge,
        "toy",
        q("s"),
        interval=1,
        max_interval=8,
        timeout=40,
        jitter=0,
        clock=fake.clock,
        sleep=fake.sleep,
    )
    with pytest.raises(WatchTimeout):
        list(watcher)
    # 1, 2, 4, 8, 8, 8 (t=31), then 8 would pass the deadline: a last check at t=40
    assert fake.sleeps == [1, 2, 4, 8, 8, 8, 8, 1]
    assert watcher.waits == fake.sleeps
    assert watcher.polls == len(fake.sleeps) + 1


def test_backoff_starts_over_after_a_change(toy_bridge, toy_sim):
    toy_sim.scripts["s"] = ["NEW", "NEW", "NEW", "REVIEW", "REVIEW", "REVIEW", "OK"]
    fake = FakeTime()
    list(
        watch(
            toy_bridge,
            "toy",
            q("s"),
            interval=1,
            max_interval=30,
            jitter=0,
            clock=fake.clock,
            sleep=fake.sleep,
        )
    )
    assert fake.sleeps == [1, 2, 4, 1, 2, 4]


def test_jitter_shortens_waits_within_its_range(toy_bridge, toy_sim):
    toy_sim.scripts["s"] = ["NEW", "NEW", "NEW", "OK"]
    fake = FakeTime()
    list(
        watch(
            toy_bridge,
            "toy",
            q("s"),
            interval=1,
            max_interval=30,
            jitter=0.2,
            rng=lambda: 0.5,
            clock=fake.clock,
            sleep=fake.sleep,
        )
    )
    assert fake.sleeps == pytest.approx([0.9, 1.8, 3.6])


def test_retry_after_is_a_floor_on_the_backoff(replay):
    sim, bridge = replay
    sim.push(ok("NEW"), fault(429, **{"Retry-After": "7"}), ok("NEW"), ok("OK"))
    fake = FakeTime()
    list(
        watch(
            bridge,
            "toy",
            q("s"),
            interval=1,
            max_interval=30,
            jitter=0,
            clock=fake.clock,
            sleep=fake.sleep,
        )
    )
    assert fake.sleeps == [1, 7, 4]


def test_provider_defaults_for_intervals(toy_sandbox):
    class PatientToy(ToyProvider):
        watch_interval = 0.5
        watch_max_interval = 4.0

    class plugin:
        @staticmethod
        @kycbridge.hookimpl
        def register_providers(register):
            register(PatientToy())

    with Bridge([plugin], settings=toy_sandbox.settings(), env={}) as bridge:
        watcher = Watcher(bridge, "toy", q("s"))
        assert (watcher.interval, watcher.max_interval) == (0.5, 4.0)
        assert Watcher(bridge, "toy", q("s"), interval=1).max_interval == 4.0
        assert Watcher(bridge, "toy", q("s"), interval=10).max_interval == 10.0


def test_core_defaults_for_intervals(toy_bridge):
    watcher = Watcher(toy_bridge, "toy", q("s"))
    assert (watcher.interval, watcher.max_interval, watcher.timeout) == (2.0, 30.0, None)
    assert watcher.until == kycbridge.FINAL_STATES


@pytest.mark.parametrize(
    "options",
    [
        {"until": ["bogus"]},
        {"until": []},
        {"interval": 0},
        {"interval": -1},
        {"interval": 2, "max_interval": 1},
        {"timeout": 0},
        {"jitter": 1.5},
    ],
)
def test_invalid_options_raise_before_any_call(toy_bridge, toy_sandbox, options):
    with pytest.raises(InvalidQuery):
        watch(toy_bridge, "toy", q("s"), **options)
    assert toy_sandbox.requests == {}


def test_invalid_query_raises_before_any_call(toy_bridge, toy_sandbox):
    with pytest.raises(InvalidQuery):
        watch(toy_bridge, "toy", {"subjekt": "s"})
    assert toy_sandbox.requests == {}


def test_a_watcher_is_iterated_once(toy_bridge, toy_sim):
    toy_sim.scripts["s"] = ["OK"]
    watcher = Watcher(toy_bridge, "toy", q("s"), **FAST)
    list(watcher)
    with pytest.raises(RuntimeError):
        iter(watcher)
    assert "s***" in repr(watcher) and TOY_TOKEN not in repr(watcher)


# -- hooks and anomalies ---------------------------------------------------------------------
def test_event_hooks_fire_once_per_change(toy_sandbox, toy_sim):
    toy_sim.scripts["s"] = ["NEW", "NEW", "REVIEW", "REVIEW", "REVIEW", "OK"]
    recorder = Recorder()
    with Bridge([toy_plugin], settings=toy_sandbox.settings(), hooks=[recorder], env={}) as b:
        reports = list(watch(b, "toy", q("s"), **FAST))
    assert len(reports) == 3
    assert recorder.changes == [
        (None, S.NOT_STARTED, False),
        (S.NOT_STARTED, S.IN_REVIEW, False),
        (S.IN_REVIEW, S.APPROVED, False),
    ]
    assert len(recorder.observed) == 6  # every poll is observed


def test_an_unexpected_transition_is_flagged_listed_and_logged(toy_bridge, toy_sim, caplog):
    toy_sim.scripts["s"] = ["NEW", "REVIEW", "NEW", "OK"]
    watcher = Watcher(toy_bridge, "toy", q("s"), **FAST)
    with caplog.at_level(logging.WARNING, logger="kycbridge.watch"):
        reports = list(watcher)
    assert [r.anomaly for r in reports] == [False, False, True, False]
    assert watcher.anomalies == [reports[2]]
    assert [t.anomaly for t in watcher.machine.history] == [False, False, True, False]
    assert "unexpected transition in_review -> not_started" in caplog.text
    assert "s***" in caplog.text and TOY_TOKEN not in caplog.text


class AnomalyRecorder:
    """Every report the state_changed hook was told is an anomaly."""

    def __init__(self) -> None:
        self.anomalies: list = []

    @kycbridge.hookimpl
    def state_changed(self, old, new, report, anomaly):
        if anomaly:
            self.anomalies.append(report)


def test_a_watch_reports_the_anomalies_the_hooks_see(toy_sandbox, toy_sim):
    toy_sim.scripts["s"] = ["NEW", "REVIEW", "OK"]
    recorder, anomalies = Recorder(), AnomalyRecorder()
    with Bridge(
        [toy_plugin], settings=toy_sandbox.settings(), hooks=[recorder, anomalies], env={}
    ) as b:
        list(watch(b, "toy", q("s"), until={"in_review"}, **FAST))
        toy_sim.reset()  # the scenario starts over: not_started again
        second = Watcher(b, "toy", q("s"), **FAST)
        reports = list(second)
    # one judge, the bridge: in_review (seen before this watch) -> not_started is unexpected
    assert reports[0].state is S.NOT_STARTED and reports[0].anomaly
    assert (S.IN_REVIEW, S.NOT_STARTED, True) in recorder.changes
    assert second.anomalies == anomalies.anomalies == [reports[0]]


WORDS = ["NEW", "WORKING", "REVIEW", "OK", "NO"]


def test_a_watch_and_the_hook_agree_on_every_anomaly(toy_sim):
    """Whatever the provider answers, and whatever else the bridge observes between polls."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from kycbridge import StatusReport

    subjects = iter(range(10**6))
    with Sandbox([toy_sim]) as sandbox:

        @settings(max_examples=40, deadline=None)
        @given(
            script=st.lists(st.sampled_from(WORDS), min_size=1, max_size=6),
            between=st.lists(st.none() | st.sampled_from(list(KYCState)), max_size=8),
        )
        def check(script: list[str], between: list[KYCState | None]) -> None:
            subject = f"p{next(subjects)}"
            toy_sim.scripts[subject] = script
            anomalies = AnomalyRecorder()
            stop = threading.Event()
            others = iter(between)

            def sleep(seconds: float) -> None:
                # another caller of the same bridge observes the subject between two polls
                state = next(others, None)
                if state is not None:
                    b.observe(
                        StatusReport(
                            provider="toy", state=state, raw_status="other", subject=subject
                        )
                    )
                if watcher.polls >= len(script) + 2:
                    stop.set()

            with Bridge([toy_plugin], settings=sandbox.settings(), hooks=[anomalies], env={}) as b:
                watcher = Watcher(b, "toy", q(subject), until={"unknown"}, stop=stop, sleep=sleep)
                reports = list(watcher)
            own = [r for r in anomalies.anomalies if r.raw_status != "other"]
            assert watcher.anomalies == own
            assert [r for r in reports if r.anomaly] == own

        check()


# -- the CLI ---------------------------------------------------------------------------------
class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(bridge, *argv: str, err: io.StringIO | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), err if err is not None else io.StringIO()
    code = main(list(argv), bridge=bridge, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


WATCH = ("watch", "toy", "-p", "subject=s1", "-p", f"token={TOY_TOKEN}", "--interval", "0.01")


def test_cli_prints_one_line_per_change(toy_bridge, toy_sim):
    toy_sim.scripts["s1"] = ["NEW", "NEW", "REVIEW", "OK"]
    code, out, err = run(toy_bridge, *WATCH)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 3
    assert all(re.match(r"^\d\d:\d\d:\d\d toy s\*\*\*: ", line) for line in lines)
    assert lines[0].endswith("not_started (raw: NEW), not final")
    assert lines[-1].endswith("approved (raw: OK), final")
    assert err == ""  # no spinner when stderr is not a terminal
    assert TOY_TOKEN not in out + err


def test_cli_json_is_one_report_per_change(toy_bridge, toy_sim):
    toy_sim.scripts["s1"] = ["NEW", "REVIEW", "REVIEW", "NO"]
    code, out, _ = run(toy_bridge, *WATCH, "--json")
    assert code == 0
    reports = [json.loads(line) for line in out.splitlines()]
    assert [r["state"] for r in reports] == ["not_started", "in_review", "rejected"]
    assert reports[-1]["final"] is True and reports[0]["provider"] == "toy"


def test_cli_until(toy_bridge, toy_sim):
    toy_sim.scripts["s1"] = ["NEW", "REVIEW", "OK"]
    code, out, _ = run(toy_bridge, *WATCH, "--until", "in_review,rejected")
    assert code == 0 and out.splitlines()[-1].endswith("in_review (raw: REVIEW), not final")
    assert toy_sim.calls["s1"] == 2


def test_cli_timeout_is_8(toy_bridge, toy_sim):
    toy_sim.scripts["s1"] = ["REVIEW"]
    code, out, err = run(toy_bridge, *WATCH, "--timeout", "0.2", "--json")
    assert code == 8
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["state"] == "in_review"
    assert lines[-1]["error"]["type"] == "timeout"
    assert lines[-1]["error"]["last_state"] == "in_review"
    assert "toy: no " in err and "within 0.2 s" in err


def test_cli_bad_until_is_2(toy_bridge, toy_sandbox):
    code, _, err = run(toy_bridge, *WATCH, "--until", "submitted,bogus")
    assert code == 2
    assert "unknown state 'bogus'" in err and "approved" in err
    assert toy_sandbox.requests == {}


@pytest.mark.parametrize("flag", ["--interval", "--max-interval", "--timeout"])
def test_cli_bad_durations_are_2(toy_bridge, flag):
    code, _, err = run(toy_bridge, *WATCH, flag, "0")
    assert code == 2 and "positive" in err


@pytest.mark.parametrize(("subject", "code"), [("err-401", 3), ("err-404", 4), ("junk", 6)])
def test_cli_fatal_errors_keep_the_core_exit_codes(toy_bridge, subject, code):
    got, out, err = run(
        toy_bridge,
        "watch",
        "toy",
        "-p",
        f"subject={subject}",
        "-p",
        f"token={TOY_TOKEN}",
        "--json",
    )
    assert got == code
    assert json.loads(out)["error"]["provider"] == "toy"
    assert len(err.strip().splitlines()) == 1


def test_cli_spinner_only_on_a_terminal(toy_bridge, toy_sim):
    toy_sim.scripts["s1"] = ["NEW", "NEW", "OK"]
    code, out, err = run(
        toy_bridge,
        "watch",
        "toy",
        "-p",
        "subject=s1",
        "-p",
        f"token={TOY_TOKEN}",
        "--interval",
        "0.12",
        "--max-interval",
        "0.12",
        err=TTY(),
    )
    assert code == 0
    assert "watching toy s***: not_started" in err
    assert err.endswith("\r\x1b[K")  # erased at the end
    assert "\x1b" not in out and len(out.splitlines()) == 2


def test_cli_request_timeout_is_the_http_timeout(toy_bridge, toy_sim):
    toy_sim.scripts["s1"] = ["OK"]
    code, _, _ = run(toy_bridge, *WATCH, "--request-timeout", "1.5", "--timeout", "5")
    assert code == 0
    assert toy_bridge.transport.timeout.read_timeout == 1.5
