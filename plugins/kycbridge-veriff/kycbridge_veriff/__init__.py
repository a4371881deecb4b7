"""kycbridge-veriff: Veriff's verification decision (by session id) as a kycbridge provider.

Installed, it registers through the ``kycbridge`` entry-point group:

* the provider ``veriff`` (:class:`~kycbridge_veriff.provider.VeriffProvider`);
* the sandbox simulator ``veriff`` (:class:`~kycbridge_veriff.simulator.VeriffSimulator`);
* the webhook handler ``veriff`` (:class:`~kycbridge_veriff.webhooks.VeriffWebhooks`).

Where things are: query and settings in :mod:`.query`, the request signature in
:mod:`.signing`, the status words and codes in :mod:`.mapping`, the error table in
:mod:`.errors`, typed details in :mod:`.details`. Importing this package imports none of
them; the hooks do, when called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import kycbridge

if TYPE_CHECKING:
    from .provider import VeriffProvider
    from .query import VeriffQuery, VeriffSettings
    from .simulator import VeriffSimulator
    from .webhooks import VeriffWebhooks

__all__ = [
    "VeriffProvider",
    "VeriffQuery",
    "VeriffSettings",
    "VeriffSimulator",
    "VeriffWebhooks",
    "__version__",
    "register_providers",
    "register_simulators",
    "register_webhooks",
]

__version__ = "0.1.0"

KYCBRIDGE_PLUGIN_API = "1.0"
"""The kycbridge plugin API this plugin was written for (docs/compatibility.md)."""

__getattr__ = kycbridge.lazy_exports(__name__, {
    "VeriffProvider": "provider",
    "VeriffQuery": "query",
    "VeriffSettings": "query",
    "VeriffSimulator": "simulator",
    "VeriffWebhooks": "webhooks",
})


@kycbridge.hookimpl
def register_providers(register: Callable[[Any], None]) -> None:
    """Register the ``veriff`` provider."""
    from .provider import VeriffProvider

    register(VeriffProvider())


@kycbridge.hookimpl
def register_simulators(register: Callable[[Any], None]) -> None:
    """Register the ``veriff`` sandbox simulator."""
    from .simulator import VeriffSimulator

    register(VeriffSimulator())


@kycbridge.hookimpl
def register_webhooks(register: Callable[[Any], None]) -> None:
    """Register the ``veriff`` webhook handler (``X-HMAC-SIGNATURE`` of the raw body)."""
    from .webhooks import VeriffWebhooks

    register(VeriffWebhooks())
