"""Simulators that push: signed deliveries sent to a webhook receiver, retried like a provider.

A simulator opts in by implementing ``webhook_deliveries(now)`` (:class:`PushingSimulator`):
the signed :class:`Delivery` objects for each scenario's status changes, then its fault
deliveries (a bad signature, a replay, out-of-order events, a body over the cap, and a stale
timestamp for providers that sign one), each saying what the receiver should answer. Its
``webhook_settings`` are the provider settings a receiver needs to verify them (the sandbox
secret). :class:`Pusher` posts them to ``<url>/webhooks/<provider>``, retrying every non-2xx
answer with backoff, within a bounded number of attempts and a deadline;
:func:`push_simulators` does it for every simulator that can (the sandbox's
``--webhook-url``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

from ..errors import KYCBridgeError
from ..transport import Request, Transport
from .app import PATH_PREFIX

__all__ = [
    "EXPECTED_STATUS",
    "Delivery",
    "PushResult",
    "Pusher",
    "PushingSimulator",
    "push_simulators",
    "status_changes",
]

EXPECTED_STATUS: dict[str, int] = {
    "accepted": 200,
    "acknowledged": 200,
    "duplicate": 200,
    "stale": 200,
    "malformed": 400,
    "unauthorized": 401,
    "too_large": 413,
}
"""What a receiver answers for each expected outcome of a delivery."""


@attrs.frozen
class Delivery:
    """One signed webhook delivery, and what a receiver that has not seen it should answer."""

    label: str
    """What it shows (``wfr-approved: KYC_APPROVED``, ``bad signature``)."""
    headers: Mapping[str, str] = attrs.field(repr=False)
    body: bytes = attrs.field(repr=False)
    expect: str = "accepted"
    """The receiver's outcome: a key of :data:`EXPECTED_STATUS`."""

    @property
    def expected_status(self) -> int:
        """The HTTP status the receiver should answer."""
        return EXPECTED_STATUS[self.expect]


@runtime_checkable
class PushingSimulator(Protocol):
    """A simulator that can push webhooks (an optional extension of ``Simulator``)."""

    name: str
    webhook_settings: Mapping[str, str]
    """Provider settings a receiver needs to verify the deliveries (the sandbox secret)."""

    def webhook_deliveries(self, now: float) -> Sequence[Delivery]:
        """Every delivery to push, in order, signed as at ``now`` (Unix seconds)."""


def status_changes(played: Iterable[str], words: Iterable[str]) -> list[str]:
    """The status changes in a scenario's ``played`` list.

    Each word in ``words`` (the ones the provider sends a webhook for) that differs from the
    word played before it.
    """
    wanted = set(words)
    changes: list[str] = []
    last: str | None = None
    for word in played:
        if word != last and word in wanted:
            changes.append(word)
        last = word
    return changes


@attrs.frozen
class PushResult:
    """What happened to one delivery."""

    label: str
    expect: str
    status: int | None
    """The last HTTP status received (``None``: no answer at all)."""
    attempts: int
    outcome: str | None = None
    """The receiver's JSON ``status`` or ``error`` word, when it sent one."""

    @property
    def ok(self) -> bool:
        """Whether the receiver answered what the delivery expected."""
        return self.status == EXPECTED_STATUS.get(self.expect) and (
            self.outcome is None or self.outcome == self.expect or self.status != 200
        )


class Pusher:
    """Posts deliveries to a receiver as a provider would.

    Every non-2xx answer (and a connection failure) is retried after ``backoff * 2**n``
    seconds (at most ``max_backoff``), up to ``attempts`` tries and never past ``deadline``
    seconds per delivery. ``url``: where the receiver is mounted; deliveries go to
    ``url + "/webhooks/<provider>"``. Plain ``http://`` only to loopback.
    """

    def __init__(
        self,
        url: str,
        *,
        attempts: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 5.0,
        deadline: float = 30.0,
        timeout: float = 5.0,
        transport: Transport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.url = url.rstrip("/")
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.deadline = deadline
        self.transport = transport or Transport(
            retries=0, connect_timeout=timeout, read_timeout=timeout
        )
        self.sleep = sleep
        self.clock = clock

    def __repr__(self) -> str:
        return f"<Pusher attempts={self.attempts}>"

    def push(self, provider: str, delivery: Delivery) -> PushResult:
        """Post one delivery until a 2xx, the last attempt or the deadline."""
        start = self.clock()
        status: int | None = None
        outcome: str | None = None
        request = Request(
            url=self.url + PATH_PREFIX + provider,
            method="POST",
            headers=dict(delivery.headers),
            secret_headers=frozenset(k.lower() for k in delivery.headers),
            body=delivery.body,
            content_type=delivery.headers.get("content-type", "application/json"),
        )
        tries = 0
        for tries in range(1, self.attempts + 1):
            try:
                response = self.transport.send(request, provider=provider)
            except KYCBridgeError:
                status, outcome = None, None
            else:
                status, outcome = response.status, _outcome(response.body)
                if 200 <= status < 300:
                    break
            wait = min(self.max_backoff, self.backoff * 2 ** (tries - 1))
            if tries == self.attempts or self.clock() - start + wait > self.deadline:
                break
            self.sleep(wait)
        return PushResult(delivery.label, delivery.expect, status, tries, outcome)

    def push_all(self, provider: str, deliveries: Iterable[Delivery]) -> list[PushResult]:
        """Post each delivery in order."""
        return [self.push(provider, d) for d in deliveries]


def _outcome(body: bytes) -> str | None:
    try:
        data = json.loads(body[:1024])
    except ValueError:
        return None
    if isinstance(data, dict):
        word = data.get("status", data.get("error"))
        return word if isinstance(word, str) else None
    return None


def push_simulators(
    url: str,
    simulators: Iterable[Any],
    *,
    now: float | None = None,
    on_result: Callable[[str, PushResult], None] | None = None,
    **pusher_options: Any,
) -> dict[str, list[PushResult]]:
    """Push every delivery of every pushing simulator to the receiver at ``url``.

    Returns the results by provider. ``on_result(provider, result)`` is called after each
    delivery (to print progress); ``pusher_options`` go to :class:`Pusher`.
    """
    pusher = Pusher(url, **pusher_options)
    when = time.time() if now is None else now
    results: dict[str, list[PushResult]] = {}
    for simulator in simulators:
        if not isinstance(simulator, PushingSimulator):
            continue
        for delivery in simulator.webhook_deliveries(when):
            result = pusher.push(simulator.name, delivery)
            results.setdefault(simulator.name, []).append(result)
            if on_result is not None:
                on_result(simulator.name, result)
    return results
