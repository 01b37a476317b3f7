"""Operators with broadcasting, reflected scalars, comparisons, logic, division modes — against torch."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

from ._compare import same

torch = pytest.importorskip("torch")

A = np.array([[1.5, -2.0, 3.0], [0.5, 4.0, -1.0]])
B = np.array([2.0, -0.5, 1.5])


@pytest.mark.parametrize("case", [
    lambda m, a, b: a + b, lambda m, a, b: 2 + a, lambda m, a, b: a - b, lambda m, a, b: 1 - a,
    lambda m, a, b: a * b, lambda m, a, b: 3 * a, lambda m, a, b: a / b, lambda m, a, b: 1 / b,
    lambda m, a, b: a ** 2, lambda m, a, b: 2 ** a, lambda m, a, b: b.abs() ** a, lambda m, a, b: -a,
    lambda m, a, b: a % b, lambda m, a, b: m.fmod(a, b),
    lambda m, a, b: m.div(a, b, rounding_mode="floor"), lambda m, a, b: m.div(a, b, rounding_mode="trunc"),
    lambda m, a, b: m.add(a, b, alpha=3), lambda m, a, b: m.sub(a, b, alpha=0.5), lambda m, a, b: a @ b,
    lambda m, a, b: (a == b, a != 1, a < b, a <= 0.5, a > b, a >= b), lambda m, a, b: m.where(a > 0, a, b),
    lambda m, a, b: m.where(a > 0, a, 0.0), lambda m, a, b: +a, lambda m, a, b: abs(a),
])
def test_float_against_torch(case):
    same(case, A, B)


@pytest.mark.parametrize("case", [
    lambda m, a, b: (a + b, a * 2, a - 1, a / b, a // b, a % b, a ** 2, -a),
    lambda m, a, b: (a & b, a | b, a ^ b, ~a, a > b), lambda m, a, b: (a + 1.5, a * True, a / 2),
    lambda m, a, b: ((a > 0) & (b > 0), (a > 0) | (b > 1), ~(a > 0), (a > 0) ^ (b > 0)),
    lambda m, a, b: (m.logical_and(a, b), m.logical_not(a), m.logical_xor(a, b), m.logical_or(a, b > 0)),
    lambda m, a, b: m.div(a, b, rounding_mode="trunc"), lambda m, a, b: m.div(a, b, rounding_mode="floor"),
])
def test_integer_against_torch(case):
    same(case, np.array([[7, -3, 4], [0, 9, -8]]), np.array([2, -5, 3]), grad=False)


def test_integer_division_is_exact_past_float_precision():
    # trunc rounding went through a float quotient once: 2**60 + 3 lost its low bits
    big = np.array([2**60 + 3, -(2**60 + 3), 2**62 - 1, -7, 7, 0])
    same(lambda m, a, b: (m.div(a, b, rounding_mode="trunc"), m.div(a, b, rounding_mode="floor"), a // b, a % b),
         big, np.array([2, 2, -3, 2, -4, 5]), grad=False)


def test_floor_divide_and_scalar_remainder_forward():
    # torch has no derivative for these; compare values only
    same(lambda m, a, b: (a // b, 7.5 % b, a // 2), A, B, grad=False)


def test_bool_negation_refused():
    with pytest.raises(RuntimeError, match="logical_not"):
        -tp.tensor([True])


def test_out_of_range_python_ints_wrap_like_torch():
    same(lambda m, a: (a * -1, a + -1, a - 2, -1 - a, a + 300), np.array([1, 2], dtype=np.uint8), grad=False)
    same(lambda m, a: (a + 200, a * 3), np.array([100, -100], dtype=np.int8), grad=False)
    t = tp.ones(2, dtype=tp.uint8)
    t.add_(-1)
    t[1] = 300
    assert t.tolist() == [0, 44]
    t.fill_(-1)
    assert t.tolist() == [255, 255]


@pytest.mark.parametrize("case", [
    lambda m, a, b: (a << b, a >> b, a << 3, a >> 1, 3 << b, m.bitwise_left_shift(a, b), a.bitwise_right_shift(b)),
    lambda m, a, b: (m.fmod(a, b), m.fmod(a, 3), m.remainder(a, b), a % 3),
    lambda m, a, b: (m.sub(a, 1, alpha=3), m.add(a, 2, alpha=-2), m.sub(a, 1.5, alpha=2), m.add(a, b, alpha=4)),
])
def test_integer_shifts_fmod_and_alpha_against_torch(case):
    same(case, np.array([[7, -3, 4], [0, 2**60 + 3, -8]]), np.array([2, 64, 3]), grad=False)


def test_shift_and_alpha_misuse_as_torch():
    for m in (tp, torch):
        with pytest.raises(NotImplementedError, match="\"lshift_cpu\" not implemented for 'Float'"):
            m.ones(2) << 1
        with pytest.raises(RuntimeError, match="alpha must not be a floating point number"):
            m.add(m.tensor([1, 2]), 1, alpha=0.5)


def test_fmod_is_cs_fmod():
    # a - trunc(a / b) * b rounds: fmod(10, 0.1) gave 0.0 where C (and torch) give 0.09999999999999945
    same(lambda m, a, b: (m.fmod(a, b), m.fmod(a, 0.1), m.fmod(-a, b), m.fmod(a, -b)),
         np.array([10.0, -6.0, 5.5, 0.0, np.inf, 1e17]), np.array([0.1, 3.0, -2.0, 1.0, 2.0, 0.3]))


def test_bool_subtraction_is_refused_as_torch():
    # numpy's TypeError escaped before
    for spell in (lambda m, a, b: a - b, lambda m, a, b: m.sub(a, b), lambda m, a, b: a - True,
                  lambda m, a, b: True - a, lambda m, a, b: a.sub_(b)):
        for m in (tp, torch):
            with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with two bool tensors"):
                spell(m, m.tensor([True, False]), m.tensor([True, True]))


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int8", "int32", "int64", "float16", "bfloat16", "float32",
                                   "float64", "complex64"])
def test_same_dtype_operators_keep_torchs_result_dtype(dtype):
    # the no-grad fast path takes the inputs' dtype without looking the result up
    got, want = [], []
    for m, out in ((tp, got), (torch, want)):
        a, b = m.ones(2, 2, dtype=getattr(m, dtype)), m.ones(2, 2, dtype=getattr(m, dtype))
        for f in (lambda: a + b, lambda: a * b, lambda: a / b, lambda: a[0, 0] + b[0, 0], lambda: a[0] * b[1]):
            out.append(str(f().dtype).split(".")[-1])
    assert got == want


_OPERATORS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b,
              "//": lambda a, b: a // b, "%": lambda a, b: a % b, "**": lambda a, b: a ** b,
              "&": lambda a, b: a & b, "|": lambda a, b: a | b, "^": lambda a, b: a ^ b, "<<": lambda a, b: a << b,
              ">>": lambda a, b: a >> b, "<": lambda a, b: a < b, "==": lambda a, b: a == b}
_KINDS = ["bool", "uint8", "int64", "float32", "complex64", "py_int", "py_float", "py_bool", "py_complex"]


def _operand(m, kind):
    return {"py_int": 3, "py_float": 2.5, "py_bool": True, "py_complex": 1 + 2j}.get(kind) if kind.startswith("py") \
        else m.ones(2, dtype=getattr(m, kind))


def _outcome(m, fn, a, b):
    try:
        return str(fn(_operand(m, a), _operand(m, b)).dtype).split(".")[-1]
    except Exception as exc:  # the exception's type is the outcome compared
        return type(exc).__name__


@pytest.mark.parametrize("name", sorted(_OPERATORS))
def test_every_operator_over_every_operand_kind_as_torch(name):
    # the sweep that found bool // bool giving int8, `3 & t` raising AttributeError, numpy's TypeError for
    # complex // and %, bool subtraction computing: result dtype, or torch's exception type
    fn = _OPERATORS[name]
    pairs = [(a, b) for a in _KINDS for b in _KINDS if not (a.startswith("py") and b.startswith("py"))]
    got = {pair: _outcome(tp, fn, *pair) for pair in pairs}
    want = {pair: _outcome(torch, fn, *pair) for pair in pairs}
    assert {p: (got[p], want[p]) for p in pairs if got[p] != want[p]} == {}


@pytest.mark.parametrize("case", [
    # alpha * other in the result's dtype (uint8 255 * 2 wrapped to 254 first; a bool other made int64)
    lambda m: m.add(m.tensor([-7, 1, 100], dtype=m.int8), m.tensor([255, 2, 3], dtype=m.uint8), alpha=2),
    lambda m: m.sub(m.tensor([1.5, -2.0, 0.5]).half(), m.tensor([255, 2, 3], dtype=m.uint8), alpha=-1),
    lambda m: m.add(m.tensor([True, False, True]), m.tensor([True, True, False]), alpha=2),
    lambda m: m.add(m.tensor([True, False, True]), m.tensor([True, True, False]), alpha=0),
    lambda m: m.add(m.tensor([-7, 1, 100], dtype=m.int32), m.tensor([True, False, True]), alpha=3),
    # the zero remainder of a negative number by a tensor is -0.0, the dividend's sign
    lambda m: m.remainder(-5, m.tensor([-2.5, 1.0, 5.0]).half()),
    lambda m: -7 % m.tensor([-2.5, 1.0, 7.0]),
    lambda m: m.remainder(-5, m.tensor([-2.5, 1.0, 5.0, 3.0]).bfloat16()),  # and stays bfloat16
])
def test_add_alpha_and_remainder_of_a_number_as_torch(case):
    torch = pytest.importorskip("torch")
    got, want = case(tp), case(torch)
    assert got.dtype.name == str(want.dtype).split(".")[-1]
    g, w = got.float().numpy(), want.float().numpy()
    np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(np.signbit(g), np.signbit(w))


@pytest.mark.parametrize("case", [
    # negative integer exponents in a tensor: 1 for 1, +-1 for -1, else 0 (numpy refused; a broadcast error)
    lambda m: m.pow(2, m.tensor([-7, -1, 0, 1, 5, 127, -128, 3], dtype=m.int8)),
    lambda m: m.pow(-1, m.tensor([-3, -2, 3])),
    lambda m: m.pow(0, m.tensor([-1, 0, 2])),
    lambda m: m.pow(m.tensor([2, 1, -1, 0, -1, 3]), m.tensor([-1, -5, -3, -2, -4, 2])),
    lambda m: m.pow(m.tensor([[2], [-1]], dtype=m.int32), m.tensor([-1, 3, -2], dtype=m.int8)),
])
def test_integer_pow_of_negative_tensor_exponents_as_torch(case):
    torch = pytest.importorskip("torch")
    got, want = case(tp), case(torch)
    assert got.dtype.name == str(want.dtype).split(".")[-1]
    assert got.tolist() == want.tolist()
