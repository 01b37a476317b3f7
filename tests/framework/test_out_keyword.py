"""torch's out= keyword on top-level functions: written, resized, cast and refused as torch does."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")

X = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)


@pytest.mark.parametrize("name, args", [
    ("exp", (X,)), ("tanh", (X,)), ("abs", (X,)), ("clamp", (X, -0.5, 0.5)), ("cumsum", (X, 1)),
    ("matmul", (X, X.T.copy())), ("mm", (X, X.T.copy())), ("maximum", (X, X * 0)), ("eq", (X, X)),
    ("amax", (X, 1)), ("argmax", (X, 1)), ("where", (X > 0, X, X * 0)), ("tril", (X,)), ("sub", (X, X)),
    ("mul", (X, X)), ("div", (X, X + 3)), ("pow", (X, 2)),
])
def test_out_matches_torch(name, args):
    results = []
    for lib in (tensorplug, torch):
        inputs = [lib.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
        expected = getattr(lib, name)(*inputs)
        out = lib.empty(0, dtype=expected.dtype)
        returned = getattr(lib, name)(*inputs, out=out)
        assert returned is out
        results.append(out.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


def test_out_resizes_with_torch_warning_casts_and_refuses_as_torch():
    for lib in (tensorplug, torch):
        a = lib.ones(2, 3)
        out = lib.empty(5)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.exp(a, out=out)
        assert tuple(out.shape) == (2, 3)
        assert any("An output with one or more elements was resized" in str(w.message) for w in caught)
        wide = lib.empty(2, 3, dtype=lib.float64)
        assert lib.exp(a, out=wide).dtype == lib.float64
        with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
            lib.exp(a, out=lib.empty(2, 3, dtype=lib.int64))
        with pytest.raises(RuntimeError, match="functions with out=... arguments don't support automatic "
                                               "differentiation"):
            lib.exp(a.requires_grad_(), out=lib.empty(2, 3))


def test_out_tuple_for_sort_and_topk():
    for lib in (tensorplug, torch):
        values, indices = lib.empty(0), lib.empty(0, dtype=lib.int64)
        returned = lib.sort(lib.tensor([3.0, 1.0, 2.0]), out=(values, indices))
        assert values.tolist() == [1.0, 2.0, 3.0] and indices.tolist() == [1, 2, 0]
        assert returned.values is values and returned.indices is indices
