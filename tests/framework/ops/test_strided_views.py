"""diagonal and Tensor.unfold are views, as torch's: writes through them reach the base, autograd follows an
in-place write on them (CopySlices), gradients match torch under a random upstream gradient. Backends
without strided views (the strict Array API one) return copies with the same values and gradients."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")

DIAGONALS = [((4, 4), 0, 0, 1), ((3, 5), 2, 0, 1), ((3, 5), -1, 0, 1), ((2, 3, 4), 1, 2, 0), ((2, 3, 4), -2, -1, 1),
             ((3, 5), 7, 0, 1)]
UNFOLDS = [((7,), 0, 3, 2), ((7,), 0, 3, 1), ((2, 6, 3), 1, 2, 2), ((2, 6, 3), -2, 4, 1), ((2, 5), 1, 5, 3)]


def _pair(shape, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape)
    return tensorplug.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _same_gradients(make, shape, seed=1):
    """``make(module, leaf)`` against torch: value, and the leaf's gradient for a random upstream one."""
    x, tx = _pair(shape, seed)
    out, t_out = make(tensorplug, x), make(torch, tx)
    np.testing.assert_allclose(out.detach().numpy(), t_out.detach().numpy(), atol=1e-12)
    g = np.random.default_rng(seed + 1).standard_normal(tuple(t_out.shape))
    out.backward(tensorplug.tensor(g))
    t_out.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("shape, offset, d1, d2", DIAGONALS)
def test_diagonal_values_and_gradients(backend, shape, offset, d1, d2):
    _same_gradients(lambda m, x: x.diagonal(offset, d1, d2), shape)
    _same_gradients(lambda m, x: m.diagonal(x * 2, offset=offset, dim1=d1, dim2=d2).exp(), shape)


@pytest.mark.parametrize("shape, dim, size, step", UNFOLDS)
def test_unfold_values_and_gradients(backend, shape, dim, size, step):
    _same_gradients(lambda m, x: x.unfold(dim, size, step), shape)
    _same_gradients(lambda m, x: (x * 3).unfold(dim, size, step).sin(), shape)


@pytest.mark.parametrize("shape, offset, d1, d2", DIAGONALS)
def test_writes_through_the_diagonal_reach_the_base(shape, offset, d1, d2):
    ours, theirs = (m.arange(float(np.prod(shape))).reshape(shape) for m in (tensorplug, torch))
    for t in (ours, theirs):
        view = t.diagonal(offset, d1, d2)
        view.mul_(-10)
        view[..., :1] = 7.0
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("shape, dim, size, step", UNFOLDS)
def test_writes_through_unfold_reach_the_base(shape, dim, size, step):
    ours, theirs = (m.arange(float(np.prod(shape))).reshape(shape) for m in (tensorplug, torch))
    for t in (ours, theirs):
        windows = t.unfold(dim, size, step)
        windows[..., 0] = -1.0  # plain stores agree with torch even where windows overlap
        assert windows.stride() == theirs.unfold(dim, size, step).stride()
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_diag_of_a_matrix_is_a_copy():
    for m in (tensorplug, torch):
        x = m.zeros(3, 3)
        m.diag(x).fill_(1)
        assert x.sum().item() == 0
    _same_gradients(lambda m, x: m.diag(x, 1), (3, 4))
    assert type(tensorplug.diag(tensorplug.ones(2, 2, requires_grad=True)).grad_fn).__name__ == \
        "DiagonalBackward0_copy"


def test_autograd_through_an_in_place_write_on_the_diagonal():
    def make(m, leaf):
        y = leaf * 1
        y.diagonal(1).mul_(3)
        y.diagonal(-1, 1, 0).add_(y.diagonal().detach())
        return y.sin()
    _same_gradients(make, (3, 4))


def test_autograd_through_an_in_place_write_on_unfold_windows():
    def make(m, leaf):
        y = leaf * 1
        y.unfold(0, 2, 3).mul_(5)  # windows 3 apart, 2 long: no overlap
        return y.exp()
    _same_gradients(make, (8,))


def test_version_counter_is_shared_with_the_base():
    for m in (tensorplug, torch):
        x = m.ones(3, 3, requires_grad=True)
        base = x * 1
        d = base.diagonal()
        y = d.pow(3)  # saves d, whose storage is base's
        base.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_in_place_on_a_diagonal_of_a_leaf_is_refused():
    for m in (tensorplug, torch):
        with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
            m.ones(3, 3, requires_grad=True).diagonal().mul_(2)


def test_strict_backend_copies_with_the_same_values():
    with tensorplug.use_backend("array_api_strict"):
        x = tensorplug.arange(9.0).reshape(3, 3)
        assert x.diagonal(1).tolist() == [1.0, 5.0]
        assert x.unfold(1, 2, 1).tolist() == torch.arange(9.0).reshape(3, 3).unfold(1, 2, 1).tolist()


def test_unfold_errors_like_torch():
    for m in (tensorplug, torch):
        with pytest.raises(RuntimeError, match="maximum size for tensor at dimension 0 is 3 but size is 4"):
            m.zeros(3).unfold(0, 4, 1)
        with pytest.raises(RuntimeError, match="step is 0 but must be > 0"):
            m.zeros(3).unfold(0, 2, 0)
        assert tuple(m.tensor(2.0).unfold(0, 1, 1).shape) == (1,)
