"""Every generated provider page says whether the provider has webhooks, from the registry."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kycbridge.plugins import PluginRegistry

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.fixture
def kbdocs(monkeypatch):
    monkeypatch.syspath_prepend(str(DOCS / "_ext"))
    import kbdocs

    yield kbdocs
    sys.modules.pop("kbdocs", None)


def test_every_provider_page_has_a_webhooks_line_from_the_registry(kbdocs, tmp_path):
    kbdocs.generate(tmp_path)
    registry = PluginRegistry()
    handlers = {h.name: h for h in registry.webhooks()}
    providers = [info.name for info in registry.providers()]
    assert providers
    for name in providers:
        page = (tmp_path / "_generated" / "providers" / f"{name}.md").read_text()
        [line] = [x for x in page.splitlines() if x.startswith("Webhooks:")]
        if name in handlers:
            assert line.startswith("Webhooks: yes, signature scheme: ")
            assert f"/webhooks/{name}" in line
            tolerance = handlers[name].tolerance
            assert (f"within {tolerance:g} s" in line) if tolerance else ("no signed time" in line)
        else:
            assert line == "Webhooks: not documented by the provider."


def test_a_provider_without_webhooks_says_so(kbdocs):
    assert kbdocs.webhooks_line(None) == "Webhooks: not documented by the provider."
