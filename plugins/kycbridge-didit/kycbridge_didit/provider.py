"""The Didit provider: ``GET {base_url}/{api_version}/session/{session_id}/decision/``.

The data lives next door: the query and settings in :mod:`.query`, the status words in
:mod:`.mapping`, the typed details in :mod:`.details`, the error table in :mod:`.errors`.
This class wires them into :class:`kycbridge.HTTPStatusProvider`.

The session id travels in the URL path as a path parameter declared personal: kycbridge
encodes it into its own segment and masks it in every logged URL and every error.
"""

from __future__ import annotations

from typing import Any, ClassVar

from kycbridge import (
    HTTPStatusProvider,
    InvalidQuery,
    MalformedResponse,
    Parsed,
    Request,
    StatusMap,
)
from kycbridge.errortable import is_json_type, mask_personal
from kycbridge.terminal import safe_text
from kycbridge.transport import Response

from .details import DiditDetails, parse_details, public_payload
from .errors import ERROR_TABLE
from .mapping import STATUS_MAP
from .query import API_KEY_ENV, DiditQuery, DiditSettings

__all__ = ["DECISION_PATH", "RATE_LIMIT", "DiditProvider"]

RATE_LIMIT = 100 / 60
"""Didit's documented limit on the decision endpoint: 100 requests/min per key (1.67/s)."""

DECISION_PATH = "/{version}/session/{session_id}/decision/"
"""The decision endpoint below the base URL, a path template (the trailing slash is
required)."""

_SECRET_HEADERS = frozenset({"x-api-key"})
_PERSONAL_PARAMS = frozenset({"session_id"})


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
        return Request(
            url=settings.base_url,
            path=DECISION_PATH,
            path_params={"version": settings.api_version, "session_id": query.session_id},
            headers={"x-api-key": settings.api_key},
            method="GET",
            secret_headers=_SECRET_HEADERS,
            personal_params=_PERSONAL_PARAMS,
        )

    def parse(self, payload: Any, response: Response) -> Parsed:
        """Read a 2xx decision: a JSON object whose ``status`` is the session's word.

        The decision tells its API version by its own keys (:func:`.details.shape_version`).
        ``raw_status`` is ``status`` as received. The report's ``raw`` keeps only the
        non-personal fields (:func:`.details.public_payload`). Raises
        :class:`kycbridge.MalformedResponse` for another shape.
        """
        if not is_json_type(response.content_type):
            shown = safe_text(response.content_type, 80) or "no content type"
            raise self._malformed(response, f"answer served as {shown}, not application/json")
        # No excerpt of a JSON answer below: a decision holds personal data.
        if not isinstance(payload, dict):
            raise MalformedResponse(
                f"answer is a JSON {type(payload).__name__}, not an object",
                provider=self.name,
                http_status=response.status,
            )
        try:
            details = parse_details(payload)
        except MalformedResponse as exc:
            exc.provider, exc.http_status = self.name, response.status
            raise
        return Parsed(
            state=self.status_map(details.status),
            raw_status=details.status,
            details=details,
            raw=public_payload(details),
        )

    def _malformed(self, response: Response, why: str) -> MalformedResponse:
        return MalformedResponse(
            f"{why}: {mask_personal(response.excerpt())!r}",
            provider=self.name,
            http_status=response.status,
        )
