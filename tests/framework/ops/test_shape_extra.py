"""ops/shape_extra.py against torch: atleast_nd, broadcast_tensors, block_diag, column_stack, dstack, the
splits, ravel, rot90, diagflat, the *_scatter family, narrow_copy, unravel_index, combinations."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

from ._compare import same
from .test_aliases import _errors_alike

A = np.arange(12.0).reshape(3, 4) / 7 - 0.5
V = np.array([0.3, -1.2, 2.0])


def test_atleast_and_broadcast():
    same(lambda m, x, v: (m.atleast_1d(x[0, 0]), m.atleast_2d(v), *m.atleast_3d(x, v, x[0, 0]),
                          *m.atleast_2d([v, x]), *m.broadcast_tensors(x, v[:1], x[:1])), A, V)
    torch = pytest.importorskip("torch")
    for m in (tp, torch):
        assert isinstance(m.atleast_1d(m.ones(2), m.ones(())), tuple) and not isinstance(m.atleast_1d(m.ones(2)),
                                                                                        tuple)


def test_joins():
    same(lambda m, x, v: (m.block_diag(x, v, v[0], x[:1]), m.column_stack([v, x[:, 0], x[:, :2]]),
                          m.dstack([x, x]), m.dstack([v, v])), A, V)
    same(lambda m: (m.block_diag(m.ones(2, 2, dtype=m.int32), m.tensor([1.5], dtype=m.float64)),
                    m.block_diag()), grad=False)
    _errors_alike(lambda m: m.block_diag(m.ones(2, 2, 2)), "must have 2 or fewer dimensions")


@pytest.mark.parametrize("spec", [3, 2, 5, [1, 3], [-1], [0, 0, 9], (2,)])
def test_tensor_split(spec):
    same(lambda m, x: (*m.tensor_split(x, spec, 1), *x.tensor_split(spec), *m.tensor_split(x.t(), spec, -1)), A)


def test_directional_splits():
    same(lambda m, x, v: (*m.hsplit(x, 2), *x.vsplit([1]), *m.dsplit(x.reshape(3, 2, 2), 2), *m.hsplit(v, 3),
                          *m.split_with_sizes(x, [1, 2]), *x.split_with_sizes([3, 1], 1),
                          *m.unsafe_chunk(x, 2, 1), *x.unsafe_split(2), *m.tensor_split(x, m.tensor([1, 2]))), A, V)
    _errors_alike(lambda m: m.hsplit(m.ones(2, 3), 2), "is not divisible by the split_size 2")
    _errors_alike(lambda m: m.vsplit(m.ones(3), 3), "requires a tensor with at least 2 dimension")
    _errors_alike(lambda m: m.split_with_sizes(m.ones(4), [1, 2]), "split_with_sizes expects split_sizes to sum")


@pytest.mark.parametrize("k", [-3, -1, 0, 1, 2, 3, 5])
def test_rot90(k):
    same(lambda m, x: (m.rot90(x, k), x.rot90(k, [1, 0]), m.rot90(x.reshape(3, 2, 2), k, (0, 2))), A)


def test_rot90_errors():
    _errors_alike(lambda m: m.rot90(m.ones(2, 3), 1, [0, 0]), "expected rotation dims to be different")
    _errors_alike(lambda m: m.rot90(m.ones(3)), "expected total dims >= 2")


def test_ravel_diagflat_narrow_copy():
    same(lambda m, x, v: (m.ravel(x), x.t().ravel(), m.diagflat(v), v.diagflat(-1), m.diagflat(x[:2, :2], 2),
                          m.narrow_copy(x, 1, 1, 2), x.narrow_copy(0, 2, 1)), A, V)


def test_scatters():
    same(lambda m, x, s: (m.diagonal_scatter(x, s, 1), x.diagonal_scatter(s[:2] * 2, -1),
                          m.select_scatter(x, s.reshape(3)[:3].repeat(2)[:4], 0, 1),
                          x.select_scatter(s, 1, -1), m.slice_scatter(x, s.reshape(3, 1).repeat(1, 2), 1, 1, 4, 2),
                          x.slice_scatter(x[:2] * 3, 0, 1)), A, V)
    _errors_alike(lambda m: m.slice_scatter(m.ones(4, 3), m.ones(2, 2), 0, 0, 2), "expected src to have a size")


def test_unravel_index_and_combinations():
    same(lambda m: (*m.unravel_index(m.tensor([0, 5, 11, -1, 7]), (3, 4)), *m.unravel_index(m.tensor(4), (5,)),
                    *m.unravel_index(m.tensor([[3, 9]]), (2, 3, 2))), grad=False)
    _errors_alike(lambda m: m.unravel_index(m.tensor([1.0]), (2, 3)), "expected 'indices' to be integer dtype")
    same(lambda m, v: (m.combinations(v), m.combinations(v, 3), m.combinations(v, 2, with_replacement=True),
                       m.combinations(v, 4), m.combinations(v, 0)), V)
