"""No function in the shipped code (framework/, backends/, plugins/) is longer than 80 lines: one that is
has more than one job and reads better split (issue 17; benchmarks/ and examples/ are not shipped)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREES = ("framework", "backends", "plugins")
LIMIT = 80


def _functions(path):
    """``(qualified name, first line, line count)`` of every function in ``path``, nested ones included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                yield name, child.lineno, child.end_lineno - child.lineno + 1
                yield from walk(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, prefix + child.name + ".")
            else:
                yield from walk(child, prefix)

    yield from walk(tree, "")


def test_no_function_is_longer_than_80_lines():
    too_long = []
    for tree in TREES:
        for path in sorted((ROOT / tree).rglob("*.py")):
            for name, line, length in _functions(path):
                if length > LIMIT:
                    too_long.append(f"{path.relative_to(ROOT)}:{line} {name} ({length} lines)")
    assert not too_long, f"functions over {LIMIT} lines; split them:\n" + "\n".join(too_long)
