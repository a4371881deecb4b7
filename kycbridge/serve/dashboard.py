"""The dashboard's pages: Jinja2 templates (package data), autoescaped, no JavaScript.

Pages show masked subjects only (:attr:`Subject.subject_masked
<kycbridge.tracking.Subject.subject_masked>`), never a report's ``subject``, ``details`` or
``raw``, never a token. Provider text (a raw status word) is autoescaped, and its control,
bidi and invisible characters are shown as escapes (:func:`kycbridge.terminal.safe_text`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

import jinja2

from ..errors import InvalidQuery
from ..states import KYCState
from ..terminal import safe_text
from .errors import REASONS
from .http import Reply

__all__ = ["PAGE_HEADERS", "Pages", "duration_text", "parse_fields", "pivot", "webhook_verdict"]

PAGE_HEADERS = (
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self';"
        " frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Frame-Options", "DENY"),
)
"""Sent with every HTML page: no script runs, no frame embeds it, forms post only here."""

MAX_FIELD_LINES = 20
"""The most ``key=value`` lines the add form takes."""


def _visible(value: Any, limit: int = 120) -> str:
    """Provider text with unsafe characters escaped, cut to ``limit`` (then autoescaped)."""
    if value is None:
        return "-"
    return safe_text(str(value), limit)


def _when(value: dt.datetime | None) -> str:
    if value is None:
        return "never"
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


class Pages:
    """The template environment and the page renderers."""

    def __init__(self) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("kycbridge.serve", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["visible"] = _visible
        self.env.filters["when"] = _when

    def __repr__(self) -> str:
        return "<Pages>"

    def render(self, name: str, *, status: int = 200, **context: Any) -> Reply:
        """An HTML reply of template ``name``."""
        html = self.env.get_template(name).render(**context)
        return Reply(status, html.encode("utf-8"), content_type="text/html; charset=utf-8")

    def error(self, status: int, message: str) -> Reply:
        """The HTML error page (the message autoescaped; never a traceback)."""
        return self.render(
            "error.html",
            status=status,
            base="",
            code=status,
            reason=REASONS.get(status, "Error"),
            message=message,
        )


def pivot(counts: Iterable[tuple[str, KYCState | None, int]]) -> dict[str, Any]:
    """Counts by provider and state as table rows: ``{"states", "rows", "totals", "total"}``."""
    by_provider: dict[str, dict[str, int]] = {}
    seen: set[str] = set()
    for provider, state, count in counts:
        key = "unobserved" if state is None else state.value
        by_provider.setdefault(provider, {})[key] = count
        seen.add(key)
    order = [s.value for s in KYCState] + ["unobserved"]
    states = [s for s in order if s in seen]
    table = [
        (p, [cells.get(s, 0) for s in states], sum(cells.values()))
        for p, cells in sorted(by_provider.items())
    ]
    rows = [{"provider": p, "cells": cells, "total": total} for p, cells, total in table]
    totals = [sum(cells[i] for _, cells, _ in table) for i in range(len(states))]
    return {"states": states, "rows": rows, "totals": totals, "total": sum(totals)}


def duration_text(seconds: float) -> str:
    """``2d``, ``3h``, ``15m`` or ``90s``: the largest whole unit."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def parse_fields(text: str) -> dict[str, str]:
    """The add form's ``key=value`` lines as query fields (raises ``InvalidQuery``)."""
    fields: dict[str, str] = {}
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > MAX_FIELD_LINES:
        raise InvalidQuery(f"at most {MAX_FIELD_LINES} fields")
    for line in lines:
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise InvalidQuery("each line is a field: name=value")
        fields[key.strip()] = value.strip()
    return fields


def webhook_verdict(body: bytes) -> str:
    """The ``status`` word of a receiver's 200 answer (``accepted``...), else ``ok``."""
    try:
        word = json.loads(body[:256]).get("status")
    except (ValueError, AttributeError):
        return "ok"
    return word if isinstance(word, str) and word.isalpha() and len(word) < 20 else "ok"
