"""Batch norm of float16 input: statistics in float32 as torch computes them (float16 sums of squares
overflow and lose the mean), the result and running statistics in float16."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")


def _run(m, x, training):
    bn = m.nn.BatchNorm1d(3).half()
    bn.train(training)
    xt = m.tensor(x, requires_grad=True)
    y = bn(xt)
    (y * m.arange(3, dtype=m.float16)).sum().backward()
    return [t.detach().float().numpy() for t in (y, bn.running_mean, bn.running_var, xt.grad)], y.dtype


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("center", [0.0, 1000.0])
def test_float16_batch_norm_matches_torch(center, training):
    x = np.random.default_rng(0).normal(center, 1, (64, 3)).astype(np.float16)
    got, got_dtype = _run(tp, x, training)
    want, want_dtype = _run(torch, x, training)
    assert got_dtype.name == "float16" and want_dtype == torch.float16
    for g, w, what in zip(got, want, ("output", "running_mean", "running_var", "grad")):
        # one float16 step of the largest value
        np.testing.assert_allclose(g, w, rtol=0, atol=2 ** -10 * max(1.0, np.abs(w).max()), err_msg=what)


def test_float16_batch_norm_of_large_values_is_finite():
    x = tp.tensor(np.random.default_rng(1).normal(0, 300, (256, 2)).astype(np.float16))
    y = tp.nn.functional.batch_norm(x, None, None, training=True)
    assert bool(tp.isfinite(y).all())
    np.testing.assert_allclose(y.float().numpy().std(0), 1.0, rtol=1e-2)
