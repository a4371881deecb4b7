"""Fixtures shared by the Transak plugin's test modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kycbridge.sandbox import Replay, Sandbox


# One server per module (stopping one costs up to half a second); state is reset per test.
@pytest.fixture(scope="module")
def replay_server() -> Iterator[tuple[Replay, Sandbox]]:
    """A sandbox serving scripted raw answers below ``/transak``."""
    replay = Replay("transak")
    with Sandbox([replay]) as sandbox:
        yield replay, sandbox


@pytest.fixture
def replay(replay_server: tuple[Replay, Sandbox]) -> Replay:
    """The module's :class:`Replay`, emptied for this test."""
    replay_server[0].reset()
    return replay_server[0]
