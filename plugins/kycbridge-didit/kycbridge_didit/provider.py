"""The Didit provider: ``GET {base_url}/{api_version}/session/{session_id}/decision/``.

The data lives next door: the query and settings in :mod:`.query`, the status words in
:mod:`.mapping`, the typed details in :mod:`.details`, the error table in :mod:`.errors`.
This class wires them into :class:`kycbridge.HTTPStatusProvider`.

The session id travels in the URL path. Until kycbridge's request model encodes and masks
path parameters itself, this module quotes it, and masks ``/session/<id>/`` in the log
records of the loggers that print URLs (:class:`SessionPathFilter`).
"""

from __future__ import annotations

import contextvars
import logging
import re
from typing import Any, ClassVar
from urllib.parse import quote

import attrs

from kycbridge import (
    HTTPStatusProvider,
    InvalidQuery,
    KYCBridgeError,
    MalformedResponse,
    Parsed,
    Request,
    StatusMap,
)
from kycbridge.errortable import is_json_type, mask_personal
from kycbridge.redact import mask
from kycbridge.report import StatusReport
from kycbridge.transport import Response, Transport

from .details import DiditDetails, parse_details, public_payload
from .errors import ERROR_TABLE
from .mapping import STATUS_MAP
from .query import API_KEY_ENV, DiditQuery, DiditSettings

__all__ = ["RATE_LIMIT", "DiditProvider", "SessionPathFilter", "decision_path"]

RATE_LIMIT = 100 / 60
"""Didit's documented limit on the decision endpoint: 100 requests/min per key (1.67/s)."""

_SECRET_HEADERS = frozenset({"x-api-key"})
_PERSONAL_PARAMS = frozenset({"session_id"})

_VERSION: contextvars.ContextVar[str] = contextvars.ContextVar("didit_api_version", default="v3")
"""The API version of the request being answered (the answer's shape depends on it)."""

_SESSION_IN_PATH = re.compile(r"(/session/)([^/\s\"'?#]+)")


def decision_path(api_version: str, session_id: str) -> str:
    """``/{api_version}/session/{session_id}/decision/`` (the trailing slash is required)."""
    return f"/{api_version}/session/{quote(session_id, safe='')}/decision/"


class SessionPathFilter(logging.Filter):
    """Masks the session id in ``.../session/<id>/...`` in log records' messages.

    TODO(request-model): kycbridge's request model masks path parameters in every log; this
    filter goes away then.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message with every session id masked; never drop it."""
        try:
            message = record.getMessage()
        except Exception:  # a broken record is not ours to fix
            return True
        if "/session/" not in message:
            return True
        masked = _SESSION_IN_PATH.sub(lambda m: m.group(1) + quote(mask(m.group(2))), message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


_PATH_FILTER = SessionPathFilter()
for _name in (
    "kycbridge.transport",
    "kycbridge.sandbox",
    "urllib3.connectionpool",
    "urllib3.util.retry",
    "urllib3.poolmanager",
):
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, SessionPathFilter) for f in _logger.filters):
        _logger.addFilter(_PATH_FILTER)


class DiditProvider(HTTPStatusProvider):
    """The status of a Didit verification session, asked by session id.

    >>> DiditProvider().normalize("In Review")
    <KYCState.IN_REVIEW: 'in_review'>
    """

    name: ClassVar[str] = "didit"
    query_type: ClassVar[type[Any]] = DiditQuery
    settings_type: ClassVar[type[Any]] = DiditSettings
    details_type: ClassVar[type[Any]] = DiditDetails
    status_map: ClassVar[StatusMap] = STATUS_MAP
    rate_limit: ClassVar[float | None] = RATE_LIMIT
    error_table = ERROR_TABLE

    def subject(self, query: DiditQuery) -> str:
        """The session id (shown masked in reprs and logs)."""
        return query.session_id

    def build_request(self, query: DiditQuery, settings: DiditSettings) -> Request:
        """``GET {base_url}/{api_version}/session/{id}/decision/`` with ``x-api-key``.

        Raises :class:`kycbridge.InvalidQuery` when no API key is configured: nothing is sent.
        """
        if not settings.api_key:
            raise InvalidQuery(
                f"Didit needs an API key: set {API_KEY_ENV} or the api_key setting",
                provider=self.name,
            )
        # The session id is a path parameter marked personal: masked by the core wherever the
        # URL is logged or shown, and never part of the URL the transport caches.
        return Request(
            url=settings.base_url,
            path="/{api_version}/session/{session_id}/decision/",
            path_params={"api_version": settings.api_version, "session_id": query.session_id},
            personal_params=_PERSONAL_PARAMS,
            headers={"x-api-key": settings.api_key},
            method="GET",
            secret_headers=_SECRET_HEADERS,
        )

    def parse(self, payload: Any, response: Response) -> Parsed:
        """Read a 2xx decision: a JSON object whose ``status`` is the session's word.

        The shape read is the API version's that :meth:`fetch` asked. ``raw_status`` is
        ``status`` as received. Raises :class:`kycbridge.MalformedResponse` for another shape.
        """
        version = _VERSION.get()
        if not is_json_type(response.content_type):
            shown = response.content_type or "no content type"
            raise self._malformed(response, f"answer served as {shown}, not application/json")
        # No excerpt of a JSON answer below: a decision holds personal data.
        if not isinstance(payload, dict):
            raise MalformedResponse(
                f"answer is a JSON {type(payload).__name__}, not an object",
                provider=self.name,
                http_status=response.status,
            )
        try:
            details = parse_details(payload, version)
        except MalformedResponse as exc:
            exc.provider, exc.http_status = self.name, response.status
            raise
        return Parsed(
            state=self.status_map(details.status),
            raw_status=details.status,
            details=details,
        )

    def fetch(self, query: Any, settings: Any, transport: Transport) -> StatusReport:
        """Ask Didit once; the report keeps only the decision's non-personal fields as ``raw``.

        Errors never show the session id unmasked.
        """
        version = getattr(settings, "api_version", "v3")
        try:
            report = self._fetch(query, settings, transport, version)
        except KYCBridgeError as exc:
            session_id = getattr(query, "session_id", None)
            if isinstance(session_id, str) and session_id:
                for variant in {session_id, quote(session_id, safe="")}:
                    exc.message = exc.message.replace(variant, mask(session_id))
                    if exc.provider_message:
                        exc.provider_message = exc.provider_message.replace(
                            variant, mask(session_id)
                        )
            raise
        details = report.details
        raw = public_payload(details) if isinstance(details, DiditDetails) else None
        return attrs.evolve(report, raw=raw)

    def _fetch(
        self, query: Any, settings: Any, transport: Transport, version: str
    ) -> StatusReport:
        token = _VERSION.set(version)  # per thread / context: the provider is shared
        try:
            return super().fetch(query, settings, transport)
        finally:
            _VERSION.reset(token)

    def _malformed(self, response: Response, why: str) -> MalformedResponse:
        return MalformedResponse(
            f"{why}: {mask_personal(response.excerpt())!r}",
            provider=self.name,
            http_status=response.status,
        )
