"""Values and gradients at the special points torch handles on purpose: zero norms, constant slices,
ties at a clamp bound, NaN in maximum, infinities in lerp and logaddexp."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")

INF, NAN = float("inf"), float("nan")
ZEROS = np.zeros((2, 3))
ROWS = np.array([[0.0, 0.0, 0.0], [1.5, 1.5, 1.5], [0.0, 2.0, -1.0], [1e-9, 1e-9, -1e-9]])
PAIRS = np.array(list(itertools.product([INF, -INF, NAN, 0.0, 1.5, -2.0], repeat=2)))
CASES = {
    # (fn(module, *tensors), arrays)
    "std_constant_rows": (lambda m, x: x.std(1), (ROWS,)),
    "std_all": (lambda m, x: x[1].std(), (ROWS,)),
    "std_mean": (lambda m, x: m.std_mean(x, 1)[0], (ROWS,)),
    "norm_p3": (lambda m, x: x.norm(3, dim=1), (ROWS,)),
    "norm_p0.5": (lambda m, x: x.norm(0.5, dim=1), (ROWS,)),
    "norm_p-1": (lambda m, x: x.norm(-1, dim=1), (ROWS,)),
    "norm_p3_all": (lambda m, x: x.norm(3), (ZEROS,)),
    "cosine_zero": (lambda m, a, b: m.nn.functional.cosine_similarity(a, b), (ROWS, ROWS[::-1].copy())),
    "cosine_broadcast": (lambda m, a, b: m.nn.functional.cosine_similarity(a, b), (ROWS[:1], ROWS)),
    "normalize_zero": (lambda m, x: m.nn.functional.normalize(x, dim=1), (ROWS,)),
    "normalize_p3": (lambda m, x: m.nn.functional.normalize(x, p=3, dim=1), (ROWS,)),
    "lerp_scalar_low": (lambda m, x: m.lerp(x[:, 0], x[:, 1], 0.3), (PAIRS,)),
    "lerp_scalar_high": (lambda m, x: m.lerp(x[:, 0], x[:, 1], 0.7), (PAIRS,)),
    "lerp_tensor": (lambda m, x: m.lerp(x[:, 0], x[:, 1], m.full((len(PAIRS),), 0.8, dtype=x.dtype)), (PAIRS,)),
    "logaddexp": (lambda m, x: m.logaddexp(x[:, 0], x[:, 1]), (PAIRS,)),
    "maximum": (lambda m, x: m.maximum(x[:, 0], x[:, 1]), (PAIRS,)),
    "minimum": (lambda m, x: m.minimum(x[:, 0], x[:, 1]), (PAIRS,)),
    "clamp_tensor_min": (lambda m, x: m.clamp(x[:, 0], min=x[:, 1]), (PAIRS,)),
    "clamp_tensor_max": (lambda m, x: m.clamp(x[:, 0], max=x[:, 1]), (PAIRS,)),
    "clamp_tensor_both": (lambda m, x, lo: m.clamp(x, min=lo, max=lo + 1), (ROWS, np.array([0.0, 1.5, 0.5]))),
    "clamp_none_and_tensor": (lambda m, x, hi: m.clamp(x, min=None, max=hi), (ROWS, np.array([0.0, 1.5, 0.5]))),
}


def _run(m, name):
    fn, arrays = CASES[name]
    xs = [m.tensor(a, requires_grad=True) for a in arrays]
    y = fn(m, *xs)
    (y * (1 + m.arange(y.numel(), dtype=y.dtype).reshape(y.shape))).sum().backward()
    return [y.detach().numpy()] + [x.grad.numpy() for x in xs]


@pytest.mark.parametrize("name", CASES)
def test_values_and_gradients_match_torch(name):
    for got, want in zip(_run(tp, name), _run(torch, name)):
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-12, equal_nan=True)
