"""Typed details of a Veriff decision: :class:`VeriffDetails`.

:func:`parse_details` reads a ``verification`` object strictly: every field is optional
(absent and ``null`` both mean "not said"), extra fields are ignored, and a field of the
wrong JSON type raises :class:`kycbridge.MalformedResponse` naming the field. No coercion:
``"9001"`` is not a number.

Personal data is left out: ``person``, ``document``, ``vendorData`` and ``endUserId`` (the
partner's own user reference), and the verification ``id`` (the session id, the report's
masked subject) is not repeated here. :func:`public_payload` is what ``report.raw`` keeps:
an allow-list of the decision's non-personal fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from kycbridge import MalformedResponse

__all__ = ["RAW_VERIFICATION_FIELDS", "VERIFICATION_FIELDS", "VeriffDetails", "parse_details",
           "public_payload"]


@attrs.frozen(slots=False)
class VeriffDetails:
    """What Veriff's decision said, typed. ``None``: absent (or no decision yet)."""

    decided: bool = False
    """Whether Veriff has a decision (``verification`` was not ``null``)."""
    status: str | None = None
    """The decision word (``approved``, ``resubmission_requested``...)."""
    code: int | None = None
    """The decision code (9001, 9102, 9103, 9104, 9121; 7001, 7002 for session events)."""
    reason: str | None = None
    """Why a session was declined or sent back (Veriff's text), or ``None``."""
    reason_code: int | None = None
    """The reason's code (102-113 for declines, 201-207 for resubmissions)."""
    attempt_id: str | None = None
    """The id of the attempt the decision is about."""
    acceptance_time: str | None = None
    """When the session was accepted (ISO 8601, as Veriff sends it)."""
    decision_time: str | None = None
    """When the decision was made (ISO 8601), or ``None`` before it."""


VERIFICATION_FIELDS: Mapping[str, tuple[str, type]] = {
    # JSON name: (details field, JSON type)
    "status": ("status", str),
    "code": ("code", int),
    "reason": ("reason", str),
    "reasonCode": ("reason_code", int),
    "attemptId": ("attempt_id", str),
    "acceptanceTime": ("acceptance_time", str),
    "decisionTime": ("decision_time", str),
}
"""The ``verification`` fields read into :class:`VeriffDetails`, and their JSON types."""

_JSON_NAMES = {str: "a string", int: "an integer"}


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def parse_details(verification: Mapping[str, Any] | None) -> VeriffDetails:
    """Read a ``verification`` object (or ``None``: no decision) into :class:`VeriffDetails`."""
    if verification is None:
        return VeriffDetails()
    values: dict[str, Any] = {}
    for name, (field, kind) in VERIFICATION_FIELDS.items():
        value = verification.get(name)
        if value is None:
            continue
        # type() and not isinstance(): bool is an int subclass, and no coercion is wanted.
        if type(value) is not kind:
            raise MalformedResponse(
                f"verification.{name} should be {_JSON_NAMES[kind]}, not {_json_type(value)}"
            )
        values[field] = value
    return VeriffDetails(decided=True, **values)


RAW_VERIFICATION_FIELDS: tuple[str, ...] = ("id", *VERIFICATION_FIELDS)
"""The ``verification`` fields ``report.raw`` keeps: the decision's words, codes and times,
and the session ``id`` (the report's subject already). ``person``, ``document``,
``vendorData``, ``endUserId``, ``additionalVerifiedData`` and any field not listed here are
left out, as is the answer's ``technicalData`` (the user's IP address)."""


def public_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A 2xx decision answer as ``report.raw`` keeps it: only what is not personal.

    ``status`` and the allowed fields (:data:`RAW_VERIFICATION_FIELDS`) of ``verification``
    (``None`` stays ``None``).
    """
    kept: dict[str, Any] = {}
    if "status" in payload:
        kept["status"] = payload["status"]
    verification = payload.get("verification")
    if isinstance(verification, Mapping):
        kept["verification"] = {
            k: verification[k] for k in RAW_VERIFICATION_FIELDS if k in verification
        }
    else:
        kept["verification"] = None
    return kept
