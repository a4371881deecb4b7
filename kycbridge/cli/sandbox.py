"""``kycbridge sandbox``: serve the installed simulators on loopback until Ctrl-C."""

from __future__ import annotations

import argparse
from typing import IO, Any

from ..bridge import Bridge
from ..errors import InvalidQuery, PluginError
from ..exitcodes import ExitCode
from .options import port
from .output import say

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Add ``sandbox`` to ``subparsers``."""
    p = subparsers.add_parser("sandbox", help="serve the installed simulators on loopback")
    p.add_argument("--port", type=port, default=0, help="port (default: any free one)")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    p.add_argument(
        "--webhook-url",
        metavar="URL",
        help="push each simulator's signed webhook deliveries to URL/webhooks/<provider>",
    )


def run(args: argparse.Namespace, bridge: Bridge, out: IO[str], err: IO[str]) -> int:
    """``kycbridge sandbox``: serve until interrupted."""
    from ..sandbox import Sandbox  # the HTTP server: imported only for this command
    from ..transport import check_base_url, is_loopback_host

    if not is_loopback_host(args.host):
        raise InvalidQuery("the sandbox only binds loopback addresses")
    webhook_url = check_base_url(args.webhook_url) if args.webhook_url else None
    sandbox = Sandbox.from_installed(bridge.registry, host=args.host, port=args.port)
    if not sandbox.simulators:
        raise PluginError("no simulators installed (install a provider plugin)")
    try:
        sandbox.start()
    except (OSError, OverflowError) as exc:
        why = getattr(exc, "strerror", None) or type(exc).__name__
        raise InvalidQuery(f"cannot listen on {args.host} port {args.port}: {why}") from None
    say(f"kycbridge sandbox on {sandbox.base_url} (Ctrl-C stops it)", out)
    for name, url in sandbox.base_urls.items():
        say(f"  {name:<12} --base-url {url}", out)
    out.flush()
    if webhook_url:
        _push_in_background(webhook_url, sandbox, err)
    try:
        sandbox.serve_forever()
    except KeyboardInterrupt:
        pass
    return ExitCode.OK


def _push_in_background(url: str, sandbox: Any, err: IO[str]) -> None:
    """Push the simulators' webhook deliveries to ``url`` from a daemon thread."""
    import threading

    from ..webhooks.push import push_simulators

    def report(provider: str, result: Any) -> None:
        say(f"webhook {provider} {result.label}: {result.status} ({result.outcome})", err)

    def push() -> None:
        push_simulators(url, sandbox.simulators.values(), on_result=report)

    threading.Thread(target=push, name="kycbridge-webhook-push", daemon=True).start()
