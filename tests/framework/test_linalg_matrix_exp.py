"""torch.matrix_exp / Tensor.matrix_exp / linalg.matrix_exp against torch: values, torch's node, gradients of
real and complex matrices (torch's block-matrix formula) and their second derivatives."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(3)
REAL = RNG.standard_normal((2, 4, 4))
COMPLEX = REAL + 1j * RNG.standard_normal((2, 4, 4))
CALLS = [lambda m, a: m.matrix_exp(a), lambda m, a: a.matrix_exp(), lambda m, a: m.linalg.matrix_exp(a)]


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("array", [REAL, COMPLEX, 3 * REAL[0], np.zeros((3, 0, 0))], ids=["real", "complex",
                                                                                           "scaled", "empty"])
def test_values_and_gradients_like_torch(call, array):
    results = []
    for m in (tp, torch):
        a = m.tensor(array, requires_grad=True)
        out = call(m, a)
        weight = m.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)) * (1 - 0.5j if
                                                                                   np.iscomplexobj(array) else 1))
        (out * weight).real.sum().backward() if out.is_complex() else (out * weight).sum().backward()
        results.append((out.detach().numpy(), a.grad.numpy(), type(out.grad_fn).__name__, str(out.dtype)))
    (a, ga, na, da), (b, gb, nb, db) = results
    assert na == nb and da.split(".")[-1] == db.split(".")[-1]
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ga, gb, rtol=1e-9, atol=1e-11)


def test_second_derivative_like_torch():
    grads = []
    for m in (tp, torch):
        a = m.tensor(REAL[0] / 2, requires_grad=True)
        g, = m.autograd.grad(m.matrix_exp(a).sin().sum(), a, create_graph=True)
        gg, = m.autograd.grad((g * g).sum(), a)
        grads.append(gg.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-9, atol=1e-11)


def test_gradgradcheck():
    a = tp.tensor(REAL[:, :3, :3] / 2, requires_grad=True)
    assert tp.autograd.gradcheck(tp.matrix_exp, (a,))
    assert tp.autograd.gradgradcheck(tp.matrix_exp, (a,))


@pytest.mark.parametrize("call", [
    lambda m: m.matrix_exp(m.ones(2, 3)), lambda m: m.matrix_exp(m.ones(3)),
    lambda m: m.matrix_exp(m.ones(2, 2, dtype=m.int64)),
])
def test_errors_like_torch(call):
    with pytest.raises(RuntimeError) as want:
        call(torch)
    with pytest.raises(RuntimeError) as got:
        call(tp)
    assert str(want.value).split(" Got ")[0].split(", but ")[0] in str(got.value)
