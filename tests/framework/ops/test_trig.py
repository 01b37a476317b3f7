"""Hyperbolic/inverse trig, log2/log10/exp2, isnan/isinf/isfinite, isclose/allclose/equal — against torch."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

from ._compare import same

X = np.array([-0.9, -0.3, 0.0, 0.4, 0.8])


@pytest.mark.parametrize("name", ["sinh", "cosh", "asin", "acos", "atan", "exp2"])
def test_against_torch(name):
    same(lambda m, x: (getattr(m, name)(x), getattr(x, name)()), X)


def test_logs_and_atan2():
    same(lambda m, x, y: (m.log2(x), x.log10(), m.atan2(x, y), y.atan2(x)), np.abs(X) + 0.5, X[::-1].copy())


def test_float_tests_and_closeness():
    v = np.array([1.0, np.nan, np.inf, -np.inf, 0.0])
    same(lambda m, x: (m.isnan(x), x.isinf(), m.isfinite(x), m.isclose(x, x), m.isclose(x, x, equal_nan=True),
                       m.isclose(x, x + 1e-9)), v, grad=False)
    same(lambda m, x: (m.isnan(x), m.isfinite(x)), np.array([1, 2]), grad=False)
    a = tp.tensor([1.0, 2.0])
    assert tp.allclose(a, a + 1e-9) and not tp.allclose(a, a + 1)
    assert tp.equal(a, a.clone()) and not tp.equal(a, a[:1]) and a.equal(a)


def test_equal_matches_torch(backend):
    torch = pytest.importorskip("torch")
    cases = [([1, 2], [1.0, 2.0]), ([1.0, 2.0], [[1.0, 2.0]]), ([float("nan")], [float("nan")]), ([True], [1]),
             ([], []), ([1.0, 2.0], [1.0, 2.5]), ([[1, 2], [3, 4]], [[1, 2], [3, 4]])]
    for a, b in cases:
        got = tp.equal(tp.tensor(a), tp.tensor(b))
        assert type(got) is bool and got == torch.equal(torch.tensor(a), torch.tensor(b)), (a, b)
    x = tp.arange(6.0).reshape(2, 3)
    assert x.t().equal(x.t().contiguous()) and not x.equal(x.t())
    with pytest.raises(TypeError, match="must be Tensor, not list"):
        tp.equal(x, [1.0])
