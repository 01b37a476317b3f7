"""cat/stack/split/chunk/unbind — against torch, plus view semantics of the pieces."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

from ._compare import same

A = np.arange(12.0).reshape(3, 4)
B = np.arange(8.0).reshape(2, 4) - 3


@pytest.mark.parametrize("case", [
    lambda m, a, b: m.cat([a, b]), lambda m, a, b: m.cat((a.t(), b.t()), dim=-1), lambda m, a, b: m.cat([a]),
    lambda m, a, b: m.concat([a, a * 2], 1), lambda m, a, b: m.stack([a, a * 2]),
    lambda m, a, b: m.stack([b, b], dim=-1), lambda m, a, b: m.stack([a[0], b[0], b[1]], 1),
    lambda m, a, b: m.hstack([a, a]), lambda m, a, b: m.vstack([a, b]),
    lambda m, a, b: a.split(2), lambda m, a, b: m.split(a, [1, 3], 1), lambda m, a, b: a.split(4, 1),
    lambda m, a, b: a.chunk(2), lambda m, a, b: m.chunk(a, 3, 1), lambda m, a, b: a.chunk(5, 1),
    lambda m, a, b: a.unbind(), lambda m, a, b: m.unbind(b, 1),
])
def test_against_torch(case):
    same(case, A, B)


def test_cat_promotes_dtypes_like_torch():
    same(lambda m, a, b: m.cat([a, b.long()]), A, B, grad=False)
    same(lambda m, a: m.cat([a.int(), a.bool()]), A, grad=False)


def test_cat_skips_legacy_empty_1d():
    same(lambda m, a: m.cat([m.tensor([], dtype=a.dtype), a]), A)


def test_pieces_are_views():
    a = tp.zeros(4, 2)
    top, bottom = a.split(2)
    bottom[0, 0] = 7.0
    assert a[2, 0].item() == 7.0
    rows = a.unbind()
    rows[1].fill_(3.0)
    assert a[1].tolist() == [3.0, 3.0]


def test_errors():
    with pytest.raises(RuntimeError, match="Sizes of tensors must match except in dimension 1"):
        tp.cat([tp.ones(2, 3), tp.ones(3, 3)], 1)
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        tp.cat([tp.ones(2, 3), tp.ones(3)])
    with pytest.raises(RuntimeError, match="zero-dimensional"):
        tp.cat([tp.tensor(1.0), tp.tensor(2.0)])
    with pytest.raises(TypeError, match="tuple of Tensors"):
        tp.cat(tp.ones(2))
    with pytest.raises(RuntimeError, match="split_sizes to sum exactly"):
        tp.ones(4).split([1, 2])
    with pytest.raises(RuntimeError, match="chunks"):
        tp.ones(4).chunk(0)
