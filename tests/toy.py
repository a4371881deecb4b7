"""A tiny provider ("toy") and its simulator, for testing the core without real plugins.

The toy provider exists only here, so that the core is tested without any real provider
plugin installed. Its API: ``GET /status?subject=S`` with header ``x-token``; 200
``{"state": WORD, "flag": bool}``; errors ``{"code": C, "message": M}``.
"""

from __future__ import annotations

from typing import Any

import attrs

import kycbridge
from kycbridge import HTTPStatusProvider, KYCState, Parsed, Request, StatusMap
from kycbridge.errors import (
    AuthenticationError,
    KYCBridgeError,
    MalformedResponse,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    SubjectNotFound,
)
from kycbridge.redact import mask
from kycbridge.sandbox import SimRequest, SimResponse
from kycbridge.transport import Response

TOY_TOKEN = "toy-secret-token-0123456789"


def _masked(value: object) -> str:
    return repr(mask(value))


@attrs.frozen
class ToyQuery:
    subject: str = attrs.field(validator=attrs.validators.min_len(1), repr=_masked)
    token: str | None = kycbridge.secret(default=None)


@attrs.frozen
class ToySettings:
    base_url: str = "http://127.0.0.1:9"
    retries_hint: int = 0


@attrs.frozen
class ToyDetails:
    word: str | None = None
    flag: bool = False


TOY_MAP = StatusMap(
    {
        "NEW": KYCState.NOT_STARTED,
        "WORKING": KYCState.IN_PROGRESS,
        "REVIEW": KYCState.IN_REVIEW,
        "OK": KYCState.APPROVED,
        "NO": KYCState.REJECTED,
    }
)

ERRORS: dict[int, type[KYCBridgeError]] = {
    401: AuthenticationError,
    404: SubjectNotFound,
    429: RateLimited,
    500: ProviderUnavailable,
    503: ProviderUnavailable,
}


class ToyProvider(HTTPStatusProvider):
    name = "toy"
    query_type = ToyQuery
    settings_type = ToySettings
    details_type = ToyDetails
    status_map = TOY_MAP

    def build_request(self, query: ToyQuery, settings: ToySettings) -> Request:
        headers = {"x-token": query.token} if query.token else {}
        return Request(
            url=f"{settings.base_url}/status",
            params={"subject": query.subject},
            headers=headers,
            secret_headers=frozenset({"x-token"}),
            personal_params=frozenset({"subject"}),
        )

    def parse(self, payload: Any, response: Response) -> Parsed:
        if not isinstance(payload, dict) or not isinstance(payload.get("state"), str):
            raise MalformedResponse("no state", http_status=response.status)
        word = payload["state"]
        return Parsed(
            state=self.normalize(word),
            raw_status=word,
            details=ToyDetails(word, bool(payload.get("flag"))),
            blocklisted=bool(payload.get("flag")),
        )

    def error_for(self, response: Response) -> KYCBridgeError:
        cls = ERRORS.get(response.status, RequestRejected)
        return cls(
            f"toy said {response.excerpt()}",
            http_status=response.status,
            retry_after=response.retry_after(),
        )


class ToySimulator:
    """Plays a list of words per subject; ``err-<code>`` answers that code, ``junk`` junk."""

    name = "toy"
    settings: dict[str, str] = {}
    scenarios = ()

    def __init__(self) -> None:
        self.scripts: dict[str, list[str]] = {}
        self.calls: dict[str, int] = {}

    def handle(self, request: SimRequest) -> SimResponse:
        if request.path != "/status":
            return SimResponse.json(404, {"code": 404, "message": "no such path"})
        if request.headers.get("x-token") != TOY_TOKEN:
            return SimResponse.json(401, {"code": 401, "message": "bad token"})
        subject = request.param("subject") or ""
        if subject.startswith("err-"):
            code = int(subject[4:])  # the answer names no subject: an excerpt shows no one
            return SimResponse.json(code, {"code": code, "message": "asked"})
        if subject == "junk":
            return SimResponse.json(200, {"nothing": "here"})
        script = self.scripts.get(subject, ["NEW"])
        n = self.calls.get(subject, 0)
        self.calls[subject] = n + 1
        word = script[min(n, len(script) - 1)]
        return SimResponse.json(200, {"state": word, "flag": subject.startswith("flag")})

    def reset(self) -> None:
        self.calls.clear()


class toy_plugin:
    """A plugin object registering the toy provider and simulator."""

    @staticmethod
    @kycbridge.hookimpl
    def register_providers(register: Any) -> None:
        register(ToyProvider())

    @staticmethod
    @kycbridge.hookimpl
    def register_simulators(register: Any) -> None:
        register(ToySimulator())
