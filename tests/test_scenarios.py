"""Every installed simulator's scenarios, watched to their end over real HTTP.

For a scenario whose ``outcome`` is a state, the watch must yield exactly the states (and raw
words) the simulator played, consecutive repeats collapsed and transient faults skipped. For
one whose ``outcome`` is an error ``kind``, the watch must end in that error: at once for a
fatal error, as a ``WatchTimeout`` carrying it for a transient one (a watch retries those).

How the plugins encode ``played`` (read from their simulators): StarkFi lists only the words
of its 200 answers (fault steps are left out); Transak labels every step, faults included:
``HTTP <code>...`` for an error status, ``(...)`` for a broken body, and ``WORD (note)`` for a
word served with a twist (slow, extra fields).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from unlimited import unlimited_installed

from kycbridge import Bridge, KYCState
from kycbridge.errors import KYCBridgeError
from kycbridge.plugins import PluginRegistry
from kycbridge.sandbox import Sandbox, Scenario
from kycbridge.transport import Transport
from kycbridge.watch import TRANSIENT_ERRORS, Watcher, WatchTimeout

STATES = {s.value for s in KYCState}
TRANSIENT_KINDS = {cls.kind for cls in TRANSIENT_ERRORS}
FAULT_LABEL = re.compile(r"^(HTTP \d+|\().*")
NOTE = re.compile(r"\s+\(.*\)$")

_REGISTRY = PluginRegistry()
SIMULATORS = {info.name: info.simulator for info in _REGISTRY.simulators()}
CASES = [
    pytest.param(name, scenario, id=f"{name}:{scenario.subject}")
    for name, sim in sorted(SIMULATORS.items())
    for scenario in sim.scenarios
    if scenario.outcome is not None
]


def played_pairs(provider: Any, scenario: Scenario) -> list[tuple[KYCState, str]]:
    """The (state, raw word) pairs a watcher must see: faults out, repeats collapsed."""
    pairs: list[tuple[KYCState, str]] = []
    for label in scenario.played:
        if FAULT_LABEL.match(label):
            continue
        word = NOTE.sub("", label)
        state = provider.normalize(word)
        if state is KYCState.UNKNOWN and provider.status_map.knows(word):
            state = provider.status_map(word)  # a normalize() that reads whole payloads
        if not pairs or pairs[-1] != (state, word):
            pairs.append((state, word))
    return pairs


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    if not SIMULATORS:
        pytest.skip("no provider plugin with a simulator is installed")
    with Sandbox(SIMULATORS.values()) as sandbox:
        yield sandbox


def make_bridge(sandbox: Sandbox, read_timeout: float) -> Bridge:
    # a Retry-After defers the bridge's rate limiter by at most 50 ms here
    transport = Transport(retries=0, read_timeout=read_timeout, max_retry_after=0.05)
    # No client-side rate limits: not what these tests are about (each plugin tests its own).
    return Bridge(
        [unlimited_installed], settings=sandbox.settings(), transport=transport, env={}
    )


def test_some_plugin_is_installed():
    if not SIMULATORS:
        pytest.skip("no provider plugin with a simulator is installed (core tested alone)")
    assert CASES


@pytest.mark.parametrize(("name", "scenario"), CASES)
def test_scenario_watched_to_its_end(sandbox: Sandbox, name: str, scenario: Scenario):
    sandbox.reset()
    outcome = scenario.outcome
    assert outcome is not None
    if outcome in STATES:
        # patient enough for the slow scenarios that still answer
        with make_bridge(sandbox, read_timeout=5) as bridge:
            expected = played_pairs(bridge.provider(name), scenario)
            assert expected and expected[-1][0].value == outcome, "played must end in outcome"
            target = KYCState(outcome)
            expected = expected[: [s for s, _ in expected].index(target) + 1]
            waits: list[float] = []
            watcher = Watcher(
                bridge,
                name,
                dict(scenario.query),
                until={target},
                interval=0.01,
                max_interval=0.05,
                timeout=20,
                sleep=waits.append,  # the states seen are the point, not the waits between
            )
            seen = [(r.state, r.raw_status) for r in watcher]
        assert seen == expected
        assert watcher.reached
        return
    # an error outcome: a short watch; impatient only with a slow scenario (2 s to answer)
    slow = "slow" in scenario.subject
    with make_bridge(sandbox, read_timeout=0.5 if slow else 5) as bridge:
        watcher = Watcher(
            bridge, name, dict(scenario.query), interval=0.05, max_interval=0.1, timeout=0.15
        )
        with pytest.raises(KYCBridgeError) as info:
            list(watcher)
    error = info.value
    if outcome in TRANSIENT_KINDS:
        assert isinstance(error, WatchTimeout), error
        assert error.last_error is not None and error.last_error.kind == outcome
        assert error.report is None  # never turned into a state
    else:
        assert error.kind == outcome, error
        assert watcher.polls == 1


@pytest.mark.parametrize("name", sorted(SIMULATORS))
def test_bulk_status_asks_every_scenario_of_each_provider_once(sandbox: Sandbox, name: str):
    """``bulk_status`` works for every installed provider: one result per line, each a report
    or a typed error, and every scenario whose first answer is a status gives a report."""
    from kycbridge.bulk import bulk_status

    sandbox.reset()
    scenarios = list(SIMULATORS[name].scenarios)
    queries = [dict(s.query) for s in scenarios]
    with make_bridge(sandbox, read_timeout=5) as bridge:
        provider = bridge.provider(name)
        results = sorted(bulk_status(bridge, name, queries, workers=8), key=lambda r: r.index)
    assert [r.index for r in results] == list(range(len(scenarios)))
    for result, scenario in zip(results, scenarios, strict=True):
        assert (result.report is None) != (result.error is None)
        if result.error is not None:
            assert isinstance(result.error, KYCBridgeError)
        played = {state for state, _ in played_pairs(provider, scenario)}
        if result.report is not None and played:
            # a state the scenario plays (two subjects may share one script: any step)
            assert result.report.state in played, scenario.subject
    assert any(r.report is not None for r in results), "no scenario answered with a status"
