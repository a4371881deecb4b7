"""``kycbridge new-provider NAME``: write a provider plugin distribution to start from.

The library part (rendering, writing) is :mod:`kycbridge.scaffold`; this is the command.
``--style query|path-signed`` chooses the API's shape (:data:`kycbridge.scaffold.STYLES`).
Exit 0 on success; 2 for a bad name, style or a non-empty target; 1 for a write error.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import IO, Any

from ..exitcodes import ExitCode
from ..scaffold import DEFAULT_STYLE, STYLES, Names, ScaffoldError, scaffold, validate_name

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Add the ``new-provider`` subcommand to ``subparsers`` (an argparse subparsers action)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "new-provider",
        help="write a new provider plugin distribution to start from",
        description=(
            "Write a ready provider plugin distribution: pyproject.toml, the provider, a "
            "sandbox simulator, contract tests, tox.ini and a README, all for a made-up API "
            "to replace with your provider's. --style chooses the API's shape: 'query' (the "
            "subject in the query string, an API key header, one status word) or "
            "'path-signed' (the subject in the URL path, every attempt signed with an HMAC "
            "and a timestamp, the state from two fields)."
        ),
    )
    p.add_argument("name", metavar="NAME", help="provider name: lowercase letters, digits and '_'")
    p.add_argument(
        "--dir",
        metavar="PATH",
        help="where to write it (default: ./kycbridge-NAME); must not exist or be empty",
    )
    p.add_argument(
        "--style",
        choices=STYLES,
        default=DEFAULT_STYLE,
        help=(
            "the API's shape: query (GET ...?user_id=..., an API key header; the default) or "
            "path-signed (GET .../applicants/{user_id}/..., HMAC-signed per attempt)"
        ),
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="write into a non-empty directory, overwriting the generated files there",
    )


def run(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Run ``kycbridge new-provider``; return the exit code (2: bad name or target)."""
    try:
        names = Names(validate_name(args.name))
        target = Path(args.dir) if args.dir else Path(names.distribution)
        style = getattr(args, "style", None) or DEFAULT_STYLE
        written = scaffold(
            names.name, target, force=bool(getattr(args, "force", False)), style=style
        )
    except ScaffoldError as exc:
        err.write(f"kycbridge new-provider: {exc}\n")
        return ExitCode.USAGE
    except OSError as exc:
        err.write(f"kycbridge new-provider: cannot write {exc.filename or ''}: {exc.strerror}\n")
        return ExitCode.WRITE_FAILED
    shown = str(target)
    if style == "path-signed":
        todo = (
            f"Then make it yours: the TODOs in {names.package}/provider.py (path, query, "
            "credentials,\nsignature, status fields, error table) and "
            f"{names.package}/simulator.py (the fake API, its\nsignature check and its "
            "scenarios),"
        )
    else:
        todo = (
            f"Then make it yours: the TODOs in {names.package}/provider.py (query, settings, "
            f"status\nwords, error table) and {names.package}/simulator.py (the fake API and "
            "its scenarios),"
        )
    out.write(
        f"Wrote the {names.name!r} provider plugin ({names.distribution}, {style} style, "
        f"{len(written)} files) to {shown}/\n"
        "\n"
        "Next steps:\n"
        f"  cd {shown}\n"
        '  python -m pip install -e ".[test]"   # registers the entry point\n'
        f"  pytest                               # the provider contract, against the simulator\n"
        f"  kycbridge providers                  # lists {names.name}\n"
        "\n"
        f"{todo}\n"
        "and the README's tables. The tutorial 'Writing a provider' in kycbridge's docs walks\n"
        "through every file; tox.ini tests against the oldest and newest supported kycbridge.\n"
    )
    out.flush()
    return ExitCode.OK
