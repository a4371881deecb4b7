"""The Onfido provider: ``GET {base_url}/workflow_runs/{workflow_run_id}`` (API v3.6).

The data lives next door: the query and settings in :mod:`.query`, the status words in
:mod:`.mapping`, the typed details in :mod:`.details`, the error table in :mod:`.errors`.
This class wires them into :class:`kycbridge.HTTPStatusProvider`, and keeps Onfido's
``sdk_token`` (a bearer token in every answer) and ``customer_user_id`` out of reports and
error texts.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from kycbridge import (
    HTTPStatusProvider,
    InvalidQuery,
    KYCBridgeError,
    MalformedResponse,
    Parsed,
    Request,
    StatusMap,
    StatusReport,
)
from kycbridge.errortable import is_json_type, mask_personal
from kycbridge.redact import mask
from kycbridge.transport import Response, Transport

from .details import OnfidoDetails, parse_details, scrub_hidden, without_secrets
from .errors import ERROR_TABLE
from .mapping import STATUS_MAP
from .query import API_TOKEN_ENV, OnfidoQuery, OnfidoSettings

__all__ = ["RATE_LIMIT", "STATUS_PATH", "OnfidoProvider"]

STATUS_PATH = "/workflow_runs/{workflow_run_id}"
"""The status endpoint, below the base URL."""

RATE_LIMIT = 400 / 60
"""Onfido's documented limit: 400 requests/minute (about 6.67/s)."""

_SECRET_HEADERS = frozenset({"authorization"})
_PERSONAL_PARAMS = frozenset({"workflow_run_id"})


def _scrub(text: str, run_id: str | None) -> str:
    """``text`` without hidden fields' values, and with ``run_id`` masked."""
    text = scrub_hidden(text)
    if run_id and len(run_id) >= 3 and run_id in text:
        text = text.replace(run_id, mask(run_id))
    return text


class OnfidoProvider(HTTPStatusProvider):
    """The status of an Onfido workflow run, asked by its id.

    >>> OnfidoProvider().normalize("awaiting_input")
    <KYCState.ACTION_REQUIRED: 'action_required'>
    """

    name: ClassVar[str] = "onfido"
    query_type: ClassVar[type[Any]] = OnfidoQuery
    settings_type: ClassVar[type[Any]] = OnfidoSettings
    details_type: ClassVar[type[Any]] = OnfidoDetails
    status_map: ClassVar[StatusMap] = STATUS_MAP
    rate_limit: ClassVar[float | None] = RATE_LIMIT
    error_table = ERROR_TABLE

    def build_request(self, query: OnfidoQuery, settings: OnfidoSettings) -> Request:
        """``GET {base_url}/workflow_runs/{id}`` with ``Authorization: Token token=...``.

        The id is a personal path parameter: the core percent-encodes it into one segment and
        masks it in logs and error text.

        Raises :class:`kycbridge.InvalidQuery` when no API token is configured: nothing is
        sent.
        """
        if not settings.api_token:
            raise InvalidQuery(
                f"Onfido needs an API token: set {API_TOKEN_ENV} or the api_token setting",
                provider=self.name,
            )
        return Request(
            url=settings.url,
            path=STATUS_PATH,
            path_params={"workflow_run_id": query.workflow_run_id},
            personal_params=_PERSONAL_PARAMS,
            headers={
                "Authorization": f"Token token={settings.api_token}",
                "Accept": "application/json",
            },
            method="GET",
            secret_headers=_SECRET_HEADERS,
        )

    def parse(self, payload: Any, response: Response) -> Parsed:
        """Read a 2xx answer: a workflow run object with a string ``status``.

        ``raw_status`` is the ``status`` word as received. Raises
        :class:`kycbridge.MalformedResponse` for any other shape.
        """
        if not is_json_type(response.content_type):
            shown = response.content_type or "no content type"
            raise self._malformed(response, f"answer served as {shown}, not application/json")
        if not isinstance(payload, dict):
            raise self._malformed(response, "answer is not a JSON object (a workflow run)")
        if not isinstance(payload.get("status"), str):
            raise self._malformed(response, "the workflow run has no status string")
        try:
            details = parse_details(payload)
        except MalformedResponse as exc:
            raise self._malformed(response, exc.message) from None
        return Parsed(state=self.normalize(details.status), raw_status=details.status,
                      details=details)

    def fetch(self, query: Any, settings: Any, transport: Transport) -> StatusReport:
        """Ask once (:meth:`HTTPStatusProvider.fetch`), keeping hidden fields out.

        ``sdk_token`` and ``customer_user_id`` are taken out of the report's raw payload and
        out of every error's text; the run id is masked there too (an answer's excerpt in
        a ``MalformedResponse`` echoes it: the run object's ``id``, its ``dashboard_url``).
        """
        try:
            report = super().fetch(query, settings, transport)
        except KYCBridgeError as exc:
            run_id = getattr(query, "workflow_run_id", None)
            exc.message = _scrub(exc.message, run_id)
            if exc.provider_message:
                exc.provider_message = _scrub(exc.provider_message, run_id)
            raise
        return attrs.evolve(report, raw=without_secrets(report.raw))

    def _malformed(self, response: Response, why: str) -> MalformedResponse:
        # fetch() scrubs the hidden fields and the run id out of the excerpt
        excerpt = mask_personal(response.excerpt())
        return MalformedResponse(
            f"{why}: {excerpt!r}", provider=self.name, http_status=response.status
        )
