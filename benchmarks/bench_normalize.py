"""Normalization: a provider's raw payload to :class:`StatusReport`, per second, per plugin.

"Raw payload" is what a report keeps as ``raw``: the provider's JSON, decoded. No HTTP: each
plugin's own simulator answers a scripted subject that reaches a final state; its last answer
becomes an in-memory :class:`kycbridge.transport.Response`. The measured side does what
``HTTPStatusProvider.fetch`` does once the payload is decoded: the provider's ``parse`` (shape
checks, normalization, typed details) and the ``StatusReport``. The baseline is ``json.loads``
of the same body, the decoding every client pays whatever it does next; the notes also give
the rate from the undecoded bytes (``Response.json`` first). Rounds alternate, one thread;
the target is an absolute rate.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, cast

from common import Options, Result, fmt_rate, interleave, median

from kycbridge import KYCStatusProvider, StatusReport
from kycbridge.plugins import PluginRegistry
from kycbridge.provider import HTTPStatusProvider, build_query, load_settings
from kycbridge.report import utcnow
from kycbridge.sandbox import Sandbox, Scenario
from kycbridge.states import KYCState
from kycbridge.transport import Request, Response, Transport

NAME = "normalize"
TARGET = 100_000.0


def final_answer(
    provider: Any, simulator: Any, scenario: Scenario, sandbox: Sandbox, transport: Transport
) -> tuple[Any, Response]:
    """The query for ``scenario`` and the simulator's answer once the scenario is over.

    Asked over loopback as ``fetch`` asks (the provider's request, path parameters and
    signature included), so the answer, headers too, is what a real call parses.
    """
    settings = load_settings(provider, sandbox.settings()[simulator.name], env={})
    query = build_query(provider, scenario.query, env={})
    request = provider.build_request(query, settings)
    sign = None
    if type(provider).sign is not HTTPStatusProvider.sign:

        def sign(attempt: Request) -> Request:
            return cast(Request, provider.sign(attempt, settings, provider.now()))

    simulator.reset()
    for _ in range(len(scenario.played)):
        response = transport.send(request, provider=provider.name, sign=sign)
    if not 200 <= response.status < 300:
        raise RuntimeError(f"{provider.name} {scenario.subject!r}: HTTP {response.status}")
    return query, response


def pick(
    provider: Any, simulator: Any, sandbox: Sandbox, transport: Transport
) -> tuple[Scenario, Any, Response]:
    """The demo scenario ending in a final state with the largest payload, its query, answer."""
    finals = {st.value for st in KYCState if st.final}
    answers = [
        (s, *final_answer(provider, simulator, s, sandbox, transport))
        for s in simulator.scenarios
        if s.demo and s.outcome in finals
    ]
    return max(answers, key=lambda a: len(a[2].body))


def normalizer(
    provider: KYCStatusProvider, query: Any, response: Response, *, decode: bool
) -> Callable[[], Any]:
    """One payload to one report, as ``HTTPStatusProvider.fetch`` does it.

    ``decode``: start from the body's bytes (``Response.json`` first) instead of the payload.
    """
    name = provider.name
    parse = provider.parse  # type: ignore[attr-defined]
    subject = provider.subject
    decoded = response.json(provider=name)

    def once() -> StatusReport:
        payload = response.json(provider=name) if decode else decoded
        parsed = parse(payload, response)
        return StatusReport(
            provider=name,
            state=parsed.state,
            raw_status=parsed.raw_status,
            observed_at=utcnow(),
            subject=subject(query),
            details=parsed.details,
            blocklisted=parsed.blocklisted,
            raw=payload,
        )

    return once


def rate(fn: Callable[[], object], n: int) -> float:
    """Calls per second of ``fn`` over ``n`` calls."""
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - started)


def measure(
    provider: Any, simulator: Any, answer: tuple[Scenario, Any, Response], n: int, rounds: int
) -> Result:
    """The interleaved rates of one provider's normalization, of it from bytes, of json.loads."""
    scenario, query, response = answer
    once = normalizer(provider, query, response, decode=False)
    from_bytes = normalizer(provider, query, response, decode=True)
    report = once()
    assert from_bytes().state is report.state
    body = response.body

    def baseline() -> object:
        return json.loads(body)

    rate(once, n // 10)  # warm up
    rate(from_bytes, n // 10)
    a, b = interleave(lambda: rate(once, n), lambda: rate(baseline, n), rounds=rounds, budget=15)
    c, _ = interleave(
        lambda: rate(from_bytes, n), lambda: rate(baseline, n), rounds=rounds // 2, budget=8
    )
    ka, kb, kc = median(a), median(b), median(c)
    return Result(
        name=f"{NAME}[{provider.name}]",
        kycbridge=fmt_rate(ka),
        baseline=fmt_rate(kb),
        ratio=ka / kb,
        target=f">= {TARGET:,.0f}/s",
        passed=ka >= TARGET,
        target_ratio=TARGET / kb,
        notes=[
            f"{scenario.subject!r} -> {report.state.value}, {len(body)} byte payload; "
            f"{1e6 / ka:.1f} us per report vs {1e6 / kb:.1f} us for json.loads alone; "
            f"{len(a)} rounds x {n}",
            f"from the undecoded bytes (json.loads included): {fmt_rate(kc)}, "
            f"{1e6 / kc:.1f} us per report",
        ],
        data={
            "kycbridge_per_s": a,
            "baseline_per_s": b,
            "from_bytes_per_s": c,
            "payload_bytes": len(body),
        },
    )


def answers(
    names: list[str] | None = None,
) -> list[tuple[Any, Any, tuple[Scenario, Any, Response]]]:
    """Each installed provider with a simulator (or those in ``names``), and its final answer.

    Every answer is asked first, over loopback, so the sandbox's threads are gone before
    anything is timed.
    """
    registry = PluginRegistry()
    simulators = {info.name: info.simulator for info in registry.simulators()}
    providers = [
        info.provider
        for info in registry.providers()
        if info.name in simulators and (names is None or info.name in names)
    ]
    transport = Transport(retries=5, max_retry_after=2.0)
    with Sandbox([simulators[p.name] for p in providers]) as sandbox:
        found = [pick(p, simulators[p.name], sandbox, transport) for p in providers]
    transport.pool.clear()
    return [(p, simulators[p.name], a) for p, a in zip(providers, found, strict=True)]


def run(opts: Options) -> list[Result]:
    n, rounds = (2_000, 4) if opts.quick else (20_000, 12)
    return [
        measure(provider, simulator, answer, n, rounds) for provider, simulator, answer in answers()
    ]
