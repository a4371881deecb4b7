"""The Persona provider: ``GET {base_url}/inquiries/{inquiry-id}``, or by reference id.

By reference id it asks for the newest inquiry with that reference,
``GET {base_url}/inquiries?filter[reference-id]=...&page[size]=1``.

The data lives next door: the query and settings in :mod:`.query`, the status words in
:mod:`.mapping`, the typed details in :mod:`.details`, the error table in :mod:`.errors`.
This class wires them into :class:`kycbridge.HTTPStatusProvider`.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from kycbridge import (
    HTTPStatusProvider,
    InvalidQuery,
    KYCBridgeError,
    MalformedResponse,
    Parsed,
    Request,
    StatusMap,
    SubjectNotFound,
)
from kycbridge.errortable import is_json_type
from kycbridge.redact import mask
from kycbridge.terminal import safe_text
from kycbridge.transport import Response

from .details import PersonaDetails, parse_inquiry, public_inquiry
from .errors import ERROR_TABLE, retry_hint
from .mapping import STATUS_MAP
from .query import API_KEY_ENV, PersonaQuery, PersonaSettings

__all__ = [
    "INQUIRIES_PATH",
    "INQUIRY_PATH",
    "KEY_INFLECTION",
    "PAGE_SIZE_PARAM",
    "RATE_LIMIT",
    "REFERENCE_PARAM",
    "PersonaProvider",
    "mask_reference_ids",
]

INQUIRIES_PATH = "/inquiries"
"""The inquiries collection, below the base URL."""

INQUIRY_PATH = "/inquiries/{inquiry_id}"
"""One inquiry: a path template; the id is encoded by the core and masked in every log."""

REFERENCE_PARAM = "filter[reference-id]"
"""The list call's filter on the partner's reference id (personal: masked in logs)."""

PAGE_SIZE_PARAM = "page[size]"
"""The list call's page size (1: only the newest inquiry)."""

KEY_INFLECTION = "kebab"
"""The ``Key-Inflection`` sent: attribute names in kebab-case, as Persona documents them."""

RATE_LIMIT = 5.0
"""Persona's documented limit, 300 requests/minute per environment, as requests/second."""

_SECRET_HEADERS = frozenset({"authorization"})
_PERSONAL_PARAMS = frozenset({REFERENCE_PARAM, "inquiry_id"})


class PersonaProvider(HTTPStatusProvider):
    """Status of a Persona inquiry, asked by inquiry id or by the partner's reference id.

    >>> PersonaProvider().normalize("needs_review")
    <KYCState.IN_REVIEW: 'in_review'>
    """

    name: ClassVar[str] = "persona"
    query_type: ClassVar[type[Any]] = PersonaQuery
    settings_type: ClassVar[type[Any]] = PersonaSettings
    details_type: ClassVar[type[Any]] = PersonaDetails
    status_map: ClassVar[StatusMap] = STATUS_MAP
    rate_limit: ClassVar[float | None] = RATE_LIMIT
    error_table = ERROR_TABLE

    def build_request(self, query: PersonaQuery, settings: PersonaSettings) -> Request:
        """The request for ``query``, with Persona's headers.

        ``Authorization: Bearer <api_key>``, ``Key-Inflection: kebab`` and, when set,
        ``Persona-Version``.

        Raises :class:`kycbridge.InvalidQuery` when no API key is configured: nothing is sent.
        """
        if not settings.api_key:
            raise InvalidQuery(
                f"Persona needs an API key: set {API_KEY_ENV} or the api_key setting",
                provider=self.name,
            )
        headers = {
            "Authorization": f"Bearer {settings.api_key}",
            "Key-Inflection": KEY_INFLECTION,
        }
        if settings.persona_version:
            headers["Persona-Version"] = settings.persona_version
        if query.inquiry_id is not None:
            return Request(
                url=settings.base_url,
                path=INQUIRY_PATH,
                path_params={"inquiry_id": query.inquiry_id},
                headers=headers,
                method="GET",
                secret_headers=_SECRET_HEADERS,
                personal_params=_PERSONAL_PARAMS,
            )
        assert query.reference_id is not None
        return Request(
            url=settings.base_url,
            path=INQUIRIES_PATH,
            params={REFERENCE_PARAM: query.reference_id, PAGE_SIZE_PARAM: "1"},
            headers=headers,
            method="GET",
            secret_headers=_SECRET_HEADERS,
            personal_params=_PERSONAL_PARAMS,
        )

    def parse(self, payload: Any, response: Response) -> Parsed:
        """Read a 2xx JSON:API answer: ``{"data": <inquiry>}`` or ``{"data": [<inquiry>...]}``.

        A list (the reference-id lookup) gives its first inquiry, the newest (Persona lists
        newest first); an empty list is :class:`kycbridge.SubjectNotFound`. ``raw_status`` is
        the inquiry's ``attributes.status``. The report's ``raw`` keeps only the inquiry's
        non-personal part (:func:`.details.public_inquiry`), in the answer's shape. Raises
        :class:`kycbridge.MalformedResponse` for any other shape.
        """
        if not is_json_type(response.content_type):
            shown = safe_text(response.content_type, 80) or "no content type"
            raise self._malformed(response, f"answer served as {shown}, not application/json")
        if not isinstance(payload, dict):
            raise self._malformed(response, "answer is not a JSON object")
        data = payload.get("data")
        matched_by = "inquiry_id"
        where = "data"
        if isinstance(data, list):
            if not data:
                raise SubjectNotFound(
                    "Persona has no inquiry with this reference id",
                    provider=self.name,
                    http_status=response.status,
                )
            data, matched_by, where = data[0], "reference_id", "data[0]"
        try:
            details = parse_inquiry(data, where, matched_by=matched_by)
        except MalformedResponse as exc:
            raise self._malformed(response, exc.message) from None
        assert isinstance(data, dict)  # parse_inquiry refused anything else
        kept = public_inquiry(data)
        return Parsed(
            state=self.normalize(details.status),
            raw_status=details.status,
            details=details,
            raw={"data": [kept] if matched_by == "reference_id" else kept},
        )

    def error_for(self, response: Response) -> KYCBridgeError:
        """The error table's error, with ``RateLimit-Reset`` as a 429's retry hint.

        Used when the 429 (or quota 403) carries no ``Retry-After``
        (:func:`.errors.retry_hint`).
        """
        return retry_hint(super().error_for(response), response)

    def mask_text(self, text: str) -> str:
        """Any ``reference-id`` value in an error's text masked (:func:`mask_reference_ids`)."""
        return mask_reference_ids(text)

    def _malformed(self, response: Response, why: str) -> MalformedResponse:
        # No excerpt of the body: an inquiry carries personal attributes.
        return MalformedResponse(why, provider=self.name, http_status=response.status)


_REFERENCE_IN_TEXT = re.compile(
    r"""(reference[-_]?id(?:%5D|\])?["']?\s*[:=]\s*["']?)([^"'&,\s}]+)""", re.IGNORECASE
)


def mask_reference_ids(text: str) -> str:
    """``text`` with any ``reference-id`` value in it masked (an answer may echo one).

    The query's own subject is masked by the core (:meth:`kycbridge.HTTPStatusProvider.fetch`);
    this masks a reference id the query did not name (one found by inquiry id) too.
    """
    return _REFERENCE_IN_TEXT.sub(lambda m: m.group(1) + mask(m.group(2)), text)
