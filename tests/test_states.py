from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import given
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from kycbridge import FINAL_STATES, TRANSITIONS, KYCState, StateMachine
from kycbridge.states import is_expected

EXPECTED_VALUES = [
    "not_started",
    "in_progress",
    "action_required",
    "submitted",
    "in_review",
    "approved",
    "rejected",
    "expired",
    "abandoned",
    "unknown",
]


def test_state_values_are_exactly_the_documented_strings():
    assert [s.value for s in KYCState] == EXPECTED_VALUES
    assert all(isinstance(s, str) for s in KYCState)
    assert KYCState("approved") is KYCState.APPROVED
    assert str(KYCState.IN_REVIEW) == "in_review"


def test_final_states():
    assert {s.value for s in FINAL_STATES} == {"approved", "rejected", "expired", "abandoned"}
    assert all(s.final == (s in FINAL_STATES) for s in KYCState)


def test_transition_table_covers_every_state_and_never_loops():
    assert set(TRANSITIONS) == set(KYCState)
    for state, targets in TRANSITIONS.items():
        assert state not in targets


def test_documented_expectations():
    S = KYCState
    # forward jumps are normal, polling skips states
    assert is_expected(S.NOT_STARTED, S.APPROVED)
    assert is_expected(S.IN_PROGRESS, S.IN_REVIEW)
    # more asked of the user before an outcome
    assert is_expected(S.IN_REVIEW, S.ACTION_REQUIRED)
    # a new attempt after an outcome
    assert is_expected(S.REJECTED, S.IN_PROGRESS)
    assert is_expected(S.APPROVED, S.EXPIRED)
    # anomalies: going backwards, or one outcome straight to another
    assert not is_expected(S.IN_REVIEW, S.NOT_STARTED)
    assert not is_expected(S.SUBMITTED, S.NOT_STARTED)
    assert not is_expected(S.IN_PROGRESS, S.NOT_STARTED)
    # a resubmission cycle may be skipped over by polling
    assert is_expected(S.IN_REVIEW, S.SUBMITTED)
    assert not is_expected(S.APPROVED, S.REJECTED)
    assert not is_expected(S.REJECTED, S.APPROVED)
    # unknown tells nothing about order
    assert is_expected(S.UNKNOWN, S.NOT_STARTED)
    assert is_expected(S.APPROVED, S.UNKNOWN)
    # first observation and no change
    assert is_expected(None, S.REJECTED)
    assert is_expected(S.IN_REVIEW, S.IN_REVIEW)


@given(st.sampled_from(KYCState), st.sampled_from(KYCState))
def test_is_expected_is_total_and_deterministic(a, b):
    assert is_expected(a, b) == is_expected(a, b)
    assert isinstance(is_expected(a, b), bool)


def test_state_machine_example():
    sm = StateMachine()
    assert sm.observe(KYCState.NOT_STARTED).anomaly is False
    assert sm.observe(KYCState.NOT_STARTED) is None
    assert sm.observe(KYCState.IN_REVIEW).anomaly is False
    t = sm.observe(KYCState.NOT_STARTED)
    assert t.anomaly and t.old is KYCState.IN_REVIEW
    assert [x.new for x in sm.history] == [
        KYCState.NOT_STARTED,
        KYCState.IN_REVIEW,
        KYCState.NOT_STARTED,
    ]
    assert sm.anomalies == [t]


class StateMachineModel(RuleBasedStateMachine):
    """The StateMachine against a plain list model: nothing dropped, nothing raised."""

    def __init__(self) -> None:
        super().__init__()
        self.sm = StateMachine()
        self.seen: list[KYCState] = []

    @rule(state=st.sampled_from(KYCState))
    def observe(self, state: KYCState) -> None:
        previous = self.seen[-1] if self.seen else None
        transition = self.sm.observe(state)
        if state is previous:
            assert transition is None
            return
        assert transition is not None
        assert transition.old is previous and transition.new is state
        assert transition.anomaly == (previous is not None and state not in TRANSITIONS[previous])
        self.seen.append(state)

    @invariant()
    def history_matches_model(self) -> None:
        assert [t.new for t in self.sm.history] == self.seen
        assert self.sm.state is (self.seen[-1] if self.seen else None)
        assert self.sm.final == bool(self.seen and self.seen[-1] in FINAL_STATES)
        assert all(t.anomaly for t in self.sm.anomalies)


TestStateMachineModel = StateMachineModel.TestCase
