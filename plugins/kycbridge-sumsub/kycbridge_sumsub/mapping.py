"""Sumsub's review words, and the state each combination means.

An applicant's ``review`` carries ``reviewStatus`` and, once ``completed``, a
``reviewResult`` with ``reviewAnswer`` (``GREEN`` or ``RED``) and, for ``RED``,
``reviewRejectType`` (``RETRY``: the user may resubmit; ``FINAL``: no retry). The state
depends on the three together: :data:`REVIEW_MAP` (a :class:`kycbridge.CompositeStatusMap`
over the ``review`` object). Why each row maps as it does is in the README's decision table.

``raw_status`` is the composite form, the words as received joined by ``/`` in field order:
``"completed/RED/RETRY"``, ``"completed/GREEN"``, ``"pending"``. ``reviewResult`` is only
meaningful once the review is ``completed`` (Sumsub's words), so with any other status its
words are left out of ``raw_status`` and never change the state: a stale ``RED``/``RETRY``
left on a resubmitted (``pending``) applicant reads ``"pending"``.

:data:`STATUS_MAP` lists the documented ``raw_status`` strings and their states (for the docs
and the CLI); :func:`normalize` reads an applicant, a ``review`` object (or a webhook
payload, which has the same fields at its top level), or a ``raw_status`` string.
"""

from __future__ import annotations

from collections.abc import Mapping

from kycbridge import ANY, CompositeStatusMap, KYCState, StatusMap
from kycbridge.mapping import canonical_word

__all__ = [
    "COMPLETED",
    "REVIEW_FIELDS",
    "REVIEW_MAP",
    "STATUS_MAP",
    "normalize",
    "raw_status_of",
    "review_of",
    "review_values",
]

_S = KYCState

REVIEW_FIELDS = ("reviewStatus", "reviewResult.reviewAnswer", "reviewResult.reviewRejectType")
"""The fields of a ``review`` object the state depends on, in ``raw_status`` order."""

COMPLETED = "completed"
"""The one ``reviewStatus`` whose ``reviewResult`` counts."""

REVIEW_MAP = CompositeStatusMap(
    fields=REVIEW_FIELDS,
    rows={
        # Created (or reset): nothing of the user's has reached a review yet.
        ("init", ANY, ANY): _S.NOT_STARTED,
        # The user submitted; Sumsub has not started checking.
        ("pending", ANY, ANY): _S.SUBMITTED,
        # The checks have started / are half way / wait on a third-party service.
        ("queued", ANY, ANY): _S.IN_REVIEW,
        ("prechecked", ANY, ANY): _S.IN_REVIEW,
        ("awaitingService", ANY, ANY): _S.IN_REVIEW,
        # Waiting on a compliance officer's decision (or on a company's beneficiaries).
        ("onHold", ANY, ANY): _S.IN_REVIEW,
        # Sumsub waits on the user (more documents, a question).
        ("awaitingUser", ANY, ANY): _S.ACTION_REQUIRED,
        # Verified.
        ("completed", "GREEN", ANY): _S.APPROVED,
        # Refused, but the user may fix and resubmit: the ball is in the user's court.
        ("completed", "RED", "RETRY"): _S.ACTION_REQUIRED,
        # Refused for good.
        ("completed", "RED", "FINAL"): _S.REJECTED,
        # RED without RETRY (type absent or undocumented): no retry was offered.
        ("completed", "RED", ANY): _S.REJECTED,
        # Completed without a readable answer: not guessed.
        ("completed", ANY, ANY): _S.UNKNOWN,
    },
)
"""``(reviewStatus, reviewAnswer, reviewRejectType)`` -> state; most specific row wins."""


def review_values(review: object) -> tuple[object, object, object]:
    """The three values :data:`REVIEW_MAP` reads from a ``review`` object.

    ``reviewResult``'s words count only when ``reviewStatus`` is ``completed``; otherwise
    they are ``None``. Anything that is not a mapping gives three ``None``.
    """
    status, answer, reject = REVIEW_MAP.values(review)
    if canonical_word(status) != COMPLETED:
        return status, None, None
    return status, answer, reject


def review_of(raw: Mapping[object, object]) -> object:
    """The ``review`` object of an applicant, or ``raw`` itself when it has none.

    (A ``review`` object, the ``/status`` answer and a webhook payload carry the review fields
    at their top level.)
    """
    review = raw.get("review")
    return review if isinstance(review, Mapping) else raw


def _cells(raw: object) -> tuple[object, ...]:
    if isinstance(raw, str):  # a raw_status: "completed/RED/RETRY", "pending"
        parts = raw.split("/")
        if len(parts) > len(REVIEW_FIELDS):
            return ()
        parts += [""] * (len(REVIEW_FIELDS) - len(parts))
        status, answer, reject = parts
        if canonical_word(status) != COMPLETED:
            return status, None, None
        return status, answer, reject
    if isinstance(raw, Mapping):
        return review_values(review_of(raw))
    return ()


def normalize(raw: object) -> KYCState:
    """The state of an applicant, a ``review`` object or a ``raw_status``. Never raises.

    Anything else (and any unreadable value) is ``unknown``.
    """
    try:
        cells = _cells(raw)
        return REVIEW_MAP.lookup(*cells) if cells else _S.UNKNOWN
    except Exception:  # a Mapping whose get() misbehaves: still total
        return _S.UNKNOWN


def raw_status_of(raw: object) -> str | None:
    """The provider's own words for a report: ``"completed/RED/RETRY"``, ``"pending"``.

    ``raw`` is an applicant or a ``review`` object; ``None`` when it has no review words.
    """
    try:
        if not isinstance(raw, Mapping):
            return None
        return REVIEW_MAP.raw_status(review_values(review_of(raw)))
    except Exception:
        return None


STATUS_MAP = StatusMap(
    {
        word: normalize(word)
        for word in (
            "init",
            "pending",
            "queued",
            "prechecked",
            "awaitingService",
            "onHold",
            "awaitingUser",
            "completed/GREEN",
            "completed/RED/RETRY",
            "completed/RED/FINAL",
            "completed/RED",
            "completed",
        )
    }
)
"""Each documented ``raw_status`` and its state (from :data:`REVIEW_MAP`): the provider's
``status_map``, printed by the docs and the CLI."""
