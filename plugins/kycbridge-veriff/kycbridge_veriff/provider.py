"""The Veriff provider: ``GET {base_url}/v1/sessions/{sessionId}/decision``, signed.

The data lives next door: the query and settings in :mod:`.query`, the signature in
:mod:`.signing`, the status words and codes in :mod:`.mapping`, the typed details in
:mod:`.details`, the error table in :mod:`.errors`. This class wires them into
:class:`kycbridge.HTTPStatusProvider`.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from kycbridge import (
    CompositeStatusMap,
    HTTPStatusProvider,
    InvalidQuery,
    KYCState,
    MalformedResponse,
    Parsed,
    Request,
    StatusMap,
)
from kycbridge.errortable import is_json_type, mask_personal
from kycbridge.redact import mask
from kycbridge.terminal import safe_text
from kycbridge.transport import Response

from .details import VeriffDetails, parse_details, public_payload
from .errors import ERROR_TABLE
from .mapping import (
    DECISION_MAP,
    NO_DECISION_STATE,
    NO_DECISION_WORD,
    STATUS_MAP,
    normalize,
)
from .mapping import _cells as decision_cells
from .query import API_KEY_ENV, SHARED_SECRET_ENV, VeriffQuery, VeriffSettings
from .signing import AUTH_HEADER, SIGNATURE_HEADER, signature

__all__ = ["DECISION_PATH", "VeriffProvider"]

DECISION_PATH = "/v1/sessions/{session_id}/decision"
"""The decision endpoint, below the base URL."""

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


_SECRET_HEADERS = frozenset({AUTH_HEADER.lower(), SIGNATURE_HEADER.lower()})
_PERSONAL_PARAMS = frozenset({"session_id"})


class VeriffProvider(HTTPStatusProvider):
    """The decision of a Veriff verification session, asked by session id.

    >>> VeriffProvider().normalize({"status": "resubmission_requested", "code": 9103})
    <KYCState.ACTION_REQUIRED: 'action_required'>
    """

    name: ClassVar[str] = "veriff"
    query_type: ClassVar[type[Any]] = VeriffQuery
    settings_type: ClassVar[type[Any]] = VeriffSettings
    details_type: ClassVar[type[Any]] = VeriffDetails
    status_map: ClassVar[StatusMap] = STATUS_MAP
    rate_limit: ClassVar[float | None] = None  # Veriff publishes no rate limit
    error_table = ERROR_TABLE
    composite_map: ClassVar[CompositeStatusMap] = DECISION_MAP
    """How ``status`` and ``code`` combine (printed by the docs)."""

    def normalize(self, raw: Any) -> KYCState:
        """The state of a ``verification`` object (:func:`.mapping.normalize`)."""
        return normalize(raw)

    def build_request(self, query: VeriffQuery, settings: VeriffSettings) -> Request:
        """``GET {base_url}/v1/sessions/{id}/decision`` with ``X-AUTH-CLIENT`` and its signature.

        The signature (:func:`.signing.signature` of the session id) has no timestamp, so the
        request is signed once here; a retry resends the same, still valid, headers.
        Raises :class:`kycbridge.InvalidQuery` when a credential is missing: nothing is sent.
        """
        missing = [
            f"{field} ({env})"
            for field, env, value in (
                ("api_key", API_KEY_ENV, settings.api_key),
                ("shared_secret", SHARED_SECRET_ENV, settings.shared_secret),
            )
            if not value
        ]
        if missing or settings.api_key is None or settings.shared_secret is None:
            raise InvalidQuery(
                f"Veriff needs the setting(s) {', '.join(missing)}", provider=self.name
            )
        return Request(
            url=settings.base_url,
            path=DECISION_PATH,
            path_params={"session_id": query.session_id},
            headers={
                AUTH_HEADER: settings.api_key,
                SIGNATURE_HEADER: signature(settings.shared_secret, query.session_id),
            },
            method="GET",
            secret_headers=_SECRET_HEADERS,
            personal_params=_PERSONAL_PARAMS,
        )

    def parse(self, payload: Any, response: Response) -> Parsed:
        """Read a 2xx answer: ``{"status": "success", "verification": {...} | null}``.

        ``verification: null`` is no decision yet: :data:`.mapping.NO_DECISION_STATE`, with
        ``raw_status`` ``"null"``. Otherwise the state comes from ``status`` (see
        :mod:`.mapping`) and ``raw_status`` is ``"status/code"``. The report's ``raw`` is
        :func:`.details.public_payload` (no personal data). Raises
        :class:`kycbridge.MalformedResponse` for any other shape.
        """
        if not is_json_type(response.content_type):
            shown = safe_text(response.content_type, 80) or "no content type"
            raise self._malformed(response, f"answer served as {shown}, not application/json")
        if not isinstance(payload, dict):
            raise self._malformed(response, "answer is not a JSON object")
        status = payload.get("status")
        if status is not None and status != "success":
            raise self._malformed(response, "answer's status is not \"success\"")
        if "verification" not in payload:
            raise self._malformed(response, "answer has no verification field")
        verification = payload["verification"]
        if verification is None:
            return Parsed(
                state=NO_DECISION_STATE,
                raw_status=NO_DECISION_WORD,
                details=parse_details(None),
                raw=public_payload(payload),
            )
        if not isinstance(verification, dict):
            raise self._malformed(response, "verification is neither an object nor null")
        try:
            details = parse_details(verification)
        except MalformedResponse as exc:
            raise self._malformed(response, exc.message) from None
        # What normalize() and raw_status_of() do, reading the two cells once.
        cells = decision_cells(verification)
        return Parsed(
            state=DECISION_MAP.lookup(*cells),
            raw_status=DECISION_MAP.raw_status(cells),
            details=details,
            raw=public_payload(payload),
        )

    def _malformed(self, response: Response, why: str) -> MalformedResponse:
        excerpt = _UUID.sub(lambda m: mask(m.group(0)), mask_personal(response.excerpt()))
        return MalformedResponse(
            f"{why}: {excerpt!r}",
            provider=self.name,
            http_status=response.status,
        )
