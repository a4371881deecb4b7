"""The credential contract: for providers that obtain a short-lived token themselves.

A provider whose :meth:`~kycbridge.HTTPStatusProvider.credential` returns a
:class:`~kycbridge.credentials.TokenExchange` runs these checks against its simulator::

    from kycbridge.testing.credentials import CredentialContract

    class TestMyCredentials(CredentialContract):
        provider = MyProvider()
        simulator_factory = MySimulator
        valid_query = {"email": "jane@example.com"}

The simulator needs ``credential_settings`` (the settings that make the provider exchange
against it: a sandbox client id and secret) and an ``exchanges`` counter of the tokens it
issued. Static credentials named in ``provider.credential_info.static`` are cleared, so that
the exchange is used. Checked over real HTTP on loopback: the exchange happens and its token
is reused; the token never shows in errors, reprs or DEBUG logs; concurrent first calls
exchange once (single flight); a refused secret is an
:class:`~kycbridge.AuthenticationError` naming the settings, not showing them.
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

import pytest

from kycbridge.credentials import CredentialCache, using
from kycbridge.errors import AuthenticationError, KYCBridgeError
from kycbridge.provider import build_query, load_settings
from kycbridge.sandbox import Sandbox, Simulator
from kycbridge.testing import fast_transport

__all__ = ["CredentialContract"]


class CredentialContract:
    """Checks of a provider's token exchange. Subclass it as ``Test<Something>``."""

    __test__: ClassVar[bool] = False

    provider: ClassVar[Any]
    """The provider under test (an instance); its ``credential`` must give an exchange."""
    simulator_factory: ClassVar[Callable[[], Simulator]]
    """Returns a fresh simulator with ``credential_settings`` and ``exchanges``."""
    valid_query: ClassVar[Mapping[str, Any]]
    """Query fields of one call the simulator answers with a report."""
    error_queries: ClassVar[Sequence[Mapping[str, Any]]] = ()
    """Query fields of calls the simulator answers with an error (their texts are checked)."""
    threads: ClassVar[int] = 16
    """Threads making the first call at once (single flight)."""

    _sandbox: Sandbox
    _simulator: Any

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__test__" not in cls.__dict__:
            cls.__test__ = True

    @pytest.fixture(autouse=True)
    def _kycbridge_credential_env(self) -> Iterator[None]:
        self._simulator = type(self).simulator_factory()  # through the class: never bound
        for name in ("credential_settings", "exchanges"):
            if not hasattr(self._simulator, name):
                pytest.fail(f"the simulator has no {name!r} (see CredentialContract)")
        with Sandbox([self._simulator]) as sandbox:
            self._sandbox = sandbox
            yield

    def settings(self, **overrides: Any) -> Any:
        """Settings that make the provider exchange against the simulator."""
        info = getattr(self.provider, "credential_info", None)
        static = dict.fromkeys(info.static if info is not None else (), None)
        values = {
            **self._sandbox.settings()[self.provider.name],
            **static,
            **self._simulator.credential_settings,
            **overrides,
        }
        return load_settings(self.provider, values, env={})

    def call(self, cache: CredentialCache, fields: Mapping[str, Any], settings: Any = None) -> Any:
        """One fetch through ``cache`` (a report, or raises)."""
        query = build_query(self.provider, fields, env={})
        with using(cache):
            return self.provider.fetch(query, settings or self.settings(), fast_transport())

    def _token(self, cache: CredentialCache) -> str:
        exchange = self.provider.credential(self.settings())
        token = cache.peek(exchange.key)
        assert token is not None, "no token cached after a call"
        return str(token.value)

    def test_declares_an_exchange(self) -> None:
        """With the credential settings, ``credential`` gives an exchange whose key is no secret."""
        exchange = self.provider.credential(self.settings())
        assert exchange is not None, "credential() gave None with the credential settings"
        for value in self._simulator.credential_settings.values():
            assert str(value) not in exchange.key, "the cache key shows a secret"
            assert str(value) not in repr(exchange)

    def test_exchange_happens_once_and_token_is_reused(self) -> None:
        """The first call exchanges; the next ones reuse the token."""
        cache = CredentialCache()
        for _ in range(3):
            self.call(cache, self.valid_query)
        assert self._simulator.exchanges == 1
        assert cache.exchanges == 1

    def test_token_never_shown(self, caplog: pytest.LogCaptureFixture) -> None:
        """The token is in no error text, repr or DEBUG log line."""
        caplog.set_level(logging.DEBUG)
        cache = CredentialCache()
        self.call(cache, self.valid_query)
        errors: list[KYCBridgeError] = []
        for fields in self.error_queries:
            try:
                self.call(cache, fields)
            except KYCBridgeError as exc:
                errors.append(exc)
        assert len(errors) == len(self.error_queries), "an error query gave a report"
        token = self._token(cache)
        texts = [repr(cache), repr(self.settings())]
        for error in errors:
            texts += [str(error), repr(error), json.dumps(error.to_dict())]
            texts += traceback.format_exception(type(error), error, None)
        texts += [record.getMessage() for record in caplog.records]
        leaks = [text for text in texts if token in text]
        assert not leaks, f"the token shows: {leaks[0][:300]}"

    def test_single_flight(self) -> None:
        """Concurrent first calls make one exchange."""
        cache = CredentialCache()
        barrier = threading.Barrier(self.threads)
        failures: list[BaseException] = []

        def run() -> None:
            barrier.wait()
            try:
                self.call(cache, self.valid_query)
            except BaseException as exc:
                failures.append(exc)

        workers = [threading.Thread(target=run) for _ in range(self.threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        assert not failures, failures[0]
        assert self._simulator.exchanges == 1

    def test_refused_secret(self, caplog: pytest.LogCaptureFixture) -> None:
        """A wrong secret: AuthenticationError naming the settings, never showing them."""
        caplog.set_level(logging.DEBUG)
        canary = "kbcanary-credential-5e2a94b8e7d1"
        names = list(self._simulator.credential_settings)
        settings = self.settings(**dict.fromkeys(names, canary))
        with pytest.raises(AuthenticationError) as info:
            self.call(CredentialCache(), self.valid_query, settings)
        error = info.value
        assert any(name in error.message for name in names), error.message
        texts = [str(error), repr(error), json.dumps(error.to_dict())]
        texts += [record.getMessage() for record in caplog.records]
        assert not [t for t in texts if canary in t], "the refused secret shows"
        assert self._simulator.exchanges == 0
