"""linalg.householder_product (torch.orgqr, Tensor.orgqr), linalg.tensorinv and linalg.tensorsolve against
torch: values, dtypes, gradients and errors."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp
from torch_compare import assert_same_error

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(11)


def _complex(*shape):
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


CASES = {
    "householder_batched": (lambda m, a, t: m.linalg.householder_product(a, t),
                            [RNG.standard_normal((2, 5, 3)), RNG.standard_normal((2, 2))]),
    "householder_square": (lambda m, a, t: m.linalg.householder_product(a, t),
                           [RNG.standard_normal((4, 4)), RNG.standard_normal(4)]),
    "householder_complex": (lambda m, a, t: m.linalg.householder_product(a, t), [_complex(5, 3), _complex(3)]),
    "householder_no_reflectors": (lambda m, a, t: m.linalg.householder_product(a, t),
                                  [RNG.standard_normal((3, 2)), np.zeros(0)]),
    "orgqr": (lambda m, a, t: m.orgqr(a, t), [RNG.standard_normal((5, 3)), RNG.standard_normal(3)]),
    "orgqr_method": (lambda m, a, t: a.orgqr(t), [RNG.standard_normal((5, 3)), RNG.standard_normal(2)]),
    "tensorinv": (lambda m, a: m.linalg.tensorinv(a), [RNG.standard_normal((4, 6, 8, 3))]),
    "tensorinv_ind1": (lambda m, a: m.linalg.tensorinv(a, ind=1), [RNG.standard_normal((6, 2, 3))]),
    "tensorinv_complex": (lambda m, a: m.linalg.tensorinv(a, 1), [_complex(4, 2, 2)]),
    "tensorsolve": (lambda m, a, b: m.linalg.tensorsolve(a, b), [RNG.standard_normal((2, 3, 6)),
                                                                RNG.standard_normal((2, 3))]),
    "tensorsolve_dims": (lambda m, a, b: m.linalg.tensorsolve(a, b, dims=(-4, 1)),
                         [RNG.standard_normal((3, 2, 2, 3)), RNG.standard_normal((2, 3))]),
    "tensorsolve_float32": (lambda m, a, b: m.linalg.tensorsolve(a, b),
                            [RNG.standard_normal((6, 2, 3)).astype(np.float32), RNG.standard_normal(6).astype(
                                np.float32)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients_like_torch(name):
    fn, arrays = CASES[name]
    results = []
    for m in (tp, torch):
        xs = [m.tensor(a, requires_grad=True) for a in arrays]
        out = fn(m, *xs)
        weight = m.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)) * (1 - 0.3j if out.is_complex()
                                                                                       else 1), dtype=out.dtype)
        loss = (out * weight).real.sum() if out.is_complex() else (out * weight).sum()
        loss.backward()
        # (torch's householder_product with no reflectors leaves the gradients None; ours are zeros)
        grads = [np.zeros(x.shape) if x.grad is None else x.grad.numpy() for x in xs]
        results.append((out.detach().numpy(), grads, str(out.dtype), tuple(out.shape)))
    (a, ga, da, sa), (b, gb, db, sb) = results
    assert da.split(".")[-1] == db.split(".")[-1] and sa == sb
    tol = 1e-4 if a.dtype == np.float32 else 1e-10
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    for x, y in zip(ga, gb):
        np.testing.assert_allclose(x, y, rtol=tol, atol=tol)


@pytest.mark.parametrize("call", [
    lambda m: m.linalg.householder_product(m.ones(3), m.ones(1)),
    lambda m: m.linalg.householder_product(m.ones(3, 4), m.ones(2)),
    lambda m: m.linalg.householder_product(m.ones(4, 3), m.ones(4)),
    lambda m: m.linalg.householder_product(m.ones(4, 3), m.ones(2, 2)),
    lambda m: m.linalg.householder_product(m.ones(2, 4, 3), m.ones(3, 2)),
    lambda m: m.linalg.householder_product(m.ones(4, 3), m.ones(())),
    lambda m: m.linalg.householder_product(m.ones(4, 3, dtype=m.int64), m.ones(2, dtype=m.int64)),
    lambda m: m.linalg.householder_product(m.ones(4, 3, dtype=m.float16), m.ones(2, dtype=m.float16)),
    lambda m: m.linalg.tensorinv(m.ones(4, 6, 8, 3), ind=0),
    lambda m: m.linalg.tensorinv(m.ones(4, 6, 8, 2)),
    lambda m: m.linalg.tensorinv(m.ones(2, 2, 4), ind=1),
    lambda m: m.linalg.tensorinv(m.ones(2, 3, 6, dtype=m.int64), 1),
    lambda m: m.linalg.tensorsolve(m.ones(2, 3, 5), m.ones(2, 3)),
    lambda m: m.linalg.tensorsolve(m.ones(6, 4, 3, 2), m.ones(6, 4), dims=(0,)),
    lambda m: m.linalg.tensorsolve(m.ones(2, 3, 6, dtype=m.int64), m.ones(2, 3, dtype=m.int64)),
])
def test_errors_like_torch(call):
    assert_same_error(call)


def test_tau_of_another_dtype_is_torchs_error():
    for m in (tp, torch):
        with pytest.raises(RuntimeError, match="tau dtype Double does not match input dtype Float"):
            m.linalg.householder_product(m.ones(4, 3), m.ones(2, dtype=m.float64))


def test_singular_input_is_a_linalg_error():
    with pytest.raises(tp.linalg.LinAlgError):
        tp.linalg.tensorinv(tp.zeros(4, 2, 2), ind=1)
    with pytest.raises(tp.linalg.LinAlgError):
        tp.linalg.tensorsolve(tp.zeros(2, 3, 6), tp.ones(2, 3))
