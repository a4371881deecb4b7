"""Typed details of a Sumsub applicant's review: :class:`SumsubDetails`, and a safe ``raw``.

:func:`parse_details` reads an applicant strictly: every field is optional (absent and
``null`` both mean "not said"), extra fields are ignored, and a field of the wrong JSON type
raises :class:`kycbridge.MalformedResponse` naming the field. No coercion: ``"2"`` is not a
number. ``reviewResult`` is read only when ``reviewStatus`` is ``completed`` (Sumsub: it is
only meaningful then), so a stale result on a resubmitted applicant is not reported.

Personal data is left out, here and in :func:`safe_raw` (what a report keeps as ``raw``):
``info``, ``fixedInfo``, ``email``, ``phone``, ``externalUserId`` and every other applicant
field not listed in :data:`RAW_APPLICANT_FIELDS`; the applicant ``id`` too (it may be the
report's subject, shown masked).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from kycbridge import MalformedResponse
from kycbridge.mapping import canonical_word

from .mapping import COMPLETED

__all__ = [
    "RAW_APPLICANT_FIELDS",
    "RAW_RESULT_FIELDS",
    "RAW_REVIEW_FIELDS",
    "RESULT_FIELDS",
    "REVIEW_FIELDS",
    "SumsubDetails",
    "parse_details",
    "safe_raw",
    "safe_review",
]


def _labels(value: object) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    return ()


@attrs.frozen(slots=False)
class SumsubDetails:
    """What Sumsub's review said, typed. ``None``: absent (or not completed yet)."""

    review_status: str | None = None
    """``review.reviewStatus`` (``init``, ``pending``, ``completed``...)."""
    review_answer: str | None = None
    """``reviewResult.reviewAnswer``: ``GREEN`` or ``RED`` (only once completed)."""
    reject_type: str | None = None
    """``reviewResult.reviewRejectType``: ``RETRY`` (may resubmit) or ``FINAL``."""
    reject_labels: tuple[str, ...] = attrs.field(default=(), converter=_labels)
    """``reviewResult.rejectLabels`` (``FORGERY``, ``BAD_SELFIE``...)."""
    moderation_comment: str | None = None
    """``reviewResult.moderationComment``: Sumsub's comment, written to be shown to the user."""
    level_name: str | None = None
    """``review.levelName``: the verification level the applicant goes through."""
    attempt_count: int | None = None
    """``review.attemptCnt``: how many review attempts so far."""
    created_at: str | None = None
    """``review.createDate`` (``"2020-06-24 05:11:02+0000"``, as Sumsub sends it)."""
    reviewed_at: str | None = None
    """``review.reviewDate``: when the review completed, as Sumsub sends it."""
    applicant_type: str | None = None
    """The applicant's ``type``: ``individual`` or ``company``."""


REVIEW_FIELDS: Mapping[str, tuple[str, type]] = {
    # JSON name: (details field, JSON type)
    "reviewStatus": ("review_status", str),
    "levelName": ("level_name", str),
    "attemptCnt": ("attempt_count", int),
    "createDate": ("created_at", str),
    "reviewDate": ("reviewed_at", str),
}
"""The ``review`` fields read into :class:`SumsubDetails`, and their JSON types."""

RESULT_FIELDS: Mapping[str, tuple[str, type]] = {
    "reviewAnswer": ("review_answer", str),
    "reviewRejectType": ("reject_type", str),
    "rejectLabels": ("reject_labels", list),
    "moderationComment": ("moderation_comment", str),
}
"""The ``review.reviewResult`` fields read (only when completed), and their JSON types."""

RAW_APPLICANT_FIELDS = ("createdAt", "type", "review")
"""The applicant fields a report's ``raw`` keeps (``review`` filtered further)."""

RAW_REVIEW_FIELDS = (
    "reviewId", "attemptId", "attemptCnt", "levelName", "createDate", "reviewDate",
    "startDate", "priority", "reprocessing", "elapsedSincePendingMs", "elapsedSinceQueuedMs",
    "notificationFailureCnt", "reviewStatus", "reviewResult",
)  # fmt: skip
"""The ``review`` fields a report's ``raw`` keeps (``reviewResult`` filtered further)."""

RAW_RESULT_FIELDS = (
    "reviewAnswer", "rejectLabels", "reviewRejectType", "moderationComment", "buttonIds",
)  # fmt: skip
"""The ``reviewResult`` fields a report's ``raw`` keeps (not the internal ``clientComment``)."""

_JSON_NAMES = {str: "a string", int: "an integer", list: "an array"}


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


def _read(
    source: Mapping[str, Any], where: str, fields: Mapping[str, tuple[str, type]]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, (field, kind) in fields.items():
        value = source.get(name)
        if value is None:
            continue
        # type() and not isinstance(): bool is an int subclass, and no coercion is wanted.
        if type(value) is not kind:
            raise MalformedResponse(
                f"{where}.{name} should be {_JSON_NAMES[kind]}, not {_json_type(value)}"
            )
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise MalformedResponse(f"{where}.{name} should be an array of strings")
        values[field] = value
    return values


def parse_details(applicant: Mapping[str, Any]) -> SumsubDetails:
    """Read an applicant into :class:`SumsubDetails` (see the module for the rules)."""
    values: dict[str, Any] = {}
    kind = applicant.get("type")
    if kind is not None:
        if not isinstance(kind, str):
            raise MalformedResponse(f"type should be a string, not {_json_type(kind)}")
        values["applicant_type"] = kind
    review = applicant.get("review")
    if review is None:
        return SumsubDetails(**values)
    if not isinstance(review, dict):
        raise MalformedResponse(f"review should be an object, not {_json_type(review)}")
    values.update(_read(review, "review", REVIEW_FIELDS))
    result = review.get("reviewResult")
    if canonical_word(values.get("review_status")) == COMPLETED and result is not None:
        if not isinstance(result, dict):
            raise MalformedResponse(
                f"review.reviewResult should be an object, not {_json_type(result)}"
            )
        values.update(_read(result, "review.reviewResult", RESULT_FIELDS))
    return SumsubDetails(**values)


def _keep(source: object, names: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(source, dict):
        return {}
    return {name: source[name] for name in names if name in source}


def safe_raw(applicant: object) -> dict[str, Any] | None:
    """What a report keeps of an applicant: the listed, non-personal fields only.

    ``createdAt``, ``type`` and ``review`` (its :data:`RAW_REVIEW_FIELDS`, and of its
    ``reviewResult`` the :data:`RAW_RESULT_FIELDS`). ``None`` for anything but an object.
    """
    if not isinstance(applicant, dict):
        return None
    kept = _keep(applicant, RAW_APPLICANT_FIELDS)
    review = applicant.get("review")
    if isinstance(review, dict):
        kept["review"] = safe_review(review)
    elif "review" in kept:
        kept["review"] = None
    return kept


def safe_review(review: dict[str, Any]) -> dict[str, Any]:
    """What :func:`safe_raw` keeps of an applicant's ``review`` object.

    Its :data:`RAW_REVIEW_FIELDS`, and of its ``reviewResult`` the :data:`RAW_RESULT_FIELDS`.
    """
    kept = _keep(review, RAW_REVIEW_FIELDS)
    result = review.get("reviewResult")
    if isinstance(result, dict):
        kept["reviewResult"] = _keep(result, RAW_RESULT_FIELDS)
    return kept
