"""masked_scatter / masked_scatter_: values, dtypes, both gradients and errors against torch."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp
from torch_compare import assert_same_error

from ._compare import same

torch = pytest.importorskip("torch")

X = np.arange(6.0).reshape(2, 3) / 3 - 1
S = np.arange(1.0, 8.0) / 2
MASK = [[True, False, True], [False, True, True]]


@pytest.mark.parametrize("case", [
    lambda m, x, s: x.masked_scatter(m.tensor(MASK), s),
    lambda m, x, s: m.masked_scatter(x, m.tensor(MASK), s[:4].reshape(2, 2)),
    lambda m, x, s: x.masked_scatter(m.tensor([True, False, True]), s),  # mask broadcast over rows
    lambda m, x, s: x[0].masked_scatter(m.tensor([[True], [False]]), s),  # input broadcast to the mask
    lambda m, x, s: x.masked_scatter(m.tensor(MASK) & False, s),
    lambda m, x, s: (x * 2).masked_scatter(m.tensor(MASK), s.exp()).sin(),
    lambda m, x, s: x.sum().masked_scatter(m.tensor(True), s),
])
def test_against_torch(case):
    same(case, X, S)


def test_grad_fn_name_and_integer_values():
    x = tp.zeros(2, 3, requires_grad=True)
    out = x.masked_scatter(tp.tensor(MASK), tp.ones(6))
    assert type(out.grad_fn).__name__ == "MaskedScatterBackward0"
    for m in (tp, torch):
        got = m.zeros(4, dtype=m.int64).masked_scatter(m.tensor([False, True, True, False]), m.tensor([7, 8, 9]))
        assert got.tolist() == [0, 7, 8, 0] and got.dtype == m.int64


def test_in_place_returns_self_and_matches():
    for m in (tp, torch):
        t = m.tensor(X)
        assert t.masked_scatter_(m.tensor([True, False, True]), m.tensor(S)) is t
        np.testing.assert_array_equal(t.numpy(), torch.tensor(X).masked_scatter(torch.tensor([True, False, True]),
                                                                                 torch.tensor(S)).numpy())


def test_in_place_gradient_like_torch():
    grads = []
    for m in (tp, torch):
        x, s = m.tensor(X, requires_grad=True), m.tensor(S, requires_grad=True)
        y = x * 1
        y.masked_scatter_(m.tensor(MASK), s * 2)
        (y * m.arange(6.0, dtype=y.dtype).reshape(2, 3)).sum().backward()
        grads.append((x.grad.numpy(), s.grad.numpy()))
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b)


@pytest.mark.parametrize("call", [
    lambda m: m.zeros(3).masked_scatter(m.tensor([1, 0, 1]), m.ones(3)),
    lambda m: m.zeros(3).masked_scatter(m.tensor([True, False, True]), m.ones(1)),
    lambda m: m.zeros(3).masked_scatter(m.tensor([True, False]), m.ones(6)),
    lambda m: m.zeros(3).masked_scatter(m.tensor([True, False, True]), 1.0),
])
def test_errors_like_torch(call):
    assert_same_error(call)


@pytest.mark.parametrize("call, phrase", [
    # (torch's message runs "but gotFloat and Double" together)
    (lambda m: m.zeros(3).masked_scatter(m.tensor([True, False, True]), m.ones(3, dtype=m.float64)),
     "masked_scatter: expected self and source to have same dtypes"),
    # (torch's names the mask's type CPUBoolType{[2, 1]})
    (lambda m: m.zeros(3).masked_scatter_(m.tensor([[True], [False]]), m.ones(6)),
     "must be greater or equal to the number of dimensions in the tensor"),
])
def test_errors_with_torchs_key_phrase(call, phrase):
    for m in (torch, tp):
        with pytest.raises(RuntimeError, match=phrase):
            call(m)
