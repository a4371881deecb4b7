"""The facade over real HTTP against the toy simulator."""

from __future__ import annotations

import itertools
import logging
import threading

import pytest
from toy import TOY_TOKEN, ToyDetails, toy_plugin

import kycbridge
from kycbridge import (
    AuthenticationError,
    Bridge,
    InvalidQuery,
    KYCState,
    ProviderNotInstalled,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    SubjectNotFound,
)
from kycbridge.ratelimit import RateLimiter


def test_status_returns_a_typed_report(toy_bridge, toy_sim):
    toy_sim.scripts["s1"] = ["REVIEW"]
    report = toy_bridge.status("toy", subject="s1", token=TOY_TOKEN)
    assert report.provider == "toy"
    assert report.state is KYCState.IN_REVIEW
    assert report.raw_status == "REVIEW"
    assert report.final is False
    assert report.details == ToyDetails("REVIEW", False)
    assert report.raw == {"state": "REVIEW", "flag": False}
    assert report.subject == "s1"


def test_unknown_word_keeps_the_raw_value(toy_bridge, toy_sim):
    toy_sim.scripts["s2"] = ["WHAT_IS_THIS"]
    report = toy_bridge.status("toy", subject="s2", token=TOY_TOKEN)
    assert report.state is KYCState.UNKNOWN and report.raw_status == "WHAT_IS_THIS"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (401, AuthenticationError),
        (404, SubjectNotFound),
        (418, RequestRejected),
        (500, ProviderUnavailable),
        (429, RateLimited),
    ],
)
def test_errors_are_typed(toy_bridge, code, error):
    with pytest.raises(error) as info:
        toy_bridge.status("toy", subject=f"err-{code}", token=TOY_TOKEN)
    assert info.value.provider == "toy"
    assert info.value.http_status == code


def test_wrong_token_is_authentication_and_secret_free(toy_bridge, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthenticationError) as info:
        toy_bridge.status("toy", subject="s", token="wrong-token-abcdef")
    assert "wrong-token-abcdef" not in str(info.value) + repr(info.value)
    assert "wrong-token-abcdef" not in caplog.text


def test_invalid_query_sends_nothing(toy_bridge, toy_sandbox):
    with pytest.raises(InvalidQuery, match="unknown query field"):
        toy_bridge.status("toy", subjekt="x")
    with pytest.raises(InvalidQuery):
        toy_bridge.status("toy", subject="", token=TOY_TOKEN)
    assert toy_sandbox.requests == {}


def test_invalid_query_message_never_carries_the_secret(toy_bridge):
    with pytest.raises(InvalidQuery) as info:
        toy_bridge.status("toy", subject=123, token="sekrit-value-xyz")
    assert "sekrit-value-xyz" not in str(info.value)


def test_secret_query_field_from_env(toy_sandbox, toy_sim):
    env = {"KYCBRIDGE_TOY_TOKEN": TOY_TOKEN}
    with Bridge([toy_plugin], settings=toy_sandbox.settings(), env=env) as bridge:
        assert bridge.status("toy", subject="s").state is KYCState.NOT_STARTED
        assert "toy-secret" not in repr(bridge.query("toy", subject="s"))


def test_settings_precedence_defaults_env_overrides():
    bridge = Bridge(
        [toy_plugin],
        env={"KYCBRIDGE_TOY_RETRIES_HINT": "4"},
        settings={"toy": {"base_url": "http://127.0.0.1:1"}},
    )
    settings = bridge.settings("toy")
    assert settings.retries_hint == 4 and settings.base_url == "http://127.0.0.1:1"
    assert bridge.settings("toy", retries_hint=7).retries_hint == 7
    with pytest.raises(InvalidQuery, match="unknown setting"):
        bridge.settings("toy", nope=1)
    bad = Bridge([toy_plugin], env={"KYCBRIDGE_TOY_RETRIES_HINT": "many"})
    with pytest.raises(InvalidQuery, match="retries_hint"):
        bad.settings("toy")


def test_not_installed_lists_installed():
    bridge = Bridge([toy_plugin], env={})
    with pytest.raises(ProviderNotInstalled, match=r"'nope' is not installed \(installed: toy\)"):
        bridge.status("nope", subject="x")


class Recorder:
    def __init__(self) -> None:
        self.observed: list = []
        self.changes: list = []

    @kycbridge.hookimpl
    def status_observed(self, report):
        self.observed.append(report.state)

    @kycbridge.hookimpl
    def state_changed(self, old, new, report, anomaly):
        self.changes.append((old, new, anomaly, report.anomaly))


def test_event_hooks_and_anomalies(toy_sandbox, toy_sim):
    toy_sim.scripts["s"] = ["NEW", "NEW", "REVIEW", "NEW", "OK"]
    recorder = Recorder()
    with Bridge([toy_plugin], settings=toy_sandbox.settings(), hooks=[recorder], env={}) as bridge:
        reports = [bridge.status("toy", subject="s", token=TOY_TOKEN) for _ in range(5)]
    S = KYCState
    assert recorder.observed == [
        S.NOT_STARTED,
        S.NOT_STARTED,
        S.IN_REVIEW,
        S.NOT_STARTED,
        S.APPROVED,
    ]
    assert recorder.changes == [
        (None, S.NOT_STARTED, False, False),
        (S.NOT_STARTED, S.IN_REVIEW, False, False),
        (S.IN_REVIEW, S.NOT_STARTED, True, True),  # backwards: reported, not dropped
        (S.NOT_STARTED, S.APPROVED, False, False),
    ]
    assert [r.anomaly for r in reports] == [False, False, False, True, False]


def test_blocklist_flag_reaches_the_report(toy_bridge):
    assert toy_bridge.status("toy", subject="flagged", token=TOY_TOKEN).blocklisted


def test_rate_limiter_spaces_calls_across_threads():
    """4 threads x 5 calls on a frozen clock: the slots granted are exactly one interval apart.

    The clock never moves, so every wait is decided by the limiter alone (no scheduling luck):
    the i-th grant is at ``i * interval`` and its caller is told to sleep that long.
    """
    slept: list[float] = []
    limiter = RateLimiter(20, clock=lambda: 100.0, sleep=slept.append)
    waits: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(5):
            wait = limiter.acquire()
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    step = 1.02 / 20
    assert limiter.interval == step
    assert limiter.grants == 20
    assert list(limiter.granted) == pytest.approx([100.0 + i * step for i in range(20)])
    assert sorted(waits) == pytest.approx([i * step for i in range(20)])
    assert sorted(slept) == sorted(waits)[1:]  # the first caller did not wait
    # 20 calls at 20/s: the last one is granted >= 0.95 s after the first, so no one-second
    # window holds more than 20
    assert limiter.granted[-1] - limiter.granted[0] >= 0.95


def test_rate_limiter_grants_are_spaced_on_the_real_clock():
    """With the real clock and real threads, consecutive grants are still >= interval apart.

    Slots are decided under the lock, so this holds whatever the scheduling; the rate is high
    so the test takes milliseconds.
    """
    limiter = RateLimiter(2000)

    def work() -> None:
        for _ in range(25):
            limiter.acquire()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    slots = list(limiter.granted)
    assert limiter.grants == len(slots) == 100
    assert all(b - a >= limiter.interval * (1 - 1e-9) for a, b in itertools.pairwise(slots))


def test_rate_limiter_keeps_the_last_grants_only():
    limiter = RateLimiter(1, clock=lambda: 0.0, sleep=lambda s: None)
    for _ in range(1500):
        limiter.acquire()
    assert limiter.grants == 1500
    assert len(limiter.granted) == 1000
    assert limiter.granted[-1] == pytest.approx(1499 * 1.02)


def test_rate_limiter_defer_and_validation():
    now = [0.0]
    slept: list[float] = []
    limiter = RateLimiter(10, clock=lambda: now[0], sleep=slept.append)
    limiter.acquire()
    limiter.defer(2.0)
    limiter.acquire()
    assert slept == [2.0]
    with pytest.raises(ValueError):
        RateLimiter(0)
