"""Sphinx configuration for the kycbridge docs (``tox -e docs``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

import kycbridge

project = "kycbridge"
release = version = kycbridge.__version__
extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "sphinx_copybutton",
    "kbdocs",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "README.md"]
myst_heading_anchors = 3
autodoc_member_order = "bysource"
autodoc_typehints = "description"
html_theme = "furo"  # light and dark, following the reader's system setting
html_title = f"kycbridge {release}"
pygments_style = "friendly"
pygments_dark_style = "monokai"
# Copy buttons on every code block; prompts ("$ ", ">>> ", "... ") and the output after a
# prompted line are left out of what is copied.
copybutton_prompt_text = r"\$ |>>> |\.\.\. "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True
copybutton_remove_prompts = True
copybutton_exclude = ".linenos, .gp, .go"
suppress_warnings = ["myst.xref_missing"]
# Quotes and ellipses only: never turn "--json" into an en dash in headings and menus.
smartquotes_action = "qe"
nitpicky = False
