"""The portability gate: the frontend computes only through backends.

THE RULE (checked on the source, with the ast module):

* nothing under ``framework/`` imports ``cupy`` or ``cupyx``, anywhere;
* ``numpy`` may be imported only
  - inside functions (never at module level) of ``framework/backend.py``: the
    ArrayAPIBackend defaults that fall back to the host for what a library lacks;
  - inside functions of ``framework/serialization/``: checkpoints are bytes on
    disk, and NumPy turns host bytes into arrays (I/O, not math);
  - in ``framework/testing/``: the conformance kit uses NumPy as its reference;
* ``import tensorplug`` imports neither numpy nor cupy (backends load on first use).

Plus the test-only array_api_strict backend: a real ArrayAPIBackend subclass
that overrides only host conversion, pinned to one standard version, and that
never mixes with the NumPy backend.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

import tensorplug

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FRAMEWORK = os.path.join(ROOT, "framework")
HOST_IO = {"backend.py", "serialization"}  # numpy inside functions only (a file, or a package)
FORBIDDEN = {"cupy", "cupyx"}


def _imports(tree):
    """(module name, lineno, at module level?) for every import, also import_module/__import__ of a literal."""
    found = []
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node

    def top_level(node):
        while node in parents:
            node = parents[node]
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                return False
        return True

    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")):
            names = [node.args[0].value]
        for name in names:
            found.append((name.split(".")[0], node.lineno, top_level(node)))
    return found


def _violations():
    bad = []
    for folder, _, files in os.walk(FRAMEWORK):
        rel_folder = os.path.relpath(folder, FRAMEWORK)
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            rel = os.path.normpath(os.path.join(rel_folder, name))
            tree = ast.parse(open(path, encoding="utf-8").read(), path)
            for module, line, top in _imports(tree):
                where = f"framework/{rel}:{line}"
                if module in FORBIDDEN:
                    bad.append(f"{where} imports {module}: the frontend must not name a backend library")
                elif module == "numpy":
                    if rel.split(os.sep)[0] == "testing":
                        continue
                    if (rel in HOST_IO or rel.split(os.sep)[0] in HOST_IO) and not top:
                        continue
                    bad.append(f"{where} imports numpy: compute through x._backend.xp / backend methods "
                               f"(numpy is allowed only inside functions of {sorted(HOST_IO)} and in testing/)")
    return bad


def test_frontend_does_not_import_numpy_or_cupy_to_compute():
    assert _violations() == []


def test_the_rule_catches_a_violation(tmp_path):
    tree = ast.parse("import numpy as np\nfrom cupy import ndarray\ndef f():\n    import numpy\n"
                     "import importlib\nimportlib.import_module('cupyx.scipy')\n")
    got = [(m, line, top) for m, line, top in _imports(tree)]
    assert ("numpy", 1, True) in got and ("cupy", 2, True) in got
    assert ("numpy", 4, False) in got and ("cupyx", 6, True) in got


def test_import_tensorplug_imports_no_array_library():
    code = ("import sys, tensorplug, tensorplug.cuda\n"
            "tensorplug.cuda.is_available()\n"
            "print(sorted(m for m in ('numpy', 'cupy', 'array_api_strict') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={k: v for k, v in os.environ.items() if not k.startswith("TENSORPLUG_")})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout


# the test-only array_api_strict backend --------------------------------------------

def _strict():
    pytest.importorskip("array_api_strict")
    from strict_backend import ensure_registered
    assert ensure_registered()
    return tensorplug.get_backend("array_api_strict")


def test_strict_backend_is_a_plain_array_api_backend():
    import array_api_strict
    b = _strict()
    assert isinstance(b, tensorplug.ArrayAPIBackend) and b.xp is array_api_strict
    assert array_api_strict.get_array_api_strict_flags()["api_version"] == "2024.12"
    own = {n for n, v in vars(type(b)).items() if callable(v) and not n.startswith("__")}
    assert own == {"to_numpy", "from_numpy"}, f"the strict backend may override only host conversion, not {own}"


def test_mixing_numpy_and_strict_tensors_raises_torch_error():
    b = _strict()
    a = tensorplug.ones(3)
    s = tensorplug.ones(3, device=b)
    assert s._backend is b and a._backend is not b
    for op in (lambda: a + s, lambda: s * a, lambda: tensorplug.matmul(a, s), lambda: a.add_(s)):
        with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
            op()


def test_indexing_with_strict_index_tensor_refused():
    b = _strict()
    x = tensorplug.ones(4, device=b)
    with pytest.raises(RuntimeError, match="indices should be either on cpu or on the same device"):
        x[tensorplug.tensor([0, 1])]


def test_move_between_numpy_and_strict_keeps_values_and_grad():
    b = _strict()
    a = tensorplug.tensor([1.0, 2.0, 3.0], requires_grad=True)
    s = a.to(b)
    assert s._backend is b and s.tolist() == [1.0, 2.0, 3.0]
    (s * 2).sum().backward()
    assert a.grad.tolist() == [2.0, 2.0, 2.0]
    assert s.to("numpy")._backend is a._backend


@pytest.mark.parametrize("text, kind, index", [("cpu", "cpu", None), ("cuda", "cuda", None), ("cuda:1", "cuda", 1),
                                                ("cuda:0", "cuda", 0)])
def test_device_parsing(text, kind, index):
    d = tensorplug.device(text)
    assert (d.type, d.index) == (kind, index) and str(d) == text
    assert tensorplug.device(kind, index) == d == text


@pytest.mark.parametrize("bad", ["cuda:x", "cuda:-1", "", "cu da"])
def test_device_parsing_errors(bad):
    with pytest.raises(RuntimeError):
        tensorplug.device(bad)
