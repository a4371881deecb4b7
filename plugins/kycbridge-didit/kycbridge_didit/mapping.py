"""Didit's session status words and the :class:`KYCState` each one means: :data:`STATUS_MAP`.

A decision answer carries one word, ``status``, the status of the verification session.
Lookups fold case, whitespace, ``_`` and ``-`` (Didit's ``Kyc Expired`` has also been seen
as ``KYC Expired``); a word not in the table, or a missing or non-string ``status``, gives
``unknown`` and never raises. StarkFi runs on Didit and maps the same words
(``kycbridge_starkfi.mapping.SESSION_STATUS_MAP``); a test checks the two agree.
"""

from __future__ import annotations

from kycbridge import KYCState, StatusMap

__all__ = ["STATUS_MAP", "WHY"]

_S = KYCState

STATUS_MAP = StatusMap(
    {
        "Not Started": _S.NOT_STARTED,
        "In Progress": _S.IN_PROGRESS,
        "Awaiting User": _S.ACTION_REQUIRED,
        "In Review": _S.IN_REVIEW,
        "Approved": _S.APPROVED,
        "Declined": _S.REJECTED,
        "Resubmitted": _S.ACTION_REQUIRED,
        "Expired": _S.EXPIRED,
        "Kyc Expired": _S.EXPIRED,
        "KYC Expired": _S.EXPIRED,
        "Abandoned": _S.ABANDONED,
    }
)
"""Didit session ``status`` -> state. Reasons in :data:`WHY`."""

WHY: dict[str, str] = {
    "Not Started": "the session exists but the user has not opened the link yet",
    "In Progress": "the user is going through the verification steps",
    "Awaiting User": "the session waits for the user (business verification: for its key "
    "people's own sessions); nothing moves until someone acts",
    "In Review": "the user finished; a reviewer or the engine is deciding",
    "Approved": "verified",
    "Declined": "refused, after the checks or a review",
    "Resubmitted": "a reviewer asked the user to redo specific steps: the user must act "
    "again, so action_required (not submitted)",
    "Expired": "the session timed out before the user finished or opened it",
    "Kyc Expired": "a previously approved identity went stale (its document expired): the "
    "approval no longer holds",
    "KYC Expired": "the same word, capitalized differently (seen in the wild)",
    "Abandoned": "the user started but did not finish in time",
}
"""Why each word maps to its state, from the user's side (the README's decision table)."""
