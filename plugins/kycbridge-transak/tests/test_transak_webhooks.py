"""Transak's webhooks: the webhook contract, the JWT rules, and the simulator's deliveries,
over real HTTP on loopback."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest

import kycbridge
import kycbridge_transak
from kycbridge import KYCState
from kycbridge.testing.webhooks import Recorder, WebhookContract, post, serve_wsgi
from kycbridge.webhooks import WebhookApp, WebhookMalformed, WebhookNotConfigured, WebhookRejected
from kycbridge.webhooks.push import Pusher, push_simulators
from kycbridge_transak.query import TransakSettings
from kycbridge_transak.simulator import (
    SANDBOX_PARTNER_TOKEN,
    TransakSimulator,
    webhook_body,
)
from kycbridge_transak.webhooks import TransakWebhooks, event_id_for

KEY = SANDBOX_PARTNER_TOKEN
OTHER = "another-partner-token-0123456789abcdef"
NOW = 1_700_000_000.0


def data(user: str, word: str | None, at: float, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"partnerUserId": user, "updatedAt": _iso(at), **extra}
    if word is not None:
        out["kycStatus"] = word
    return out


def _iso(at: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(at, dt.timezone.utc).isoformat().replace("+00:00", "Z")


class TestTransakWebhookContract(WebhookContract):
    plugin = kycbridge_transak
    provider_name = "transak"
    settings = {"partner_access_token": KEY}
    wrong_settings = {"partner_access_token": OTHER}
    statuses = [
        ("APPROVED", KYCState.APPROVED),
        ("REJECTED", KYCState.REJECTED),
        ("SUBMITTED", KYCState.SUBMITTED),
    ]

    def delivery(self, *, status, subject, event_id, occurred_at, now, settings, padding=0):
        extra = {"padding": "x" * padding} if padding else {}
        body = webhook_body(
            f"KYC_{status}",
            data(subject, status, occurred_at, **extra),
            key=settings["partner_access_token"],
            issued_at=now,
        )
        return {"content-type": "application/json"}, body

    def tamper(self, headers, body, subject):
        token = json.loads(body)["data"]
        head, payload, signature = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["webhookData"]["kycStatus"] = (
            "APPROVED" if claims["webhookData"]["kycStatus"] != "APPROVED" else "REJECTED"
        )
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        return headers, json.dumps({"data": f"{head}.{forged}.{signature}"}).encode()

    def strip_signature(self, headers, body):
        claims = jwt.decode(json.loads(body)["data"], options={"verify_signature": False})
        return headers, json.dumps({"data": claims}).encode()


# -- the JWT rules, in-process ----------------------------------------------------------------
HANDLER = TransakWebhooks()
SETTINGS = TransakSettings(partner_access_token=KEY)


def test_alg_none_and_other_algorithms_are_refused():
    claims = {"eventID": "KYC_APPROVED", "webhookData": data("u-1", "APPROVED", NOW)}
    unsigned = jwt.encode(claims, None, algorithm="none")
    hs512 = jwt.encode(claims, KEY + "-longer-for-hs512-0123456789abcdef", algorithm="HS512")
    for token in (unsigned, hs512, "not.a.jwt", "", "a" * 5000):
        body = json.dumps({"data": token}).encode()
        with pytest.raises(WebhookRejected):
            HANDLER.verify({}, body, SETTINGS, NOW)


def test_expiry_is_checked_against_the_receivers_clock_with_leeway():
    claims = {"eventID": "KYC_APPROVED", "webhookData": data("u-1", "APPROVED", NOW), "exp": NOW}
    body = json.dumps({"data": jwt.encode(claims, KEY, algorithm="HS256")}).encode()
    HANDLER.verify({}, body, SETTINGS, NOW + HANDLER.leeway)  # within the leeway
    with pytest.raises(WebhookRejected, match="expired"):
        HANDLER.verify({}, body, SETTINGS, NOW + HANDLER.leeway + 1)
    claims = {**claims, "exp": None, "nbf": NOW + 1000}
    body = json.dumps({"data": jwt.encode(claims, KEY, algorithm="HS256")}).encode()
    with pytest.raises(WebhookRejected, match="not valid yet"):
        HANDLER.verify({}, body, SETTINGS, NOW)


def test_unsigned_bodies_only_when_explicitly_enabled():
    body = webhook_body("KYC_APPROVED", data("u-1", "APPROVED", NOW), key=None)
    with pytest.raises(WebhookRejected):
        HANDLER.verify({}, body, SETTINGS, NOW)
    with pytest.raises(WebhookRejected):  # no key configured does not make it acceptable
        HANDLER.verify({}, body, TransakSettings(), NOW)
    allowing = TransakSettings(webhook_unsigned=" ACCEPT ")
    HANDLER.verify({}, body, allowing, NOW)
    [event] = HANDLER.parse(body, allowing)
    assert event.report is not None and event.report.state is KYCState.APPROVED
    with pytest.raises(ValueError):
        TransakSettings(webhook_unsigned="true")


def test_no_partner_token_is_a_configuration_error():
    body = webhook_body("KYC_APPROVED", data("u-1", "APPROVED", NOW))
    with pytest.raises(WebhookNotConfigured):
        HANDLER.verify({}, body, TransakSettings(), NOW)


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b'{"data": 1}', b'{"nodata": "x"}', b'{"data": "a", "data": "b"}', b"\xff"],
)
def test_malformed_bodies(body):
    with pytest.raises(WebhookMalformed):
        HANDLER.verify({}, body, SETTINGS, NOW)


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        (b'{"eventID": "KYC_REJECTED", "eventID": "KYC_APPROVED", "webhookData": {}}', "twice"),
        (b'{"eventID": "KYC_APPROVED", "webhookData": {"n": NaN}}', "NaN"),
        (b'{"eventID": "KYC_APPROVED", "webhookData": ' + b"[" * 100 + b"]" * 100 + b"}",
         "too deep"),
        (b'["KYC_APPROVED"]', "not an object"),
        (b"\xff", "not UTF-8"),
    ],
)
def test_signed_claims_are_read_as_strictly_as_the_body(claims, why):
    # correctly signed with the partner token, but not claims kycbridge reads: 400, not 401
    token = jwt.api_jws.encode(claims, KEY, algorithm="HS256")
    body = json.dumps({"data": token}).encode()
    with pytest.raises(WebhookMalformed):
        HANDLER.verify({}, body, SETTINGS, NOW)
    tampered = json.dumps({"data": token[:-2] + ("AA" if token[-2:] != "AA" else "BB")}).encode()
    with pytest.raises(WebhookRejected):  # the signature is still checked first
        HANDLER.verify({}, tampered, SETTINGS, NOW)


def test_parse_reads_the_event():
    webhook_data = data("partner-user-42", "REJECTED", NOW - 5, kycType="STANDARD")
    body = webhook_body("KYC_REJECTED", webhook_data, issued_at=NOW)
    [event] = HANDLER.parse(body, SETTINGS)
    assert event.event_type == "KYC_REJECTED"
    assert event.event_id == event_id_for("KYC_REJECTED", webhook_data)
    assert event.occurred_at is not None and event.occurred_at.timestamp() == NOW - 5
    assert event.subject == "partner-user-42"
    assert "partner-user-42" not in repr(event)
    report = event.report
    assert report is not None
    assert (report.state, report.raw_status, report.details.kyc_type) == (
        KYCState.REJECTED,
        "REJECTED",
        "STANDARD",
    )
    # an order event has no status: acknowledged without a report
    [order] = HANDLER.parse(webhook_body("ORDER_COMPLETED", {"id": "o-1"}), SETTINGS)
    assert order.report is None and order.event_type == "ORDER_COMPLETED"
    # an unknown status word is unknown, kept raw
    [odd] = HANDLER.parse(webhook_body("KYC_ON_HOLD", data("u", "ON_HOLD", NOW)), SETTINGS)
    assert odd.report is not None and odd.report.state is KYCState.UNKNOWN


def test_the_status_map_is_the_providers():
    for word in ("SUBMITTED", "APPROVED", "REJECTED"):
        [event] = HANDLER.parse(webhook_body(f"KYC_{word}", data("u", word, NOW)), SETTINGS)
        assert event.report is not None
        assert event.report.state is kycbridge_transak.STATUS_MAP(word)


# -- the simulator pushes its scenarios over HTTP ---------------------------------------------
def test_the_simulator_pushes_every_scenario_and_every_fault():
    sim = TransakSimulator()
    recorder = Recorder()
    bridge = kycbridge.Bridge(
        [kycbridge_transak],
        settings={"transak": dict(sim.webhook_settings)},
        hooks=[recorder],
        env={},
    )
    events = []
    app = WebhookApp(bridge, on_event=events.append)
    sleeps: list[float] = []
    with serve_wsgi(app) as url:
        results = push_simulators(url, [sim], attempts=3, backoff=0.25, sleep=sleeps.append)
    results_list = results["transak"]
    assert all(r.ok for r in results_list), [r for r in results_list if not r.ok]
    expects = {r.expect for r in results_list}
    assert expects >= {"accepted", "duplicate", "stale", "unauthorized", "too_large", "malformed"}
    # refused deliveries were retried like the provider would: 3 attempts, backoff doubling
    refused = [r for r in results_list if r.status != 200]
    assert refused and all(r.attempts == 3 for r in refused)
    assert sleeps == [0.25, 0.5] * len(refused)
    # the approved scenario's changes reached the bridge as observed states
    approved = [r.state for r in recorder.observed if r.subject == "wfr-approved"]
    assert approved == [KYCState.SUBMITTED, KYCState.APPROVED]
    assert len(events) == sum(r.expect in ("accepted", "acknowledged") for r in results_list)


def test_the_pusher_gives_up_within_its_deadline():
    sleeps: list[float] = []
    clock = iter(range(0, 1000, 10))
    pusher = Pusher(
        "http://127.0.0.1:9",
        attempts=50,
        backoff=1,
        deadline=25,
        sleep=sleeps.append,
        clock=lambda: float(next(clock)),
    )
    delivery = TransakSimulator().webhook_deliveries(time.time())[0]
    result = pusher.push("transak", delivery)
    assert result.status is None and not result.ok
    assert result.attempts < 50 and sum(sleeps) <= 25


def test_a_real_http_delivery_through_post_helper():
    sim = TransakSimulator()
    bridge = kycbridge.Bridge(
        [kycbridge_transak], settings={"transak": dict(sim.webhook_settings)}, env={}
    )
    app = WebhookApp(bridge)
    body = webhook_body("KYC_APPROVED", data("u-http", "APPROVED", time.time()))
    with serve_wsgi(app) as url:
        assert post(f"{url}/webhooks/transak", {"content-type": "application/json"}, body) == (
            200,
            b'{"status": "accepted"}',
        )
