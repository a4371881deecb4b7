"""A path-addressed, signing toy provider ("pathtoy") and its simulator.

Like the real providers that put the subject in the URL path and sign each request:

- ``GET /resources/applicants/-;externalUserId={user_id}/one?fields=status``
- ``POST /v1/sessions/{user_id}/decision`` with a JSON body ``{"note": ...}``

Both carry ``x-ts`` and ``x-sig`` = hex HMAC-SHA256 over ``ts + METHOD + path?query + body``
with the app secret; the simulator recomputes it over the request exactly as received.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from typing import Any
from urllib.parse import unquote

import attrs

import kycbridge
from kycbridge import HTTPStatusProvider, KYCState, Parsed, Request, StatusMap
from kycbridge.errors import KYCBridgeError, ProviderUnavailable, RequestRejected
from kycbridge.redact import mask
from kycbridge.sandbox import SimRequest, SimResponse
from kycbridge.transport import Response, json_body

APP_SECRET = "pathtoy-app-secret-0123456789"
USER_SEGMENT = "-;externalUserId="


@attrs.frozen
class PathQuery:
    user_id: str = attrs.field(repr=lambda v: repr(mask(v)))
    note: str | None = None


@attrs.frozen
class PathSettings:
    base_url: str = "http://127.0.0.1:9"
    secret: str = kycbridge.secret(default=APP_SECRET)


@attrs.frozen
class PathDetails:
    word: str | None = None


def signature(secret: str, ts: str, method: str, target: str, body: bytes) -> str:
    message = ts.encode() + method.encode() + target.encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class PathProvider(HTTPStatusProvider):
    name = "pathtoy"
    query_type = PathQuery
    settings_type = PathSettings
    details_type = PathDetails
    status_map = StatusMap({"OK": KYCState.APPROVED, "WAIT": KYCState.IN_REVIEW})

    def subject(self, query: PathQuery) -> str | None:
        return query.user_id

    def build_request(self, query: PathQuery, settings: PathSettings) -> Request:
        if query.note is None:
            request = Request(
                url=settings.base_url,
                path="/resources/applicants/-;externalUserId={user_id}/one",
                path_params={"user_id": query.user_id},
                params={"fields": "status"},
                personal_params=frozenset({"user_id"}),
            )
        else:
            request = Request(
                url=settings.base_url,
                method="POST",
                path="/v1/sessions/{user_id}/decision",
                path_params={"user_id": query.user_id},
                body=json_body({"note": query.note, "n": 1}),
                content_type="application/json",
                personal_params=frozenset({"user_id"}),
            )
        return request  # signed by the transport before every attempt: sign() below

    def sign(self, request: Request, settings: PathSettings, now: float) -> Request:
        ts = str(int(now))
        sig = signature(
            settings.secret, ts, request.method, request.path_with_query, request.body or b""
        )
        return request.with_headers({"x-ts": ts, "x-sig": sig}, secret=True)

    def parse(self, payload: Any, response: Response) -> Parsed:
        word = payload["state"]
        return Parsed(self.normalize(word), word, PathDetails(word))

    def error_for(self, response: Response) -> KYCBridgeError:
        cls = ProviderUnavailable if response.status >= 500 else RequestRejected
        return cls(f"pathtoy answered {response.status}", http_status=response.status)


class FakeClock:
    """Seconds since the epoch, moved only by :meth:`sleep`: the signer's and the simulator's."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class ClockedPathProvider(PathProvider):
    """Signs with ``clock`` instead of the system time."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def now(self) -> float:
        return self.clock()


class SignOncePathProvider(ClockedPathProvider):
    """The mistake the per-attempt step exists for: a signature made once, replayed on retry."""

    def build_request(self, query: PathQuery, settings: PathSettings) -> Request:
        request = super().build_request(query, settings)
        return PathProvider.sign(self, request, settings, self.clock())

    def sign(self, request: Request, settings: PathSettings, now: float) -> Request:
        return request


TOLERANCE = 60.0
"""How old a signature's timestamp may be, in seconds (like Sumsub's one minute)."""

RETRY_AFTER = 90
"""What ``rate-limited`` users are first told to wait: longer than :data:`TOLERANCE`."""


class PathSimulator:
    """Checks the signature over the raw request; records (method, user id, body) per call.

    With a ``clock``, a timestamp more than :data:`TOLERANCE` seconds away from it is refused
    (401), and a user id containing ``rate-limited`` is first answered 429 with
    ``Retry-After: 90``.
    """

    name = "pathtoy"
    settings: dict[str, str] = {}
    scenarios = ()

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.lock = threading.Lock()
        self.seen: list[tuple[str, str, bytes]] = []
        self.requests: list[SimRequest] = []
        self.clock = clock
        self.limited: set[str] = set()

    def handle(self, request: SimRequest) -> SimResponse:
        if self.clock is not None:
            try:
                age = abs(self.clock() - float(request.headers.get("x-ts", "")))
            except ValueError:
                age = float("inf")
            if age > TOLERANCE:
                return SimResponse.json(401, {"error": "timestamp outside the tolerance"})
        expected = signature(
            APP_SECRET,
            request.headers.get("x-ts", ""),
            request.method,
            request.target,
            request.body,
        )
        if not hmac.compare_digest(expected, request.headers.get("x-sig", "")):
            return SimResponse.json(401, {"error": "bad signature"})
        segments = request.path.split("/")
        applicants = segments[1:3] == ["resources", "applicants"]
        if request.method == "GET" and len(segments) == 5 and applicants:
            if not segments[3].startswith(USER_SEGMENT) or segments[4] != "one":
                return SimResponse.json(404, {"error": "no such path"})
            user = unquote(segments[3][len(USER_SEGMENT) :])
        elif request.method == "POST" and len(segments) == 5 and segments[4] == "decision":
            user = unquote(segments[3])
        else:
            return SimResponse.json(404, {"error": "no such path"})
        with self.lock:
            self.seen.append((request.method, user, request.body))
            self.requests.append(request)
        if "rate-limited" in user and user not in self.limited:
            with self.lock:
                self.limited.add(user)
            return SimResponse.json(
                429, {"error": "slow down"}, headers={"Retry-After": str(RETRY_AFTER)}
            )
        if "junk" in user:
            return SimResponse(200, b"<html>not json</html>", content_type="text/html")
        if "err-500" in user:
            return SimResponse.json(500, {"error": "down"})
        if "err-503" in user:
            return SimResponse.json(503, {"error": "busy"})
        return SimResponse.json(200, {"state": "OK"})

    def reset(self) -> None:
        with self.lock:
            self.seen.clear()
            self.requests.clear()


class pathtoy_plugin:
    @staticmethod
    @kycbridge.hookimpl
    def register_providers(register: Any) -> None:
        register(PathProvider())

    @staticmethod
    @kycbridge.hookimpl
    def register_simulators(register: Any) -> None:
        register(PathSimulator())
