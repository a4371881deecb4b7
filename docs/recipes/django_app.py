"""A single-file Django project whose view answers a user's KYC status via kycbridge.

Run: ``KYCBRIDGE_STARKFI_API_KEY=... python django_app.py runserver``.
"""

from __future__ import annotations

import os
import sys

import django
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import path

import kycbridge

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "change-me"),
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost").split(","),
        MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    )
    django.setup()

# Your user model: which provider verifies each user, and the query fields that find them.
USERS: dict[str, tuple[str, dict[str, str]]] = {
    "42": ("starkfi", {"email": "jane@example.com"}),
}

_bridge: kycbridge.Bridge | None = None


def bridge() -> kycbridge.Bridge:
    """The process's one bridge (thread-safe), made on first use; settings from env."""
    global _bridge
    if _bridge is None:
        _bridge = kycbridge.Bridge()
    return _bridge


def kyc_status(request: HttpRequest, user_id: str) -> JsonResponse:
    """GET /users/<id>/kyc: the user's state, whether it is final, the provider's word."""
    if user_id not in USERS:
        return JsonResponse({"error": "no such user"}, status=404)
    provider, fields = USERS[user_id]
    try:
        report = bridge().status(provider, **fields)
    except kycbridge.SubjectNotFound:
        return JsonResponse({"state": "not_started", "final": False})
    except (kycbridge.ProviderUnavailable, kycbridge.RateLimited):
        return JsonResponse({"error": "provider unavailable, try again"}, status=503)
    except kycbridge.KYCBridgeError as exc:
        return JsonResponse({"error": exc.kind}, status=502)
    return JsonResponse(
        {
            "state": report.state.value,
            "final": report.final,
            "raw_status": report.raw_status,
            "blocklisted": report.blocklisted,
        }
    )


urlpatterns = [path("users/<str:user_id>/kyc", kyc_status)]

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
