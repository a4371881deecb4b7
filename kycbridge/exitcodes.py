"""Every exit code of the ``kycbridge`` command, with its meaning: :class:`ExitCode`.

This is the one home of the codes: each error's :attr:`~kycbridge.errors.KYCBridgeError.exit_code`
is one of them, the CLI returns only them, and the table in ``docs/cli.md`` is checked
against :data:`MEANINGS` by the tests. It lives beside :mod:`kycbridge.errors` (not in
:mod:`kycbridge.cli`) so that the library's errors name their code without importing the CLI.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

__all__ = ["MEANINGS", "ExitCode"]


class ExitCode(enum.IntEnum):
    """An exit code of the ``kycbridge`` command (an ``int``: ``sys.exit`` takes it)."""

    OK = 0
    """Report printed (``watch``: a target state reached)."""
    INTERNAL = 1
    """Internal error: a bug (``demo``: a scenario missed its outcome; ``new-provider``: a
    write error), see the aliases below."""
    USAGE = 2
    """Usage error or invalid query: nothing was sent."""
    AUTHENTICATION = 3
    """Authentication rejected."""
    NOT_FOUND = 4
    """Subject not found."""
    UNAVAILABLE = 5
    """Provider unavailable or rate limited, after retries (or past the deadline)."""
    MALFORMED = 6
    """Malformed provider response."""
    PLUGIN = 7
    """Provider not installed, or its plugin broken."""
    WATCH_TIMEOUT = 8
    """``watch`` timed out before a target state."""
    PARTIAL = 9
    """Bulk ``status --input``: some lines failed."""
    REJECTED = 10
    """Request rejected by the provider for another reason (another 4xx)."""
    INTERRUPTED = 130
    """Interrupted (Ctrl-C), as shells report SIGINT."""

    # Aliases: a command's own failure that shares code 1 (same value, same member).
    DEMO_FAILED = 1
    """``kycbridge demo``: a scenario missed its documented outcome (alias of ``INTERNAL``)."""
    WRITE_FAILED = 1
    """``kycbridge new-provider``: a file could not be written (alias of ``INTERNAL``)."""


MEANINGS: Mapping[ExitCode, str] = {
    ExitCode.OK: "report printed (`watch`: a target state reached)",
    ExitCode.INTERNAL: "internal error: a bug, please report it (`demo`: a scenario missed "
    "its documented outcome; `new-provider`: a write error)",
    ExitCode.USAGE: "usage error or invalid query: nothing was sent",
    ExitCode.AUTHENTICATION: "authentication rejected",
    ExitCode.NOT_FOUND: "subject not found",
    ExitCode.UNAVAILABLE: "provider unavailable or rate limited, after retries",
    ExitCode.MALFORMED: "malformed provider response",
    ExitCode.PLUGIN: "provider not installed, or its plugin broken",
    ExitCode.WATCH_TIMEOUT: "`watch` timed out before a target state",
    ExitCode.PARTIAL: "`status --input`: some lines failed (their errors are in the output)",
    ExitCode.REJECTED: "request rejected by the provider for another reason (other 4xx)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
}
"""Each code's meaning, as the exit-code table of ``docs/cli.md`` shows it (Markdown)."""
