"""The test kit: the contract on the toy provider, its failures, fixtures, strategies."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pathtoy import PathProvider, PathSimulator, pathtoy_plugin
from toy import TOY_MAP, TOY_TOKEN, ToyDetails, ToyProvider, ToyQuery, ToySimulator, toy_plugin

from kycbridge import (
    AuthenticationError,
    KYCState,
    ProviderUnavailable,
    RequestRejected,
    StatusReport,
    SubjectNotFound,
    report_from_dict,
    report_to_dict,
)
from kycbridge.mapping import canonical_word
from kycbridge.sandbox import Scenario
from kycbridge.testing import FAST_TRANSPORT, FakeClock, ProviderContract, fast_transport
from kycbridge.testing import strategies as kst
from kycbridge.testing.canary import canary_candidates, canary_uuid, find_leaks, record_text

pytest_plugins = ["pytester"]

FAST = settings(max_examples=100, deadline=None, database=None)

# Once the pytest11 entry point is installed pytest loads the plugin itself, and refuses it
# a second time under its module name.
PLUGIN_ARGS = (
    ()
    if any(ep.name == "kycbridge" for ep in importlib.metadata.entry_points(group="pytest11"))
    else ("-p", "kycbridge.testing.pytest_plugin")
)


# -- the contract applied to the toy provider ----------------------------------------------

def _scenario(subject: str, played: tuple[str, ...], outcome: str, what: str = "") -> Scenario:
    return Scenario(subject, {"subject": subject, "token": TOY_TOKEN}, what, played, outcome)


class ToyScenarioSimulator(ToySimulator):
    """The toy simulator with scripted, documented scenarios."""

    STORIES = {
        "story-approved": ["NEW", "WORKING", "REVIEW", "OK"],
        "story-rejected": ["NEW", "REVIEW", "NO"],
        "story-odd-word": ["WORKING", "ON HOLD"],
    }

    def __init__(self) -> None:
        super().__init__()
        self.scripts.update({k: list(v) for k, v in self.STORIES.items()})
        self.scenarios = (
            _scenario("story-approved", tuple(self.STORIES["story-approved"]), "approved"),
            _scenario("story-rejected", tuple(self.STORIES["story-rejected"]), "rejected"),
            _scenario("story-odd-word", tuple(self.STORIES["story-odd-word"]), "unknown"),
            _scenario("flag-fresh", ("NEW",), "not_started", "blocklisted, never started"),
            _scenario("err-404", (), "not_found"),
            _scenario("err-401", (), "authentication"),
            _scenario("err-500", (), "unavailable"),
            _scenario("err-429", (), "rate_limited"),
            _scenario("junk", (), "malformed_response"),
        )


class TestToyContract(ProviderContract):
    provider = ToyProvider()
    simulator_factory = ToyScenarioSimulator
    plugin = toy_plugin
    valid_queries = [{"subject": "someone", "token": TOY_TOKEN}, {"subject": "x"}]
    invalid_queries = [{"subject": ""}, {}, {"subject": "x", "tokn": "y"}, {"subject": 3}]
    error_cases = [
        ("err-404", SubjectNotFound),
        ({"subject": "err-418", "token": TOY_TOKEN}, RequestRejected),
        ({"subject": "someone", "token": "not-the-token"}, AuthenticationError),
    ]


class TestToyContractExplicitStatuses(ProviderContract):
    """documented_statuses given as pairs, a lambda factory; the statuses must still hold."""

    provider = ToyProvider()
    simulator_factory = lambda: ToyScenarioSimulator()  # noqa: E731 - a plain callable
    plugin = toy_plugin
    documented_statuses = [("ok", KYCState.APPROVED), ("  no", KYCState.REJECTED)]
    error_cases = {"err-404": SubjectNotFound}


class PathScenarioSimulator(PathSimulator):
    scenarios = (
        Scenario("user-ok", {"user_id": "user-ok"}, "approved", ("OK",), "approved"),
        Scenario("user-err-500", {"user_id": "user-err-500"}, "down", (), "unavailable"),
    )


class TestPathContract(ProviderContract):
    """A provider that signs every attempt (and puts its subject in the path) passes too."""

    provider = PathProvider()
    simulator_factory = PathScenarioSimulator
    plugin = pathtoy_plugin
    valid_queries = [{"user_id": "someone@example.com"}, {"user_id": "u-1", "note": "hi"}]
    invalid_queries = [{}]
    error_cases = [({"user_id": "err-500"}, ProviderUnavailable)]
    wrong_secret_error = RequestRejected  # pathtoy answers a bad signature 401: rejected


def test_signing_checks_exist_only_for_signing_providers():
    for name in ("test_signs_every_attempt", "test_signed_bytes_are_sent"):
        assert getattr(TestToyContract, name) is None  # not collected: no test, no skip
        assert callable(getattr(TestPathContract, name))


def test_contract_base_is_not_collected_and_subclasses_are():
    assert ProviderContract.__test__ is False
    assert TestToyContract.__test__ is True

    class Intermediate(ProviderContract):
        __test__ = False

    class TestLeaf(Intermediate):
        pass

    assert Intermediate.__test__ is False and TestLeaf.__test__ is True


# -- the contract fails broken providers ---------------------------------------------------

BROKEN_HEADER = """
import logging
import attrs
import kycbridge
from toy import TOY_TOKEN, ToyProvider, ToyQuery, ToySimulator, toy_plugin
from kycbridge.sandbox import Scenario
from kycbridge.testing import ProviderContract

def plugin_for(provider_cls):
    class plugin:
        @staticmethod
        @kycbridge.hookimpl
        def register_providers(register):
            register(provider_cls())

        register_simulators = toy_plugin.register_simulators
    return plugin
"""


def lit(pattern: str) -> str:
    """An fnmatch pattern matching ``[`` literally (``*`` and ``?`` stay wildcards)."""
    return pattern.replace("[", "[[]")


def run_contract(pytester: pytest.Pytester, body: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_broken=BROKEN_HEADER + textwrap.dedent(body))
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q", *args)


def test_base_class_alone_collects_nothing(pytester):
    pytester.makepyfile("from kycbridge.testing import ProviderContract\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_normalizer_raising_on_none_fails_the_contract(pytester):
    result = run_contract(
        pytester,
        """
        class Fragile(ToyProvider):
            def normalize(self, raw):
                return self.status_map(raw.strip())

        class TestFragile(ProviderContract):
            provider = Fragile()
            simulator_factory = ToySimulator
            plugin = plugin_for(Fragile)
            valid_queries = [{"subject": "a", "token": TOY_TOKEN}]
        """,
        "-k",
        "not test_hostile_server",
    )
    result.assert_outcomes(failed=1, passed=9, skipped=2)
    result.stdout.fnmatch_lines(
        [
            "*_ TestFragile.test_normalizer_total_and_deterministic _*",
            "E * Failed: normalize(None) raised AttributeError: *",
        ],
        consecutive=False,
    )


def test_hostile_server_checks_fail_a_provider_that_crashes_or_leaks(pytester):
    result = run_contract(
        pytester,
        """
        import json
        from kycbridge.errors import RequestRejected

        class Crashy(ToyProvider):
            def error_for(self, response):
                body = json.loads(response.body)  # a foreign HTML 404: JSONDecodeError
                return RequestRejected(json.dumps(body))

        class Leaky(ToyProvider):
            def error_for(self, response):
                # The core scrubs an echoed secret from the answer before error_for reads
                # it, so this leak is one the core cannot see: the headers it sent, kept.
                exc = RequestRejected("rejected")
                exc.cause = repr(dict(self.sent.headers))
                return exc

            def build_request(self, query, settings):
                self.sent = super().build_request(query, settings)
                return self.sent

        class TestCrashy(ProviderContract):
            provider = Crashy()
            simulator_factory = ToySimulator
            plugin = plugin_for(Crashy)
            valid_queries = [{"subject": "a", "token": TOY_TOKEN}]

        class TestLeaky(TestCrashy):
            provider = Leaky()
            plugin = plugin_for(Leaky)
        """,
        "-k",
        "Crashy and not-found-foreign or Leaky and echo-headers-error",
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*not-found-foreign: fetch raised JSONDecodeError (not a KYCBridgeError)*",
            "*echo-headers-error: the error shows the secret*",
        ],
        consecutive=False,
    )


def test_secret_in_query_repr_fails_the_contract(pytester):
    result = run_contract(
        pytester,
        """
        @attrs.frozen
        class LeakyQuery(ToyQuery):
            def __repr__(self):
                return f"LeakyQuery({self.subject!r}, token={self.token!r})"

        class Leaky(ToyProvider):
            query_type = LeakyQuery

        class TestLeaky(ProviderContract):
            provider = Leaky()
            simulator_factory = ToySimulator
            plugin = plugin_for(Leaky)
            valid_queries = [{"subject": "a", "token": TOY_TOKEN}]
        """,
        "-k",
        "secret",
    )
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ TestLeaky.test_secrets_hidden_in_reprs _*",
            "E * the query shows its secret: LeakyQuery('a', token='kbcanary-*",
        ],
        consecutive=False,
    )


def test_secret_in_debug_log_and_wrong_error_fail_the_contract(pytester):
    result = run_contract(
        pytester,
        """
        log = logging.getLogger("toy_leaky")

        class Chatty(ToyProvider):
            def build_request(self, query, settings):
                log.debug("asking with token %s", query.token)
                return super().build_request(query, settings)

        class TestChatty(ProviderContract):
            provider = Chatty()
            simulator_factory = ToySimulator
            plugin = plugin_for(Chatty)
            valid_queries = [{"subject": "a", "token": TOY_TOKEN}]

        class TestWrongError(ProviderContract):
            provider = ToyProvider()
            simulator_factory = ToySimulator
            plugin = toy_plugin
            valid_queries = [{"subject": "a", "token": TOY_TOKEN}]
            wrong_secret_error = kycbridge.SubjectNotFound
        """,
        "-k",
        "wrong_secret",
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ TestChatty.test_wrong_secret_error_and_logs_hide_it _*",
            "E * log record toy_leaky shows the secret: asking with token kbcanary-*",
            "*_ TestWrongError.test_wrong_secret_error_and_logs_hide_it _*",
            "E * a wrong secret raised AuthenticationError (*), expected SubjectNotFound",
        ],
        consecutive=False,
    )


def test_subject_in_a_log_line_fails_the_contract(pytester):
    result = run_contract(
        pytester,
        """
        log = logging.getLogger("toy_gossip")

        class Gossip(ToyProvider):
            def build_request(self, query, settings):
                log.debug("asking about %s", query.subject)
                return super().build_request(query, settings)

        class Structured(ToyProvider):
            def build_request(self, query, settings):
                log.info("asking", extra={"who": query.subject})  # a JSON formatter shows it
                return super().build_request(query, settings)

        class TestGossip(ProviderContract):
            provider = Gossip()
            simulator_factory = ToySimulator
            plugin = plugin_for(Gossip)
            valid_queries = [{"subject": "someone", "token": TOY_TOKEN}]

        class TestStructured(TestGossip):
            provider = Structured()
            plugin = plugin_for(Structured)
        """,
        "-k",
        "personal_data_hidden and canary",
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ TestGossip.test_personal_data_hidden[[]canary] _*",
            "E * log record toy_gossip shows the personal value 'kbsubj…d4a2' "
            "(at <HERE>, maybe encoded): asking about <HERE>",
            "*_ TestStructured.test_personal_data_hidden[[]canary] _*",
            "E * log record toy_gossip shows the personal value *: asking",
            "E *extra={'who': '<HERE>'}",
        ],
        consecutive=False,
    )


def test_subject_in_an_error_attribute_fails_the_contract(pytester):
    result = run_contract(
        pytester,
        """
        class Telltale(ToyProvider):
            def fetch(self, query, settings, transport):
                try:
                    return super().fetch(query, settings, transport)
                except kycbridge.KYCBridgeError as exc:
                    exc.asked_about = query.subject  # past anything the core could scrub
                    raise

        class TestTelltale(ProviderContract):
            provider = Telltale()
            simulator_factory = ToySimulator
            plugin = plugin_for(Telltale)
            valid_queries = [{"subject": "someone", "token": TOY_TOKEN}]
        """,
        "-k",
        "personal_data_hidden or not-found-foreign",
    )
    # canary: the simulator answers a report, no error to leak into
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ TestTelltale.test_hostile_server[[]not-found-foreign] _*",
            "E * not-found-foreign: the error shows the personal value 'kbsubj…d4a2' *",
            "*_ TestTelltale.test_personal_data_hidden[[]refused] _*",
            "E * the error shows the personal value 'kbsubj…d4a2' *'asked_about': '<HERE>'*",
        ],
        consecutive=False,
    )


def test_signing_once_per_call_or_elsewhere_fails_the_contract(pytester):
    result = run_contract(
        pytester,
        """
        from pathtoy import PathProvider, PathSimulator, SignOncePathProvider, pathtoy_plugin
        from kycbridge.testing import FakeClock

        class SignsElsewhere(PathProvider):
            def sign(self, request, settings, now):
                signed = super().sign(request, settings, now)
                # the signature moved into the query: not the target that was signed
                return attrs.evolve(signed, params={**signed.params, "sig": "x"})

        class TestSignOnce(ProviderContract):
            provider = SignOncePathProvider(FakeClock())
            simulator_factory = PathSimulator
            plugin = pathtoy_plugin
            valid_queries = [{"user_id": "someone"}]

        class TestSignsElsewhere(TestSignOnce):
            provider = SignsElsewhere()
        """,
        "-k",
        "signs_every_attempt or signed_bytes",
    )
    result.assert_outcomes(failed=2, passed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ TestSignOnce.test_signs_every_attempt _*",
            "E * both attempts carried the same headers although sign was given a time 90 s "
            "later*",
            "*_ TestSignsElsewhere.test_signed_bytes_are_sent _*",
            "E * the server got the target '/pathtoy/resources/*?fields=status&sig=x', sign "
            "was given '/pathtoy/resources/*?fields=status'",
        ],
        consecutive=False,
    )


def test_scenario_not_reaching_its_outcome_fails_the_contract(pytester):
    result = run_contract(
        pytester,
        """
        class Liar(ToySimulator):
            def __init__(self):
                super().__init__()
                self.scripts["liar"] = ["NEW", "WORKING", "NO"]
                query = {"subject": "liar", "token": TOY_TOKEN}
                self.scenarios = (
                    Scenario("liar", query, "says approved", ("NEW", "WORKING", "OK"), "approved"),
                    Scenario("err-404", {**query, "subject": "err-404"}, "", (), "rate_limited"),
                    Scenario("vague", query, "", (), "sort_of_done"),
                )

        class TestLiar(ProviderContract):
            provider = ToyProvider()
            simulator_factory = Liar
            plugin = toy_plugin
            error_cases = {"err-404": kycbridge.AuthenticationError}
        """,
        "-k",
        "test_scenario or error_case",
    )
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(
        [
            "E * 'err-404' raised SubjectNotFound (*), expected AuthenticationError",
            lit(
                "E * liar: expected approved within 5 calls (played ['NEW', 'WORKING', 'OK']), "
                "observed ['not_started', 'in_progress', 'rejected', 'rejected', 'rejected']"
            ),
            lit(
                "E * err-404: expected rate_limited, got error not_found (*) after ['not_found']"
            ),
            "E * outcome 'sort_of_done' is neither a KYCState value nor an error kind *",
        ],
        consecutive=False,
    )


def test_missing_attributes_are_reported(pytester):
    result = run_contract(
        pytester,
        """
        class TestIncomplete(ProviderContract):
            provider = ToyProvider()
        """,
        "-k",
        "registration",
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [lit("E * TestIncomplete must set the class attribute(s) ['simulator_factory', 'plugin']")]
    )


# -- entry points and the pytest11 fixtures, with a fake installed distribution ------------

FAKE_PLUGIN = """
from toy import toy_plugin

register_providers = toy_plugin.register_providers
register_simulators = toy_plugin.register_simulators
"""


@pytest.fixture
def installed_toy(tmp_path, monkeypatch):
    """An installed distribution ``kb-kit-toy`` whose ``kycbridge`` entry point is the toy."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "kb_kit_toy.py").write_text(FAKE_PLUGIN)
    info = site / "kb_kit_toy-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kb-kit-toy\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[kycbridge]\ntoy = kb_kit_toy\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("KYCBRIDGE_LOAD_PLUGINS", "kb-kit-toy")
    yield site
    sys.modules.pop("kb_kit_toy", None)


def test_registration_through_the_installed_entry_point(pytester, installed_toy):
    result = run_contract(
        pytester,
        """
        import kb_kit_toy

        class TestInstalled(ProviderContract):
            provider = ToyProvider()
            simulator_factory = ToySimulator
            plugin = kb_kit_toy
            distribution = "kb_kit_toy"

        class TestNotInstalled(TestInstalled):
            distribution = "kb-kit-nowhere"

        class TestOtherPlugin(TestInstalled):
            plugin = toy_plugin
        """,
        "-k",
        "registration",
    )
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "E * Failed: distribution 'kb-kit-nowhere' is not installed",
            lit("E * the kycbridge entry point(s) ['kb_kit_toy'] do not name <class 'toy.*'>"),
        ],
        consecutive=False,
    )


def test_pytest11_fixtures(pytester, installed_toy):
    pytester.makepyfile(
        """
        from toy import TOY_TOKEN
        from kycbridge import Bridge, KYCState
        from kycbridge.sandbox import Sandbox

        SEEN = []

        def test_first(kycbridge_sandbox, kycbridge_bridge):
            assert isinstance(kycbridge_sandbox, Sandbox)
            assert sorted(kycbridge_sandbox.simulators) == ["toy"]
            assert isinstance(kycbridge_bridge, Bridge)
            assert kycbridge_bridge.transport.retry.total == 1
            report = kycbridge_bridge.status("toy", subject="a", token=TOY_TOKEN)
            assert report.state is KYCState.NOT_STARTED
            assert kycbridge_sandbox.simulators["toy"].calls == {"a": 1}
            assert kycbridge_sandbox.requests == {"toy": 1}
            SEEN.append(kycbridge_sandbox)

        def test_second_starts_over_on_the_same_server(kycbridge_sandbox):
            assert kycbridge_sandbox is SEEN[0]
            assert kycbridge_sandbox.simulators["toy"].calls == {}
            assert kycbridge_sandbox.requests == {}
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", *PLUGIN_ARGS)
    result.assert_outcomes(passed=2)


def test_pytest11_plugin_adds_no_options_and_imports_no_hypothesis():
    code = (
        "import sys, kycbridge.testing.pytest_plugin as p\n"
        "assert 'hypothesis' not in sys.modules, 'hypothesis imported'\n"
        "assert 'kycbridge.testing.contract' not in sys.modules\n"
        "assert not hasattr(p, 'pytest_addoption') and not hasattr(p, 'pytest_configure')\n"
        "hooks = [n for n in dir(p) if n.startswith('pytest_')]\n"
        "assert hooks == [], hooks\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_fast_transport():
    transport = fast_transport(read_timeout=1)
    assert transport.retry.total == FAST_TRANSPORT["retries"] == 1
    assert transport.retry.max_retry_after == 0.05
    assert transport.timeout.read_timeout == 1


# -- the strategies ------------------------------------------------------------------------

@FAST
@given(kst.states())
def test_states(state):
    assert isinstance(state, KYCState)


@FAST
@given(st.data())
def test_mangled_documented_words_fold_like_the_original(data):
    word = data.draw(st.sampled_from(list(TOY_MAP)))
    mangled = data.draw(kst.mangled(word))
    assert canonical_word(mangled) == canonical_word(word)
    assert TOY_MAP(mangled) is TOY_MAP[word]


def test_raw_words_mix_documented_and_arbitrary_text():
    seen: list[str] = []

    @settings(max_examples=300, deadline=None, database=None)
    @given(kst.raw_words(TOY_MAP))
    def collect(word):
        assert isinstance(word, str)
        seen.append(word)

    collect()
    assert any(TOY_MAP.knows(w) and w not in TOY_MAP.table for w in seen), "no mangled word"
    assert any(not TOY_MAP.knows(w) for w in seen), "no arbitrary text"


@FAST
@given(kst.raw_words())
def test_raw_words_default_to_state_values(word):
    assert isinstance(word, str)


@FAST
@given(kst.json_values())
def test_json_values_are_json(value):
    assert json.loads(json.dumps(value)) == value


@FAST
@given(kst.payloads(["status", "kycType"], required=True, extra=False))
def test_payloads_shaped_by_keys(payload):
    assert sorted(payload) == ["kycType", "status"]
    json.dumps(payload)


@FAST
@given(kst.payloads({"data": kst.payloads({"status": kst.raw_words(TOY_MAP)}, required=True)}))
def test_payloads_nested_and_optional(payload):
    assert isinstance(payload, dict)
    if "data" in payload:
        assert isinstance(payload["data"]["status"], str)


@FAST
@given(kst.reports(ToyProvider()))
def test_reports_round_trip(report):
    assert isinstance(report, StatusReport) and report.provider == "toy"
    assert report.details is None or isinstance(report.details, ToyDetails)
    assert report.observed_at.utcoffset().total_seconds() == 0
    text = json.dumps(report_to_dict(report))
    assert report_from_dict(json.loads(text), details_type=ToyDetails) == report


@FAST
@given(kst.reports("other", details=st.none(), state=st.just(KYCState.APPROVED)))
def test_reports_by_name(report):
    assert report.provider == "other" and report.approved and report.details is None


@FAST
@given(kst.reports())
def test_reports_any_provider_name(report):
    assert report.provider[0].isalpha()


@FAST
@given(kst.queries(ToyProvider(), token=st.none() | st.just(TOY_TOKEN)))
def test_queries_are_valid_instances(query):
    assert isinstance(query, ToyQuery) and query.subject
    assert attrs.evolve(query) == query


# -- canaries, the leak search, the fake clock ---------------------------------------------


def test_canary_shapes_follow_the_valid_value():
    uuid_canary = canary_candidates("aab2f4c8-0e4b-4d4f-9f31-3f6a1b2c3d4e", "kbtoken")[0]
    assert uuid_canary == canary_uuid("kbtoken") and uuid_canary[14] == "4"
    upper = canary_candidates("AAB2F4C8-0E4B-4D4F-9F31-3F6A1B2C3D4E", "kbtoken")[0]
    assert upper == canary_uuid("kbtoken").upper()
    assert canary_candidates("jane@sandbox.acme.test", "kbtoken")[:2] == [
        "kbtoken@sandbox.acme.test",
        "kbtoken@example.com",
    ]
    wallet = "0x52908400098527886E0F7030069857D2E4169EE7"
    scrambled = canary_candidates(wallet, "kbtoken")[1]
    assert scrambled.startswith("0x") and len(scrambled) == len(wallet) and scrambled != wallet
    assert set(scrambled[2:]) <= set(wallet[2:])  # the same alphabet (hex here)


@FAST
@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=12))
def test_canary_candidates_never_repeat_the_original(original, token):
    candidates = canary_candidates(original, token)
    assert original not in candidates and len(set(candidates)) == len(candidates)


@FAST
@given(st.text(min_size=4, max_size=30), st.sampled_from(["plain", "path", "form", "json"]))
def test_find_leaks_sees_every_spelling_in_any_case(value, spelling):
    from urllib.parse import quote, quote_plus

    shown = {
        "plain": value,
        "path": quote(value, safe="", errors="surrogatepass"),
        "form": quote_plus(value, errors="surrogatepass"),
        "json": json.dumps(value)[1:-1],
    }[spelling]
    shouted = "".join(c.upper() if c.isascii() else c for c in shown)  # case is ignored
    text = f"GET /x/{shouted}/y"
    assert find_leaks([value], [("line", text)]) == [(value, "line", text)]


def test_find_leaks_ignores_short_values_and_masked_ones():
    assert find_leaks(["abc"], [("t", "abc")]) == []
    masked = "GET /v1/kyc/status?user_id=usr-a%E2%80%A6oved"
    assert find_leaks(["usr-approved"], [("t", masked)]) == []


def test_record_text_shows_extra_fields_and_tracebacks():
    import logging

    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, "f.py", 1, "asked %s", ("a",), sys.exc_info(), extra={"who": "j"}
        )
    text = record_text(record)
    assert text.startswith("asked a") and "ValueError: boom" in text and "'who': 'j'" in text


def test_fake_clock_moves_only_when_slept():
    clock = FakeClock(100.0)
    assert clock() == 100.0
    clock.sleep(90)
    clock.sleep(0.5)
    assert clock() == 190.5 and clock.slept == [90, 0.5]


# -- docs/testing.md stays in step with the kit ----------------------------------------------

TESTING_DOC = Path(__file__).resolve().parent.parent / "docs" / "testing.md"


def test_testing_doc_shows_the_scaffolds_contract_test_and_every_attribute():
    text = TESTING_DOC.read_text(encoding="utf-8")
    template = "../kycbridge/scaffold_templates/query/test_contract.py.tmpl"
    assert "```{literalinclude} " + template + "\n" in text
    assert (TESTING_DOC.parent / template).is_file()
    attributes = [
        name
        for name, kind in ProviderContract.__annotations__.items()
        if "ClassVar" in str(kind) and not name.startswith("_")
    ]
    assert "canary_queries" in attributes and "signing_retry_after" in attributes
    missing = [name for name in attributes if f"| `{name}` |" not in text]
    assert not missing, f"docs/testing.md's table lacks {missing}"
    tests = [name for name in dir(ProviderContract) if name.startswith("test_")]
    missing = [name for name in tests if f"`{name}" not in text]
    assert not missing, f"docs/testing.md does not describe {missing}"
