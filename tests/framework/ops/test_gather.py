"""gather/scatter/scatter_add/index_select/masked_fill/take_along_dim — against torch."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

from ._compare import same, to_numpy

X = np.arange(12.0).reshape(3, 4) / 3 - 1
IDX = np.array([[0, 2, 1, 0], [2, 2, 0, 1]])


@pytest.mark.parametrize("case", [
    lambda m, x: x.gather(0, m.tensor(IDX)), lambda m, x: m.gather(x, 1, m.tensor([[3, 0], [1, 1], [2, 2]])),
    lambda m, x: x.gather(1, m.tensor([[1], [0]])),  # index smaller than input in the other dim
    lambda m, x: x.scatter(0, m.tensor([[2, 0, 1, 0]]), x[:1] * 5),
    lambda m, x: m.scatter(x, 1, m.tensor([[0, 3], [1, 2], [3, 0]]), 2.5),
    lambda m, x: x.scatter_add(0, m.tensor(IDX), x[:2] * 2), lambda m, x: m.scatter_add(x, 1, m.tensor([[0, 0, 1]]), x[:1, :3]),
    lambda m, x: x.index_select(0, m.tensor([2, 0, 2])), lambda m, x: m.index_select(x, 1, m.tensor([3])),
    lambda m, x: x.masked_fill(x > 0, 0.0), lambda m, x: m.masked_fill(x, m.tensor([True, False, True, False]), -5.0),
    lambda m, x: x.masked_fill(x < 0, m.tensor(9.0, dtype=x.dtype)),
    lambda m, x: m.take_along_dim(x, m.tensor([[1], [3], [0]]), 1), lambda m, x: m.take_along_dim(x, m.tensor([0, 11, 5])),
    lambda m, x: x.take_along_dim(m.tensor([[2, 0, 1, 1]]), 0),
])
def test_against_torch(case):
    same(case, X)


def test_in_place_variants():
    for name, args in [("scatter_", (0, tp.tensor([[1, 0, 2, 1]]), 7.0)),
                       ("scatter_add_", (1, tp.tensor([[0, 0], [1, 1], [3, 3]]), tp.ones(3, 2, dtype=tp.float64))),
                       ("masked_fill_", (tp.tensor([True, False, False, True]), 0.0))]:
        t = tp.tensor(X)
        expected = getattr(tp, name[:-1])(tp.tensor(X), *args)
        assert getattr(t, name)(*args) is t
        np.testing.assert_array_equal(to_numpy(t), to_numpy(expected))


def test_errors():
    x = tp.tensor(X)
    with pytest.raises(RuntimeError, match="out of bounds"):
        x.gather(0, tp.tensor([[3, 0, 0, 0]]))
    with pytest.raises(RuntimeError, match="out of bounds"):
        x.scatter(1, tp.tensor([[4]]), 1.0)
    with pytest.raises(IndexError, match="index out of range"):
        x.index_select(0, tp.tensor([5]))
    with pytest.raises(RuntimeError, match="boolean masks"):
        x.masked_fill(tp.tensor([1, 0, 1, 0]), 0.0)
    with pytest.raises(RuntimeError, match="same dtype|equal to src.dtype"):
        x.scatter(0, tp.tensor([[0]]), tp.ones(1, 1, dtype=tp.float16))


@pytest.mark.parametrize("case", [
    lambda m, x: m.masked_select(x, x > 0), lambda m, x: x.masked_select(m.tensor([True, False, True, True])),
    lambda m, x: m.where(x > 0), lambda m, x: (x > 0).nonzero(), lambda m, x: m.nonzero(x > 0, as_tuple=True),
    lambda m, x: m.argwhere(x < 0), lambda m, x: m.nonzero(m.tensor(1.0)),
])
def test_selection_against_torch(case):
    same(case, X)


@pytest.mark.parametrize("case", [
    lambda m, x: x.index_add(0, m.tensor([2, 0, 2]), x * 0.5), lambda m, x: m.index_add(x, 1, m.tensor([3]), x[:, :1], alpha=2),
    lambda m, x: (x * 1).index_add_(0, m.tensor([1]), x[:1]), lambda m, x: x.index_fill(1, m.tensor([0, 2]), -1.0),
    lambda m, x: (x * 1).index_fill_(0, m.tensor([1]), 5.0), lambda m, x: x.where(x > 0, x * 2),
])
def test_index_add_fill_against_torch(case):
    same(case, X)


@pytest.mark.parametrize("case", [
    # an int fill value as torch converts it: uint8 takes -3 as 253 (numpy raised OverflowError)
    lambda m: m.tensor([1, 2], dtype=m.uint8).masked_fill(m.tensor([True, False]), -3),
    lambda m: m.tensor([1, 2], dtype=m.uint8).index_fill(0, m.tensor([0]), -1),
    lambda m: m.tensor([1, 2], dtype=m.uint8).fill_(-1),
    # refused where the dtype cannot hold it (fill_ wrapped 200 to -56 in int8)
    lambda m: m.tensor([1, 2], dtype=m.int8).fill_(200),
    lambda m: m.tensor([1, 2], dtype=m.int8).masked_fill(m.tensor([True, False]), 300),
    lambda m: m.tensor([1, 2], dtype=m.int8).index_fill(0, m.tensor([0]), -129),
    lambda m: m.tensor([1, 2], dtype=m.uint8).masked_fill(m.tensor([True, False]), 256),
])
def test_integer_fill_values_as_torch(case):
    torch = pytest.importorskip("torch")
    try:
        want = case(torch).tolist()
    except RuntimeError:
        with pytest.raises(RuntimeError, match="cannot be converted"):
            case(tp)
    else:
        assert case(tp).tolist() == want
