"""Credentials that expire (kycbridge.credentials), over real HTTP against the sandbox.

Transak trades ``api_key``/``api_secret`` for a partner access token; Onfido trades an OAuth2
client id/secret for a Bearer token. The simulators issue tokens and expire them on a fake
clock; they count exchanges, which is what these tests assert on (never on timing).
"""

from __future__ import annotations

import io
import json
import logging
import random
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from tracking_support import FakeClock

import kycbridge
import kycbridge_onfido
import kycbridge_transak
from kycbridge import AuthenticationError, KYCBridgeError, KYCState
from kycbridge.cli import main
from kycbridge.credentials import (
    CredentialCache,
    Token,
    credential_cache,
    credential_key,
    default_cache,
)
from kycbridge.sandbox import Sandbox
from kycbridge.testing import fast_transport
from kycbridge_onfido.simulator import OnfidoSimulator
from kycbridge_transak.provider import TransakProvider
from kycbridge_transak.simulator import (
    SANDBOX_ACCESS_TOKEN,
    SANDBOX_API_KEY,
    SANDBOX_API_SECRET,
    TOKEN_LIFETIME,
    TransakSimulator,
)

RUN = {"work_flow_run_id": "wfr-submitted", "access_token": SANDBOX_ACCESS_TOKEN}


class Env:
    """A Transak simulator and a bridge whose cache share one fake clock (or two)."""

    def __init__(self, sandbox: Sandbox, sim: TransakSimulator, cache_clock: FakeClock) -> None:
        self.sandbox, self.sim, self.clock = sandbox, sim, cache_clock
        self.cache = CredentialCache(clock=cache_clock, jitter=0.0)
        self.bridge = self.make_bridge()

    def make_bridge(self, **settings: Any) -> kycbridge.Bridge:
        merged = {"base_url": self.sandbox.url("transak"), **self.sim.credential_settings}
        return kycbridge.Bridge(
            [kycbridge_transak],
            settings={"transak": {**merged, **settings}},
            env={},
            transport=fast_transport(),
            credential_cache=self.cache,
        )

    def status(self, run: str = "wfr-submitted") -> kycbridge.StatusReport:
        fields = {**RUN, "work_flow_run_id": run}
        return self.bridge.status("transak", **fields)

    def token(self) -> Token:
        settings = self.bridge.settings("transak")
        exchange = TransakProvider().credential(settings)
        assert exchange is not None
        token = self.cache.peek(exchange.key)
        assert token is not None
        return token


@pytest.fixture
def env() -> Iterator[Env]:
    clock = FakeClock()
    sim = TransakSimulator(clock=clock)
    with Sandbox([sim]) as sandbox:
        yield Env(sandbox, sim, clock)


def test_first_call_exchanges_then_calls_reuse(env: Env) -> None:
    assert env.sim.exchanges == 0
    for _ in range(5):
        assert env.status().state is KYCState.SUBMITTED
        env.clock.advance(3600)  # an hour between calls: still well within 7 days
    assert env.sim.exchanges == 1
    assert env.token().lifetime == TOKEN_LIFETIME


def test_refreshed_ahead_of_expiry_not_before(env: Env) -> None:
    env.status()
    first = env.token()
    margin = 300.0  # 10% of 7 days is more than the 5-minute cap
    env.clock.now = first.expires_at - margin - 1
    env.status()
    assert env.sim.exchanges == 1
    env.clock.now = first.expires_at - margin + 1  # inside the margin, still valid
    assert env.status().state is KYCState.SUBMITTED
    assert env.sim.exchanges == 2
    assert env.token().value != first.value
    env.status()
    assert env.sim.exchanges == 2


def test_jitter_spreads_refresh_within_bounds() -> None:
    cache = CredentialCache(clock=FakeClock(), rng=random.Random(7))
    token = Token("t" * 10, expires_at=10_000.0, issued_at=0.0)  # margin: 10% = 1000 -> 300
    points = {cache.refresh_at(token) for _ in range(200)}
    assert len(points) > 100
    assert all(10_000 - 450 <= p <= 10_000 - 300 for p in points)
    short = Token("t" * 10, expires_at=100.0, issued_at=0.0)  # 10% of 100 s = 10 s
    assert all(85 <= cache.refresh_at(short) <= 90 for _ in range(50))


def test_expired_token_refreshed_once_and_call_retried(env: Env) -> None:
    env.status()
    # The provider's clock runs ahead of ours: it says "expired" while we think it valid.
    env.sim.clock = lambda: env.clock() + TOKEN_LIFETIME + 1
    before = env.sandbox.requests.get("transak", 0)
    report = env.status("wfr-approved")
    assert report.state is KYCState.NOT_STARTED  # the scenario's first step: played once
    assert env.sim.exchanges == 2
    # status (401 expired), exchange, status again: three requests
    assert env.sandbox.requests.get("transak", 0) - before == 3
    assert env.sim.calls("wfr-approved") == 1


def test_token_expired_every_time_is_one_retry_never_a_loop(env: Env) -> None:
    ticks = iter(range(1, 10_000))
    env.sim.clock = lambda: env.clock() + next(ticks) * 2 * TOKEN_LIFETIME  # every token stale
    before = env.sandbox.requests.get("transak", 0)
    with pytest.raises(AuthenticationError) as info:
        env.status()
    assert info.value.exit_code == 3
    assert env.sim.exchanges == 2  # the first token, and one refresh
    assert env.sandbox.requests.get("transak", 0) - before == 4


def test_refused_secret_is_authentication_error_naming_settings(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-api-secret-canary-0123"
    bridge = env.make_bridge(api_secret=wrong)
    before = env.sandbox.requests.get("transak", 0)
    with pytest.raises(AuthenticationError) as info:
        bridge.status("transak", **RUN)
    error = info.value
    assert error.exit_code == 3 and error.http_status == 401
    assert "api_key" in error.message and "api_secret" in error.message
    assert env.sim.exchanges == 0
    assert env.sandbox.requests.get("transak", 0) - before == 1  # one exchange, no status, no loop
    texts = [str(error), repr(error), json.dumps(error.to_dict())]
    texts += [r.getMessage() for r in caplog.records]
    for text in texts:
        assert wrong not in text and SANDBOX_API_KEY not in text


def test_cli_exit_code_3_for_a_refused_secret(env: Env) -> None:
    out, err = io.StringIO(), io.StringIO()
    argv = [
        "status", "transak", "-p", "work_flow_run_id=wfr-submitted",
        "-p", f"access_token={SANDBOX_ACCESS_TOKEN}",
        "--base-url", env.sandbox.url("transak"),
        "-s", f"api_key={SANDBOX_API_KEY}", "-s", "api_secret=not-the-sandbox-secret",
        "--json",
    ]  # fmt: skip
    bridge = kycbridge.Bridge([kycbridge_transak], env={}, credential_cache=CredentialCache())
    code = main(argv, bridge=bridge, stdout=out, stderr=err)
    assert code == 3
    shown = out.getvalue() + err.getvalue()
    assert "api_secret" in shown and "not-the-sandbox-secret" not in shown


def test_static_token_wins_over_the_exchange(env: Env) -> None:
    from kycbridge_transak.simulator import SANDBOX_PARTNER_TOKEN

    bridge = env.make_bridge(partner_access_token=SANDBOX_PARTNER_TOKEN)
    assert bridge.status("transak", **RUN).state is KYCState.SUBMITTED
    assert env.sim.exchanges == 0


def _run_threads(n: int, target: Any) -> list[Any]:
    results: list[Any] = [None] * n
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = target()
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def test_64_threads_at_expiry_exchange_once(env: Env) -> None:
    env.status()
    env.clock.now = env.token().expires_at + 1  # expired for us and for the provider
    results = _run_threads(64, env.status)
    assert all(isinstance(r, kycbridge.StatusReport) for r in results), results
    assert env.sim.exchanges == 2


def test_64_threads_told_expired_exchange_once(env: Env) -> None:
    env.status()
    env.sim.clock = lambda: env.clock() + TOKEN_LIFETIME + 1  # every call sees "expired"...
    results = _run_threads(64, env.status)
    # ... until the one refresh: the new token is valid on the provider's clock too.
    assert all(isinstance(r, kycbridge.StatusReport) for r in results), results
    assert env.sim.exchanges == 2


def test_single_flight_failure_reaches_every_waiter_once() -> None:
    cache = CredentialCache(clock=FakeClock())
    calls = []
    gate = threading.Event()

    def obtain() -> Token:
        calls.append(1)
        gate.wait(30)
        raise AuthenticationError("refused", provider="p")

    def get() -> Token:
        return cache.token("k", obtain)

    timer = threading.Timer(0.5, gate.set)  # lets the others queue behind the exchange
    timer.start()
    results = _run_threads(16, get)
    timer.cancel()
    assert all(isinstance(r, AuthenticationError) for r in results)
    assert len({id(r) for r in results}) == 16  # each thread its own copy
    # However the threads met, each exchange failed for everyone waiting on it: no thread
    # started a second exchange while one was in flight.
    assert 1 <= len(calls) <= 16


def test_token_never_in_errors_or_logs(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[KYCBridgeError] = []
    for run in ["wfr-submitted", "wfr-fault-html", "wfr-unauthorized", "wfr-fault-500"]:
        try:
            env.status(run)
        except KYCBridgeError as exc:
            errors.append(exc)
    assert len(errors) == 3
    token = env.token().value
    texts = [" ".join([str(e), repr(e), json.dumps(e.to_dict())]) for e in errors]
    texts += [r.getMessage() for r in caplog.records]
    texts += [repr(env.token()), repr(env.cache)]
    for text in texts:
        assert token not in text and SANDBOX_API_SECRET not in text


def test_key_names_the_credential_not_the_secret() -> None:
    key = credential_key("p", "https://x", "the-api-key", "the-api-secret")
    assert key.startswith("p:") and "the-api" not in key
    assert key != credential_key("p", "https://x", "the-api-key", "another-secret")


def test_cache_urls() -> None:
    assert credential_cache(None).shared is None
    assert credential_cache("memory://").shared is None
    with pytest.raises(kycbridge.InvalidQuery) as info:
        credential_cache("ftp://user:pw@host/")
    assert "pw" not in str(info.value)
    assert "redis" in repr(credential_cache("redis://:pw@127.0.0.1:6379/0?prefix=t:").shared)
    assert "pw" not in repr(credential_cache("redis://:pw@127.0.0.1:6379/0").shared)
    assert isinstance(default_cache(), CredentialCache)
    bridge = kycbridge.Bridge([], env={"KYCBRIDGE_CREDENTIAL_CACHE": "redis://127.0.0.1:6379/0"})
    assert bridge.credential_cache is not None and bridge.credential_cache.shared is not None


# -- Onfido: OAuth2 client credentials ---------------------------------------------------------


@pytest.fixture
def onfido() -> Iterator[tuple[OnfidoSimulator, Sandbox, FakeClock]]:
    clock = FakeClock()
    sim = OnfidoSimulator(rate_limit=None, token_clock=clock)
    with Sandbox([sim]) as sandbox:
        yield sim, sandbox, clock


def test_onfido_oauth_exchange_bearer_and_refresh(
    onfido: tuple[OnfidoSimulator, Sandbox, FakeClock],
) -> None:
    sim, sandbox, clock = onfido
    cache = CredentialCache(clock=clock, jitter=0.0)
    bridge = kycbridge.Bridge(
        [kycbridge_onfido],
        settings={"onfido": {"base_url": sandbox.url("onfido"), **sim.credential_settings}},
        env={},
        transport=fast_transport(),
        credential_cache=cache,
    )
    for _ in range(3):
        bridge.status("onfido", workflow_run_id="wfr-processing")
    assert sim.exchanges == 1
    clock.advance(3600 - 100)  # past 90% of the hour
    assert bridge.status("onfido", workflow_run_id="wfr-processing").state is KYCState.IN_PROGRESS
    assert sim.exchanges == 2
    sim.token_clock = lambda: clock() + 7200  # the provider says "expired"
    bridge.status("onfido", workflow_run_id="wfr-processing")
    assert sim.exchanges == 3
    wrong = kycbridge.Bridge(
        [kycbridge_onfido],
        settings={"onfido": {"base_url": sandbox.url("onfido"), "client_id": "someone",
                             "client_secret": "not-the-client-secret"}},
        env={},
        credential_cache=cache,
    )
    with pytest.raises(AuthenticationError) as info:
        wrong.status("onfido", workflow_run_id="wfr-processing")
    assert "client_id" in info.value.message and "client_secret" in info.value.message
    assert "not-the-client-secret" not in json.dumps(info.value.to_dict())


def test_transak_webhook_key_is_the_exchanged_token(env: Env) -> None:
    from kycbridge.credentials import using
    from kycbridge.webhooks.handler import WebhookNotConfigured, WebhookRejected
    from kycbridge_transak.simulator import webhook_body
    from kycbridge_transak.webhooks import TransakWebhooks

    settings = env.bridge.settings("transak")
    hook = TransakWebhooks()
    with using(env.cache), pytest.raises(WebhookNotConfigured):  # no token obtained yet
        hook.claims(webhook_body("KYC_APPROVED", {"kycStatus": "APPROVED"}), settings, None)
    env.status()
    body = webhook_body("KYC_APPROVED", {"kycStatus": "APPROVED"}, key=env.token().value)
    with using(env.cache):
        assert hook.claims(body, settings, None)["eventID"] == "KYC_APPROVED"
        with pytest.raises(WebhookRejected):  # signed with the static sandbox token: refused
            hook.claims(webhook_body("KYC_APPROVED", {"kycStatus": "APPROVED"}), settings, None)


def test_provider_pages_say_which_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "docs" / "_ext"))
    import kbdocs

    try:
        line = "\n".join(kbdocs.credentials_line(TransakProvider()))
        assert "`partner_access_token`" in line and "`api_key` and `api_secret`" in line
        assert "7 days" in line and "_FILE" in line
        onfido_line = "\n".join(kbdocs.credentials_line(kycbridge_onfido.OnfidoProvider()))
        assert "`client_id` and `client_secret`" in onfido_line
        from kycbridge_starkfi.provider import StarkFiProvider

        assert kbdocs.credentials_line(StarkFiProvider()) == []  # declares nothing
    finally:
        sys.modules.pop("kbdocs", None)
