"""The Onfido provider: ``GET {base_url}/workflow_runs/{workflow_run_id}`` (API v3.6).

The data lives next door: the query and settings in :mod:`.query`, the status words in
:mod:`.mapping`, the typed details in :mod:`.details`, the error table in :mod:`.errors`.
This class wires them into :class:`kycbridge.HTTPStatusProvider`. Onfido's ``sdk_token`` (a
bearer token in every answer) and ``customer_user_id`` stay out of reports (:meth:`parse`
returns the cleaned payload as ``Parsed.raw``) and out of error texts (:meth:`mask_text`);
the core masks the run id (a personal path parameter, and the subject) in every error.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar
from urllib.parse import urlencode

from kycbridge import (
    HTTPStatusProvider,
    InvalidQuery,
    MalformedResponse,
    Parsed,
    Request,
    StatusMap,
)
from kycbridge.credentials import CredentialInfo, Token, TokenExchange, credential_key
from kycbridge.errortable import is_json_type, mask_personal
from kycbridge.transport import Response

from .details import OnfidoDetails, parse_details, scrub_hidden, without_secrets
from .errors import ERROR_TABLE
from .mapping import STATUS_MAP
from .query import API_TOKEN_ENV, OnfidoQuery, OnfidoSettings

__all__ = ["OAUTH_TOKEN_PATH", "RATE_LIMIT", "STATUS_PATH", "OnfidoProvider", "read_oauth_token"]

STATUS_PATH = "/workflow_runs/{workflow_run_id}"
"""The status endpoint, below the base URL."""

OAUTH_TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path
"""The OAuth2 token endpoint, below the base URL (unconfirmed: RFC 6749's client credentials)."""

RATE_LIMIT = 400 / 60
"""Onfido's documented limit: 400 requests/minute (about 6.67/s)."""

MAX_TOKEN_LIFETIME = 24 * 3600.0
"""Longest ``expires_in`` believed, in seconds (a larger one is cut to this)."""

_SECRET_HEADERS = frozenset({"authorization"})
_PERSONAL_PARAMS = frozenset({"workflow_run_id"})
_TOKEN = re.compile(r"[\x21-\x7e]{1,4096}")
_EXPIRED = re.compile(rb"invalid_token|expired", re.IGNORECASE)


def read_oauth_token(payload: Any, now: float) -> Token:
    """The token of an RFC 6749 answer: ``{"access_token", "token_type": "Bearer", "expires_in"}``.

    Raises ``ValueError`` for another shape (the core makes it a ``MalformedResponse``).
    """
    value, kind, expires_in = payload["access_token"], payload["token_type"], payload["expires_in"]
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise ValueError("access_token is not a header-safe string")
    if not isinstance(kind, str) or kind.lower() != "bearer":
        raise ValueError("token_type is not Bearer")
    if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)):
        raise ValueError("expires_in is not a number")
    return Token(value=value, expires_at=now + min(float(expires_in), MAX_TOKEN_LIFETIME),
                 issued_at=now)


def _with_bearer(request: Request, token: Token) -> Request:
    return request.with_headers({"Authorization": f"Bearer {token.value}"}, secret=True)


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
    credential_info = CredentialInfo(
        static=("api_token",),
        exchanged_from=("client_id", "client_secret"),
        obtains="an OAuth2 access token (client credentials, Bearer; unconfirmed)",
    )

    def credential(self, settings: OnfidoSettings) -> TokenExchange | None:
        """The OAuth2 client-credentials exchange, or ``None`` with an ``api_token`` (it wins).

        ``POST {base_url}/oauth/token``, form ``grant_type=client_credentials&client_id=...
        &client_secret=...``.
        """
        if settings.api_token or settings.client_id is None or settings.client_secret is None:
            return None
        url = settings.url + OAUTH_TOKEN_PATH
        form = {
            "grant_type": "client_credentials",
            "client_id": settings.client_id,
            "client_secret": settings.client_secret,
        }
        return TokenExchange(
            key=credential_key(self.name, url, settings.client_id, settings.client_secret),
            request=Request(
                url=url,
                method="POST",
                headers={"Accept": "application/json"},
                body=urlencode(form).encode("ascii"),
                content_type="application/x-www-form-urlencoded",
            ),
            read=read_oauth_token,
            apply=_with_bearer,
            settings=("client_id", "client_secret"),
        )

    def token_expired(self, response: Response) -> bool:
        """A 401 saying ``invalid_token`` or "expired" (RFC 6750; unconfirmed for Onfido)."""
        if response.status != 401:
            return False
        challenge = str(response.headers.get("www-authenticate", "")).encode("latin-1", "replace")
        return bool(_EXPIRED.search(challenge) or _EXPIRED.search(response.body[:4096]))

    def mask_text(self, text: str) -> str:
        """``text`` without ``sdk_token``/``customer_user_id`` values and JWTs."""
        return scrub_hidden(text)

    def build_request(self, query: OnfidoQuery, settings: OnfidoSettings) -> Request:
        """``GET {base_url}/workflow_runs/{id}`` with ``Authorization: Token token=...``.

        The id is a personal path parameter: the core percent-encodes it into one segment and
        masks it in logs and error text.

        With ``client_id``/``client_secret`` instead of an API token, the header is set by
        the exchange (``Authorization: Bearer <access token>``).

        Raises :class:`kycbridge.InvalidQuery` when no credential is configured: nothing is
        sent.
        """
        headers = {"Accept": "application/json"}
        if settings.api_token:
            headers["Authorization"] = f"Token token={settings.api_token}"
        elif settings.client_id is None:
            raise InvalidQuery(
                f"Onfido needs an API token: set {API_TOKEN_ENV} or the api_token setting "
                "(or client_id and client_secret)",
                provider=self.name,
            )
        return Request(
            url=settings.url,
            path=STATUS_PATH,
            path_params={"workflow_run_id": query.workflow_run_id},
            personal_params=_PERSONAL_PARAMS,
            headers=headers,
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
                      details=details, raw=without_secrets(payload))

    def _malformed(self, response: Response, why: str) -> MalformedResponse:
        # the core masks the run id, mask_text() the hidden fields, in the excerpt
        excerpt = mask_personal(response.excerpt())
        return MalformedResponse(
            f"{why}: {excerpt!r}", provider=self.name, http_status=response.status
        )
