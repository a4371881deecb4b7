"""The Sumsub provider: an applicant's review, by applicant id or by external user id.

``GET {base_url}/resources/applicants/{applicantId}/one``, or
``GET {base_url}/resources/applicants/-;externalUserId={externalUserId}/one`` (the
``-;externalUserId=`` part is literal path text; only the id is a path parameter, encoded by
the core and masked in every log). Every attempt is signed anew (:meth:`SumsubProvider.sign`).

The data lives next door: the query and settings in :mod:`.query`, the signature in
:mod:`.signing`, the review words in :mod:`.mapping`, the typed details and the safe ``raw``
in :mod:`.details`, the error table in :mod:`.errors`.
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

from .details import SumsubDetails, parse_details, safe_raw
from .errors import ERROR_TABLE
from .mapping import REVIEW_MAP, STATUS_MAP, normalize, review_of, review_values
from .query import APP_TOKEN_ENV, SECRET_KEY_ENV, SumsubQuery, SumsubSettings
from .signing import TOKEN_HEADER, signed_headers

__all__ = [
    "APPLICANT_PATH",
    "EXTERNAL_USER_PATH",
    "RATE_LIMIT",
    "SumsubProvider",
]

APPLICANT_PATH = "/resources/applicants/{applicantId}/one"
"""One applicant by Sumsub's id: a path template below the base URL."""

EXTERNAL_USER_PATH = "/resources/applicants/-;externalUserId={externalUserId}/one"
"""One applicant by the partner's user id (``-;externalUserId=`` is literal path text)."""

RATE_LIMIT = 60.0
"""Sumsub's documented GET limit, 300 requests per 5 s, as requests/second."""

_SECRET_HEADERS = frozenset({TOKEN_HEADER.lower()})
_PERSONAL_PARAMS = frozenset({"applicantId", "externalUserId"})


class SumsubProvider(HTTPStatusProvider):
    """The review of a Sumsub applicant, asked by applicant id or external user id.

    >>> SumsubProvider().normalize("completed/RED/RETRY")
    <KYCState.ACTION_REQUIRED: 'action_required'>
    """

    name: ClassVar[str] = "sumsub"
    query_type: ClassVar[type[Any]] = SumsubQuery
    settings_type: ClassVar[type[Any]] = SumsubSettings
    details_type: ClassVar[type[Any]] = SumsubDetails
    status_map: ClassVar[StatusMap] = STATUS_MAP
    rate_limit: ClassVar[float | None] = RATE_LIMIT
    error_table = ERROR_TABLE
    composite_map: ClassVar[CompositeStatusMap] = REVIEW_MAP
    """How ``reviewStatus``, ``reviewAnswer`` and ``reviewRejectType`` combine (docs)."""

    def normalize(self, raw: Any) -> KYCState:
        """The state of an applicant, a ``review`` object or a ``raw_status`` string.

        See :func:`.mapping.normalize`. Total and pure.
        """
        return normalize(raw)

    def build_request(self, query: SumsubQuery, settings: SumsubSettings) -> Request:
        """The unsigned request for ``query``, with ``X-App-Token``.

        The timestamp and signature are added by :meth:`sign` before every attempt.
        Raises :class:`kycbridge.InvalidQuery` when a credential is missing: nothing is sent.
        """
        missing = [
            f"{field} ({env})"
            for field, env, value in (
                ("app_token", APP_TOKEN_ENV, settings.app_token),
                ("secret_key", SECRET_KEY_ENV, settings.secret_key),
            )
            if not value
        ]
        if missing or settings.app_token is None:
            raise InvalidQuery(
                f"Sumsub needs the setting(s) {', '.join(missing)}", provider=self.name
            )
        if query.applicant_id is not None:
            path, params = APPLICANT_PATH, {"applicantId": query.applicant_id}
        else:
            assert query.external_user_id is not None
            path, params = EXTERNAL_USER_PATH, {"externalUserId": query.external_user_id}
        return Request(
            url=settings.base_url,
            path=path,
            path_params=params,
            headers={TOKEN_HEADER: settings.app_token, "Accept": "application/json"},
            method="GET",
            secret_headers=_SECRET_HEADERS,
            personal_params=_PERSONAL_PARAMS,
        )

    def sign(self, request: Request, settings: SumsubSettings, now: float) -> Request:
        """``request`` with ``X-App-Access-Ts`` and ``X-App-Access-Sig`` for time ``now``.

        The signature covers ``ts + METHOD + path_with_query + body`` exactly as sent
        (:mod:`.signing`); the transport calls this before every attempt, so a retry after a
        long ``Retry-After`` carries a fresh timestamp.
        """
        if not settings.secret_key:  # build_request refused already; never sign with nothing
            raise InvalidQuery(
                f"Sumsub needs the setting(s) secret_key ({SECRET_KEY_ENV})", provider=self.name
            )
        headers = signed_headers(
            settings.secret_key, now, request.method, request.path_with_query, request.body
        )
        return request.with_headers(headers, secret=True)

    def parse(self, payload: Any, response: Response) -> Parsed:
        """Read a 2xx answer: one applicant object.

        The state comes from its ``review`` (:mod:`.mapping`); ``raw_status`` is the composite
        ``"completed/RED/RETRY"`` form. Raises :class:`kycbridge.MalformedResponse` for any
        other shape (the message never quotes the body: an applicant is personal data).
        """
        if not is_json_type(response.content_type):
            shown = response.content_type or "no content type"
            raise self._malformed(response, f"answer served as {shown}, not application/json")
        if not isinstance(payload, dict):
            raise self._malformed(response, "answer is not a JSON object")
        if "review" not in payload and "id" not in payload:
            raise self._malformed(response, "answer is not an applicant (no id, no review)")
        try:
            details = parse_details(payload)
        except MalformedResponse as exc:
            raise self._malformed(response, exc.message) from None
        # What normalize() and raw_status_of() do, reading the review's three words once:
        # parse_details read them already (type-checked; the result's only when completed).
        cells: tuple[object, ...]
        if isinstance(payload.get("review"), dict):
            cells = (details.review_status, details.review_answer, details.reject_type)
        else:  # no review object: the words, if any, are the applicant's own fields
            cells = review_values(review_of(payload))
        return Parsed(
            state=REVIEW_MAP.lookup(*cells),
            raw_status=REVIEW_MAP.raw_status(cells),
            details=details,
            raw=safe_raw(payload),  # no info, fixedInfo, email, externalUserId...
        )

    def mask_text(self, text: str) -> str:
        """Emails an answer may carry masked too (the core masks the subject itself)."""
        return mask_personal(text)

    def _malformed(self, response: Response, why: str) -> MalformedResponse:
        return MalformedResponse(why, provider=self.name, http_status=response.status)
