"""pytest fixtures for code that uses kycbridge: a running sandbox and a bridge wired to it.

Installed with kycbridge and loaded in every pytest session through the ``pytest11`` entry
point ``kycbridge``. It adds three fixtures and nothing else: no options, no ini keys, no
markers, no hooks; it imports only pytest and the kycbridge core (never Hypothesis), and
starts nothing until a test asks for a fixture.

``kycbridge_sandbox``
    a running :class:`~kycbridge.sandbox.Sandbox` serving every installed simulator (as
    ``Sandbox.from_installed()``; ``KYCBRIDGE_LOAD_PLUGINS`` / ``KYCBRIDGE_DISABLE_PLUGINS``
    apply). The server is started once per session, on first use; before each test that
    uses it, every scenario starts over (``sandbox.reset()``) and ``sandbox.requests``
    is emptied.
``kycbridge_bridge``
    a :class:`~kycbridge.Bridge` over the installed plugins whose providers point at that
    sandbox (with its sandbox credentials), with a fast transport (one quick retry,
    ``Retry-After`` capped at 50 ms, 3 s read timeout); closed after the test.
``kycbridge_hostile``
    a running :class:`~kycbridge.testing.hostile.HostileServer` (slow drips, silence,
    gzip bombs, redirects, escapes, echoed secrets, huge and malformed JSON), one per
    session, its request log emptied before each test. Point a provider's base URL at
    ``kycbridge_hostile.url("drip-body")`` and check it ends in a typed error in time.

Disable the plugin with ``-p no:kycbridge``. Once the entry point is installed, do not also
pass ``-p kycbridge.testing.pytest_plugin`` (pytest refuses a plugin registered twice).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kycbridge.bridge import Bridge
from kycbridge.sandbox import Sandbox
from kycbridge.testing import fast_transport
from kycbridge.testing.hostile import HostileServer

__all__ = ["kycbridge_bridge", "kycbridge_hostile", "kycbridge_sandbox"]


@pytest.fixture(scope="session")
def _kycbridge_sandbox_server() -> Iterator[Sandbox]:
    """The session's sandbox server, started on first use and stopped at the end."""
    sandbox = Sandbox.from_installed()
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def kycbridge_sandbox(_kycbridge_sandbox_server: Sandbox) -> Sandbox:
    """A running sandbox with every installed simulator; scenarios start over for each test."""
    sandbox = _kycbridge_sandbox_server
    sandbox.reset()
    sandbox.requests.clear()
    return sandbox


@pytest.fixture
def kycbridge_bridge(kycbridge_sandbox: Sandbox) -> Iterator[Bridge]:
    """A :class:`~kycbridge.Bridge` talking to ``kycbridge_sandbox``, closed after the test."""
    bridge: Bridge = kycbridge_sandbox.bridge(transport=fast_transport())
    with bridge:
        yield bridge


@pytest.fixture(scope="session")
def _kycbridge_hostile_server() -> Iterator[HostileServer]:
    """The session's hostile server, started on first use and stopped at the end."""
    with HostileServer() as hostile:
        yield hostile


@pytest.fixture
def kycbridge_hostile(_kycbridge_hostile_server: HostileServer) -> HostileServer:
    """A running hostile server (see :mod:`kycbridge.testing.hostile`); requests forgotten."""
    _kycbridge_hostile_server.reset()
    return _kycbridge_hostile_server
