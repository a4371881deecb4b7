"""The compatibility promise (docs/compatibility.md), through real entry points.

Each fake plugin is an installed distribution (a module and a dist-info on ``sys.path``) whose
entry-point module declares ``KYCBRIDGE_PLUGIN_API`` (or not). A refused plugin's hook raises
if it is ever called, so a refusal that came too late shows as the wrong error.
"""

from __future__ import annotations

import json
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from toy import TOY_TOKEN, ToyProvider, ToySimulator, toy_plugin

import kycbridge
from kycbridge import AuthenticationError, Bridge, PluginBroken, SubjectNotFound, compat
from kycbridge.cli import main
from kycbridge.plugins import PluginRegistry
from kycbridge.sandbox import Scenario
from kycbridge.testing import ProviderContract

ROOT = Path(__file__).resolve().parent.parent

PLUGIN = """
import kycbridge
from toy import ToyProvider

{declaration}

class Named(ToyProvider):
    name = "{provider}"

@kycbridge.hookimpl
def register_providers(register):
    if {refused}:
        raise RuntimeError("a hook of a refused plugin was called")
    register(Named())
"""


def install(site: Path, dist: str, declaration: str, *, refused: bool = False) -> None:
    """An installed distribution ``dist`` 2.1 whose entry point (``dist`` too) is its module."""
    module = dist.replace("-", "_")
    provider = module.removeprefix("kb_")
    source = PLUGIN.format(declaration=declaration, provider=provider, refused=refused)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{module}-2.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 2.1\n")
    (info / "entry_points.txt").write_text(f"[kycbridge]\n{provider} = {module}\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("kb_")]:
        del sys.modules[name]


def registry_of(*dists: str) -> PluginRegistry:
    """A registry of these installed distributions only, loaded."""
    registry = PluginRegistry(env={"KYCBRIDGE_LOAD_PLUGINS": ",".join(dists)})
    registry.load()
    return registry


def test_the_version_is_exported_and_well_formed():
    assert kycbridge.PLUGIN_API_VERSION == compat.PLUGIN_API_VERSION
    assert compat.parse_api_version(kycbridge.PLUGIN_API_VERSION) >= (1, 0)
    assert "PLUGIN_API_VERSION" in kycbridge.__all__


def test_a_plugin_declaring_the_current_api_loads(site):
    install(site, "kb-current", f'KYCBRIDGE_PLUGIN_API = "{kycbridge.PLUGIN_API_VERSION}"')
    registry = registry_of("kb-current")
    assert [p.name for p in registry.providers()] == ["current"]
    assert registry.broken == [] and registry.warnings == []


def test_an_older_minor_of_the_same_major_loads(site, monkeypatch):
    monkeypatch.setattr(compat, "PLUGIN_API_VERSION", "1.3")
    install(site, "kb-older-minor", 'KYCBRIDGE_PLUGIN_API = "1.1"')
    registry = registry_of("kb-older-minor")
    assert [p.name for p in registry.providers()] == ["older_minor"]
    assert registry.broken == [] and registry.warnings == []


@pytest.mark.parametrize("declared", ["2.0", "1.7", "13.2"])
def test_a_plugin_needing_a_newer_api_is_broken_not_loaded(site, declared):
    install(site, "kb-future", f'KYCBRIDGE_PLUGIN_API = "{declared}"', refused=True)
    registry = registry_of("kb-future")
    assert registry.providers() == []
    [broken] = registry.broken
    assert (broken.name, broken.distribution, broken.version) == ("future", "kb-future", "2.1")
    assert broken.error == (
        f"IncompatiblePlugin: plugin kb-future 2.1 needs plugin API {declared}; this kycbridge "
        f"provides "
        f"{kycbridge.PLUGIN_API_VERSION}: upgrade kycbridge"
    )
    assert registry.pm.get_plugins() == set()
    with pytest.raises(PluginBroken, match=r"needs plugin API .*provides 1\.0: upgrade kycbridge"):
        registry.get("future")


def test_a_plugin_for_an_older_major_is_broken_not_loaded(site, monkeypatch):
    monkeypatch.setattr(compat, "PLUGIN_API_VERSION", "2.0")  # so that 1.x is the older major
    install(site, "kb-past", 'KYCBRIDGE_PLUGIN_API = "1.4"', refused=True)
    registry = registry_of("kb-past")
    assert registry.providers() == []
    [broken] = registry.broken
    assert broken.error == (
        "IncompatiblePlugin: plugin kb-past 2.1 was written for plugin API 1.x, which this "
        "kycbridge (plugin API 2.0) no longer supports: upgrade kb-past"
    )


def test_plugin_api_zero_is_refused_by_this_core(site):
    install(site, "kb-zero", 'KYCBRIDGE_PLUGIN_API = "0.9"', refused=True)
    [broken] = registry_of("kb-zero").broken
    assert "written for plugin API 0.x" in broken.error and "upgrade kb-zero" in broken.error


@pytest.mark.parametrize("value", ["1", "1.0.0", "v1.0", " 1.0", "01.0", "1.0\\n", "1.0a"])
def test_a_malformed_declaration_is_broken(site, value):
    install(site, "kb-odd", f'KYCBRIDGE_PLUGIN_API = "{value}"', refused=True)
    [broken] = registry_of("kb-odd").broken
    assert broken.error.startswith("IncompatiblePlugin: plugin kb-odd 2.1 declares ")
    assert "not a 'MAJOR.MINOR' plugin API version: upgrade kb-odd" in broken.error


@pytest.mark.parametrize("value", ["1.0", "(1, 0)", "b'1.0'", "['1.0']"])
def test_a_declaration_that_is_not_a_string_is_broken(site, value):
    install(site, "kb-typed", f"KYCBRIDGE_PLUGIN_API = {value}", refused=True)
    [broken] = registry_of("kb-typed").broken
    assert "not a 'MAJOR.MINOR' plugin API version" in broken.error


def test_a_plugin_declaring_nothing_loads_with_a_deprecation_warning(site, capsys):
    install(site, "kb-silent", "")
    with pytest.warns(DeprecationWarning, match="kb-silent 2.1 declares no plugin API version"):
        registry = registry_of("kb-silent")
        assert [p.name for p in registry.providers()] == ["silent"]
    [warning] = registry.warnings
    assert (warning.name, warning.distribution, warning.version) == ("silent", "kb-silent", "2.1")
    assert warning.message == (
        "plugin kb-silent 2.1 declares no plugin API version; loaded as 1.0 for now, refused "
        'after plugin API 1.1: upgrade kb-silent, or set KYCBRIDGE_PLUGIN_API = "1.0" in its '
        "entry-point module"
    )
    assert registry.broken == []

    env = {"KYCBRIDGE_LOAD_PLUGINS": "kb-silent"}
    with pytest.warns(DeprecationWarning):
        assert main(["providers"], bridge=Bridge(env=env)) == 0
    out = capsys.readouterr().out
    assert "silent           kb-silent 2.1" in out
    assert "WARNING silent: plugin kb-silent 2.1 declares no plugin API version;" in out
    with pytest.warns(DeprecationWarning):
        assert main(["providers", "--json"], bridge=Bridge(env=env)) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["warnings"] == [
        {
            "name": "silent",
            "distribution": "kb-silent",
            "version": "2.1",
            "message": warning.message,
        }
    ]


def test_a_plugin_declaring_nothing_still_loads_under_the_next_minor(site, monkeypatch):
    monkeypatch.setattr(compat, "PLUGIN_API_VERSION", compat.UNDECLARED_ACCEPTED_UNTIL)
    install(site, "kb-silent", "")
    with pytest.warns(DeprecationWarning):
        registry = registry_of("kb-silent")
        assert [p.name for p in registry.providers()] == ["silent"]


def test_a_plugin_declaring_nothing_is_refused_after_the_grace_minor(site, monkeypatch):
    monkeypatch.setattr(compat, "PLUGIN_API_VERSION", "1.2")
    install(site, "kb-silent", "", refused=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        registry = registry_of("kb-silent")
        assert registry.providers() == []
    [broken] = registry.broken
    assert broken.error == (
        "IncompatiblePlugin: plugin kb-silent 2.1 declares no plugin API version "
        "(KYCBRIDGE_PLUGIN_API), which this kycbridge (plugin API 1.2) no longer accepts: "
        "upgrade kb-silent"
    )


def test_one_refused_plugin_leaves_the_others_working(site):
    install(site, "kb-current", f'KYCBRIDGE_PLUGIN_API = "{kycbridge.PLUGIN_API_VERSION}"')
    install(site, "kb-future", 'KYCBRIDGE_PLUGIN_API = "9.0"', refused=True)
    registry = registry_of("kb-current", "kb-future")
    assert [p.name for p in registry.providers()] == ["current"]
    assert [b.distribution for b in registry.broken] == ["kb-future"]


def test_objects_given_by_the_app_may_declare_nothing_but_not_a_wrong_version():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        registry = PluginRegistry([toy_plugin], entry_points=False, env={})
        assert [p.name for p in registry.providers()] == ["toy"]
    assert registry.warnings == []

    class future(toy_plugin):
        KYCBRIDGE_PLUGIN_API = "2.0"

    registry = PluginRegistry([future], entry_points=False, env={})
    assert registry.providers() == []
    assert "needs plugin API 2.0" in registry.broken[0].error


def test_first_party_plugins_and_the_scaffold_declare_the_current_api():
    import kycbridge_starkfi
    import kycbridge_transak

    for module in (kycbridge_starkfi, kycbridge_transak):
        assert module.KYCBRIDGE_PLUGIN_API == kycbridge.PLUGIN_API_VERSION, module
    template = (ROOT / "kycbridge" / "scaffold_templates" / "__init__.py.tmpl").read_text()
    assert f'\nKYCBRIDGE_PLUGIN_API = "{kycbridge.PLUGIN_API_VERSION}"\n' in template
    registry = PluginRegistry(env={"KYCBRIDGE_LOAD_PLUGINS": "kycbridge-transak,kycbridge-starkfi"})
    assert {"starkfi", "transak"} <= {p.name for p in registry.providers()}
    assert registry.broken == [] and registry.warnings == []


# -- a plugin written for this API passes its contract under the next minor ----------------


class declared_toy(toy_plugin):
    """The toy plugin, declaring the plugin API it is written for (this core's)."""

    KYCBRIDGE_PLUGIN_API = kycbridge.PLUGIN_API_VERSION


def _next_minor() -> str:
    major, minor = compat.parse_api_version(kycbridge.PLUGIN_API_VERSION)
    return f"{major}.{minor + 1}"


class ScenarioSimulator(ToySimulator):
    """The toy simulator with documented scenarios, so the contract runs them all."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts["story"] = ["NEW", "OK"]
        self.scenarios = (
            Scenario(
                "story", {"subject": "story", "token": TOY_TOKEN}, "", ("NEW", "OK"), "approved"
            ),
            Scenario("err-404", {"subject": "err-404", "token": TOY_TOKEN}, "", (), "not_found"),
        )


class TestToyContractUnderTheNextMinor(ProviderContract):
    """The toy's contract, run while the core claims the next minor plugin API."""

    provider = ToyProvider()
    simulator_factory = ScenarioSimulator
    plugin = declared_toy
    valid_queries = [{"subject": "someone", "token": TOY_TOKEN}]
    invalid_queries = [{"subject": ""}, {}]
    error_cases = [
        ("err-404", SubjectNotFound),
        ({"subject": "someone", "token": "not-the-token"}, AuthenticationError),
    ]

    @pytest.fixture(autouse=True)
    def _core_is_the_next_minor(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(compat, "PLUGIN_API_VERSION", _next_minor())

    def test_the_core_claims_the_next_minor_and_still_loads_the_plugin(self) -> None:
        assert compat.PLUGIN_API_VERSION == _next_minor() != kycbridge.PLUGIN_API_VERSION
        registry = PluginRegistry([declared_toy], entry_points=False, env={})
        assert [p.name for p in registry.providers()] == ["toy"]
        assert registry.broken == [] and registry.warnings == []
