"""kycbridge.lazy_exports: a plugin package's names imported on first access, then cached."""

from __future__ import annotations

import sys
import types

import pytest

import kycbridge


@pytest.fixture()
def package(tmp_path, monkeypatch):
    root = tmp_path / "lazypkg"
    root.mkdir()
    (root / "__init__.py").write_text(
        "import kycbridge\n"
        "__getattr__ = kycbridge.lazy_exports(__name__, {'Thing': 'things', 'OTHER': '.things'})\n"
    )
    (root / "things.py").write_text("class Thing:\n    pass\nOTHER = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in ("lazypkg", "lazypkg.things"):
        sys.modules.pop(name, None)


def test_imports_on_first_access_only(package) -> None:
    import lazypkg

    assert "lazypkg.things" not in sys.modules
    thing = lazypkg.Thing
    assert "lazypkg.things" in sys.modules
    assert thing is sys.modules["lazypkg.things"].Thing
    assert lazypkg.OTHER == 42  # a leading dot is accepted too
    assert vars(lazypkg)["Thing"] is thing  # cached: __getattr__ is not asked again


def test_unknown_name_is_an_attribute_error(package) -> None:
    import lazypkg

    with pytest.raises(AttributeError, match="module 'lazypkg' has no attribute 'Nope'"):
        lazypkg.Nope
    assert not hasattr(lazypkg, "Nope")
    assert "lazypkg.things" not in sys.modules


def test_returns_a_documented_function() -> None:
    getter = kycbridge.lazy_exports("somewhere", {})
    assert isinstance(getter, types.FunctionType)
    assert getter.__doc__ and "somewhere" in getter.__doc__
