"""binary_cross_entropy's gradient w.r.t. the target is torch's -logit(x) * g: infinite where the input is
0 or 1 (it was clamped to +-100 like the forward's logs), every reduction and weight."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)
X = np.concatenate([[0.0, 1.0, 0.5, 1e-30], rng.uniform(0, 1, 60)])
T = rng.uniform(0, 1, X.shape)
W = rng.uniform(0, 2, X.shape)
G = rng.standard_normal(X.shape)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_the_target_gradient_is_torchs(reduction, weighted, dtype):
    grads = []
    for m in (torch, tp):
        x = m.tensor(X, dtype=getattr(m, dtype), requires_grad=True)
        t = m.tensor(T, dtype=getattr(m, dtype), requires_grad=True)
        weight = m.tensor(W, dtype=getattr(m, dtype)) if weighted else None
        loss = m.nn.functional.binary_cross_entropy(x, t, weight=weight, reduction=reduction)
        (loss * m.tensor(G, dtype=getattr(m, dtype)) if reduction == "none" else loss * 1.5).sum().backward()
        grads.append(t.grad.numpy())
    theirs, ours = grads
    assert np.array_equal(np.isinf(ours), np.isinf(theirs)) and np.array_equal(np.sign(ours), np.sign(theirs))
    finite = np.isfinite(theirs)
    np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-6 if dtype == "float32" else 1e-13)
