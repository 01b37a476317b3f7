"""The test tree itself: pytest's default import mode needs unique test-module names."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).parent


def test_test_module_names_are_unique_outside_packages():
    seen = defaultdict(list)
    for path in TESTS.rglob("test_*.py"):
        if "fixtures" in path.parts or (path.parent / "__init__.py").exists():
            continue
        seen[path.name].append(str(path.relative_to(TESTS)))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not clashes, f"rename one of each (pytest stops collecting on these): {clashes}"
