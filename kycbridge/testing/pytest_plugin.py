"""pytest fixtures for code that uses kycbridge: a running sandbox and a bridge wired to it.

Installed with kycbridge and loaded in every pytest session through the ``pytest11`` entry
point ``kycbridge``. It adds two fixtures and nothing else: no options, no ini keys, no
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

Disable the plugin with ``-p no:kycbridge``. Once the entry point is installed, do not also
pass ``-p kycbridge.testing.pytest_plugin`` (pytest refuses a plugin registered twice).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kycbridge.bridge import Bridge
from kycbridge.sandbox import Sandbox
from kycbridge.testing import fast_transport

__all__ = ["kycbridge_bridge", "kycbridge_sandbox"]


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
