"""The docs: every ```python block runs (in order, one process per page), and Sphinx builds with -W."""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def python_blocks(path):
    """``(line, code)`` of each block fenced exactly as ```python (```{code-block} python is not run)."""
    text = path.read_text(encoding="utf-8")
    return [(text[:m.start()].count("\n") + 2, m.group(1)) for m in FENCE.finditer(text)]


PAGES = sorted(p for p in DOCS.glob("*.md") if python_blocks(p))


def test_docs_have_executable_examples():
    names = {p.name for p in PAGES}
    for page in ("index.md", "install.md", "tensors.md", "nn.md", "data.md", "checkpoints.md", "backends.md",
                 "plugins.md", "pytorch-scripts.md"):
        assert page in names, f"docs/{page} has no ```python block to run"
    assert sum(len(python_blocks(p)) for p in PAGES) >= 25


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_code_runs(page, tmp_path):
    # one namespace per page, blocks in order; each block compiled under its own name so a
    # traceback says "docs/page.md, block 3 (line 40)"
    lines = ["ns = {'__name__': '__main__'}"]
    for n, (line, code) in enumerate(python_blocks(page), 1):
        name = f"docs/{page.name}, block {n} (line {line})"
        lines.append(f"exec(compile({code!r}, {name!r}, 'exec'), ns)")
    script = tmp_path / "page.py"
    script.write_text("\n".join(lines) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENSORPLUG_")}
    env["MPLBACKEND"] = "Agg"
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, f"a code block of docs/{page.name} failed:\n{proc.stderr[-4000:]}"


@pytest.mark.slow
def test_sphinx_build_has_no_warnings(tmp_path):
    for mod in ("sphinx", "myst_parser"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{mod} is not installed (pip install -e '.[docs]')")
    out = tmp_path / "html"
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS),
                           str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    for page in ("index", "install", "checkpoints", "plugins", "api", "differences"):
        assert (out / f"{page}.html").exists()
    # the hook reference is generated from framework/hookspecs.py
    plugins = (out / "plugins.html").read_text(encoding="utf-8")
    assert "tensorplug_add_backends" in plugins and "BackendSpec" in plugins
    assert "DataLoader" in (out / "api.html").read_text(encoding="utf-8")
