"""sort/argsort/topk — against torch (ties, descending, dims, gradients)."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

from ._compare import same

X = np.array([[3.0, 1.0, 2.0, 1.0], [0.5, -1.0, 4.0, 0.0]])


@pytest.mark.parametrize("case", [
    lambda m, x: x.sort(), lambda m, x: m.sort(x, 0), lambda m, x: x.sort(descending=True),
    lambda m, x: m.sort(x, dim=1, stable=True), lambda m, x: x.argsort(), lambda m, x: m.argsort(x, 0, True),
    lambda m, x: x.topk(2), lambda m, x: m.topk(x, 1, dim=0), lambda m, x: x.topk(3, largest=False),
    lambda m, x: m.msort(x),
])
def test_against_torch(case):
    same(case, X)


def test_integer_and_bool_sorts():
    same(lambda m, x: (x.sort(), x.sort(descending=True), (x > 1).sort()),
         np.array([[3, 1, 2, 1], [0, -1, 4, 0]]), grad=False)
    # topk's order among ties is unspecified in torch: distinct values only
    same(lambda m, x: x.topk(2), np.array([[3, 1, 2, 5], [0, -1, 4, 7]]), grad=False)


def test_sort_result_fields():
    r = tp.tensor(X).sort(1)
    assert r.values.shape == r.indices.shape == (2, 4) and r.indices.dtype == tp.int64


def test_topk_k_too_large():
    with pytest.raises(RuntimeError, match="out of range"):
        tp.ones(3).topk(4)


@pytest.mark.parametrize("case", [
    lambda m, x: x.median(), lambda m, x: m.median(x, 1), lambda m, x: x.median(0, keepdim=True),
    lambda m, x: m.count_nonzero(x), lambda m, x: x.count_nonzero(1), lambda m, x: m.median(x[0]),
])
def test_median_and_count_against_torch(case):
    same(case, np.array([[3.0, 1.0, 2.0, 0.0], [0.5, -1.0, 4.0, 0.0]]))
