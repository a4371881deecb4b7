"""kycbridge's provider contract (``kycbridge.testing.ProviderContract``), run on Sumsub.

Both limits are off here so the contract runs fast (this provider instance's ``rate_limit``
and the simulator's window): they are tested in ``test_sumsub_http.py``.
"""

from __future__ import annotations

import pytest

import kycbridge_sumsub
from kycbridge import (
    AuthenticationError,
    KYCState,
    MalformedResponse,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    SubjectNotFound,
)
from kycbridge_sumsub.provider import SumsubProvider
from kycbridge_sumsub.simulator import SumsubSimulator, applicant_id

testing = pytest.importorskip("kycbridge.testing")

S = KYCState


def _unlimited_provider() -> SumsubProvider:
    provider = SumsubProvider()
    provider.rate_limit = None  # type: ignore[misc]  # this instance only
    return provider


def _unlimited_simulator() -> SumsubSimulator:
    return SumsubSimulator(rate_limit=None)


def _applicant(status: str, answer: str | None = None, reject: str | None = None) -> dict:
    result = {k: v for k, v in (("reviewAnswer", answer), ("reviewRejectType", reject)) if v}
    return {"id": "x", "review": {"reviewStatus": status, "reviewResult": result}}


DOCUMENTED: list[tuple[object, KYCState]] = [
    ("init", S.NOT_STARTED),
    ("pending", S.SUBMITTED),
    ("queued", S.IN_REVIEW),
    ("prechecked", S.IN_REVIEW),
    ("onHold", S.IN_REVIEW),
    ("awaitingService", S.IN_REVIEW),
    ("awaitingUser", S.ACTION_REQUIRED),
    ("completed/GREEN", S.APPROVED),
    ("completed/RED/RETRY", S.ACTION_REQUIRED),
    ("completed/RED/FINAL", S.REJECTED),
    ("completed/RED", S.REJECTED),
    ("completed", S.UNKNOWN),
    ("underManualCheck", S.UNKNOWN),
    ("pending/RED/RETRY", S.SUBMITTED),
    (_applicant("completed", "GREEN"), S.APPROVED),
    (_applicant("completed", "RED", "RETRY"), S.ACTION_REQUIRED),
    (_applicant("completed", "RED", "FINAL"), S.REJECTED),
    (_applicant("completed", "RED"), S.REJECTED),
    (_applicant("pending", "RED", "RETRY"), S.SUBMITTED),
    (_applicant("onHold"), S.IN_REVIEW),
    ({"reviewStatus": "awaitingUser"}, S.ACTION_REQUIRED),  # a review / webhook payload
]


class TestSumsubContract(testing.ProviderContract):  # type: ignore[misc]
    provider = _unlimited_provider()
    simulator_factory = _unlimited_simulator
    plugin = kycbridge_sumsub
    distribution = "kycbridge-sumsub"
    canary_secret = "sbx:kbcanary-7d1f0c55e2a94b8e"  # app tokens start sbx: or prd:
    valid_queries = [
        {"applicant_id": "5b594ade0a975a36c9349e66"},
        {"external_user_id": "user-12345"},
        {"external_user_id": "jane.doe@example.com"},
        {"external_user_id": "a/b?c#d;e=f%g h"},
    ]
    invalid_queries = [
        {},
        {"applicant_id": "5b594ade0a975a36c9349e66", "external_user_id": "user-1"},
        {"applicant_id": ""},
        {"applicant_id": "-;externalUserId=x"},
        {"applicant_id": "abc/../x"},
        {"applicant_id": "a" * 65},
        {"applicant_id": 12345},
        {"external_user_id": ""},
        {"external_user_id": " user-1"},
        {"external_user_id": "user\n1"},
        {"external_user_id": ".."},
        {"external_user_id": "u" * 257},
    ]
    documented_statuses = DOCUMENTED
    error_cases = [
        ("sandbox-nobody", SubjectNotFound),
        (applicant_id(0xFFFFFF), SubjectNotFound),
        ("sandbox-fault-400", RequestRejected),
        ("sandbox-fault-403", AuthenticationError),
        ("sandbox-fault-429", RateLimited),
        ("sandbox-fault-500", ProviderUnavailable),
        ("sandbox-fault-502", ProviderUnavailable),
        ("sandbox-fault-drop", ProviderUnavailable),
        ("sandbox-fault-wrong-types", MalformedResponse),
        ("sandbox-fault-not-applicant", MalformedResponse),
        ("sandbox-fault-html", MalformedResponse),
        ("sandbox-fault-invalid-json", MalformedResponse),
        ("sandbox-fault-wrong-content-type", MalformedResponse),
    ]
    scenario_transport_options = {"sandbox-fault-slow": {"read_timeout": 5.0}}
    max_examples = 100
