"""StarkFi's status words and the rules turning a ``data`` object into one :class:`KYCState`.

StarkFi's answer carries three status signals in ``data``:

``approved``
    A boolean: whether StarkFi considers the user approved.
``session_status``
    The status of the underlying verification session. StarkFi runs verification on Didit,
    so these are Didit's session statuses (exact words: ``Not Started``, ``In Review``, ...).
``status``
    "Overall KYC status stored for that user". Only ``pending`` is documented.

:func:`normalize` combines them (:data:`DECISION_MAP`), first rule that applies wins:

====  ==========================================================  =========================
rule  when                                                        state
====  ==========================================================  =========================
1     ``data`` is not a mapping                                   ``unknown``
2     ``approved`` is ``true`` and ``session_status`` maps to     that state (``rejected``
      ``rejected`` or ``expired`` (``Declined``, ``Expired``,     or ``expired``)
      ``Kyc Expired``)
3     ``approved`` is ``true``                                    ``approved``
4     ``session_status`` is a known word (:data:`SESSION_STATUS_MAP`)  its state
5     ``status`` is a known word (:data:`DATA_STATUS_MAP`)        its state
6     otherwise (absent, ``null``, non-string, unknown words)     ``unknown``
====  ==========================================================  =========================

Why rule 2: an approval can go stale (Didit's ``Kyc Expired``: the verified document
expired) or be overturned (a reviewer moves an ``Approved`` session to ``Declined``). Those
words can only arrive *after* the approval was recorded, so a lingering ``approved: true``
must not hide them; failing safe matters more than the flag. Other session words do not
override ``approved: true``: a new attempt in progress, an abandoned re-verification or a
resubmission request does not by itself revoke an approval.

``approved: false`` never vetoes: when the session says ``Approved`` the state is
``approved`` (the flag may lag the session). Only a JSON ``true`` counts as true (not
``"true"`` nor ``1``). Words are matched after folding case, whitespace, ``_`` and ``-``.
"""

from __future__ import annotations

from collections.abc import Mapping

from kycbridge import ANY, CompositeStatusMap, KYCState, StatusMap

__all__ = [
    "DATA_STATUS_MAP",
    "DECISION_MAP",
    "OVERRIDES_APPROVAL",
    "SESSION_STATUS_MAP",
    "STATUS_MAP",
    "decide",
    "normalize",
    "raw_status_of",
    "raw_word",
]

_S = KYCState

SESSION_STATUS_MAP = StatusMap(
    {
        "Not Started": _S.NOT_STARTED,
        "In Progress": _S.IN_PROGRESS,
        "In Review": _S.IN_REVIEW,
        "Approved": _S.APPROVED,
        "Declined": _S.REJECTED,
        # Didit: "User asked to redo specific steps" (a reviewer requested a resubmission):
        # the session waits on the user, so action_required, not submitted.
        "Resubmitted": _S.ACTION_REQUIRED,
        # Didit: the session timed out before the user opened the link.
        "Expired": _S.EXPIRED,
        # Didit: the user started but did not finish in time.
        "Abandoned": _S.ABANDONED,
        # Didit: a previously approved identity whose document has expired.
        "Kyc Expired": _S.EXPIRED,
        # Didit business verification: waiting for the key people's own sessions.
        "Awaiting User": _S.ACTION_REQUIRED,
    }
)
"""``data.session_status`` (Didit session statuses) -> state."""

DATA_STATUS_MAP = StatusMap(
    {
        # The only documented word. StarkFi answers it once prepare has created a session
        # and no outcome is recorded: the user is somewhere in the flow, so in_progress
        # (submitted would claim the user finished their part, which it does not say).
        "pending": _S.IN_PROGRESS,
        # Unconfirmed extras: plausible words for a stored outcome.
        "approved": _S.APPROVED,
        "rejected": _S.REJECTED,
        "declined": _S.REJECTED,
    }
)
"""``data.status`` (the overall status StarkFi stores) -> state. Only ``pending`` is documented."""

STATUS_MAP = StatusMap(
    {
        **SESSION_STATUS_MAP.table,
        **{w: s for w, s in DATA_STATUS_MAP.table.items() if w not in SESSION_STATUS_MAP},
    }
)
"""Every word above in one table (the provider's ``status_map``, printed by docs and CLI).

``data.status`` words that fold to a session word (``approved``, ``declined``) map to the
same state and are listed once.
"""

OVERRIDES_APPROVAL: frozenset[KYCState] = frozenset({_S.REJECTED, _S.EXPIRED})
"""Session states that win over ``approved: true`` (rule 2)."""

DECISION_MAP = CompositeStatusMap(
    fields=("approved", "session_status", "status"),
    rows={
        # rule 2: a stale or overturned approval (two fixed cells: the most specific rows)
        **{(True, w, ANY): s for w, s in SESSION_STATUS_MAP.rows() if s in OVERRIDES_APPROVAL},
        # rule 3: approved (its fixed cell comes first, so it beats rules 4 and 5)
        (True, ANY, ANY): _S.APPROVED,
        # rule 4: the session word
        **{(ANY, w, ANY): s for w, s in SESSION_STATUS_MAP.rows()},
        # rule 5: the overall status word
        **{(ANY, ANY, w): s for w, s in DATA_STATUS_MAP.rows()},
    },
)
"""Rules 2 to 6 as one :class:`~kycbridge.CompositeStatusMap` over ``approved``,
``session_status`` and ``status`` (``approved`` matches only a JSON ``true``); no row:
``unknown`` (rule 6)."""


def normalize(raw: object) -> KYCState:
    """The state of one StarkFi ``data`` object, by the rules in this module's docstring.

    Total and pure: any input (``None``, a string, a list, a dict of odd values) gives a
    state, the same one every time; it never raises.
    """
    try:
        if not isinstance(raw, Mapping):
            return _S.UNKNOWN
        return decide(raw.get("approved"), raw.get("session_status"), raw.get("status"))
    except Exception:  # a Mapping whose get() misbehaves: still total
        return _S.UNKNOWN


def decide(approved: object, session_status: object, status: object) -> KYCState:
    """Rules 2 to 6 on the three signals of a ``data`` object (:data:`DECISION_MAP`)."""
    return DECISION_MAP.lookup(approved, session_status, status)


def raw_status_of(raw: object) -> str | None:
    """The raw status word kept on a report.

    That is ``session_status`` when it is a non-blank string, else ``status`` when it is
    one, else ``None``. The session word is preferred because it is the finer-grained of
    the two (``status`` is ``pending`` for most of a verification).
    """
    if not isinstance(raw, Mapping):
        return None
    return raw_word(raw.get("session_status"), raw.get("status"))


def raw_word(session_status: object, status: object) -> str | None:
    """:func:`raw_status_of` on the two words already read out of a ``data`` object."""
    for value in (session_status, status):
        if isinstance(value, str) and value.strip():
            return value
    return None
