"""kycbridge's provider contract (``kycbridge.testing.ProviderContract``), run on Veriff."""

from __future__ import annotations

from typing import Any

import pytest

import kycbridge_veriff
from kycbridge import (
    KYCState,
    MalformedResponse,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    SubjectNotFound,
)
from kycbridge_veriff.provider import VeriffProvider
from kycbridge_veriff.simulator import SCENARIOS, VeriffSimulator

testing = pytest.importorskip("kycbridge.testing")

S = KYCState


def _by_name(name: str) -> str:
    return next(s.subject for s in SCENARIOS if s.description.startswith(f"{name}:"))


DOCUMENTED: list[tuple[Any, KYCState]] = [
    ({"status": "approved", "code": 9001}, S.APPROVED),
    ({"status": "declined", "code": 9102}, S.REJECTED),
    ({"status": "resubmission_requested", "code": 9103}, S.ACTION_REQUIRED),
    ({"status": "expired", "code": 9104}, S.EXPIRED),
    ({"status": "abandoned", "code": 9104}, S.ABANDONED),
    ({"status": "review", "code": 9121}, S.IN_REVIEW),
    ({"status": "started", "code": 7001}, S.IN_PROGRESS),
    ({"status": "submitted", "code": 7002}, S.SUBMITTED),
    # the word decides: no code, another code, a code as text
    ({"status": "approved"}, S.APPROVED),
    ({"status": "abandoned", "code": 9121}, S.ABANDONED),
    ({"status": "declined", "code": "9102"}, S.REJECTED),
    # no word, or an unknown one: unknown, whatever the code
    ({"code": 9001}, S.UNKNOWN),
    ({"status": "on_hold", "code": 9001}, S.UNKNOWN),
]


class TestVeriffContract(testing.ProviderContract):  # type: ignore[misc]
    provider = VeriffProvider()
    simulator_factory = VeriffSimulator
    plugin = kycbridge_veriff
    distribution = "kycbridge-veriff"
    valid_queries = [
        {"session_id": "aab2f4c8-0e4b-4d4f-9f31-3f6a1b2c3d4e"},
        {"session_id": "AAB2F4C8-0E4B-4D4F-9F31-3F6A1B2C3D4E"},
    ]
    invalid_queries = [
        {"session_id": "not-a-uuid"},
        {"session_id": ""},
        {"session_id": "aab2f4c8-0e4b-4d4f-9f31-3f6a1b2c3d4e/../x"},
        {"session_id": " aab2f4c8-0e4b-4d4f-9f31-3f6a1b2c3d4e"},
        {"session_id": "aab2f4c80e4b4d4f9f313f6a1b2c3d4e"},
        {"session_id": 12},
        {},
    ]
    documented_statuses = DOCUMENTED
    error_cases = [
        (_by_name("notfound"), SubjectNotFound),
        ({"session_id": "00000000-0000-4000-8000-000000000000"}, SubjectNotFound),
        (_by_name("fault-400"), RequestRejected),
        (_by_name("fault-500"), ProviderUnavailable),
        (_by_name("fault-429"), RateLimited),
        (_by_name("fault-wrong-types"), MalformedResponse),
        (_by_name("fault-html"), MalformedResponse),
    ]
    scenario_transport_options = {_by_name("fault-slow"): {"read_timeout": 4.0}}
    max_examples = 100
