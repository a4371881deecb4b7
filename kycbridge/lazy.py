"""Lazy exports for a plugin's entry-point module (PEP 562).

kycbridge imports every installed plugin's entry-point module when it first needs a provider,
so that module should be cheap to import. :func:`lazy_exports` gives it a module
``__getattr__`` that imports each public name from its submodule on first access::

    __getattr__ = kycbridge.lazy_exports(__name__, {
        "AcmeProvider": "provider",
        "AcmeQuery": "query",
    })

The hook implementations stay explicit in the plugin (they are its API).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(module_name: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` importing ``name`` from its submodule on first access.

    ``module_name``: the package's ``__name__``. ``names``: each public name -> the submodule
    (relative to the package, with or without its leading dot) that defines it. The value is
    cached in the package's namespace, so the submodule is asked once. Any other name raises
    :class:`AttributeError`, as a plain module would.
    """
    table = {name: "." + submodule.lstrip(".") for name, submodule in names.items()}

    def __getattr__(name: str) -> Any:
        submodule = table.get(name)
        if submodule is None:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(submodule, module_name), name)
        setattr(sys.modules[module_name], name, value)
        return value

    __getattr__.__doc__ = f"Import the public names of {module_name} on first access."
    return __getattr__
