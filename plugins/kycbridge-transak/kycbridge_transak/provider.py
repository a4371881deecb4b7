"""The Transak provider: ``GET /api/v2/kyc/id-proof-status`` of the whitelabel API.

The request, the 200 payload and the details live here; the status words are in
:mod:`kycbridge_transak.mapping` and the error table in :mod:`kycbridge_transak.errors`.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, NoReturn

import attrs

from kycbridge import (
    HTTPStatusProvider,
    MalformedResponse,
    Parsed,
    Request,
)
from kycbridge.credentials import CredentialInfo, Token, TokenExchange, credential_key
from kycbridge.errortable import is_json_type
from kycbridge.transport import Response, json_body

from .errors import ERROR_TABLE
from .mapping import STATUS_MAP
from .query import TransakQuery, TransakSettings

__all__ = [
    "ID_PROOF_STATUS_PATH",
    "REFRESH_TOKEN_PATH",
    "TransakDetails",
    "TransakProvider",
    "read_partner_token",
]

ID_PROOF_STATUS_PATH = "/api/v2/kyc/id-proof-status"
"""The endpoint's path below the base URL."""

REFRESH_TOKEN_PATH = "/partners/api/v2/refresh-token"  # noqa: S105 - a path
"""Where the partner access token is obtained, below the partner base URL."""

_HEADER_SAFE = re.compile(r"[\x21-\x7e]{1,8192}")
_EXPIRED = re.compile(rb"expired", re.IGNORECASE)


def read_partner_token(payload: Any, now: float) -> Token:
    """The token in ``{"data": {"accessToken": str, "expiresAt": <unix seconds>}}``.

    An ``expiresAt`` over 10^12 is read as milliseconds (tolerated, unconfirmed). Raises
    ``ValueError`` for another shape (the core makes it a ``MalformedResponse``).
    """
    data = payload["data"]
    value, expires = data["accessToken"], data["expiresAt"]
    if not isinstance(value, str) or not _HEADER_SAFE.fullmatch(value):
        raise ValueError("accessToken is not a header-safe string")
    if isinstance(expires, bool) or not isinstance(expires, (int, float)):
        raise ValueError("expiresAt is not a number")
    seconds = float(expires) / 1000 if expires > 1e12 else float(expires)
    return Token(value=value, expires_at=seconds, issued_at=now)


def _with_partner_token(request: Request, token: Token) -> Request:
    return request.with_headers({"x-access-token": token.value}, secret=True)


@attrs.frozen(kw_only=True)
class TransakDetails:
    """What a Transak report carries besides the state."""

    status: str
    """The raw ``data.status`` word, exactly as received."""
    kyc_type: str | None = None
    """``data.kycType`` (``SIMPLE``, ``STANDARD``, ``ENHANCED``...), ``None`` while unset."""


class TransakProvider(HTTPStatusProvider):
    """Transak's id-proof (Onfido document step) KYC status, normalized.

    ``NOT_SUBMITTED`` is ``not_started`` and ``SUBMITTED`` is ``submitted`` (the document step
    is done; that is not an approval). No rate limit is documented.
    """

    name: ClassVar[str] = "transak"
    query_type: ClassVar[type[Any]] = TransakQuery
    settings_type: ClassVar[type[Any]] = TransakSettings
    details_type: ClassVar[type[Any]] = TransakDetails
    status_map = STATUS_MAP
    rate_limit: ClassVar[float | None] = None
    error_table = ERROR_TABLE
    credential_info = CredentialInfo(
        static=("partner_access_token",),
        exchanged_from=("api_key", "api_secret"),
        obtains="the partner access token (x-access-token), valid 7 days",
    )

    def credential(self, settings: TransakSettings) -> TokenExchange | None:
        """The partner-token exchange, or ``None`` when a static token wins or no key is set.

        ``POST {partner base}/partners/api/v2/refresh-token`` with ``api-secret`` and
        ``{"apiKey": ...}``, when ``api_key``/``api_secret`` are set and no static
        ``partner_access_token`` is.
        """
        if settings.partner_access_token is not None or settings.api_secret is None:
            return None
        assert settings.api_key is not None  # the settings class checks they go together
        url = settings.partner_url + REFRESH_TOKEN_PATH
        return TokenExchange(
            key=credential_key(self.name, url, settings.api_key, settings.api_secret),
            request=Request(
                url=url,
                method="POST",
                headers={"api-secret": settings.api_secret, "accept": "application/json"},
                secret_headers=frozenset({"api-secret"}),
                body=json_body({"apiKey": settings.api_key}),
                content_type="application/json",
            ),
            read=read_partner_token,
            apply=_with_partner_token,
            settings=("api_key", "api_secret"),
        )

    def token_expired(self, response: Response) -> bool:
        """A 401 whose body says "expired" (unconfirmed: Transak documents no such answer)."""
        return response.status == 401 and _EXPIRED.search(response.body[:4096]) is not None

    def build_request(self, query: TransakQuery, settings: TransakSettings) -> Request:
        """``GET {base}/api/v2/kyc/id-proof-status?workFlowRunId=...`` with its headers.

        ``authorization`` always; ``x-user-identifier`` when the query has an email and
        ``x-access-token`` when the settings have a partner token. All three are kept out of
        logs (the email is personal data; the transport only knows how to hide headers
        entirely). The workflow run id is masked in logged URLs.
        """
        headers = {"authorization": query.access_token}
        if query.user_identifier is not None:
            headers["x-user-identifier"] = query.user_identifier
        if settings.partner_access_token is not None:
            headers["x-access-token"] = settings.partner_access_token
        return Request(
            url=settings.url + ID_PROOF_STATUS_PATH,
            params={"workFlowRunId": query.work_flow_run_id},
            headers=headers,
            secret_headers=frozenset({"authorization", "x-access-token", "x-user-identifier"}),
            personal_params=frozenset({"workFlowRunId"}),
        )

    def parse(self, payload: Any, response: Response) -> Parsed:
        """Read ``{"data": {"status": str, "kycType": str | null}}``; extra keys are ignored.

        A missing ``kycType`` is read as ``null``. Raises :class:`~kycbridge.MalformedResponse`
        for a non-JSON content type or any other shape.
        """
        if not is_json_type(response.content_type):
            media = response.content_type or "no content type"
            self._malformed(f"expected application/json, got {media}", response)
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict):
            self._malformed("'data' is missing or not an object", response)
        status = data.get("status")
        if not isinstance(status, str):
            self._malformed("'data.status' is missing or not a string", response)
        kyc_type = data.get("kycType")
        if kyc_type is not None and not isinstance(kyc_type, str):
            self._malformed("'data.kycType' is neither a string nor null", response)
        return Parsed(
            state=self.normalize(status),
            raw_status=status,
            details=TransakDetails(status=status, kyc_type=kyc_type),
        )

    def _malformed(self, reason: str, response: Response) -> NoReturn:
        raise MalformedResponse(
            f"{reason}: {response.excerpt()!r}", provider=self.name, http_status=response.status
        )
