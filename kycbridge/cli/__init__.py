"""The ``kycbridge`` command line: :func:`main` (the console script) and :func:`build_parser`.

Layout: this module parses the command line, sets up logging, makes the
:class:`~kycbridge.Bridge` and turns every failure into one line and an exit code
(:class:`~kycbridge.exitcodes.ExitCode`; the table is in ``docs/cli.md``). Each command lives
in its own module of this package; the library modules (:mod:`kycbridge.watch`,
:mod:`kycbridge.bulk`, :mod:`kycbridge.demo`, :mod:`kycbridge.scaffold`, ...) never import
the CLI.

=======================  ====================================================
``cli/providers.py``     ``kycbridge providers``
``cli/status.py``        ``kycbridge status`` (one subject, or ``--input`` bulk)
``cli/watch.py``         ``kycbridge watch``
``cli/demo.py``          ``kycbridge demo``
``cli/sandbox.py``       ``kycbridge sandbox``
``cli/scaffold.py``      ``kycbridge new-provider``
``tracking/cli.py``      ``kycbridge track ...`` (:mod:`kycbridge.tracking`)
``webhooks/cli.py``      ``kycbridge webhooks serve|verify`` (:mod:`kycbridge.webhooks`)
``serve/cli.py``         ``kycbridge serve`` (:mod:`kycbridge.serve`)
``cli/options.py``       the parser class, argument types, the call options
``cli/output.py``        report lines (``describe``), JSON lines, the live line
=======================  ====================================================

**Adding a command group.** A module with two functions:

- ``add_parser(subparsers)``: add one or more subcommands to the argparse subparsers
  action (``subparsers.add_parser("name", ...)``);
- ``run(args, out, err) -> int``: run whichever of them was chosen (``args.command`` names
  it) and return an exit code, or ``run(args, bridge, out, err) -> int`` for a group that
  calls providers through the bridge :func:`main` makes (or was given).

then one line in :data:`COMMAND_GROUPS`: ``CommandGroup(module.add_parser, run=module.run)``
or ``CommandGroup(module.add_parser, run_with_bridge=module.run)``. A core command goes in
this package (``cli/NAME.py``); a subpackage's commands go in its own ``cli`` module (e.g.
``kycbridge/tracking/cli.py``). Those modules may use the helpers of :mod:`.options` and
:mod:`.output`; no other module of ``kycbridge`` may import ``kycbridge.cli`` (a test checks
it). The subcommands a group
adds are found by name; ``-v`` is added to each of them; a
:class:`~kycbridge.errors.KYCBridgeError` a ``run`` raises becomes one line on stderr (and
``{"error": ...}`` with ``--json``) and its ``exit_code``; Ctrl-C is exit 130.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import IO, Any

import attrs

from .._version import __version__
from ..bridge import Bridge
from ..errors import KYCBridgeError
from ..exitcodes import MEANINGS, ExitCode
from ..serve import cli as serve_cli
from ..terminal import ERROR_LINE_LIMIT, safe_text
from ..tracking import cli as tracking_cli
from ..webhooks import cli as webhooks_cli
from . import demo, providers, sandbox, scaffold, status, watch
from .options import Parser, UsageError, make_bridge
from .output import describe, interrupted, say, write_json

__all__ = [
    "COMMAND_GROUPS",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_USAGE",
    "MEANINGS",
    "CommandGroup",
    "ExitCode",
    "build_parser",
    "describe",
    "main",
]

# Names kept for existing imports: the codes themselves live in kycbridge.exitcodes.
EXIT_OK = ExitCode.OK
EXIT_INTERNAL = ExitCode.INTERNAL
EXIT_USAGE = ExitCode.USAGE
EXIT_PARTIAL = ExitCode.PARTIAL
EXIT_INTERRUPTED = ExitCode.INTERRUPTED

PlainRun = Callable[[argparse.Namespace, IO[str], IO[str]], int]
"""``run(args, out, err) -> exit code``: a command that needs no bridge."""
BridgeRun = Callable[[argparse.Namespace, Bridge, IO[str], IO[str]], int]
"""``run(args, bridge, out, err) -> exit code``: a command that calls providers."""


@attrs.frozen
class CommandGroup:
    """One group of subcommands: how to add them to the parser, and how to run them.

    Exactly one of ``run`` (no bridge: ``run(args, out, err)``) and ``run_with_bridge``
    (``run(args, bridge, out, err)``) is given.
    """

    add_parser: Callable[[Any], None]
    """Adds the group's subcommands to an argparse subparsers action."""
    run: PlainRun | None = None
    """Runs the chosen subcommand without a bridge."""
    run_with_bridge: BridgeRun | None = None
    """Runs the chosen subcommand with the bridge :func:`main` made or was given."""

    def __attrs_post_init__(self) -> None:
        if (self.run is None) == (self.run_with_bridge is None):
            raise ValueError("give exactly one of run and run_with_bridge")


def _webhooks_run(args: argparse.Namespace, bridge: Bridge, out: IO[str], err: IO[str]) -> int:
    """``kycbridge webhooks ...`` with the bridge :func:`main` made or was given."""
    return webhooks_cli.run(args, out, err, bridge=bridge)


COMMAND_GROUPS: list[CommandGroup] = [
    CommandGroup(providers.add_parser, run_with_bridge=providers.run),
    CommandGroup(status.add_parser, run_with_bridge=status.run),
    CommandGroup(watch.add_parser, run_with_bridge=watch.run),
    CommandGroup(demo.add_parser, run_with_bridge=demo.run),
    CommandGroup(sandbox.add_parser, run_with_bridge=sandbox.run),
    CommandGroup(scaffold.add_parser, run=scaffold.run),
    CommandGroup(tracking_cli.add_parser, run=tracking_cli.run),
    CommandGroup(webhooks_cli.add_parser, run_with_bridge=_webhooks_run),
    CommandGroup(serve_cli.add_parser, run_with_bridge=serve_cli.run),
]
"""Every command group, in ``--help`` order. Add a new group here (see the module docs)."""


def _commands() -> tuple[argparse.ArgumentParser, dict[str, CommandGroup]]:
    """The parser, and which group runs each subcommand (from :data:`COMMAND_GROUPS`)."""
    parser = Parser(prog="kycbridge", description="Where is this user's KYC, and is it final?")
    parser.add_argument("--version", action="version", version=f"kycbridge {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    owners: dict[str, CommandGroup] = {}
    for group in COMMAND_GROUPS:
        before = set(sub.choices)
        group.add_parser(sub)
        for name in sub.choices.keys() - before:
            owners[name] = group
    for command in sub.choices.values():  # -v also after the command; the counts add up
        command.add_argument(
            "-v",
            "--verbose",
            dest="verbose_sub",
            action="count",
            default=0,
            help="log more (-vv: debug)",
        )
    return parser, owners


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (documented in ``docs/cli.md``)."""
    return _commands()[0]


# -- failures -----------------------------------------------------------------------------
def _fail(exc: KYCBridgeError, args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    say(f"kycbridge: {exc}", err, limit=ERROR_LINE_LIMIT)
    if getattr(args, "json", False):
        write_json({"error": exc.to_dict()}, out)
    return exc.exit_code


def _internal_error(
    exc: BaseException, args: argparse.Namespace, verbose: int, out: IO[str], err: IO[str]
) -> int:
    """An exception kycbridge did not mean to raise: one line (its type only), exit 1."""
    name = type(exc).__name__
    if verbose >= 2:
        for text in traceback.format_exception(type(exc), exc, exc.__traceback__):
            for line in text.splitlines():
                say(line, err, limit=ERROR_LINE_LIMIT)
    say(f"kycbridge: internal error: {name} (a bug: please report it; -vv shows where)", err)
    if getattr(args, "json", False):
        message = f"internal error: {name}"
        write_json({"error": {"type": "internal", "message": message}}, out)
    return ExitCode.INTERNAL


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
    except UsageError as exc:
        say(f"kycbridge: {exc.message} (see `{exc.prog} --help`)", err, limit=ERROR_LINE_LIMIT)
        words = list(sys.argv[1:] if argv is None else argv)
        options = words[: words.index("--")] if "--" in words else words
        if "--json" in options:
            write_json({"error": {"type": "usage", "message": exc.message}}, out)
        return ExitCode.USAGE
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else ExitCode.USAGE


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
    return int(_main(argv, bridge, out, err))


def _main(argv: Sequence[str] | None, bridge: Bridge | None, out: IO[str], err: IO[str]) -> int:
    parser, owners = _commands()
    parsed = _parse(parser, argv, out, err)
    if isinstance(parsed, int):
        return parsed
    args = parsed
    if args.command is None:
        parser.print_help(out)
        return ExitCode.USAGE
    verbose = args.verbose + getattr(args, "verbose_sub", 0)
    group = owners[args.command]
    try:
        _setup_logging(verbose, err)
        if group.run is not None:
            return group.run(args, out, err)
        assert group.run_with_bridge is not None
        return group.run_with_bridge(args, make_bridge(args, bridge), out, err)
    except KYCBridgeError as exc:
        return _fail(exc, args, out, err)
    except BrokenPipeError:
        return ExitCode.OK
    except KeyboardInterrupt:
        return interrupted(err)
    except Exception as exc:
        return _internal_error(exc, args, verbose, out, err)
