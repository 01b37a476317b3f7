"""docs/plugins.md reads complete as Markdown: the hook reference and the example plugin's code are in the page."""
from __future__ import annotations

import inspect
import re
from pathlib import Path

from tensorplug import hookspecs

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "plugins.md"
EXAMPLE = ROOT / "examples" / "backend_plugin" / "tensorplug_example"
HEADING = re.compile(r"^### `(tensorplug_\w+)\(\)`[ \t]*$", re.M)


def hook_stubs():
    """The hooks of ``tensorplug.hookspecs``, in file order."""
    stubs = [f for name, f in vars(hookspecs).items() if name.startswith("tensorplug_") and callable(f)]
    return sorted(stubs, key=lambda f: f.__code__.co_firstlineno)


def as_markdown(docstring):
    """A hook's docstring as the page shows it: reST roles and literals as Markdown code."""
    text = inspect.cleandoc(docstring)
    text = re.sub(r":(?:class|mod|func):`~?([^`]+)`", r"`\1`", text)
    text = text.replace("``", "`").replace(":return:", "Returns:")
    return "\n".join(line.strip() for line in text.splitlines())


def _words(text):
    return " ".join(text.split())


def hook_sections():
    """``{hook name: its text}`` from the page's hook reference (one ``### `name()` `` heading each)."""
    text = PAGE.read_text(encoding="utf-8")
    reference = text.split("\n## Hook reference\n", 1)[1]
    reference = re.split(r"^## ", reference, flags=re.M)[0]
    parts = HEADING.split(reference)
    return {name: body for name, body in zip(parts[1::2], parts[2::2])}


def test_the_hook_reference_is_markdown_matching_hookspecs():
    stubs = hook_stubs()
    assert "tensorplug_add_process_groups" in [f.__name__ for f in stubs]
    sections = hook_sections()
    assert list(sections) == [f.__name__ for f in stubs], "the page lists other hooks than hookspecs.py"
    for stub in stubs:
        expected = _words(as_markdown(stub.__doc__))
        assert _words(sections[stub.__name__]) == expected, (
            f"docs/plugins.md, {stub.__name__}: the text differs from its docstring; it should read:\n\n"
            f"{as_markdown(stub.__doc__)}")
    assert "eval-rst" not in PAGE.read_text(encoding="utf-8"), "an {eval-rst} block shows nothing on GitHub"


def test_every_module_of_the_example_plugin_is_on_the_page():
    """The page says the example package is all shown there: each module is a block marked with its file name."""
    text = PAGE.read_text(encoding="utf-8")
    for path in sorted(EXAMPLE.glob("*.py")):
        marker = f"```python\n# {path.relative_to(ROOT).as_posix()}\n"
        assert marker in text, f"docs/plugins.md does not show {path.relative_to(ROOT)}"


def test_the_numpy_extension_section_shows_how_to_intercept_matmul_and_index():
    text = PAGE.read_text(encoding="utf-8")
    section = text.split("### Extending the NumPy backend", 1)[1].split("\n## ", 1)[0]
    assert "class CountingBackend(NumpyBackend)" in section and "def matmul(" in section
    assert "factory(index)" in section and "`index`" in section
