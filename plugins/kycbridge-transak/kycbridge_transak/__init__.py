"""kycbridge-transak: Transak's id-proof KYC status for kycbridge, and its sandbox simulator.

Installed, this module is the ``transak`` entry point of the ``kycbridge`` group. Importing it
is cheap: the provider and the simulator are imported when kycbridge asks for them (or when
one of the names below is first used).

Where things are: the status words in :mod:`kycbridge_transak.mapping`, the error rules in
:mod:`kycbridge_transak.errors`, the query and settings in :mod:`kycbridge_transak.query`,
the request and payload in :mod:`kycbridge_transak.provider`, the scripted sandbox runs in
:mod:`kycbridge_transak.simulator`, the webhooks in :mod:`kycbridge_transak.webhooks`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import kycbridge

if TYPE_CHECKING:
    from .mapping import STATUS_MAP
    from .provider import TransakDetails, TransakProvider
    from .query import TransakQuery, TransakSettings
    from .simulator import SANDBOX_ACCESS_TOKEN, SANDBOX_PARTNER_TOKEN, TransakSimulator
    from .webhooks import TransakWebhooks

__version__ = "0.1.0"

KYCBRIDGE_PLUGIN_API = "1.0"
"""The kycbridge plugin API this plugin is written for (read before any hook is called)."""

__all__ = [
    "SANDBOX_ACCESS_TOKEN",
    "SANDBOX_PARTNER_TOKEN",
    "STATUS_MAP",
    "TransakDetails",
    "TransakProvider",
    "TransakQuery",
    "TransakSettings",
    "TransakSimulator",
    "TransakWebhooks",
    "__version__",
    "register_providers",
    "register_simulators",
    "register_webhooks",
]

__getattr__ = kycbridge.lazy_exports(__name__, {
    "STATUS_MAP": "mapping",
    "TransakDetails": "provider",
    "TransakProvider": "provider",
    "TransakQuery": "query",
    "TransakSettings": "query",
    "SANDBOX_ACCESS_TOKEN": "simulator",
    "SANDBOX_PARTNER_TOKEN": "simulator",
    "TransakSimulator": "simulator",
    "TransakWebhooks": "webhooks",
})


@kycbridge.hookimpl
def register_providers(register: Callable[[Any], None]) -> None:
    """Register the ``transak`` provider."""
    from .provider import TransakProvider

    register(TransakProvider())


@kycbridge.hookimpl
def register_simulators(register: Callable[[Any], None]) -> None:
    """Register the Transak sandbox simulator."""
    from .simulator import TransakSimulator

    register(TransakSimulator())


@kycbridge.hookimpl
def register_webhooks(register: Callable[[Any], None]) -> None:
    """Register the Transak webhook handler (verified with the partner access token)."""
    from .webhooks import TransakWebhooks

    register(TransakWebhooks())
