"""``kycbridge webhooks serve|verify``: the receiver on waitress, and offline verification.

The main CLI wires it in as a subcommand (``add_parser(subparsers)`` and
``run(args, out, err)``, as :mod:`kycbridge.scaffold` does); ``python -m
kycbridge.webhooks.cli`` runs it on its own. ``serve`` needs the ``webhooks`` extra
(``pip install 'kycbridge[webhooks]'``, for waitress).

Exit codes: 0 served / delivery valid; 2 usage error (also a header or file that cannot be
read); 3 bad signature; 6 malformed delivery; 7 no webhook handler for the provider;
1 something else.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..errors import KYCBridgeError
from ..provider import NAME_PATTERN
from ..redact import mask
from ..report import report_to_dict
from ..terminal import ERROR_LINE_LIMIT, json_line, safe_text
from ..transport import is_loopback_host
from .app import DEFAULT_MAX_BODY, WebhookApp
from .handler import WebhookEvent, WebhookMalformed, WebhookNotConfigured, WebhookRejected

if TYPE_CHECKING:
    from ..bridge import Bridge

__all__ = ["add_parser", "describe_event", "event_to_dict", "main", "run"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_REJECTED = 3
EXIT_MALFORMED = 6
EXIT_NO_HANDLER = 7
MAX_HEADER_LINE = 16 * 1024


def add_parser(subparsers: Any) -> None:
    """Add the ``webhooks`` subcommand (``serve``, ``verify``) to ``subparsers``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "webhooks", help="receive provider webhooks, or check a captured delivery"
    )
    sub = p.add_subparsers(dest="webhooks_command", metavar="ACTION")
    serve = sub.add_parser("serve", help="receive webhooks at /webhooks/<provider> (waitress)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    serve.add_argument("--port", type=int, default=8765, help="port (0: any free one)")
    serve.add_argument(
        "--allow-public",
        action="store_true",
        help="allow a non-loopback --host (put TLS in front of it)",
    )
    serve.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY, help="body cap, bytes")
    serve.add_argument("--json", action="store_true", help="one JSON line per status event")
    serve.add_argument(
        "--db",
        metavar="URL",
        help="record accepted events into the tracker at this database (sqlite:///..., "
        "postgresql://...; 'env': KYCBRIDGE_DB): tracked subjects only, once per event",
    )
    verify = sub.add_parser("verify", help="check a captured delivery offline")
    verify.add_argument("provider", help="provider name")
    verify.add_argument("--body", required=True, metavar="FILE", help="the raw body ('-': stdin)")
    verify.add_argument(
        "-H",
        "--header",
        dest="headers",
        action="append",
        default=[],
        metavar="'Name: value'",
        help="a header as received (repeatable)",
    )
    verify.add_argument(
        "--at", type=float, metavar="UNIX", help="verify as at this time (default: now)"
    )
    verify.add_argument("--json", action="store_true", help="print JSON lines")


def event_to_dict(event: WebhookEvent) -> dict[str, Any]:
    """The JSON form of an event: ``report`` is :func:`~kycbridge.report_to_dict`'s form."""
    return {
        "provider": event.provider,
        "event_id": event.event_id,
        "event_type": event.event_type,
        "occurred_at": None
        if event.occurred_at is None
        else event.occurred_at.isoformat().replace("+00:00", "Z"),
        "subject": event.subject,
        "report": None if event.report is None else report_to_dict(event.report),
    }


def describe_event(event: WebhookEvent) -> str:
    """One human line for an event, escaped, the subject masked."""
    subject = mask(event.subject) if event.subject else "-"
    line = f"{event.provider} {event.event_type} {subject}"
    if event.report is not None:
        report = event.report
        final = "final" if report.final else "not final"
        line += f": {report.state.value} (raw: {report.raw_status}), {final}"
        if report.anomaly:
            line += "  !! unexpected transition"
    else:
        line += ": no status (acknowledged)"
    return safe_text(line, ERROR_LINE_LIMIT)


def _bridge(bridge: Bridge | None) -> Bridge:
    if bridge is not None:
        return bridge
    from ..bridge import Bridge

    return Bridge()


def run(
    args: argparse.Namespace, out: IO[str], err: IO[str], *, bridge: Bridge | None = None
) -> int:
    """Run ``kycbridge webhooks ...``; return the exit code."""
    action = getattr(args, "webhooks_command", None)
    if action == "serve":
        return _serve(args, out, err, _bridge(bridge))
    if action == "verify":
        return _verify(args, out, err, _bridge(bridge))
    err.write("kycbridge webhooks: choose an action: serve or verify\n")
    return EXIT_USAGE


def _fail(err: IO[str], message: str, code: int) -> int:
    err.write(safe_text(f"kycbridge webhooks: {message}", ERROR_LINE_LIMIT) + "\n")
    return code


def _serve(args: argparse.Namespace, out: IO[str], err: IO[str], bridge: Bridge) -> int:
    if not is_loopback_host(args.host) and not args.allow_public:
        return _fail(
            err,
            f"refusing to listen on non-loopback host {args.host!r} without --allow-public "
            "(put a TLS-terminating proxy in front of a public receiver)",
            EXIT_USAGE,
        )
    if not 0 <= args.port <= 65535 or args.max_body < 1:
        return _fail(err, "--port must be 0-65535 and --max-body positive", EXIT_USAGE)
    try:
        waitress_server = importlib.import_module("waitress.server")
    except ImportError:
        return _fail(
            err,
            "waitress is not installed: pip install 'kycbridge[webhooks]'",
            EXIT_ERROR,
        )

    def on_event(event: WebhookEvent) -> None:
        if event.report is None:
            return
        line = json_line(event_to_dict(event)) if args.json else describe_event(event)
        out.write(line + "\n")
        out.flush()

    tracker: Any = None
    handle_event: Any = on_event
    seen: Any = None
    if getattr(args, "db", None):
        from ..tracking import Tracker
        from .tracking import TrackerSeenStore, TrackerSink

        try:
            tracker = Tracker(None if args.db == "env" else args.db, bridge=bridge)
        except KYCBridgeError as exc:
            return _fail(err, f"cannot open the tracker database: {exc}", EXIT_USAGE)
        handle_event = TrackerSink(tracker, then=on_event)
        seen = TrackerSeenStore(tracker)
    try:
        return _run_server(args, err, waitress_server, bridge, handle_event, seen)
    finally:
        if tracker is not None:
            tracker.close()


def _run_server(
    args: argparse.Namespace, err: IO[str], waitress_server: Any, bridge: Bridge,
    on_event: Any, seen: Any,
) -> int:
    app = WebhookApp(bridge, on_event=on_event, seen=seen, max_body=args.max_body)
    if not app.handlers:
        return _fail(err, "no installed provider has webhooks", EXIT_NO_HANDLER)
    server = waitress_server.create_server(
        app,
        host=args.host,
        port=args.port,
        max_request_body_size=args.max_body + 1,
        ident="kycbridge",
    )
    port = getattr(server, "effective_port", args.port)
    err.write(
        f"kycbridge webhooks: listening on http://{args.host}:{port}/webhooks/<provider> "
        f"for {', '.join(sorted(app.handlers))} (Ctrl-C stops)\n"
    )
    err.flush()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return EXIT_OK


def _read_headers(lines: Sequence[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or not name or len(line) > MAX_HEADER_LINE:
            raise ValueError("a header must be 'Name: value'")
        headers[name.lower()] = value.strip()
    return headers


def _verify(args: argparse.Namespace, out: IO[str], err: IO[str], bridge: Bridge) -> int:
    name = args.provider
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        return _fail(err, "invalid provider name", EXIT_USAGE)
    handler = {h.name: h for h in bridge.registry.webhooks()}.get(name)
    if handler is None:
        return _fail(err, f"provider {name!r} has no webhook handler installed", EXIT_NO_HANDLER)
    try:
        headers = _read_headers(args.headers)
        if args.body == "-":
            body = sys.stdin.buffer.read(DEFAULT_MAX_BODY * 4 + 1)
        else:
            with Path(args.body).open("rb") as file:
                body = file.read(DEFAULT_MAX_BODY * 4 + 1)
    except ValueError as exc:
        return _fail(err, str(exc), EXIT_USAGE)
    except OSError as exc:
        return _fail(err, f"cannot read the body: {exc.strerror}", EXIT_USAGE)
    if len(body) > DEFAULT_MAX_BODY * 4:
        return _fail(err, "the body is larger than 1 MiB", EXIT_MALFORMED)
    now = time.time() if args.at is None else args.at
    try:
        settings = bridge.settings(name)
        handler.verify(headers, body, settings, now)
        events = handler.parse(body, settings)
    except WebhookRejected as exc:
        if args.json:
            out.write(
                json_line({"valid": False, "error": "unauthorized", "reason": str(exc)}) + "\n"
            )
        return _fail(err, f"bad signature: {exc}", EXIT_REJECTED)
    except (WebhookNotConfigured, KYCBridgeError) as exc:
        return _fail(err, f"not configured: {exc}", EXIT_USAGE)
    except WebhookMalformed as exc:
        if args.json:
            out.write(json_line({"valid": False, "error": "malformed", "reason": str(exc)}) + "\n")
        return _fail(err, f"malformed delivery: {exc}", EXIT_MALFORMED)
    except Exception as exc:
        return _fail(err, f"malformed delivery ({type(exc).__name__})", EXIT_MALFORMED)
    for event in events:
        if args.json:
            out.write(json_line({"valid": True, **event_to_dict(event)}) + "\n")
        else:
            out.write(describe_event(event) + "\n")
    if not args.json:
        out.write(f"valid: {len(events)} event(s)\n")
    out.flush()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kycbridge.webhooks.cli ...`` (the same as ``kycbridge webhooks ...``)."""
    parser = argparse.ArgumentParser(prog="kycbridge")
    sub = parser.add_subparsers(dest="command")
    add_parser(sub)
    args = parser.parse_args(["webhooks", *(sys.argv[1:] if argv is None else argv)])
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    return run(args, sys.stdout, sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
