"""kycbridge's provider contract (``kycbridge.testing.ProviderContract``), run on Didit.

Both limits are lifted here so the contract runs fast (the provider instance's 1.67/s and the
simulator's 100/min): they are tested in ``test_didit_ratelimit.py``.
"""

from __future__ import annotations

import kycbridge_didit
from kycbridge import (
    AuthenticationError,
    MalformedResponse,
    ProviderUnavailable,
    RateLimited,
    SubjectNotFound,
)
from kycbridge.testing import ProviderContract
from kycbridge_didit.provider import DiditProvider
from kycbridge_didit.simulator import NAMES, DiditSimulator


def _unlimited_provider() -> DiditProvider:
    provider = DiditProvider()
    provider.rate_limit = None  # type: ignore[misc]  # this instance only
    return provider


def _unlimited_simulator() -> DiditSimulator:
    return DiditSimulator(rate_limit=None)


class TestDiditContract(ProviderContract):
    provider = _unlimited_provider()
    simulator_factory = _unlimited_simulator
    plugin = kycbridge_didit
    distribution = "kycbridge-didit"
    valid_queries = [
        {"session_id": "11111111-2222-4333-8444-555555555555"},
        {"session_id": "ABCDEF01-2345-6789-ABCD-EF0123456789"},
    ]
    invalid_queries = [
        {"session_id": ""},
        {"session_id": "not-a-uuid"},
        {"session_id": "11111111-2222-4333-8444-55555555555"},  # one digit short
        {"session_id": "11111111222243338444555555555555"},  # no hyphens
        {"session_id": " 11111111-2222-4333-8444-555555555555"},
        {"session_id": "11111111-2222-4333-8444-555555555555/../x"},
        {"session_id": 12},
        {},
    ]
    error_cases = [
        (NAMES["not-found"], SubjectNotFound),
        ({"session_id": "99999999-9999-4999-8999-999999999999"}, SubjectNotFound),
        (NAMES["other-application"], AuthenticationError),
        (NAMES["key-revoked"], AuthenticationError),
        (NAMES["fault-500"], ProviderUnavailable),
        (NAMES["fault-429"], RateLimited),
        (NAMES["fault-wrong-types"], MalformedResponse),
        (NAMES["fault-html"], MalformedResponse),
    ]
    scenario_transport_options = {NAMES["fault-slow"]: {"read_timeout": 3.0}}
    max_examples = 100

