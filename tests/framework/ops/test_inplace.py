"""In-place methods and operators: return self, bump the version, keep views in sync, match torch."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

from ._compare import same, to_numpy


@pytest.mark.parametrize("call", [
    lambda t, m: t.add_(m.ones(3), alpha=2), lambda t, m: t.sub_(1.5), lambda t, m: t.mul_(m.tensor([1.0, 2.0, 3.0])),
    lambda t, m: t.div_(4), lambda t, m: t.zero_(), lambda t, m: t.fill_(2.5), lambda t, m: t.fill_(m.tensor(1.5)),
    lambda t, m: t.clamp_(0, 1), lambda t, m: t.copy_(m.tensor([7, 8, 9])), lambda t, m: t.copy_(m.tensor(3.0)),
    lambda t, m: t.pow_(2), lambda t, m: t.exp_(), lambda t, m: t.abs_(), lambda t, m: t.neg_(),
    lambda t, m: t.sigmoid_(), lambda t, m: t.tanh_(), lambda t, m: t.relu_(), lambda t, m: t.masked_fill_(t > 0, 0),
])
def test_returns_self_and_matches_torch(call):
    torch = pytest.importorskip("torch")
    start = [-1.0, 0.5, 2.0]
    a, b = tp.tensor(start), torch.tensor(start)
    va = a[1:]
    version = a._version[0]
    assert call(a, tp) is a
    call(b, torch)
    np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-6)
    assert a._version[0] == version + 1
    np.testing.assert_allclose(to_numpy(va), to_numpy(a)[1:])


def test_augmented_operators_are_in_place():
    t = tp.tensor([1.0, 2.0])
    alias = t
    t += 1
    t -= 0.5
    t *= 4
    t /= 2
    assert alias is t and t.tolist() == [3.0, 5.0]
    i = tp.tensor([5, 6])
    i //= 2
    i %= 2
    assert i.tolist() == [0, 1]


def test_in_place_keeps_dtype_and_refuses_upcast():
    t = tp.tensor([1, 2])
    t.mul_(3)
    assert t.dtype == tp.int64 and t.tolist() == [3, 6]
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        t.add_(0.5)
    f = tp.tensor([1.0, 2.0])
    f.add_(tp.tensor([1, 1]))
    assert f.dtype == tp.float32


def test_in_place_graph_matches_torch():
    def fn(m, x, w):
        h = x * 2
        h.mul_(w).add_(1)
        h[0] = h[1] * 3
        h.clamp_(max=0.9)
        return h.sin_() * 1
    same(fn, np.array([0.1, -0.3, 0.2]), np.array([1.5, 0.5, -2.0]))


def test_write_to_a_saved_output_fails_like_torch():
    torch = pytest.importorskip("torch")
    for m in (tp, torch):
        x = m.tensor([0.1, -0.3], requires_grad=True)
        h = (x * 2).tanh_()  # tanh_ saves its result
        h[0] = h[1] * 3
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            h.sum().backward()


def test_copy_between_dtypes_and_broadcast():
    t = tp.zeros(2, 3)
    t.copy_(tp.tensor([1, 2, 3]))
    assert t.dtype == tp.float32 and t.tolist() == [[1.0, 2.0, 3.0]] * 2


def test_random_in_place_returns_self():
    t = tp.empty(100)
    for call in (lambda: t.uniform_(0, 1), lambda: t.normal_(0, 1), lambda: t.random_(0, 10),
                 lambda: t.bernoulli_(0.5), lambda: t.exponential_()):
        v = t._version[0]
        assert call() is t and t._version[0] == v + 1
    assert 0 <= t.min().item()
