"""Gradients torch defines as the identity or as zeros of a skipped input, where the general formula would
give NaN or nothing: softmax/log_softmax of a 0-d tensor, prod of a 0-d tensor, cumprod over a slice of one,
and cat's legacy 1-D empty inputs (left out of the result, but given a zero gradient of shape (0,))."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")

SPECIAL = [float("inf"), float("-inf"), float("nan"), 0.0, 2.5]


def _grads(lib, fn, values):
    xs = [lib.tensor(v, dtype=lib.float64, requires_grad=True) for v in values]
    out = fn(lib, *xs)
    weights = lib.arange(out.numel(), dtype=lib.float64).reshape(out.shape) + 2
    (out * weights).sum().backward()
    return out, [x.grad for x in xs]


def _same(fn, *values):
    got, got_grads = _grads(tp, fn, values)
    want, want_grads = _grads(torch, fn, values)
    assert type(got.grad_fn).__name__ == type(want.grad_fn).__name__
    np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())
    for g, w in zip(got_grads, want_grads):
        assert (g is None) == (w is None)
        if w is not None:
            assert tuple(g.shape) == tuple(w.shape)
            np.testing.assert_array_equal(g.numpy(), w.numpy())


@pytest.mark.parametrize("value", SPECIAL)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_of_a_zero_dim_tensor(name, value):
    _same(lambda m, x: getattr(m, name)(x, 0), value)
    _same(lambda m, x: getattr(m, name)(x, -1), value)


def test_softmax_of_a_zero_dim_tensor_checks_dim():
    for lib in (tp, torch):
        with pytest.raises(IndexError, match="Dimension out of range"):
            lib.softmax(lib.tensor(1.0), 1)


@pytest.mark.parametrize("value", SPECIAL)
def test_prod_of_a_zero_dim_tensor(value):
    _same(lambda m, x: x.prod(), value)
    _same(lambda m, x: x.prod(0), value)


@pytest.mark.parametrize("value", SPECIAL)
def test_cumprod_over_a_slice_of_one(value):
    _same(lambda m, x: m.cumprod(x, 1), [[value], [3.0]])
    _same(lambda m, x: m.cumprod(x, 0), [value])
    _same(lambda m, x: m.cumprod(x, 0), value)


@pytest.mark.parametrize("case", [
    lambda m, e, x: m.cat([e, x]),
    lambda m, e, x: m.cat([x, e, e]),
    lambda m, e, x: m.cat([e, x * 2], 1),
    lambda m, e, x: m.cat([e, e.detach()]),
    lambda m, e, x: m.cat([e]),
])
def test_cat_gives_skipped_empty_inputs_a_zero_gradient(case):
    _same(case, [], [[1.0, 2.0], [3.0, 4.0]])


def test_cat_double_backward_through_a_skipped_empty_input():
    grads = []
    for lib in (tp, torch):
        e = lib.zeros(0, dtype=lib.float64, requires_grad=True)
        x = lib.ones(2, 2, dtype=lib.float64, requires_grad=True)
        ge, gx = lib.autograd.grad((lib.cat([e, x]) ** 2).sum(), [e, x], create_graph=True)
        (gx2,) = lib.autograd.grad(gx.sum() + ge.sum(), [x])
        grads.append((tuple(ge.shape), gx2.tolist()))
    assert grads[0] == grads[1]


def test_floor_division_gradients_as_torch():
    # div(rounding_mode='floor') is a step with zero gradient; floor_divide and // have no derivative
    _same(lambda m, a, b: m.div(a, b, rounding_mode="floor"), [2.5, -1.5], [2.0, 2.0])
    _same(lambda m, a, b: m.div(a, b, rounding_mode="trunc"), [2.5, -1.5], [2.0, 2.0])
    for spell in (lambda m, a, b: m.floor_divide(a, b), lambda m, a, b: a // b):
        for lib in (tp, torch):
            with pytest.raises(RuntimeError, match="derivative for aten::floor_divide is not implemented"):
                _grads(lib, spell, [[2.5, -1.5], [2.0, 2.0]])
    # a scalar's remainder by a tensor has no derivative in torch either (tensorplug gave one)
    for spell in (lambda m, a: 2.0 % a, lambda m, a: m.remainder(2.0, a)):
        for lib in (tp, torch):
            with pytest.raises(RuntimeError, match="derivative for aten::remainder is not implemented"):
                _grads(lib, spell, [[2.5, -1.5]])


def test_nan_to_num_gradient_is_g_times_isfinite():
    # a NaN upstream gradient stays NaN at a replaced element (torch: grad * isfinite(x)); it was 0
    grads = []
    for lib in (tp, torch):
        x = lib.tensor([1.0, float("nan"), float("inf"), -float("inf")], dtype=lib.float64, requires_grad=True)
        y = lib.nan_to_num(x, 0.5)
        assert type(y.grad_fn).__name__ == "NanToNumBackward0"
        y.backward(lib.tensor([float("nan"), 2.0, float("nan"), 4.0], dtype=lib.float64))
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(*grads)
