"""``kycbridge serve``: one HTTP service for apps in any language and for the people watching.

:class:`ServeApp` is a WSGI application (mount it in your own server, or run
``kycbridge serve`` on waitress): a JSON API under ``/api/v1`` (live status, tracked
subjects, forget, history, providers; described by OpenAPI 3.1 at ``/api/v1/openapi.json``),
webhook receivers at ``/webhooks/<provider>`` feeding the tracker, an HTML dashboard at
``/``, ``/healthz`` and ``/metrics`` (Prometheus). Needs the ``serve`` extra
(``pip install 'kycbridge[serve]'``: waitress, Jinja2, prometheus-client). See
``docs/serve.md``.
"""

from __future__ import annotations

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
