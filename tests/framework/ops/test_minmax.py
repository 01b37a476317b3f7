"""max/min (three forms), argmax/argmin, amax/amin, maximum/minimum, clamp — against torch."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

from ._compare import same

X = np.array([[1.0, 5.0, 5.0], [-2.0, 0.5, -2.0]])


def test_max_with_dim_is_a_named_pair():
    out = tp.tensor(X).max(1)
    assert out.values.tolist() == [5.0, 0.5] and out.indices.tolist() == [1, 1]
    values, indices = tp.max(tp.tensor(X), dim=0, keepdim=True)
    assert values.shape == (1, 3) and indices.dtype == tp.int64
    assert tp.tensor(X).min(1)[1].tolist() == [0, 0]


@pytest.mark.parametrize("case", [
    lambda m, x: m.max(x), lambda m, x: x.min(), lambda m, x: x.max(1), lambda m, x: m.min(x, 0, True),
    lambda m, x: x.max(-1, keepdim=True).values, lambda m, x: m.amax(x, (0, 1)), lambda m, x: x.amin(0),
    lambda m, x: x.argmax(), lambda m, x: m.argmin(x, 1), lambda m, x: x.argmax(0, keepdim=True),
    lambda m, x: m.maximum(x, x.flip(1)), lambda m, x: m.minimum(x, m.zeros(3, dtype=x.dtype)),
    lambda m, x: m.max(x, x * 0.5), lambda m, x: x.clamp(-1, 2), lambda m, x: x.clamp(max=0.5),
    lambda m, x: m.clamp(x, min=m.zeros(3, dtype=x.dtype)), lambda m, x: x.clip(-1.5, 1.5),
    lambda m, x: x.clamp(min=5.0, max=5.0),
])
def test_against_torch_with_ties(case):
    same(case, X)


def test_integer_forms():
    same(lambda m, x: (x.max(), x.min(1), x.argmax(), m.maximum(x, x * 2), x.clamp(0, 3)),
         np.array([[3, -1, 7], [2, 2, 0]]))


def test_clamp_of_int_with_float_bound_follows_torch():
    same(lambda m, x: x.clamp(0.5, 2), np.array([0, 1, 3]))


@pytest.mark.parametrize("name", ["hardtanh", "hardsigmoid", "hardswish"])
def test_strict_clamp_gives_torch_gradient_at_the_bounds(name):
    # clamp passes the gradient at its bounds; hardtanh & co. (built on Clamp(strict=True)) do not
    xs = np.array([-3.0, -1.0, -0.5, 0.0, 1.0, 2.5, 3.0])
    same(lambda m, x: x.clamp(-1.0, 1.0), xs)
    same(lambda m, x: getattr(m.nn.functional, name)(x), xs)


def test_clamp_needs_a_bound():
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max'"):
        tp.ones(2).clamp()


def test_in_place_clamp():
    t = tp.tensor([-3.0, 0.0, 3.0])
    assert t.clamp_(-1, 1) is t and t.tolist() == [-1.0, 0.0, 1.0]


def test_reduction_over_zero_size_dim():
    with pytest.raises(IndexError):
        tp.ones(0, 3).max(0)
    assert tp.ones(0, 3).max(1).values.shape == (0,)


@pytest.mark.parametrize("case", [
    lambda m: m.clamp(m.tensor([True, False]), 0, 2),  # bool with int bounds is int64 (it stayed bool)
    lambda m: m.clamp(m.tensor([True, False]), max=1),
    lambda m: m.clamp(m.tensor([249, 1, 100], dtype=m.uint8), -1),  # -1 is 255 in uint8, as torch converts it
    lambda m: m.clamp(m.tensor([249, 1, 100], dtype=m.uint8), max=-3),
    lambda m: m.clamp(m.tensor([-7, 1, 100], dtype=m.int8), -128, 127),
])
def test_clamp_integer_bounds_as_torch(case):
    torch = pytest.importorskip("torch")
    got, want = case(tp), case(torch)
    assert got.dtype.name == str(want.dtype).split(".")[-1]
    assert got.tolist() == want.tolist()


@pytest.mark.parametrize("dtype, bound", [("int8", 300), ("int16", -2 ** 20), ("uint8", -256), ("int64", 2 ** 63)])
def test_clamp_refuses_a_bound_its_dtype_cannot_hold(dtype, bound):
    with pytest.raises(RuntimeError, match="cannot be converted"):
        tp.clamp(tp.tensor([1], dtype=getattr(tp, dtype)), max=bound)
