"""``kycbridge serve``: one HTTP service for apps in any language and for the people watching.

:class:`ServeApp` is a WSGI application (mount it in your own server, or run
``kycbridge serve`` on waitress): a JSON API under ``/api/v1`` (live status, tracked
subjects, forget, history, providers; described by OpenAPI 3.1 at ``/api/v1/openapi.json``),
webhook receivers at ``/webhooks/<provider>`` feeding the tracker, an HTML dashboard at
``/``, ``/healthz`` and ``/metrics`` (Prometheus). Needs the ``serve`` extra
(``pip install 'kycbridge[serve]'``: waitress, Jinja2, prometheus-client). See
``docs/serve.md``.

The names below are loaded on first use, so ``kycbridge.serve.cli`` (and the ``kycbridge``
command) import without the extra installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import DEFAULT_MAX_BODY_API, MAX_PAGE, MIN_TOKEN_LENGTH, ServeApp
    from .errors import ERROR_STATUSES, ApiError, http_status
    from .metrics import Monitor
    from .openapi import OPENAPI

__all__ = [
    "DEFAULT_MAX_BODY_API",
    "ERROR_STATUSES",
    "MAX_PAGE",
    "MIN_TOKEN_LENGTH",
    "OPENAPI",
    "ApiError",
    "Monitor",
    "ServeApp",
    "http_status",
]

_HOMES = {
    "DEFAULT_MAX_BODY_API": ".app",
    "MAX_PAGE": ".app",
    "MIN_TOKEN_LENGTH": ".app",
    "ServeApp": ".app",
    "ERROR_STATUSES": ".errors",
    "ApiError": ".errors",
    "http_status": ".errors",
    "Monitor": ".metrics",
    "OPENAPI": ".openapi",
}


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home, __name__), name)
