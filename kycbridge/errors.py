"""Typed errors: one base class, one subclass per cause an app must tell apart.

Every error carries the provider name, the HTTP status, and the provider's own code and
message where there were any. None ever carries a secret: messages are built from the
provider's answer and from names, never from credentials, and provider messages are passed
through :func:`kycbridge.redact.scrub` before they are stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from .exitcodes import ExitCode
from .redact import scrub as _scrub

if TYPE_CHECKING:
    from .report import StatusReport

__all__ = [
    "AuthenticationError",
    "InvalidQuery",
    "KYCBridgeError",
    "MalformedResponse",
    "PluginBroken",
    "PluginError",
    "ProviderConflict",
    "ProviderNotInstalled",
    "ProviderUnavailable",
    "RateLimited",
    "RequestRejected",
    "SubjectNotFound",
    "WatchTimeout",
]


def _restore(cls: type[KYCBridgeError], state: dict[str, Any]) -> KYCBridgeError:
    """Rebuild a pickled error from its fields, without calling a subclass's ``__init__``."""
    error = cls.__new__(cls)
    error.__dict__.update(state)
    error.args = (state.get("_message", ""),)
    return error


class KYCBridgeError(Exception):
    """Base class of every error kycbridge raises on purpose.

    ``message`` is also the exception's only argument (``exc.args == (exc.message,)``): setting
    one sets the other, so what :meth:`scrub` or :meth:`rewrite` removed from the message is
    gone from ``args``, from tracebacks and from pickles too. Errors pickle with all their fields.
    """

    exit_code: ClassVar[int] = ExitCode.INTERNAL
    """The ``kycbridge`` CLI's exit code for this error (see :mod:`kycbridge.exitcodes`)."""
    kind: ClassVar[str] = "error"
    """A stable short name for the error type, used in JSON output."""

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        http_status: int | None = None,
        provider_code: str | None = None,
        provider_message: str | None = None,
        retry_after: float | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self._message = message
        self.provider = provider
        self.http_status = http_status
        self.provider_code = provider_code
        self.provider_message = provider_message
        self.retry_after = retry_after
        self.request_id = request_id

    @property
    def message(self) -> str:
        """What went wrong, in words (without the provider prefix or HTTP status)."""
        return self._message

    @message.setter
    def message(self, value: str) -> None:
        self._message = value
        self.args = (value,)

    def rewrite(self, fn: Callable[[str], str]) -> None:
        """Replace each text this error keeps by ``fn(text)``, in place.

        Rewrites ``message`` (and with it ``args``), ``provider_message``, ``provider_code``,
        ``request_id`` and any notes added with ``add_note``: every text a user, a log, a
        pickle or :meth:`to_dict` can see. ``fn`` must be total on strings (a masker, a
        scrubber); it is not called on ``None`` or empty fields.
        """
        self.message = fn(self._message)
        for name in ("provider_message", "provider_code", "request_id"):
            value = getattr(self, name, None)
            if isinstance(value, str) and value:
                setattr(self, name, fn(value))
        notes = getattr(self, "__notes__", None)
        if isinstance(notes, list):
            notes[:] = [fn(n) if isinstance(n, str) else n for n in notes]

    def scrub(self, secrets: Iterable[str | None]) -> None:
        """Replace every secret in ``secrets`` wherever this error keeps text, in place.

        The texts :meth:`rewrite` rewrites. Secrets shorter than 3 characters are left alone
        (see :func:`kycbridge.redact.scrub`).
        """
        secrets = [s for s in secrets if s]
        if secrets:
            self.rewrite(lambda text: _scrub(text, secrets))

    def __reduce__(self) -> tuple[Any, ...]:
        # The fields, not the constructor's arguments: subclasses may take others, and the
        # (possibly scrubbed) message is the one kept.
        return (_restore, (type(self), dict(self.__dict__)))

    def __str__(self) -> str:
        prefix = f"{self.provider}: " if self.provider else ""
        status = f" (HTTP {self.http_status})" if self.http_status is not None else ""
        return f"{prefix}{self.message}{status}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, provider={self.provider!r}, "
            f"http_status={self.http_status!r}, provider_code={self.provider_code!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form printed by the CLI under ``"error"``."""
        return {
            "type": self.kind,
            "message": self.message,
            "provider": self.provider,
            "http_status": self.http_status,
            "provider_code": self.provider_code,
            "provider_message": self.provider_message,
            "request_id": self.request_id,
        }


class InvalidQuery(KYCBridgeError, ValueError):
    """The query (or settings) failed validation; nothing was sent."""

    exit_code = ExitCode.USAGE
    kind = "invalid_query"


class AuthenticationError(KYCBridgeError):
    """The provider rejected the credentials (missing, wrong or expired)."""

    exit_code = ExitCode.AUTHENTICATION
    kind = "authentication"


class SubjectNotFound(KYCBridgeError):
    """The provider has no verification for this subject."""

    exit_code = ExitCode.NOT_FOUND
    kind = "not_found"


class RateLimited(KYCBridgeError):
    """The provider kept answering 429 after the retries allowed."""

    exit_code = ExitCode.UNAVAILABLE
    kind = "rate_limited"


class ProviderUnavailable(KYCBridgeError):
    """5xx, timeouts or connection errors, after the retries allowed."""

    exit_code = ExitCode.UNAVAILABLE
    kind = "unavailable"


class MalformedResponse(KYCBridgeError):
    """The provider answered something that is not the documented shape."""

    exit_code = ExitCode.MALFORMED
    kind = "malformed_response"


class RequestRejected(KYCBridgeError):
    """The provider rejected the request for a reason not covered above (another 4xx)."""

    exit_code = ExitCode.REJECTED
    kind = "request_rejected"


class PluginError(KYCBridgeError):
    """Base for problems with installed plugins."""

    exit_code = ExitCode.PLUGIN
    kind = "plugin"


class ProviderNotInstalled(PluginError, LookupError):
    """No installed plugin provides the provider asked for."""

    kind = "not_installed"


class ProviderConflict(PluginError):
    """Two distributions register a provider under the same name."""

    kind = "conflict"


class PluginBroken(PluginError):
    """An installed plugin failed to import or to register its providers."""

    kind = "plugin_broken"


class WatchTimeout(KYCBridgeError):
    """The watch's timeout passed before the subject reached a target state.

    ``report`` is the last report observed (``None`` if none was), ``last_error`` the
    transient error the last poll failed with (``None`` if it succeeded), ``polls`` the
    number of calls made.
    """

    exit_code = ExitCode.WATCH_TIMEOUT
    kind = "timeout"

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        report: StatusReport | None = None,
        last_error: KYCBridgeError | None = None,
        polls: int = 0,
    ) -> None:
        super().__init__(message, provider=provider)
        self.report = report
        self.last_error = last_error
        self.polls = polls

    def rewrite(self, fn: Callable[[str], str]) -> None:
        """Rewrite this error's texts and those of the last transient error it carries."""
        super().rewrite(fn)
        if self.last_error is not None:
            self.last_error.rewrite(fn)

    def to_dict(self) -> dict[str, Any]:
        """The base JSON form plus the last state, raw status, error kind and poll count."""
        data = super().to_dict()
        data["last_state"] = self.report.state.value if self.report else None
        data["last_raw_status"] = self.report.raw_status if self.report else None
        data["last_error"] = self.last_error.kind if self.last_error else None
        data["polls"] = self.polls
        return data
