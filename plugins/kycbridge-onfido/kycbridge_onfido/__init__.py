"""kycbridge-onfido: the status of an Onfido workflow run (API v3.6) as a kycbridge provider.

Installed, it registers through the ``kycbridge`` entry-point group:

* the provider ``onfido`` (:class:`~kycbridge_onfido.provider.OnfidoProvider`);
* the sandbox simulator ``onfido`` (:class:`~kycbridge_onfido.simulator.OnfidoSimulator`);
* the webhook handler ``onfido`` (:class:`~kycbridge_onfido.webhooks.OnfidoWebhooks`).

Where things are: query and settings in :mod:`.query`, the status words in :mod:`.mapping`,
the error table in :mod:`.errors`, typed details in :mod:`.details`. Importing this package
imports none of them; the hooks do, when called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import kycbridge

if TYPE_CHECKING:
    from .details import OnfidoDetails
    from .provider import OnfidoProvider
    from .query import OnfidoQuery, OnfidoSettings
    from .simulator import OnfidoSimulator
    from .webhooks import OnfidoWebhooks

__all__ = [
    "OnfidoDetails",
    "OnfidoProvider",
    "OnfidoQuery",
    "OnfidoSettings",
    "OnfidoSimulator",
    "OnfidoWebhooks",
    "__version__",
    "register_providers",
    "register_simulators",
    "register_webhooks",
]

__version__ = "0.1.0"

KYCBRIDGE_PLUGIN_API = "1.0"
"""The kycbridge plugin API this plugin was written for (docs/compatibility.md)."""

__getattr__ = kycbridge.lazy_exports(__name__, {
    "OnfidoDetails": "details",
    "OnfidoProvider": "provider",
    "OnfidoQuery": "query",
    "OnfidoSettings": "query",
    "OnfidoSimulator": "simulator",
    "OnfidoWebhooks": "webhooks",
})


@kycbridge.hookimpl
def register_providers(register: Callable[[Any], None]) -> None:
    """Register the ``onfido`` provider."""
    from .provider import OnfidoProvider

    register(OnfidoProvider())


@kycbridge.hookimpl
def register_simulators(register: Callable[[Any], None]) -> None:
    """Register the ``onfido`` sandbox simulator."""
    from .simulator import OnfidoSimulator

    register(OnfidoSimulator())


@kycbridge.hookimpl
def register_webhooks(register: Callable[[Any], None]) -> None:
    """Register the ``onfido`` webhook handler (``X-SHA2-Signature`` of the raw body)."""
    from .webhooks import OnfidoWebhooks

    register(OnfidoWebhooks())
