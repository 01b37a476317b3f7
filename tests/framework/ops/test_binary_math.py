"""Binary elementwise math (hypot ... logaddexp2), scans (cummax, cummin, logcumsumexp) and products
(cross ... matrix_power) against torch: values with special values, dtypes, gradients under a random
upstream gradient, methods and in-place forms, and torch's errors."""
from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")

INF, NAN = math.inf, math.nan
SPECIAL = np.array([0.0, -0.0, 1.5, -2.0, INF, -INF, NAN, 1e-300, 3.0])
PAIRS = np.array(np.meshgrid(SPECIAL, SPECIAL)).reshape(2, -1)


def _same(got, expected, rtol=1e-12, atol=1e-12, zero_signs=True):
    if isinstance(expected, tuple):
        for g, e in zip(got, expected):
            _same(g, e, rtol, atol)
        return
    assert str(got.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1], (got.dtype, expected.dtype)
    assert tuple(got.shape) == tuple(expected.shape)
    g, e = got.detach().numpy(), expected.detach().numpy()
    if e.dtype.kind == "f" and zero_signs:
        np.testing.assert_array_equal(np.signbit(g[e == 0]), np.signbit(e[e == 0]))
    np.testing.assert_allclose(g, e, rtol=rtol, atol=atol, equal_nan=True)


def _both(fn, *arrays, grad=True, dtype=None, seed=0):
    """``fn(module, *tensors)`` for tensorplug and torch; with ``grad``, backward from a random upstream
    gradient, and the input gradients compared too."""
    results = []
    for m in (tp, torch):
        xs = [m.tensor(a, dtype=getattr(m, dtype) if dtype else None, requires_grad=grad) for a in arrays]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn(m, *xs)
        if grad:
            first = out[0] if isinstance(out, tuple) else out
            w = np.random.default_rng(seed).standard_normal(tuple(first.shape))
            first.backward(m.tensor(w, dtype=first.dtype))
        results.append((out, [x.grad for x in xs]))
    (out, grads), (out_t, grads_t) = results
    tol = 1e-5 if dtype == "float32" else 1e-10
    _same(out, out_t, rtol=tol, atol=tol)
    for g, g_t in zip(grads, grads_t):
        assert (g is None) == (g_t is None)
        if g is not None:
            _same(g, g_t, rtol=tol, atol=tol, zero_signs=False)


BINARY = {
    "hypot": lambda m, a, b: m.hypot(a, b),
    "copysign": lambda m, a, b: m.copysign(a, b),
    "fmax": lambda m, a, b: m.fmax(a, b),
    "fmin": lambda m, a, b: m.fmin(a, b),
    "nextafter": lambda m, a, b: m.nextafter(a, b),
    "logaddexp2": lambda m, a, b: m.logaddexp2(a, b),
    "float_power": lambda m, a, b: m.float_power(a, b),
}


@pytest.mark.parametrize("name", BINARY)
def test_binary_values_and_gradients_at_special_values(name):
    # (float_power's gradient at 0 ** 0 goes through pow's, which gives nan where torch gives 0)
    _both(BINARY[name], PAIRS[0], PAIRS[1], grad=name != "float_power")
    _both(BINARY[name], PAIRS[0], PAIRS[1], grad=False)


@pytest.mark.parametrize("name", BINARY)
def test_binary_broadcasts_and_gives_gradients_of_the_operand_shapes(name):
    rng = np.random.default_rng(1)
    _both(BINARY[name], rng.uniform(0.5, 2, (2, 3)), rng.uniform(0.5, 2, (3,)))


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_binary_dtypes(name, dtype):
    rng = np.random.default_rng(2)
    a, b = rng.uniform(-2, 2, (2, 3)), rng.uniform(-2, 2, (2, 3))
    got = BINARY[name](tp, tp.tensor(a, dtype=getattr(tp, dtype)), tp.tensor(b, dtype=getattr(tp, dtype)))
    expected = BINARY[name](torch, torch.tensor(a, dtype=getattr(torch, dtype)),
                            torch.tensor(b, dtype=getattr(torch, dtype)))
    _same(got.float() if got.dtype != tp.float64 else got, expected.float() if expected.dtype != torch.float64
          else expected, rtol=1e-2, atol=1e-2)
    assert str(got.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1]


def test_integer_operands():
    a, b = np.array([12, -18, 0, 0, 7]), np.array([8, 12, 5, 0, -3])
    for name in ("gcd", "lcm", "fmax", "fmin", "copysign", "float_power", "ldexp"):
        _same(getattr(tp, name)(tp.tensor(a), tp.tensor(b)), getattr(torch, name)(torch.tensor(a), torch.tensor(b)))
    for name, kernel in (("hypot", "hypot_cpu"), ("nextafter", "nextafter_cpu"), ("logaddexp2", "logaddexp2_cpu")):
        with pytest.raises(NotImplementedError, match=f'"{kernel}" not implemented for \'Long\''):
            getattr(tp, name)(tp.tensor(a), tp.tensor(b))
    with pytest.raises(NotImplementedError, match="\"gcd_cpu\" not implemented for 'Float'"):
        tp.gcd(tp.tensor([1.0]), tp.tensor([2.0]))


def test_heaviside():
    x = np.array([1.0, 0.0, -1.0, NAN, -0.0, INF])
    _both(lambda m, a, v: m.heaviside(a, v), x, np.array([0.5]), grad=False)
    _same(tp.tensor([1, 0, -2]).heaviside(tp.tensor([7])), torch.tensor([1, 0, -2]).heaviside(torch.tensor([7])))
    with pytest.raises(RuntimeError, match="heaviside is not yet implemented for tensors with different dtypes"):
        tp.heaviside(tp.tensor([1.0]), tp.tensor([1]))
    for lib in (tp, torch):  # a node with no derivative, named as torch names it
        y = lib.heaviside(lib.tensor([1.0], requires_grad=True), lib.tensor([0.5]))
        assert type(y.grad_fn).__name__ == "NotImplemented"
        with pytest.raises(RuntimeError, match="derivative for aten::heaviside is not implemented"):
            y.sum().backward()


def test_ldexp_frexp_and_float_power():
    _both(lambda m, a, e: m.ldexp(a, e), np.array([1.0, -2.5, 0.0]), np.array([3.0, -2.0, 5.0]))
    x = np.array([8.0, 0.0, -0.3, INF, -INF, NAN, 1e-310, 5e-324, 1.0, 0.75])
    _both(lambda m, a: m.frexp(a), x, grad=False)
    _both(lambda m, a: m.frexp(a).mantissa, np.array([8.0, 3.0, -0.1]))
    _same(tp.frexp(tp.tensor([8.0, 3.0])).exponent, torch.frexp(torch.tensor([8.0, 3.0])).exponent)
    with pytest.raises(RuntimeError, match="only supports floating-point dtypes"):
        tp.frexp(tp.tensor([8]))
    _same(tp.float_power(tp.tensor([2, 3]), 2), torch.float_power(torch.tensor([2, 3]), 2))
    _same(tp.float_power(2, tp.tensor([2.0, 0.5])), torch.float_power(2, torch.tensor([2.0, 0.5])))
    _same(tp.tensor([2.0, 3.0], dtype=tp.float32).float_power(tp.tensor([2])),
          torch.tensor([2.0, 3.0]).float_power(torch.tensor([2])))
    with pytest.raises(RuntimeError, match="the base given to float_power_ has dtype Float but the operation's "
                                           "result requires dtype Double"):
        tp.tensor([2.0, 3.0]).float_power_(2)
    t = tp.tensor([2.0, 3.0], dtype=tp.float64)
    assert t.float_power_(2) is t
    _same(t, torch.tensor([4.0, 9.0], dtype=torch.float64))


def test_tensor_only_operands_are_refused_as_torch():
    for name in ("hypot", "fmax", "fmin", "nextafter", "gcd", "logaddexp2"):
        with pytest.raises(TypeError, match="argument 'other' \\(position 2\\) must be Tensor, not float"):
            getattr(tp, name)(tp.tensor([1.0]), 2.0)
    _same(tp.copysign(tp.tensor([1.0, 2.0]), -0.0), torch.copysign(torch.tensor([1.0, 2.0]), -0.0))


@pytest.mark.parametrize("name", ["hypot", "copysign", "gcd", "lcm", "nextafter", "ldexp"])
def test_methods_and_inplace_forms(name):
    ints = name in ("gcd", "lcm")
    a = np.array([4, 6, 9]) if ints else np.array([0.5, -1.5, 2.0])
    b = np.array([6, 4, 3]) if ints else np.array([-1.0, 2.0, 0.25])
    expected = getattr(torch.tensor(a), name)(torch.tensor(b))
    _same(getattr(tp.tensor(a), name)(tp.tensor(b)), expected)
    t = tp.tensor(a)
    assert getattr(t, name + "_")(tp.tensor(b)) is t
    _same(t, expected)


# scans ---------------------------------------------------------------------------------------------

SCAN_INPUT = np.array([[1.0, 3.0, 3.0, NAN, 5.0, NAN, 2.0], [2.0, -INF, INF, 0.0, 0.0, -1.0, 7.0]])


@pytest.mark.parametrize("name", ["cummax", "cummin"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cummax_cummin_values_indices_and_gradients(name, dim):
    _both(lambda m, a: tuple(getattr(m, name)(a, dim)), SCAN_INPUT, grad=False)
    rng = np.random.default_rng(3)
    ties = rng.integers(0, 3, (3, 6)).astype(float)  # many ties: the later index wins
    _both(lambda m, a: tuple(getattr(m, name)(a, dim)), ties, grad=False)
    _both(lambda m, a: getattr(a, name)(dim).values, ties)
    _both(lambda m, a: getattr(m, name)(a, dim)[0], SCAN_INPUT)


def test_cummax_integers_bool_zero_dim_and_empty():
    _both(lambda m, a: tuple(m.cummin(a, 1)), np.array([[1, 3], [0, 5]]), grad=False)
    _both(lambda m, a: tuple(m.cummax(a, 0)), np.array([True, False, True]), grad=False)
    _both(lambda m, a: tuple(m.cummax(a, 0)), np.array(2.5), grad=False)
    _both(lambda m, a: tuple(m.cummax(a, 1)), np.zeros((2, 0)), grad=False)
    with pytest.raises(IndexError, match="Dimension out of range"):
        tp.cummax(tp.tensor([1.0, 2.0]), 1)


@pytest.mark.parametrize("dim", [0, 1])
def test_logcumsumexp(dim):
    _both(lambda m, a: m.logcumsumexp(a, dim), SCAN_INPUT, grad=False)
    rng = np.random.default_rng(4)
    _both(lambda m, a: m.logcumsumexp(a, dim), rng.standard_normal((3, 9)) * 30)
    _both(lambda m, a: a.logcumsumexp(dim), np.array([[-INF, -INF, 1.0, INF], [0.0, 1.0, NAN, 2.0]]))
    _both(lambda m, a: m.logcumsumexp(a, 0), np.array(1.5))
    _both(lambda m, a: m.logcumsumexp(a, dim), rng.standard_normal((2, 3)), dtype="float32")
    with pytest.raises(NotImplementedError, match="logcumsumexp_out_cpu"):
        tp.logcumsumexp(tp.tensor([1, 2]), 0)


def test_logcumsumexp_double_backward_matches_torch():
    x = np.array([0.3, -1.0, 2.0, 0.5])
    got, expected = [], []
    for m, out in ((tp, got), (torch, expected)):
        a = m.tensor(x, requires_grad=True)
        (g,) = m.autograd.grad((m.logcumsumexp(a, 0) * m.tensor([1.0, -2.0, 3.0, 0.5])).sum(), a, create_graph=True)
        out.append(m.autograd.grad((g * g).sum(), a)[0])
    _same(got[0], expected[0], rtol=1e-10)


# products ------------------------------------------------------------------------------------------

RNG = np.random.default_rng(5)
PRODUCTS = {
    "cross_dim": (lambda m, a, b: m.cross(a, b, dim=0), ((3, 2), (3, 2))),
    "cross_default": (lambda m, a, b: m.cross(a, b), ((2, 3), (2, 3))),
    "linalg_cross": (lambda m, a, b: m.linalg.cross(a, b), ((1, 3), (4, 3))),
    "cross_method": (lambda m, a, b: a.cross(b, dim=-1), ((2, 3), (2, 3))),
    "cross_default_from_input": (lambda m, a, b: m.cross(a, b), ((1, 3), (3, 3))),  # input's dim 1, not 0
    "tensordot_int": (lambda m, a, b: m.tensordot(a, b), ((2, 3, 4), (3, 4, 5))),
    "tensordot_lists": (lambda m, a, b: m.tensordot(a, b, dims=([1, 0], [0, 1])), ((2, 3, 4), (3, 2, 5))),
    "tensordot_0": (lambda m, a, b: m.tensordot(a, b, dims=0), ((2,), (3,))),
    # a contracted dimension of size 1 meets any size: ATen sums the other operand over it first
    "tensordot_size1_left": (lambda m, a, b: m.tensordot(a, b, dims=([1], [0])), ((2, 1), (3, 4))),
    "tensordot_size1_right": (lambda m, a, b: m.tensordot(a, b, dims=2), ((2, 3, 4), (1, 4, 5))),
    "tensordot_size1_both_ways": (lambda m, a, b: m.tensordot(a, b, dims=([0, 2], [1, 0])), ((1, 2, 3), (1, 4))),
    "tensordot_empty": (lambda m, a, b: m.tensordot(a, b, dims=1), ((2, 0), (0, 4))),
    "inner": (lambda m, a, b: m.inner(a, b), ((2, 3), (4, 3))),
    "inner_scalar": (lambda m, a, b: m.inner(a, b), ((), (2, 3))),
    "vdot": (lambda m, a, b: m.vdot(a, b), ((3,), (3,))),
    "addmv": (lambda m, i, a, b: m.addmv(i, a, b, beta=0.5, alpha=2), ((2,), (2, 3), (3,))),
    "addmv_method": (lambda m, i, a, b: i.addmv(a, b), ((1,), (2, 3), (3,))),
    "addr": (lambda m, i, a, b: m.addr(i, a, b, alpha=2), ((2, 3), (2,), (3,))),
    "addr_beta0": (lambda m, i, a, b: m.addr(i, a, b, beta=0), ((2, 3), (2,), (3,))),
    "baddbmm": (lambda m, i, a, b: m.baddbmm(i, a, b, beta=2), ((2, 1), (4, 2, 3), (4, 3, 5))),
    "addbmm": (lambda m, i, a, b: m.addbmm(i, a, b, alpha=-1), ((2, 5), (4, 2, 3), (4, 3, 5))),
    "chain_matmul": (lambda m, a, b, c: m.chain_matmul(a, b, c), ((2, 3), (3, 4), (4, 2))),
    "multi_dot": (lambda m, a, b, c, d: m.linalg.multi_dot([a, b, c, d]), ((3,), (3, 5), (5, 2), (2,))),
    "matrix_power_3": (lambda m, a: m.matrix_power(a, 3), ((2, 3, 3),)),
    "matrix_power_neg": (lambda m, a: m.linalg.matrix_power(a, -2), ((3, 3),)),
    "matrix_power_0": (lambda m, a: a.matrix_power(0), ((2, 2),)),
}


@pytest.mark.parametrize("name", PRODUCTS)
def test_products_match_torch(name):
    fn, shapes = PRODUCTS[name]
    rng = np.random.default_rng(6)
    _both(fn, *[rng.standard_normal(s) + (2 * np.eye(s[-1]) if name.startswith("matrix_power") else 0)
                for s in shapes])


def test_products_nan_input_with_beta_zero_is_not_read():
    _both(lambda m, i, a, b: m.addmv(i, a, b, beta=0), np.array([NAN, 1.0]), np.ones((2, 3)), np.ones(3))


@pytest.mark.parametrize("name", ["addmv", "addr", "baddbmm", "addbmm"])
def test_inplace_products(name):
    shapes = {"addmv": ((2,), (2, 3), (3,)), "addr": ((2, 3), (2,), (3,)), "baddbmm": ((4, 2, 5), (4, 2, 3),
              (4, 3, 5)), "addbmm": ((2, 5), (4, 2, 3), (4, 3, 5))}[name]
    arrays = [np.random.default_rng(7).standard_normal(s) for s in shapes]
    t = tp.tensor(arrays[0])
    assert getattr(t, name + "_")(*[tp.tensor(a) for a in arrays[1:]], alpha=0.5) is t
    _same(t, getattr(torch, name)(*[torch.tensor(a) for a in arrays], alpha=0.5))


@pytest.mark.parametrize("call, error, phrase", [
    (lambda m: m.cross(m.ones(2, 4), m.ones(2, 4)), RuntimeError, "no dimension of size 3 in input"),
    (lambda m: m.linalg.cross(m.ones(2, 4), m.ones(2, 4)), RuntimeError, "inputs dimension -1 must have length 3"),
    (lambda m: m.linalg.cross(m.ones(2, 3), m.ones(3)), RuntimeError,
     "linalg.cross: inputs must have the same number of dimensions."),
    (lambda m: m.linalg.cross(m.ones(3, 2), m.ones(3, 1), dim=2), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    (lambda m: m.inner(m.ones(2, 3), m.ones(4)), RuntimeError, "the last dimension must match on both input"),
    (lambda m: m.vdot(m.ones(2, 3), m.ones(3)), RuntimeError, "1D tensors expected, but got 2D and 1D tensors"),
    (lambda m: m.vdot(m.ones(3), m.ones(3, dtype=m.float64)), RuntimeError, "expected both vectors to have same"),
    (lambda m: m.vdot(m.ones(3), m.ones(4)), RuntimeError, "inconsistent tensor size"),
    (lambda m: m.addmv(m.ones(2), m.ones(2, 3), m.ones(4)), RuntimeError, "size mismatch, got input (2), mat (2x3)"),
    (lambda m: m.matrix_power(m.ones(2, 3), 2), RuntimeError, "A must be batches of square matrices"),
    (lambda m: m.linalg.multi_dot([m.ones(3)]), RuntimeError, "expected at least 2 tensors but got 1"),
    (lambda m: m.tensordot(m.ones(2, 3), m.ones(4, 5), dims=1), RuntimeError, "contracted dimensions need to match"),
    (lambda m: m.baddbmm(m.ones(2, 2), m.ones(2, 2), m.ones(2, 2, 2)), RuntimeError, "batch1 must be a 3D tensor"),
    (lambda m: m.tensordot(m.ones(2, 3), m.ones(4, 4), dims=([-1], [0])), RuntimeError,
     "first has size 3 in dim -1 and second has size 4 in dim 0"),
    (lambda m: m.tensordot(m.ones(3, 3), m.ones(3, 3), dims=([1, -1], [0, 1])), RuntimeError,
     "dim 1 appears multiple times in the list of dims"),
    (lambda m: m.tensordot(m.ones(2, 3), m.ones(()), dims=([1], [0])), IndexError,
     "Dimension specified as 0 but tensor has no dimensions"),
    # ATen reads the sizes its messages print before checking: a missing dimension is an IndexError
    (lambda m: m.addmv(m.ones(()), m.ones(2, 3), m.ones(4)), IndexError,
     "Dimension specified as 0 but tensor has no dimensions"),
    (lambda m: m.addmv(m.ones(2, 2), m.ones(2, 3), m.ones(3)), RuntimeError,
     "vector + matrix @ vector expected, got 2, 2, 1"),
    (lambda m: m.addmv(m.ones(3), m.ones(2, 3), m.ones(3)), RuntimeError, "size mismatch, got input (3), mat (2x3)"),
    (lambda m: m.addr(m.ones(2, 3), m.ones(2, 1), m.ones(3)), RuntimeError,
     "addr: Expected 1-D argument vec1, but got 2-D"),
    (lambda m: m.addr(m.ones(2, 3), m.ones(2), m.ones(())), RuntimeError,
     "addr: Expected 1-D argument vec2, but got 0-D"),
    (lambda m: m.addr(m.ones(2, 4), m.ones(2), m.ones(3)), RuntimeError, "The expanded size of the tensor (3)"),
    (lambda m: m.baddbmm(m.ones(2, 4), m.ones(3, 2, 5), m.ones(5, 4)), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    (lambda m: m.baddbmm(m.ones(2, 4), m.ones(()), m.ones(3, 5, 4)), IndexError,
     "Dimension specified as 0 but tensor has no dimensions"),
    (lambda m: m.baddbmm(m.ones(2, 4), m.ones(2, 5), m.ones(3, 5, 4)), RuntimeError,
     "The expanded size of the tensor (5) must match the existing size (2)"),
    (lambda m: m.baddbmm(m.ones(2, 4), m.ones(3, 2, 5), m.ones(3, 5, 4, 1)), RuntimeError,
     "batch2 must be a 3D tensor"),
    (lambda m: m.baddbmm(m.ones(2, 4), m.ones(3, 2, 5), m.ones(2, 5, 4)), RuntimeError,
     "Expected size for first two dimensions of batch2 tensor to be: [3, 5] but got: [2, 5]."),
    (lambda m: m.addbmm(m.ones(2, 4), m.ones(3, 2, 5), m.ones(5, 4)), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    (lambda m: m.addbmm(m.ones(2, 4), m.ones(3, 2, 5), m.ones(2, 5, 4)), RuntimeError,
     "batch1 and batch2 must have same number of batches, got 3 and 2"),
    (lambda m: m.addbmm(m.ones(2, 4), m.ones(3, 2, 5), m.ones(3, 4, 4)), RuntimeError,
     "Incompatible matrix sizes for bmm (2x5 and 4x4)"),
    (lambda m: m.addbmm(m.ones(2, 4), m.ones((), requires_grad=True), m.ones(3, 5, 4)), IndexError,
     "Dimension specified as 0 but tensor has no dimensions"),
])
@pytest.mark.filterwarnings("ignore:Using torch.cross without")
def test_errors_match_torch(call, error, phrase):
    for m in (torch, tp):
        with pytest.raises(error, match=re.escape(phrase)):
            call(m)


def test_deprecation_warnings_as_torch():
    with pytest.warns(UserWarning, match="Using torch.cross without specifying the dim arg is deprecated"):
        tp.cross(tp.ones(2, 3), tp.ones(2, 3))
    with pytest.warns(UserWarning, match="torch.chain_matmul is deprecated"):
        tp.chain_matmul(tp.ones(2, 2), tp.ones(2, 2))


def _same_edge(fn):
    """``fn(module)`` under tensorplug and torch: the same dtype, shape and values (signed zeros and NaNs too)."""
    got, want = fn(tp), fn(torch)
    assert got.dtype.name == str(want.dtype).split(".")[-1]
    g, w = got.float().numpy(), want.float().numpy()
    np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(np.signbit(g) & ~np.isnan(g), np.signbit(w) & ~np.isnan(w))  # a NaN's sign aside


VALUES = [-7.0, -2.5, -0.0, 0.0, 1.5, 4.0, -4.0, float("inf"), -float("inf"), float("nan")]


@pytest.mark.parametrize("case", [
    # the dividend's sign on a zero remainder, as C's fmod (numpy gave the divisor's)
    lambda m: m.remainder(m.tensor(VALUES), 2),
    lambda m: m.remainder(m.tensor(VALUES, dtype=m.float64), -3.0),
    lambda m: m.remainder(m.tensor(VALUES).bfloat16(), m.tensor(2.0).bfloat16()),
    # a finite dividend over an infinite divisor is itself (it was NaN for negative dividends)
    lambda m: m.fmod(m.tensor(VALUES), float("inf")),
    lambda m: m.fmod(m.tensor([-7, -1, 0, 3], dtype=m.int8), -float("inf")),
    # bfloat16 without a rounded intermediate remainder (fmod(-2.5, 300) gave -2)
    lambda m: m.fmod(m.tensor([-2.5, 1.5, -0.0]).bfloat16(), 300),
    # an integer tensor's float function: the number is not wrapped to uint8 / int8 (-1 became 255)
    lambda m: m.copysign(m.tensor([0, 1, 255], dtype=m.uint8), -3),
    lambda m: m.xlogy(m.tensor([0, 1, 255], dtype=m.uint8), -1),
    lambda m: m.xlogy(m.tensor([-7, 1, 127], dtype=m.int8), 300),
    # a float64 tensor's number in float64 (log(2.5) was float32's)
    lambda m: m.xlogy(m.tensor([-2.5, 1.5, 3.0], dtype=m.float64), 2.5),
    # promoted first, then float: bool with float16 is float16 (it was float32)
    lambda m: m.atan2(m.tensor([True, False, True]), m.tensor([-2.5, 0.0, 1.5]).half()),
    lambda m: m.atan2(m.tensor([True, False]), m.tensor([-2.5, 1.5]).bfloat16()),
    # ldexp in the float operand's dtype: float64's 2**200 is finite, float16 stays float16
    lambda m: m.ldexp(m.tensor([1.5, -2.5], dtype=m.float64), m.tensor([200, 255], dtype=m.uint8)),
    lambda m: m.ldexp(m.tensor([1.5, 1.5]).half(), m.tensor([3, 20], dtype=m.uint8)),
    lambda m: m.ldexp(m.tensor(1.5).bfloat16(), m.tensor([3, -2])),
    # nextafter(x, x) is x's target itself: nextafter(0., -0.) is -0. (float16 gave 0.)
    lambda m: m.nextafter(m.tensor([0.0, -0.0, 1.5]).half(), m.tensor([-0.0, 0.0, 1.5]).half()),
])
def test_edge_values_and_dtypes_as_torch(case):
    _same_edge(case)


@pytest.mark.parametrize("case, node", [
    (lambda m, x: m.copysign(x, -2.0), "CopysignBackward1"),
    (lambda m, x: m.copysign(x, m.tensor([-1.0, 1.0])), "CopysignBackward0"),
    # (a negative integer exponent is left out: torch's gradient there is 2**other in integers, 0)
    (lambda m, x: m.ldexp(x, m.tensor([2, 0])), "LdexpBackward0"),
    (lambda m, x: x.ldexp(m.tensor([2.0, 3.0])), "LdexpBackward0"),
    (lambda m, x: m.float_power(2, x), "PowBackward2"),
    (lambda m, x: m.float_power(x, 2), "PowBackward0"),
])
def test_number_overloads_record_torchs_node(case, node):
    # copysign by a number, ldexp and float_power of a number base showed CopysignBackward0, MulBackward0
    # and PowBackward1
    results = []
    for m in (tp, torch):
        x = m.tensor([2.5, -1.0], requires_grad=True)
        out = case(m, x)
        out.sum().backward()
        results.append((out, x.grad))
    (a, ga), (b, gb) = results
    assert type(a.grad_fn).__name__ == node == type(b.grad_fn).__name__
    assert a.dtype.name == str(b.dtype).split(".")[-1]
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(ga.numpy(), gb.numpy(), rtol=1e-6)


def test_logaddexp2_records_torchs_node():
    # it showed its last building block, WhereBackward0
    for m in (tp, torch):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        assert type(m.logaddexp2(x, x * 2).grad_fn).__name__ == "Logaddexp2Backward0"


@pytest.mark.parametrize("call, error", [
    (lambda m, z: m.hypot(z, z), NotImplementedError), (lambda m, z: m.copysign(z, z), NotImplementedError),
    (lambda m, z: m.copysign(z, 2.0), NotImplementedError), (lambda m, z: m.nextafter(z, z), NotImplementedError),
    (lambda m, z: m.logaddexp2(z, z), NotImplementedError), (lambda m, z: m.fmax(z, z), RuntimeError),
    (lambda m, z: m.fmin(z, z), RuntimeError), (lambda m, z: m.heaviside(z, z), RuntimeError),
])
def test_complex_input_is_refused_as_torch(call, error):
    # fmax / fmin / heaviside / logaddexp2 answered from numpy's lexicographic or real-part arithmetic, and
    # hypot / copysign / nextafter raised numpy's TypeError
    for m in (torch, tp):
        with pytest.raises(error, match="not (yet )?implemented for (complex|'ComplexFloat')"):
            call(m, m.tensor([1 + 1j, 2.0]))
