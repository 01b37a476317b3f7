"""Sphinx configuration: MyST Markdown pages, the furo theme, autodoc for the API reference."""
from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
# plugin example packages are documented from source
sys.path.insert(0, str(HERE.parent / "examples" / "backend_plugin"))

import tensorplug  # noqa: E402

project = "tensorplug"
author = "the tensorplug developers"
copyright = "the tensorplug developers"
release = tensorplug.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "none"
autodoc_default_options = {"undoc-members": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

try:
    import furo  # noqa: F401
    html_theme = "furo"
except ImportError:  # the docs still build with Sphinx's default theme
    html_theme = "alabaster"
html_title = f"tensorplug {release}"

suppress_warnings = []
if not (HERE / "benchmarks.md").exists():
    # docs/benchmarks.md comes from the benchmark suite; the index lists it once it exists
    suppress_warnings.append("toc.not_readable")

os.environ.setdefault("TENSORPLUG_BACKEND", "numpy")
