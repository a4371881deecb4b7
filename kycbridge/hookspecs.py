"""The hooks kycbridge calls: the whole plugin API, docstrings only.

A plugin is a module (or any object) with functions named like these hooks and marked with
:data:`hookimpl`. Distributions expose it through the ``kycbridge`` entry-point group::

    [project.entry-points.kycbridge]
    myprovider = "kycbridge_myprovider"

Every hook here is documented in ``docs/hooks.md`` by its exact signature; a test fails when
one is missing there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .provider import KYCStatusProvider
    from .report import StatusReport
    from .sandbox import Simulator
    from .states import KYCState
    from .webhooks import WebhookHandler

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "kycbridge"
"""The pluggy project name, also the entry-point group."""

hookspec = pluggy.HookspecMarker(PROJECT)
"""Marks the hook specifications below."""
hookimpl = pluggy.HookimplMarker(PROJECT)
"""Marks a plugin's hook implementations: ``@kycbridge.hookimpl``."""


@hookspec
def register_providers(register: Callable[[KYCStatusProvider], None]) -> None:
    """Register KYC status providers: call ``register(provider)`` once for each.

    ``provider`` satisfies :class:`kycbridge.KYCStatusProvider` (usually a subclass of
    :class:`kycbridge.HTTPStatusProvider`). Its ``name`` must be unique among installed
    providers.
    """


@hookspec
def register_simulators(register: Callable[[Simulator], None]) -> None:
    """Register sandbox simulators: call ``register(simulator)`` once for each.

    ``simulator`` satisfies :class:`kycbridge.sandbox.Simulator`; its ``name`` is the name of
    the provider it imitates. :class:`kycbridge.sandbox.Sandbox` serves it on loopback.
    """


@hookspec
def register_webhooks(register: Callable[[WebhookHandler], None]) -> None:
    """Register webhook handlers: call ``register(handler)`` once for each.

    ``handler`` satisfies :class:`kycbridge.webhooks.WebhookHandler`; its ``name`` is the
    provider whose deliveries it verifies and parses (that provider's settings hold the
    webhook secret). :class:`kycbridge.webhooks.WebhookApp` serves it at
    ``/webhooks/<name>``.
    """


@hookspec
def status_observed(report: StatusReport) -> None:
    """Called for every status observed (every call, every poll), after normalization."""


@hookspec
def state_changed(old: KYCState | None, new: KYCState, report: StatusReport, anomaly: bool) -> None:
    """Called when a subject's normalized state differs from the last one observed.

    ``old`` is ``None`` for the first observation of a subject. ``anomaly`` is true when the
    transition is not in :data:`kycbridge.states.TRANSITIONS`.
    """
