"""A Flask app answering "where is this user's KYC?" through one shared kycbridge.Bridge.

Run: ``KYCBRIDGE_STARKFI_API_KEY=... flask --app flask_app run``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, jsonify

import kycbridge

# Your user store: which provider verifies each user, and the query fields that find them.
USERS: dict[str, tuple[str, dict[str, str]]] = {
    "42": ("starkfi", {"email": "jane@example.com"}),
}


def create_app(
    bridge: kycbridge.Bridge | None = None,
    users: Mapping[str, tuple[str, Mapping[str, str]]] = USERS,
) -> Flask:
    """The app. One bridge per process: it is thread-safe and pools connections."""
    app = Flask(__name__)
    kyc = bridge if bridge is not None else kycbridge.Bridge()  # settings from env

    @app.get("/users/<user_id>/kyc")
    def kyc_status(user_id: str) -> Any:
        if user_id not in users:
            return jsonify(error="no such user"), 404
        provider, fields = users[user_id]
        try:
            report = kyc.status(provider, **fields)
        except kycbridge.SubjectNotFound:
            return jsonify(state="not_started", final=False)  # no KYC session yet
        except (kycbridge.ProviderUnavailable, kycbridge.RateLimited):
            return jsonify(error="provider unavailable, try again"), 503  # never a false state
        except kycbridge.KYCBridgeError as exc:
            app.logger.warning("kyc status failed: %s", exc)  # messages mask personal data
            return jsonify(error=exc.kind), 502
        return jsonify(
            state=report.state.value,
            final=report.final,
            raw_status=report.raw_status,
            blocklisted=report.blocklisted,
        )

    return app
