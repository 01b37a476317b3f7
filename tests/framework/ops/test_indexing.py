"""Indexing and assignment through every key kind — against torch, with gradients."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

from ._compare import same

X = np.arange(24.0).reshape(2, 3, 4) / 7

KEYS = [
    lambda m: 1, lambda m: -1, lambda m: (0, 2), lambda m: (1, -1, 3), lambda m: slice(None, None, 2),
    lambda m: (slice(None), slice(1, None, 2)), lambda m: (..., 1), lambda m: (None, 0), lambda m: (0, None, ..., None),
    lambda m: ([1, 0, 1],), lambda m: m.tensor([[0, 1], [1, 1]]), lambda m: (slice(None), [2, 0, 2]),
    lambda m: (0, m.tensor([1, 2]), m.tensor([3, 0])), lambda m: m.tensor([True, False]),
    lambda m: (slice(None), m.tensor([True, False, True])),
    lambda m: m.tensor(X > 1.5), lambda m: (Ellipsis, slice(1, 3)), lambda m: (1, slice(0, 0)),
]


@pytest.mark.parametrize("i", range(len(KEYS)))
def test_getitem_matches_torch(i):
    same(lambda m, x: x[KEYS[i](m)], X)


@pytest.mark.parametrize("i", range(len(KEYS)))
def test_setitem_matches_torch(i):
    def fn(m, x, v):
        y = x * 1
        key = KEYS[i](m)
        target = y[key]
        if target.numel() == 0:
            y[key] = 0.0
        elif i in (9, 10):  # repeated indices: a write order torch leaves unspecified, so one value
            y[key] = v.sum()
        else:
            y[key] = v.reshape(-1)[: target.numel()].reshape(target.shape)
        return y
    same(fn, X, np.arange(24.0)[::-1].copy() / 5)


def test_setitem_with_scalars_and_broadcast():
    same(lambda m, x: _set(x * 1, (slice(None), 0), 5.0), X)
    same(lambda m, x: _set(x * 1, (0,), m.tensor([1.0, 2.0, 3.0, 4.0], dtype=x.dtype)), X)
    same(lambda m, x: _set(x * 1, x.detach() > 1, -1.0), X)


def _set(t, key, value):
    t[key] = value
    return t


def test_basic_index_is_a_view_and_advanced_is_a_copy():
    x = tp.tensor(X)
    v = x[0, 1:]
    v.fill_(0.0)
    assert x[0, 1:].sum().item() == 0.0
    c = x[[0]]
    c.fill_(9.0)
    assert x.max().item() < 9


def test_repeated_advanced_indices_accumulate_gradient():
    same(lambda m, x: x[m.tensor([0, 0, 1, 0])], X)


def test_data_index_of_scalar_loss():
    loss = (tp.ones(3, requires_grad=True) * 2).sum()
    with pytest.warns(UserWarning, match=r"\.item\(\)"):
        assert loss.data[0] == 6.0


def test_index_errors():
    x = tp.tensor(X)
    with pytest.raises(IndexError, match="out of bounds for dimension 1 with size 3"):
        x[0, 3]
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, 0, 0]
    with pytest.raises(IndexError, match="only integers, slices"):
        x["a"]
    with pytest.raises(RuntimeError, match="shape mismatch"):
        x[0] = tp.ones(5)


def test_element_index_is_a_view_too():
    x = tp.zeros(3)
    x[1].fill_(5.0)
    y = tp.zeros(2, 2)
    y[1, 1].add_(3.0)
    assert x.tolist() == [0.0, 5.0, 0.0] and y.tolist() == [[0.0, 0.0], [0.0, 3.0]]
    w = tp.ones(3, requires_grad=True)
    h = w * 1
    h[1].mul_(4)
    h.sum().backward()
    assert w.grad.tolist() == [1.0, 4.0, 1.0]


RANGE_KEYS = {
    "rows_and_targets": lambda m, x: x[range(3), m.tensor([1, 0, 3])],
    "leading": lambda m, x: x[range(1, 3)],
    "empty": lambda m, x: x[range(0)],
    "stepped_columns": lambda m, x: x[:, range(0, 4, 2)],
}


@pytest.mark.parametrize("name", sorted(RANGE_KEYS))
def test_a_range_indexes_as_the_list_of_its_values(name):
    """``logprobs[range(n), y]`` (a common idiom): torch reads a range as a list of indices."""
    torch = pytest.importorskip("torch")
    results = []
    for m in (torch, tp):
        x = m.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
        out = RANGE_KEYS[name](m, x)
        out.sum().backward()
        written = x.detach().clone()
        written[range(2), 0] = -1.0
        results.append((out.detach().numpy(), x.grad.numpy(), written.numpy()))
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_array_equal(ours, theirs)
