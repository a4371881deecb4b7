"""The core's credential contract for Transak: the partner access token from api_key/api_secret."""

from __future__ import annotations

from kycbridge.testing.credentials import CredentialContract
from kycbridge_transak import TransakProvider, TransakSimulator
from kycbridge_transak.simulator import SANDBOX_ACCESS_TOKEN


class TestTransakCredentials(CredentialContract):
    provider = TransakProvider()
    simulator_factory = TransakSimulator
    valid_query = {"work_flow_run_id": "wfr-submitted", "access_token": SANDBOX_ACCESS_TOKEN}
    error_queries = [
        {"work_flow_run_id": "wfr-fault-html", "access_token": SANDBOX_ACCESS_TOKEN},
        {"work_flow_run_id": "wfr-unauthorized", "access_token": SANDBOX_ACCESS_TOKEN},
        {"work_flow_run_id": "wfr-fault-invalid-json", "access_token": SANDBOX_ACCESS_TOKEN},
    ]
