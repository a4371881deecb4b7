"""Veriff's decision words and codes, and the state each means.

A decision (``verification``) carries a ``status`` word and a numeric ``code``. Documented
pairs: ``approved`` 9001, ``declined`` 9102, ``resubmission_requested`` 9103, ``expired``
9104, ``abandoned`` 9104, ``review`` 9121; and the session events ``started`` 7001,
``submitted`` 7002 (webhook words, mapped in case the decision endpoint ever shows them).

The **status word decides**. The code alone cannot: 9104 is both ``expired`` and
``abandoned``, and one page of Veriff's documentation calls 9121 abandoned. So every row of
:data:`DECISION_MAP` fixes the word; the documented pairs are listed as rows too (for the docs
and the README's decision table), and a known word with any other code (or none) maps as its
word does. A missing, ``null`` or unknown word is ``unknown``, whatever the code: an
undocumented word next to a documented code is not guessed at. The code is kept on the
report (``raw_status`` ``"approved/9001"``, and ``details.code``).

``verification: null`` (no decision yet) is not a word: it is :data:`NO_DECISION_STATE`
(see the README for why ``in_progress``), with ``raw_status`` ``"null"``.
"""

from __future__ import annotations

from collections.abc import Mapping

from kycbridge import ANY, CompositeStatusMap, KYCState, StatusMap

__all__ = [
    "DECISION_MAP",
    "DOCUMENTED_CODES",
    "NO_DECISION_STATE",
    "NO_DECISION_WORD",
    "STATUS_MAP",
    "code_text",
    "normalize",
    "raw_status_of",
]

_S = KYCState

STATUS_MAP = StatusMap(
    {
        # Veriff verified the person.
        "approved": _S.APPROVED,
        # Veriff refused the person or the document: final.
        "declined": _S.REJECTED,
        # The attempt cannot be decided (a blurry photo, a glare, a wrong document): Veriff
        # asks the user to go through the flow again. The ball is in the user's court.
        "resubmission_requested": _S.ACTION_REQUIRED,
        # The session was not completed within its lifetime (7 days by default).
        "expired": _S.EXPIRED,
        # The user started the flow and left before submitting.
        "abandoned": _S.ABANDONED,
        # Sent to Veriff's manual review.
        "review": _S.IN_REVIEW,
        # Session events (7001, 7002): the user opened the flow / submitted it.
        "started": _S.IN_PROGRESS,
        "submitted": _S.SUBMITTED,
    }
)
"""``verification.status`` -> state (the provider's ``status_map``)."""

DOCUMENTED_CODES: Mapping[str, tuple[int, ...]] = {
    "approved": (9001,),
    "declined": (9102,),
    "resubmission_requested": (9103,),
    "expired": (9104,),
    "abandoned": (9104,),
    "review": (9121,),
    "started": (7001,),
    "submitted": (7002,),
}
"""Each word's documented ``code``."""

DECISION_MAP = CompositeStatusMap(
    fields=("status", "code"),
    rows={
        # the documented pairs (two fixed cells: for the docs; they agree with the word)
        **{
            (word, str(code)): STATUS_MAP[word]
            for word, codes in DOCUMENTED_CODES.items()
            for code in codes
        },
        # the word decides, whatever the code
        **{(word, ANY): state for word, state in STATUS_MAP.rows()},
    },
)
"""``(status, code)`` -> state, the code compared as text (:func:`code_text`)."""

NO_DECISION_STATE = _S.IN_PROGRESS
"""The state of ``{"verification": null}``: the session exists, nothing is decided yet."""


def code_text(code: object) -> str | None:
    """A decision code as text: an integer (or a digit string) as its digits, else ``None``."""
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return str(code)
    if isinstance(code, str) and code.strip().isdigit() and code.strip().isascii():
        return code.strip()
    return None


NO_DECISION_WORD = "null"
"""The ``raw_status`` of ``{"verification": null}``: what Veriff sent, as text."""


def _cells(raw: object) -> tuple[object, object]:
    if isinstance(raw, Mapping):
        return raw.get("status"), code_text(raw.get("code"))
    if isinstance(raw, str):  # a raw_status: "status/code", "status" or "code"
        word, slash, code = raw.partition("/")
        if slash:
            return word, code_text(code)
        if code_text(word) is not None:
            return None, code_text(word)
        return word, None
    return None, None


def _no_decision(raw: object) -> bool:
    return raw is None or (isinstance(raw, str) and raw.strip().casefold() == NO_DECISION_WORD)


def normalize(raw: object) -> KYCState:
    """The state of one ``verification`` value. Total and pure: never raises.

    ``raw`` is the ``verification`` object (``status`` and ``code`` decide), ``None``
    (``verification: null``: :data:`NO_DECISION_STATE`), or a report's ``raw_status``
    (``"expired/9104"``, ``"approved"``, ``"null"``), which normalizes to the report's state.
    Anything else is ``unknown``.
    """
    try:
        if _no_decision(raw):
            return NO_DECISION_STATE
        return DECISION_MAP.lookup(*_cells(raw))
    except Exception:  # a Mapping whose get() misbehaves: still total
        return _S.UNKNOWN


def raw_status_of(raw: object) -> str | None:
    """The provider's own words for a report: ``"status/code"`` (``"expired/9104"``).

    The composite form of :data:`DECISION_MAP` (absent parts left out: ``"approved"``
    without a code, ``"9104"`` without a word); ``"null"`` for ``verification: null``;
    ``None`` when a verification has neither.
    """
    if raw is None:
        return NO_DECISION_WORD
    if not isinstance(raw, Mapping):
        return None
    try:
        return DECISION_MAP.raw_status(_cells(raw))
    except Exception:
        return None
