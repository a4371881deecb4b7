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
from kycbridge.provider import KYCStatusProvider, build_query, is_secret, load_settings
from kycbridge.ratelimit import RateLimiter
from kycbridge.report import StatusReport, report_from_dict, report_to_dict
from kycbridge.sandbox import Sandbox, Scenario, Simulator
from kycbridge.states import KYCState
from kycbridge.testing import FAST_TRANSPORT, fast_transport
from kycbridge.testing.hostile import BEHAVIOURS, HostileServer, gzip_bomb
from kycbridge.testing.strategies import json_values, payloads, raw_words
from kycbridge.transport import Transport

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

    _kycbridge_scenarios: ClassVar[list[Scenario] | None] = None
    _env: _Env
    _transports: dict[str, Transport]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__test__" not in cls.__dict__:
            cls.__test__ = True

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

    def test_hostile_server(self, kycbridge_hostile_case: str) -> None:
        """Pointed at a hostile server, fetch ends in a report or a typed error in time.

        Each behaviour of :mod:`kycbridge.testing.hostile` (drips, silence, gzip bombs,
        redirects, terminal escapes, echoed secrets, huge, deep or odd JSON, foreign 404s,
        endless Retry-After) is met with every secret set to :attr:`canary_secret` and a
        :attr:`hostile_deadline`: the call must return a report or raise a
        :class:`~kycbridge.KYCBridgeError` within :attr:`hostile_bound` seconds, never another
        exception, with no error showing the secret, and never follow a redirect.
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
        query = self._canary_query(self._valid()[0])
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
        if error is not None:
            leaks = [t for t in _exception_texts(error) if self.canary_secret in t]
            assert not leaks, f"{behaviour}: the error shows the secret: {leaks[0][:300]}"
            assert error.provider == self.provider.name, f"{error!r} does not name the provider"
        else:
            # (a report keeps what the server said, even a secret it echoed: not checked)
            assert isinstance(report, StatusReport), f"{behaviour}: fetch returned a {report!r:.80}"
        followed = [r.path for r in hostile.requests if r.port == hostile.other]
        assert not followed, f"{behaviour}: a redirect was followed to {followed}"
