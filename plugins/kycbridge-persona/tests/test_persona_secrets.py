"""The API key never shown; inquiry ids and reference ids never unmasked in any log line."""

from __future__ import annotations

import logging
from urllib.parse import quote, quote_plus

import pytest

import kycbridge
from kycbridge.errors import KYCBridgeError
from kycbridge.sandbox import Sandbox
from kycbridge.testing import fast_transport
from kycbridge_persona.provider import PersonaProvider
from kycbridge_persona.simulator import SANDBOX_API_KEY, PersonaSimulator

SUBJECTS = {
    "inquiry_id": ["inq_SandboxApproved", "inq_SandboxNotFound", "inq_Fault500",
                   "inq_FaultHtml", "inq_FaultDrop", "inq_Fault403"],
    "reference_id": ["sandbox-user-approved", "sandbox-user-none"],
}


class _Plugin:
    @kycbridge.hookimpl
    def register_providers(self, register: object) -> None:
        class Unlimited(PersonaProvider):
            rate_limit = None

        register(Unlimited())  # type: ignore[operator]


def _run(caplog: pytest.LogCaptureFixture, api_key: str) -> list[KYCBridgeError]:
    caplog.set_level(logging.DEBUG)
    errors: list[KYCBridgeError] = []
    with Sandbox([PersonaSimulator(rate_limit=None)]) as sandbox:
        settings = {"persona": {"api_key": api_key, "base_url": sandbox.url("persona")}}
        with kycbridge.Bridge([_Plugin()], settings=settings, env={},
                              transport=fast_transport(read_timeout=1)) as bridge:
            assert api_key not in repr(bridge.settings("persona"))
            for field, values in SUBJECTS.items():
                for value in values:
                    try:
                        report = bridge.status("persona", **{field: value})
                    except KYCBridgeError as exc:
                        errors.append(exc)
                    else:
                        assert value not in repr(report)
    return errors


def _forms(value: str) -> set[str]:
    return {value, quote(value, safe=""), quote_plus(value)}


def test_api_key_never_in_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    key = "persona_sandbox_kbcanary0123456789"
    errors = _run(caplog, key)
    assert {e.kind for e in errors} == {"authentication"}
    for error in errors:
        assert key not in f"{error} {error!r} {error.to_dict()}"
    for record in caplog.records:
        assert key not in record.getMessage()


def test_subjects_never_in_errors(caplog: pytest.LogCaptureFixture) -> None:
    errors = _run(caplog, SANDBOX_API_KEY)
    assert {"not_found", "unavailable", "malformed_response", "authentication"} <= {
        e.kind for e in errors
    }
    for error in errors:
        text = f"{error} {error!r} {error.to_dict()}"
        for values in SUBJECTS.values():
            for value in values:
                assert not any(form in text for form in _forms(value)), text


def test_subjects_never_in_debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    _run(caplog, SANDBOX_API_KEY)
    lines = [record.getMessage() for record in caplog.records]
    assert lines
    for line in lines:
        for values in SUBJECTS.values():
            for value in values:
                assert not any(form in line for form in _forms(value)), line
