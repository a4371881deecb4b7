"""kycbridge's test kit for provider plugin authors and for apps using kycbridge.

Three parts, each importable on its own:

:mod:`kycbridge.testing.pytest_plugin`
    pytest fixtures ``kycbridge_sandbox`` and ``kycbridge_bridge``, loaded in every pytest
    session through the ``pytest11`` entry point (it imports only pytest and the core).
:class:`kycbridge.testing.ProviderContract`
    a base test class a provider plugin subclasses to run the contract every provider must
    honour (needs Hypothesis: install ``kycbridge[testing]``).
:mod:`kycbridge.testing.strategies`
    Hypothesis strategies for states, raw words, JSON payloads, reports and queries.
:class:`kycbridge.testing.CredentialContract`
    checks of a provider that obtains short-lived tokens itself
    (:mod:`kycbridge.testing.credentials`).
:class:`kycbridge.testing.WebhookContract`
    a base test class a provider with webhooks subclasses to run the webhook contract
    (:mod:`kycbridge.testing.webhooks`; needs Hypothesis).
:class:`kycbridge.testing.FakeClock`
    a clock moved only by its ``sleep``, for signatures and waits without real time.

Importing this package imports neither Hypothesis nor the contracts: ``ProviderContract``,
``WebhookContract`` and ``strategies`` are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kycbridge.testing.clock import FakeClock
from kycbridge.transport import Transport

if TYPE_CHECKING:
    from . import strategies
    from .contract import ProviderContract
    from .credentials import CredentialContract
    from .webhooks import WebhookContract

__all__ = [
    "FAST_TRANSPORT",
    "CredentialContract",
    "FakeClock",
    "ProviderContract",
    "WebhookContract",
    "fast_transport",
    "strategies",
]

FAST_TRANSPORT: dict[str, Any] = {
    "retries": 1,
    "backoff_factor": 0.01,
    "max_retry_after": 0.05,
    "read_timeout": 3.0,
}
""":class:`~kycbridge.Transport` options for tests against the sandbox: one quick retry,
``Retry-After`` capped at 50 ms, a 3 s read timeout."""


def fast_transport(**overrides: Any) -> Transport:
    """A new :class:`~kycbridge.Transport` with :data:`FAST_TRANSPORT`, updated by ``overrides``."""
    return Transport(**{**FAST_TRANSPORT, **overrides})


def __getattr__(name: str) -> Any:
    """Load ``ProviderContract`` and ``strategies`` (which import Hypothesis) on first use."""
    if name == "ProviderContract":
        return importlib.import_module(".contract", __name__).ProviderContract
    if name == "CredentialContract":
        return importlib.import_module(".credentials", __name__).CredentialContract
    if name == "WebhookContract":
        return importlib.import_module(".webhooks", __name__).WebhookContract
    if name == "strategies":
        return importlib.import_module(".strategies", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
