"""The facade apps use: :class:`Bridge`.

>>> bridge = Bridge()                                            # doctest: +SKIP
>>> report = bridge.status("starkfi", email="jane@example.com")  # doctest: +SKIP
>>> report.state, report.final                                   # doctest: +SKIP
(<KYCState.IN_REVIEW: 'in_review'>, False)
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from . import credentials
from .errors import ProviderUnavailable, RateLimited
from .plugins import PluginRegistry, ProviderInfo
from .provider import HTTPStatusProvider, KYCStatusProvider, build_query, load_settings
from .ratelimit import Limiter, LimiterFactory, default_limiter
from .redact import mask
from .report import StatusReport, report_from_dict
from .states import KYCState, is_expected
from .transport import Transport

__all__ = ["Bridge"]

log = logging.getLogger("kycbridge.bridge")

_MAX_TRACKED = 100_000


@attrs.frozen
class _Route:
    """A provider and the limiter every call to it goes through, resolved once per bridge."""

    provider: KYCStatusProvider
    limiter: Limiter | None
    exchanges: bool = False
    """Whether the provider may obtain credentials by exchange (a credential cache matters)."""


class Bridge:
    """One object for an app: providers, settings, one shared transport, event hooks.

    ``plugins``: plugin objects to use *instead of* the installed entry points (tests,
    embedding); ``None`` discovers installed plugins (lazily, on first use).
    ``settings``: per provider, setting overrides (``{"starkfi": {"api_key": ...}}``), on top
    of env ``KYCBRIDGE_<PROVIDER>_<SETTING>`` and the defaults.
    ``hooks``: objects implementing event hooks (``status_observed``, ``state_changed``).
    ``transport``: a :class:`Transport` to share (default: a new one).
    ``timeout``: overall seconds per call (rate-limit wait, connecting, the answer, retries
    and their waits), for :meth:`status` and :meth:`fetch` without a ``deadline``; default
    ``None``: the transport's own ``call_timeout`` per request.
    ``limiter_factory``: makes each provider's rate limiter, ``factory(name, rate)`` (default:
    an in-process :class:`~kycbridge.ratelimit.RateLimiter`; a limiter shared by processes:
    ``kycbridge.tracking.limiters``).
    ``credential_cache``: where exchanged tokens are kept (:mod:`kycbridge.credentials`): a
    :class:`~kycbridge.credentials.CredentialCache`, or a URL (``memory://``,
    ``redis://HOST:PORT/DB?prefix=P``: shared by worker processes); default: env
    ``KYCBRIDGE_CREDENTIAL_CACHE``, else the process-wide in-memory cache.
    """

    def __init__(
        self,
        plugins: Iterable[object] | None = None,
        *,
        settings: Mapping[str, Mapping[str, Any]] | None = None,
        hooks: Iterable[object] = (),
        transport: Transport | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        limiter_factory: LimiterFactory | None = None,
        credential_cache: credentials.CredentialCache | str | None = None,
    ) -> None:
        if timeout is not None and not timeout > 0:
            raise ValueError("timeout must be positive (or None)")
        self.timeout = timeout
        """Overall seconds per call (``None``: the transport's ``call_timeout``)."""
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.registry = PluginRegistry(plugins or (), entry_points=plugins is None, env=self.env)
        for hook in hooks:
            self.registry.pm.register(hook)
        self.transport = transport or Transport()
        self._overrides = {k: dict(v) for k, v in (settings or {}).items()}
        self._routes: dict[str, _Route] = {}
        self._settings: dict[str, Any] = {}
        self._last: OrderedDict[tuple[str, str | None], KYCState] = OrderedDict()
        self._lock = threading.Lock()
        self.limiter_factory: LimiterFactory = limiter_factory or default_limiter
        if credential_cache is None:
            credential_cache = self.env.get(credentials.CACHE_ENV) or None
        if isinstance(credential_cache, str):
            credential_cache = credentials.credential_cache(credential_cache)
        self.credential_cache: credentials.CredentialCache | None = credential_cache
        """Where exchanged tokens are kept (``None``: the process-wide in-memory cache)."""

    def __repr__(self) -> str:
        return f"<Bridge transport={self.transport!r}>"

    # -- providers -----------------------------------------------------------------------
    @property
    def plugin_manager(self) -> Any:
        """The pluggy manager: register event-hook objects on it."""
        return self.registry.pm

    def provider(self, name: str) -> KYCStatusProvider:
        """The provider called ``name`` (raises ``ProviderNotInstalled`` and friends)."""
        return self.registry.get(name)

    def providers(self) -> list[ProviderInfo]:
        """Every usable provider."""
        return self.registry.providers()

    def settings(self, name: str, **overrides: Any) -> Any:
        """The provider's settings: defaults < env < constructor ``settings`` < ``overrides``."""
        if not overrides:
            cached = self._settings.get(name)  # a dict read is atomic: no lock needed
            if cached is not None:
                return cached
        provider = self.provider(name)
        merged = {**self._overrides.get(name, {}), **overrides}
        value = load_settings(provider, merged, self.env)
        if not overrides:
            self._settings.setdefault(name, value)
        return value

    def query(self, name: str, **fields: Any) -> Any:
        """Build and validate a query for provider ``name`` (raises ``InvalidQuery``)."""
        return build_query(self.provider(name), fields, self.env)

    def report_from_dict(self, data: dict[str, Any]) -> StatusReport:
        """Rebuild a report from its JSON form, its details typed by this bridge's provider."""
        return report_from_dict(data, details_types=self.registry.details_types())

    def rate_limiter(self, name: str) -> Limiter | None:
        """The limiter every call to provider ``name`` goes through (``None``: no limit)."""
        return self._route(name).limiter

    def _route(self, name: str) -> _Route:
        """Provider ``name`` and its limiter, made once, then read without a lock."""
        route = self._routes.get(name)
        if route is not None:
            return route
        provider = self.provider(name)  # raises for a name that is not usable
        rate = provider.rate_limit
        with self._lock:
            route = self._routes.get(name)
            if route is None:  # another thread may have made it meanwhile: keep that one
                limiter = self.limiter_factory(name, rate) if rate else None
                exchanges = getattr(type(provider), "credential", None) not in (
                    None,
                    HTTPStatusProvider.credential,
                )
                route = _Route(provider, limiter, exchanges)
                self._routes[name] = route
        return route

    # -- calls ---------------------------------------------------------------------------
    def status(self, provider_name: str, /, **query_fields: Any) -> StatusReport:
        """Ask ``provider_name`` once about the subject in ``query_fields``; return the report.

        Raises :class:`~kycbridge.errors.InvalidQuery` before any I/O when the fields are
        invalid, and the other :class:`~kycbridge.errors.KYCBridgeError` types for what the
        provider answered. The call ends within :attr:`timeout` seconds when it is set.
        """
        route = self._route(provider_name)
        query = build_query(route.provider, query_fields, self.env)
        return self._fetch(route, query, self.settings(provider_name), self.transport, None)

    def fetch(
        self,
        provider_name: str,
        query: Any,
        *,
        settings: Any = None,
        transport: Transport | None = None,
        deadline: float | None = None,
        observe: bool = True,
    ) -> StatusReport:
        """Ask once with an already built query, through the rate limiter; fire the hooks.

        ``deadline``: an absolute :func:`time.monotonic` value the whole call (the rate
        limiter's wait included) must end by; past it,
        :class:`~kycbridge.errors.ProviderUnavailable`. Default: :attr:`timeout` seconds
        from now, when set.
        ``observe=False``: return the provider's report as parsed, without :meth:`observe`:
        the bridge's memory of last states is neither read nor updated, no anomaly is
        judged and no event hook fires. For callers that judge and fire themselves, once
        they know what really changed (the tracking scheduler, after its database write).
        """
        route = self._route(provider_name)
        settings = settings if settings is not None else self.settings(provider_name)
        return self._fetch(route, query, settings, transport or self.transport, deadline, observe)

    def _fetch(
        self,
        route: _Route,
        query: Any,
        settings: Any,
        transport: Transport,
        deadline: float | None,
        observe: bool = True,
    ) -> StatusReport:
        if deadline is None and self.timeout is not None:
            deadline = time.monotonic() + self.timeout
        limiter = route.limiter
        if limiter is not None:
            if deadline is None:
                seconds = getattr(transport, "call_timeout", None)
                deadline = None if seconds is None else time.monotonic() + seconds
            try:
                limiter.acquire(None if deadline is None else deadline - time.monotonic())
            except TimeoutError as exc:
                raise ProviderUnavailable(
                    f"no answer within the deadline: the rate limit allows none before it ({exc})",
                    provider=route.provider.name,
                ) from None
        if deadline is not None:
            transport = transport.until(deadline)
        try:
            if route.exchanges and self.credential_cache is not None:
                with credentials.using(self.credential_cache):
                    report = route.provider.fetch(query, settings, transport)
            else:  # the context's cache (the process default unless a caller chose one)
                report = route.provider.fetch(query, settings, transport)
        except RateLimited as exc:
            if limiter is not None and exc.retry_after:
                limiter.defer(min(exc.retry_after, transport.retry.max_retry_after))
            raise
        return self.observe(report) if observe else report

    def observe(self, report: StatusReport) -> StatusReport:
        """Record a report against the subject's last state; fire the event hooks.

        Returns the report with ``anomaly`` set when the transition was unexpected. This is
        the one place anomalies are judged (and logged, as a warning): the ``state_changed``
        hook, the report and a :class:`~kycbridge.watch.Watcher` all get this judgement.
        """
        key = (report.provider, report.subject)
        with self._lock:
            old = self._last.get(key)
            self._last[key] = report.state
            self._last.move_to_end(key)
            if len(self._last) > _MAX_TRACKED:
                self._last.popitem(last=False)
        anomaly = not is_expected(old, report.state)
        if anomaly:
            report = attrs.evolve(report, anomaly=True)
            log.warning(
                "%s %s: unexpected transition %s -> %s (raw: %s)",
                report.provider,
                mask(report.subject),
                old,
                report.state,
                report.raw_status,
            )
        hook = self.registry.pm.hook
        # A hook call with no implementation does nothing; skipping it saves its cost.
        if hook.status_observed.get_hookimpls():
            hook.status_observed(report=report)
        if old is not report.state and hook.state_changed.get_hookimpls():
            hook.state_changed(old=old, new=report.state, report=report, anomaly=anomaly)
        return report

    def close(self) -> None:
        """Close pooled connections."""
        self.transport.pool.clear()

    def __enter__(self) -> Bridge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
