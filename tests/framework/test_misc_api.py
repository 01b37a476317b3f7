"""Smaller torch APIs: meshgrid, cartesian_prod, tri indices, diag_embed, trace, kron, logit, xlogy, sinc,
nan_to_num, tensorplug.linalg norms, padding/distance layers and PReLU -- values and gradients against torch."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")

R = np.random.default_rng(0)
X = R.standard_normal((2, 3))
V = R.standard_normal(4)
P = np.array([0.2, 0.5, 0.9])


def _compare(make, inputs, grad=True):
    ours_in = [tensorplug.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in inputs]
    theirs_in = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in inputs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = make(tensorplug, *ours_in), make(torch, *theirs_in)
    a = a if isinstance(a, tuple) else (a,)
    b = b if isinstance(b, tuple) else (b,)
    for x, y in zip(a, b):
        assert tuple(x.shape) == tuple(y.shape)
        assert str(x.dtype).split(".")[-1] == str(y.dtype).split(".")[-1]
        np.testing.assert_allclose(x.detach().numpy(), y.detach().numpy(), atol=1e-12, equal_nan=True)
    if grad and any(t.requires_grad for t in ours_in):
        sum(((x.float() if not x.is_floating_point() else x) ** 2).sum() for x in a).backward()
        sum(((y.float() if not y.is_floating_point() else y) ** 2).sum() for y in b).backward()
        for t, u in zip(ours_in, theirs_in):
            if t.requires_grad:
                np.testing.assert_allclose(t.grad.numpy(), u.grad.numpy(), atol=1e-10)


CASES = [
    (lambda m, a, b: m.meshgrid(a, b, indexing="ij"), [V[:2], V[:3]]),
    (lambda m, a, b: m.meshgrid(a, b, indexing="xy"), [V[:2], V[:3]]),
    (lambda m, a, b: m.cartesian_prod(a, b), [V[:2], V[:3]]),
    (lambda m, a: m.diag_embed(a), [X]),
    (lambda m, a: m.diag_embed(a, offset=1), [V]),
    (lambda m, a: m.diag_embed(a, offset=-2), [V]),
    (lambda m, a: m.trace(a), [X]),
    (lambda m, a, b: m.kron(a, b), [X, V[:2].reshape(1, 2)]),
    (lambda m, a: m.logit(a), [P]),
    (lambda m, a: m.logit(a, eps=0.25), [P]),
    (lambda m, a, b: m.xlogy(a, b), [np.array([0.0, 1.0, 2.0]), np.array([0.5, 2.0, 3.0])]),
    (lambda m, a: m.sinc(a), [np.array([0.0, 0.5, 1.5, -2.0])]),
    (lambda m, a: m.nan_to_num(a, nan=2.0, posinf=9.0, neginf=-3.0), [np.array([math.nan, math.inf, -math.inf, 1.0])]),
    (lambda m, a: m.linalg.norm(a), [X]),
    (lambda m, a: m.linalg.norm(a, dim=1), [X]),
    (lambda m, a: m.linalg.vector_norm(a, 1, dim=-1), [X]),
    (lambda m, a: m.linalg.matrix_norm(a), [X]),
    (lambda m, a: m.linalg.matrix_norm(a, math.inf), [X]),
    (lambda m, a: m.linalg.norm(a, ord=-1, dim=(-2, -1)), [X]),
    (lambda m, a: m.nn.ZeroPad2d((1, 0, 2, 1))(a), [X.reshape(1, 1, 2, 3)]),
    (lambda m, a: m.nn.ConstantPad1d(2, 3.5)(a), [X.reshape(1, 2, 3)]),
    (lambda m, a: m.nn.ReflectionPad2d(1)(a), [R.standard_normal((1, 2, 3, 4))]),
    (lambda m, a: m.nn.ReplicationPad1d((2, 1))(a), [X.reshape(1, 2, 3)]),
    (lambda m, a, b: m.nn.CosineSimilarity(dim=1)(a, b), [X, X[::-1].copy()]),
    (lambda m, a, b: m.nn.PairwiseDistance()(a, b), [X, X[::-1].copy()]),
]


@pytest.mark.parametrize("make, inputs", CASES)
def test_matches_torch(make, inputs):
    _compare(make, inputs)


def test_edge_values_match_torch():
    # values only: at these points torch's gradients are 0 * inf = nan artefacts
    _compare(lambda m, a: m.nan_to_num(a), [np.array([math.nan, math.inf, -math.inf, 1.0])], grad=False)
    _compare(lambda m, a, b: m.xlogy(a, b), [np.array([0.0, 0.0, 2.0]), np.array([0.0, math.nan, 3.0])],
             grad=False)


def test_tri_indices_and_integer_cartesian_prod():
    for make in (lambda m: m.tril_indices(3, 4, 1), lambda m: m.triu_indices(4, 3, -1),
                 lambda m: m.cartesian_prod(m.tensor([1, 2]), m.tensor([3, 4, 5]))):
        a, b = make(tensorplug), make(torch)
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_prelu_matches_torch():
    x0 = R.standard_normal((2, 3, 4))
    for n in (1, 3):
        ours, theirs = tensorplug.nn.PReLU(n).double(), torch.nn.PReLU(n).double()
        assert repr(ours) == repr(theirs)
        x, tx = tensorplug.tensor(x0, requires_grad=True), torch.tensor(x0, requires_grad=True)
        (ours(x) ** 2).sum().backward()
        (theirs(tx) ** 2).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-12)
        np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), atol=1e-12)
    for lib in (tensorplug, torch):
        with pytest.raises(RuntimeError, match="Mismatch of parameter numbers and input channel size"):
            lib.nn.PReLU(4)(lib.zeros(2, 3))
