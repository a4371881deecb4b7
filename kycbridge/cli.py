"""The ``kycbridge`` command line.

Exit codes (also in ``docs/cli.md``):

==  =============================================================================
0   report printed (or, for ``watch``, a target state reached)
2   usage error or invalid query: nothing was sent
3   authentication rejected
4   subject not found
5   provider unavailable or rate limited, after retries
6   malformed provider response
7   provider not installed, or its plugin is broken
8   ``watch`` timed out before a target state
9   bulk ``status --input``: some lines failed (their errors are in the output)
10  request rejected by the provider for another reason (other 4xx)
==  =============================================================================
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import IO, Any

from . import scaffold
from ._version import __version__
from .bridge import Bridge
from .errors import InvalidQuery, KYCBridgeError
from .redact import mask
from .report import StatusReport, report_to_dict
from .transport import Transport

__all__ = ["EXIT_OK", "EXIT_TIMEOUT", "EXIT_USAGE", "main"]

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_TIMEOUT = 8
EXIT_PARTIAL = 9


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def _add_call_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("provider", help="provider name (see `kycbridge providers`)")
    p.add_argument(
        "-p",
        "--param",
        dest="params",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="a query field; a secret field may come from env KYCBRIDGE_<PROVIDER>_<FIELD>",
    )
    p.add_argument(
        "-s",
        "--setting",
        dest="settings",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="a provider setting (prefer env KYCBRIDGE_<PROVIDER>_<SETTING> for secrets)",
    )
    p.add_argument("--base-url", help="send requests here instead (e.g. the sandbox)")
    p.add_argument(
        "--request-timeout",
        dest="request_timeout",
        type=float,
        metavar="S",
        help="each request's connect and read timeout (per socket read), in seconds",
    )
    p.add_argument("--json", action="store_true", help="print JSON on stdout")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (documented in ``docs/cli.md``)."""
    parser = argparse.ArgumentParser(
        prog="kycbridge", description="Where is this user's KYC, and is it final?"
    )
    parser.add_argument("--version", action="version", version=f"kycbridge {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("providers", help="list installed providers and broken plugins")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")

    p = sub.add_parser("status", help="fetch a subject's status once")
    _add_call_options(p)
    p.add_argument(
        "--timeout",
        dest="timeout",
        type=float,
        metavar="S",
        help="overall deadline of the call, retries and waits included (exit 5 past it); "
        "with --input, of each line's call",
    )
    p.add_argument("--input", metavar="FILE", help="JSON lines of queries ('-': stdin)")
    p.add_argument("--workers", type=int, default=8, help="concurrent workers with --input")

    p = sub.add_parser("watch", help="poll a subject until a final (or chosen) state")
    _add_call_options(p)
    p.add_argument(
        "--until",
        metavar="STATE[,STATE...]",
        help="stop at these states (default: the final ones: approved, rejected, ...)",
    )
    p.add_argument("--interval", type=float, metavar="S", help="first wait between polls")
    p.add_argument("--max-interval", type=float, metavar="S", help="longest wait between polls")
    p.add_argument(
        "--timeout",
        dest="watch_timeout",
        type=float,
        metavar="S",
        help="overall deadline: give up after S seconds, a request in flight included "
        "(exit 8); default: no limit",
    )

    p = sub.add_parser("demo", help="watch the sandbox's demo scenarios to their outcomes")
    p.add_argument("--json", action="store_true", help="print JSON lines on stdout")

    p = sub.add_parser("sandbox", help="serve the installed simulators on loopback")
    p.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    scaffold.add_parser(sub)
    return parser


# -- output -------------------------------------------------------------------------------
def _json_line(data: Any, out: IO[str]) -> None:
    out.write(json.dumps(data, ensure_ascii=False, sort_keys=False) + "\n")
    out.flush()


def describe(report: StatusReport) -> str:
    """One human line for a report."""
    final = "final" if report.final else "not final"
    raw = f" (raw: {report.raw_status})" if report.raw_status is not None else ""
    flags = ""
    if report.blocklisted:
        flags += "  !! BLOCKLISTED"
    if report.anomaly:
        flags += "  !! unexpected transition"
    subject = mask(report.subject) if report.subject else "-"
    return f"{report.provider} {subject}: {report.state.value}{raw}, {final}{flags}"


def _fail(exc: KYCBridgeError, args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    err.write(f"kycbridge: {exc}\n")
    if getattr(args, "json", False):
        _json_line({"error": exc.to_dict()}, out)
    return exc.exit_code


# -- commands -----------------------------------------------------------------------------
def _make_bridge(args: argparse.Namespace, bridge: Bridge | None) -> Bridge:
    # --timeout: the overall deadline of a call (status; watch reads its own);
    # --request-timeout: each request's connect and read timeout.
    request_timeout = getattr(args, "request_timeout", None)
    timeout = getattr(args, "timeout", None)
    if request_timeout is not None and not request_timeout > 0:
        raise InvalidQuery("--request-timeout must be a positive number of seconds")
    if timeout is not None and not timeout > 0:
        raise InvalidQuery("--timeout must be a positive number of seconds")
    if bridge is None:
        transport = None
        if request_timeout:
            transport = Transport(connect_timeout=request_timeout, read_timeout=request_timeout)
        return Bridge(transport=transport, timeout=timeout)
    if request_timeout:  # the injected bridge's pool is kept; only the timeouts change
        bridge.transport = bridge.transport.with_timeout(request_timeout)
    if timeout:
        bridge.timeout = timeout
    return bridge


def _settings_overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = dict(args.settings)
    if args.base_url:
        overrides["base_url"] = args.base_url
    return overrides


def cmd_providers(args: argparse.Namespace, bridge: Bridge, out: IO[str], err: IO[str]) -> int:
    """``kycbridge providers``."""
    registry = bridge.registry
    infos = registry.providers()
    conflicts = registry.conflicts()
    if args.json:
        _json_line(
            {
                "providers": [
                    {"name": i.name, "distribution": i.distribution, "version": i.version}
                    for i in infos
                ],
                "broken": [
                    {
                        "name": b.name,
                        "distribution": b.distribution,
                        "version": b.version,
                        "error": b.error,
                    }
                    for b in registry.broken
                ],
                "conflicts": conflicts,
            },
            out,
        )
        return EXIT_OK
    if not infos:
        out.write("No providers installed. Install one, e.g. `pip install kycbridge-starkfi`.\n")
    for info in infos:
        out.write(
            f"{info.name:<16} {info.distribution or '-'} {info.version or ''}".rstrip() + "\n"
        )
    for name, dists in conflicts.items():
        out.write(f"{name:<16} CONFLICT: registered by {', '.join(map(str, dists))}\n")
    for broken in registry.broken:
        out.write(f"BROKEN {broken.describe()}\n")
    return EXIT_OK


def cmd_status(args: argparse.Namespace, bridge: Bridge, out: IO[str], err: IO[str]) -> int:
    """``kycbridge status`` (one subject; ``--input`` hands over to bulk)."""
    if args.input is not None:
        from .bulk import run_bulk_cli

        return run_bulk_cli(args, bridge, out, err)
    query = bridge.query(args.provider, **dict(args.params))
    settings = bridge.settings(args.provider, **_settings_overrides(args))
    report = bridge.fetch(args.provider, query, settings=settings)
    if args.json:
        _json_line(report_to_dict(report), out)
    else:
        out.write(describe(report) + "\n")
    return EXIT_OK


def cmd_watch(args: argparse.Namespace, bridge: Bridge, out: IO[str], err: IO[str]) -> int:
    """``kycbridge watch``: see :func:`kycbridge.watch.run_watch_cli`."""
    from .watch import run_watch_cli

    return run_watch_cli(args, bridge, out, err)


def cmd_demo(args: argparse.Namespace, bridge: Bridge, out: IO[str], err: IO[str]) -> int:
    """``kycbridge demo``: see :func:`kycbridge.demo.run_demo_cli`."""
    from .demo import run_demo_cli

    return run_demo_cli(args, bridge, out, err)


def cmd_sandbox(args: argparse.Namespace, bridge: Bridge, out: IO[str], err: IO[str]) -> int:
    """``kycbridge sandbox``: serve until interrupted."""
    from .sandbox import Sandbox
    from .transport import is_loopback_host

    if not is_loopback_host(args.host):
        raise InvalidQuery("the sandbox only binds loopback addresses")
    sandbox = Sandbox.from_installed(bridge.registry, host=args.host, port=args.port)
    if not sandbox.simulators:
        err.write("kycbridge: no simulators installed (install a provider plugin)\n")
        return 7
    sandbox.start()
    out.write(f"kycbridge sandbox on {sandbox.base_url} (Ctrl-C stops it)\n")
    for name, url in sandbox.base_urls.items():
        out.write(f"  {name:<12} --base-url {url}\n")
    out.flush()
    try:
        sandbox.serve_forever()
    except KeyboardInterrupt:
        pass
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace, Bridge, IO[str], IO[str]], int]] = {
    "providers": cmd_providers,
    "status": cmd_status,
    "watch": cmd_watch,
    "demo": cmd_demo,
    "sandbox": cmd_sandbox,
}


def main(
    argv: Sequence[str] | None = None,
    *,
    bridge: Bridge | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """Run the CLI; return the exit code. ``bridge`` lets tests and apps inject one."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(out)
        return EXIT_USAGE
    if args.command == "new-provider":
        return scaffold.run(args, out, err)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=err)
    try:
        made = _make_bridge(args, bridge)
        return COMMANDS[args.command](args, made, out, err)
    except KYCBridgeError as exc:
        return _fail(exc, args, out, err)
    except BrokenPipeError:
        return EXIT_OK
