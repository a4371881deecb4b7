"""kycbridge-persona: Persona's inquiry status (by inquiry id or reference id) as a provider.

Installed, it registers through the ``kycbridge`` entry-point group:

* the provider ``persona`` (:class:`~kycbridge_persona.provider.PersonaProvider`);
* the sandbox simulator ``persona`` (:class:`~kycbridge_persona.simulator.PersonaSimulator`);
* the webhook handler ``persona`` (:class:`~kycbridge_persona.webhooks.PersonaWebhooks`).

Where things are: query and settings in :mod:`.query`, the status words in :mod:`.mapping`,
the error table in :mod:`.errors`, typed details in :mod:`.details`. Importing this package
imports none of them; the hooks do, when called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import kycbridge

if TYPE_CHECKING:
    from .details import PersonaDetails
    from .provider import PersonaProvider
    from .query import PersonaQuery, PersonaSettings
    from .simulator import PersonaSimulator
    from .webhooks import PersonaWebhooks

__all__ = [
    "PersonaDetails",
    "PersonaProvider",
    "PersonaQuery",
    "PersonaSettings",
    "PersonaSimulator",
    "PersonaWebhooks",
    "__version__",
    "register_providers",
    "register_simulators",
    "register_webhooks",
]

__version__ = "0.1.0"

KYCBRIDGE_PLUGIN_API = "1.0"
"""The kycbridge plugin API this plugin was written for (docs/compatibility.md)."""

__getattr__ = kycbridge.lazy_exports(__name__, {
    "PersonaDetails": "details",
    "PersonaProvider": "provider",
    "PersonaQuery": "query",
    "PersonaSettings": "query",
    "PersonaSimulator": "simulator",
    "PersonaWebhooks": "webhooks",
})


@kycbridge.hookimpl
def register_providers(register: Callable[[Any], None]) -> None:
    """Register the ``persona`` provider."""
    from .provider import PersonaProvider

    register(PersonaProvider())


@kycbridge.hookimpl
def register_simulators(register: Callable[[Any], None]) -> None:
    """Register the ``persona`` sandbox simulator."""
    from .simulator import PersonaSimulator

    register(PersonaSimulator())


@kycbridge.hookimpl
def register_webhooks(register: Callable[[Any], None]) -> None:
    """Register the ``persona`` webhook handler (``Persona-Signature``, two secrets)."""
    from .webhooks import PersonaWebhooks

    register(PersonaWebhooks())
