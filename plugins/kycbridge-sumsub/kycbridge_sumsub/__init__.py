"""kycbridge-sumsub: a Sumsub applicant's review (by applicant id or external user id).

Installed, it registers through the ``kycbridge`` entry-point group:

* the provider ``sumsub`` (:class:`~kycbridge_sumsub.provider.SumsubProvider`);
* the sandbox simulator ``sumsub`` (:class:`~kycbridge_sumsub.simulator.SumsubSimulator`);
* the webhook handler ``sumsub`` (:class:`~kycbridge_sumsub.webhooks.SumsubWebhooks`).

Where things are: query and settings in :mod:`.query`, the per-attempt request signature
in :mod:`.signing`, the review words in :mod:`.mapping`, the error table in :mod:`.errors`,
typed details (and the personal-data-free ``raw``) in :mod:`.details`. Importing this
package imports none of them; the hooks do, when called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import kycbridge

if TYPE_CHECKING:
    from .provider import SumsubProvider
    from .query import SumsubQuery, SumsubSettings
    from .simulator import SumsubSimulator
    from .webhooks import SumsubWebhooks

__all__ = [
    "SumsubProvider",
    "SumsubQuery",
    "SumsubSettings",
    "SumsubSimulator",
    "SumsubWebhooks",
    "__version__",
    "register_providers",
    "register_simulators",
    "register_webhooks",
]

__version__ = "0.1.0"

KYCBRIDGE_PLUGIN_API = "1.0"
"""The kycbridge plugin API this plugin was written for (docs/compatibility.md)."""

__getattr__ = kycbridge.lazy_exports(__name__, {
    "SumsubProvider": "provider",
    "SumsubQuery": "query",
    "SumsubSettings": "query",
    "SumsubSimulator": "simulator",
    "SumsubWebhooks": "webhooks",
})


@kycbridge.hookimpl
def register_providers(register: Callable[[Any], None]) -> None:
    """Register the ``sumsub`` provider."""
    from .provider import SumsubProvider

    register(SumsubProvider())


@kycbridge.hookimpl
def register_simulators(register: Callable[[Any], None]) -> None:
    """Register the ``sumsub`` sandbox simulator."""
    from .simulator import SumsubSimulator

    register(SumsubSimulator())


@kycbridge.hookimpl
def register_webhooks(register: Callable[[Any], None]) -> None:
    """Register the ``sumsub`` webhook handler (``X-Payload-Digest`` of the raw body)."""
    from .webhooks import SumsubWebhooks

    register(SumsubWebhooks())
