"""Veriff's webhooks: the webhook contract, decision and event shapes, and the simulator's
deliveries, over real HTTP on loopback."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

import kycbridge
import kycbridge_veriff
from kycbridge import KYCState
from kycbridge.testing.webhooks import Recorder, WebhookContract, serve_wsgi
from kycbridge.webhooks import (
    WebhookApp,
    WebhookMalformed,
    WebhookNotConfigured,
    WebhookRejected,
    hmac_hex,
)
from kycbridge.webhooks.push import push_simulators
from kycbridge_veriff.query import VeriffSettings
from kycbridge_veriff.simulator import SANDBOX_SHARED_SECRET, VeriffSimulator
from kycbridge_veriff.webhooks import VeriffWebhooks

SECRET = SANDBOX_SHARED_SECRET
OTHER = "another-veriff-shared-secret"
NOW = 1_700_000_000.0
SID = "5e551000-0000-4000-8000-0000000000aa"


def _iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.timezone.utc).isoformat().replace("+00:00", "Z")


def decision(sid: str, status: str, code: int | None, at: float, **extra: Any) -> bytes:
    verification = {
        "id": sid,
        "attemptId": "a7e1f0c2-0000-4000-8000-000000000001",
        "vendorData": "partner-user-1",
        "endUserId": None,
        "status": status,
        "code": code,
        "reason": None,
        "reasonCode": None,
        "acceptanceTime": _iso(at - 300),
        "decisionTime": _iso(at),
        "person": {"firstName": "JANE", "lastName": "DOE"},
        "document": {"number": "X123", "type": "PASSPORT"},
    }
    return json.dumps(
        {"status": "success", "verification": verification,
         "technicalData": {"ip": "203.0.113.9"}, **extra}
    ).encode()


def event(sid: str, action: str = "submitted", code: int = 7002, **extra: Any) -> bytes:
    return json.dumps({"id": sid, "attemptId": "a7e1f0c2-0000-4000-8000-000000000002",
                       "feature": "selfid", "code": code, "action": action,
                       "vendorData": "partner-user-1", "endUserId": None, **extra}).encode()


def sign(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"content-type": "application/json", "x-hmac-signature": hmac_hex(secret, body)}


class TestVeriffWebhookContract(WebhookContract):
    plugin = kycbridge_veriff
    provider_name = "veriff"
    settings = {"shared_secret": SECRET}
    wrong_settings = {"shared_secret": OTHER}
    statuses = [  # the report's raw_status is "word/code"
        ("approved/9001", KYCState.APPROVED),
        ("declined/9102", KYCState.REJECTED),
        ("resubmission_requested/9103", KYCState.ACTION_REQUIRED),
        ("submitted/7002", KYCState.SUBMITTED),
        ("review/9121", KYCState.IN_REVIEW),
        ("expired/9104", KYCState.EXPIRED),
    ]
    signature_headers = ("x-hmac-signature",)

    def delivery(self, *, status, subject, event_id, occurred_at, now, settings, padding=0):
        extra = {"padding": "x" * padding} if padding else {}
        word, _, code = status.partition("/")
        if word == "submitted":  # an event webhook: no time
            body = event(subject, **extra)
        else:
            body = decision(subject, word, int(code), occurred_at, **extra)
        return sign(body, settings["shared_secret"]), body

    def make(self, status=None, **overrides):
        # Veriff's subject is a session id (a UUID), lowercase as the provider keeps it
        if "subject" not in overrides:
            overrides["subject"] = f"5e551000-0000-4000-8000-{next(_numbers):012d}"
        return super().make(status, **overrides)

    def sign(self, body, now, settings):
        return sign(body, settings["shared_secret"])


_numbers = iter(range(1, 10**9))

# -- in-process rules ---------------------------------------------------------------------------
HANDLER = VeriffWebhooks()
SETTINGS = VeriffSettings(shared_secret=SECRET)


def test_the_webhook_secret_wins_over_the_shared_secret():
    body = decision(SID, "approved", 9001, NOW)
    both = VeriffSettings(shared_secret=OTHER, webhook_secret=SECRET)
    HANDLER.verify(sign(body), body, both, NOW)
    with pytest.raises(WebhookRejected):
        HANDLER.verify(sign(body, OTHER), body, both, NOW)
    with pytest.raises(WebhookNotConfigured):
        HANDLER.verify(sign(body), body, VeriffSettings(), NOW)


def test_signature_is_over_the_raw_bytes_and_case_insensitive_hex():
    body = decision(SID, "approved", 9001, NOW)
    headers = sign(body)
    HANDLER.verify({"x-hmac-signature": headers["x-hmac-signature"].upper()}, body, SETTINGS, NOW)
    respaced = json.dumps(json.loads(body), indent=1).encode()  # same JSON, other bytes
    with pytest.raises(WebhookRejected):
        HANDLER.verify(headers, respaced, SETTINGS, NOW)
    for value in ("", "zz", "é" * 64, "a" * 1000):
        with pytest.raises(WebhookRejected):
            HANDLER.verify({"x-hmac-signature": value}, body, SETTINGS, NOW)


def test_no_time_is_signed_so_any_age_verifies():
    body = decision(SID, "approved", 9001, NOW - 10 * 365 * 86400)
    HANDLER.verify(sign(body), body, SETTINGS, NOW)
    assert HANDLER.tolerance is None


def test_a_decision_reads_like_a_polled_one_without_personal_data():
    body = decision(SID.upper(), "resubmission_requested", 9103, NOW - 5)
    [ev] = HANDLER.parse(body, SETTINGS)
    assert ev.event_type == "decision" and ev.subject == SID  # lowercase, as polled
    assert ev.occurred_at is not None and ev.occurred_at.timestamp() == NOW - 5
    report = ev.report
    assert report is not None
    assert (report.state, report.raw_status) == (KYCState.ACTION_REQUIRED,
                                                 "resubmission_requested/9103")
    assert report.details.code == 9103
    text = json.dumps(report.raw)
    for personal in ("JANE", "X123", "partner-user-1", "203.0.113.9"):
        assert personal not in text and personal not in repr(ev)
    assert SID not in ev.event_id and SID not in repr(ev)
    # the same decision, delivered again, has the same id; another decision another one
    assert HANDLER.parse(body, SETTINGS)[0].event_id == ev.event_id
    other = decision(SID, "approved", 9001, NOW)
    assert HANDLER.parse(other, SETTINGS)[0].event_id != ev.event_id


def test_an_event_webhook_is_submitted_and_has_no_time():
    [ev] = HANDLER.parse(event(SID), SETTINGS)
    assert ev.event_type == "event.submitted" and ev.occurred_at is None
    assert ev.report is not None and ev.report.state is KYCState.SUBMITTED
    assert ev.report.raw_status == "submitted/7002"
    assert "vendorData" not in ev.report.raw
    [started] = HANDLER.parse(event(SID, "started", 7001), SETTINGS)
    assert started.report is not None and started.report.state is KYCState.IN_PROGRESS
    [other] = HANDLER.parse(event(SID, "document_uploaded", 7005), SETTINGS)
    assert other.report is None  # an action that is no status: acknowledged only


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b"{}", b'{"verification": 1}', b'{"verification": {"status": "approved"}}',
     b'{"action": "submitted"}', b'{"action": "submitted", "id": "x", "code": "abc"}',
     b'{"verification": {"id": "x", "code": "9001"}}', b"\xff"],
)
def test_malformed_bodies(body):
    with pytest.raises(WebhookMalformed):
        HANDLER.parse(body, SETTINGS)


# -- the simulator pushes its scenarios over HTTP -----------------------------------------------
def test_the_simulator_pushes_every_scenario_and_every_fault():
    sim = VeriffSimulator()
    recorder = Recorder()
    bridge = kycbridge.Bridge([kycbridge_veriff], settings={"veriff": dict(sim.webhook_settings)},
                              hooks=[recorder], env={})
    events: list[Any] = []
    app = WebhookApp(bridge, on_event=events.append)
    sleeps: list[float] = []
    with serve_wsgi(app) as url:
        results = push_simulators(url, [sim], attempts=2, backoff=0.25, sleep=sleeps.append)
    pushed = results["veriff"]
    assert all(r.ok for r in pushed), [r for r in pushed if not r.ok]
    assert {r.expect for r in pushed} >= {"accepted", "duplicate", "stale", "unauthorized",
                                          "too_large", "malformed"}
    approved = [r.state for r in recorder.observed if r.subject == sim.scenarios[0].subject]
    assert approved == [KYCState.APPROVED]  # null, null, approved: one change pushed
    events_story = next(s for s in sim.scenarios if s.description.startswith("events:"))
    assert [r.state for r in recorder.observed if r.subject == events_story.subject] == [
        KYCState.IN_PROGRESS, KYCState.SUBMITTED, KYCState.APPROVED]
    assert len(events) == sum(r.expect == "accepted" for r in pushed)


# -- into the tracker: sandbox pushes -> receiver on loopback -> tracked history ----------------
def test_pushed_events_are_recorded_once_in_the_tracker_and_move_the_next_check(tmp_path):
    from kycbridge.tracking import Tracker
    from kycbridge.webhooks.tracking import TrackerSeenStore, TrackerSink

    sim = VeriffSimulator()
    now = 1_700_000_000.0
    bridge = kycbridge.Bridge([kycbridge_veriff], settings={"veriff": dict(sim.webhook_settings)},
                              env={})
    tracker = Tracker(f"sqlite:///{tmp_path / 'track.db'}", bridge=bridge, clock=lambda: now,
                      env={})
    stories = [s for s in sim.scenarios if s.description.startswith(("approved:", "declined:",
                                                                        "events:"))]
    tracked = {s.subject: tracker.add("veriff", session_id=s.subject) for s in stories}
    before = {sid: subject.next_check for sid, subject in tracked.items()}

    def receive() -> tuple[dict[str, list[Any]], TrackerSink]:
        sink = TrackerSink(tracker)
        app = WebhookApp(bridge, on_event=sink, seen=TrackerSeenStore(tracker, clock=lambda: now),
                         clock=lambda: now)
        with serve_wsgi(app) as url:
            pushed = push_simulators(url, [sim], now=now, attempts=1)
        return pushed, sink

    pushed, sink = receive()
    assert all(r.ok for r in pushed["veriff"])
    assert sink.recorded > 0 and sink.untracked > 0  # the other stories are not tracked
    for sid, subject in tracked.items():
        history = tracker.history(subject.id)
        assert history and {o.source for o in history} == {"webhook"}
        ids = [o.event_id for o in history]
        assert len(ids) == len(set(ids)) and None not in ids
        after = tracker.get(subject.id)
        assert after is not None and after.state is not None
        if after.final:
            assert after.next_check is None  # an outcome is not polled again
        else:
            assert after.next_check != before[sid]
    assert tracker.get(tracked[stories[0].subject].id).state is KYCState.APPROVED
    counts = {sid: len(tracker.history(s.id)) for sid, s in tracked.items()}
    # a restarted receiver gets everything again: the tracked events are known
    # (the seen store is warmed from the database), nothing is recorded twice
    again, sink = receive()
    assert all(r.ok or r.outcome == "duplicate" for r in again["veriff"])
    tracked_labels = {f"session {sid[-4:]}" for sid in tracked}
    for result in again["veriff"]:
        if result.label.split(":")[0] in tracked_labels:
            assert result.outcome == "duplicate", result
    assert sink.recorded == 0
    assert {sid: len(tracker.history(s.id)) for sid, s in tracked.items()} == counts
    tracker.close()
