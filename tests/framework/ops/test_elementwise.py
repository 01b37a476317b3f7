"""Elementwise math edge cases — against torch."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

from ._compare import same, to_numpy

X = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.25])


@pytest.mark.parametrize("name", ["floor", "ceil", "round", "trunc", "sign", "abs", "square", "erf", "expm1",
                                  "tan", "sigmoid", "tanh", "relu", "neg", "sin", "cos", "exp"])
def test_against_torch(name):
    same(lambda m, x: getattr(x, name)(), X)
    same(lambda m, x: getattr(m, name)(x), X)


@pytest.mark.parametrize("name", ["log1p", "rsqrt", "reciprocal", "sqrt", "log"])
def test_positive_domain(name):
    same(lambda m, x: getattr(m, name)(x), np.abs(X) + 0.1)


def test_round_half_to_even_and_decimals():
    same(lambda m, x: (m.round(x), x.round(decimals=1)), np.array([0.5, 1.5, 2.5, 0.25, 0.35, -1.25]))


def test_integer_inputs_follow_torch():
    ints = np.array([-3, 0, 4])
    same(lambda m, x: (x.abs(), x.sign(), x.floor(), x.ceil(), x.round(), x.square(), -x), ints)
    same(lambda m, x: (x.exp(), m.erf(x), x.float().reciprocal(), m.sigmoid(x)), ints)


def test_out_of_domain_gives_nan_like_torch():
    with np.errstate(all="ignore"):
        same(lambda m, x: (x.log(), x.sqrt(), x.rsqrt()), np.array([-1.0, 0.0, 4.0]), grad=False)


@pytest.mark.parametrize("name", ["log1p_", "expm1_", "tan_", "floor_", "ceil_", "round_", "reciprocal_",
                                  "square_", "erf_", "rsqrt_"])
def test_in_place_methods(name):
    t = tp.tensor(np.abs(X) + 0.1)
    expected = getattr(tp, name[:-1])(tp.tensor(np.abs(X) + 0.1))
    assert getattr(t, name)() is t
    np.testing.assert_allclose(to_numpy(t), to_numpy(expected))


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "abs", "sign", "sin", "cos", "tan", "tanh", "sigmoid",
                                  "relu", "trunc", "floor", "ceil", "round", "log1p", "expm1", "rsqrt",
                                  "reciprocal", "erf", "sinh", "cosh", "asin", "acos", "atan", "log2", "log10"])
def test_grad_fn_names_match_torch(name):
    torch = pytest.importorskip("torch")
    expected = getattr(torch, name)(torch.tensor([0.25, 0.5], requires_grad=True)).grad_fn.name()
    assert getattr(tp, name)(tp.tensor([0.25, 0.5], requires_grad=True)).grad_fn.name() == expected


@pytest.mark.parametrize("name", ["sign", "trunc", "floor", "ceil", "round"])
def test_piecewise_constant_gradient_is_zero_for_any_incoming_gradient(name):
    torch = pytest.importorskip("torch")
    g = [float("inf"), float("nan"), 1.0]
    x, tx = tp.tensor([1.5, -2.5, 0.0], requires_grad=True), torch.tensor([1.5, -2.5, 0.0], requires_grad=True)
    getattr(x, name)().backward(tp.tensor(g))
    getattr(tx, name)().backward(torch.tensor(g))
    assert x.grad.tolist() == tx.grad.tolist() == [0.0, 0.0, 0.0]
