"""The normalized state model: every provider's words end up as one :class:`KYCState`.

The transition table below is data: docs print it, the state diagram is drawn from it, and
:class:`StateMachine` uses it to flag observed transitions that nobody expected. An unexpected
transition is an *anomaly*: reported, never dropped and never raised, because the provider is
the source of truth.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

__all__ = [
    "FINAL_STATES",
    "TRANSITIONS",
    "KYCState",
    "StateMachine",
    "Transition",
    "is_expected",
]


class KYCState(str, enum.Enum):
    """Where a user's verification stands, in words shared by every provider."""

    NOT_STARTED = "not_started"
    """No verification attempt exists yet, or the user has not begun it."""
    IN_PROGRESS = "in_progress"
    """The user is going through the provider's flow."""
    ACTION_REQUIRED = "action_required"
    """The provider waits on the user: more documents, a resubmission, extra forms."""
    SUBMITTED = "submitted"
    """The user finished their part; nothing has been decided yet."""
    IN_REVIEW = "in_review"
    """The provider (or a person there) is reviewing the submission."""
    APPROVED = "approved"
    """Verified. Final."""
    REJECTED = "rejected"
    """Declined. Final."""
    EXPIRED = "expired"
    """The attempt, or an earlier approval, has gone stale. Final."""
    ABANDONED = "abandoned"
    """The user left the flow and the provider closed it. Final."""
    UNKNOWN = "unknown"
    """The provider said something this mapping does not know; the raw word is kept."""

    def __str__(self) -> str:
        return self.value

    @property
    def final(self) -> bool:
        """Whether verification reached an outcome (polling stops here)."""
        return self in FINAL_STATES


FINAL_STATES: frozenset[KYCState] = frozenset(
    {KYCState.APPROVED, KYCState.REJECTED, KYCState.EXPIRED, KYCState.ABANDONED}
)
"""States in which a verification has reached its outcome."""

_S = KYCState
_NON_FINAL = frozenset(
    {_S.NOT_STARTED, _S.IN_PROGRESS, _S.ACTION_REQUIRED, _S.SUBMITTED, _S.IN_REVIEW}
)


def _build_transitions() -> dict[KYCState, frozenset[KYCState]]:
    table: dict[KYCState, frozenset[KYCState]] = {}
    for state in _NON_FINAL:
        # Before an outcome anything may follow but a return to not_started: polling skips
        # states, and a resubmission cycle (through action_required) can pass unseen.
        table[state] = frozenset(KYCState) - {state, _S.NOT_STARTED}
    table[_S.NOT_STARTED] = frozenset(KYCState) - {_S.NOT_STARTED}
    for state in FINAL_STATES:
        # An outcome may be followed by a new attempt, not directly by another outcome...
        table[state] = _NON_FINAL | {_S.UNKNOWN}
    # ...except that an approval can go stale.
    table[_S.APPROVED] = table[_S.APPROVED] | {_S.EXPIRED}
    table[_S.UNKNOWN] = frozenset(KYCState) - {_S.UNKNOWN}
    return table


TRANSITIONS: Mapping[KYCState, frozenset[KYCState]] = _build_transitions()
"""For each state, the states that may be observed next without it being an anomaly.

Staying in the same state is not a transition. ``unknown`` may come and go freely: a word we
cannot read tells nothing about order.
"""


def is_expected(old: KYCState | None, new: KYCState) -> bool:
    """Return whether observing ``new`` after ``old`` is an expected transition.

    ``old=None`` (nothing observed yet) and ``old == new`` are always expected.
    """
    if old is None or old is new:
        return True
    return new in TRANSITIONS[old]


@attrs.frozen
class Transition:
    """One observed change of state."""

    old: KYCState | None
    """The state before, or ``None`` for the first observation."""
    new: KYCState
    """The state observed now."""

    @property
    def anomaly(self) -> bool:
        """True when this transition is outside :data:`TRANSITIONS`."""
        return not is_expected(self.old, self.new)


@attrs.define
class StateMachine:
    """Follows the states observed for one subject and flags unexpected transitions.

    >>> sm = StateMachine()
    >>> sm.observe(KYCState.IN_REVIEW).anomaly
    False
    >>> sm.observe(KYCState.NOT_STARTED).anomaly
    True
    """

    state: KYCState | None = None
    """The last state observed, ``None`` before the first."""
    history: list[Transition] = attrs.field(factory=list)
    """Every change observed, anomalies included, in order."""

    @property
    def final(self) -> bool:
        """Whether the last observed state is final."""
        return self.state is not None and self.state.final

    @property
    def anomalies(self) -> list[Transition]:
        """The unexpected transitions observed so far."""
        return [t for t in self.history if t.anomaly]

    def observe(self, state: KYCState) -> Transition | None:
        """Record an observed state; return the transition, or ``None`` when unchanged."""
        state = KYCState(state)
        if state is self.state:
            return None
        transition = Transition(self.state, state)
        self.history.append(transition)
        self.state = state
        return transition
