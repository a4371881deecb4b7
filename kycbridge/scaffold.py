"""``kycbridge new-provider NAME``: write a provider plugin distribution to start from.

The templates in ``kycbridge/scaffold_templates/`` are complete, working plugins for a
made-up provider named ``acme``, in two styles (:data:`STYLES`):

* ``query``: one ``GET /v1/kyc/status?user_id=...`` with an API key header, one status word;
* ``path-signed``: the subject in the URL path, every attempt signed (an HMAC with a timestamp),
  the state read from two fields through a :class:`~kycbridge.CompositeStatusMap`, only
  non-personal fields kept on reports, and a simulator checking the signature over the exact
  bytes received.

The files the styles share (``pyproject.toml``, ``tox.ini``, ``.gitignore``, the hooks in
``__init__.py``) are one template each at the top of the directory; each style has its own
``provider.py``, ``simulator.py``, tests and README in ``query/`` and ``path_signed/``. A
line ``{{> parts/NAME}}`` (``# {{> parts/NAME}}`` in a Python template) is replaced by the
text of ``parts/NAME``: what both styles share word for word (the field validators, the
README's development section).

Generating a plugin renames ``acme`` (``Acme``, ``ACME``, ``kycbridge-acme``) to the new name
and fills in the ``{{...}}`` placeholders (the supported kycbridge versions), so
``kycbridge new-provider acme`` writes exactly the files the "Writing a provider" tutorial
(``docs/writing-a-provider.md``) shows.

The command itself, ``kycbridge new-provider``, is :mod:`kycbridge.cli.scaffold`.

Files are rendered in memory, written to a temporary directory next to the target, then moved
into place: an error leaves nothing half-written.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import attrs

from ._version import __version__
from .provider import NAME_PATTERN

__all__ = [
    "COMMON_FILES",
    "DEFAULT_STYLE",
    "EXAMPLE_NAME",
    "FILES",
    "STYLES",
    "STYLE_FILES",
    "Names",
    "ScaffoldError",
    "core_requirement",
    "placeholders",
    "render",
    "render_all",
    "scaffold",
    "style_files",
    "template_text",
    "validate_name",
    "validate_style",
]

EXAMPLE_NAME = "acme"
"""The provider name the templates are written for."""

TEMPLATE_DIR = "scaffold_templates"
"""The templates' directory inside the ``kycbridge`` package (package data)."""

STYLES: tuple[str, ...] = ("query", "path-signed")
"""The API shapes the scaffold can write (``kycbridge new-provider NAME --style STYLE``)."""

DEFAULT_STYLE = "query"
"""The style written when none is asked for."""

FileSpec = tuple[tuple[str | None, str], ...]
"""Template (``None``: an empty file) -> path in the generated distribution, for ``acme``."""

COMMON_FILES: FileSpec = (
    ("pyproject.toml.tmpl", "pyproject.toml"),
    ("tox.ini.tmpl", "tox.ini"),
    ("gitignore.tmpl", ".gitignore"),
    ("__init__.py.tmpl", "kycbridge_acme/__init__.py"),
    (None, "kycbridge_acme/py.typed"),
)
"""The files every style writes, from the same templates."""

STYLE_FILES: Mapping[str, FileSpec] = {
    "query": (
        ("query/README.md.tmpl", "README.md"),
        ("query/provider.py.tmpl", "kycbridge_acme/provider.py"),
        ("query/simulator.py.tmpl", "kycbridge_acme/simulator.py"),
        ("query/test_contract.py.tmpl", "tests/test_acme_contract.py"),
    ),
    "path-signed": (
        ("path_signed/README.md.tmpl", "README.md"),
        ("path_signed/provider.py.tmpl", "kycbridge_acme/provider.py"),
        ("path_signed/simulator.py.tmpl", "kycbridge_acme/simulator.py"),
        ("path_signed/test_contract.py.tmpl", "tests/test_acme_contract.py"),
        ("path_signed/test_signing.py.tmpl", "tests/test_acme_signing.py"),
    ),
}
"""Each style's own files."""

PARTS_DIR = "parts"
"""Template pieces included by ``{{> parts/NAME}}`` lines (shared by the styles)."""


def style_files(style: str = DEFAULT_STYLE) -> FileSpec:
    """Every file a ``style`` plugin has: :data:`COMMON_FILES` and its :data:`STYLE_FILES`."""
    return COMMON_FILES + STYLE_FILES[validate_style(style)]


FILES: FileSpec = COMMON_FILES + STYLE_FILES[DEFAULT_STYLE]
"""The files of a :data:`DEFAULT_STYLE` plugin (:func:`style_files`)."""

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_INCLUDE = re.compile(r"^(?:# )?\{\{>\s*(parts/[\w.-]+)\s*\}\}\n", re.MULTILINE)
_EXAMPLE_WORD = re.compile(r"kycbridge-acme|acme\.example|ACME|Acme|acme")


class ScaffoldError(Exception):
    """The plugin cannot be written as asked (bad name, target not empty...)."""


def validate_name(name: str) -> str:
    """``name`` if it is a valid provider name (:data:`kycbridge.provider.NAME_PATTERN`)."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ScaffoldError(
            f"invalid provider name {name!r}: use a lowercase letter, then lowercase letters, "
            "digits or '_' (at most 40 characters), e.g. 'acme' or 'acme_eu'"
        )
    return name


def validate_style(style: str) -> str:
    """``style`` if it is one of :data:`STYLES`."""
    if style not in STYLES:
        raise ScaffoldError(f"unknown style {style!r}: choose one of {', '.join(STYLES)}")
    return style


@attrs.frozen
class Names:
    """Every spelling of a provider's name the templates use."""

    name: str
    """``acme_eu``: the provider name (``kycbridge status acme_eu``)."""

    @property
    def camel(self) -> str:
        """``AcmeEu``: the class-name prefix."""
        return "".join(part.capitalize() for part in self.name.split("_"))

    @property
    def upper(self) -> str:
        """``ACME_EU``: as in env ``KYCBRIDGE_ACME_EU_API_KEY``."""
        return self.name.upper()

    @property
    def package(self) -> str:
        """``kycbridge_acme_eu``: the import package."""
        return f"kycbridge_{self.name}"

    @property
    def distribution(self) -> str:
        """``kycbridge-acme-eu``: the distribution (what ``pip install`` takes)."""
        return f"kycbridge-{self.name.replace('_', '-')}"

    @property
    def host(self) -> str:
        """``acme-eu``: the name as a DNS label (no underscores in host names)."""
        return self.name.replace("_", "-")


def core_requirement(version: str = __version__) -> str:
    """The requirement on kycbridge a new plugin declares: this minor version series.

    ``0.1.0`` gives ``kycbridge>=0.1,<0.2``; a pre-release (``0.2.0rc1``) is its own lower
    bound, since ``>=0.2`` would exclude it.
    """
    match = re.match(r"(\d+)\.(\d+)", version)
    if match is None:
        return "kycbridge"
    major, minor = int(match.group(1)), int(match.group(2))
    final = re.fullmatch(r"\d+(\.\d+)*", version) is not None
    lower = f"{major}.{minor}" if final else version
    return f"kycbridge>={lower},<{major}.{minor + 1}"


def placeholders(version: str = __version__) -> dict[str, str]:
    """The ``{{...}}`` placeholders of the templates and their values."""
    return {
        "kycbridge_requirement": core_requirement(version),
        "kycbridge_lowest": f"kycbridge=={version}",
        "kycbridge_version": version,
    }


def template_text(template: str) -> str:
    """The text of one template of ``kycbridge/scaffold_templates/``."""
    return (
        resources.files("kycbridge")
        .joinpath(TEMPLATE_DIR)
        .joinpath(template)
        .read_text(encoding="utf-8")
    )


def render(text: str, names: Names, values: Mapping[str, str] | None = None) -> str:
    """``text`` rendered for ``names``: parts included, placeholders filled in, ``acme`` renamed.

    A line ``{{> parts/NAME}}`` (``# {{> parts/NAME}}`` in Python, so that the template
    still parses) is replaced by the template ``parts/NAME`` (one level).
    """
    values = placeholders() if values is None else values
    # One level: a part includes nothing (a line left over fails the placeholder check).
    text = _INCLUDE.sub(lambda m: template_text(m.group(1)), text)
    if "{{>" in text:
        raise ScaffoldError("a template includes a part that is missing or includes another")

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise ScaffoldError(f"template placeholder {{{{{key}}}}} has no value")
        return values[key]

    text = _PLACEHOLDER.sub(fill, text)
    spelled = {
        "kycbridge-acme": names.distribution,
        "acme.example": f"{names.host}.example",
        "ACME": names.upper,
        "Acme": names.camel,
        "acme": names.name,
    }
    # One pass: a replaced name is never looked at again.
    return _EXAMPLE_WORD.sub(lambda m: spelled[m.group(0)], text)


def render_all(
    name: str, version: str = __version__, *, style: str = DEFAULT_STYLE
) -> dict[str, str]:
    """Every file of the ``style`` plugin ``name``: relative path -> content."""
    names = Names(validate_name(name))
    values = placeholders(version)
    files: dict[str, str] = {}
    for template, path in style_files(style):
        text = "" if template is None else render(template_text(template), names, values)
        files[render(path, names, values)] = text
    return files


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def scaffold(
    name: str, target: Path | str, *, force: bool = False, style: str = DEFAULT_STYLE
) -> list[Path]:
    """Write the ``style`` plugin distribution for provider ``name`` into directory ``target``.

    ``target`` must not exist or be empty, unless ``force``: then the generated files replace
    theirs and every other file there (``.git``, your own modules) is left alone. The files
    are written to a temporary directory next to ``target`` first, then moved into place.
    Returns the paths written. Raises :class:`ScaffoldError` (nothing written) or
    :class:`OSError`.
    """
    files = render_all(name, style=style)
    target = Path(target)
    if target.exists() or target.is_symlink():
        if not target.is_dir():
            raise ScaffoldError(f"{target} exists and is not a directory")
        if not force and not _is_empty_dir(target):
            raise ScaffoldError(
                f"{target} exists and is not empty; choose another --dir, or pass --force to "
                "overwrite the generated files there"
            )
    parent = target.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    try:
        for relative, text in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
        if not target.exists():
            staging.rename(target)
        else:
            for relative in files:
                destination = target / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / relative, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [target / relative for relative in files]
