"""The installed plugins, their providers without client-side rate limits.

For core tests that walk every provider's scenarios and are not about rate limits (each
plugin tests its own limit): Didit's 1.67 requests/s and Persona's 5/s would otherwise add
tens of seconds of waiting. Like ``tests/test_reliability.py``'s ``UnlimitedStarkFi``, each
provider is a subclass with ``rate_limit = None``; the simulators are the installed ones
(their server-side limits, and the scenarios built on them, unchanged).
"""

from __future__ import annotations

import functools
from typing import Any

import kycbridge
from kycbridge.plugins import PluginRegistry


@functools.cache
def _unlimited_class(cls: type[Any]) -> type[Any]:
    return type(f"Unlimited{cls.__name__}", (cls,), {"rate_limit": None})


class unlimited_installed:
    """A plugin registering every installed provider without its rate limit, and every
    installed simulator."""

    @staticmethod
    @kycbridge.hookimpl
    def register_providers(register: Any) -> None:
        for info in PluginRegistry().providers():
            register(_unlimited_class(type(info.provider))())

    @staticmethod
    @kycbridge.hookimpl
    def register_simulators(register: Any) -> None:
        for info in PluginRegistry().simulators():
            register(info.simulator)
