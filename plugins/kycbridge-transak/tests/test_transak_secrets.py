"""Secrets (tokens) and personal data (the email, the workflow run id) stay out of output."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from typing import Any

import pytest

import kycbridge
import kycbridge.testing as kit
import kycbridge_transak
from kycbridge import KYCBridgeError
from kycbridge.redact import mask
from kycbridge.sandbox import Replay, Sandbox, SimResponse
from kycbridge_transak import TransakQuery, TransakSettings, TransakSimulator
from kycbridge_transak.simulator import SANDBOX_ACCESS_TOKEN, SANDBOX_PARTNER_TOKEN

EMAIL = "jane.doe@example.com"
RUN_ID = "f7a73b14-6c25-433e-802d-1ca4ac0ececa"


fast_transport = functools.partial(kit.fast_transport, read_timeout=0.5)
"""The kit's quick test transport with these tests' timeouts."""


def make_bridge(sandbox: Sandbox) -> kycbridge.Bridge:
    settings = {
        "transak": {
            "base_url": sandbox.url("transak"),
            "partner_access_token": SANDBOX_PARTNER_TOKEN,
        }
    }
    return kycbridge.Bridge(
        [kycbridge_transak], settings=settings, transport=fast_transport(), env={}
    )


@pytest.fixture
def replay_bridge(
    replay_server: tuple[Replay, Sandbox], replay: Replay
) -> Iterator[kycbridge.Bridge]:
    with make_bridge(replay_server[1]) as bridge:
        yield bridge


@pytest.fixture(scope="module")
def sim_server() -> Iterator[tuple[TransakSimulator, Sandbox]]:
    sim = TransakSimulator()
    with Sandbox([sim]) as sandbox:
        yield sim, sandbox


@pytest.fixture
def sim_bridge(sim_server: tuple[TransakSimulator, Sandbox]) -> Iterator[kycbridge.Bridge]:
    sim_server[0].reset()
    with make_bridge(sim_server[1]) as bridge:
        yield bridge


def query(run_id: str = RUN_ID, **extra: Any) -> dict[str, Any]:
    return {
        "work_flow_run_id": run_id,
        "access_token": SANDBOX_ACCESS_TOKEN,
        "user_identifier": EMAIL,
        **extra,
    }


SECRETS = [SANDBOX_ACCESS_TOKEN, SANDBOX_PARTNER_TOKEN]


def test_query_and_settings_reprs() -> None:
    q = TransakQuery(**query())
    text = repr(q)
    assert SANDBOX_ACCESS_TOKEN not in text
    assert "access_token='***'" in text
    assert EMAIL not in text and "j***@e***.com" in text
    assert RUN_ID not in text and mask(RUN_ID) in text
    settings = TransakSettings(partner_access_token=SANDBOX_PARTNER_TOKEN)
    assert SANDBOX_PARTNER_TOKEN not in repr(settings)
    assert "partner_access_token='***'" in repr(settings)
    assert "partner_access_token=None" in repr(TransakSettings())


def test_report_repr_masks_the_subject(sim_bridge: kycbridge.Bridge) -> None:
    report = sim_bridge.status("transak", **query())
    assert RUN_ID not in repr(report)
    assert SANDBOX_ACCESS_TOKEN not in repr(report)


ECHOES = {
    "401 envelope": SimResponse.json(
        401,
        {"error": {"statusCode": 401, "message": f"bad token {SANDBOX_ACCESS_TOKEN} for {EMAIL}"}},
    ),
    "400 errorCode": SimResponse.json(
        400,
        {"error": {"statusCode": 400, "message": "no", "errorCode": SANDBOX_PARTNER_TOKEN}},
    ),
    "403 html": SimResponse(403, f"<p>{SANDBOX_PARTNER_TOKEN} {EMAIL}</p>".encode(), "text/html"),
    "502 html": SimResponse(502, f"<p>{SANDBOX_ACCESS_TOKEN}</p>".encode(), "text/html"),
    "200 junk": SimResponse(200, f"token={SANDBOX_ACCESS_TOKEN}".encode(), "text/plain"),
    "200 bad shape": SimResponse.json(200, {"data": {"status": 1, "who": EMAIL}}),
}


@pytest.mark.parametrize("answer", ECHOES.values(), ids=ECHOES.keys())
def test_errors_never_carry_secrets_echoed_by_the_provider(
    answer: SimResponse, replay: Replay, replay_bridge: kycbridge.Bridge
) -> None:
    replay.push(answer)
    with pytest.raises(KYCBridgeError) as info:
        replay_bridge.status("transak", **query())
    error = info.value
    texts = [str(error), repr(error), str(error.to_dict())]
    for text in texts:
        for secret in [*SECRETS, EMAIL]:
            assert secret not in text, (secret, text)


def test_invalid_query_messages_never_carry_secrets(sim_bridge: kycbridge.Bridge) -> None:
    bad_token = SANDBOX_ACCESS_TOKEN + "\r\n"
    with pytest.raises(kycbridge.InvalidQuery) as info:
        sim_bridge.status("transak", **query(access_token=bad_token))
    assert SANDBOX_ACCESS_TOKEN not in str(info.value) + repr(info.value)
    with pytest.raises(kycbridge.InvalidQuery) as info:
        sim_bridge.status("transak", **query(user_identifier="jane.doe@@example.com"))
    assert "jane.doe" not in str(info.value) + repr(info.value)


def test_logs_never_carry_secrets(
    sim_bridge: kycbridge.Bridge, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sim_bridge.status("transak", **query("wfr-submitted"))
    sim_bridge.status("transak", **query(RUN_ID))
    for subject in ["wfr-unauthorized", "wfr-fault-503", "wfr-fault-drop", "wfr-fault-html"]:
        with pytest.raises(KYCBridgeError):
            sim_bridge.status("transak", **query(subject))
    with pytest.raises(KYCBridgeError):
        sim_bridge.status("transak", **query(access_token="wrong-user-token"))
    assert caplog.records, "the transport logs at DEBUG"
    for record in caplog.records:
        text = record.getMessage()
        for secret in [*SECRETS, "wrong-user-token", EMAIL]:
            assert secret not in text, (record.name, text)
        if record.name.startswith("kycbridge") and record.name != "kycbridge.sandbox":
            # the workflow run id is masked in the client's log lines (the sandbox's server
            # log is the fake provider's side: it sees what Transak would see)
            assert RUN_ID not in text, (record.name, text)
    assert any(
        "authorization" in r.getMessage() and "***" in r.getMessage() for r in caplog.records
    )
