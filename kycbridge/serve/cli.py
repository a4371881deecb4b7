"""``kycbridge serve``: the API, the webhook receivers and the dashboard on waitress.

Wired into the main CLI as a command group (:func:`add_parser`, :func:`run` with the bridge
``kycbridge.cli.main`` makes). The token comes from env ``KYCBRIDGE_SERVE_TOKEN`` only (never
an argument, which ``ps`` would show) and is never printed. Without one the service listens
on loopback only. Needs the ``serve`` extra (``pip install 'kycbridge[serve]'``).

Exit codes: 0 stopped (Ctrl-C or SIGTERM); 1 the extra is missing; 2 usage error (a public
address without a token, a short token, a bad URL); 5 the database cannot be reached.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import threading
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

from ..errors import InvalidQuery
from ..terminal import ERROR_LINE_LIMIT, safe_text
from ..transport import is_loopback_host

if TYPE_CHECKING:
    from ..bridge import Bridge

__all__ = ["TOKEN_ENV", "add_parser", "run"]

TOKEN_ENV = "KYCBRIDGE_SERVE_TOKEN"  # noqa: S105 - a variable name, not a secret
"""The environment variable holding the service's token."""
EXIT_OK, EXIT_MISSING, EXIT_USAGE = 0, 1, 2


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError("expected 1 to 256")
    return value


def _duration(text: str) -> float:
    from ..tracking.cli import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(subparsers: Any) -> None:
    """Add ``serve`` to ``subparsers``."""
    from ..cli.options import port, seconds

    p: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="the JSON API, webhooks and dashboard over HTTP",
        description="Serve /api/v1, /webhooks/<provider>, the dashboard, /healthz and "
        f"/metrics. The token is read from env {TOKEN_ENV}.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    p.add_argument("--port", type=port, default=8780, help="port (default 8780; 0: any free)")
    p.add_argument(
        "--db", metavar="URL", help="tracking database (default: env KYCBRIDGE_DB, else SQLite)"
    )
    p.add_argument(
        "--limiter",
        metavar="URL",
        default=os.environ.get("KYCBRIDGE_LIMITER"),
        help="memory:// (default) or redis://HOST:PORT/DB?prefix=P (env KYCBRIDGE_LIMITER)",
    )
    p.add_argument(
        "--scheduler",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="poll tracked subjects when due, in this process (default: yes)",
    )
    p.add_argument("--workers", type=_positive_int, default=2, help="scheduler threads")
    p.add_argument("--threads", type=_positive_int, default=8, help="HTTP worker threads")
    p.add_argument(
        "--timeout",
        type=seconds,
        default=30.0,
        metavar="S",
        help="deadline of each provider call (default 30)",
    )
    p.add_argument(
        "--trusted-proxy",
        metavar="ADDR",
        help="the reverse proxy's address: trust its X-Forwarded-Proto/-Host/-For",
    )
    p.add_argument(
        "--secure-cookies",
        action="store_true",
        help="always mark the session cookie Secure (default: when the request is https)",
    )
    p.add_argument(
        "--stuck",
        type=_duration,
        default=2 * 86400.0,
        metavar="DURATION",
        help="the dashboard's default 'stuck' threshold (default 2d)",
    )


def _fail(err: IO[str], message: str, code: int) -> int:
    err.write(safe_text(f"kycbridge serve: {message}", ERROR_LINE_LIMIT) + "\n")
    return code


def run(args: argparse.Namespace, bridge: Bridge, out: IO[str], err: IO[str]) -> int:
    """Run ``kycbridge serve`` until Ctrl-C or SIGTERM; return the exit code."""
    token = os.environ.get(TOKEN_ENV) or None
    if token is None and not is_loopback_host(args.host):
        return _fail(
            err,
            f"refusing to listen on non-loopback host {args.host!r} without a token: set "
            f"{TOKEN_ENV} (and put a TLS-terminating proxy in front)",
            EXIT_USAGE,
        )
    try:
        waitress_server = importlib.import_module("waitress.server")
        from ..tracking import Tracker
        from ..tracking.limiters import RedisLimiterFactory, limiter_factory, settings_fingerprint
        from .app import MIN_TOKEN_LENGTH, ServeApp
    except ImportError as exc:
        return _fail(
            err, f"{exc.name} is not installed: pip install 'kycbridge[serve]'", EXIT_MISSING
        )
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        return _fail(err, f"{TOKEN_ENV} must be at least {MIN_TOKEN_LENGTH} characters", 2)
    if args.limiter:
        factory = limiter_factory(args.limiter)
        if isinstance(factory, RedisLimiterFactory):
            factory.identity = lambda name: settings_fingerprint(bridge.settings(name))
        bridge.limiter_factory = factory
    tracker = Tracker(args.db, bridge=bridge)
    try:
        app = ServeApp(
            tracker,
            bridge,
            token=token,
            secure_cookies=True if args.secure_cookies else None,
            stuck_after=args.stuck,
        )
        proxy: dict[str, Any] = {}
        if args.trusted_proxy:
            proxy = {
                "trusted_proxy": args.trusted_proxy,
                "trusted_proxy_headers": {
                    "x-forwarded-proto",
                    "x-forwarded-host",
                    "x-forwarded-for",
                },
                "clear_untrusted_proxy_headers": True,
            }
        server = waitress_server.create_server(
            app,
            host=args.host,
            port=args.port,
            threads=args.threads,
            max_request_body_size=max(app.max_body, app.webhooks.max_body) + 1,
            max_request_header_size=64 * 1024,
            ident="kycbridge",
            **proxy,
        )
    except (ValueError, OSError) as exc:
        tracker.close()
        raise InvalidQuery(f"cannot listen on {args.host}:{args.port}: {exc}") from None
    port = getattr(server, "effective_port", args.port)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # one line per queued request
    if args.scheduler:
        tracker.start(args.workers)
    access = "token required" if token else "no token: loopback only"
    err.write(
        safe_text(
            f"kycbridge serve: http://{args.host}:{port}/ ({access}); database "
            f"{tracker.store.url}; scheduler {'on' if args.scheduler else 'off'} (Ctrl-C stops)",
            ERROR_LINE_LIMIT,
        )
        + "\n"
    )
    err.flush()
    previous = None
    if threading.current_thread() is threading.main_thread():

        def stop(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, stop)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        server.close()
        tracker.close()
    err.write("kycbridge serve: stopped\n")
    return EXIT_OK
