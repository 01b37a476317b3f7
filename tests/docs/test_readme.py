"""README.md's install section names every extra of pyproject.toml and what the test extra pulls in."""
from __future__ import annotations

import re
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the test extra installs tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]


def _extras_section():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("\nExtras", 1)[1].split("\n## ", 1)[0]


def _distribution(requirement):
    return re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0).lower()


def test_readme_names_every_extra_and_its_packages():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    section = _extras_section()
    for name, requirements in extras.items():
        item = re.search(rf"^- `{name}`:(.*?)(?=^- |\n\n)", section, re.S | re.M)
        assert item, f"README.md's extras list has no item for the extra '{name}'"
        words = item.group(1).lower().replace("\n", " ")
        for requirement in requirements:
            package = _distribution(requirement)
            if package in ("tomli", "cupy-cuda12x", "myst-parser"):  # named by their project names
                package = {"tomli": "", "cupy-cuda12x": "cupy", "myst-parser": "myst"}[package]
            assert package in words, f"README.md: the '{name}' extra does not mention {package}"


def test_readme_warns_about_running_beside_a_clone_named_tensorplug():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "namespace package" in text and "has no attribute" in text
