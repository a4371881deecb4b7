"""Webhooks: verified push updates from providers, normalized like polled ones.

- :class:`WebhookHandler` (a provider's verifier and parser, registered through the
  ``register_webhooks`` hook), the :class:`WebhookEvent` it yields and the errors it raises;
- :class:`WebhookApp`, a plain WSGI application receiving ``POST /webhooks/<provider>``;
- :class:`~kycbridge.webhooks.push.Pusher`, which sends a simulator's signed deliveries to a
  receiver (the sandbox side);
- ``kycbridge webhooks serve|verify`` in :mod:`kycbridge.webhooks.cli`.

See ``docs/webhooks.md``. Nothing here imports an optional dependency.
"""

from __future__ import annotations

from .app import (
    DEFAULT_MAX_BODY,
    PATH_PREFIX,
    DeliveryRefused,
    MemorySeenStore,
    SeenStore,
    WebhookApp,
)
from .handler import (
    WebhookError,
    WebhookEvent,
    WebhookHandler,
    WebhookMalformed,
    WebhookNotConfigured,
    WebhookRejected,
    check_timestamp,
    derived_event_id,
    hmac_hex,
    iso_time,
    signature_matches,
    strict_json,
    timestamp_from,
)

__all__ = [
    "DEFAULT_MAX_BODY",
    "PATH_PREFIX",
    "DeliveryRefused",
    "MemorySeenStore",
    "SeenStore",
    "WebhookApp",
    "WebhookError",
    "WebhookEvent",
    "WebhookHandler",
    "WebhookMalformed",
    "WebhookNotConfigured",
    "WebhookRejected",
    "check_timestamp",
    "derived_event_id",
    "hmac_hex",
    "iso_time",
    "signature_matches",
    "strict_json",
    "timestamp_from",
]
