"""F.layer_norm as one node (nn/_ops.py LayerNorm): values, gradients and double backward against torch,
half precision normalised in float32 as torch does."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug
import tensorplug.nn.functional as F
from torch_compare import assert_backward_matches

torch = pytest.importorskip("torch")


def _both(x, *extra):
    return ([tensorplug.tensor(a, requires_grad=True) for a in (x, *extra)],
            [torch.tensor(a, requires_grad=True) for a in (x, *extra)])


@pytest.mark.parametrize("affine", ["both", "weight", "none"])
@pytest.mark.parametrize("shape,normalized", [((4, 7), (7,)), ((2, 3, 4, 5), (4, 5)), ((6,), (6,))])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_layer_norm_and_its_gradients_match_torch(affine, shape, normalized, dtype):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    w = rng.standard_normal(normalized).astype(dtype)
    b = rng.standard_normal(normalized).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    extra = {"both": (w, b), "weight": (w,), "none": ()}[affine]
    ours, theirs = _both(x, *extra)
    a = F.layer_norm(ours[0], normalized, *ours[1:], eps=1e-5)
    t = torch.nn.functional.layer_norm(theirs[0], normalized, *theirs[1:], eps=1e-5)
    assert_backward_matches(a, t, ours, theirs, g, tol=1e-12 if dtype == "float64" else 1e-5)
    assert a.dtype == ours[0].dtype


def test_double_backward_matches_torch():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((3, 5)), rng.standard_normal(5), rng.standard_normal(5)
    ours, theirs = _both(x, w, b)
    grads = []
    for lib, (xx, ww, bb) in ((tensorplug, ours), (torch, theirs)):
        y = lib.nn.functional.layer_norm(xx, (5,), ww, bb)
        gx, gw = lib.autograd.grad((y * y * y).sum(), (xx, ww), create_graph=True)
        (gx.sum() + (gw * gw).sum()).backward()
        grads.append([gx.detach().numpy(), xx.grad.numpy(), ww.grad.numpy()])
    for a, t in zip(*grads):
        np.testing.assert_allclose(a, t, rtol=1e-10, atol=1e-12)


def test_half_is_normalised_in_float32():
    # values whose variance float16 arithmetic would lose: torch accumulates in float32
    x = (np.linspace(-1, 1, 64) * 0.01 + 300).astype("float16").reshape(2, 32)
    a = F.layer_norm(tensorplug.tensor(x), (32,))
    t = torch.nn.functional.layer_norm(torch.tensor(x), (32,))
    assert a.dtype == tensorplug.float16
    np.testing.assert_allclose(a.float().numpy(), t.float().numpy(), rtol=2e-3, atol=2e-3)
