"""Didit's webhooks: the webhook contract, X-Signature and X-Signature-V2 (re-serialized:
non-ASCII, whole-number floats), the signed timestamp, and the simulator's deliveries, over
real HTTP on loopback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kycbridge
import kycbridge_didit
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
from kycbridge_didit.query import DiditSettings
from kycbridge_didit.simulator import (
    IR,
    OK,
    SANDBOX_WEBHOOK_SECRET,
    DiditSimulator,
    Step,
    session_id,
    webhook_headers,
    webhook_payload,
)
from kycbridge_didit.webhooks import TOLERANCE, DiditWebhooks, canonical_body, shorten_floats

SECRET = SANDBOX_WEBHOOK_SECRET
OTHER = "another-didit-webhook-secret"
NOW = 1_700_000_000.0
SID = session_id(42)


class TestDiditWebhookContract(WebhookContract):
    plugin = kycbridge_didit
    provider_name = "didit"
    settings = {"webhook_secret": SECRET}
    wrong_settings = {"webhook_secret": OTHER}
    statuses = [
        ("Approved", KYCState.APPROVED),
        ("Declined", KYCState.REJECTED),
        ("In Review", KYCState.IN_REVIEW),
        ("Resubmitted", KYCState.ACTION_REQUIRED),
        ("Kyc Expired", KYCState.EXPIRED),
        ("Abandoned", KYCState.ABANDONED),
        ("In Progress", KYCState.IN_PROGRESS),
        ("Not Started", KYCState.NOT_STARTED),
    ]
    signature_headers = ("x-signature", "x-signature-v2")

    def delivery(self, *, status, subject, event_id, occurred_at, now, settings, padding=0):
        extra = {"padding": "x" * padding} if padding else {}
        # the signed timestamp is the sending time; the event time is the same field, so
        # an older event is one sent earlier (within the tolerance)
        payload = webhook_payload(event_id, subject, Step(status), occurred_at, **extra)
        payload["timestamp"] = int(occurred_at if abs(now - occurred_at) < 200 else now)
        body = json.dumps(payload).encode()
        return webhook_headers(payload, body, settings["webhook_secret"]), body

    def sign(self, body, now, settings):
        return {"x-signature": hmac_hex(settings["webhook_secret"], body)}


HANDLER = DiditWebhooks()
SETTINGS = DiditSettings(webhook_secret=SECRET)


def deliver(payload: dict[str, Any], *, ensure_ascii: bool = True, v1: bool = True,
            secret: str = SECRET) -> tuple[dict[str, str], bytes]:
    body = json.dumps(payload, ensure_ascii=ensure_ascii).encode("utf-8")
    return webhook_headers(payload, body, secret, v1=v1), body


def test_v2_is_the_documented_canonical_form():
    payload = {"b": 1.0, "a": {"z": "José", "y": [2.5, 3.0, -0.0, 1e20]}, "c": None}
    assert canonical_body(payload) == (
        '{"a":{"y":[2.5,3,0,100000000000000000000],"z":"José"},"b":1,"c":null}'.encode()
    )
    assert shorten_floats({"x": [1.0, 1.5, True]}) == {"x": [1, 1.5, True]}


def test_x_signature_covers_the_raw_body_v2_the_re_serialized_one():
    payload = webhook_payload("e-1", SID, IR, NOW, metadata={"name": "Zoë", "score": 97.0})
    headers, body = deliver(payload)
    HANDLER.verify(headers, body, SETTINGS, NOW)
    # a proxy re-encodes the JSON (non-ASCII kept, spaces, 97.0 kept): X-Signature breaks,
    # X-Signature-V2 still holds
    reencoded = json.dumps(payload, ensure_ascii=False, indent=2).encode("utf-8")
    HANDLER.verify(headers, reencoded, SETTINGS, NOW)
    with pytest.raises(WebhookRejected):
        HANDLER.verify({"x-signature": headers["x-signature"]}, reencoded, SETTINGS, NOW)
    # V2 alone, over non-ASCII and whole-number floats
    v2_only, body = deliver(payload, ensure_ascii=False, v1=False)
    HANDLER.verify(v2_only, body, SETTINGS, NOW)
    # a changed value breaks both
    tampered = body.replace("Zoë".encode(), b"Zoe")
    with pytest.raises(WebhookRejected):
        HANDLER.verify(headers, tampered, SETTINGS, NOW)


def test_the_simple_signature_is_never_accepted():
    payload = webhook_payload("e-1", SID, OK, NOW)
    body = json.dumps(payload).encode()
    simple = hmac_hex(SECRET, f"{int(NOW)}:{SID}:Approved:status.updated".encode())
    with pytest.raises(WebhookRejected):
        HANDLER.verify({"x-signature-simple": simple, "x-timestamp": str(int(NOW))}, body,
                       SETTINGS, NOW)


@pytest.mark.parametrize("offset", [-TOLERANCE - 1, TOLERANCE + 1, -86400])
def test_a_signed_timestamp_out_of_tolerance_is_refused(offset):
    headers, body = deliver(webhook_payload("e-1", SID, OK, NOW + offset))
    with pytest.raises(WebhookRejected, match="from now"):
        HANDLER.verify(headers, body, SETTINGS, NOW)


def test_the_timestamp_header_must_agree_and_the_body_must_carry_one():
    headers, body = deliver(webhook_payload("e-1", SID, OK, NOW))
    with pytest.raises(WebhookRejected, match="X-Timestamp"):
        HANDLER.verify({**headers, "x-timestamp": str(int(NOW) - 5)}, body, SETTINGS, NOW)
    payload = webhook_payload("e-1", SID, OK, NOW)
    del payload["timestamp"]
    headers, body = deliver(payload)
    with pytest.raises(WebhookRejected, match="timestamp"):
        HANDLER.verify({k: v for k, v in headers.items() if k != "x-timestamp"}, body,
                       SETTINGS, NOW)


def test_configuration_and_garbage():
    headers, body = deliver(webhook_payload("e-1", SID, OK, NOW))
    with pytest.raises(WebhookNotConfigured):
        HANDLER.verify(headers, body, DiditSettings(), NOW)
    with pytest.raises(WebhookRejected):  # V2 over a body that is not JSON cannot match
        HANDLER.verify({"x-signature-v2": "ab" * 32}, b"\xff not json", SETTINGS, NOW)
    with pytest.raises(WebhookMalformed):  # authentic (raw signature) but not JSON
        HANDLER.verify({"x-signature": hmac_hex(SECRET, b"nope")}, b"nope", SETTINGS, NOW)


def test_status_events_read_through_the_providers_map_without_personal_data():
    payload = webhook_payload("evt-1", SID, OK, NOW - 2)
    [event] = HANDLER.parse(json.dumps(payload).encode(), SETTINGS)
    assert (event.event_id, event.event_type, event.subject) == ("evt-1", "status.updated", SID)
    assert event.occurred_at is not None and event.occurred_at.timestamp() == int(NOW - 2)
    report = event.report
    assert report is not None and report.state is KYCState.APPROVED
    assert report.state is kycbridge_didit.DiditProvider().normalize("Approved")
    assert {c.feature for c in report.details.checks} >= {"id_verification", "liveness"}
    text = json.dumps(report.raw) + repr(event)
    assert "partner-user" not in text and "Jane" not in text and SID not in repr(event)
    [other] = HANDLER.parse(json.dumps(webhook_payload("evt-2", SID, OK, NOW,
                                                       webhook_type="data.updated")).encode(),
                            SETTINGS)
    assert other.report is None
    no_id = webhook_payload("evt-3", SID, OK, NOW)
    del no_id["event_id"]
    [derived] = HANDLER.parse(json.dumps(no_id).encode(), SETTINGS)
    assert derived.event_id.startswith("status.updated:") and SID not in derived.event_id


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b"{}", b'{"webhook_type": "status.updated"}',
     b'{"webhook_type": "status.updated", "session_id": "s", "status": 3}',
     b'{"webhook_type": "status.updated", "session_id": "s", "status": "Approved",'
     b' "decision": {"features": "x"}}'],
)
def test_malformed_bodies(body):
    with pytest.raises(WebhookMalformed):
        HANDLER.parse(body, SETTINGS)


json_leaves = (st.none() | st.booleans() | st.integers(-10**12, 10**12)
               | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10))
json_values = st.recursive(json_leaves, lambda c: st.lists(c, max_size=3)
                           | st.dictionaries(st.text(max_size=6), c, max_size=3), max_leaves=12)


@settings(suppress_health_check=list(HealthCheck), deadline=None, max_examples=150)
@given(extra=json_values, ensure_ascii=st.booleans(), indent=st.sampled_from([None, 1]))
def test_any_json_signed_v2_verifies_however_it_is_encoded(extra, ensure_ascii, indent):
    payload = {**webhook_payload("e-h", SID, OK, NOW), "extra": extra}
    headers, _ = deliver(payload, v1=False)
    body = json.dumps(payload, ensure_ascii=ensure_ascii, indent=indent).encode("utf-8")
    HANDLER.verify(headers, body, SETTINGS, NOW)


def test_the_simulator_pushes_every_scenario_and_every_fault():
    sim = DiditSimulator()
    recorder = Recorder()
    bridge = kycbridge.Bridge([kycbridge_didit], settings={"didit": dict(sim.webhook_settings)},
                              hooks=[recorder], env={})
    events: list[Any] = []
    app = WebhookApp(bridge, on_event=events.append, clock=lambda: NOW)
    with serve_wsgi(app) as url:
        results = push_simulators(url, [sim], now=NOW, attempts=2, backoff=0.25,
                                  sleep=lambda s: None)
    pushed = results["didit"]
    assert all(r.ok for r in pushed), [r for r in pushed if not r.ok]
    assert {r.expect for r in pushed} >= {"accepted", "acknowledged", "duplicate", "stale",
                                          "unauthorized", "too_large", "malformed"}
    assert [r.state for r in recorder.observed if r.subject == session_id(1)] == [
        KYCState.NOT_STARTED, KYCState.IN_PROGRESS, KYCState.IN_REVIEW, KYCState.APPROVED]
    assert len(events) == sum(r.expect in ("accepted", "acknowledged") for r in pushed)
