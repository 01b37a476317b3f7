"""The pages read as Markdown anywhere: code is in the page, and every file a page names is in the repository."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the test extra installs tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(ROOT.glob("docs/*.md")) + [ROOT / "README.md"] + sorted(ROOT.glob("examples/**/README.md"))
BLOCK = re.compile(r"^```(\w+)[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
TOP = ("framework/", "backends/", "plugins/", "tests/", "docs/", "examples/", "benchmarks/", "tools/", ".ci/")
FILE_NAME = re.compile(r"[\w.\-/]+\.(md|py|toml|sh|txt|cfg|json|ya?ml|rst|ipynb)")


def _rel(page):
    return page.relative_to(ROOT)


def test_no_page_pulls_code_in_from_files():
    """literalinclude/include show nothing on a repository page or in an editor: the code goes in the page."""
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        assert "literalinclude" not in text and "{include}" not in text, f"{_rel(page)} includes a file"


def _file_blocks():
    """``(page, language, path, body)`` of each block whose first line is ``# <a file of the repository>``."""
    for page in PAGES:
        for match in BLOCK.finditer(page.read_text(encoding="utf-8")):
            first, _, body = match.group(2).partition("\n")
            name = first[2:].strip() if first.startswith("# ") else ""
            if FILE_NAME.fullmatch(name):
                yield page, match.group(1), name, body


def test_code_marked_with_a_file_name_is_that_file():
    blocks = list(_file_blocks())
    assert len(blocks) >= 4, "docs/plugins.md shows the example plugin's files"
    for page, language, name, body in blocks:
        path = ROOT / name
        assert path.is_file(), f"{_rel(page)} shows {name}, which is not in the repository"
        text = path.read_text(encoding="utf-8")
        if language == "python":  # a whole module
            assert body.rstrip("\n") == text.rstrip("\n"), f"{_rel(page)}: the block for {name} differs from it"
        else:  # an excerpt, e.g. the entry-point table of a pyproject.toml
            assert body.strip() in text, f"{_rel(page)}: the {language} block is not an excerpt of {name}"
        if language == "toml":
            tomllib.loads(body)


def _ignored(path):
    """Build outputs (benchmarks/results/, docs/_build/) are named by the docs but not committed."""
    try:
        return subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, timeout=30).returncode == 0
    except OSError:  # no git: only what exists counts
        return False


def _named_files(text):
    for ref in re.findall(r"`([^`\s]+)`", text) + re.findall(r"\]\(([^)\s#]+)", text):
        ref = ref.rstrip(".,:;")
        if "://" in ref or ref.startswith(("/", "~", "$", "-")) or "*" in ref or "<" in ref:
            continue
        if ref.startswith(TOP) or FILE_NAME.fullmatch(ref):
            yield ref


def test_docs_name_only_files_in_the_repository():
    everything = {p.name for p in ROOT.rglob("*") if ".git" not in p.parts}
    missing = []
    for page in PAGES:
        for ref in _named_files(page.read_text(encoding="utf-8")):
            if "/" not in ref.rstrip("/"):
                found = ref.rstrip("/") in everything  # a bare name: that file somewhere in the repository
            else:
                found = (page.parent / ref).exists() or (ROOT / ref).exists() or _ignored(ref)
            if not found:
                missing.append(f"{_rel(page)}: {ref}")
    assert not missing, "the docs name files that are not in the repository: " + ", ".join(missing)
