"""Persona's inquiry status words and the :class:`KYCState` each one means, as data.

An inquiry's ``attributes.status`` is one word; the state depends on it alone, so the table
is a plain :class:`~kycbridge.StatusMap` (:data:`STATUS_MAP`). Persona warns that the list of
statuses may grow: any word not below maps to ``unknown`` and is kept as ``raw_status``.

Why each word means what it does, from the user's side:

``created``
    The inquiry exists but the user has not begun it: ``not_started``.
``pending``
    The user is going through the flow (at least one step started): ``in_progress``.
``completed``
    The user finished every step and passed its checks, and no decision has been recorded
    yet: ``submitted``. (An account without decisioning may leave inquiries here for good;
    kycbridge cannot know, so it does not call this an approval.)
``needs_review``
    A decision (a workflow or a rule) sent the inquiry to manual review: ``in_review``.
``approved`` / ``declined``
    The decision: ``approved`` / ``rejected``.
``failed``
    The user used up the allowed verification attempts without passing: ``rejected``. It is
    not ``abandoned``: the user did not walk away (that is ``expired`` for Persona); they tried
    and the checks failed, the inquiry cannot be resumed, and an app should treat it as a
    failed verification, not nudge the user to finish. Persona can still record a decision
    on a failed inquiry later (a reviewer approving it manually): kycbridge then reports
    ``approved``, flagged as an anomaly (an outcome followed by another outcome).
``expired``
    The user did not finish within the inquiry's lifetime: ``expired``.
"""

from __future__ import annotations

from kycbridge import KYCState, StatusMap

__all__ = ["STATUS_MAP", "STATUS_WORDS"]

_S = KYCState

STATUS_MAP = StatusMap(
    {
        "created": _S.NOT_STARTED,
        "pending": _S.IN_PROGRESS,
        "completed": _S.SUBMITTED,
        "needs_review": _S.IN_REVIEW,
        "approved": _S.APPROVED,
        "declined": _S.REJECTED,
        "failed": _S.REJECTED,
        "expired": _S.EXPIRED,
    }
)
"""``data.attributes.status`` -> state (lookups fold case, whitespace, ``_`` and ``-``)."""

STATUS_WORDS: tuple[str, ...] = tuple(STATUS_MAP)
"""The documented status words, in Persona's lifecycle order."""
