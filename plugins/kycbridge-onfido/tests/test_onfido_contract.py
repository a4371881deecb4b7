"""kycbridge's provider contract (``kycbridge.testing.ProviderContract``), run on Onfido.

Both limits are off here so the contract runs fast (the provider instance's ``rate_limit``
and the simulator's): they are tested in ``test_onfido_ratelimit.py``.
"""

from __future__ import annotations

import pytest

import kycbridge_onfido
from kycbridge import (
    AuthenticationError,
    KYCState,
    MalformedResponse,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    SubjectNotFound,
)
from kycbridge_onfido.provider import OnfidoProvider
from kycbridge_onfido.simulator import OnfidoSimulator

testing = pytest.importorskip("kycbridge.testing")

S = KYCState
RUN_ID = "f1a3c5e7-0000-4000-8000-1234567890ab"


def _unlimited_provider() -> OnfidoProvider:
    provider = OnfidoProvider()
    provider.rate_limit = None  # type: ignore[misc]  # this instance only
    return provider


def _unlimited_simulator() -> OnfidoSimulator:
    return OnfidoSimulator(rate_limit=None)


class TestOnfidoContract(testing.ProviderContract):  # type: ignore[misc]
    provider = _unlimited_provider()
    simulator_factory = _unlimited_simulator
    plugin = kycbridge_onfido
    distribution = "kycbridge-onfido"
    valid_queries = [
        {"workflow_run_id": RUN_ID},
        {"workflow_run_id": RUN_ID.upper()},
        {"workflow_run_id": "wfr-approved"},
        {"workflow_run_id": "x" * 100},
        {"workflow_run_id": "run:42;v=1%"},  # tolerant: the core encodes the segment
    ]
    invalid_queries = [
        {},
        {"workflow_run_id": ""},
        {"workflow_run_id": "a/b"},
        {"workflow_run_id": "a\\b"},
        {"workflow_run_id": " " + RUN_ID},
        {"workflow_run_id": RUN_ID + "\n"},
        {"workflow_run_id": "a\x00b"},
        {"workflow_run_id": "a\u200bb"},  # zero-width space: not printable
        {"workflow_run_id": "x" * 101},
        {"workflow_run_id": ".."},
        {"workflow_run_id": "."},
        {"workflow_run_id": 42},
    ]
    documented_statuses = {
        "awaiting_input": S.ACTION_REQUIRED,
        "processing": S.IN_PROGRESS,
        "awaiting_client_input": S.IN_REVIEW,
        "review": S.IN_REVIEW,
        "approved": S.APPROVED,
        "declined": S.REJECTED,
        "abandoned": S.ABANDONED,
        "error": S.UNKNOWN,
    }
    error_cases = [
        ("wfr-not-found", SubjectNotFound),
        ({"workflow_run_id": RUN_ID}, SubjectNotFound),
        ("wfr-invalid-id", RequestRejected),
        ("wfr-fault-500", ProviderUnavailable),
        ("wfr-fault-429", RateLimited),
        ("wfr-fault-wrong-types", MalformedResponse),
        ("wfr-fault-html", MalformedResponse),
        ("wfr-fault-no-status", MalformedResponse),
    ]
    wrong_secret_error = AuthenticationError
    scenario_transport_options = {"wfr-fault-slow": {"read_timeout": 3.0}}
    max_examples = 100
