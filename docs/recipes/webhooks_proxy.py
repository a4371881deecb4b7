"""Receive webhooks behind a reverse proxy: kycbridge's WebhookApp mounted under ``/kyc``.

The proxy (nginx, see the recipe) terminates TLS and forwards ``/kyc/webhooks/<provider>``
to this process on loopback; everything else goes to the app's own WSGI application.
Run: ``KYCBRIDGE_TRANSAK_PARTNER_ACCESS_TOKEN=... python webhooks_proxy.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import kycbridge
from kycbridge.redact import mask
from kycbridge.webhooks import WebhookApp, WebhookEvent

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

PREFIX = "/kyc"
"""Where the receiver is mounted: deliveries go to ``{PREFIX}/webhooks/<provider>``."""

log = logging.getLogger("webhooks")


def mount(prefix: str, inner: WSGIApp, outer: WSGIApp) -> WSGIApp:
    """A WSGI app sending paths under ``prefix`` to ``inner``, everything else to ``outer``.

    ``SCRIPT_NAME`` and ``PATH_INFO`` are moved, as WSGI mounting requires.
    """

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or ""
        if path.startswith(prefix + "/"):
            environ = dict(environ)
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
            environ["PATH_INFO"] = path[len(prefix) :]
            return inner(environ, start_response)
        return outer(environ, start_response)

    return app


def site(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Stands for your own application."""
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
    return [b"not found"]


def save(event: WebhookEvent) -> None:
    """Called once per new verified event (a retry of a failed call delivers it again)."""
    if event.report is not None:  # the subject is personal data: masked in logs
        log.info("%s %s: %s", event.provider, mask(event.subject), event.report.state.value)


def create_app(
    bridge: kycbridge.Bridge | None = None,
    on_event: Callable[[WebhookEvent], None] = save,
) -> WSGIApp:
    """Your site, with the webhook receiver under :data:`PREFIX`."""
    hooks = WebhookApp(bridge if bridge is not None else kycbridge.Bridge(), on_event=on_event)
    return mount(PREFIX, hooks, site)


if __name__ == "__main__":
    import waitress  # pip install 'kycbridge[webhooks]'

    logging.basicConfig(level=logging.INFO)
    # Loopback only: the proxy is the one public door.
    waitress.serve(create_app(), host="127.0.0.1", port=8000, trusted_proxy="127.0.0.1")
