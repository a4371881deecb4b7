"""The command line's shared pieces: the parser class, argument types, the call options.

A command group uses :func:`add_call_options` for the options every provider call takes
(``PROVIDER``, ``-p``, ``-s``, ``--base-url``, ``--request-timeout``, ``--json``), and
:func:`settings_overrides` to turn ``-s`` and ``--base-url`` into setting overrides.
"""

from __future__ import annotations

import argparse
import math
from typing import Any, NoReturn

from ..bridge import Bridge
from ..errors import InvalidQuery
from ..transport import Transport

__all__ = [
    "MAX_SECONDS",
    "Parser",
    "UsageError",
    "add_call_options",
    "key_value",
    "make_bridge",
    "port",
    "seconds",
    "settings_overrides",
]

MAX_SECONDS = 86400.0
"""Longest ``--interval`` / ``--max-interval`` accepted: a day."""


class UsageError(Exception):
    """A command line argparse rejected."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog = prog
        self.message = message


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors come back to ``main`` instead of exiting."""

    def error(self, message: str) -> NoReturn:
        """Raise :class:`UsageError` (argparse would print and exit)."""
        raise UsageError(self.prog, message)


def port(text: str) -> int:
    """An argparse type: a TCP port number, 0-65535."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"port {number} is not in 0-65535")
    return number


def seconds(text: str) -> float:
    """An argparse type: a positive, finite number of seconds, at most :data:`MAX_SECONDS`."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= MAX_SECONDS):
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a positive number of seconds, at most {MAX_SECONDS:g}"
        )
    return value


def key_value(text: str) -> tuple[str, str]:
    """An argparse type: ``KEY=VALUE`` as a pair (the key stripped, the value as given)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def add_call_options(p: argparse.ArgumentParser) -> None:
    """Add the options of a command that calls a provider."""
    p.add_argument("provider", help="provider name (see `kycbridge providers`)")
    p.add_argument(
        "-p",
        "--param",
        dest="params",
        action="append",
        type=key_value,
        default=[],
        metavar="KEY=VALUE",
        help="a query field; a secret field may come from env KYCBRIDGE_<PROVIDER>_<FIELD>",
    )
    p.add_argument(
        "-s",
        "--setting",
        dest="settings",
        action="append",
        type=key_value,
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


def settings_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The setting overrides given by ``-s KEY=VALUE`` and ``--base-url``."""
    overrides: dict[str, Any] = dict(args.settings)
    if args.base_url:
        overrides["base_url"] = args.base_url
    return overrides


def make_bridge(args: argparse.Namespace, bridge: Bridge | None) -> Bridge:
    """The bridge a command uses: ``bridge`` (injected) or a new one, with the timeouts asked.

    ``--timeout``: the overall deadline of a call (``status``; ``watch`` reads its own);
    ``--request-timeout``: each request's connect and read timeout.
    """
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
        bridge.transport = bridge.transport.evolve(
            connect_timeout=request_timeout, read_timeout=request_timeout
        )
    if timeout:
        bridge.timeout = timeout
    return bridge
