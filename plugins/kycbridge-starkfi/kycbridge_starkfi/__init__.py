"""kycbridge-starkfi: StarkFi's KYC status (by email or wallet) as a kycbridge provider.

Installed, it registers through the ``kycbridge`` entry-point group:

* the provider ``starkfi`` (:class:`~kycbridge_starkfi.provider.StarkFiProvider`);
* the sandbox simulator ``starkfi`` (:class:`~kycbridge_starkfi.simulator.StarkFiSimulator`).

Where things are: query and settings in :mod:`.query`, the status words and normalization
rules in :mod:`.mapping`, the error table in :mod:`.errors`, typed details in
:mod:`.details`. Importing this package imports none of them; the hooks do, when called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import kycbridge

if TYPE_CHECKING:
    from .provider import StarkFiProvider
    from .query import StarkFiQuery, StarkFiSettings
    from .simulator import StarkFiSimulator

__all__ = [
    "StarkFiProvider",
    "StarkFiQuery",
    "StarkFiSettings",
    "StarkFiSimulator",
    "__version__",
    "register_providers",
    "register_simulators",
]

__version__ = "0.1.0"

KYCBRIDGE_PLUGIN_API = "1.0"
"""The kycbridge plugin API this plugin is written for (read before any hook is called)."""

__getattr__ = kycbridge.lazy_exports(__name__, {
    "StarkFiProvider": "provider",
    "StarkFiQuery": "query",
    "StarkFiSettings": "query",
    "StarkFiSimulator": "simulator",
})


@kycbridge.hookimpl
def register_providers(register: Callable[[Any], None]) -> None:
    """Register the ``starkfi`` provider."""
    from .provider import StarkFiProvider

    register(StarkFiProvider())


@kycbridge.hookimpl
def register_simulators(register: Callable[[Any], None]) -> None:
    """Register the ``starkfi`` sandbox simulator."""
    from .simulator import StarkFiSimulator

    register(StarkFiSimulator())
