"""unique, bincount, histc, searchsorted, bucketize against torch (values and dtypes), on every backend."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")


def _same(ours, theirs):
    ours = ours if isinstance(ours, tuple) else (ours,)
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
        np.testing.assert_array_equal(a.cpu().numpy(), b.numpy())


CASES = [
    lambda m, d: m.unique(m.tensor([[3, 1, 2], [3, 1, 7]], device=d)),
    lambda m, d: m.unique(m.tensor([[3, 1, 2], [3, 1, 7]], device=d), return_inverse=True, return_counts=True),
    lambda m, d: m.tensor([2.5, -1.0, 2.5, 0.0], device=d).unique(return_counts=True),
    lambda m, d: m.bincount(m.tensor([0, 1, 1, 3], device=d)),
    lambda m, d: m.bincount(m.tensor([0, 1, 1, 3], device=d), weights=m.tensor([0.5, 1.0, 2.0, 1.0], device=d),
                            minlength=6),
    lambda m, d: m.bincount(m.tensor([], dtype=m.int64, device=d), minlength=3),
    lambda m, d: m.histc(m.tensor([1.0, 2.0, 1.0, 4.0, 0.5, 9.0], device=d), bins=4, min=0, max=4),
    lambda m, d: m.histc(m.tensor([1.0, 2.0, 1.0], dtype=m.float64, device=d), bins=3),
    lambda m, d: m.searchsorted(m.tensor([1.0, 3.0, 5.0, 7.0], device=d), m.tensor([3.0, 6.0, 9.0, 0.0], device=d)),
    lambda m, d: m.searchsorted(m.tensor([1.0, 3.0, 5.0, 7.0], device=d), m.tensor([3.0, 6.0], device=d),
                                right=True, out_int32=True),
    lambda m, d: m.searchsorted(m.tensor([[1.0, 3.0], [2.0, 4.0]], device=d), m.tensor([[2.0], [5.0]], device=d)),
    lambda m, d: m.searchsorted(m.tensor([1.0, 3.0, 5.0], device=d), 4.0, side="right"),
    lambda m, d: m.bucketize(m.tensor([[0.5, 5.0, 3.0]], device=d), m.tensor([1.0, 3.0, 5.0, 7.0], device=d)),
    lambda m, d: m.bucketize(m.tensor([[0.5, 5.0, 3.0]], device=d), m.tensor([1.0, 3.0, 5.0, 7.0], device=d),
                             right=True),
]


@pytest.mark.parametrize("case", CASES)
def test_counting_ops_match_torch(backend, case):
    _same(case(tp, backend), case(torch, "cpu"))


@pytest.mark.parametrize("call, phrase", [
    (lambda m: m.bincount(m.tensor([1, -1])), "bincount only supports 1-d non-negative integral inputs"),
    (lambda m: m.bincount(m.tensor([[1, 2]])), "bincount only supports 1-d non-negative integral inputs"),
    (lambda m: m.bucketize(m.tensor([1.0]), m.tensor([[1.0, 2.0]])), "boundaries tensor must be 1 dimension"),
    (lambda m: m.searchsorted(m.tensor([1.0]), m.tensor([1.0]), side="middle"), "side can only be 'left' or 'right'"),
])
def test_counting_errors_like_torch(call, phrase):
    for lib in (tp, torch):
        with pytest.raises(RuntimeError, match=phrase):
            call(lib)


@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_puts_nan_past_the_end_as_torch(right):
    # numpy's search stops before the NaNs sorted last; torch's comparisons send a NaN to the end
    nan = float("nan")
    for dtype in ("float32", "float16", "float64"):
        got, want = (m.searchsorted(m.tensor([-2.5, 1.0, 3.0, nan]).to(getattr(m, dtype)),
                                    m.tensor([[nan, 1.0], [-3.0, nan]]).to(getattr(m, dtype)), right=right)
                     for m in (tp, torch))
        assert got.tolist() == want.tolist()
        got, want = (m.bucketize(m.tensor([nan, 0.0]), m.tensor([-1.0, 1.0]), right=right) for m in (tp, torch))
        assert got.tolist() == want.tolist()
