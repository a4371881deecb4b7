"""kycbridge's provider contract (``kycbridge.testing.ProviderContract``), run on Persona.

Both limits are off here so the contract runs fast (this provider instance's ``rate_limit``
and the simulator's window): they are tested in ``test_persona_ratelimit.py``.
"""

from __future__ import annotations

import pytest

import kycbridge_persona
from kycbridge import (
    AuthenticationError,
    KYCState,
    MalformedResponse,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    SubjectNotFound,
)
from kycbridge_persona.provider import PersonaProvider
from kycbridge_persona.simulator import PersonaSimulator

testing = pytest.importorskip("kycbridge.testing")

S = KYCState


def _unlimited_provider() -> PersonaProvider:
    provider = PersonaProvider()
    provider.rate_limit = None  # type: ignore[misc]  # this instance only
    return provider


def _unlimited_simulator() -> PersonaSimulator:
    return PersonaSimulator(rate_limit=None)


DOCUMENTED = {
    "created": S.NOT_STARTED,
    "pending": S.IN_PROGRESS,
    "completed": S.SUBMITTED,
    "needs_review": S.IN_REVIEW,
    "approved": S.APPROVED,
    "declined": S.REJECTED,
    "failed": S.REJECTED,
    "expired": S.EXPIRED,
    "needs-review": S.IN_REVIEW,
    "under_investigation": S.UNKNOWN,
}


class TestPersonaContract(testing.ProviderContract):  # type: ignore[misc]
    provider = _unlimited_provider()
    simulator_factory = _unlimited_simulator
    plugin = kycbridge_persona
    distribution = "kycbridge-persona"
    valid_queries = [
        {"inquiry_id": "inq_1zMUUKMp5mijxJZhvXyXfFfr"},
        {"reference_id": "user-12345"},
        {"reference_id": "jane.doe@example.com"},
    ]
    invalid_queries = [
        {},
        {"inquiry_id": "inq_SandboxApproved", "reference_id": "user-1"},
        {"inquiry_id": "ver_1zMUUKMp5mijxJZhvXyX"},
        {"inquiry_id": "inq_"},
        {"inquiry_id": "inq_abc/../x"},
        {"inquiry_id": "inq_abc def"},
        {"inquiry_id": "inq_" + "a" * 65},
        {"reference_id": ""},
        {"reference_id": " user-1"},
        {"reference_id": "user\n1"},
        {"reference_id": "u" * 256},
        {"inquiry_id": 12345},
    ]
    documented_statuses = DOCUMENTED
    error_cases = [
        ("inq_SandboxNotFound", SubjectNotFound),
        ({"inquiry_id": "inq_NoSuchInquiry"}, SubjectNotFound),
        ("sandbox-user-none", SubjectNotFound),
        ("inq_Fault400", RequestRejected),
        ("inq_Fault403", AuthenticationError),
        ("inq_FaultQuota", RateLimited),
        ("inq_Fault409", RequestRejected),
        ("inq_Fault422", RequestRejected),
        ("inq_Fault429", RateLimited),
        ("inq_Fault500", ProviderUnavailable),
        ("inq_Fault502", ProviderUnavailable),
        ("inq_FaultDrop", ProviderUnavailable),
        ("inq_FaultWrongTypes", MalformedResponse),
        ("inq_FaultNotInquiry", MalformedResponse),
        ("inq_FaultHtml", MalformedResponse),
        ("inq_FaultInvalidJson", MalformedResponse),
    ]
    scenario_transport_options = {"inq_FaultSlow": {"read_timeout": 5.0}}
    max_examples = 100
