"""The ``kycbridge`` command line.

Exit codes (also in ``docs/cli.md``):

==  =============================================================================
0   report printed (or, for ``watch``, a target state reached)
1   internal error: a bug, please report it (``demo``: a scenario missed its outcome)
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
import contextlib
import logging
import math
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import IO, Any, NoReturn

from . import scaffold
from ._version import __version__
from .bridge import Bridge
from .errors import InvalidQuery, KYCBridgeError, PluginError
from .redact import mask
from .report import StatusReport, report_to_dict
from .terminal import ERROR_LINE_LIMIT, json_line, safe_text
from .transport import Transport

__all__ = ["EXIT_INTERNAL", "EXIT_OK", "EXIT_TIMEOUT", "EXIT_USAGE", "main"]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 8
EXIT_PARTIAL = 9
EXIT_INTERRUPTED = 130

RAW_STATUS_LIMIT = 200
"""Longest raw status shown in a human report line, in characters."""
MAX_SECONDS = 86400.0
"""Longest ``--interval`` / ``--max-interval`` accepted: a day."""


class _UsageError(Exception):
    """A command line argparse rejected."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog = prog
        self.message = message


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors come back to :func:`main` instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(self.prog, message)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is not in 0-65535")
    return port


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= MAX_SECONDS):
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a positive number of seconds, at most {MAX_SECONDS:g}"
        )
    return value


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
    parser = _Parser(prog="kycbridge", description="Where is this user's KYC, and is it final?")
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
    p.add_argument("--interval", type=_seconds, metavar="S", help="first wait between polls")
    p.add_argument("--max-interval", type=_seconds, metavar="S", help="longest wait between polls")
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
    p.add_argument("--port", type=_port, default=0, help="port (default: any free one)")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    scaffold.add_parser(sub)
    for command in sub.choices.values():  # -v also after the command; the counts add up
        command.add_argument(
            "-v",
            "--verbose",
            dest="verbose_sub",
            action="count",
            default=0,
            help="log more (-vv: debug)",
        )
    return parser


# -- output -------------------------------------------------------------------------------
def _json_line(data: Any, out: IO[str]) -> None:
    out.write(json_line(data) + "\n")
    out.flush()


def _say(line: str, out: IO[str], *, limit: int | None = None) -> None:
    """Write one human line, escaped (see :func:`kycbridge.terminal.safe_text`)."""
    out.write(safe_text(line, limit) + "\n")


def describe(report: StatusReport) -> str:
    """One human line for a report, safe on a terminal (provider text is escaped)."""
    final = "final" if report.final else "not final"
    raw = ""
    if report.raw_status is not None:
        raw = f" (raw: {safe_text(str(report.raw_status), RAW_STATUS_LIMIT)})"
    flags = ""
    if report.blocklisted:
        flags += "  !! BLOCKLISTED"
    if report.anomaly:
        flags += "  !! unexpected transition"
    subject = mask(report.subject) if report.subject else "-"
    return safe_text(f"{report.provider} {subject}: {report.state.value}{raw}, {final}{flags}")


def _fail(exc: KYCBridgeError, args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    _say(f"kycbridge: {exc}", err, limit=ERROR_LINE_LIMIT)
    if getattr(args, "json", False):
        _json_line({"error": exc.to_dict()}, out)
    return exc.exit_code


def _internal_error(
    exc: BaseException, args: argparse.Namespace, verbose: int, out: IO[str], err: IO[str]
) -> int:
    """An exception kycbridge did not mean to raise: one line (its type only), exit 1."""
    name = type(exc).__name__
    if verbose >= 2:
        for text in traceback.format_exception(type(exc), exc, exc.__traceback__):
            for line in text.splitlines():
                _say(line, err, limit=ERROR_LINE_LIMIT)
    _say(f"kycbridge: internal error: {name} (a bug: please report it; -vv shows where)", err)
    if getattr(args, "json", False):
        message = f"internal error: {name}"
        _json_line({"error": {"type": "internal", "message": message}}, out)
    return EXIT_INTERNAL


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
    if not infos and conflicts:
        _say("No usable providers: every installed one is withheld for a name conflict.", out)
    elif not infos and registry.broken:
        _say("No usable providers: the installed plugins are broken (below).", out)
    elif not infos:
        _say("No providers installed. Install one, e.g. `pip install kycbridge-starkfi`.", out)
    for info in infos:
        _say(f"{info.name:<16} {info.distribution or '-'} {info.version or ''}".rstrip(), out)
    for name, dists in conflicts.items():
        _say(f"{name:<16} CONFLICT: registered by {', '.join(map(str, dists))}", out)
    for broken in registry.broken:
        _say(f"BROKEN {broken.describe()}", out, limit=ERROR_LINE_LIMIT)
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
        _say(describe(report), out)
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
        raise PluginError("no simulators installed (install a provider plugin)")
    try:
        sandbox.start()
    except (OSError, OverflowError) as exc:
        why = getattr(exc, "strerror", None) or type(exc).__name__
        raise InvalidQuery(f"cannot listen on {args.host} port {args.port}: {why}") from None
    _say(f"kycbridge sandbox on {sandbox.base_url} (Ctrl-C stops it)", out)
    for name, url in sandbox.base_urls.items():
        _say(f"  {name:<12} --base-url {url}", out)
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


class _SafeFormatter(logging.Formatter):
    """Log lines with provider text escaped; a traceback keeps its lines, each escaped."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return safe_text(super().formatMessage(record), ERROR_LINE_LIMIT)

    def formatException(self, ei: Any) -> str:
        return "\n".join(safe_text(line) for line in super().formatException(ei).splitlines())


def _setup_logging(verbose: int, err: IO[str]) -> None:
    root = logging.getLogger()
    if not root.handlers:  # an app (or a test runner) that configured logging keeps its own
        handler = logging.StreamHandler(err)
        handler.setFormatter(_SafeFormatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel([logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)])


def _parse(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None, out: IO[str], err: IO[str]
) -> argparse.Namespace | int:
    """The parsed arguments, or the exit code when parsing ended (usage error, --help)."""
    try:
        # --help and --version print through sys.stdout: send them to ``out``
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            return parser.parse_args(argv)
    except _UsageError as exc:
        _say(f"kycbridge: {exc.message} (see `{exc.prog} --help`)", err, limit=ERROR_LINE_LIMIT)
        words = list(sys.argv[1:] if argv is None else argv)
        options = words[: words.index("--")] if "--" in words else words
        if "--json" in options:
            _json_line({"error": {"type": "usage", "message": exc.message}}, out)
        return EXIT_USAGE
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE


def _robust_streams() -> None:
    """Never fail to print on a stdout that cannot encode a character: escape it instead."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(Exception):
                reconfigure(errors="backslashreplace")


def main(
    argv: Sequence[str] | None = None,
    *,
    bridge: Bridge | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """Run the CLI; return the exit code. ``bridge`` lets tests and apps inject one."""
    if stdout is None and stderr is None:
        _robust_streams()
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = build_parser()
    parsed = _parse(parser, argv, out, err)
    if isinstance(parsed, int):
        return parsed
    args = parsed
    if args.command is None:
        parser.print_help(out)
        return EXIT_USAGE
    verbose = args.verbose + getattr(args, "verbose_sub", 0)
    try:
        if args.command == "new-provider":
            return scaffold.run(args, out, err)
        _setup_logging(verbose, err)
        made = _make_bridge(args, bridge)
        return COMMANDS[args.command](args, made, out, err)
    except KYCBridgeError as exc:
        return _fail(exc, args, out, err)
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        _say("kycbridge: interrupted", err)
        return EXIT_INTERRUPTED
    except Exception as exc:
        return _internal_error(exc, args, verbose, out, err)
