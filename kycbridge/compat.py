"""The plugin API's version, and the rule deciding which plugins this core loads.

A plugin states the plugin API it was written for with one module attribute on its
entry-point module::

    KYCBRIDGE_PLUGIN_API = "1.0"

The registry reads it before registering the plugin, so before any hook is called. The rule
(semantic versioning of the plugin API, see ``docs/compatibility.md``):

- same major, minor at most the core's: loaded;
- a newer major, or a newer minor of the same major: reported broken, "upgrade kycbridge";
- an older major: reported broken, "upgrade the plugin";
- no declaration: loaded with a deprecation warning until plugin API
  :data:`UNDECLARED_ACCEPTED_UNTIL`, reported broken after it;
- anything else (not a ``"MAJOR.MINOR"`` string): reported broken.
"""

from __future__ import annotations

import re

__all__ = [
    "PLUGIN_API_ATTRIBUTE",
    "PLUGIN_API_VERSION",
    "UNDECLARED_ACCEPTED_UNTIL",
    "IncompatiblePlugin",
    "check_plugin_api",
    "parse_api_version",
]

PLUGIN_API_VERSION = "1.0"
"""The plugin API this kycbridge provides, ``"MAJOR.MINOR"``.

The minor grows when hooks, hook arguments or provider attributes are added (plugins written
for an older minor keep working); the major grows when something is removed or changes
meaning. It is independent of the package version (``kycbridge.__version__``).
"""

PLUGIN_API_ATTRIBUTE = "KYCBRIDGE_PLUGIN_API"
"""The entry-point module attribute in which a plugin declares its plugin API version."""

UNDECLARED_ACCEPTED_UNTIL = "1.1"
"""The last plugin API under which a plugin declaring nothing still loads (with a warning)."""

_VERSION = re.compile(r"(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})")


class IncompatiblePlugin(Exception):
    """A plugin's declared plugin API is not one this kycbridge can load."""


def parse_api_version(value: object) -> tuple[int, int]:
    """``"1.0"`` as ``(1, 0)``; :class:`ValueError` for anything but a ``"MAJOR.MINOR"`` str."""
    if not isinstance(value, str) or not _VERSION.fullmatch(value):
        raise ValueError(f"not a 'MAJOR.MINOR' plugin API version: {value!r:.40}")
    major, minor = value.split(".")
    return int(major), int(minor)


def check_plugin_api(declared: object, plugin: str, upgrade: str) -> str | None:
    """Decide whether a plugin declaring ``declared`` may load under this core.

    ``plugin`` names it in messages (``"plugin kycbridge-foo 2.1"``), ``upgrade`` is what its
    user would upgrade (the distribution's name). ``declared`` is the value of
    :data:`PLUGIN_API_ATTRIBUTE`, ``None`` when absent.

    Returns ``None`` when the plugin loads as it is, a deprecation message when it loads with
    a warning, and raises :class:`IncompatiblePlugin` when it must not load.
    """
    core = PLUGIN_API_VERSION
    core_major, core_minor = parse_api_version(core)
    if declared is None:
        if (core_major, core_minor) > parse_api_version(UNDECLARED_ACCEPTED_UNTIL):
            raise IncompatiblePlugin(
                f"{plugin} declares no plugin API version ({PLUGIN_API_ATTRIBUTE}), which "
                f"this kycbridge (plugin API {core}) no longer accepts: upgrade {upgrade}"
            )
        return (
            f"{plugin} declares no plugin API version; loaded as {core_major}.0 for now, "
            f"refused after plugin API {UNDECLARED_ACCEPTED_UNTIL}: upgrade {upgrade}, or "
            f'set {PLUGIN_API_ATTRIBUTE} = "{core_major}.0" in its entry-point module'
        )
    try:
        major, minor = parse_api_version(declared)
    except ValueError as exc:
        raise IncompatiblePlugin(
            f"{plugin} declares {PLUGIN_API_ATTRIBUTE} = {declared!r:.40}, "
            f"{exc.args[0].split(':')[0]}: upgrade {upgrade}"
        ) from None
    if major < core_major:
        raise IncompatiblePlugin(
            f"{plugin} was written for plugin API {major}.x, which this kycbridge (plugin API "
            f"{core}) no longer supports: upgrade {upgrade}"
        )
    if major > core_major or minor > core_minor:
        raise IncompatiblePlugin(
            f"{plugin} needs plugin API {major}.{minor}; this kycbridge provides {core}: "
            "upgrade kycbridge"
        )
    return None
