"""Where NaN goes in sorting ops, compared with torch: the largest value (last ascending, first descending,
ties in index order), median returns NaN and the first NaN's index, and sort's dim on a 0-d tensor."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")

INF, NAN = float("inf"), float("nan")
ROW = [3.0, NAN, -1.0, NAN, INF, -INF, 0.0, 2.0, 2.0]
ROWS = [[3.0, NAN, 1.0, NAN], [1.0, 2.0, 3.0, 4.0], [NAN, 0.0, 0.0, NAN]]
CASES = {
    "sort": lambda m, x: x.sort(),
    "sort_descending": lambda m, x: x.sort(descending=True),
    "sort_stable_descending": lambda m, x: x.sort(stable=True, descending=True),
    "argsort": lambda m, x: x.argsort(),
    "argsort_descending": lambda m, x: x.argsort(descending=True),
    "topk": lambda m, x: x.topk(4),
    "topk_smallest": lambda m, x: x.topk(4, largest=False),
    "msort": lambda m, x: m.msort(x),
    "unique": lambda m, x: m.unique(x, return_inverse=True, return_counts=True),
    "median": lambda m, x: x.median(),
    "median_dim": lambda m, x: x.median(0),
    "kthvalue": lambda m, x: x.kthvalue(3),
    "max_dim": lambda m, x: x.max(0),
    "min_dim": lambda m, x: x.min(0),
}
ROWS_CASES = {
    "sort_rows_descending": lambda m, x: x.sort(1, descending=True),
    "sort_columns": lambda m, x: x.sort(0),
    "topk_rows": lambda m, x: x.topk(2, 1).values,  # torch's indices among tied NaNs follow its partial sort
    "median_rows": lambda m, x: x.median(1),
    "median_all": lambda m, x: x.median(),
}


def _outputs(result):
    parts = result if isinstance(result, tuple) else (result,)
    return [(p.float() if p.dtype in (tp.bfloat16, torch.bfloat16) else p).detach().numpy() for p in parts]


def _compare(fn, data, dtype="float32"):
    expected = _outputs(fn(torch, torch.tensor(data, dtype=getattr(torch, dtype))))
    got = _outputs(fn(tp, tp.tensor(data, dtype=getattr(tp, dtype))))
    assert len(got) == len(expected)
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(g.astype(np.float64), e.astype(np.float64))


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_nan_orders_as_torch(case, dtype):
    _compare(CASES[case], ROW, dtype)


@pytest.mark.parametrize("case", sorted(ROWS_CASES))
def test_nan_orders_as_torch_along_a_dim(case):
    _compare(ROWS_CASES[case], ROWS)


def test_topk_gradient_goes_to_the_nans_as_torch():
    grads = []
    for m in (torch, tp):
        x = m.tensor([3.0, NAN, -1.0, NAN, INF], requires_grad=True)
        x.topk(3).values.sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(grads[1], grads[0])


@pytest.mark.parametrize("fn", [lambda m, x: x.sort(1), lambda m, x: x.argsort(1), lambda m, x: x.topk(1, 1)])
def test_dim_of_a_0d_tensor_is_checked_as_torch(fn):
    with pytest.raises(IndexError, match="Dimension out of range"):
        fn(torch, torch.tensor(2.0))
    with pytest.raises(IndexError, match="Dimension out of range"):
        fn(tp, tp.tensor(2.0))
