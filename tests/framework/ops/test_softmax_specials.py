"""softmax, log_softmax, logsumexp and cross_entropy with inf, -inf and nan inputs: torch's values and
gradients (a slice holding +inf is nan throughout, as torch subtracts the max even when infinite)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")

INF, NAN = float("inf"), float("nan")
ROWS = np.array(list(itertools.product([INF, -INF, NAN, 0.0, 1.5], repeat=3)), dtype=np.float32)
TARGET = np.arange(len(ROWS)) % 3
FNS = {
    "softmax": lambda m, x: m.softmax(x, -1),
    "softmax_dim0": lambda m, x: m.softmax(x, 0),
    "log_softmax": lambda m, x: m.log_softmax(x, -1),
    "F.softmax": lambda m, x: m.nn.functional.softmax(x, -1),
    "F.log_softmax": lambda m, x: m.nn.functional.log_softmax(x, 1),
    "logsumexp": lambda m, x: m.logsumexp(x, -1),
    "logsumexp_keepdim": lambda m, x: m.logsumexp(x, 1, keepdim=True),
    "cross_entropy": lambda m, x: m.nn.functional.cross_entropy(x, m.tensor(TARGET), reduction="none"),
    "cross_entropy_smoothing": lambda m, x: m.nn.functional.cross_entropy(
        x, m.tensor(TARGET), label_smoothing=0.2, reduction="none"),
    "cross_entropy_weight": lambda m, x: m.nn.functional.cross_entropy(
        x, m.tensor(TARGET), weight=m.tensor([1.0, 2.0, 3.0], dtype=x.dtype), reduction="none"),
    "cross_entropy_probs": lambda m, x: m.nn.functional.cross_entropy(
        x, m.softmax(m.arange(3.0, dtype=x.dtype), 0).expand(len(ROWS), 3), reduction="none"),
}


def _run(m, name, dtype):
    x = m.tensor(ROWS.astype(dtype), requires_grad=True)
    y = FNS[name](m, x)
    # each row's output reaches only its own gradient row, so one backward checks every row
    y.sum().backward()
    return y.detach().numpy(), x.grad.numpy()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", FNS)
def test_specials_match_torch(name, dtype):
    (y, g), (ty, tg) = _run(tp, name, dtype), _run(torch, name, dtype)
    np.testing.assert_allclose(y, ty, rtol=1e-6, atol=1e-6, equal_nan=True, err_msg="values")
    np.testing.assert_allclose(g, tg, rtol=1e-6, atol=1e-6, equal_nan=True, err_msg="gradients")


@pytest.mark.parametrize("row", [[INF, 0.0], [INF, -INF], [-INF, -INF], [NAN, 1.0], [-INF, 0.0]])
def test_two_element_softmax(row):
    got = tp.softmax(tp.tensor(row), 0).numpy()
    want = torch.softmax(torch.tensor(row), 0).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, equal_nan=True)
