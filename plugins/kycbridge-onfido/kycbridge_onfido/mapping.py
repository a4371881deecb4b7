"""Onfido's workflow run statuses and the :class:`KYCState` each one means: :data:`STATUS_MAP`.

A workflow run's ``status`` alone decides the state (one word, a plain
:class:`kycbridge.StatusMap`). Words are matched after folding case, whitespace, ``_`` and
``-``; any other word (or a missing or non-string status) is ``unknown``, kept as the
report's ``raw_status``.

Why each state, from the user's side:

``awaiting_input`` -> ``action_required``
    The run waits on the applicant (a document, a selfie, a form): the user must act.
``processing`` -> ``in_progress``
    Onfido runs automated tasks. It happens between the user's steps as well as after the
    last one, so it does not say the user finished: not ``submitted``.
``awaiting_client_input`` -> ``in_review``
    The run waits on the partner (a manual task in the client's own process), not on the
    user: from the user's side it is under review.
``review`` -> ``in_review``
    The run ended in a manual review outcome; a reviewer at the partner decides.
``approved`` -> ``approved``, ``declined`` -> ``rejected``, ``abandoned`` -> ``abandoned``
    Outcomes.
``error`` -> ``unknown``
    The run stopped on a technical failure (its ``error`` object says which; kept in the
    report's details). That is no decision about the user and no step for the user to take,
    so no kycbridge state says it truthfully: ``rejected`` would tell the user they were
    declined, ``abandoned`` would blame them. ``unknown`` keeps the word (``raw_status``
    ``error``) and the error for the app, which usually starts a new run.
"""

from __future__ import annotations

from kycbridge import KYCState, StatusMap

__all__ = ["STATUSES", "STATUS_MAP"]

_S = KYCState

STATUS_MAP = StatusMap(
    {
        "awaiting_input": _S.ACTION_REQUIRED,
        "processing": _S.IN_PROGRESS,
        "awaiting_client_input": _S.IN_REVIEW,
        "review": _S.IN_REVIEW,
        "approved": _S.APPROVED,
        "declined": _S.REJECTED,
        "abandoned": _S.ABANDONED,
        "error": _S.UNKNOWN,
    }
)
"""A workflow run's ``status`` -> state (see the module's docstring for why)."""

STATUSES: tuple[str, ...] = tuple(STATUS_MAP)
"""Every documented workflow run status, in documented order."""
