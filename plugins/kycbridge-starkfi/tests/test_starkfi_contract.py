"""kycbridge's provider contract (``kycbridge.testing.ProviderContract``), run on StarkFi.

Both limits are off here so the contract runs fast (the provider instance's ``rate_limit``
and the simulator's): they are tested in ``test_starkfi_ratelimit.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

import kycbridge_starkfi
from kycbridge import (
    KYCState,
    MalformedResponse,
    ProviderUnavailable,
    RateLimited,
    SubjectNotFound,
)
from kycbridge_starkfi.provider import StarkFiProvider
from kycbridge_starkfi.simulator import EVM_WALLET, SANDBOX_DOMAIN, SOLANA_WALLET, StarkFiSimulator

testing = pytest.importorskip("kycbridge.testing")

S = KYCState


def _unlimited_provider() -> StarkFiProvider:
    provider = StarkFiProvider()
    provider.rate_limit = None  # type: ignore[misc]  # this instance only
    return provider


def _unlimited_simulator() -> StarkFiSimulator:
    return StarkFiSimulator(rate_limit=None)


SESSION = [
    ("Not Started", S.NOT_STARTED), ("In Progress", S.IN_PROGRESS), ("In Review", S.IN_REVIEW),
    ("Approved", S.APPROVED), ("Declined", S.REJECTED), ("Resubmitted", S.ACTION_REQUIRED),
    ("Expired", S.EXPIRED), ("Abandoned", S.ABANDONED), ("Kyc Expired", S.EXPIRED),
    ("Awaiting User", S.ACTION_REQUIRED),
]
STATUS = [("pending", S.IN_PROGRESS), ("approved", S.APPROVED), ("rejected", S.REJECTED),
          ("declined", S.REJECTED)]


class TestStarkFiContract(testing.ProviderContract):  # type: ignore[misc]
    provider = _unlimited_provider()
    simulator_factory = _unlimited_simulator
    plugin = kycbridge_starkfi
    distribution = "kycbridge-starkfi"
    valid_queries = [
        {"email": "jane.doe@example.com"},
        {"wallet": SOLANA_WALLET},
        {"wallet": EVM_WALLET},
    ]
    invalid_queries = [
        {"email": "not an email"},
        {"email": "jane@example.com", "wallet": EVM_WALLET},
        {"wallet": "0x12"},
        {"email": " jane@example.com"},
        {},
    ]
    documented_statuses: list[tuple[Any, KYCState]] = [
        *(({"session_status": w, "status": "pending", "approved": False}, s) for w, s in SESSION),
        *(({"status": w}, s) for w, s in STATUS),
        ({"approved": True, "status": "pending"}, S.APPROVED),
        ({"approved": True, "session_status": "In Review"}, S.APPROVED),
        ({"approved": True, "session_status": "Kyc Expired"}, S.EXPIRED),
        ({"approved": True, "session_status": "Declined"}, S.REJECTED),
        ({"approved": False, "session_status": "Approved"}, S.APPROVED),
        ({"session_status": "Liveness Queued", "status": "pending"}, S.IN_PROGRESS),
    ]
    error_cases = [
        (f"notfound@{SANDBOX_DOMAIN}", SubjectNotFound),
        ({"email": "nobody@example.com"}, SubjectNotFound),
        (f"fault-500@{SANDBOX_DOMAIN}", ProviderUnavailable),
        (f"fault-429@{SANDBOX_DOMAIN}", RateLimited),
        (f"fault-wrong-types@{SANDBOX_DOMAIN}", MalformedResponse),
        (f"fault-html@{SANDBOX_DOMAIN}", MalformedResponse),
    ]
    scenario_transport_options = {f"fault-slow@{SANDBOX_DOMAIN}": {"read_timeout": 3.0}}
    max_examples = 100
