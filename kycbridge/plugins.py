"""Plugin discovery: one pluggy manager, entry points loaded one by one, failures recorded.

Nothing here runs on ``import kycbridge``: a :class:`PluginRegistry` loads the ``kycbridge``
entry points the first time it is asked for a provider. Each entry point is imported and
registered on its own; one that fails is recorded as a :class:`BrokenPlugin` and every other
provider keeps working.

Environment:

``KYCBRIDGE_LOAD_PLUGINS``
    Comma-separated allow-list of distribution names; set but empty loads none.
``KYCBRIDGE_DISABLE_PLUGINS``
    Comma-separated block list of distribution names.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import re
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
import pluggy

from . import compat, hookspecs
from .errors import PluginBroken, ProviderConflict, ProviderNotInstalled
from .provider import NAME_PATTERN, PROVIDER_MEMBERS, KYCStatusProvider

__all__ = [
    "BrokenPlugin",
    "PluginRegistry",
    "PluginWarning",
    "ProviderInfo",
    "make_plugin_manager",
]

log = logging.getLogger("kycbridge.plugins")

LOAD_ENV = "KYCBRIDGE_LOAD_PLUGINS"
DISABLE_ENV = "KYCBRIDGE_DISABLE_PLUGINS"


def _canonical_dist(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _dist_list(value: str) -> set[str]:
    return {_canonical_dist(part.strip()) for part in value.split(",") if part.strip()}


def make_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager with kycbridge's hook specs and nothing registered."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


@attrs.frozen
class BrokenPlugin:
    """A plugin that failed to import or to register, and why."""

    name: str
    """The entry point's (or plugin's) name."""
    distribution: str | None
    version: str | None
    error: str
    """``ExceptionType: message``."""

    def describe(self) -> str:
        """One line for humans."""
        dist = f" ({self.distribution} {self.version or ''})".rstrip() if self.distribution else ""
        if dist and not dist.endswith(")"):
            dist += ")"
        return f"{self.name}{dist}: {self.error}"


@attrs.frozen
class PluginWarning:
    """A plugin that loaded but uses something deprecated (see ``docs/compatibility.md``)."""

    name: str
    """The entry point's (or plugin's) name."""
    distribution: str | None
    version: str | None
    message: str

    def describe(self) -> str:
        """One line for humans."""
        return f"{self.name}: {self.message}"


@attrs.frozen
class ProviderInfo:
    """A registered provider and the distribution it came from."""

    name: str
    provider: KYCStatusProvider = attrs.field(repr=False)
    distribution: str | None = None
    version: str | None = None


@attrs.frozen
class SimulatorInfo:
    """A registered sandbox simulator and the distribution it came from."""

    name: str
    simulator: Any = attrs.field(repr=False)
    distribution: str | None = None


def _check_provider(provider: Any) -> None:
    missing = [attr for attr in PROVIDER_MEMBERS if not hasattr(provider, attr)]
    if missing:
        raise TypeError(f"{provider!r} is not a KYCStatusProvider: it lacks {missing}")
    if not isinstance(provider.name, str) or not NAME_PATTERN.fullmatch(provider.name):
        raise ValueError(f"invalid provider name {provider.name!r} (want {NAME_PATTERN.pattern})")
    if not attrs.has(provider.query_type) or not attrs.has(provider.settings_type):
        raise TypeError(f"provider {provider.name!r}: query_type and settings_type must be attrs")


def _check_webhook(handler: Any) -> None:
    name = getattr(handler, "name", None)
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ValueError(f"invalid webhook handler name {name!r} (want {NAME_PATTERN.pattern})")
    verify, parse = getattr(handler, "verify", None), getattr(handler, "parse", None)
    if not (callable(verify) and callable(parse)):
        raise TypeError(f"webhook handler {name!r} lacks verify() or parse()")


class PluginRegistry:
    """Loads plugins and holds the providers and simulators they register.

    ``plugins``: objects (modules) to register directly, for tests and embedding.
    ``entry_points``: whether to load the installed ``kycbridge`` entry points too.
    """

    def __init__(
        self,
        plugins: Iterable[object] = (),
        *,
        entry_points: bool = True,
        env: Mapping[str, str] | None = None,
        pm: pluggy.PluginManager | None = None,
    ) -> None:
        self.pm = pm or make_plugin_manager()
        self._env = os.environ if env is None else env
        self._explicit = list(plugins)
        self._use_entry_points = entry_points
        self._lock = threading.Lock()
        self._loaded = False
        self._origin: dict[int, tuple[str | None, str | None, str | None]] = {}
        """id(plugin) -> (entry point or plugin name, distribution, version)."""
        self.broken: list[BrokenPlugin] = []
        """Plugins that failed, in load order."""
        self.warnings: list[PluginWarning] = []
        """Plugins loaded with a deprecation warning, in load order."""
        self._providers: dict[str, ProviderInfo] = {}
        self._conflicts: dict[str, list[str | None]] = {}
        self._simulators: dict[str, SimulatorInfo] = {}
        self._simulators_loaded = False
        self._webhooks: dict[str, Any] = {}
        self._webhooks_loaded = False

    # -- loading -------------------------------------------------------------------------
    def load(self) -> None:
        """Load plugins now (otherwise done on first use). Idempotent, thread-safe."""
        if self._loaded:  # the common case, without the lock
            return
        with self._lock:
            if self._loaded:
                return
            for plugin in self._explicit:
                name = getattr(plugin, "__name__", None)
                self._register_plugin(plugin, name, None, None, explicit=True)
            if self._use_entry_points:
                self._load_entry_points()
            self._collect("register_providers", self._add_provider)
            self._loaded = True

    def _allowed(self, dist: str | None) -> bool:
        allow = self._env.get(LOAD_ENV)
        block = _dist_list(self._env.get(DISABLE_ENV, ""))
        name = _canonical_dist(dist or "")
        if allow is not None and name not in _dist_list(allow):
            return False
        return name not in block

    def _load_entry_points(self) -> None:
        eps = importlib.metadata.entry_points(group=hookspecs.PROJECT)
        seen: set[tuple[str, str]] = set()
        for ep in sorted(eps, key=lambda e: e.name):
            dist_obj = getattr(ep, "dist", None)
            meta = dist_obj.metadata if dist_obj is not None else None
            dist = meta["Name"] if meta is not None else None
            version = meta["Version"] if meta is not None else None
            # Entry-point names are per distribution: two distributions may both use
            # "alpha". Registered as "dist:alpha", neither hides the other; should both
            # register the same provider, that is reported as a conflict naming both.
            key = (_canonical_dist(dist or ep.value), ep.name)
            if key in seen:  # the same distribution seen twice on sys.path: the first wins
                continue
            seen.add(key)
            if not self._allowed(dist):
                log.debug("plugin %s (%s) not loaded: excluded by env", ep.name, dist)
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                self._broken(ep.name, dist, version, exc)
                continue
            self._register_plugin(plugin, ep.name, dist, version, pm_name=f"{key[0]}:{ep.name}")

    def _register_plugin(
        self,
        plugin: object,
        name: str | None,
        dist: str | None,
        version: str | None,
        *,
        pm_name: str | None = None,
        explicit: bool = False,
    ) -> None:
        try:
            if self.pm.is_registered(plugin):
                return
            self._check_api(plugin, name, dist, version, explicit)
            self.pm.register(plugin, name=pm_name or name)
        except Exception as exc:
            self._broken(name or repr(plugin), dist, version, exc)
            return
        self._origin[id(plugin)] = (name, dist, version)

    def _check_api(
        self,
        plugin: object,
        name: str | None,
        dist: str | None,
        version: str | None,
        explicit: bool,
    ) -> None:
        """Refuse (raise) or warn about a plugin by its declared plugin API, before any hook.

        Objects passed to the registry by the app itself may declare nothing, silently.
        """
        declared = getattr(plugin, compat.PLUGIN_API_ATTRIBUTE, None)
        if declared is None and explicit:
            return
        label = name or repr(plugin)
        who = f"plugin {dist} {version or ''}".rstrip() if dist else f"plugin {label}"
        notice = compat.check_plugin_api(declared, who, dist or label)
        if notice is not None:
            log.warning("kycbridge %s", notice)
            warnings.warn(notice, DeprecationWarning, stacklevel=2)
            self.warnings.append(PluginWarning(label, dist, version, notice))

    def _broken(self, name: str, dist: str | None, version: str | None, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"
        log.warning("kycbridge plugin %s (%s) is broken: %s", name, dist, error)
        self.broken.append(BrokenPlugin(name, dist, version, error))

    def _collect(self, hook_name: str, add: Callable[[Any, str | None, str | None], None]) -> None:
        caller = getattr(self.pm.hook, hook_name)
        for impl in caller.get_hookimpls():
            name, dist, version = self._origin.get(id(impl.plugin), (None, None, None))
            registered: list[Any] = []
            try:
                impl.function(register=registered.append)
                for item in registered:
                    if hook_name == "register_providers":
                        _check_provider(item)
                    elif hook_name == "register_webhooks":
                        _check_webhook(item)
            except Exception as exc:
                self._broken(name or impl.plugin_name, dist, version, exc)
                continue
            for item in registered:
                add(item, dist, version)

    def _add_provider(self, provider: Any, dist: str | None, version: str | None) -> None:
        name = provider.name
        if name in self._conflicts:  # kept sorted: the same report whatever the install order
            self._conflicts[name] = sorted([*self._conflicts[name], dist], key=str)
            return
        if name in self._providers:
            first = self._providers.pop(name)
            self._conflicts[name] = sorted([first.distribution, dist], key=str)
            return
        self._providers[name] = ProviderInfo(name, provider, dist, version)

    def _add_simulator(self, simulator: Any, dist: str | None, version: str | None) -> None:
        self._simulators.setdefault(simulator.name, SimulatorInfo(simulator.name, simulator, dist))

    # -- queries -------------------------------------------------------------------------
    def providers(self) -> list[ProviderInfo]:
        """Every usable provider, by name."""
        self.load()
        return [self._providers[name] for name in sorted(self._providers)]

    def details_types(self) -> dict[str, type[Any]]:
        """Each usable provider's ``details_type``, by name (for ``report_from_dict``)."""
        self.load()
        return {name: info.provider.details_type for name, info in self._providers.items()}

    def conflicts(self) -> dict[str, list[str | None]]:
        """Provider names registered by more than one distribution (withheld from use).

        Each maps to the distributions registering it, sorted by name. Two distributions
        may use the same entry-point name: only the provider names they register count.
        """
        self.load()
        return dict(self._conflicts)

    def simulators(self) -> list[SimulatorInfo]:
        """Every registered sandbox simulator, by name (collected on first call only)."""
        self.load()
        with self._lock:
            if not self._simulators_loaded:
                self._collect("register_simulators", self._add_simulator)
                self._simulators_loaded = True
        return [self._simulators[name] for name in sorted(self._simulators)]

    def webhooks(self) -> list[Any]:
        """Every registered webhook handler, by name (collected on first call only)."""
        self.load()
        with self._lock:
            if not self._webhooks_loaded:
                self._collect(
                    "register_webhooks", lambda h, *_: self._webhooks.setdefault(h.name, h)
                )
                self._webhooks_loaded = True
        return [self._webhooks[name] for name in sorted(self._webhooks)]

    def get(self, name: str) -> KYCStatusProvider:
        """The provider called ``name``, or a :class:`PluginError` saying why not."""
        self.load()
        info = self._providers.get(name)
        if info is not None:
            return info.provider
        if name in self._conflicts:
            dists = ", ".join(str(d) for d in self._conflicts[name])
            raise ProviderConflict(
                f"provider {name!r} is registered by more than one distribution: {dists}; "
                f"uninstall one or disable it with {DISABLE_ENV}",
                provider=name,
            )
        for broken in self.broken:
            if broken.name == name:
                raise PluginBroken(f"plugin is broken: {broken.error}", provider=name)
        installed = ", ".join(sorted(self._providers)) or "none"
        raise ProviderNotInstalled(
            f"provider {name!r} is not installed (installed: {installed})", provider=name
        )
