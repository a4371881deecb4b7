"""A Starlette (ASGI) app calling kycbridge's synchronous API off the event loop.

Run: ``KYCBRIDGE_STARKFI_API_KEY=... uvicorn asgi_app:app``. FastAPI is the same: it is
Starlette underneath, and ``run_in_threadpool`` is importable from ``fastapi.concurrency``.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import kycbridge

# Your user store: which provider verifies each user, and the query fields that find them.
USERS: dict[str, tuple[str, dict[str, str]]] = {
    "42": ("starkfi", {"email": "jane@example.com"}),
}


def create_app(
    bridge: kycbridge.Bridge | None = None,
    users: Mapping[str, tuple[str, Mapping[str, str]]] = USERS,
) -> Starlette:
    """The app.

    ``Bridge.status`` blocks (HTTP, retries, the rate limit's wait): it runs in a worker
    thread, never on the event loop.
    """
    kyc = bridge if bridge is not None else kycbridge.Bridge()  # settings from env

    async def kyc_status(request: Request) -> JSONResponse:
        user_id = request.path_params["user_id"]
        if user_id not in users:
            return JSONResponse({"error": "no such user"}, status_code=404)
        provider, fields = users[user_id]
        try:
            report = await run_in_threadpool(kyc.status, provider, **fields)
        except kycbridge.SubjectNotFound:
            return JSONResponse({"state": "not_started", "final": False})
        except (kycbridge.ProviderUnavailable, kycbridge.RateLimited):
            return JSONResponse({"error": "provider unavailable, try again"}, status_code=503)
        except kycbridge.KYCBridgeError as exc:
            return JSONResponse({"error": exc.kind}, status_code=502)
        return JSONResponse(
            {
                "state": report.state.value,
                "final": report.final,
                "raw_status": report.raw_status,
                "blocklisted": report.blocklisted,
            }
        )

    return Starlette(routes=[Route("/users/{user_id}/kyc", kyc_status)])


app = create_app()
