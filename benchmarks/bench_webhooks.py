"""Webhooks: verified and normalized events per second through :class:`WebhookApp`, in-process.

Each delivery is a distinct, correctly signed event (its own subject and event id) as the
provider's simulator shapes it, posted by calling the WSGI application directly (an
``environ`` with the body in ``wsgi.input``; no sockets). The measured side is everything the
receiver does: route, read the body, verify the signature, parse and normalize, de-duplicate,
order per subject, :meth:`Bridge.observe <kycbridge.Bridge.observe>`, answer. The baseline is
the least any receiver does with the same bodies: ``hmac.new(...).hexdigest()``,
``hmac.compare_digest`` and ``json.loads``. Rounds alternate, one thread.

Targets (issue #13): for the HMAC providers, >= 0.5x the baseline and >= 5,000 events/s (per
core). Transak's JWT (HS256 over a base64url-encoded JSON in the body) is reported, with no
target.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import time
from collections.abc import Callable
from typing import Any

from common import Options, Result, fmt_rate, interleave, median

import kycbridge
from kycbridge.webhooks import WebhookApp

NAME = "webhooks"
TARGET_RATE = 5_000.0
TARGET_RATIO = 0.5


class Case:
    """One provider's deliveries and how the baseline checks them."""

    def __init__(
        self,
        provider: str,
        plugin: Any,
        settings: dict[str, str],
        deliveries: list[tuple[dict[str, str], bytes]],
        baseline: Callable[[dict[str, str], bytes], object],
        target: bool,
    ) -> None:
        self.provider = provider
        self.plugin = plugin
        self.settings = settings
        self.deliveries = deliveries
        self.baseline = baseline
        self.target = target


def veriff_case(n: int) -> Case:
    """Veriff decision webhooks: ``X-HMAC-SIGNATURE`` of the raw body."""
    import kycbridge_veriff
    from kycbridge_veriff.simulator import OK, SANDBOX_SHARED_SECRET, webhook_body

    key = SANDBOX_SHARED_SECRET.encode()
    deliveries = []
    now = time.time()
    for i in range(n):
        sid = f"5e551000-0000-4000-8000-{i:012d}"
        body = webhook_body(OK, sid, now - n + i)
        signature = hmac.new(key, body, hashlib.sha256).hexdigest()
        deliveries.append(({"content-type": "application/json", "x-hmac-signature": signature},
                           body))

    def baseline(headers: dict[str, str], body: bytes) -> object:
        expected = hmac.new(key, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, headers["x-hmac-signature"]):
            raise AssertionError("bad signature")
        return json.loads(body)

    return Case("veriff", kycbridge_veriff, {"shared_secret": SANDBOX_SHARED_SECRET},
                deliveries, baseline, target=True)


def transak_case(n: int) -> Case:
    """Transak KYC webhooks: a JWT (HS256) in the body's ``data``."""
    import kycbridge_transak
    from kycbridge_transak.simulator import SANDBOX_PARTNER_TOKEN, webhook_body

    key = SANDBOX_PARTNER_TOKEN.encode()
    now = time.time()
    deliveries = []
    for i in range(n):
        data = {"partnerUserId": f"bench-user-{i:08d}", "kycStatus": "APPROVED",
                "updatedAt": f"2024-01-01T00:00:{i % 60:02d}Z", "n": i}
        body = webhook_body("KYC_APPROVED", data, issued_at=now)
        deliveries.append(({"content-type": "application/json"}, body))

    def baseline(headers: dict[str, str], body: bytes) -> object:
        # the least a JWT receiver does: HMAC of the token's signing input, compare, decode
        import base64

        token = json.loads(body)["data"]
        signing_input, _, signature = token.rpartition(".")
        expected = base64.urlsafe_b64encode(
            hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
        ).rstrip(b"=").decode()
        if not hmac.compare_digest(expected, signature):
            raise AssertionError("bad signature")
        claims = signing_input.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))

    return Case("transak", kycbridge_transak, {"partner_access_token": SANDBOX_PARTNER_TOKEN},
                deliveries, baseline, target=False)


def environ(provider: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """A WSGI environ posting ``body`` to ``/webhooks/<provider>``."""
    env: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": f"/webhooks/{provider}",
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json",
        "wsgi.input": io.BytesIO(body),
    }
    for name, value in headers.items():
        env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


def app_rate(case: Case) -> float:
    """Events per second through a fresh app (its seen store empty) over every delivery."""
    bridge = kycbridge.Bridge([case.plugin], settings={case.provider: case.settings}, env={})
    app = WebhookApp(bridge)
    environs = [environ(case.provider, h, b) for h, b in case.deliveries]
    statuses: list[str] = []

    def start_response(status: str, headers: Any) -> None:
        statuses.append(status)

    started = time.perf_counter()
    for env in environs:
        app(env, start_response)
    elapsed = time.perf_counter() - started
    if app.counts["accepted"] != len(environs):
        raise AssertionError(f"{case.provider}: not every delivery was accepted: {app.counts}")
    return len(environs) / elapsed


def baseline_rate(case: Case) -> float:
    """Events per second of the bare verify-and-decode over the same deliveries."""
    check = case.baseline
    started = time.perf_counter()
    for headers, body in case.deliveries:
        check(headers, body)
    return len(case.deliveries) / (time.perf_counter() - started)


def measure(case: Case, rounds: int, profile: bool) -> Result:
    """The interleaved rates of one provider's receiver and of its baseline."""
    app_rate(case)  # warm up (imports, caches)
    baseline_rate(case)
    a, b = interleave(lambda: app_rate(case), lambda: baseline_rate(case), rounds=rounds,
                      budget=20)
    ka, kb = median(a), median(b)
    ratio = ka / kb
    passed = (ka >= TARGET_RATE and ratio >= TARGET_RATIO) if case.target else None
    notes = [
        f"{len(case.deliveries)} distinct events per round, {len(a)} rounds; "
        f"{1e6 / ka:.1f} us per event vs {1e6 / kb:.1f} us for the bare check; "
        f"{len(case.deliveries[0][1])} byte bodies"
    ]
    if profile:
        notes.append(profile_text(case))
    return Result(
        name=f"{NAME}[{case.provider}]",
        kycbridge=fmt_rate(ka),
        baseline=fmt_rate(kb),
        ratio=ratio,
        target=(f">= {TARGET_RATIO}x and >= {TARGET_RATE:,.0f}/s" if case.target
                else "none (JWT)"),
        passed=passed,
        target_ratio=TARGET_RATIO if case.target else None,
        notes=notes,
        data={"kycbridge_per_s": a, "baseline_per_s": b},
    )


def profile_text(case: Case) -> str:
    """The top of a cProfile of one app round (cumulative time)."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(app_rate, case)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    return "profile:\n" + out.getvalue()


def run(opts: Options) -> list[Result]:
    n, rounds = (500, 4) if opts.quick else (5_000, 10)
    return [measure(case, rounds, opts.profile) for case in (veriff_case(n), transak_case(n))]
