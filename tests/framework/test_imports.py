"""``import tensorplug`` is cheap and the frontend never computes with numpy/cupy by name."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

FRAMEWORK = Path(__file__).resolve().parents[2] / "framework"

# files allowed to import numpy, and why (each a host-side helper, not the math of an op)
ALLOWED_NUMPY = {
    "backend.py": "ArrayAPIBackend's documented host fallbacks (RNG, scatter-add) for backends without them",
    "serialization/": "bytes <-> host arrays for checkpoint I/O",
    "testing/": "the conformance kit: NumPy is its reference, it computes nothing for users",
}


def _run(code):
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_import_loads_no_backend_library_and_no_plugins():
    out = _run(
        "import sys, tensorplug\n"
        "heavy = [m for m in ('numpy', 'cupy', 'torch', 'array_api_strict', 'scipy', 'importlib.metadata',"
        " 'tensorplug_numpy', 'tensorplug_cupy', 'tensorplug_extras') if m in sys.modules]\n"
        "print(heavy, tensorplug.registry.REGISTRY.manager is None)\n")
    assert out.strip() == "[] True"


def test_numpy_arrives_with_the_first_tensor_only():
    out = _run(
        "import sys, tensorplug\n"
        "a = 'numpy' in sys.modules\n"
        "tensorplug.float32; tensorplug.device('cpu'); tensorplug.Size([2])\n"
        "b = 'numpy' in sys.modules\n"
        "tensorplug.ones(2)\n"
        "print(a, b, 'numpy' in sys.modules, 'cupy' in sys.modules)\n")
    assert out.strip() == "False False True False"


@pytest.mark.parametrize("module", ["tensorplug.nn", "tensorplug.optim", "tensorplug.utils", "tensorplug.autograd",
                                    "tensorplug.ops", "tensorplug.__main__"])
def test_submodules_import_without_numpy(module):
    out = _run(f"import sys, importlib; importlib.import_module({module!r}); print('numpy' in sys.modules)")
    assert out.strip() == "False", f"importing {module} imported numpy"


def test_frontend_does_not_import_numpy_or_cupy():
    pattern = re.compile(r"^\s*(?:import|from)\s+(numpy|cupy)\b", re.M)
    offenders = []
    for path in FRAMEWORK.rglob("*.py"):
        rel = path.relative_to(FRAMEWORK).as_posix()
        for match in pattern.finditer(path.read_text()):
            allowed = rel in ALLOWED_NUMPY or any(rel.startswith(d) for d in ALLOWED_NUMPY if d.endswith("/"))
            if match.group(1) == "cupy" or not allowed:
                line = path.read_text()[:match.start()].count("\n") + 1
                offenders.append(f"framework/{rel}:{line}: {match.group(0).strip()}")
    assert not offenders, "the frontend must compute through the backend (x._backend.xp):\n" + "\n".join(offenders)


def test_public_names_exist():
    import tensorplug
    for name in ("tensor", "Tensor", "zeros", "ones", "empty", "full", "eye", "arange", "linspace", "rand",
                 "randn", "randint", "randperm", "zeros_like", "ones_like", "full_like", "rand_like",
                 "randn_like", "empty_like", "randint_like", "from_numpy", "manual_seed", "device", "dtype",
                 "float32", "float64", "int64", "bool", "FloatTensor", "LongTensor", "Size", "no_grad",
                 "use_backend", "get_backend", "hookimpl", "BackendSpec", "ArrayAPIBackend",
                 "OutOfMemoryError", "promote_types", "set_default_dtype", "get_default_dtype"):
        assert hasattr(tensorplug, name), name
    with pytest.raises(AttributeError, match="has no attribute 'nonexistent_thing'"):
        tensorplug.nonexistent_thing
