"""The core's provider contract (``kycbridge.testing.ProviderContract``), run for Transak."""

from __future__ import annotations

import pytest

import kycbridge_transak
from kycbridge import AuthenticationError, MalformedResponse, ProviderUnavailable, RateLimited
from kycbridge_transak import TransakProvider, TransakSimulator
from kycbridge_transak.simulator import SANDBOX_ACCESS_TOKEN

contract = pytest.importorskip(
    "kycbridge.testing.contract", reason="this kycbridge has no provider contract test kit"
)


class TestTransakContract(contract.ProviderContract):  # type: ignore[misc,name-defined]
    provider = TransakProvider()
    simulator_factory = TransakSimulator
    plugin = kycbridge_transak
    distribution = "kycbridge-transak"
    valid_queries = [
        {"work_flow_run_id": "wfr-submitted", "access_token": SANDBOX_ACCESS_TOKEN},
        {
            "work_flow_run_id": "f7a73b14-6c25-433e-802d-1ca4ac0ececa",
            "access_token": SANDBOX_ACCESS_TOKEN,
            "user_identifier": "jane.doe@example.com",
        },
    ]
    invalid_queries = [
        {},
        {"work_flow_run_id": "wfr-1"},
        {"work_flow_run_id": "", "access_token": SANDBOX_ACCESS_TOKEN},
        {"work_flow_run_id": "wfr 1", "access_token": SANDBOX_ACCESS_TOKEN},
        {"work_flow_run_id": "wfr-1", "access_token": "secret-token\r\nx: y"},
        {"work_flow_run_id": "wfr-1", "access_token": SANDBOX_ACCESS_TOKEN, "user_identifier": "x"},
    ]
    error_cases = {
        "wfr-session-expired": AuthenticationError,
        "wfr-unauthorized": AuthenticationError,
        "wfr-fault-500": ProviderUnavailable,
        "wfr-fault-502": ProviderUnavailable,
        "wfr-fault-429": RateLimited,
        "wfr-fault-html": MalformedResponse,
        "wfr-fault-wrong-content-type": MalformedResponse,
        "wfr-fault-big-body": MalformedResponse,
        "wfr-fault-drop-mid-body": ProviderUnavailable,
    }
    # The slow scenario answers after 2 s: it is "unavailable" with a shorter read timeout.
    scenario_transport_options = {"wfr-fault-slow": {"read_timeout": 0.5}}
