"""Secrets never shown; personal data (emails, wallets) never unmasked in any log record."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

import kycbridge
import kycbridge.testing as kit
import kycbridge_starkfi
from kycbridge.errors import KYCBridgeError
from kycbridge.report import report_to_dict
from kycbridge.sandbox import Sandbox, SimResponse
from kycbridge_starkfi.provider import StarkFiProvider
from kycbridge_starkfi.simulator import SANDBOX_DOMAIN, SOLANA_WALLET, StarkFiSimulator

API_KEY = "sk_live_0123456789abcdefSECRET"
EMAILS = [f"{local}@{SANDBOX_DOMAIN}" for local in (
    "approved", "notfound", "fault-500", "fault-503", "fault-429", "fault-drop",
    "fault-drop-mid-body", "fault-html", "fault-wrong-types",
)]


fast_transport = functools.partial(kit.fast_transport, read_timeout=0.3)
"""The kit's quick test transport with these tests' timeouts."""


@pytest.fixture(autouse=True)
def _no_client_limiter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(StarkFiProvider, "rate_limit", None)


class EchoKey:
    """The StarkFi simulator, except that it accepts any key, and echoes the key and the
    email in error messages (a careless provider); ``approved@`` and wallets get a 401."""

    name = "starkfi"
    settings: dict[str, str] = {}
    scenarios = ()

    def __init__(self) -> None:
        self.inner = StarkFiSimulator(rate_limit=None)

    def handle(self, request: Any) -> SimResponse:
        key = request.headers.get("x-api-key", "")
        email = request.param("email") or ""
        if email.endswith("@" + SANDBOX_DOMAIN) and not email.startswith("approved@"):
            answer = self.inner.handle(
                type(request)(request.method, request.path, request.query,
                              {**request.headers, "x-api-key": "sk_sandbox_starkfi"}))
            if answer.status >= 400 and answer.content_type == "application/json":
                return SimResponse.json(answer.status, {
                    "statusCode": answer.status, "success": False, "status": "echo",
                    "message": f"key {key} for {email} refused"}, headers=answer.headers)
            return answer
        return SimResponse.json(401, {"statusCode": 401, "success": False,
                                      "status": "unauthorized",
                                      "message": f"Invalid API key {key} for {email}"})

    def reset(self) -> None:
        self.inner.reset()


@pytest.fixture(scope="module")
def echo_sandbox() -> Iterator[Sandbox]:
    with Sandbox([EchoKey()]) as sandbox:
        yield sandbox


def all_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    # Every logger: kycbridge's, the sandbox's access log and urllib3's (the core masks
    # personal query values in the last two).
    return list(caplog.records)


def test_secret_and_personal_data_stay_out(
    echo_sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = {"starkfi": {"api_key": API_KEY, "base_url": echo_sandbox.url("starkfi")}}
    errors: list[KYCBridgeError] = []
    with kycbridge.Bridge([kycbridge_starkfi], settings=settings, env={},
                          transport=fast_transport()) as bridge:
        assert API_KEY not in repr(bridge.settings("starkfi"))
        assert API_KEY not in str(bridge.settings("starkfi"))
        for email in [*EMAILS, SOLANA_WALLET]:
            field = "wallet" if "@" not in email else "email"
            try:
                bridge.status("starkfi", **{field: email})
            except KYCBridgeError as exc:
                errors.append(exc)
    assert len(errors) == len(EMAILS) + 1
    kinds = {e.kind for e in errors}
    assert {"authentication", "not_found", "unavailable", "rate_limited",
            "malformed_response"} <= kinds
    for error in errors:
        text = " ".join([str(error), repr(error), str(error.to_dict()), error.message,
                         error.provider_message or ""])
        assert API_KEY not in text
        for email in EMAILS:
            assert email not in text
        assert SOLANA_WALLET not in text
    records = all_records(caplog)
    assert {r.name for r in records} >= {"kycbridge.transport", "urllib3.connectionpool"}
    for record in records:
        line = record.getMessage()
        assert API_KEY not in line
        for subject in [*EMAILS, SOLANA_WALLET]:
            assert subject not in line
            assert quote(subject, safe="") not in line


def test_reports_mask_the_subject(echo_sandbox: Sandbox) -> None:
    settings = {"starkfi": {"api_key": API_KEY, "base_url": echo_sandbox.url("starkfi")}}
    with kycbridge.Bridge([kycbridge_starkfi], settings=settings, env={}) as bridge:
        report = bridge.status("starkfi", email=f"instant-approved@{SANDBOX_DOMAIN}")
    assert report.state is kycbridge.KYCState.APPROVED
    assert f"instant-approved@{SANDBOX_DOMAIN}" not in repr(report)
    assert API_KEY not in repr(report) and API_KEY not in str(report_to_dict(report))
    # the JSON form keeps the subject: it is data for the app, not a log line
    assert report_to_dict(report)["subject"] == f"instant-approved@{SANDBOX_DOMAIN}"


def test_settings_error_never_shows_the_key() -> None:
    bridge = kycbridge.Bridge([kycbridge_starkfi], env={},
                              settings={"starkfi": {"api_key": "sk live with spaces"}})
    with pytest.raises(kycbridge.InvalidQuery) as info:
        bridge.settings("starkfi")
    assert "sk live" not in str(info.value)
