"""The provider contract: a base test class every provider plugin can run against itself.

Subclass :class:`ProviderContract` in a test module, name the subclass ``Test...`` and set
its class attributes; pytest collects the contract's tests for it::

    from kycbridge.testing import ProviderContract

    class TestMyProviderContract(ProviderContract):
        provider = MyProvider()
        simulator_factory = MySimulator
        plugin = kycbridge_myprovider
        distribution = "kycbridge-myprovider"
        valid_queries = [{"email": "jane@example.com"}]
        invalid_queries = [{"email": "not an email"}, {}]

Needs Hypothesis (``pip install kycbridge[testing]``). See ``docs/testing.md``.
"""

from __future__ import annotations

import copy
import importlib.metadata
import json
import logging
import re
import socket
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kycbridge import hookspecs
from kycbridge.errors import AuthenticationError, InvalidQuery, KYCBridgeError
from kycbridge.plugins import PluginRegistry
from kycbridge.provider import (
    HTTPStatusProvider,
    KYCStatusProvider,
    build_query,
    is_secret,
    load_settings,
)
from kycbridge.ratelimit import RateLimiter
from kycbridge.redact import mask
from kycbridge.report import StatusReport, report_from_dict, report_to_dict
from kycbridge.sandbox import Replay, Sandbox, Scenario, SimResponse, Simulator
from kycbridge.states import KYCState
from kycbridge.testing import FAST_TRANSPORT, fast_transport
from kycbridge.testing.canary import canary_candidates, find_leaks, record_text
from kycbridge.testing.clock import FakeClock
from kycbridge.testing.hostile import BEHAVIOURS, HostileServer, gzip_bomb
from kycbridge.testing.strategies import json_values, payloads, raw_words
from kycbridge.transport import IDEMPOTENT_METHODS, Request, Transport

__all__ = ["ErrorCase", "ProviderContract", "error_kinds"]

ErrorCase = tuple[str | Mapping[str, Any], type[KYCBridgeError]]
"""One error case: a scenario subject (or query fields) and the error class it must raise."""

TRANSIENT_KINDS: frozenset[str] = frozenset({"unavailable", "rate_limited"})
"""Error kinds a scenario may pass through on its way to its outcome (retryable faults)."""

_UNKNOWN_FIELD = "kycbridge_contract_no_such_field"
_VARIANTS: tuple[Callable[[str], str], ...] = (
    lambda w: w,
    str.lower,
    str.upper,
    str.title,
    str.swapcase,
    lambda w: f"  {w}  ",
    lambda w: f"\t{w}\n",
    lambda w: f" {w.upper()}\r\n",
    lambda w: f"{w.lower()} ",
)
_EDGE_VALUES: tuple[Any, ...] = (
    None,
    "",
    " ",
    "\x00",
    0,
    -1,
    1.5,
    float("nan"),
    float("inf"),
    True,
    False,
    [],
    {},
    [None],
    {"": None},
    {"status": None},
    {"status": {"status": []}},
    [[[[[[[[[[[]]]]]]]]]]],
    "\u0130",  # İ: lowercases to two code points
    "ß",
    "x" * 10_000,
)


def error_kinds() -> dict[str, type[KYCBridgeError]]:
    """Every ``kind`` of :class:`~kycbridge.KYCBridgeError` subclass imported so far."""
    kinds: dict[str, type[KYCBridgeError]] = {}
    stack: list[type[KYCBridgeError]] = [KYCBridgeError]
    while stack:
        cls = stack.pop()
        kinds.setdefault(cls.kind, cls)
        stack.extend(cls.__subclasses__())
    return kinds


def _map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """``value`` with ``change`` applied to every string in it (dict values, not keys)."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, Mapping):
        return {k: _map_strings(v, change) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_map_strings(v, change) for v in value)
    return value


def _dump(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=False, default=repr)
    except (TypeError, ValueError, RecursionError):
        return repr(value)


def _canonical(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def _secret_fields(cls: type[Any]) -> list[str]:
    if not attrs.has(cls):
        return []
    return [f.name for f in attrs.fields(cls) if is_secret(f)]


def _exception_texts(exc: BaseException) -> list[str]:
    """What an error shows anywhere: str, repr, args, JSON form, its chain, its traceback."""
    texts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current), repr(current.args)]
        if isinstance(current, KYCBridgeError):
            texts += [_dump(current.to_dict()), repr(vars(current))]
        current = current.__cause__ or current.__context__
    texts.append("".join(traceback.format_exception(exc)))
    return texts


def _labelled(where: str, texts: list[str]) -> list[tuple[str, str]]:
    return [(where, text) for text in texts]


def signs_per_attempt(provider: object) -> bool:
    """Whether ``provider``'s class overrides ``HTTPStatusProvider.sign`` (signs per attempt)."""
    sign = getattr(type(provider), "sign", None)
    return callable(sign) and sign is not HTTPStatusProvider.sign


_SIGNING_TESTS = ("test_signs_every_attempt", "test_signed_bytes_are_sent")
"""The contract's tests that exist only for providers that sign (:func:`signs_per_attempt`)."""


class _ClosedPort:
    """A loopback TCP port bound but not listening: connecting to it is refused.

    Bound for as long as the context lasts, so no other process can take it meanwhile.
    """

    def __enter__(self) -> int:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        port: int = self._sock.getsockname()[1]
        return port

    def __exit__(self, *exc: object) -> None:
        self._sock.close()


@attrs.define
class _Signed:
    """One call of a provider's ``sign``: what it was given, the time, what it returned."""

    given: Request
    now: float
    returned: Request


@attrs.define
class _Env:
    """What one contract class shares between its tests: the sandbox and a rate limiter."""

    sandbox: Sandbox
    simulator: Simulator
    limiter: RateLimiter | None
    hostile: HostileServer | None = None


_ENV_KEY = pytest.StashKey[_Env]()


class ProviderContract:
    """Tests every kycbridge provider must pass. Subclass it as ``Test<Something>``.

    Required class attributes: :attr:`provider`, :attr:`simulator_factory`, :attr:`plugin`.
    The others have defaults. The tests talk to a fresh simulator (from
    :attr:`simulator_factory`) served by a :class:`~kycbridge.sandbox.Sandbox` over real HTTP
    on loopback, one sandbox per subclass, scenarios reset before each test.

    The base class is not collected (``__test__ = False``); every subclass is, unless it sets
    ``__test__ = False`` itself (for an intermediate base class).
    """

    __test__: ClassVar[bool] = False

    # -- what an author sets -------------------------------------------------------------
    provider: ClassVar[KYCStatusProvider]
    """The provider under test (an instance)."""
    simulator_factory: ClassVar[Callable[[], Simulator]]
    """Returns a fresh simulator of the provider (a class, or any callable)."""
    plugin: ClassVar[object]
    """The plugin object (usually the module) the ``kycbridge`` entry point names."""
    distribution: ClassVar[str | None] = None
    """The distribution's name. When set, the ``kycbridge`` entry point must really be
    installed and register the provider; otherwise :attr:`plugin`'s hooks are called."""
    valid_queries: ClassVar[Sequence[Mapping[str, Any]]] = ()
    """Query fields that must validate. Default: the queries of the simulator's scenarios."""
    invalid_queries: ClassVar[Sequence[Mapping[str, Any]]] = ()
    """Query fields that must raise :class:`~kycbridge.InvalidQuery` (an unknown field is
    always tried too)."""
    documented_statuses: ClassVar[
        Mapping[Any, KYCState] | Sequence[tuple[Any, KYCState]] | None
    ] = None
    """Raw status -> the state ``provider.normalize`` must give it, as a mapping or as
    ``(raw, state)`` pairs (for raw values that are not hashable, like ``dict`` payloads).
    Every string in a raw value is also tried in other cases and with whitespace around it.
    Default: the rows of ``provider.status_map`` (for providers normalizing one word)."""
    error_cases: ClassVar[Mapping[str, type[KYCBridgeError]] | Sequence[ErrorCase]] = ()
    """Scenario subject (or query fields) -> the error class one call must raise, over HTTP
    against the simulator."""
    wrong_secret_error: ClassVar[type[KYCBridgeError]] = AuthenticationError
    """What a call with every secret replaced by :attr:`canary_secret` must raise."""
    canary_secret: ClassVar[str] = "kbcanary-7d1f0c55e2a94b8e"  # noqa: S105 - a fake
    """A fake secret put in every secret field, then searched for in reprs, errors and logs.
    Change it if the provider's validators refuse it."""
    transport_options: ClassVar[Mapping[str, Any]] = {}
    """:class:`~kycbridge.Transport` options over :data:`~kycbridge.testing.FAST_TRANSPORT`."""
    scenario_transport_options: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    """Per scenario subject, transport options over :attr:`transport_options` (for example
    ``{"slow-subject": {"read_timeout": 1}}`` when a slow answer should time out)."""
    skip_scenarios: ClassVar[Mapping[str, str]] = {}
    """Scenario subject -> why the scenario test is skipped for it."""
    scenario_margin: ClassVar[int] = 2
    """Calls allowed beyond ``len(scenario.played)`` for a scenario to reach its outcome."""
    max_examples: ClassVar[int] = 150
    """Hypothesis examples per property test."""
    hostile_deadline: ClassVar[float] = 1.0
    """Seconds of deadline given to each call against the hostile server."""
    hostile_bound: ClassVar[float] = 20.0
    """Seconds a call against the hostile server may take at most (its drips last 120 s)."""
    skip_hostile: ClassVar[Mapping[str, str]] = {}
    """Hostile behaviour -> why the hostile test is skipped for it."""
    canary_subject: ClassVar[str] = "kbsubject7c3e91d4a2"
    """The made-up personal value put in every personal query field (see
    :attr:`canary_queries`), then searched for in logs, errors and reprs. A field whose
    validation refuses it gets a value shaped after the valid one: a UUID for a UUID,
    ``canary_subject@<domain>`` for an email, else the valid value's characters redrawn."""
    canary_queries: ClassVar[Sequence[Mapping[str, Any]] | None] = None
    """Query fields whose personal fields hold made-up values, for the personal-data checks.
    Default: each of :attr:`valid_queries` with every personal field (the one
    ``provider.subject`` returns, and those whose values the request marks personal)
    replaced by a canary derived from :attr:`canary_subject`. Set it when validation is too
    strict for that (a checksum)."""
    signing_retry_after: ClassVar[int] = 90
    """For a signing provider: the ``Retry-After`` seconds of the 429 answered before the
    retry whose fresh signature is checked. The transport's ``sleep`` is a
    :class:`~kycbridge.testing.FakeClock`'s: no real time passes."""
    signing_clock_start: ClassVar[float] = 1_800_000_000.0
    """For a signing provider: the fake time (seconds since the epoch) its ``now()`` gives
    at the first attempt."""

    _kycbridge_scenarios: ClassVar[list[Scenario] | None] = None
    _env: _Env
    _transports: dict[str, Transport]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__test__" not in cls.__dict__:
            cls.__test__ = True
        # The signing checks exist only for a provider that signs: no test, rather than a
        # skipped one, for all the others.
        signing = signs_per_attempt(getattr(cls, "provider", None))
        for name in _SIGNING_TESTS:
            if name not in cls.__dict__:  # a subclass's own version stays
                setattr(cls, name, getattr(ProviderContract, name) if signing else None)

    # -- plumbing ------------------------------------------------------------------------
    @classmethod
    def _require(cls) -> None:
        missing = [
            name for name in ("provider", "simulator_factory", "plugin") if not hasattr(cls, name)
        ]
        if missing:
            pytest.fail(f"{cls.__name__} must set the class attribute(s) {missing}")

    @classmethod
    def _new_simulator(cls) -> Simulator:
        cls._require()
        # Through the class: a plain function set as the attribute is not bound to self.
        return cls.simulator_factory()

    @classmethod
    def _scenarios(cls) -> list[Scenario]:
        cached: list[Scenario] | None = cls.__dict__.get("_kycbridge_scenarios")
        if cached is None:
            cached = list(cls._new_simulator().scenarios)
            cls._kycbridge_scenarios = cached
        return cached

    @classmethod
    def _error_cases(cls) -> list[ErrorCase]:
        cases = cls.error_cases
        if isinstance(cases, Mapping):
            return list(cases.items())
        return list(cases)

    @classmethod
    def _documented(cls) -> list[tuple[Any, KYCState]]:
        documented = cls.documented_statuses
        if documented is None:
            return list(cls.provider.status_map.rows())
        if isinstance(documented, Mapping):
            return list(documented.items())
        return list(documented)

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Parametrize the scenario and error-case tests from the class attributes."""
        if "kycbridge_scenario" in metafunc.fixturenames:
            scenarios = self._scenarios()
            metafunc.parametrize(
                "kycbridge_scenario", scenarios, ids=[s.subject for s in scenarios]
            )
        if "kycbridge_hostile_case" in metafunc.fixturenames:
            metafunc.parametrize("kycbridge_hostile_case", BEHAVIOURS)
        if "kycbridge_privacy_case" in metafunc.fixturenames:
            scenarios = [s for s in self._scenarios() if s.subject not in self.skip_scenarios]
            privacy: list[tuple[str, Scenario | None]] = [("canary", None), ("refused", None)]
            privacy += [("scenario", s) for s in scenarios]
            names = ["canary", "refused", *(f"scenario-{s.subject}" for s in scenarios)]
            metafunc.parametrize("kycbridge_privacy_case", privacy, ids=names)
        if "kycbridge_error_case" in metafunc.fixturenames:
            cases = self._error_cases()
            ids = [c[0] if isinstance(c[0], str) else f"query{i}" for i, c in enumerate(cases)]
            metafunc.parametrize("kycbridge_error_case", cases, ids=ids)

    @classmethod
    def _start_env(cls) -> _Env:
        simulator = cls._new_simulator()
        name = cls.provider.name
        if simulator.name != name:
            pytest.fail(f"the simulator is named {simulator.name!r}, the provider {name!r}")
        rate = getattr(cls.provider, "rate_limit", None)
        sandbox = Sandbox([simulator]).start()
        return _Env(sandbox, simulator, RateLimiter(rate) if rate else None)

    @pytest.fixture(autouse=True)
    def _kycbridge_contract_env(self, request: pytest.FixtureRequest) -> Iterator[None]:
        # One sandbox per test class, kept in the class node's stash and stopped when the
        # class is torn down (a class-scoped fixture method would be bound to no instance).
        holder = request.node.getparent(pytest.Class) or request.node
        env = holder.stash.get(_ENV_KEY, None)
        if env is None:
            env = holder.stash[_ENV_KEY] = self._start_env()
            holder.addfinalizer(env.sandbox.stop)
            holder.addfinalizer(lambda: env.hostile.stop() if env.hostile else None)
        self._env = env
        self._transports = {}
        env.sandbox.reset()
        try:
            yield
        finally:
            for transport in self._transports.values():
                transport.pool.clear()

    @property
    def sandbox(self) -> Sandbox:
        """The running sandbox serving this class's simulator."""
        return self._env.sandbox

    @property
    def simulator(self) -> Simulator:
        """The simulator the sandbox serves."""
        return self._env.simulator

    @property
    def hostile(self) -> HostileServer:
        """The hostile server (:mod:`kycbridge.testing.hostile`) of this class, started on use."""
        if self._env.hostile is None:
            self._env.hostile = HostileServer().start()
        return self._env.hostile

    def transport(self, scenario: Scenario | None = None) -> Transport:
        """The fast transport for a call (per scenario: :attr:`scenario_transport_options`)."""
        options = {**FAST_TRANSPORT, **self.transport_options}
        if scenario is not None:
            options.update(self.scenario_transport_options.get(scenario.subject, {}))
        key = repr(sorted(options.items()))
        if key not in self._transports:
            self._transports[key] = fast_transport(**options)
        return self._transports[key]

    def settings(self, **overrides: Any) -> Any:
        """The provider's settings pointing at the sandbox (env ignored), with ``overrides``."""
        base = self.sandbox.settings()[self.provider.name]
        return load_settings(self.provider, {**base, **overrides}, env={})

    def query(self, fields: Mapping[str, Any]) -> Any:
        """Build a query from ``fields`` (env ignored)."""
        return build_query(self.provider, fields, env={})

    def fetch(
        self,
        fields: Mapping[str, Any],
        *,
        settings: Any = None,
        scenario: Scenario | None = None,
    ) -> StatusReport:
        """Ask the simulator once, over HTTP, through the provider's rate limit."""
        query = self.query(fields)
        settings = settings if settings is not None else self.settings()
        if self._env.limiter is not None:
            self._env.limiter.acquire()
        return self.provider.fetch(query, settings, self.transport(scenario))

    def _fields_of(self, case: str | Mapping[str, Any]) -> Mapping[str, Any]:
        if not isinstance(case, str):
            return case
        for scenario in self._scenarios():
            if scenario.subject == case:
                return scenario.query
        pytest.fail(f"error case {case!r} is not the subject of any simulator scenario")

    def _valid(self) -> list[Mapping[str, Any]]:
        valid = list(self.valid_queries) or [s.query for s in self._scenarios()]
        if not valid:
            pytest.skip("no valid_queries and no simulator scenarios")
        return valid

    def _with_canary(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        canaried = dict(fields)
        for name in _secret_fields(self.provider.query_type):
            canaried[name] = self.canary_secret
        return canaried

    def _canary_query(self, fields: Mapping[str, Any]) -> Any:
        try:
            return self.query(self._with_canary(fields))
        except InvalidQuery as exc:
            message = f"the query with canary_secret in its secret fields is invalid: {exc}"
        pytest.fail(f"{message}; set canary_secret to a value the validators accept")

    def _canary_settings(self) -> Any:
        names = _secret_fields(self.provider.settings_type)
        try:
            return self.settings(**dict.fromkeys(names, self.canary_secret))
        except InvalidQuery as exc:
            message = f"settings with canary_secret in their secret fields are invalid: {exc}"
        pytest.fail(f"{message}; set canary_secret to a value the validators accept")

    def _personal(self, fields: Mapping[str, Any]) -> tuple[list[str], set[str]]:
        """The personal fields of ``fields`` and the personal values a call with them carries.

        Personal: what ``provider.subject`` returns and what the provider's request (from its
        ``build_request``, when it has one) marks personal, in the path or the query.
        """
        query = self.query(fields)
        values: set[str] = set()
        subject = self.provider.subject(query)
        if isinstance(subject, str) and subject:
            values.add(subject)
        build = getattr(self.provider, "build_request", None)
        if callable(build):
            try:
                request = build(query, self.settings())
            except Exception as exc:
                pytest.fail(f"build_request({query!r}) raised {type(exc).__name__}: {exc}")
            if isinstance(request, Request):
                values.update(request.personal_values())
        lowered = [v.lower() for v in values]
        secrets = set(_secret_fields(self.provider.query_type))
        names = [
            name
            for name, value in fields.items()
            if name not in secrets
            and isinstance(value, str)
            and value
            and any(value.lower() == v or (len(value) >= 3 and value.lower() in v) for v in lowered)
        ]
        values.update(str(fields[name]) for name in names)
        return names, values

    def _canary_fields(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """``fields`` with each personal field replaced by a canary its validation accepts."""
        names, _ = self._personal(fields)
        canaried = dict(fields)
        for i, name in enumerate(names):
            token = self.canary_subject if i == 0 else f"{self.canary_subject}{i}"
            for candidate in canary_candidates(str(fields[name]), token):
                try:
                    self.query({**canaried, name: candidate})
                except InvalidQuery:
                    continue
                canaried[name] = candidate
                break
            else:
                pytest.fail(
                    f"no canary for the personal query field {name!r} passes its validation; "
                    "set canary_queries (query fields with made-up personal values)"
                )
        return canaried

    def _canary_queries(self) -> list[dict[str, Any]]:
        """Query fields with made-up personal values (:attr:`canary_queries`)."""
        if self.canary_queries is not None:
            chosen = [dict(fields) for fields in self.canary_queries]
        else:
            chosen = [self._canary_fields(fields) for fields in self._valid()]
        assert chosen, "canary_queries is empty"
        return chosen

    def _needles(self, fields: Mapping[str, Any]) -> set[str]:
        _, values = self._personal(fields)
        assert values, (
            f"a query of {sorted(fields)} names no one: provider.subject() gives None and its "
            "request marks no parameter personal (Request.personal_params), so kycbridge cannot "
            "keep whom it is about out of logs"
        )
        return values

    def _assert_hidden(
        self, values: set[str], texts: list[tuple[str, str]], what: str, *, kind: str = "personal"
    ) -> None:
        leaks = find_leaks(values, texts)
        if leaks:
            value, where, text = leaks[0]
            shown = text
            for form in {value, value.lower(), value.upper()}:
                shown = shown.replace(form, "<HERE>")
            pytest.fail(
                f"{what}: {where} shows the {kind} value {mask(value)!r} "
                f"(at <HERE>, maybe encoded): {shown[:400]}"
            )

    @staticmethod
    def _log_texts(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
        return [(f"log record {r.name}", record_text(r)) for r in caplog.records]

    # -- the contract --------------------------------------------------------------------
    def test_registration(self) -> None:
        """The plugin registers the provider (through the installed entry point if declared)."""
        name = self.provider.name
        if self.distribution is not None:
            try:
                dist = importlib.metadata.distribution(self.distribution)
            except importlib.metadata.PackageNotFoundError:
                pytest.fail(f"distribution {self.distribution!r} is not installed")
            eps = [ep for ep in dist.entry_points if ep.group == hookspecs.PROJECT]
            assert eps, (
                f"{self.distribution} declares no [project.entry-points.{hookspecs.PROJECT}]"
            )
            loaded = [ep.load() for ep in eps]
            assert any(obj is self.plugin for obj in loaded), (
                f"the {hookspecs.PROJECT} entry point(s) {[ep.value for ep in eps]} do not "
                f"name {self.plugin!r}"
            )
            registry = PluginRegistry(env={"KYCBRIDGE_LOAD_PLUGINS": self.distribution})
        else:
            registry = PluginRegistry([self.plugin], entry_points=False, env={})
        infos = {info.name: info for info in registry.providers()}
        assert not registry.broken, f"broken: {[b.describe() for b in registry.broken]}"
        assert not registry.conflicts(), f"conflicts: {registry.conflicts()}"
        assert name in infos, f"provider {name!r} not registered (got {sorted(infos)})"
        registered = infos[name].provider
        assert type(registered) is type(self.provider), (
            f"the plugin registers a {type(registered).__name__}, "
            f"not a {type(self.provider).__name__}"
        )
        assert isinstance(registered, KYCStatusProvider), f"{registered!r} is not a provider"
        if self.distribution is not None:
            got = infos[name].distribution or ""
            assert _canonical(got) == _canonical(self.distribution), (
                f"provider {name!r} comes from distribution {got!r}, not {self.distribution!r}"
            )
        simulators = [info.name for info in registry.simulators()]
        assert name in simulators, f"the plugin registers no simulator {name!r}: {simulators}"

    def test_valid_queries_build(self) -> None:
        """Every valid query builds (env ignored) and its subject can be read."""
        for fields in self._valid():
            query = self.query(fields)
            assert isinstance(query, self.provider.query_type)
            subject = self.provider.subject(query)
            assert subject is None or isinstance(subject, str)

    def test_invalid_queries_raise_before_any_request(self) -> None:
        """Invalid query fields raise InvalidQuery from build_query; nothing is sent."""
        cases = [*self.invalid_queries, {_UNKNOWN_FIELD: "x"}]
        name = self.provider.name
        before = self.sandbox.requests.get(name, 0)
        for fields in cases:
            with pytest.raises(InvalidQuery) as info:
                self.query(fields)
            error = info.value
            assert error.provider == name, f"{error!r} does not name the provider"
            with pytest.raises(InvalidQuery):
                self.fetch(fields)
            secrets = [
                value
                for value in (fields.get(f) for f in _secret_fields(self.provider.query_type))
                if isinstance(value, str) and len(value) >= 3
            ]
            texts = _exception_texts(error)
            leaked = [value for value in secrets if any(value in text for text in texts)]
            assert not leaked, f"InvalidQuery for {fields} shows secret value(s) {leaked}"
        assert self.sandbox.requests.get(name, 0) == before, "an invalid query was sent"

    def test_documented_statuses(self) -> None:
        """Every documented raw status normalizes as documented, in any case or whitespace."""
        documented = self._documented()
        assert documented, "no documented_statuses and an empty status_map"
        wrong: list[str] = []
        for raw, expected in documented:
            expected = KYCState(expected)
            for change in _VARIANTS:
                variant = _map_strings(raw, change)
                got = self.provider.normalize(variant)
                if not isinstance(got, KYCState) or got is not expected:
                    wrong.append(f"{variant!r}: got {got!r}, documented {expected.value}")
        assert not wrong, "normalize disagrees with the documentation:\n" + "\n".join(wrong)

    def _check_total(self, value: Any) -> None:
        before = _dump(value)
        try:
            first = self.provider.normalize(value)
            second = self.provider.normalize(copy.deepcopy(value))
        except Exception as exc:
            error: str | None = f"{type(exc).__name__}: {exc}"
        else:
            error = None
        if error is not None:
            pytest.fail(f"normalize({value!r:.200}) raised {error}")
        assert isinstance(first, KYCState), f"normalize({value!r:.200}) returned {first!r}"
        assert first is second, f"normalize({value!r:.200}) gave {first} then {second}"
        assert _dump(value) == before, f"normalize mutated its input {before:.200}"

    def test_normalizer_total_and_deterministic(self) -> None:
        """The normalizer never raises, returns a KYCState, the same each time, mutates nothing."""
        for value in _EDGE_VALUES:
            self._check_total(value)
        documented = [raw for raw, _ in self._documented()]
        status_map = getattr(self.provider, "status_map", None)
        words = raw_words(status_map)
        shaped: list[st.SearchStrategy[Any]] = [json_values(), words, payloads()]
        keys = sorted({k for raw in documented if isinstance(raw, Mapping) for k in raw})
        if keys:
            shaped.append(payloads({k: st.one_of(words, json_values()) for k in keys}))
        if documented:
            shaped.append(
                st.sampled_from(documented).flatmap(
                    lambda raw: (
                        st.just(raw)
                        | st.text(max_size=20).map(lambda t: _map_strings(raw, lambda _: t))
                    )
                )
            )

        @settings(
            max_examples=self.max_examples,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(st.one_of(shaped))
        def check(value: Any) -> None:
            self._check_total(value)

        check()

    def test_error_case(self, kycbridge_error_case: ErrorCase) -> None:
        """Each error case raises its error class over HTTP, naming the provider."""
        case, expected = kycbridge_error_case
        fields = self._fields_of(case)
        with pytest.raises(KYCBridgeError) as info:
            self.fetch(fields)
        error = info.value
        assert isinstance(error, expected), (
            f"{case!r} raised {type(error).__name__} ({error}), expected {expected.__name__}"
        )
        assert error.provider == self.provider.name, f"{error!r} does not name the provider"

    def test_scenario_outcome(self, kycbridge_scenario: Scenario) -> None:
        """A scenario ends in its outcome: a state within len(played) calls, or an error kind.

        Transient errors (unavailable, rate limited) on the way are skipped, not counted.
        """
        scenario = kycbridge_scenario
        if scenario.subject in self.skip_scenarios:
            pytest.skip(self.skip_scenarios[scenario.subject])
        outcome = scenario.outcome
        if outcome is None:
            pytest.skip("the scenario declares no outcome")
        states = {s.value for s in KYCState}
        kinds = error_kinds()
        assert outcome in states or outcome in kinds, (
            f"outcome {outcome!r} is neither a KYCState value nor an error kind {sorted(kinds)}"
        )
        budget = max(len(scenario.played), 1) + self.scenario_margin
        counted = calls = 0
        trail: list[str] = []
        while counted < budget and calls < 3 * budget + 5:
            calls += 1
            error: KYCBridgeError | None = None
            crash: str | None = None
            try:
                report = self.fetch(scenario.query, scenario=scenario)
            except KYCBridgeError as exc:
                error = exc
            except Exception as exc:
                crash = f"{type(exc).__name__}: {exc}"
            if crash is not None:
                pytest.fail(f"{scenario.subject}: fetch raised {crash} (not a KYCBridgeError)")
            if error is not None:
                trail.append(error.kind)
                if error.kind == outcome:
                    assert error.provider == self.provider.name, f"{error!r} names no provider"
                    return
                if error.kind in TRANSIENT_KINDS:
                    continue
                pytest.fail(
                    f"{scenario.subject}: expected {outcome}, got error {error.kind} ({error}) "
                    f"after {trail}"
                )
            counted += 1
            trail.append(report.state.value)
            assert report.provider == self.provider.name, f"report names {report.provider!r}"
            if report.state.value == outcome:
                return
        pytest.fail(
            f"{scenario.subject}: expected {outcome} within {budget} calls "
            f"(played {list(scenario.played)}), observed {trail}"
        )

    def test_report_round_trip(self) -> None:
        """Real reports survive report_to_dict -> JSON -> report_from_dict unchanged."""
        states = {s.value for s in KYCState}
        sources: list[tuple[Mapping[str, Any], Scenario | None]] = [
            (s.query, s)
            for s in self._scenarios()
            if s.outcome in states and s.subject not in self.skip_scenarios
        ]
        sources += [(q, None) for q in self.valid_queries]
        seen = 0
        for fields, scenario in sources:
            try:
                report = self.fetch(fields, scenario=scenario)
            except KYCBridgeError:
                continue
            seen += 1
            details_type = self.provider.details_type
            if report.details is not None:
                assert isinstance(report.details, details_type), (
                    f"details {report.details!r} is not a {details_type.__name__}"
                )
            data = report_to_dict(report)
            text = json.dumps(data)
            back = report_from_dict(json.loads(text), details_type=details_type)
            assert back == report, f"round trip changed the report:\n{report}\n{back}"
            assert report_to_dict(back) == data, "the JSON form changed on a round trip"
        if not seen:
            pytest.skip("no scenario or valid query produced a report")

    def test_secrets_hidden_in_reprs(self) -> None:
        """A secret in the query or the settings shows in neither repr nor str."""
        query_secrets = _secret_fields(self.provider.query_type)
        settings_secrets = _secret_fields(self.provider.settings_type)
        if not query_secrets and not settings_secrets:
            pytest.skip("neither the query nor the settings declare a secret field")
        canary = self.canary_secret
        for fields in self._valid():
            query = self._canary_query(fields)
            for text in (repr(query), str(query)):
                assert canary not in text, f"the query shows its secret: {text}"
        settings = self._canary_settings()
        for text in (repr(settings), str(settings)):
            assert canary not in text, f"the settings show a secret: {text}"

    def test_wrong_secret_error_and_logs_hide_it(self, caplog: pytest.LogCaptureFixture) -> None:
        """A wrong secret raises wrong_secret_error; no error text or DEBUG log shows it."""
        query_secrets = _secret_fields(self.provider.query_type)
        settings_secrets = _secret_fields(self.provider.settings_type)
        if not query_secrets and not settings_secrets:
            pytest.skip("neither the query nor the settings declare a secret field")
        canary = self.canary_secret
        caplog.set_level(logging.DEBUG)
        caplog.set_level(logging.DEBUG, logger="kycbridge")
        query = self._canary_query(self._valid()[0])
        settings = self._canary_settings()
        if self._env.limiter is not None:
            self._env.limiter.acquire()
        with pytest.raises(KYCBridgeError) as info:
            self.provider.fetch(query, settings, self.transport())
        error = info.value
        leaks = [text for text in _exception_texts(error) if canary in text]
        assert not leaks, f"the error shows the secret: {leaks[0]}"
        assert isinstance(error, self.wrong_secret_error), (
            f"a wrong secret raised {type(error).__name__} ({error}), "
            f"expected {self.wrong_secret_error.__name__}"
        )
        for record in caplog.records:
            shown = record.getMessage()
            if record.exc_info:
                shown += "".join(traceback.format_exception(*record.exc_info))
            assert canary not in shown, f"log record {record.name} shows the secret: {shown}"

    def test_hostile_server(
        self, kycbridge_hostile_case: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Pointed at a hostile server, fetch ends in a report or a typed error in time.

        Each behaviour of :mod:`kycbridge.testing.hostile` (drips, silence, gzip bombs,
        redirects, terminal escapes, echoed secrets, huge, deep or odd JSON, foreign 404s,
        endless Retry-After) is met with every secret set to :attr:`canary_secret` and a
        :attr:`hostile_deadline`: the call must return a report or raise a
        :class:`~kycbridge.KYCBridgeError` within :attr:`hostile_bound` seconds, never another
        exception, and never follow a redirect. The query is the first of
        :attr:`canary_queries`: neither the secret nor a personal value may show in the
        error or in any log record (DEBUG).
        """
        behaviour = kycbridge_hostile_case
        if behaviour in self.skip_hostile:
            pytest.skip(self.skip_hostile[behaviour])
        if behaviour.startswith("gzip-bomb"):
            gzip_bomb(2)  # made once per process, before the clock starts
        hostile = self.hostile
        hostile.reset()
        names = _secret_fields(self.provider.settings_type)
        canaries = dict.fromkeys(names, self.canary_secret)
        try:
            settings = self.settings(**canaries, base_url=hostile.url(behaviour))
        except InvalidQuery as exc:
            pytest.fail(f"settings with a hostile base_url are invalid: {exc}")
        fields = self._canary_queries()[0]
        personal = self._needles(fields)
        query = self._canary_query(fields)
        caplog.set_level(logging.DEBUG)
        caplog.set_level(logging.DEBUG, logger="kycbridge")
        if self._env.limiter is not None:
            self._env.limiter.acquire()
        started = time.monotonic()
        transport = self.transport().until(started + self.hostile_deadline)
        error: KYCBridgeError | None = None
        try:
            report = self.provider.fetch(query, settings, transport)
        except KYCBridgeError as exc:
            error = exc
        except Exception as exc:
            pytest.fail(
                f"{behaviour}: fetch raised {type(exc).__name__} (not a KYCBridgeError): "
                f"{str(exc).replace(self.canary_secret, '<canary>')[:300]}"
            )
        elapsed = time.monotonic() - started
        assert elapsed < self.hostile_bound, f"{behaviour}: the call took {elapsed:.1f} s"
        texts = self._log_texts(caplog)
        if error is not None:
            leaks = [t for t in _exception_texts(error) if self.canary_secret in t]
            assert not leaks, f"{behaviour}: the error shows the secret: {leaks[0][:300]}"
            assert error.provider == self.provider.name, f"{error!r} does not name the provider"
            texts += _labelled("the error", _exception_texts(error))
        else:
            # (a report keeps what the server said, even a secret it echoed: not checked)
            assert isinstance(report, StatusReport), f"{behaviour}: fetch returned a {report!r:.80}"
        self._assert_hidden({self.canary_secret}, texts, behaviour, kind="secret")
        self._assert_hidden(personal, texts, behaviour)
        followed = [r.path for r in hostile.requests if r.port == hostile.other]
        assert not followed, f"{behaviour}: a redirect was followed to {followed}"

    def test_personal_data_hidden(
        self, kycbridge_privacy_case: tuple[str, Scenario | None], caplog: pytest.LogCaptureFixture
    ) -> None:
        """Whom a query is about shows in no log line (DEBUG), error, or repr.

        Cases: ``canary`` (each of :attr:`canary_queries` asked of the simulator, whatever it
        answers), ``refused`` (the same, with ``base_url`` on a closed loopback port) and
        ``scenario-<subject>`` (each scenario's query, once: reports and error answers). The
        personal values of each call (see :attr:`canary_queries`) must be absent, as they are,
        percent-encoded or JSON-escaped, in any case, from every log record (kycbridge's,
        urllib3's, the sandbox's: message, traceback, ``extra`` fields), from the error
        (``str``, ``repr``, ``args``, ``to_dict()``, attributes, chain, traceback), and from
        the ``repr`` of the query and of the report.
        """
        kind, scenario = kycbridge_privacy_case
        caplog.set_level(logging.DEBUG)
        caplog.set_level(logging.DEBUG, logger="kycbridge")
        if scenario is not None:
            self._check_private_call(scenario.query, caplog, scenario=scenario)
        elif kind == "refused":
            with _ClosedPort() as port:
                url = f"http://127.0.0.1:{port}/{self.provider.name}"
                for fields in self._canary_queries():
                    self._check_private_call(fields, caplog, settings=self.settings(base_url=url))
        else:
            for fields in self._canary_queries():
                self._check_private_call(fields, caplog)

    def _check_private_call(
        self,
        fields: Mapping[str, Any],
        caplog: pytest.LogCaptureFixture,
        *,
        settings: Any = None,
        scenario: Scenario | None = None,
    ) -> None:
        values = self._needles(fields)
        query = self.query(fields)
        what = f"asking for {query!r}"
        caplog.clear()
        texts = [("repr(query)", repr(query)), ("str(query)", str(query))]
        try:
            report = self.fetch(fields, settings=settings, scenario=scenario)
        except KYCBridgeError as exc:
            texts += _labelled("the error", _exception_texts(exc))
        except Exception as exc:
            texts += _labelled("the exception", _exception_texts(exc))
            self._assert_hidden(values, texts, what)
            pytest.fail(f"{what}: fetch raised {type(exc).__name__} (not a KYCBridgeError)")
        else:
            texts += [("repr(report)", repr(report)), ("str(report)", str(report))]
        texts += self._log_texts(caplog)
        self._assert_hidden(values, texts, what)

    def _clocked_provider(self, clock: FakeClock) -> tuple[Any, list[_Signed]]:
        """A shallow copy of :attr:`provider`: ``now`` is ``clock``, ``sign`` records its calls.

        Both are instance attributes over the class's methods.
        """
        provider: Any = copy.copy(self.provider)
        original = provider.sign
        calls: list[_Signed] = []

        def sign(request: Request, settings: Any, now: float) -> Request:
            signed: Request = original(request, settings, now)
            calls.append(_Signed(request, now, signed))
            return signed

        try:
            provider.now = clock
            provider.sign = sign
        except AttributeError as exc:
            pytest.fail(f"cannot set now and sign on a copy of the provider: {exc}")
        return provider, calls

    def _signing_transport(self, clock: FakeClock) -> Transport:
        options = {
            **FAST_TRANSPORT,
            **self.transport_options,
            "retries": 1,
            "max_retry_after": 2 * self.signing_retry_after,
            "call_timeout": None,
        }
        transport = Transport(**options)
        transport.sleep = clock.sleep  # a wait moves the fake clock, at once
        return transport

    def _replay(self, *responses: SimResponse) -> Replay:
        return Replay(self.provider.name, responses, settings=self.simulator.settings)

    def _call_replay(
        self, replay: Replay, fields: Mapping[str, Any], clock: FakeClock
    ) -> list[_Signed]:
        """One fetch of ``fields`` against ``replay`` on its own loopback sandbox."""
        provider, calls = self._clocked_provider(clock)
        transport = self._signing_transport(clock)
        with Sandbox([replay]) as server:
            settings = self.settings(base_url=server.url(self.provider.name))
            try:
                provider.fetch(self.query(fields), settings, transport)
            except KYCBridgeError:
                pass  # what the answer meant is not the point: what was sent is
            finally:
                transport.pool.clear()
        return calls

    def test_signs_every_attempt(self) -> None:
        """Every attempt is signed anew, at its own time (signing providers only).

        A loopback server answers the first request 429 with ``Retry-After:``
        :attr:`signing_retry_after`, then ``200 {}``. The transport waits on a
        :class:`~kycbridge.testing.FakeClock`, which also gives the provider's ``now()``:
        ``sign`` must be called once per attempt, the second time with the time moved by the
        wait, and the two requests must carry different headers (a fresh signature).
        """
        retried = [f for f in self._valid() if self._method(f) in IDEMPOTENT_METHODS]
        if not retried:
            # Nothing to check, and why: a non-idempotent request (POST) is never retried,
            # so it is signed once, for its only attempt (see test_signed_bytes_are_sent).
            assert not {self._method(f) for f in self._valid()} & IDEMPOTENT_METHODS
            return
        fields = retried[0]
        wait = self.signing_retry_after
        start = self.signing_clock_start
        clock = FakeClock(start)
        replay = self._replay(
            SimResponse.json(429, {"error": "slow down"}, headers={"Retry-After": str(wait)}),
            SimResponse.json(200, {}),
        )
        calls = self._call_replay(replay, fields, clock)
        received = replay.received
        assert len(received) == 2, f"expected a 429 and a retry, the server got {len(received)}"
        assert clock.slept == [wait], f"the transport waited {clock.slept}, not [{wait}]"
        times = [call.now for call in calls]
        assert times == [start, start + wait], (
            f"sign was called at {times}: expected once per attempt, at {[start, start + wait]}"
        )
        first, second = (dict(r.headers) for r in received)
        assert first != second, (
            "both attempts carried the same headers although sign was given a time "
            f"{wait} s later: the signature is made once per call, not per attempt "
            "(sign in build_request?), or covers no timestamp"
        )

    def test_signed_bytes_are_sent(self) -> None:
        """What ``sign`` is given is what the server receives, byte for byte (signing providers).

        For each valid query, over loopback: the method, the raw path and query
        (``request.path_with_query``) and the body (``request.body``) as received equal
        those ``sign`` was given, and every header ``sign`` returned arrived unchanged.
        """
        for fields in self._valid():
            replay = self._replay(SimResponse.json(200, {}))
            calls = self._call_replay(replay, fields, FakeClock(self.signing_clock_start))
            received = replay.received
            assert len(received) == 1 and len(calls) == 1, (
                f"one attempt: sign was called {len(calls)} times, {len(received)} received"
            )
            given, got = calls[0].given, received[0]
            what = f"asking for {self.query(fields)!r}"
            assert got.method == given.method, f"{what}: {got.method} sent, {given.method} signed"
            assert got.target == given.path_with_query, (
                f"{what}: the server got the target {got.target!r}, "
                f"sign was given {given.path_with_query!r}"
            )
            assert got.body == (given.body or b""), (
                f"{what}: the server got a body of {len(got.body)} bytes that differs from "
                f"the {len(given.body or b'')} bytes sign was given"
            )
            changed = [
                name
                for name, value in calls[0].returned.headers.items()
                if got.headers.get(name.lower()) != value
            ]
            assert not changed, f"{what}: headers sign returned arrived changed: {changed}"

    def _method(self, fields: Mapping[str, Any]) -> str:
        build = getattr(self.provider, "build_request", None)
        if not callable(build):
            return "GET"
        request = build(self.query(fields), self.settings())
        return request.method.upper() if isinstance(request, Request) else "GET"
