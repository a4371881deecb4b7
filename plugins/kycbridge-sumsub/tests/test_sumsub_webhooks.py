"""Sumsub's webhooks: the webhook contract, the digest algorithms, event shapes, and the
simulator's deliveries, over real HTTP on loopback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kycbridge
import kycbridge_sumsub
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
from kycbridge_sumsub.query import SumsubSettings
from kycbridge_sumsub.simulator import (
    FINAL,
    GREEN,
    PENDING,
    RETRY,
    SANDBOX_WEBHOOK_SECRET,
    Step,
    SumsubSimulator,
    applicant_id,
    webhook_body,
)
from kycbridge_sumsub.webhooks import SumsubWebhooks

SECRET = SANDBOX_WEBHOOK_SECRET
OTHER = "another-sumsub-webhook-secret"
NOW = 1_700_000_000.0
AID = applicant_id(4242)
STEPS = {"completed/GREEN": GREEN, "completed/RED/FINAL": FINAL, "completed/RED/RETRY": RETRY,
         "pending": PENDING, "onHold": Step("onHold"), "init": Step("init")}


def sign(body: bytes, secret: str = SECRET, alg: str = "HMAC_SHA256_HEX",
         digest: str = "sha256") -> dict[str, str]:
    return {"content-type": "application/json", "x-payload-digest": hmac_hex(secret, body, digest),
            "x-payload-digest-alg": alg}


class TestSumsubWebhookContract(WebhookContract):
    plugin = kycbridge_sumsub
    provider_name = "sumsub"
    settings = {"webhook_secret": SECRET}
    wrong_settings = {"webhook_secret": OTHER}
    statuses = [
        ("completed/GREEN", KYCState.APPROVED),
        ("completed/RED/FINAL", KYCState.REJECTED),
        ("completed/RED/RETRY", KYCState.ACTION_REQUIRED),
        ("onHold", KYCState.IN_REVIEW),
        ("init", KYCState.NOT_STARTED),
        ("pending", KYCState.SUBMITTED),
    ]
    signature_headers = ("x-payload-digest",)

    def delivery(self, *, status, subject, event_id, occurred_at, now, settings, padding=0):
        extra = {"padding": "x" * padding} if padding else {}
        body = webhook_body(STEPS[status], subject, "partner-user-1", occurred_at, **extra)
        return sign(body, settings["webhook_secret"]), body

    def sign(self, body, now, settings):
        return sign(body, settings["webhook_secret"])


HANDLER = SumsubWebhooks()
SETTINGS = SumsubSettings(webhook_secret=SECRET)
BODY = webhook_body(RETRY, AID, "partner-user-1", NOW - 3)


@pytest.mark.parametrize(("alg", "digest"), [("HMAC_SHA256_HEX", "sha256"),
                                             ("HMAC_SHA512_HEX", "sha512"),
                                             ("HMAC_SHA1_HEX", "sha1"), ("hmac_sha1_hex", "sha1")])
def test_every_documented_algorithm_verifies(alg, digest):
    HANDLER.verify(sign(BODY, alg=alg, digest=digest), BODY, SETTINGS, NOW)


def test_the_digest_must_match_the_named_algorithm_and_a_missing_name_means_sha256():
    with pytest.raises(WebhookRejected):  # a SHA-1 digest announced as SHA-256
        HANDLER.verify(sign(BODY, digest="sha1"), BODY, SETTINGS, NOW)
    headers = sign(BODY)
    del headers["x-payload-digest-alg"]
    HANDLER.verify(headers, BODY, SETTINGS, NOW)
    for alg in ("HMAC_MD5_HEX", "", "sha256", "HMAC_SHA256_BASE64"):
        with pytest.raises(WebhookRejected):
            HANDLER.verify({**sign(BODY), "x-payload-digest-alg": alg}, BODY, SETTINGS, NOW)
    with pytest.raises(WebhookNotConfigured):
        HANDLER.verify(sign(BODY), BODY, SumsubSettings(secret_key="k"), NOW)


def test_a_review_reads_through_the_providers_map_without_personal_data():
    [event] = HANDLER.parse(BODY, SETTINGS)
    assert (event.event_type, event.subject) == ("applicantReviewed", AID)
    assert event.occurred_at is not None and event.occurred_at.timestamp() == int(NOW - 3)
    report = event.report
    assert report is not None and report.state is KYCState.ACTION_REQUIRED
    assert report.raw_status == "completed/RED/RETRY"
    assert report.state is kycbridge_sumsub.SumsubProvider().normalize("completed/RED/RETRY")
    text = json.dumps(report.raw) + repr(event)
    assert "partner-user-1" not in text and "internal note" not in text and AID not in repr(event)
    assert AID not in event.event_id
    assert HANDLER.parse(BODY, SETTINGS)[0].event_id == event.event_id
    [deleted] = HANDLER.parse(webhook_body(GREEN, AID, "u", NOW, event="applicantDeleted"),
                              SETTINGS)
    assert deleted.report is None


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b"{}", b'{"type": "applicantReviewed"}', b'{"applicantId": "a"}',
     b'{"type": "applicantReviewed", "applicantId": "a", "reviewStatus": 3}'],
)
def test_malformed_bodies(body):
    with pytest.raises(WebhookMalformed):
        HANDLER.parse(body, SETTINGS)


def test_the_simulator_pushes_every_scenario_and_every_fault():
    sim = SumsubSimulator()
    recorder = Recorder()
    bridge = kycbridge.Bridge([kycbridge_sumsub], settings={"sumsub": dict(sim.webhook_settings)},
                              hooks=[recorder], env={})
    events: list[Any] = []
    app = WebhookApp(bridge, on_event=events.append)
    with serve_wsgi(app) as url:
        results = push_simulators(url, [sim], attempts=2, backoff=0.25, sleep=lambda s: None)
    pushed = results["sumsub"]
    assert all(r.ok for r in pushed), [r for r in pushed if not r.ok]
    assert {r.expect for r in pushed} >= {"accepted", "acknowledged", "duplicate", "stale",
                                          "unauthorized", "too_large", "malformed"}
    assert [r.state for r in recorder.observed if r.subject == applicant_id(1)] == [
        KYCState.NOT_STARTED, KYCState.SUBMITTED, KYCState.IN_REVIEW, KYCState.APPROVED]
    assert len(events) == sum(r.expect in ("accepted", "acknowledged") for r in pushed)


_WORDS = st.sampled_from([
    "reviewStatus", "reviewResult", "reviewAnswer", "rejectLabels", "clientComment", "reviewId",
    "attemptCnt", "levelName", "priority", "info", "email", "buttonIds", "createDate",
])
_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))
_JSONISH = st.recursive(_LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(_WORDS, inner, max_size=5)), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_WORDS, _JSONISH, max_size=8))
def test_safe_review_keeps_what_safe_raw_keeps_of_the_review(review):
    # the webhook reads the review's raw through safe_review directly
    from kycbridge_sumsub.details import safe_raw, safe_review

    kept = safe_raw({"type": "individual", "review": review})
    assert kept is not None
    assert safe_review(review) == kept["review"]
