"""Every hook in hookspecs.py is documented in docs/hooks.md by its exact signature."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from kycbridge import hookspecs

DOC = Path(__file__).resolve().parent.parent / "docs" / "hooks.md"


def hook_specs() -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(fn)
        for name, fn in vars(hookspecs).items()
        if inspect.isfunction(fn) and hasattr(fn, f"{hookspecs.PROJECT}_spec")
    }


def documented() -> dict[str, list[str]]:
    headings = re.findall(r"^## (\w+)\(([^)]*)\)\s*$", DOC.read_text(), flags=re.M)
    return {name: [a.strip() for a in args.split(",") if a.strip()] for name, args in headings}


def test_there_are_hooks():
    assert set(hook_specs()) >= {
        "register_providers",
        "register_simulators",
        "status_observed",
        "state_changed",
    }


def test_every_hook_is_documented_with_its_signature():
    docs = documented()
    for name, sig in hook_specs().items():
        assert name in docs, f"hook {name} is not documented in {DOC.name}"
        assert docs[name] == list(sig.parameters), f"{name}: docs say {docs[name]}"
        assert inspect.getdoc(getattr(hookspecs, name)), f"{name} has no docstring"


def test_docs_document_no_hook_that_does_not_exist():
    assert set(documented()) <= set(hook_specs())
