"""kycbridge-didit: the status of a Didit verification session as a kycbridge provider.

Installed, it registers through the ``kycbridge`` entry-point group:

* the provider ``didit`` (:class:`~kycbridge_didit.provider.DiditProvider`);
* the sandbox simulator ``didit`` (:class:`~kycbridge_didit.simulator.DiditSimulator`);
* the webhook handler ``didit`` (:class:`~kycbridge_didit.webhooks.DiditWebhooks`).

Where things are: query and settings in :mod:`.query`, the status words in :mod:`.mapping`,
the error table in :mod:`.errors`, typed details in :mod:`.details`. Importing this package
imports none of them; the hooks do, when called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import kycbridge

if TYPE_CHECKING:
    from .provider import DiditProvider
    from .query import DiditQuery, DiditSettings
    from .simulator import DiditSimulator
    from .webhooks import DiditWebhooks

__all__ = [
    "DiditProvider",
    "DiditQuery",
    "DiditSettings",
    "DiditSimulator",
    "DiditWebhooks",
    "__version__",
    "register_providers",
    "register_simulators",
    "register_webhooks",
]

__version__ = "0.1.0"

KYCBRIDGE_PLUGIN_API = "1.0"
"""The kycbridge plugin API this plugin was written for (docs/compatibility.md)."""

__getattr__ = kycbridge.lazy_exports(__name__, {
    "DiditProvider": "provider",
    "DiditQuery": "query",
    "DiditSettings": "query",
    "DiditSimulator": "simulator",
    "DiditWebhooks": "webhooks",
})


@kycbridge.hookimpl
def register_providers(register: Callable[[Any], None]) -> None:
    """Register the ``didit`` provider."""
    from .provider import DiditProvider

    register(DiditProvider())


@kycbridge.hookimpl
def register_simulators(register: Callable[[Any], None]) -> None:
    """Register the ``didit`` sandbox simulator."""
    from .simulator import DiditSimulator

    register(DiditSimulator())


@kycbridge.hookimpl
def register_webhooks(register: Callable[[Any], None]) -> None:
    """Register the ``didit`` webhook handler (``X-Signature``/``X-Signature-V2``, 300 s)."""
    from .webhooks import DiditWebhooks

    register(DiditWebhooks())
