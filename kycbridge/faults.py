"""Standard fault answers for sandbox simulators, and the fault scenarios' rows.

Every simulator plays the same faults: a gateway's 502 page, an empty 504, a slow answer,
invalid or truncated JSON, an HTML page where JSON belongs, a wrong content type, an empty
body, a body over the transport's size cap, a dropped connection. Only what a fault starts
from is the provider's: its normal 200 answer. A simulator declares which standard faults it
plays and keeps only its provider-specific answers (its 500 and 429 bodies, missing or
mistyped fields)::

    from kycbridge import faults

    def normal(subject: str) -> SimResponse:          # the provider's own 200 answer
        return SimResponse.json(200, {"status": "in_review", "id": subject})

    answer = faults.answer("truncated-json", normal("usr-1"))
    rows = faults.rows(["502", "slow"], played=("in_review",), outcome="in_review")
    # {"502": ((), "unavailable", "502 with a gateway's HTML page"),
    #  "slow": (("in_review",), "in_review", "answers after 2 s (...)")}

Each row is ``(played, outcome, description)``: what a :class:`~kycbridge.sandbox.Scenario`
for that fault says.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

import attrs

from .sandbox import SimResponse

__all__ = [
    "BIG_BODY_SIZE",
    "STANDARD",
    "Fault",
    "answer",
    "gateway_page",
    "row",
    "rows",
    "sign_in_page",
]

BIG_BODY_SIZE = 10 * 1024 * 1024
"""Size of the ``big-body`` answer: ten times the transport's default 1 MiB cap."""

DELAY = 2.0
"""Seconds ``slow`` waits by default."""

TRUNCATE = 40
"""Bytes ``drop-mid-body`` sends by default before closing the connection."""


@attrs.frozen
class Fault:
    """One standard fault: what a client should make of it, and how the docs describe it."""

    name: str
    outcome: str | None
    """The error kind the fault ends in; ``None``: the normal answer's own state (``slow``)."""
    description: str
    """For the scenario table; ``{delay}`` and ``{truncate}`` are filled in."""


STANDARD: Mapping[str, Fault] = {
    fault.name: fault
    for fault in (
        Fault("502", "unavailable", "502 with a gateway's HTML page"),
        Fault("503", "unavailable", "503 with Retry-After: 1 and an empty body"),
        Fault("504", "unavailable", "504 with an empty body"),
        Fault("slow", None,
              "answers after {delay} s (a read timeout under {delay} s makes it unavailable)"),
        Fault("invalid-json", "malformed_response", "200 whose body is not JSON"),
        Fault("truncated-json", "malformed_response", "200 with half a JSON document"),
        Fault("html", "malformed_response", "200 with an HTML sign-in page"),
        Fault("wrong-content-type", "malformed_response",
              "200 with a JSON body served as text/plain"),
        Fault("empty-body", "malformed_response", "200 with an empty body"),
        Fault("big-body", "malformed_response", "200 with a 10 MB body (over the size cap)"),
        Fault("drop", "unavailable", "the connection is closed without an answer"),
        Fault("drop-mid-body", "unavailable", "the connection is closed after {truncate} bytes"),
    )
}
"""The standard faults by name, in the order the scenario tables list them."""


def gateway_page(status: int, reason: str) -> bytes:
    """The HTML error page a reverse proxy serves (``502``, ``Bad Gateway``)."""
    return (
        f"<html><head><title>{status} {reason}</title></head><body>"
        f"<center><h1>{status} {reason}</h1></center></body></html>"
    ).encode()


def sign_in_page(title: str = "Sign in") -> bytes:
    """An HTML sign-in page (what a misrouted request or an expired session gets)."""
    escaped = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (
        f"<!doctype html><html><head><title>{escaped}</title></head>"
        "<body><form action='/login'></form></body></html>"
    ).encode()


def _padded(body: bytes, size: int) -> bytes:
    """``body`` (a JSON object) with a ``padding`` string making it ``size`` bytes."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        return b"x" * size
    head = json.dumps({**parsed, "padding": ""}).encode()[:-2]  # drop the closing `"}`
    return head + b"x" * max(0, size - len(head) - 2) + b'"}'


def answer(
    name: str,
    normal: SimResponse | None = None,
    *,
    delay: float = DELAY,
    truncate: int = TRUNCATE,
    title: str = "Sign in",
) -> SimResponse:
    """The answer of standard fault ``name``, made from the provider's ``normal`` 200 answer.

    ``slow``, ``truncated-json``, ``wrong-content-type``, ``big-body`` and ``drop-mid-body``
    start from ``normal`` (required for them): delayed by ``delay`` seconds, cut in half,
    served as ``text/plain``, padded to :data:`BIG_BODY_SIZE`, or cut after ``truncate``
    bytes. ``html`` serves :func:`sign_in_page` with ``title``. :class:`KeyError` for a name
    not in :data:`STANDARD`.
    """
    if name not in STANDARD:
        raise KeyError(f"no standard fault {name!r} (one of {', '.join(STANDARD)})")
    if name == "502":
        return SimResponse(502, gateway_page(502, "Bad Gateway"), content_type="text/html")
    if name == "503":
        return SimResponse(503, b"", content_type="", headers={"Retry-After": "1"})
    if name == "504":
        return SimResponse(504, b"", content_type="")
    if name == "invalid-json":
        return SimResponse(200, b'{"status": in_review}')
    if name == "html":
        return SimResponse(200, sign_in_page(title), content_type="text/html")
    if name == "empty-body":
        return SimResponse(200, b"")
    if name == "drop":
        return SimResponse(200, drop=True)
    if normal is None:
        raise ValueError(f"fault {name!r} is made from the provider's normal answer: give it")
    if name == "slow":
        return attrs.evolve(normal, delay=delay)
    if name == "truncated-json":
        return attrs.evolve(normal, body=normal.body[: len(normal.body) // 2])
    if name == "wrong-content-type":
        return attrs.evolve(normal, content_type="text/plain")
    if name == "big-body":
        return attrs.evolve(normal, body=_padded(normal.body, BIG_BODY_SIZE))
    return attrs.evolve(normal, truncate=truncate)  # drop-mid-body


def row(
    name: str,
    *,
    played: tuple[str, ...] = (),
    outcome: str | None = None,
    delay: float = DELAY,
    truncate: int = TRUNCATE,
) -> tuple[tuple[str, ...], str, str]:
    """``(played, outcome, description)`` of standard fault ``name``'s scenario.

    ``played`` and ``outcome``: those of the normal answer, used by the faults that still
    deliver it (``slow``); the others play nothing and end in their own error kind.
    """
    fault = STANDARD[name]
    description = fault.description.format(delay=f"{delay:g}", truncate=truncate)
    if fault.outcome is None:
        if outcome is None:
            raise ValueError(f"fault {name!r} ends in the normal answer's state: give outcome")
        return played, outcome, description
    return (), fault.outcome, description


def rows(
    names: Iterable[str],
    *,
    played: tuple[str, ...] = (),
    outcome: str | None = None,
    delay: float = DELAY,
    truncate: int = TRUNCATE,
) -> dict[str, tuple[tuple[str, ...], str, str]]:
    """:func:`row` for each of ``names``, in their order."""
    return {
        name: row(name, played=played, outcome=outcome, delay=delay, truncate=truncate)
        for name in names
    }
