"""The StarkFi provider: ``GET {base_url}/kyc/status?email=...`` (or ``?wallet=...``).

The data lives next door: the query and settings in :mod:`.query`, the status words and the
normalization rules in :mod:`.mapping`, the typed details in :mod:`.details`, the error table
in :mod:`.errors`. This class wires them into :class:`kycbridge.HTTPStatusProvider`.
"""

from __future__ import annotations

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
from kycbridge.transport import Response

from .details import StarkFiDetails, parse_details
from .errors import ERROR_TABLE
from .mapping import DECISION_MAP, STATUS_MAP, decide, normalize, raw_word
from .query import API_KEY_ENV, StarkFiQuery, StarkFiSettings

__all__ = ["RATE_LIMIT", "STATUS_PATH", "StarkFiProvider"]

STATUS_PATH = "/kyc/status"
"""The status endpoint, below the base URL."""

RATE_LIMIT = 10.0
"""StarkFi's documented limit: 10 requests/s (and 600/min) per API key."""


_SECRET_HEADERS = frozenset({"x-api-key"})
_PERSONAL_PARAMS = frozenset({"email", "wallet"})


class StarkFiProvider(HTTPStatusProvider):
    """KYC status of a StarkFi user, asked by email or by wallet.

    >>> StarkFiProvider().normalize({"approved": False, "session_status": "In Review"})
    <KYCState.IN_REVIEW: 'in_review'>
    """

    name: ClassVar[str] = "starkfi"
    query_type: ClassVar[type[Any]] = StarkFiQuery
    settings_type: ClassVar[type[Any]] = StarkFiSettings
    details_type: ClassVar[type[Any]] = StarkFiDetails
    status_map: ClassVar[StatusMap] = STATUS_MAP
    rate_limit: ClassVar[float | None] = RATE_LIMIT
    error_table = ERROR_TABLE
    composite_map: ClassVar[CompositeStatusMap] = DECISION_MAP
    """How ``approved``, ``session_status`` and ``status`` combine (printed by the docs)."""

    def normalize(self, raw: Any) -> KYCState:
        """The state of a StarkFi ``data`` object (:func:`.mapping.normalize`)."""
        return normalize(raw)

    def build_request(self, query: StarkFiQuery, settings: StarkFiSettings) -> Request:
        """``GET {base_url}/kyc/status`` with the one subject parameter and ``x-api-key``.

        Raises :class:`kycbridge.InvalidQuery` when no API key is configured: nothing is sent.
        """
        if not settings.api_key:
            raise InvalidQuery(
                f"StarkFi needs an API key: set {API_KEY_ENV} or the api_key setting",
                provider=self.name,
            )
        name, value = query.param
        return Request(
            url=settings.url(STATUS_PATH),
            params={name: value},
            headers={"x-api-key": settings.api_key},
            method="GET",
            secret_headers=_SECRET_HEADERS,
            personal_params=_PERSONAL_PARAMS,
        )

    def parse(self, payload: Any, response: Response) -> Parsed:
        """Read a 2xx answer: StarkFi's envelope with ``success: true`` and a ``data`` object.

        ``raw_status`` is ``data.session_status`` when present, else ``data.status``.
        Raises :class:`kycbridge.MalformedResponse` for any other shape.
        """
        if not is_json_type(response.content_type):
            shown = response.content_type or "no content type"
            raise self._malformed(response, f"answer served as {shown}, not application/json")
        if not isinstance(payload, dict):
            raise self._malformed(response, "answer is not a JSON object")
        if payload.get("success", True) is not True:
            raise self._malformed(response, "envelope says success is not true")
        data = payload.get("data")
        if not isinstance(data, dict):
            raise self._malformed(response, "envelope has no data object")
        try:
            details = parse_details(data)
        except MalformedResponse as exc:
            raise self._malformed(response, exc.message) from None
        # The three signals were type-checked by parse_details: decide on them directly
        # (what normalize(data) would do, without reading data again).
        session_status, status = details.session_status, details.status
        return Parsed(
            state=decide(details.approved, session_status, status),
            raw_status=raw_word(session_status, status),
            details=details,
            blocklisted=details.is_blocklisted is True,
        )

    def _malformed(self, response: Response, why: str) -> MalformedResponse:
        return MalformedResponse(
            f"{why}: {mask_personal(response.excerpt())!r}",
            provider=self.name,
            http_status=response.status,
        )
