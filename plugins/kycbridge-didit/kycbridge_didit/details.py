"""Typed details of a Didit decision: :class:`DiditDetails` and its :class:`FeatureCheck` rows.

Only non-personal fields are kept. A decision also carries ``vendor_data`` (the partner's own
user id), ``metadata``, ``expected_details``, ``contact_details`` and, per feature that ran,
the person's data (names, dates of birth, document numbers, images): none of it is read into
the details, and :func:`public_payload` drops it from the payload kept on reports.

:func:`parse_details` reads a decision strictly where it reads at all: every documented field
is optional (absent and ``null`` both mean "not said"), extra fields are ignored, and a
documented field of the wrong JSON type raises :class:`kycbridge.MalformedResponse` naming
the field. No coercion: ``"12"`` is not a session number.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from kycbridge import MalformedResponse
from kycbridge.redact import mask

__all__ = [
    "FEATURES_V2",
    "FEATURES_V3",
    "TOP_FIELDS",
    "DiditDetails",
    "FeatureCheck",
    "parse_details",
    "public_payload",
    "shape_version",
]


def _masked_repr(value: str | None) -> str:
    return "None" if value is None else repr(mask(value))


@attrs.frozen
class FeatureCheck:
    """One verification feature that ran in the session, and its own status."""

    feature: str
    """The feature: ``id_verification``, ``liveness``, ``face_match``, ``aml``, ..."""
    status: str | None = None
    """The feature's status word as Didit gave it (``Approved``, ``Declined``, ``In Review``...)."""


@attrs.frozen
class DiditDetails:
    """What a Didit decision said that is not personal data. ``None``: absent or ``null``."""

    session_id: str | None = attrs.field(default=None, repr=_masked_repr)
    """The session's id (the subject): masked in the repr."""
    session_number: int | None = None
    """Didit's running number of the session within the application."""
    status: str | None = None
    """The session's status word, as received."""
    workflow_id: str | None = None
    """The workflow the session runs."""
    session_url: str | None = None
    """The hosted verification link: where to send a user whose session waits on them."""
    features: tuple[str, ...] = ()
    """The features the workflow includes (``features``), as Didit names them."""
    checks: tuple[FeatureCheck, ...] = ()
    """The features that ran, one row per result, with their statuses (no personal data)."""
    api_version: str | None = None
    """The API version whose shape the decision has (``v3`` or ``v2``), told from its keys
    (:func:`shape_version`); ``None`` when it has no per-feature key of either."""


TOP_FIELDS: Mapping[str, type] = {
    "session_id": str,
    "session_number": int,
    "status": str,
    "workflow_id": str,
    "session_url": str,
    "features": list,
}
"""The documented top-level fields read, and their JSON types."""

FEATURES_V3: Mapping[str, str] = {
    "id_verifications": "id_verification",
    "nfc_verifications": "nfc",
    "liveness_checks": "liveness",
    "face_matches": "face_match",
    "poa_verifications": "proof_of_address",
    "phone_verifications": "phone",
    "email_verifications": "email",
    "aml_screenings": "aml",
    "database_validations": "database_validation",
    "ip_analyses": "ip_analysis",
}
"""v3's per-feature arrays (``null`` until the feature ran) -> feature name."""

FEATURES_V2: Mapping[str, str] = {
    "id_verification": "id_verification",
    "nfc": "nfc",
    "liveness": "liveness",
    "face_match": "face_match",
    "poa": "proof_of_address",
    "phone": "phone",
    "email": "email",
    "aml": "aml",
    "database_validation": "database_validation",
    "ip_analysis": "ip_analysis",
}
"""v2's per-feature objects (``null`` until the feature ran) -> feature name."""

_JSON_NAMES = {str: "a string", int: "an integer", list: "an array", dict: "an object"}


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    for kind, name in ((str, "a string"), (int, "an integer"), (float, "a number"),
                       (list, "an array"), (dict, "an object")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _wrong(where: str, expected: str, value: object) -> MalformedResponse:
    return MalformedResponse(f"{where} should be {expected}, not {_json_type(value)}")


def _field(payload: Mapping[str, Any], name: str, kind: type) -> Any:
    value = payload.get(name)
    # type() and not isinstance(): bool is an int subclass, and no coercion is wanted.
    if value is not None and type(value) is not kind:
        raise _wrong(name, _JSON_NAMES[kind], value)
    return value


def _feature_status(result: object, where: str) -> str | None:
    if not isinstance(result, dict):
        raise _wrong(where, "an object", result)
    status = result.get("status")
    if status is not None and not isinstance(status, str):
        raise _wrong(f"{where}.status", "a string", status)
    return status


def _checks(payload: Mapping[str, Any], version: str | None) -> tuple[FeatureCheck, ...]:
    rows: list[FeatureCheck] = []
    if version is None:
        return ()
    if version == "v2":
        for key, feature in FEATURES_V2.items():
            result = payload.get(key)
            if result is not None:
                rows.append(FeatureCheck(feature, _feature_status(result, key)))
        return tuple(rows)
    for key, feature in FEATURES_V3.items():
        results = payload.get(key)
        if results is None:
            continue
        if not isinstance(results, list):
            raise _wrong(key, "an array", results)
        for index, result in enumerate(results):
            if isinstance(result, dict):  # the usual row, read without naming its place
                status = result.get("status")
                if status is None or isinstance(status, str):
                    rows.append(FeatureCheck(feature, status))
                    continue
            _feature_status(result, f"{key}[{index}]")  # raises, naming the row
    return tuple(rows)


def shape_version(payload: Mapping[str, Any]) -> str | None:
    """Which API version's shape a decision has, told from its keys, ``null`` values included.

    ``v3`` when it has a v3 per-feature array key (:data:`FEATURES_V3`: ``id_verifications``,
    ``liveness_checks``...), else ``v2`` when it has a v2 per-feature object key
    (:data:`FEATURES_V2`: ``id_verification``, ``liveness``...), else ``None``. The two sets of
    keys are disjoint, and Didit sends every feature key of its version (``null`` until the
    feature ran), so the answer tells its own version: no need to know what was asked.
    """
    if any(key in payload for key in FEATURES_V3):
        return "v3"
    if any(key in payload for key in FEATURES_V2):
        return "v2"
    return None


def parse_details(payload: Mapping[str, Any], version: str | None = None) -> DiditDetails:
    """Read a decision into :class:`DiditDetails` (strict types, see the module doc).

    ``version`` (``v3`` or ``v2``) says which per-feature keys to read; by default the
    decision's own shape (:func:`shape_version`) says.
    """
    if version is None:
        version = shape_version(payload)
    features = _field(payload, "features", list) or []
    for index, feature in enumerate(features):
        if not isinstance(feature, str):
            raise _wrong(f"features[{index}]", "a string", feature)
    return DiditDetails(
        session_id=_field(payload, "session_id", str),
        session_number=_field(payload, "session_number", int),
        status=_field(payload, "status", str),
        workflow_id=_field(payload, "workflow_id", str),
        session_url=_field(payload, "session_url", str),
        features=tuple(features),
        checks=_checks(payload, version),
        api_version=version,
    )


def public_payload(details: DiditDetails) -> dict[str, Any]:
    """The decision as kept on a report's ``raw``: the non-personal fields only.

    ``vendor_data``, ``metadata``, ``expected_details``, ``contact_details`` and the
    per-feature results (names, dates of birth, documents, images) are left out.
    """
    kept: dict[str, Any] = {
        "session_id": details.session_id,
        "session_number": details.session_number,
        "status": details.status,
        "workflow_id": details.workflow_id,
        "session_url": details.session_url,
        "features": list(details.features),
        "checks": [{"feature": c.feature, "status": c.status} for c in details.checks],
    }
    return {k: v for k, v in kept.items() if v is not None}
