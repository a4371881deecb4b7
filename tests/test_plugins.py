"""Plugin discovery through real entry points of (fake) installed distributions."""

from __future__ import annotations

import importlib
import importlib.metadata
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from kycbridge import Bridge, PluginBroken, ProviderConflict, ProviderNotInstalled
from kycbridge.cli import main
from kycbridge.plugins import PluginRegistry

GOOD = """
import kycbridge
from toy import ToyProvider

class Other(ToyProvider):
    name = "{provider}"

@kycbridge.hookimpl
def register_providers(register):
    register(Other())
"""


def install(site: Path, dist: str, module: str, source: str, ep_name: str | None = None) -> None:
    """Write a module and a dist-info with a `kycbridge` entry point: an installed plugin."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[kycbridge]\n{ep_name or module} = {module}\n")


@pytest.fixture
def site(tmp_path, monkeypatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    install(tmp_path, "kb-alpha", "kb_alpha", GOOD.format(provider="alpha"), "alpha")
    install(tmp_path, "kb-beta", "kb_beta", GOOD.format(provider="beta"), "beta")
    install(
        tmp_path, "kb-import-fails", "kb_import_fails", "raise ImportError('no lib')\n", "gamma"
    )
    install(
        tmp_path,
        "kb-hook-raises",
        "kb_hook_raises",
        """
        import kycbridge
        @kycbridge.hookimpl
        def register_providers(register):
            raise RuntimeError("hook exploded")
        """,
        "delta",
    )
    install(
        tmp_path,
        "kb-not-a-provider",
        "kb_not_a_provider",
        """
        import kycbridge
        @kycbridge.hookimpl
        def register_providers(register):
            register(object())
        """,
        "epsilon",
    )
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("kb_")]:
        del sys.modules[name]


def names(registry: PluginRegistry) -> list[str]:
    return [p.name for p in registry.providers()]


def test_good_plugins_load_and_broken_ones_are_recorded(site):
    registry = PluginRegistry(env={})
    assert {"alpha", "beta"} <= set(names(registry))
    alpha = next(p for p in registry.providers() if p.name == "alpha")
    assert (alpha.distribution, alpha.version) == ("kb-alpha", "1.2.3")
    broken = {b.distribution: b for b in registry.broken}
    assert "ImportError: no lib" in broken["kb-import-fails"].error
    assert "RuntimeError: hook exploded" in broken["kb-hook-raises"].error
    assert "not a KYCStatusProvider" in broken["kb-not-a-provider"].error
    with pytest.raises(PluginBroken, match="no lib"):
        registry.get("gamma")


def test_allow_list_and_block_list(site):
    registry = PluginRegistry(env={"KYCBRIDGE_LOAD_PLUGINS": "kb-alpha, kb_hook_raises"})
    assert names(registry) == ["alpha"]
    assert [b.distribution for b in registry.broken] == ["kb-hook-raises"]
    assert names(PluginRegistry(env={"KYCBRIDGE_LOAD_PLUGINS": ""})) == []
    blocked = PluginRegistry(env={"KYCBRIDGE_DISABLE_PLUGINS": "kb-alpha,KB-IMPORT-FAILS"})
    assert "alpha" not in names(blocked) and "beta" in names(blocked)
    assert "kb-import-fails" not in {b.distribution for b in blocked.broken}


def test_two_providers_with_one_name(site):
    install(site, "kb-alpha-fork", "kb_alpha_fork", GOOD.format(provider="alpha"), "alphafork")
    registry = PluginRegistry(env={})
    assert "alpha" not in names(registry) and "beta" in names(registry)
    with pytest.raises(ProviderConflict) as info:
        registry.get("alpha")
    assert "kb-alpha" in str(info.value) and "kb-alpha-fork" in str(info.value)
    assert registry.conflicts() == {"alpha": ["kb-alpha", "kb-alpha-fork"]}


def test_not_installed_names_the_installed(site):
    with pytest.raises(ProviderNotInstalled, match=r"installed: .*alpha.*beta"):
        PluginRegistry(env={}).get("zeta")


def test_loading_is_lazy_and_once(site):
    registry = PluginRegistry(env={})
    assert "kb_alpha" not in sys.modules
    registry.providers()
    registry.providers()
    assert "kb_alpha" in sys.modules
    ours = [p for p in registry.pm.get_plugins() if getattr(p, "__name__", "").startswith("kb_")]
    assert len(ours) == 4  # alpha, beta, delta, epsilon


def test_import_kycbridge_loads_no_plugin():
    code = (
        "import sys, kycbridge; print(sorted(m for m in sys.modules if m.startswith('kycbridge_')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_providers_reports_broken_and_keeps_working(site, capsys):
    bridge = Bridge(env={})
    assert main(["providers"], bridge=bridge) == 0
    out = capsys.readouterr().out
    assert "alpha" in out and "kb-alpha 1.2.3" in out
    assert "BROKEN gamma (kb-import-fails 1.2.3): ImportError: no lib" in out
    assert main(["providers", "--json"], bridge=Bridge(env={})) == 0
    import json

    data = json.loads(capsys.readouterr().out)
    assert {"name": "alpha", "distribution": "kb-alpha", "version": "1.2.3"} in data["providers"]
    assert {b["distribution"] for b in data["broken"]} >= {"kb-import-fails", "kb-hook-raises"}
    assert main(["status", "gamma", "-p", "subject=x"], bridge=Bridge(env={})) == 7


def _dists_of_entry_point(name: str) -> list[str]:
    eps = importlib.metadata.entry_points(group="kycbridge")
    return [ep.dist.metadata["Name"] for ep in eps if ep.name == name and ep.dist is not None]


@pytest.fixture(params=["fork first", "fork last"])
def fork_site(request, site, tmp_path_factory, monkeypatch) -> Iterator[tuple[Path, bool]]:
    """A second directory on sys.path, searched before (``True``) or after ``site``."""
    other = tmp_path_factory.mktemp("other-site")
    first = request.param == "fork first"
    if first:
        monkeypatch.syspath_prepend(str(other))
    else:
        monkeypatch.setattr(sys, "path", [*sys.path, str(other)])
        importlib.invalidate_caches()
    yield other, first


def test_two_distributions_with_one_entry_point_name_conflict_in_any_order(fork_site, capsys):
    # kb-alpha-fork uses kb-alpha's entry-point name *and* registers the same provider.
    other, fork_first = fork_site
    install(other, "kb-alpha-fork", "kb_alpha_fork", GOOD.format(provider="alpha"), "alpha")
    in_metadata = ["kb-alpha-fork", "kb-alpha"] if fork_first else ["kb-alpha", "kb-alpha-fork"]
    assert _dists_of_entry_point("alpha") == in_metadata  # both orders are played
    registry = PluginRegistry(env={})
    assert registry.conflicts() == {"alpha": ["kb-alpha", "kb-alpha-fork"]}
    assert "alpha" not in names(registry) and "beta" in names(registry)
    assert not [b for b in registry.broken if "already registered" in b.error]
    assert {b.distribution for b in registry.broken} == {
        "kb-import-fails",
        "kb-hook-raises",
        "kb-not-a-provider",
    }
    with pytest.raises(ProviderConflict) as info:
        registry.get("alpha")
    assert "kb-alpha, kb-alpha-fork" in str(info.value)
    # Only the two conflicting distributions loaded: withheld, but not "no providers".
    env = {"KYCBRIDGE_LOAD_PLUGINS": "kb-alpha,kb-alpha-fork"}
    assert main(["providers"], bridge=Bridge(env=env)) == 0
    out = capsys.readouterr().out
    assert "No providers installed" not in out
    assert "alpha            CONFLICT: registered by kb-alpha, kb-alpha-fork" in out


def test_one_entry_point_name_for_two_providers_keeps_both(fork_site):
    # The same entry-point name, different providers: nothing conflicts, nothing is broken.
    install(fork_site[0], "kb-alpha-two", "kb_alpha_two", GOOD.format(provider="alpha2"), "alpha")
    registry = PluginRegistry(env={})
    assert {"alpha", "alpha2", "beta"} <= set(names(registry))
    assert registry.conflicts() == {}
    assert "kb-alpha-two" not in {b.distribution for b in registry.broken}
    info = {p.name: p.distribution for p in registry.providers()}
    assert (info["alpha"], info["alpha2"]) == ("kb-alpha", "kb-alpha-two")


def test_a_broken_hook_is_reported_under_its_entry_point_name(site):
    registry = PluginRegistry(env={})
    registry.load()
    broken = {b.distribution: b.name for b in registry.broken}
    assert broken["kb-hook-raises"] == "delta"
    with pytest.raises(PluginBroken, match="hook exploded"):
        registry.get("delta")
