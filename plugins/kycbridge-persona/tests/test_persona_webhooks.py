"""Persona's webhooks: the webhook contract, the timestamped signature and secret rotation,
event shapes, and the simulator's deliveries, over real HTTP on loopback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kycbridge
import kycbridge_persona
from kycbridge import KYCState
from kycbridge.testing.webhooks import Recorder, WebhookContract, serve_wsgi
from kycbridge.webhooks import (
    WebhookApp,
    WebhookMalformed,
    WebhookNotConfigured,
    WebhookRejected,
)
from kycbridge.webhooks.push import push_simulators
from kycbridge_persona.query import PersonaSettings
from kycbridge_persona.simulator import (
    SANDBOX_WEBHOOK_SECRET,
    SANDBOX_WEBHOOK_SECRET_PREVIOUS,
    PersonaSimulator,
    webhook_body,
    webhook_signature,
)
from kycbridge_persona.webhooks import TOLERANCE, PersonaWebhooks, signature_sets

SECRET = SANDBOX_WEBHOOK_SECRET
PREVIOUS = SANDBOX_WEBHOOK_SECRET_PREVIOUS
OTHER = "wbhsec_another_secret_0123456789"
NOW = 1_700_000_000.0
EVENTS = {"approved": "inquiry.approved", "declined": "inquiry.declined",
          "needs_review": "inquiry.marked-for-review", "completed": "inquiry.completed",
          "failed": "inquiry.failed", "expired": "inquiry.expired", "pending": "inquiry.started",
          "created": "inquiry.created"}


class TestPersonaWebhookContract(WebhookContract):
    plugin = kycbridge_persona
    provider_name = "persona"
    settings = {"webhook_secret": SECRET}
    wrong_settings = {"webhook_secret": OTHER}
    statuses = [
        ("approved", KYCState.APPROVED),
        ("declined", KYCState.REJECTED),
        ("needs_review", KYCState.IN_REVIEW),
        ("completed", KYCState.SUBMITTED),
        ("failed", KYCState.REJECTED),
        ("expired", KYCState.EXPIRED),
        ("pending", KYCState.IN_PROGRESS),
        ("created", KYCState.NOT_STARTED),
    ]
    signature_headers = ("persona-signature",)

    def delivery(self, *, status, subject, event_id, occurred_at, now, settings, padding=0):
        extra = {"padding": "x" * padding} if padding else {}
        body = webhook_body(f"evt_{event_id}", EVENTS[status], subject, status, occurred_at,
                            **extra)
        return self.sign(body, now, settings), body

    def sign(self, body, now, settings):
        return {"content-type": "application/json",
                "persona-signature": webhook_signature(body, now, settings["webhook_secret"])}


HANDLER = PersonaWebhooks()
SETTINGS = PersonaSettings(webhook_secret=SECRET)
BODY = webhook_body("evt_1", "inquiry.approved", "inq_Test1", "approved", NOW - 1)


def headers(value: str) -> dict[str, str]:
    return {"persona-signature": value}


def test_rotation_accepts_either_secret_and_either_set():
    rotating = PersonaSettings(webhook_secret=SECRET, webhook_secret_previous=PREVIOUS)
    for secrets in ((SECRET,), (PREVIOUS,), (PREVIOUS, SECRET), (SECRET, PREVIOUS),
                    (OTHER, SECRET)):
        HANDLER.verify(headers(webhook_signature(BODY, NOW, *secrets)), BODY, rotating, NOW)
    with pytest.raises(WebhookRejected):  # the previous secret alone, once rotation is over
        HANDLER.verify(headers(webhook_signature(BODY, NOW, PREVIOUS)), BODY, SETTINGS, NOW)
    with pytest.raises(WebhookRejected):
        HANDLER.verify(headers(webhook_signature(BODY, NOW, OTHER)), BODY, rotating, NOW)
    # only the previous secret configured still verifies (a receiver mid-rotation)
    HANDLER.verify(headers(webhook_signature(BODY, NOW, PREVIOUS)), BODY,
                   PersonaSettings(webhook_secret_previous=PREVIOUS), NOW)
    with pytest.raises(WebhookNotConfigured):
        HANDLER.verify(headers(webhook_signature(BODY, NOW, SECRET)), BODY, PersonaSettings(),
                       NOW)


@pytest.mark.parametrize("offset", [-TOLERANCE - 1, TOLERANCE + 1, -86400, 10**9])
def test_a_time_out_of_tolerance_is_refused_even_when_the_signature_matches(offset):
    with pytest.raises(WebhookRejected, match="from now"):
        HANDLER.verify(headers(webhook_signature(BODY, NOW + offset, SECRET)), BODY, SETTINGS,
                       NOW)


@pytest.mark.parametrize("offset", [-TOLERANCE, TOLERANCE, 0])
def test_a_time_within_tolerance_verifies(offset):
    HANDLER.verify(headers(webhook_signature(BODY, NOW + offset, SECRET)), BODY, SETTINGS, NOW)


def test_the_signed_time_is_part_of_the_message():
    value = webhook_signature(BODY, NOW, SECRET)
    moved = value.replace(f"t={int(NOW)}", f"t={int(NOW) + 1}")
    with pytest.raises(WebhookRejected, match="matches"):
        HANDLER.verify(headers(moved), BODY, SETTINGS, NOW)


@pytest.mark.parametrize("value", ["", "t=1", "v1=ab", "garbage", "t=x,v1=ab",
                                   "t=" + "\u0661" * 10 + ",v1=a", "t=nan,v1=ab",
                                   "t=" + "9" * 30 + ",v1=ab", "x" * 5000])
def test_unreadable_headers_are_refused(value):
    with pytest.raises(WebhookRejected):
        HANDLER.verify(headers(value), BODY, SETTINGS, NOW)


@given(st.text(max_size=300))
def test_signature_sets_is_total_and_bounded(value):
    sets = signature_sets(value)
    assert len(sets) <= 4


def test_events_read_the_inquiry_through_the_providers_map():
    [event] = HANDLER.parse(BODY, SETTINGS)
    assert (event.event_id, event.event_type, event.subject) == ("evt_1", "inquiry.approved",
                                                                  "inq_Test1")
    assert event.occurred_at is not None and event.occurred_at.timestamp() == NOW - 1
    report = event.report
    assert report is not None and report.state is KYCState.APPROVED
    assert report.raw_status == "approved" and report.details.inquiry_id == "inq_Test1"
    text = json.dumps(report.raw) + json.dumps(event.raw)
    assert "Jane" not in text and "1990-01-01" not in text and "inq_Test1" not in repr(event)


def test_snake_and_camel_inflections_are_read():
    payload = json.loads(BODY)
    attributes = payload["data"]["attributes"]
    attributes["createdAt"] = attributes.pop("created-at")
    [event] = HANDLER.parse(json.dumps(payload).encode(), SETTINGS)
    assert event.occurred_at is not None


def test_redactions_and_other_events_have_no_status():
    for name in ("inquiry.redacted", "report.run-completed", "account.created"):
        body = webhook_body("evt_2", name, "inq_Test1", None, NOW)
        [event] = HANDLER.parse(body, SETTINGS)
        assert event.report is None and event.event_type == name


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b'{"data": {}}', b'{"data": {"type": "inquiry", "id": "x"}}',
     b'{"data": {"type": "event", "id": "evt_1", "attributes": {}}}',
     b'{"data": {"type": "event", "attributes": {"name": "inquiry.approved"}}}',
     b'{"data": {"type": "event", "id": "e", "attributes": {"name": "inquiry.approved",'
     b' "payload": {"data": {"type": "account", "id": "a"}}}}}',
     b'{"data": {"type": "event", "id": "e", "attributes": {"name": "inquiry.approved"}}}'],
)
def test_malformed_bodies(body):
    with pytest.raises(WebhookMalformed):
        HANDLER.parse(body, SETTINGS)


def test_the_simulator_pushes_every_scenario_and_every_fault():
    sim = PersonaSimulator()
    recorder = Recorder()
    settings = {**sim.webhook_settings, "webhook_secret_previous": PREVIOUS}
    bridge = kycbridge.Bridge([kycbridge_persona], settings={"persona": settings},
                              hooks=[recorder], env={})
    events: list[Any] = []
    app = WebhookApp(bridge, on_event=events.append, clock=lambda: NOW)
    with serve_wsgi(app) as url:
        results = push_simulators(url, [sim], now=NOW, attempts=2, backoff=0.25,
                                  sleep=lambda s: None)
    pushed = results["persona"]
    assert all(r.ok for r in pushed), [r for r in pushed if not r.ok]
    assert {r.expect for r in pushed} >= {"accepted", "acknowledged", "duplicate", "stale",
                                          "unauthorized", "too_large", "malformed"}
    assert [r.state for r in recorder.observed if r.subject == "inq_SandboxApproved"] == [
        KYCState.NOT_STARTED, KYCState.IN_PROGRESS, KYCState.SUBMITTED, KYCState.APPROVED]
    assert len(events) == sum(r.expect in ("accepted", "acknowledged") for r in pushed)


_STAMP_VALUES = st.one_of(st.none(), st.text(max_size=8), st.integers(), st.booleans())


@given(st.dictionaries(
    st.sampled_from([name for kebab in ("created-at", "started-at", "completed-at", "failed-at",
                                        "decisioned-at", "expired-at")
                     for name in (kebab, kebab.replace("-", "_"),
                                  kebab.split("-")[0] + "At")]),
    _STAMP_VALUES, max_size=12,
))
def test_parse_inquiry_reads_timestamps_as_attribute_does(stamps):
    # parse_inquiry reads each timestamp with its spellings made once: as attribute() does
    from kycbridge import MalformedResponse
    from kycbridge_persona.details import TIMESTAMPS, attribute, parse_inquiry

    attributes = {"status": "approved", **stamps}
    resource = {"type": "inquiry", "id": "inq_1", "attributes": attributes}
    expected = {field: attribute(attributes, kebab) for kebab, field in TIMESTAMPS.items()}
    if any(v is not None and type(v) is not str for v in expected.values()):
        with pytest.raises(MalformedResponse):
            parse_inquiry(resource)
        return
    details = parse_inquiry(resource)
    assert {field: getattr(details, field) for field in TIMESTAMPS.values()} == expected
