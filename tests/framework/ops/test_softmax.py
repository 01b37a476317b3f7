"""softmax / log_softmax: stability, all -inf rows, dtype argument — against torch."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

from ._compare import same, to_numpy

X = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 10.0]])


@pytest.mark.parametrize("case", [
    lambda m, x: m.softmax(x, 1), lambda m, x: x.softmax(0), lambda m, x: x.softmax(dim=-1),
    lambda m, x: m.log_softmax(x, 1), lambda m, x: x.log_softmax(0), lambda m, x: m.softmax(x[0, 0], 0),
])
def test_against_torch(case):
    same(case, X)


def test_large_values_do_not_overflow():
    big = tp.tensor([[1000.0, 1000.0, -1000.0]])
    np.testing.assert_allclose(to_numpy(big.softmax(1)), [[0.5, 0.5, 0.0]])
    np.testing.assert_allclose(to_numpy(big.log_softmax(1))[0, :2], [-np.log(2)] * 2)


def test_masked_rows_match_torch():
    same(lambda m, x: (x.masked_fill(x > 2, float("-inf")).softmax(1),
                       x.masked_fill(x > 2, float("-inf")).log_softmax(1)), X)


def test_dtype_argument_and_float32():
    x = tp.tensor([[1, 2, 3]])
    assert tp.softmax(x, 1, dtype=tp.float64).dtype == tp.float64
    assert tp.tensor(X, dtype=tp.float32).softmax(1).dtype == tp.float32
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        tp.softmax(x, 1)


def test_gradgradcheck():
    x = tp.tensor(X[:, :2] / 3, requires_grad=True)
    assert tp.autograd.gradgradcheck(lambda t: t.softmax(1), (x,))
    assert tp.autograd.gradgradcheck(lambda t: t.log_softmax(0), (x,))


def test_empty_inputs_match_torch():
    same(lambda m, x: (x[:0].softmax(0), x[:0].log_softmax(1), x[:, :0].softmax(1)), X)
    # float32 rows take the backend's one-loop path: empty rows and empty batches too
    same(lambda m, x: (x[:0].softmax(1), x[:0].log_softmax(1), x[:, :0].softmax(1), x[:, :0].log_softmax(1)),
         X.astype(np.float32), rtol=1e-6, atol=1e-7)
