"""Onfido's webhooks: the webhook contract, the actions, and the simulator's deliveries, over
real HTTP on loopback."""

from __future__ import annotations

import json
from typing import Any

import pytest

import kycbridge
import kycbridge_onfido
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
from kycbridge_onfido.query import OnfidoSettings
from kycbridge_onfido.simulator import (
    SANDBOX_WEBHOOK_TOKEN,
    OnfidoSimulator,
    webhook_body,
    workflow_run,
)
from kycbridge_onfido.simulator import Step as SimStep
from kycbridge_onfido.webhooks import OnfidoWebhooks, event_id_for

TOKEN = SANDBOX_WEBHOOK_TOKEN
OTHER = "another-onfido-webhook-token"
NOW = 1_700_000_000.0


def sign(body: bytes, token: str = TOKEN) -> dict[str, str]:
    return {"content-type": "application/json", "x-sha2-signature": hmac_hex(token, body)}


class TestOnfidoWebhookContract(WebhookContract):
    plugin = kycbridge_onfido
    provider_name = "onfido"
    settings = {"webhook_secret": TOKEN}
    wrong_settings = {"webhook_secret": OTHER}
    statuses = [
        ("approved", KYCState.APPROVED),
        ("declined", KYCState.REJECTED),
        ("review", KYCState.IN_REVIEW),
        ("abandoned", KYCState.ABANDONED),
        ("error", KYCState.UNKNOWN),
    ]
    signature_headers = ("x-sha2-signature",)

    def delivery(self, *, status, subject, event_id, occurred_at, now, settings, padding=0):
        extra = {"padding": "x" * padding} if padding else {}
        body = webhook_body("workflow_run.completed", subject, status, occurred_at, **extra)
        return sign(body, settings["webhook_secret"]), body

    def sign(self, body, now, settings):
        return sign(body, settings["webhook_secret"])


HANDLER = OnfidoWebhooks()
SETTINGS = OnfidoSettings(webhook_secret=TOKEN)


def test_no_webhook_token_is_a_configuration_error_and_the_api_token_is_not_used():
    body = webhook_body("workflow_run.completed", "wfr-1", "approved", NOW)
    with pytest.raises(WebhookNotConfigured):
        HANDLER.verify(sign(body), body, OnfidoSettings(api_token="api_sandbox.x"), NOW)
    with pytest.raises(WebhookRejected):
        HANDLER.verify(sign(body, "api_sandbox.x"), body,
                       OnfidoSettings(api_token="api_sandbox.x", webhook_secret=TOKEN), NOW)


def test_signature_covers_the_raw_bytes():
    body = webhook_body("workflow_run.completed", "wfr-1", "approved", NOW)
    HANDLER.verify(sign(body), body, SETTINGS, NOW)
    with pytest.raises(WebhookRejected):
        HANDLER.verify(sign(body), body + b" ", SETTINGS, NOW)
    with pytest.raises(WebhookRejected):
        HANDLER.verify({}, body, SETTINGS, NOW)


def test_workflow_run_completed_reads_the_run_through_the_providers_map():
    run = workflow_run("wfr-7", SimStep("declined", reasons=("document_expired",)))
    body = webhook_body("workflow_run.completed", "wfr-7", "declined", NOW - 3, run)
    [event] = HANDLER.parse(body, SETTINGS)
    assert (event.event_type, event.subject) == ("workflow_run.completed", "wfr-7")
    assert event.occurred_at is not None and event.occurred_at.timestamp() == NOW - 3
    report = event.report
    assert report is not None and report.state is KYCState.REJECTED
    assert report.raw_status == "declined" and report.details.reasons == ("document_expired",)
    assert report.state is kycbridge_onfido.OnfidoProvider().normalize("declined")
    # personal and secret parts of the run never reach the report
    text = json.dumps(report.raw) + repr(report) + repr(event)
    assert "sdk_token" not in text and "sandbox-user" not in text and "wfr-7" not in repr(event)
    # the id is derived from (action, object id, completed_at): a retry has the same one
    obj = json.loads(body)["payload"]["object"]
    assert event.event_id == event_id_for("workflow_run.completed", obj)
    later = webhook_body("workflow_run.completed", "wfr-7", "declined", NOW)
    assert HANDLER.parse(later, SETTINGS)[0].event_id != event.event_id


def test_checks_and_tasks_are_acknowledged_without_a_status():
    for action, status in (("check.completed", "complete"),
                           ("workflow_task.completed", "completed"),
                           ("workflow_run.created", "processing")):
        [event] = HANDLER.parse(webhook_body(action, "obj-1", status, NOW), SETTINGS)
        assert event.report is None and event.event_type == action


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b"{}", b'{"payload": []}', b'{"payload": {"action": "x"}}',
     b'{"payload": {"action": "x", "object": {}}}',
     b'{"payload": {"action": "workflow_run.completed", "object": {"id": "r"}}}',
     b'{"payload": {"action": "workflow_run.completed", "object": {"id": "r", "status": "ok"},'
     b' "resource": {"id": "r", "tags": "nope"}}}'],
)
def test_malformed_bodies(body):
    with pytest.raises(WebhookMalformed):
        HANDLER.parse(body, SETTINGS)


def test_the_simulator_pushes_every_scenario_and_every_fault():
    sim = OnfidoSimulator()
    recorder = Recorder()
    bridge = kycbridge.Bridge([kycbridge_onfido], settings={"onfido": dict(sim.webhook_settings)},
                              hooks=[recorder], env={})
    events: list[Any] = []
    app = WebhookApp(bridge, on_event=events.append)
    with serve_wsgi(app) as url:
        results = push_simulators(url, [sim], attempts=2, backoff=0.25, sleep=lambda s: None)
    pushed = results["onfido"]
    assert all(r.ok for r in pushed), [r for r in pushed if not r.ok]
    assert {r.expect for r in pushed} >= {"accepted", "acknowledged", "duplicate", "stale",
                                          "unauthorized", "too_large", "malformed"}
    assert [r.state for r in recorder.observed if r.subject == "wfr-approved"] == [
        KYCState.IN_REVIEW, KYCState.APPROVED]
    assert len(events) == sum(r.expect in ("accepted", "acknowledged") for r in pushed)
