"""The core's credential contract for Onfido: OAuth2 client credentials instead of an API token."""

from __future__ import annotations

from kycbridge.testing.credentials import CredentialContract
from kycbridge_onfido.provider import OnfidoProvider
from kycbridge_onfido.simulator import OnfidoSimulator


class TestOnfidoCredentials(CredentialContract):
    provider = OnfidoProvider()
    simulator_factory = OnfidoSimulator
    valid_query = {"workflow_run_id": "wfr-processing"}
    error_queries = [
        {"workflow_run_id": "wfr-fault-html"},
        {"workflow_run_id": "wfr-not-found"},
        {"workflow_run_id": "wfr-fault-wrong-content-type"},
    ]
