"""linalg.matrix_norm / norm / vector_norm / cond and torch.dist against torch: values, gradients under a random
upstream gradient, dtypes and errors, on every backend."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")

MATRIX_ORDS = ["fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf]
VECTOR_ORDS = [2, 1, 0, 3, 0.5, -1, -0.5, math.inf, -math.inf]


def _both(shapes, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    return ([tensorplug.tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays], rng)


def _check(fn, shapes, seed=0, atol=1e-10):
    """Same value, dtype and (for a random upstream gradient) the same input gradients as torch."""
    ours, theirs, rng = _both(shapes, seed)
    a, b = fn(tensorplug, *ours), fn(torch, *theirs)
    assert a.dtype.name == str(b.dtype).split(".")[-1]
    assert tuple(a.shape) == tuple(b.shape)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=atol)
    if not b.requires_grad:
        return
    g = rng.standard_normal(tuple(b.shape))
    b.backward(torch.tensor(g))
    a.backward(tensorplug.tensor(g, dtype=a.dtype))
    for x, t in zip(ours, theirs):
        if t.grad is None:
            assert x.grad is None
        else:
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=atol)


@pytest.mark.parametrize("ord", MATRIX_ORDS, ids=str)
@pytest.mark.parametrize("dim, keepdim", [((-2, -1), False), ((0, 2), True), ((2, 0), False), ((1, 0), True)])
def test_matrix_norm_matches_torch(backend, ord, dim, keepdim):
    _check(lambda m, A: m.linalg.matrix_norm(A, ord, dim, keepdim), [(2, 3, 4)])


@pytest.mark.parametrize("ord", MATRIX_ORDS + [None], ids=str)
def test_norm_of_a_matrix_matches_torch(ord):
    _check(lambda m, A: m.linalg.norm(A, ord), [(4, 3)], seed=1)
    _check(lambda m, A: m.linalg.norm(A, ord, dim=(2, 0)), [(4, 2, 3)], seed=2)


@pytest.mark.parametrize("ord", VECTOR_ORDS, ids=str)
@pytest.mark.parametrize("dim", [None, 1, (0, 2)])
def test_vector_norm_matches_torch(ord, dim):
    _check(lambda m, x: m.linalg.vector_norm(x, ord, dim), [(3, 4, 2)], seed=3)


def test_vector_norm_0_records_a_node_that_reaches_nothing():
    _check(lambda m, x: m.linalg.vector_norm(x, 0), [(3, 4)])
    _check(lambda m, x: m.linalg.vector_norm(x, 0) + x.sum(), [(3, 4)])


@pytest.mark.parametrize("p", [2, 1, 3, math.inf, -math.inf, 0.5])
def test_dist_matches_torch(p):
    _check(lambda m, a, b: m.dist(a, b, p), [(3, 4), (4,)], seed=4)
    _check(lambda m, a, b: a.dist(b, p), [(2, 1), (3,)], seed=5)


def test_dist_promotes_like_torch():
    for lib in (tensorplug, torch):
        assert str(lib.dist(lib.ones(3), lib.zeros(3, dtype=lib.float64)).dtype).endswith("float64")


@pytest.mark.parametrize("p", [None, 2, -2, "fro", "nuc", 1, -1, math.inf, -math.inf], ids=str)
def test_cond_matches_torch(p):
    ours, theirs, _ = _both([(2, 3, 3)], 6)
    a, b = tensorplug.linalg.cond(ours[0], p), torch.linalg.cond(theirs[0], p)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10)
    if p in (None, 2, -2):  # torch's backward for the other orders fails (it writes into inv's output)
        _check(lambda m, A: m.linalg.cond(A, p), [(2, 3, 3)], seed=6)


def test_float32_two_norm_keeps_float32():
    _check(lambda m, A: m.linalg.matrix_norm(A.float(), 2), [(3, 3)], atol=1e-5)
    _check(lambda m, A: m.linalg.matrix_norm(A.float(), "nuc", dtype=m.float64), [(3, 3)], atol=1e-5)


def test_norms_of_empty_matrices_are_zero():
    for ord in ["fro", "nuc", 2, 1, math.inf]:
        for shape in [(0, 3), (3, 0), (2, 0, 0)]:
            _check(lambda m, A: m.linalg.matrix_norm(A, ord), [shape])


@pytest.mark.parametrize("call, exc, phrase", [
    (lambda m, A: m.linalg.matrix_norm(A, 3), RuntimeError, "linalg.matrix_norm: Order 3 not supported."),
    (lambda m, A: m.linalg.matrix_norm(A, "abc"), RuntimeError, "linalg.matrix_norm: Order abc not supported."),
    (lambda m, A: m.linalg.matrix_norm(A, dim=(1, -2)), RuntimeError, r"dims must be different. Got \(1, 1\)"),
    (lambda m, A: m.linalg.norm(A[0], "fro", dim=1), RuntimeError, "dim must be a 2-tuple. Got 1"),
    (lambda m, A: m.linalg.matrix_norm(A[0, 0], 2), RuntimeError, "must have at least 2 dimensions"),
    (lambda m, A: m.linalg.matrix_norm(A.long()), RuntimeError,
     "Expected a floating point or complex tensor as input. Got Long"),
    (lambda m, A: m.linalg.matrix_norm(A.half(), 2, dtype=m.float32), RuntimeError,
     "Low precision dtypes not supported. Got Half"),
    (lambda m, A: m.linalg.vector_norm(A, "fro"), TypeError, "argument 'ord' .* must be Number, not str"),
    (lambda m, A: m.linalg.norm(A, 2), RuntimeError, "the input must be 1D or 2D. Got 3D"),
    (lambda m, A: m.dist(A.long(), A.long()), RuntimeError,
     "norm\\(\\): input dtype should be either floating point or complex. Got Long instead."),
    (lambda m, A: m.linalg.cond(A, 1), RuntimeError, "linalg.cond\\(ord=1\\): A must be batches of square"),
])
def test_norm_errors_like_torch(call, exc, phrase):
    for lib in (tensorplug, torch):
        with pytest.raises(exc, match=phrase):
            call(lib, lib.ones(2, 3, 4))


def test_torch_norm_nuc_is_the_matrix_norm():
    _check(lambda m, A: m.norm(A, "nuc"), [(3, 4)], seed=7)
    _check(lambda m, A: m.norm(A, p="nuc", dim=[1, 2]), [(2, 3, 4)], seed=8)
    _check(lambda m, A: A.norm("nuc", dim=(0, 2), keepdim=True), [(2, 3, 4)], seed=9)
    for lib in (tensorplug, torch):
        with pytest.raises(RuntimeError, match="dim must be a 2-tuple. Got 0 1 2"):
            lib.norm(lib.ones(2, 3, 4), "nuc")


@pytest.mark.parametrize("p", [None, 2, -2, 1, math.inf, "fro", "nuc"], ids=str)
@pytest.mark.parametrize("shape", [(2, 0, 4), (0, 3, 3), (2, 3, 0), (2, 0, 0)], ids=str)
def test_cond_of_empty_matrices_matches_torch(shape, p):
    """torch's cond of empty matrices is 0 (indexing the empty singular values raised IndexError); 'fro' and
    'nuc' check squareness first."""
    results = []
    for lib in (torch, tensorplug):
        try:
            results.append(lib.linalg.cond(lib.ones(shape, dtype=lib.float64), p).numpy().tolist())
        except RuntimeError as exc:
            results.append(str(exc))
    assert results[0] == results[1]


def test_cond_messages_print_the_order_as_torch():
    for lib in (torch, tensorplug):
        with pytest.raises(RuntimeError, match=r"linalg.cond\(ord=-1.000000\): A must be batches of square"):
            lib.linalg.cond(lib.ones(2, 3), -1.0)
