"""Fixtures for the core's tests, wired to the toy provider in ``toy.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from toy import ToySimulator, toy_plugin

import kycbridge
from kycbridge.sandbox import Sandbox
from kycbridge.transport import Transport


@pytest.fixture
def toy_sim() -> ToySimulator:
    return ToySimulator()


@pytest.fixture
def toy_sandbox(toy_sim: ToySimulator) -> Iterator[Sandbox]:
    with Sandbox([toy_sim]) as sandbox:
        yield sandbox


@pytest.fixture
def toy_bridge(toy_sandbox: Sandbox) -> Iterator[kycbridge.Bridge]:
    transport = Transport(retries=1, backoff_factor=0.01, max_retry_after=0.1, read_timeout=2)
    with kycbridge.Bridge(
        [toy_plugin], settings=toy_sandbox.settings(), transport=transport, env={}
    ) as bridge:
        yield bridge
